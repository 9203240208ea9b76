"""Tiny DARTS, EG-NAS and ENAS searches as a script, for the kill-and-resume tests and the soak.

Usage: python -m tests.scripts.resume_run ALGORITHM DIRECTORY [--kill_after_end_of=N]
[--hang_at_epoch=N]
                                     [--max_trials=N]

ALGORITHM: darts, egnas, enas or enas_recurrent (a language model on a random token stream).
Each search has 2 search epochs and a 1-epoch final training on 8x8 images (`--max_trials=2`:
the search epochs only), with a training
dataset reshuffled every pass (as keras_nash's pipelines are), so a resumed search is the same
search only if it trains epoch k on the k-th pass's order.

- `--kill_after_end_of=N`: the process SIGKILLs itself while the oracle updates its policy from
  epoch N, after keras-tuner has written the trial's `trial.json` (COMPLETED) and before the
  oracle's state records the epoch's end: the kill that made ENAS train a finished epoch again.
- `--hang_at_epoch=N`: epoch N writes `<DIRECTORY>/hanging` after its first training batch and
  sleeps there, so a test can SIGKILL it in the middle of the epoch.

The search's figures (each trial's loss, the architecture) come from `summary(tuner)`.
"""

import json
import os
import signal
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_nash.datasets.text import batchify  # noqa: E402
from keras_nash.spaces.enas import MacroSpace  # noqa: E402
from keras_nash.spaces.enas.recurrent import RecurrentSpace  # noqa: E402
from keras_nash.tuners import darts, egnas, enas, supernet  # noqa: E402
from keras_nash.tuners.supernet.loop import EpochLoop

ALGORITHMS = ("darts", "egnas", "enas", "enas_recurrent")
CELLS = dict(
    num_classes=3,
    epochs=2,
    final_epochs=1,
    cells=3,
    channels=4,
    steps=1,
    multiplier=1,
    partial_channels=2,
    final_cells=3,
    final_channels=4,
    batch_size=8,
    seed=1,
    primitives=["max_pool_3x3", "skip_connect", "avg_pool_3x3"],  # cheap to trace: 4 traces a test
)
CONFIGS = {
    "darts": (darts.DartsTuner, dict(CELLS, arch_learning_rate=0.01)),
    "egnas": (egnas.EgnasTuner, dict(CELLS, warmup_epochs=1, population_size=6)),
    "enas": (
        enas.EnasTuner,
        dict(
            search_space=MacroSpace(
                num_layers=3, filters=4, operations=("conv_3x3", "max_pool_3x3", "avg_pool_3x3")
            ),  # cheap to trace
            num_classes=3,
            epochs=2,
            final_epochs=1,
            controller_train_steps=2,
            controller_num_aggregate=2,
            controller_lstm_size=8,
            final_candidates=2,
            batch_size=8,
            seed=1,
        ),
    ),
    "enas_recurrent": (
        enas.EnasTuner,
        dict(
            search_space=RecurrentSpace(num_nodes=4, hidden_size=8),
            num_classes=20,
            epochs=2,
            final_epochs=1,
            controller_train_steps=2,
            controller_num_aggregate=2,
            controller_lstm_size=8,
            final_candidates=2,
            seed=1,
        ),
    ),
}
VOCABULARY = 20  # the language model's tokens


def text_data(batch_size=4, bptt=5):
    """A random token stream as a language model's windows: 6 training and 3 validation
    `(inputs, targets)` batches of `(batch_size, bptt)`, in order."""
    stream = np.random.default_rng(0).integers(0, VOCABULARY, 3000).astype("int32")

    def windows(ids, count):
        inputs, targets = batchify(ids, batch_size, bptt)
        return tf.data.Dataset.from_tensor_slices((inputs[:count], targets[:count]))

    return windows(stream[:2000], 6), windows(stream[2000:], 3)


def data():
    """24 training images (3 batches, reshuffled and re-augmented every pass) and 16
    validation images (2 batches, in order), 8x8 pixels, 3 classes."""
    rng = np.random.default_rng(0)
    images = rng.random((40, 8, 8, 3)).astype("float32")
    labels = rng.integers(0, 3, 40).astype("int32")
    noise = tf.data.Dataset.random(seed=7, rerandomize_each_iteration=True)
    examples = tf.data.Dataset.from_tensor_slices((images[:24], labels[:24])).shuffle(
        24, seed=5, reshuffle_each_iteration=True
    )
    train = (
        tf.data.Dataset.zip((examples, noise))
        .map(lambda example, n: (example[0] + tf.cast(n % 3, tf.float32) * 0.01, example[1]))
        .batch(8)
    )
    validation = tf.data.Dataset.from_tensor_slices((images[24:], labels[24:])).batch(8)
    return train, validation


def tuner(algorithm, directory, overwrite, max_trials=None):
    tuner_class, config = CONFIGS[algorithm]
    return tuner_class(
        **config,
        directory=directory,
        project_name=algorithm,
        overwrite=overwrite,
        max_trials=max_trials,
    )


def search(algorithm, directory, overwrite, max_trials=None):
    """Build the tuner (resuming unless `overwrite`) and run the search to its end."""
    keras.utils.set_random_seed(0)
    train, validation = text_data() if algorithm == "enas_recurrent" else data()
    found = tuner(algorithm, directory, overwrite, max_trials)
    found.search(train, validation_data=validation, verbose=0)
    return found


def summary(found) -> dict:
    """Each trial's role, epoch, status and loss (in trial order), and the architecture."""
    oracle, prefix = found.oracle, found.key_prefix
    trials = []
    for trial_id in sorted(oracle.trials):
        trial = oracle.trials[trial_id]
        values = trial.hyperparameters.values
        trials.append(
            {
                "trial_id": trial_id,
                "role": values[prefix + "role"],
                "epoch": int(values[prefix + "epoch"]),
                "status": trial.status,
                "loss": trial.metrics.get_last_value("loss"),
            }
        )
    if hasattr(found, "get_best_genotype"):
        architecture = found.get_best_genotype().to_json()
    else:  # ENAS: the best of the last epoch's candidates
        architecture = oracle.best_arch
    return {"trials": trials, "architecture": architecture}


def _kill_after_end_of(epoch):
    original = supernet.SupernetOracle._record_completed

    def record_completed(self, trial):
        if int(trial.hyperparameters.values[self.key("epoch")]) == epoch:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, trial)

    supernet.SupernetOracle._record_completed = record_completed


def _hang_at_epoch(directory, epoch):
    original = EpochLoop.train

    def train(self, step, *args, **kwargs):
        calls = [0]

        def hanging_step(*step_args):
            calls[0] += 1
            if self.epoch == epoch and calls[0] == 2:
                with open(os.path.join(directory, "hanging"), "w") as f:
                    f.write(json.dumps({"epoch": epoch}))
                time.sleep(600)  # killed here
            return step(*step_args)

        return original(self, hanging_step, *args, **kwargs)

    EpochLoop.train = train


def main(argv):
    algorithm, directory, max_trials = argv[1], argv[2], None
    for argument in argv[3:]:
        name, value = argument.split("=")
        if name == "--max_trials":
            max_trials = int(value) or None
        elif name == "--kill_after_end_of":
            _kill_after_end_of(int(value))
        elif name == "--hang_at_epoch":
            _hang_at_epoch(directory, int(value))
        else:
            raise SystemExit(f"unknown argument {argument}")
    print(json.dumps(summary(search(algorithm, directory, False, max_trials))))


if __name__ == "__main__":
    main(sys.argv)
