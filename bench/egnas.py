"""Benchmark: EG-NAS search epoch against a first-order DARTS epoch, and the population evaluation.

1. Population evaluation: one `PopulationEvaluator` call on `--population` candidate mixtures
   (one compiled function, traced once) against `--population` plain forward passes of the same
   minibatch through a compiled forward function (same batch-norm mode); target at most 1.3x.
2. Search: `EgnasTuner` and `DartsTuner` on the same supernet (space, partial channels,
   operations) and the same data (real CIFAR-10 images from the embedded default data,
   2x2-average-pooled to 16x16), `--epochs` search epochs each (EG-NAS: `--warmup` of them
   weight-only). Reports the time of each search epoch (the first, which traces, apart), the
   ratio of an EG-NAS epoch with a generation to a DARTS epoch (target at most 1.3x), and the
   supernet's validation accuracy over epochs for both.

    python bench/egnas.py [--epochs 4] [--warmup 1] [--cells 3] [--population 50] [--train 640]

Writes bench/results/egnas.json and prints a table.
"""

import os

import common  # bench/common.py: TensorFlow's log level, the repository importable

import json  # noqa: E402
import pathlib  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
from keras_nash.tuners import darts, egnas  # noqa: E402
from keras_nash.tuners.egnas import strategy  # noqa: E402
from keras_nash.tuners.egnas.population import PopulationEvaluator
from keras_nash.spaces.darts import DartsSearchNetwork, DartsSpace  # noqa: E402

EPOCHS = flags.DEFINE_integer("epochs", 4, "Search epochs of each method.")
WARMUP = flags.DEFINE_integer("warmup", 1, "EG-NAS warm-up epochs.")
POPULATION = flags.DEFINE_integer("population", 50, "EG-NAS population size.")
TRAIN = flags.DEFINE_integer("train", 640, "Training images (as many again for validation).")
BATCH = flags.DEFINE_integer("batch", 32, "Batch size.")
CELLS = flags.DEFINE_integer("cells", 3, "Supernet cells.")
CHANNELS = flags.DEFINE_integer("channels", 8, "Supernet initial channels.")
REPEATS = flags.DEFINE_integer("repeats", 3, "Repeats of the population timing (median).")
SEED = flags.DEFINE_integer("seed", 1, "Seed.")
RESULTS = common.RESULTS
DATA = HERE.parent / "keras_nash" / "data" / "cifar10_default.npz"


def load_data():
    with np.load(DATA) as data:
        x, y = data["x"], data["y"]
    n = 2 * TRAIN.value
    index = np.random.default_rng(SEED.value).choice(len(x), n, replace=False)
    x = x[index].astype("float32") / 255.0
    x = x.reshape(n, 16, 2, 16, 2, 3).mean(axis=(2, 4))  # 32x32 -> 16x16
    y = y[index].astype("int32").reshape(-1)
    half = TRAIN.value
    train = tf.data.Dataset.from_tensor_slices((x[:half], y[:half])).batch(BATCH.value)
    val = tf.data.Dataset.from_tensor_slices((x[half:], y[half:])).batch(BATCH.value)
    return train, val, x[half:half + BATCH.value], y[half:half + BATCH.value]


def space_args():
    return dict(cells=CELLS.value, channels=CHANNELS.value, steps=4, multiplier=4,
                primitives=egnas.EGNAS_PRIMITIVES, partial_channels=4)


def median_time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench_population(x, y):
    space = DartsSpace(**space_args())
    network = DartsSearchNetwork(space, 10, seed=SEED.value)
    network(np.zeros((1,) + x.shape[1:], "float32"))
    signature = (tf.TensorSpec((None,) + x.shape[1:]), tf.TensorSpec((None,), tf.int32))
    mean = strategy.edge_softmax(np.zeros((2,) + space.alpha_shape))
    z = strategy.sample_population(mean, 0.5, POPULATION.value, SEED.value)
    mixtures = strategy.normalise_candidates(z).astype("float32")
    x, y = tf.constant(x), tf.constant(y)
    rows = {}
    for batch_stats in (True, False):
        evaluator = PopulationEvaluator(network, signature, batch_stats=batch_stats)
        forward = tf.function(lambda images: network(images, training=batch_stats),
                              input_signature=[signature[0]], autograph=False)
        evaluator(x, y, mixtures)
        forward(x)  # trace both first
        population = median_time(lambda: evaluator(x, y, mixtures), REPEATS.value)
        plain = median_time(
            lambda: [forward(x).numpy() for _ in range(POPULATION.value)], REPEATS.value
        )
        rows["batch_stats" if batch_stats else "moving_stats"] = {
            "population_s": population,
            "plain_forward_passes_s": plain,
            "ratio": population / plain,
            "traces": evaluator.trace_count,
        }
    return rows


