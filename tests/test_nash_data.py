"""What NASH reads from `search()`'s arguments: batches per epoch without re-reading the data."""

import numpy as np
import tensorflow as tf

from keras_nash.tuners.nash.data import steps_per_epoch


def test_a_dataset_of_unknown_size_is_counted_once_a_search():
    reads = []

    def examples():
        reads.append(1)
        yield from range(10)

    data = tf.data.Dataset.from_generator(
        examples, output_signature=tf.TensorSpec((), tf.int64)
    ).batch(4)
    assert int(data.cardinality()) < 0
    assert [steps_per_epoch((data,), {}) for _ in range(3)] == [3, 3, 3]
    assert len(reads) == 1
    assert steps_per_epoch((data,), {"steps_per_epoch": 7}) == 7 and len(reads) == 1


def test_known_sizes_are_not_read():
    assert steps_per_epoch((tf.data.Dataset.range(10).batch(4),), {}) == 3
    assert steps_per_epoch((np.zeros((10, 2)),), {"batch_size": 4}) == 3
    assert steps_per_epoch((), {"x": np.zeros((10, 2))}) == 1  # Keras's default batch of 32
