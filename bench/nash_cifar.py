"""Benchmark: NASH on 5,000 real CIFAR-10 images against its controls, same data and budget.

Data: ../shared/data/cifar10_5k.npz (or --data), one fixed split (--split_seed): 3,500 training,
500 validation and 1,000 held-out test images, the same for every run. Four arms, each run
once per seed in --seeds with the same wall-clock budget (--budget_minutes, default 20):
- nash: the paper's hill climb (--n_neighbors neighbours a step, the incumbent's retrained copy
  among them, --n_morphisms morphisms a child, --epochs_per_neighbor epochs of SGDR each),
  climbing until the budget stops it (n_steps=None), then the final training of the best
  network in its reserved `final_share` of `time_budget` = the budget; plus the snapshot
  ensemble of the run (the average of every step's best network and the final one);
- cost: the cost-aware arm: the same, with LEMONADE's Pareto front of (val_accuracy,
  multiply-adds) (pareto=True, cost="flops"), children at most --max_cost_growth times their
  parent's multiply-adds, --n_neighbors children a step drawn from the front; also its
  snapshot ensemble and whether its front holds a network that dominates the seed network;
- random: the paper's random-network baseline, the same tuner with n_neighbors=1 (each step's
  one child is the next incumbent, whatever its score), climbing until the budget stops it,
  and the same final training: the same `final_share` of the same budget;
- scratch: the seed network trained from scratch with one cosine schedule, as many epochs as
  fit in the budget (measured on a probe's second and third epochs).
Runs are reused only when the settings and the git commit of the code are the same.
Everything is chosen on validation; the test split is only reported. Reports per run and, per
arm, the mean and standard deviation of test accuracy, parameters and trials; the NASH runs'
wall time against their budget (a search must return within 1.05 T); the share of NASH's wall
time spent outside training (building, morphing, checking, checkpoints, the oracle); peak
resident memory. Writes bench/results/nash_cifar.json after every run (a rerun with the same
settings skips runs already there) and bench/results/nash_cifar.png (the first NASH run), and
prints a table.

    python bench/nash_cifar.py [--budget_minutes 20] [--seeds 1,2,3] [--arms
    nash,cost,random,scratch]
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json  # noqa: E402
import math  # noqa: E402
import pathlib  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from keras_nash import datasets, report, schedules, seed_models  # noqa: E402
from keras_nash.graph import Architecture  # noqa: E402
from keras_nash.optimizers import CoupledSGD  # noqa: E402
from keras_nash.tuners.nash import budget as budgets  # noqa: E402
from keras_nash.tuners.nash.tuner import NashTuner  # noqa: E402

BUDGET = flags.DEFINE_float("budget_minutes", 20.0, "Wall-clock budget of every run, in minutes.")
DATA = flags.DEFINE_string(
    "data", str(HERE.parents[1] / "shared" / "data" / "cifar10_5k.npz"), "An .npz with x, y."
)
SPLIT_SEED = flags.DEFINE_integer(
    "split_seed", 1, "Seed of the train / validation / test split (the same for every run)."
)
SEEDS = flags.DEFINE_list(
    "seeds", ["1", "2", "3"], "Seeds of the runs (search and initialisation)."
)
ARMS = flags.DEFINE_list("arms", ["nash", "cost", "random", "scratch"], "Arms to run.")
FILTERS = flags.DEFINE_list("seed_filters", ["16", "32", "64"], "Seed network filters.")
BATCH = flags.DEFINE_integer("batch_size", 64, "Batch size.")
N_STEPS = flags.DEFINE_integer(
    "n_steps", None, "NASH's hill-climbing steps; unset: until the budget stops the climb."
)
FINAL_SHARE = flags.DEFINE_float(
    "final_share", 0.25, "Share of the budget kept for the final training."
)
MAX_COST_GROWTH = flags.DEFINE_float(
    "max_cost_growth", 2.0, "The cost arm's largest child/parent multiply-adds."
)
N_NEIGHBORS = flags.DEFINE_integer(
    "n_neighbors", 4, "NASH's neighbours per step, the incumbent's copy included."
)
N_MORPHISMS = flags.DEFINE_integer("n_morphisms", 3, "Morphisms per child.")
EPOCHS_PER_NEIGHBOR = flags.DEFINE_integer("epochs_per_neighbor", 3, "SGDR epochs per child.")
PRETRAIN_EPOCHS = flags.DEFINE_integer("pretrain_epochs", 8, "Epochs of the seed's pre-training.")
FINAL_EPOCHS = flags.DEFINE_integer(
    "final_epochs",
    200,
    "Most epochs of the final training (what fits in its share of the budget is used).",
)
LR = 0.05
WEIGHT_DECAY = 5e-4  # coupled L2, as NashTuner's default
RESULTS = HERE / "results"
PATH = RESULTS / "nash_cifar.json"


def load():
    # Fractions of all 5,000: 20% = 1,000 test images, 10% = 500 validation images, 3,500 train.
    return datasets.load(
        DATA.value,
        batch_size=BATCH.value,
        validation_split=0.1,
        test_split=0.2,
        augment=True,
        seed=SPLIT_SEED.value,
    )


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed_network(data):
    return seed_models.simple_cnn(
        data.input_shape, data.num_classes, filters=tuple(int(f) for f in FILTERS.value)
    )


def commit():
    """The code's git commit, "+dirty" when the work tree has changes to tracked files."""

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=HERE.parent, capture_output=True, text=True
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "HEAD") + ("+dirty" if dirty else "")


