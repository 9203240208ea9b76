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

import time

from keras_nash import internals
from keras_nash.checks import check_choice
from keras_nash.graph import Architecture
from keras_nash.internals import TrialStatus
from keras_nash.logs import logger
from keras_nash.tuners.nash.display import KEY

COSTS = ("params", "flops", "seconds")
# A child's expected seconds are taken this much longer when checking it fits: measured speeds
# vary by a fifth on a shared machine, and an overrun comes out of the final training's share.
_MARGIN = 1.25


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


class TimeBudget:
    """`NashOracle`'s time budget (mixed into it): the climb's share, each trial's measured
    speed, what a planned trial is expected to take, and whether it fits."""

    @property
    def climb_budget(self):
        """Seconds of the time budget for pre-training and hill climbing: all of it but the
        `final_share` kept for the final training (None without a budget)."""
        if self.time_budget is None:
            return None
        return (
            self.time_budget * (1.0 - self.final_share) if self.final_epochs else self.time_budget
        )

    def _budget_spent(self):
        return self.time_budget is not None and time.time() - self._started >= self.climb_budget

    def _speed(self, trial_id=None):
        """A trial's (the incumbent's by default) measured (seconds per epoch once traced,
        seconds of the trial outside those epochs: building, tracing, checking, saving), or
        None before it has been measured."""
        trial = self.trials.get(self._incumbent if trial_id is None else trial_id)
        if trial is None:
            return None
        fit = internals.last_metric(trial, "fit_seconds")
        total = internals.last_metric(trial, "trial_seconds")
        if fit is None or total is None:
            return None
        epochs = int(trial.hyperparameters.values[KEY + "epochs"])
        per_epoch = internals.last_metric(trial, "epoch_seconds")
        if per_epoch is None:
            per_epoch = fit / epochs
        return per_epoch, max(0.0, total - per_epoch * epochs)

    def _expected(self, values):
        """A planned trial's expected (seconds, seconds per epoch): its parent's measured
        seconds per epoch scaled by their multiply-adds, plus the largest per-trial overhead
        measured so far (building, tracing, inheriting, checking: it dominates small tasks), or
        None before the parent is measured."""
        parent = values[KEY + "parent"] or self._incumbent
        speed = self._speed(parent)
        if speed is None:
            return None
        per_epoch = speed[0]
        overhead = max(self._speed(t)[1] for t in self.trials if self._speed(t) is not None)
        arch = Architecture.from_json(values[KEY + "arch"])
        per_epoch *= multiply_adds(arch) / max(1, multiply_adds(self.architecture(parent)))
        return per_epoch * int(values[KEY + "epochs"]) + overhead, per_epoch

    def _fits(self, values) -> bool:
        """Whether a hill-climbing trial is expected to end inside the climb's share of the
        time budget (`_expected`), so that the final training keeps its own."""
        expected = self._expected(values)
        if self.time_budget is None or expected is None:
            return True
        return time.time() - self._started + _MARGIN * expected[0] <= self.climb_budget

    def _affordable(self, values, before: float) -> bool:
        """Whether a child may be proposed: expected to end inside the climb's share after
        `before` seconds of the step's trials planned before it, and, were it the incumbent,
        to get at least `epochs_per_neighbor` final epochs in the final share."""
        expected = self._expected(values)
        if self.time_budget is None or expected is None:
            return True
        seconds, per_epoch = expected
        if time.time() - self._started + before + _MARGIN * seconds > self.climb_budget:
            return False
        if self.final_epochs:
            final = seconds + per_epoch * (
                min(self.final_epochs, self.epochs_per_neighbor) - int(values[KEY + "epochs"])
            )
            return final <= 0.95 * (self.time_budget - self.climb_budget)
        return True

    def _final_epochs(self) -> int:
        """`final_epochs`; with a time budget, as many as fit in what is left of it at the
        incumbent's measured seconds per epoch (and its per-trial overhead), at most that, and
        none when fewer than `epochs_per_neighbor` fit: a restarted cosine cycle shorter than
        the one the incumbent ended would leave it worse than it is (seen: 1 epoch took a
        validation accuracy of 0.598 to 0.484)."""
        speed = self._speed()
        if self.time_budget is None or not self.final_epochs or speed is None:
            return self.final_epochs
        per_epoch, overhead = speed
        left = self.time_budget - (time.time() - self._started) - overhead
        epochs = int(min(self.final_epochs, max(0.0, 0.95 * left) // per_epoch))
        if epochs < min(self.epochs_per_neighbor, self.final_epochs):
            epochs = 0
        logger.info(
            "NASH time budget: %.0f s left, %.2f s an epoch: %d final epochs.",
            left,
            per_epoch,
            epochs,
        )
        return epochs

    def budget_report(self) -> dict:
        """Where the search's wall time went: the pre-training, each step's trainings, the
        final training (trials, epochs, seconds of each, and of `fit` alone), the trials' own
        overhead (building, inheriting, checking, checkpoints), the search's overhead outside
        trials, and the elapsed time against `time_budget`. JSON-ready."""
        return report(self, time.time())
