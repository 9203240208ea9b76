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

    python bench/cell_search.py [--seeds 1,2,3] [--search_epochs 10] [--final_epochs 10]

Writes bench/results/cell_search.json (`--output` names another file): every seed's rows, and
per searched arm over the seeds its test accuracy (mean, sd), its margin over the same seed's
random cells and its entropy ratio at the end; prints a table. About 30 minutes per seed on 2
CPU cores for the default arms. EG-NAS's two updates side by side:

    python bench/cell_search.py --arms egnas,egnas_es --seeds 2 --output cell_search_egnas_2.json
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
SEEDS = flags.DEFINE_list(
    "seeds", ["1"], "Seeds (each: the split, the searches and the random cells), run in turn."
)
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


def split(seed):
    """Train / validation / test arrays (uint8 images), a fixed permutation of the 5,000."""
    with np.load(DATA_FILE.value) as data:
        x, y = data["x"], data["y"].astype("int32")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    if IMAGE_SIZE.value == "16":
        x = x.reshape(len(x), 16, 2, 16, 2, 3).mean(axis=(2, 4)).round().astype("uint8")
    return (x[:3500], y[:3500]), (x[3500:4250], y[3500:4250]), (x[4250:], y[4250:])


def pipelines(seed, train, validation, test):
    """Standardised pipelines: search halves (no augmentation), final train (augmented),
    validation and test."""
    preprocessing = preprocessing_of(train[0])

    def make(arrays, **options):
        dataset = tf.data.Dataset.from_tensor_slices(arrays)
        return pipeline(
            dataset, preprocessing=preprocessing, batch_size=BATCH.value, seed=seed, **options
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


def common(directory, name, seed):
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
        seed=seed,
        directory=directory,
        project_name=name,
        overwrite=True,
        max_trials=SEARCH_EPOCHS.value,  # the search epochs; `train_genotype` trains every arm
    )


def tuner_of(arm, directory, seed, project=None):
    if arm == "darts":
        # The short runs' alpha learning rate (the command line's without --paper_defaults).
        return darts.DartsTuner(
            **common(directory, project or arm, seed), arch_learning_rate="auto"
        )
    eta = 0.0 if arm == "egnas_eta0" else 0.4
    update = "es" if arm == "egnas_es" else "paper"
    warmup = max(1, SEARCH_EPOCHS.value // 3)
    return egnas.EgnasTuner(
        **common(directory, arm, seed), eta=eta, warmup_epochs=warmup, update=update
    )


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


def search_arm(arm, data, directory, seed) -> dict:
    """Search (the search epochs only), then train the found genotype by `train_genotype`."""
    tuner = tuner_of(arm, directory, seed)
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
        **train_genotype(arm, tuner.get_best_genotype(), data, directory, seed),
        "search_seconds": round(search_seconds, 1),
        "alpha_entropy": alpha_entropy(tuner),
        "decisiveness": tuner.decisiveness(),
        **extra,
    }


def train_genotype(arm, genotype, data, directory, seed) -> dict:
    """Train a genotype from scratch with the final recipe (a DartsTuner's) on the whole
    training split: every arm, searched or random, by this one code path (the last epoch's
    weights; keras-tuner's `get_best_models` would pick the searched arms' best validation
    epoch and favour them)."""
    tuner = tuner_of("darts", directory, seed, project="final")  # its final recipe
    hp = keras_tuner.HyperParameters()
    hp.values[tuner.key("genotype")] = genotype.to_json()
    keras.utils.set_random_seed(seed)
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


def run_seed(seed) -> dict:
    """Every arm on one seed's split: the rows and the random cells' summary."""
    data = pipelines(seed, *split(seed))
    directory = tempfile.mkdtemp(prefix="cell_search_")
    rows = []
    for arm in ARMS.value:
        if arm != "random":
            rows.append(search_arm(arm, data, directory, seed))
            print(json.dumps(rows[-1]), flush=True)
            continue
        space = tuner_of("darts", directory, seed, project="random").space
        rng = np.random.default_rng(seed)
        for index in range(RANDOM_CELLS.value):
            genotype = space.random_genotype(rng)
            rows.append(train_genotype(f"random_{index}", genotype, data, directory, seed))
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
    return {"seed": seed, "rows": rows, "summary": summary}


def across_seeds(runs) -> dict:
    """Per searched arm over the seeds: test accuracy (mean, sd), its margin over the same
    seed's random mean, and the entropy ratio at the end; the random cells' test accuracy
    (mean and sd over all of them)."""
    summary = {}
    randoms = [
        r["test_accuracy"] for run in runs for r in run["rows"] if r["arm"].startswith("random")
    ]
    if randoms:
        summary["random"] = {
            "mean_test": float(np.mean(randoms)),
            "std_test": float(np.std(randoms)),
        }
    arms = [a for a in ARMS.value if a != "random"]
    for arm in arms:
        found = [next(r for r in run["rows"] if r["arm"] == arm) for run in runs]
        tests = [r["test_accuracy"] for r in found]
        summary[arm] = {
            "mean_test": float(np.mean(tests)),
            "std_test": float(np.std(tests)),
            "entropy_ratio_end": [r["decisiveness"][-1]["entropy_ratio"] for r in found],
        }
        if randoms:
            summary[arm]["minus_random_mean"] = [
                r["test_accuracy"] - run["summary"]["random_mean_test"]
                for r, run in zip(found, runs)
            ]
    return summary


def main(argv):
    del argv
    runs = [run_seed(int(seed)) for seed in SEEDS.value]
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
            "seeds",
            "arms",
        )
    }
    summary = across_seeds(runs)
    write_results(OUTPUT.value, {"settings": settings, "runs": runs, "summary": summary})
    print(f"{'seed':<6}{'arm':<12}{'val_acc':>9}{'test_acc':>9}{'seconds':>9}")
    for run in runs:
        for r in run["rows"]:
            print(
                f"{run['seed']:<6}{r['arm']:<12}{r['val_accuracy']:>9.4f}"
                f"{r['test_accuracy']:>9.4f}{r['seconds']:>9.1f}"
            )
    for arm, figures in summary.items():
        print(f"{arm:<12} test {figures['mean_test']:.4f} +- {figures['std_test']:.4f}")


if __name__ == "__main__":
    app.run(main)
