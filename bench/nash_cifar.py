"""Benchmark: NASH on 5,000 real CIFAR-10 images under a wall-clock budget, against the seed
network trained from scratch for the same time.

Data: ../shared/data/cifar10_5k.npz (or --data), fixed split with --seed: 4,000 images for the
search (3,500 train / 500 validation) and 1,000 held-out test images. Both runs get the same
budget (--budget_minutes, default 20):
- NASH: pre-training and hill climbing with `time_budget` = --search_share of the budget (no
  trial starts once it is spent), then the final training of the best network (--final_epochs);
- baseline: the seed network trained from scratch with one cosine schedule for as many epochs as
  fit in the budget or in NASH's measured wall time, whichever is longer (epoch time measured
  on a probe's second and third epochs), so NASH never gets more time than the baseline.

Reports validation and test accuracy, parameters, trials, the share of NASH's wall time spent
outside training and evaluation (the search's own overhead: building, morphing and checking
networks, checkpoints, the oracle), and peak resident memory. Writes
bench/results/nash_cifar.json and bench/results/nash_cifar.png, and prints a table.

    python bench/nash_cifar.py [--budget_minutes 20] [--data PATH]
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json  # noqa: E402
import math  # noqa: E402
import pathlib  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402
import keras  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from keras_nash import datasets, report, schedules, seed_models  # noqa: E402
from keras_nash.tuners.nash import NashTuner  # noqa: E402

BUDGET = flags.DEFINE_float("budget_minutes", 20.0, "Wall-clock budget of each run (NASH, baseline).")
DATA = flags.DEFINE_string("data", str(HERE.parents[1] / "shared" / "data" / "cifar10_5k.npz"), "An .npz with x, y.")
SEED = flags.DEFINE_integer("seed", 1, "Seed of the split and of the search.")
FILTERS = flags.DEFINE_list("seed_filters", ["16", "32", "64"], "Seed network filters.")
BATCH = flags.DEFINE_integer("batch_size", 64, "Batch size.")
FINAL_EPOCHS = flags.DEFINE_integer("final_epochs", 10, "NASH's final training epochs.")
SEARCH_SHARE = flags.DEFINE_float("search_share", 0.6, "Share of the budget for NASH's pre-training and hill climbing.")
RESULTS = HERE / "results"


def load():
    # Fractions of all 5,000: 20% = 1,000 test images, 10% = 500 validation images, 3,500 train.
    return datasets.load(DATA.value, batch_size=BATCH.value, validation_split=0.1, test_split=0.2, augment=True, seed=SEED.value)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_nash(data, budget, directory):
    seed = seed_models.simple_cnn(data.input_shape, data.num_classes, filters=tuple(int(f) for f in FILTERS.value))
    tuner = NashTuner(
        seed, n_steps=1000, n_neighbors=4, n_morphisms=3, epochs_per_neighbor=3, pretrain_epochs=8,
        final_epochs=FINAL_EPOCHS.value, time_budget=budget * SEARCH_SHARE.value, seed=SEED.value,
        directory=directory, project_name="nash", overwrite=True,
    )
    start = time.perf_counter()
    tuner.search(data.train, validation_data=data.validation, verbose=0)
    wall = time.perf_counter() - start
    trials = [tuner.oracle.trials[t] for t in sorted(tuner.oracle.trials)]
    metric = lambda t, name: t.metrics.get_last_value(name) if t.metrics.exists(name) else 0.0  # noqa: E731
    fit_seconds = sum(metric(t, "fit_seconds") for t in trials)
    best = tuner.get_best_models(1)[0]
    records = [{
        "trial_id": t.trial_id, "step": t.hyperparameters.values["nash/step"], "role": t.hyperparameters.values["nash/role"],
        "score": t.score, "seconds": metric(t, "trial_seconds"), "params": tuner.oracle.architecture(t.trial_id).count_params(),
    } for t in trials]
    report.plot_search(records, RESULTS / "nash_cifar.png", "val_accuracy", "NASH on CIFAR-10 (5k subset)")
    return {
        "wall_seconds": wall,
        "trials": len(trials),
        "steps": max(r["step"] for r in records if r["role"] != "final"),  # hill-climbing steps done
        "validation_accuracy": best.evaluate(data.validation, verbose=0, return_dict=True)["accuracy"],
        "test_accuracy": best.evaluate(data.test, verbose=0, return_dict=True)["accuracy"],
        "params": best.count_params(),
        "overhead_share": 1.0 - fit_seconds / wall,
        "trial_records": records,
    }


def run_baseline(data, budget):
    keras.utils.set_random_seed(SEED.value)
    steps = int(data.train.cardinality())
    probe = seed_models.simple_cnn(data.input_shape, data.num_classes, filters=tuple(int(f) for f in FILTERS.value))
    probe.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9, weight_decay=5e-4), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    ends = []
    record_end = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: ends.append(time.perf_counter()))
    probe.fit(data.train, validation_data=data.validation, epochs=3, verbose=0, callbacks=[record_end])
    epoch_seconds = (ends[2] - ends[0]) / 2  # epochs 2 and 3: the first one traces
    epochs = max(1, math.floor((budget - (time.perf_counter() - start)) / epoch_seconds))
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED.value)
    model = seed_models.simple_cnn(data.input_shape, data.num_classes, filters=tuple(int(f) for f in FILTERS.value))
    model.compile(
        optimizer=keras.optimizers.SGD(schedules.cosine_annealing(0.05, 0.0, epochs * steps), momentum=0.9, weight_decay=5e-4),
        loss="sparse_categorical_crossentropy", metrics=["accuracy"],
    )
    model.fit(data.train, validation_data=data.validation, epochs=epochs, verbose=0)
    return {
        "wall_seconds": time.perf_counter() - start,
        "epochs": epochs,
        "validation_accuracy": model.evaluate(data.validation, verbose=0, return_dict=True)["accuracy"],
        "test_accuracy": model.evaluate(data.test, verbose=0, return_dict=True)["accuracy"],
        "params": model.count_params(),
    }


def main(_):
    RESULTS.mkdir(exist_ok=True)
    budget = BUDGET.value * 60
    data = load()
    with tempfile.TemporaryDirectory() as directory:
        nash = run_nash(data, budget, directory)
    nash["peak_rss_mb"] = peak_rss_mb()
    keras.backend.clear_session()
    baseline = run_baseline(data, max(budget, nash["wall_seconds"]))
    result = {"budget_minutes": BUDGET.value, "num_examples": data.num_examples, "nash": nash, "seed_from_scratch": baseline, "peak_rss_mb": peak_rss_mb()}
    (RESULTS / "nash_cifar.json").write_text(json.dumps(result, indent=2, default=float))
    print(f"budget {BUDGET.value:.0f} min per run, data {data.num_examples}")
    print(f"{'run':<20}{'val acc':>9}{'test acc':>10}{'params':>11}{'minutes':>9}  details")
    print(f"{'NASH':<20}{nash['validation_accuracy']:>9.4f}{nash['test_accuracy']:>10.4f}{nash['params']:>11,}{nash['wall_seconds'] / 60:>9.1f}"
          f"  {nash['trials']} trials, {nash['steps']} steps, overhead {100 * nash['overhead_share']:.1f}% of wall time")
    print(f"{'seed from scratch':<20}{baseline['validation_accuracy']:>9.4f}{baseline['test_accuracy']:>10.4f}{baseline['params']:>11,}"
          f"{baseline['wall_seconds'] / 60:>9.1f}  {baseline['epochs']} epochs")
    print(f"peak resident memory {result['peak_rss_mb']:.0f} MB; results {RESULTS / 'nash_cifar.json'}, plot {RESULTS / 'nash_cifar.png'}")


if __name__ == "__main__":
    app.run(main)
