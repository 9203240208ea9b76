"""`final_batch_size` (issue 31): the final training's batch size, the papers' (DARTS, EG-NAS:
96) or the authors' scripts' (ENAS: 100 macro, 144 micro), whether the final training's data is
the search's or `search(final_fit=...)`'s."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nash.tuners.darts.tuner import DartsTuner
from keras_nash.tuners.egnas.tuner import EgnasTuner
from keras_nash.tuners.enas.tuner import EnasTuner
from keras_nash.tuners.supernet.data import final_batches
from tests.scripts import evolution_run


def test_final_batches_rebatches_datasets_and_sets_arrays_batch_size():
    data = tf.data.Dataset.from_tensor_slices((np.arange(10.0), np.arange(10))).batch(3)
    args, kwargs = final_batches((data,), {"validation_data": data, "batch_size": 3}, 4)
    assert [int(x.shape[0]) for x, _ in args[0]] == [4, 4, 2]
    assert [int(v) for x, _ in args[0] for v in x] == list(range(10))  # same order
    assert kwargs == {"validation_data": data}  # validation left as it is
    # A training pipeline's full batches keep their count (else Keras warns at epoch 1 that
    # the input "ran out of data"); a partial last batch leaves it unknown, as rebatch does.
    full = tf.data.Dataset.from_tensor_slices(np.arange(12)).batch(3, drop_remainder=True)
    assert int(final_batches((full,), {}, 5)[0][0].cardinality()) == 3
    assert int(args[0].cardinality()) == tf.data.UNKNOWN_CARDINALITY
    _, kwargs = final_batches((), {"x": data}, 5)
    assert [int(x.shape[0]) for x, _ in kwargs["x"]] == [5, 5]
    arrays = {"x": np.zeros((10, 2)), "y": np.zeros(10)}
    assert final_batches((), arrays, 4)[1]["batch_size"] == 4
    assert "batch_size" not in arrays  # the given dict is not changed
    # None: datasets keep their batches; arrays the given, else the search's batch size.
    assert final_batches((data,), {}, None)[0][0] is data
    assert final_batches((), arrays, None, array_batch_size=64)[1]["batch_size"] == 64
    assert final_batches((), {**arrays, "batch_size": 8}, None, 64)[1]["batch_size"] == 8


def test_defaults_are_the_papers_and_the_authors_scripts(tmp_path):
    common = dict(directory=str(tmp_path), overwrite=True)
    assert DartsTuner(project_name="d", **common).final_batch_size == 96
    assert EgnasTuner(project_name="e", **common).final_batch_size == 96
    assert DartsTuner(project_name="d2", final_batch_size=32, **common).final_batch_size == 32
    assert EnasTuner("macro", project_name="m", **common).final_batch_size == 100
    assert EnasTuner("micro", project_name="u", **common).final_batch_size == 144
    assert EnasTuner("recurrent", project_name="r", **common).final_batch_size is None
    with pytest.raises(ValueError, match="final_batch_size=64"):
        EnasTuner("recurrent", project_name="r2", final_batch_size=64, **common)
    with pytest.raises(ValueError, match="final_batch_size=0"):
        DartsTuner(project_name="d3", final_batch_size=0, **common)


class _CountSteps(keras.callbacks.Callback):
    """Counts the training batches since the last `on_train_begin` (keras-tuner deep-copies
    callbacks per trial, so the counts live on the class)."""

    counts = []

    def on_train_begin(self, logs=None):
        _CountSteps.counts.append(0)

    def on_train_batch_end(self, batch, logs=None):
        _CountSteps.counts[-1] += 1


@pytest.mark.parametrize("final_fit", [False, True])
def test_the_final_training_runs_in_final_batch_size_batches(final_fit, tmp_path):
    """16 training images in batches of 8 for the search; the final training (one epoch) takes
    4 steps in batches of 4, with the search's data and with `final_fit`'s."""
    keras.utils.set_random_seed(0)
    train, val = evolution_run.data()
    tuner = evolution_run.tuner(
        str(tmp_path),
        overwrite=True,
        epochs=2,
        primitives=["max_pool_3x3", "skip_connect"],
        final_batch_size=4,
    )
    _CountSteps.counts = []
    extra = {"final_fit": {"x": train, "validation_data": val}} if final_fit else {}
    tuner.search(train, validation_data=val, verbose=0, callbacks=[_CountSteps()], **extra)
    assert _CountSteps.counts[-1] == 4  # 16 images / 4; the search's batches would give 2
