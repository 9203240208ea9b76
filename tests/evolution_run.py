"""A tiny EG-NAS search as a script, for the SIGKILL resume test.

Usage: python -m tests.evolution_run DIRECTORY [--overwrite] [--hang_at_epoch=N]

With `--hang_at_epoch=N` the search epoch N sleeps before it trains, so a test can kill the
process once the earlier epochs' trials are on disk.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_nash.tuners import evolution  # noqa: E402

CONFIG = dict(
    num_classes=3, epochs=3, warmup_epochs=1, population_size=6, final_epochs=1, cells=3,
    channels=4, steps=2, multiplier=2, partial_channels=2,
    primitives=["max_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3"],
    final_cells=3, final_channels=4, batch_size=8, seed=1,
)


def data():
    """16 training and 16 validation 8x8 images of 3 classes, batched by 8."""
    rng = np.random.default_rng(0)
    images = rng.random((32, 8, 8, 3)).astype("float32")
    labels = rng.integers(0, 3, 32).astype("int32")
    train = tf.data.Dataset.from_tensor_slices((images[:16], labels[:16])).batch(8)
    val = tf.data.Dataset.from_tensor_slices((images[16:], labels[16:])).batch(8)
    return train, val


def tuner(directory, overwrite, **overrides):
    return evolution.EvolutionTuner(
        **{**CONFIG, **overrides}, directory=directory, project_name="egnas", overwrite=overwrite
    )


def main(argv):
    hang = [int(a.split("=")[1]) for a in argv if a.startswith("--hang_at_epoch=")]
    if hang:
        original = evolution.EvolutionTuner.run_search_epoch

        def hanging(self, state, trial, search_data, loop):
            if int(trial.hyperparameters.values["egnas/epoch"]) == hang[0]:
                time.sleep(600)  # killed here
            return original(self, state, trial, search_data, loop)

        evolution.EvolutionTuner.run_search_epoch = hanging
    keras.utils.set_random_seed(0)
    train, val = data()
    tuner(argv[1], overwrite="--overwrite" in argv).search(train, validation_data=val, verbose=0)


if __name__ == "__main__":
    main(sys.argv)
