"""Benchmark: do DARTS and EG-NAS find better cells than random cells of the same space?

On the shipped CIFAR-10 images (../shared/data/cifar10_5k.npz: 5,000 real images, 2x2-average-
pooled to 16x16 by default (`--image_size`: a DARTS supernet step on 32x32 images takes seconds
on 2 CPU cores), split here with a fixed seed into 3,500 train / 750 validation / 750 test):

- search arms: first-order DARTS (the short runs' `arch_learning_rate="auto"`), EG-NAS with
  the paper's compound fitness (eta 0.4) and its published alpha update (`egnas`:
  `update="paper"`, the tuner's default), EG-NAS with the project's evolution strategy
  (`egnas_es`: `update="es"`), and EG-NAS with cross-entropy alone (`egnas_eta0`, the published
  update), each searching `--search_epochs` epochs on two halves of `--search_images` training
  images each (weights / architecture), as the papers do, recording the mean per-edge entropy of
  softmax(alpha) over the epochs and the policy's decisiveness;
- control arms: `--random_cells` genotypes drawn uniformly from the same space
  (`DartsSpace.random_genotype`);

then every genotype's network trained from scratch by one code path (`train_genotype`: the
searched arms' tuners stop after their search epochs) with one final recipe (the tuners' final
training: `--final_cells` cells x `--final_channels` channels, SGD cosine, coupled L2 3e-4,
auxiliary head 0.4, drop-path 0.2, cutout 16, pad-crop-flip augmentation) on the whole training
split for `--final_epochs` epochs. Reported per arm: the final validation accuracy (the only
figure anything is selected on: the best random cell is the best on validation) and the test
accuracy, with the search's and the training's seconds; for the random cells the mean, spread
(standard deviation), minimum and maximum of the test accuracy.

    python bench/cell_search.py [--search_epochs 10] [--final_epochs 10] [--random_cells 4]

Writes bench/results/cell_search.json (`--output` names another file) and prints a table.
About 30 minutes on 2 CPU cores for the default arms. EG-NAS's two updates side by side, one
seed at a time:

    python bench/cell_search.py --arms egnas,egnas_es --seed 2 --output cell_search_egnas_2.json
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from common import write_results  # noqa: E402  (bench/common.py: with provenance)

from keras_nash.datasets.pipeline import pipeline, preprocessing_of  # noqa: E402
from keras_nash.tuners import darts, egnas  # noqa: E402

SEARCH_EPOCHS = flags.DEFINE_integer("search_epochs", 10, "Search epochs of each search arm.")
FINAL_EPOCHS = flags.DEFINE_integer("final_epochs", 10, "Epochs of every final training.")
IMAGE_SIZE = flags.DEFINE_enum("image_size", "16", ["16", "32"], "Image side (16: 2x2-pooled).")
SEARCH_IMAGES = flags.DEFINE_integer("search_images", 896, "Images in each search half.")
RANDOM_CELLS = flags.DEFINE_integer("random_cells", 4, "Random genotypes (the control).")
CELLS = flags.DEFINE_integer("cells", 3, "Supernet cells.")
CHANNELS = flags.DEFINE_integer("channels", 8, "Supernet initial channels.")
FINAL_CELLS = flags.DEFINE_integer("final_cells", 5, "Final network cells.")
FINAL_CHANNELS = flags.DEFINE_integer("final_channels", 16, "Final network initial channels.")
BATCH = flags.DEFINE_integer("batch_size", 64, "Batch size of the searches and trainings.")
SEED = flags.DEFINE_integer("seed", 1, "Seed of the split, the searches and the random cells.")
ARMS = flags.DEFINE_list(
    "arms",
    ["darts", "egnas", "egnas_eta0", "random"],
    "Arms to run (darts, egnas, egnas_es, egnas_eta0, random).",
)
OUTPUT = flags.DEFINE_string("output", "cell_search.json", "Results file in bench/results/.")
DATA_FILE = flags.DEFINE_string(
    "data",
    str(HERE.parent.parent / "shared" / "data" / "cifar10_5k.npz"),
    "The shipped 5,000 CIFAR-10 images (a worktree's checkout: /work/shared/data/...).",
)
RESULTS = HERE / "results"


def split():
    """Train / validation / test arrays (uint8 images), a fixed permutation of the 5,000."""
    with np.load(DATA_FILE.value) as data:
        x, y = data["x"], data["y"].astype("int32")
    order = np.random.default_rng(SEED.value).permutation(len(x))
    x, y = x[order], y[order]
    if IMAGE_SIZE.value == "16":
        x = x.reshape(len(x), 16, 2, 16, 2, 3).mean(axis=(2, 4)).round().astype("uint8")
    return (x[:3500], y[:3500]), (x[3500:4250], y[3500:4250]), (x[4250:], y[4250:])


def pipelines(train, validation, test):
    """Standardised pipelines: search halves (no augmentation), final train (augmented),
    validation and test."""
    preprocessing = preprocessing_of(train[0])

    def make(arrays, **options):
        dataset = tf.data.Dataset.from_tensor_slices(arrays)
        return pipeline(
            dataset, preprocessing=preprocessing, batch_size=BATCH.value, seed=SEED.value, **options
        )

    half = SEARCH_IMAGES.value
    return {
        "search_weights": make(
            (train[0][:half], train[1][:half]), training=True, shuffle_buffer=half
        ),
        "search_arch": make(
            (train[0][half : 2 * half], train[1][half : 2 * half]),
            training=True,
            shuffle_buffer=half,
        ),
        "final_train": make(train, training=True, augment=True, shuffle_buffer=len(train[0])),
        "validation": make(validation),
        "test": make(test),
    }


def common(directory, name):
    return dict(
        num_classes=10,
        epochs=SEARCH_EPOCHS.value,
        cells=CELLS.value,
        channels=CHANNELS.value,
        final_cells=FINAL_CELLS.value,
        final_channels=FINAL_CHANNELS.value,
        final_epochs=FINAL_EPOCHS.value,
        batch_size=BATCH.value,
        drop_path_prob=0.2,
        cutout_length=16,
        seed=SEED.value,
        directory=directory,
        project_name=name,
        overwrite=True,
        max_trials=SEARCH_EPOCHS.value,  # the search epochs; `train_genotype` trains every arm
    )


def tuner_of(arm, directory, project=None):
    if arm == "darts":
        # The short runs' alpha learning rate (the command line's without --paper_defaults).
        return darts.DartsTuner(**common(directory, project or arm), arch_learning_rate="auto")
    eta = 0.0 if arm == "egnas_eta0" else 0.4
    update = "es" if arm == "egnas_es" else "paper"
    warmup = max(1, SEARCH_EPOCHS.value // 3)
    return egnas.EgnasTuner(**common(directory, arm), eta=eta, warmup_epochs=warmup, update=update)


def evaluate(model, data) -> dict:
    _, val_accuracy = model.evaluate(data["validation"], verbose=0)[:2]
    _, test_accuracy = model.evaluate(data["test"], verbose=0)[:2]
    return {"val_accuracy": float(val_accuracy), "test_accuracy": float(test_accuracy)}


def alpha_entropy(tuner) -> list:
    """The mean per-edge entropy (nats) of softmax(alpha), both cells, at the start of each
    search epoch and after the last (log 7 = 1.95 for 7 operations: uniform)."""

    def entropy(arch):
        logits = np.concatenate([np.asarray(arch["normal"]), np.asarray(arch["reduce"])])
        p = np.exp(logits - logits.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        return float(-(p * np.log(p)).sum(-1).mean())

    oracle, key = tuner.oracle, tuner.key("alpha")
    values = [oracle.trials[t].hyperparameters.values for t in sorted(oracle.trials)]
    return [entropy(json.loads(v[key])) for v in values if key in v]


def search_arm(arm, data, directory) -> dict:
    """Search (the search epochs only), then train the found genotype by `train_genotype`."""
    tuner = tuner_of(arm, directory)
    start = time.perf_counter()
    tuner.search(data["search_weights"], validation_data=data["search_arch"], verbose=0)
    search_seconds = time.perf_counter() - start
    extra = {}
    if arm.startswith("egnas"):
        extra = {
            "update": tuner.oracle.update,
            "mixture_spread": egnas.strategy.mixture_spread(tuner.oracle.alpha),
        }
    return {
        **train_genotype(arm, tuner.get_best_genotype(), data, directory),
        "search_seconds": round(search_seconds, 1),
        "alpha_entropy": alpha_entropy(tuner),
        "decisiveness": tuner.decisiveness(),
        **extra,
    }


def train_genotype(arm, genotype, data, directory) -> dict:
    """Train a genotype from scratch with the final recipe (a DartsTuner's) on the whole
    training split: every arm, searched or random, by this one code path (the last epoch's
    weights; keras-tuner's `get_best_models` would pick the searched arms' best validation
    epoch and favour them)."""
    tuner = tuner_of("darts", directory, project="final")  # its final recipe
    hp = keras_tuner.HyperParameters()
    hp.values[tuner.key("genotype")] = genotype.to_json()
    keras.utils.set_random_seed(SEED.value)
    model = tuner.build_final_model(hp)
    start = time.perf_counter()
    model.fit(
        data["final_train"],
        validation_data=data["validation"],
        epochs=FINAL_EPOCHS.value,
        callbacks=tuner.final_callbacks(hp),
        verbose=0,
        shuffle=False,  # a dataset orders itself (Keras warns otherwise)
    )
    seconds = time.perf_counter() - start
    return {
        "arm": arm,
        "genotype": genotype.to_dict(),
        "seconds": round(seconds, 1),
        **evaluate(model, data),
    }


def main(argv):
    del argv
    data = pipelines(*split())
    directory = tempfile.mkdtemp(prefix="cell_search_")
    rows = []
    for arm in ARMS.value:
        if arm != "random":
            rows.append(search_arm(arm, data, directory))
            print(json.dumps(rows[-1]), flush=True)
            continue
        space = tuner_of("darts", directory, project="random").space
        rng = np.random.default_rng(SEED.value)
        for index in range(RANDOM_CELLS.value):
            genotype = space.random_genotype(rng)
            rows.append(train_genotype(f"random_{index}", genotype, data, directory))
            print(json.dumps(rows[-1]), flush=True)
    randoms = [r for r in rows if r["arm"].startswith("random")]
    summary = {}
    if randoms:
        best = max(randoms, key=lambda r: r["val_accuracy"])  # selected on validation
        tests = [r["test_accuracy"] for r in randoms]
        summary = {
            "random_mean_test": float(np.mean(tests)),
            "random_std_test": float(np.std(tests)),
            "random_min_test": float(min(tests)),
            "random_max_test": float(max(tests)),
            "random_best_on_validation": best["arm"],
            "random_best_on_validation_test": best["test_accuracy"],
        }
    settings = {
        name: flags.FLAGS[name].value
        for name in (
            "search_epochs",
            "final_epochs",
            "image_size",
            "search_images",
            "random_cells",
            "cells",
            "channels",
            "final_cells",
            "final_channels",
            "batch_size",
            "seed",
        )
    }
    write_results(OUTPUT.value, {"settings": settings, "rows": rows, "summary": summary})
    print(f"{'arm':<12}{'val_acc':>9}{'test_acc':>9}{'seconds':>9}")
    for r in rows:
        print(
            f"{r['arm']:<12}{r['val_accuracy']:>9.4f}{r['test_accuracy']:>9.4f}{r['seconds']:>9.1f}"
        )
    if summary:
        print(
            f"random cells: mean test {summary['random_mean_test']:.4f}; best on validation "
            f"({summary['random_best_on_validation']}) test "
            f"{summary['random_best_on_validation_test']:.4f}"
        )


if __name__ == "__main__":
    app.run(main)