def run_search(arm, data, budget, seed, directory, plot=None):
    """NASH (arm "nash"), cost-aware NASH (arm "cost") or the random-network baseline (arm
    "random", n_neighbors=1)."""
    n_neighbors = 1 if arm == "random" else N_NEIGHBORS.value
    n_steps = (
        N_STEPS.value
        if N_STEPS.value is None or arm != "random"
        else N_STEPS.value * N_NEIGHBORS.value
    )
    cost_aware = (
        dict(pareto=True, cost="flops", max_cost_growth=MAX_COST_GROWTH.value)
        if arm == "cost"
        else {}
    )
    tuner = NashTuner(
        seed_network(data),
        n_steps=n_steps,
        n_neighbors=n_neighbors,
        n_morphisms=N_MORPHISMS.value,
        epochs_per_neighbor=EPOCHS_PER_NEIGHBOR.value,
        pretrain_epochs=PRETRAIN_EPOCHS.value,
        final_epochs=FINAL_EPOCHS.value,
        time_budget=budget,
        final_share=FINAL_SHARE.value,
        lr_start=LR,
        weight_decay=WEIGHT_DECAY,
        seed=seed,
        directory=directory,
        project_name=arm,
        overwrite=True,
        **cost_aware,
    )
    start = time.perf_counter()
    tuner.search(data.train, validation_data=data.validation, verbose=0)
    wall = time.perf_counter() - start
    oracle = tuner.oracle
    trials = [oracle.trials[t] for t in sorted(oracle.trials)]
    metric = lambda t, name: t.metrics.get_last_value(name) if t.metrics.exists(name) else 0.0  # noqa: E731
    records = [
        {
            "trial_id": t.trial_id,
            "step": t.hyperparameters.values["nash/step"],
            "role": t.hyperparameters.values["nash/role"],
            "epochs": t.hyperparameters.values["nash/epochs"],
            "status": t.status,
            "score": t.score,
            "seconds": metric(t, "trial_seconds"),
            "params": oracle.architecture(t.trial_id).count_params(),
            "multiply_adds": budgets.multiply_adds(oracle.architecture(t.trial_id)),
        }
        for t in trials
    ]
    if plot:
        report.plot_search(
            records, plot, "val_accuracy", f"NASH on CIFAR-10 (5k subset), seed {seed}"
        )
    best = tuner.get_best_models(1)[0]
    final = [r for r in records if r["role"] == "final"]
    extra = {}
    if arm != "random":
        ensemble = tuner.snapshot_ensemble()
        ensemble.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        members = tuner.step_best_trials()
        extra["snapshot_ensemble"] = {
            "members": members,
            "test_accuracy": ensemble.evaluate(data.test, verbose=0, return_dict=True)["accuracy"],
            "params": ensemble.count_params(),
            "multiply_adds": sum(budgets.multiply_adds(oracle.architecture(t)) for t in members),
        }
        # The front of (val_accuracy, multiply-adds) over every trained network, on the test set.
        extra["pareto_front"] = [
            {
                "trial_id": trial.trial_id,
                "role": trial.hyperparameters.values["nash/role"],
                "val_accuracy": trial.score,
                "params": model.count_params(),
                "multiply_adds": budgets.multiply_adds(oracle.architecture(trial.trial_id)),
                "test_accuracy": model.evaluate(data.test, verbose=0, return_dict=True)["accuracy"],
            }
            for trial, model in tuner.get_pareto_front()
        ]
    return {
        "wall_seconds": wall,
        "wall_over_budget": wall / budget,
        "trials": len(trials),
        "failed_trials": sum(r["status"] != "COMPLETED" for r in records),
        "steps": max(r["step"] for r in records if r["role"] != "final"),
        "final_epochs": final[0]["epochs"] if final else 0,
        "validation_accuracy": best.evaluate(data.validation, verbose=0, return_dict=True)[
            "accuracy"
        ],
        "test_accuracy": best.evaluate(data.test, verbose=0, return_dict=True)["accuracy"],
        "params": best.count_params(),
        "overhead_share": 1.0 - sum(metric(t, "fit_seconds") for t in trials) / wall,
        "multiply_adds": budgets.multiply_adds(
            oracle.architecture(oracle.get_best_trials(1)[0].trial_id)
        ),
        "budget_report": tuner.budget_report(),
        **extra,
        "trial_records": records,
    }


