"""A tiny search under `tf.distribute.MirroredStrategy` over two logical CPUs, as a script:
logical devices can only be made before TensorFlow starts, so tests run it in a fresh process.

Usage: python -m tests.mirrored_run ALGORITHM DIRECTORY. Prints one JSON line: every trial's
status, the replicas each training ran on, and (NASH) the children's preservation errors.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

_CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_CPU, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from keras_nash import seed_models  # noqa: E402
from keras_nash.tuners import NashTuner  # noqa: E402
from tests.helpers import real_images  # noqa: E402


class _Replicas(keras.callbacks.Callback):
    """Records the replicas of each training (`fit`) the tuner runs."""

    seen = []

    def on_train_begin(self, logs=None):
        self.seen.append(self.model.distribute_strategy.num_replicas_in_sync)


def main(argv):
    algorithm, directory = argv[1], argv[2]
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    x, y = real_images(128, 16, seed=0)
    x_val, y_val = real_images(64, 16, seed=1)
    keras.utils.set_random_seed(0)
    if algorithm != "nash":
        raise SystemExit(f"unknown algorithm {algorithm!r}")
    seed = seed_models.simple_cnn((16, 16, 3), 10, filters=(4, 8, 16))
    tuner = NashTuner(seed, n_steps=1, n_neighbors=2, n_morphisms=2, epochs_per_neighbor=1,
                      final_epochs=1, pretrain_epochs=1, seed=7, distribution_strategy=strategy,
                      directory=directory, project_name="mirrored")
    tuner.search(x, y, validation_data=(x_val, y_val), batch_size=32, verbose=0, callbacks=[_Replicas()])
    trials = [tuner.oracle.trials[t] for t in sorted(tuner.oracle.trials)]
    print(json.dumps({
        "status": [t.status for t in trials],
        "replicas": _Replicas.seen,
        "preservation_errors": [t.metrics.get_last_value("preservation_error") for t in trials
                                if t.hyperparameters.values["nash/parent"]],
        "scores": [t.score for t in trials],
    }))


if __name__ == "__main__":
    main(sys.argv)