def timed(tuner_class):
    """A subclass of `tuner_class` that records each search epoch's wall time."""

    class Timed(tuner_class):
        epoch_times = []

        def run_search_epoch(self, state, trial, data, loop):
            start = time.perf_counter()
            out = super().run_search_epoch(state, trial, data, loop)
            self.epoch_times.append(time.perf_counter() - start)
            return out

    Timed.epoch_times = []
    return Timed


def bench_search(train, val, directory):
    common = dict(num_classes=10, epochs=EPOCHS.value, final_epochs=1, batch_size=BATCH.value,
                  final_cells=3, final_channels=4, seed=SEED.value, directory=directory,
                  overwrite=True, **space_args())
    results = {}
    keras.utils.set_random_seed(SEED.value)
    tuner = timed(egnas.EgnasTuner)(
        warmup_epochs=WARMUP.value, population_size=POPULATION.value, project_name="egnas",
        **common,
    )
    tuner.search(train, validation_data=val, verbose=0)
    print("egnas epochs:", tuner.epoch_times, flush=True)
    history = tuner.oracle.history
    results["egnas"] = {
        "epoch_s": tuner.epoch_times,
        "evolve": [("elite" in entry) for entry in history],
        "val_accuracy": [entry["metrics"]["val_accuracy"] for entry in history],
        "best_fitness": [entry.get("best", {}).get("fitness") for entry in history],
        "genotype": tuner.oracle.genotype().to_dict(),
        "trace_counts": dict(tuner.trace_counts),
    }
    keras.utils.set_random_seed(SEED.value)
    first_order = timed(darts.DartsTuner)(project_name="darts", **common)
    first_order.search(train, validation_data=val, verbose=0)
    results["darts"] = {
        "epoch_s": first_order.epoch_times,
        "val_accuracy": [entry["val_accuracy"] for entry in first_order.oracle.history],
        "genotype": first_order.oracle.genotype().to_dict(),
    }
    evolving = [t for t, e in zip(results["egnas"]["epoch_s"][1:], results["egnas"]["evolve"][1:]) if e]
    warm = [t for t, e in zip(results["egnas"]["epoch_s"][1:], results["egnas"]["evolve"][1:]) if not e]
    darts_epoch = float(np.median(results["darts"]["epoch_s"][1:]))
    results["summary"] = {
        "egnas_epoch_with_generation_s": float(np.median(evolving)),
        "egnas_warmup_epoch_s": float(np.median(warm)) if warm else None,
        "darts_epoch_s": darts_epoch,
        "ratio": float(np.median(evolving)) / darts_epoch,
    }
    return results


def main(argv):
    del argv
    train, val, x, y = load_data()
    population = bench_population(x, y)
    print("population:", json.dumps(population), flush=True)
    with tempfile.TemporaryDirectory() as directory:
        search = bench_search(train, val, directory)
    results = {
        "settings": {
            "epochs": EPOCHS.value, "warmup": WARMUP.value, "population": POPULATION.value,
            "train_images": TRAIN.value, "batch": BATCH.value, "image_size": 16,
            "cells": CELLS.value, "channels": CHANNELS.value, "partial_channels": 4,
            "primitives": list(egnas.EGNAS_PRIMITIVES), "device": "CPU",
            "cpu_threads": os.cpu_count(), "tensorflow": tf.__version__,
        },
        "population": population,
        "search": search,
    }
    common.write_results("egnas.json", results)

    print(f"\nPopulation evaluation ({POPULATION.value} candidates, batch {BATCH.value}):")
    print(f"{'batch norm':<14}{'population s':>14}{'plain passes s':>16}{'ratio':>8}{'traces':>8}")
    for name, row in population.items():
        print(f"{name:<14}{row['population_s']:>14.3f}{row['plain_forward_passes_s']:>16.3f}"
              f"{row['ratio']:>8.2f}{row['traces']:>8}")
    summary = search["summary"]
    print(f"\nSearch epoch ({TRAIN.value // BATCH.value} training batches): EG-NAS with generation "
          f"{summary['egnas_epoch_with_generation_s']:.2f}s, warm-up "
          f"{summary['egnas_warmup_epoch_s'] or float('nan'):.2f}s, first-order DARTS "
          f"{summary['darts_epoch_s']:.2f}s, ratio {summary['ratio']:.2f}")
    print(f"\n{'epoch':>5}{'EG-NAS s':>10}{'EG-NAS val acc':>16}{'DARTS s':>10}{'DARTS val acc':>15}")
    for epoch in range(EPOCHS.value):
        print(f"{epoch:>5}{search['egnas']['epoch_s'][epoch]:>10.2f}"
              f"{search['egnas']['val_accuracy'][epoch]:>16.3f}"
              f"{search['darts']['epoch_s'][epoch]:>10.2f}"
              f"{search['darts']['val_accuracy'][epoch]:>15.3f}")
    print(f"\nwritten: {RESULTS / 'egnas.json'}")


if __name__ == "__main__":
    app.run(main)