def run_scratch(data, budget, seed):
    """The seed network from scratch: one cosine schedule over the epochs that fit in `budget`."""

    def compiled(schedule):
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        model = seed_network(data)
        model.compile(
            optimizer=CoupledSGD(schedule, momentum=0.9, weight_decay=WEIGHT_DECAY),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    start = time.perf_counter()
    ends = []
    record_end = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: ends.append(time.perf_counter())
    )
    compiled(LR).fit(
        data.train,
        validation_data=data.validation,
        epochs=3,
        verbose=0,
        callbacks=[record_end],
        shuffle=False,  # a dataset orders itself (Keras warns otherwise)
    )
    epoch_seconds = (ends[2] - ends[0]) / 2  # epochs 2 and 3: the first one traces
    epochs = max(1, math.floor(0.98 * (budget - (time.perf_counter() - start)) / epoch_seconds))
    steps = int(data.train.cardinality())
    model = compiled(schedules.cosine_annealing(LR, 0.0, epochs * steps))
    model.fit(data.train, validation_data=data.validation, epochs=epochs, verbose=0, shuffle=False)
    wall = time.perf_counter() - start
    return {
        "wall_seconds": wall,
        "wall_over_budget": wall / budget,
        "epochs": epochs,
        "trials": 1,
        "validation_accuracy": model.evaluate(data.validation, verbose=0, return_dict=True)[
            "accuracy"
        ],
        "test_accuracy": model.evaluate(data.test, verbose=0, return_dict=True)["accuracy"],
        "params": model.count_params(),
        "multiply_adds": budgets.multiply_adds(seed_network_architecture(data)),
        "final_epochs": epochs,
    }


def seed_network_architecture(data):
    return Architecture.from_model(seed_network(data))


