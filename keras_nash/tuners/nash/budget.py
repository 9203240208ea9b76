"""What a NASH network costs, and where a search's time went.

A network's cost is one of `COSTS`: "params" (parameters), "flops" (multiply-adds of one
forward pass on one example, convolutions and dense layers) or "seconds" (measured seconds per
training epoch on this machine: the trial's `fit` time over its epochs, so validation and the
child's one trace are in it). The first two are known from the architecture before training;
"seconds" only after, so a child's growth is bounded (`max_cost_growth`) on its multiply-adds
when the cost is "seconds". A child's expected training time is always its parent's measured
seconds per epoch scaled by the ratio of their multiply-adds (training time follows compute, not
parameters: a wider dense layer adds parameters and almost no time).

Example:

>>> from keras_nash import seed_models
>>> arch = seed_models.simple_cnn_architecture((8, 8, 3), 10, filters=(4, 8))
>>> static_cost(arch, "params") == arch.count_params()
True
>>> multiply_adds(arch) > 0
True
"""

from keras_nash import internals
from keras_nash.checks import check_choice
from keras_nash.internals import TrialStatus

COSTS = ("params", "flops", "seconds")


def check_cost(cost) -> str:
    """`cost` if it is one of `COSTS`, else a ValueError naming it."""
    return check_choice("cost", cost, COSTS)


def multiply_adds(arch) -> int:
    """Multiply-adds of one forward pass of one example: convolutions and dense layers."""
    shapes = arch.shapes()
    total = 0
    for node in arch.nodes:
        if node.op == "conv":
            height, width, filters = shapes[node.id]
            total += (
                height
                * width
                * filters
                * node.config["kernel_size"] ** 2
                * shapes[node.inputs[0]][-1]
            )
        elif node.op == "dense":
            total += shapes[node.inputs[0]][-1] * node.config["units"]
    return int(total)


def static_cost(arch, cost: str) -> float:
    """The cost known before training: parameters for "params", multiply-adds otherwise."""
    return float(arch.count_params() if cost == "params" else multiply_adds(arch))


def report(oracle, now: float) -> dict:
    """Where a NASH search's wall time went (see `NashOracle.budget_report`)."""

    def metric(trial, name):
        return internals.last_metric(trial, name) or 0.0

    trials = [oracle.trials[t] for t in sorted(oracle.trials)]
    trials = [
        t
        for t in trials
        if "nash/role" in t.hyperparameters.values and t.status != TrialStatus.RUNNING
    ]
    started = oracle._started
    elapsed = 0.0 if started is None else (oracle._ended or now) - started
    steps = {}
    for trial in trials:
        values = trial.hyperparameters.values
        role = values["nash/role"]
        key = (
            "pretraining"
            if role == "seed"
            else "final"
            if role == "final"
            else f"step {values['nash/step']}"
        )
        entry = steps.setdefault(
            key, {"trials": 0, "epochs": 0, "seconds": 0.0, "fit_seconds": 0.0}
        )
        entry["trials"] += 1
        entry["epochs"] += (
            int(values["nash/epochs"]) if trial.status == TrialStatus.COMPLETED else 0
        )
        entry["seconds"] += metric(trial, "trial_seconds")
        entry["fit_seconds"] += metric(trial, "fit_seconds")
    trial_seconds = sum(e["seconds"] for e in steps.values())
    fit_seconds = sum(e["fit_seconds"] for e in steps.values())
    empty = {"trials": 0, "epochs": 0, "seconds": 0.0, "fit_seconds": 0.0}
    return {
        "time_budget": oracle.time_budget,
        "final_share": oracle.final_share,
        "climb_budget": oracle.climb_budget,
        "elapsed_seconds": elapsed,
        "pretraining": steps.get("pretraining", dict(empty)),
        "steps": {k: v for k, v in steps.items() if k.startswith("step ")},
        "final_training": steps.get("final", dict(empty)),
        # Inside trials but outside `fit`: building, inheriting and checking weights, checkpoints.
        "trial_overhead_seconds": trial_seconds - fit_seconds,
        # Outside trials: the oracle, keras-tuner's bookkeeping, saving its state.
        "search_overhead_seconds": max(0.0, elapsed - trial_seconds),
        "training_seconds": fit_seconds,
    }
