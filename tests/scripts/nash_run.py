"""A small NASH search as a script, for the tests that need separate processes (SIGKILL resume,
distributed chief + workers). Usage: python -m tests.scripts.nash_run DIRECTORY [--overwrite]
[--slow] [--hang] [--heartbeat_timeout=SECONDS]

`--hang`: the first epoch's end writes DIRECTORY/hanging and sleeps there for an hour, so that a
test can kill the process in the middle of a trial.

Distributed mode comes from keras-tuner's KERASTUNER_* environment variables.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from keras_nash import seed_models  # noqa: E402
from keras_nash.tuners.nash.tuner import NashTuner
from tests.helpers import real_images  # noqa: E402

SEARCH = dict(
    n_steps=2,
    n_neighbors=3,
    n_morphisms=2,
    epochs_per_neighbor=2,
    final_epochs=1,
    pretrain_epochs=1,
    seed=7,
)


class _Slow(keras.callbacks.Callback):
    """Makes trials last long enough for a test to kill the process in the middle."""

    def on_epoch_end(self, epoch, logs=None):
        import time

        time.sleep(1.0)


class _Hang(keras.callbacks.Callback):
    def __init__(self, directory):
        super().__init__()
        self.marker = os.path.join(directory, "hanging")

    def on_epoch_end(self, epoch, logs=None):
        import time

        open(self.marker, "w").close()
        time.sleep(3600)


def tuner(directory, overwrite, **overrides):
    seed = seed_models.simple_cnn((16, 16, 3), 10, filters=(4, 8, 16))
    return NashTuner(
        seed,
        directory=directory,
        project_name="nash",
        overwrite=overwrite,
        **{**SEARCH, **overrides},
    )


def data():
    x, y = real_images(128, 16, seed=0)
    x_val, y_val = real_images(64, 16, seed=1)
    return x, y, x_val, y_val


def main(argv):
    directory = argv[1]
    x, y, x_val, y_val = data()
    keras.utils.set_random_seed(0)
    callbacks = [_Slow()] if "--slow" in argv else []
    callbacks += [_Hang(directory)] if "--hang" in argv else []
    timeouts = [float(a.split("=")[1]) for a in argv if a.startswith("--heartbeat_timeout=")]
    t = tuner(directory, overwrite="--overwrite" in argv, heartbeat_timeout=(timeouts or [None])[0])
    t.search(x, y, validation_data=(x_val, y_val), batch_size=32, verbose=0, callbacks=callbacks)


if __name__ == "__main__":
    main(sys.argv)