def summarise(runs):
    summary = {}
    for arm in ARMS.value:
        rows = [r for r in runs if r["arm"] == arm]
        if not rows:
            continue
        summary[arm] = {"runs": len(rows)}
        for key in (
            "test_accuracy",
            "validation_accuracy",
            "params",
            "trials",
            "wall_seconds",
            "final_epochs",
        ):
            values = np.array([r[key] for r in rows], dtype=float)
            summary[arm][key] = {
                "mean": float(values.mean()),
                "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            }
        if all("snapshot_ensemble" in r for r in rows):
            values = np.array([r["snapshot_ensemble"]["test_accuracy"] for r in rows])
            summary[arm]["ensemble_test_accuracy"] = {
                "mean": float(values.mean()),
                "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            }
    scratch = [r for r in runs if r["arm"] == "scratch"]
    if scratch:
        seed_params, seed_accuracy = (
            scratch[0]["params"],
            float(np.mean([r["test_accuracy"] for r in scratch])),
        )
        for arm in summary:
            rows = [r for r in runs if r["arm"] == arm and "pareto_front" in r]
            if rows:
                # A front member as accurate on test as the seed from scratch (mean) and no bigger.
                summary[arm]["front_dominates_seed"] = [
                    any(
                        m["params"] <= seed_params and m["test_accuracy"] >= seed_accuracy
                        for m in r["pareto_front"]
                    )
                    for r in rows
                ]
    return summary


def main(_):
    RESULTS.mkdir(exist_ok=True)
    budget = BUDGET.value * 60
    settings = {
        flag.name: flag.value
        for flag in (
            BUDGET,
            SPLIT_SEED,
            FILTERS,
            BATCH,
            N_STEPS,
            N_NEIGHBORS,
            N_MORPHISMS,
            EPOCHS_PER_NEIGHBOR,
            PRETRAIN_EPOCHS,
            FINAL_EPOCHS,
            FINAL_SHARE,
            MAX_COST_GROWTH,
        )
    }
    settings["commit"] = commit()
    previous = json.loads(PATH.read_text()) if PATH.exists() else {}
    runs = previous.get("runs", []) if previous.get("settings") == settings else []
    data = load()
    for seed in (int(s) for s in SEEDS.value):
        for arm in ARMS.value:
            if any(r["arm"] == arm and r["seed"] == seed for r in runs):
                continue
            print(f"{arm}, seed {seed}, budget {BUDGET.value:g} min", flush=True)
            keras.backend.clear_session()
            if arm == "scratch":
                run = run_scratch(data, budget, seed)
            else:
                with tempfile.TemporaryDirectory() as directory:
                    first = arm in ("nash", "cost") and not any(r["arm"] == arm for r in runs)
                    run = run_search(
                        arm,
                        data,
                        budget,
                        seed,
                        directory,
                        RESULTS / f"nash_cifar{'' if arm == 'nash' else '_cost'}.png"
                        if first
                        else None,
                    )
            runs.append({"arm": arm, "seed": seed, **run})
            result = {
                "settings": settings,
                "num_examples": data.num_examples,
                "runs": runs,
                "summary": summarise(runs),
                "peak_rss_mb": peak_rss_mb(),
            }
            PATH.write_text(json.dumps(result, indent=2, default=float))
            print(
                f"  test {run['test_accuracy']:.4f} (validation {run['validation_accuracy']:.4f}), "
                f"{run['params']:,} params, {run['wall_seconds'] / 60:.1f} min",
                flush=True,
            )
    result = json.loads(PATH.read_text())
    print(
        f"budget {BUDGET.value:g} min a run, data {data.num_examples}, seeds "
        f"{', '.join(SEEDS.value)}"
    )
    print(
        f"{'arm':<10}{'runs':>5}{'test acc':>18}{'val acc':>18}{'params':>22}{'trials':>12}"
        f"{'final ep':>14}"
        f"{'minutes':>9}{'ensemble':>18}"
    )
    for arm, s in result["summary"].items():
        ensemble = s.get("ensemble_test_accuracy")
        print(
            f"{arm:<10}{s['runs']:>5}{s['test_accuracy']['mean']:>11.4f} ± "
            f"{s['test_accuracy']['std']:.4f}"
            f"{s['validation_accuracy']['mean']:>11.4f} ± {s['validation_accuracy']['std']:.4f}"
            f"{s['params']['mean']:>13,.0f} ± "
            f"{s['params']['std']:<7,.0f}{s['trials']['mean']:>6.1f} ± {s['trials']['std']:.1f}"
            f"{s['final_epochs']['mean']:>8.1f} ± "
            f"{s['final_epochs']['std']:.1f}{s['wall_seconds']['mean'] / 60:>9.1f}"
            + (f"{ensemble['mean']:>11.4f} ± {ensemble['std']:.4f}" if ensemble else "")
            + (
                f"  front dominates seed: {s['front_dominates_seed']}"
                if "front_dominates_seed" in s
                else ""
            )
        )
    searches = [r for r in result["runs"] if r["arm"] != "scratch"]
    if searches:
        overhead = np.mean([r["overhead_share"] for r in searches if r["arm"] == "nash"] or [0])
        print(
            "searches' wall time / budget: at most "
            f"{max(r['wall_over_budget'] for r in searches):.3f}; NASH's own overhead "
            f"{100 * overhead:.1f}% of its wall time"
        )
    print(f"peak resident memory {result['peak_rss_mb']:.0f} MB; results {PATH}")


if __name__ == "__main__":
    app.run(main)
