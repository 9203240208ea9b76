"""Base classes for "one trial per search epoch on a supernet" methods (DARTS, ENAS, EG-NAS).

A supernet search is a sequence of epochs that share one set of network weights, driven by a
policy (DARTS's alpha, ENAS's controller, EG-NAS's alpha and sigma), then one network derived
from the policy and trained from scratch. Mapped onto keras-tuner:

- `SupernetOracle` issues one trial per search epoch, in order, then one final trial, then
  STOPPED. The policy lives in the oracle's JSON state; each epoch trial carries what the epoch
  needs as values (`<prefix>role`, `<prefix>epoch`, `<prefix>parent`, plus the subclass's JSON
  strings from `epoch_values()`). When an epoch trial completes, the oracle reads the result
  file the tuner wrote in the trial directory (`supernet_result.json`) and calls
  `update_policy(trial, result)`. A failed epoch is issued again (same epoch, new trial);
  keras-tuner's `max_consecutive_failed_trials` ends a search that keeps failing.
- `SupernetTuner` runs the trials. An epoch trial inherits the supernet's weights and the
  optimisers' state from the previous epoch's checkpoint (`<prefix>parent`'s trial
  directory): `supernet.npz` (`supernet.loop.CHECKPOINT`; `load_model` reads it). Within one
  process the supernet, its optimisers and its compiled steps are
  kept from one epoch trial to the next (`SearchState`), so the steps are traced once per
  search, not once per epoch; a resumed search (`overwrite=False`, e.g. after a crash) or
  another worker rebuilds them from the checkpoint. The final trial goes through
  keras-tuner's ordinary build-fit-checkpoint path with `build_final_model`, so
  `get_best_models` returns the final network.

Weights and optimiser state move only through files in the project directory; the oracle
holds no Keras object. Subclasses (see `tuners/darts/`) implement:

- oracle: `epoch_values()`, `final_values()`, `update_policy(trial, result)`, and the policy's
  JSON state: `policy_state()` / `set_policy_state(policy)`.
- tuner: `create_search(trial, data)`, `run_search_epoch(state, trial, data, loop)` (the
  batches through `loop.train`, the one training loop of `tuners/supernet/loop.py`),
  `build_final_model(hp)`, optionally `final_callbacks(hp)` and `build_supernet(hp)`.
"""

import json
import os

import keras_tuner

import keras_nash.tuners.supernet.decisiveness as decisiveness
from keras_nash import internals
from keras_nash.checks import check_int
from keras_nash.internals import TrialStatus, trial_dir
from keras_nash.logs import logger

ROLE_EPOCH = "epoch"
ROLE_FINAL = "final"
RESULT_FILE = "supernet_result.json"
STATE_VERSION = 1


class SupernetOracle(internals.AtomicStateFiles, keras_tuner.Oracle):
    """Issue one trial per search epoch, then one final from-scratch trial, then STOPPED.

    Subclasses set `key_prefix` (e.g. "darts/") and implement the policy hooks
    `epoch_values`, `final_values` and `update_policy`.

    Args:
        epochs: int, the number of search epochs (>= 1).
        objective: str or `keras_tuner.Objective`. Defaults to "val_accuracy".
        max_trials: int or None. None (the default) lets the oracle stop by itself after the
            final trial; a number caps all trials (failed ones included).
        seed: int or None, the seed of the policy's randomness.
        **kwargs: other `keras_tuner.Oracle` arguments (`max_retries_per_trial`,
            `max_consecutive_failed_trials`, ...).

    Example:

    >>> class MyOracle(SupernetOracle):
    ...     key_prefix = "mine/"
    >>> oracle = MyOracle(epochs=2)
    """

    key_prefix = "supernet/"

    def __init__(self, epochs: int, objective="val_accuracy", max_trials=None, seed=None, **kwargs):
        epochs = check_int("epochs", epochs, 1)
        super().__init__(objective=objective, max_trials=max_trials, seed=seed, **kwargs)
        internals.keep_seed(self, seed)
        self.epochs = epochs
        self.epoch = 0
        self.parent_trial_id = None
        self.final_trial_id = None
        self.decisiveness_history = []  # a record per completed epoch (`measure_decisiveness`)
        internals.set_display(self, SupernetDisplay)

    # ----- hooks for subclasses -----
    def epoch_values(self) -> dict:
        """Extra values (str/int/float/bool; JSON strings for structures) of the next epoch."""
        return {}

    def final_values(self) -> dict:
        """Extra values of the final trial (e.g. the derived architecture as JSON)."""
        return {}

    def update_policy(self, trial, result: dict) -> None:
        """Update the policy from a completed epoch trial and the result its tuner wrote."""

    def measure_decisiveness(self, result: dict) -> dict | None:
        """How decided the policy is after an epoch's update (`supernet.decisiveness`): a dict
        with `entropy_ratio`, `chosen_probability`, `uniform_probability` and `choice`, or None.
        The default measures `alpha_normal` / `alpha_reduce` (DARTS, EG-NAS) when the oracle
        has them; ENAS's oracle takes what its tuner measured on the controller."""
        if not hasattr(self, "alpha_normal"):
            return None
        primitives = getattr(getattr(self, "space", None), "primitives", None)
        return decisiveness.alpha_decisiveness(self.alpha_normal, self.alpha_reduce, primitives)

    undecided_advice = "search longer (more `epochs`)"
    """What the end-of-search warning suggests when the policy stayed close to uniform."""

    def policy_state(self) -> dict:
        """The policy as JSON data, saved in the oracle's state under the prefix's name (e.g.
        `state["darts"]`)."""
        return {}

    def set_policy_state(self, policy: dict) -> None:
        """Restore the policy from what `policy_state` returned (called on resume)."""

    # ----- keras-tuner protocol -----
    def key(self, name: str) -> str:
        """The trial-value key `name` under this oracle's prefix."""
        return self.key_prefix + name

    def populate_space(self, trial_id):
        if self.final_trial_id is not None:
            return {"status": TrialStatus.STOPPED}
        if self.ongoing_trials:
            # Epochs are sequential: another worker runs the current one.
            return {"status": TrialStatus.IDLE}
        # Everything the tuner needs travels in the values: a distributed worker's oracle client
        # has no `seed` or `epochs`. The trial's seed: array shuffling, a fresh network's weights,
        # the supernet's dropout masks (`reseed`).
        values = {
            self.key("parent"): self.parent_trial_id or "",
            self.key("epoch"): self.epoch,
            self.key("data_seed"): int(self.seed) * 1009 + self.epoch,
        }
        if self.epoch < self.epochs:
            values[self.key("role")] = ROLE_EPOCH
            values[self.key("epochs")] = self.epochs
            values.update(self.epoch_values())
        else:
            values[self.key("role")] = ROLE_FINAL
            values.update(self.final_values())
        return {"status": TrialStatus.RUNNING, "values": values}

    @keras_tuner.synchronized
    def end_trial(self, trial):
        super().end_trial(trial)
        stored = self.trials[trial.trial_id]
        if stored.status != TrialStatus.COMPLETED:
            return
        self._record_completed(stored)
        self.save()

    def _record_completed(self, trial) -> None:
        """Move the search on from a completed trial: the next epoch, or the final's end."""
        values = trial.hyperparameters.values
        role = values.get(self.key("role"))
        if role == ROLE_EPOCH and int(values[self.key("epoch")]) == self.epoch:
            result = self.read_result(trial.trial_id)
            self.update_policy(trial, result)
            self._record_decisiveness(result)
            self.epoch += 1
            if self.epoch == self.epochs:
                self._warn_if_undecided()
            self.parent_trial_id = trial.trial_id
        elif role == ROLE_FINAL:
            self.final_trial_id = trial.trial_id

    def _record_decisiveness(self, result: dict) -> None:
        record = self.measure_decisiveness(result)
        if record is None:
            return
        record = {"epoch": self.epoch, **record}
        start = max(0, len(self.decisiveness_history) - (decisiveness.STABILITY_EPOCHS - 1))
        recent = [r["choice"] for r in self.decisiveness_history[start:]]
        record["stability"] = decisiveness.stability(recent + [record["choice"]])
        self.decisiveness_history.append(record)
        logger.info(
            "%s search epoch %d policy | %s",
            self.key_prefix.rstrip("/"),
            self.epoch,
            decisiveness.describe(record),
        )

    def _warn_if_undecided(self) -> None:
        if not decisiveness.is_undecided(self.decisiveness_history):
            return
        last = self.decisiveness_history[-1]
        if "policy_advantage" in last:
            measure = (
                "its policy's samples scored %+.4f (standard error %.4f) against uniformly "
                "random architectures on the shared weights"
                % (last["policy_advantage"], last["policy_advantage_se"])
            )
        else:
            measure = "its policy's entropy at %.1f%% of uniform's" % (100 * last["entropy_ratio"])
        logger.warning(
            "%s: the search ended with %s: the architecture is close to a random draw: %s.",
            self.key_prefix.rstrip("/"),
            measure,
            self.undecided_advice,
        )

    def decisiveness_records(self) -> list:
        """The per-epoch decisiveness records (`supernet.decisiveness`), without the choice
        vectors: `epoch`, `entropy_ratio`, `chosen_probability`, `uniform_probability`,
        `stability`; ENAS's also `entropy_floor` and, at the last epoch, `policy_advantage` and
        `policy_advantage_se`."""
        return [{k: v for k, v in r.items() if k != "choice"} for r in self.decisiveness_history]

    def reload(self):
        """Reload the state, then finish what a kill interrupted (see `reconcile`)."""
        super().reload()
        if self.reconcile():
            self.save()

    def reconcile(self) -> bool:
        """Apply completed trials whose end the oracle's state does not record yet.

        keras-tuner ends a trial by writing its `trial.json` (COMPLETED), then the oracle's
        state with the trial still ongoing; this oracle then updates the policy and writes its
        state again. A kill between those writes leaves a completed epoch trial that a restart
        would queue for retry and train again. Here such a trial leaves the retry queue and, if
        it is the current epoch's, updates the policy from the result file its tuner wrote (as
        `end_trial` would have), so finished work is never redone.

        Returns:
            True when something was reconciled (the caller saves the state).
        """
        changed = False
        queue = internals.retry_queue(self)
        for trial_id in list(queue):
            trial = self.trials.get(trial_id)
            if trial is None or trial.status != TrialStatus.COMPLETED:
                continue
            queue.remove(trial_id)
            if trial_id not in self.end_order:
                self.end_order.append(trial_id)
            self._record_completed(trial)
            logger.info("trial %s had completed before the restart: not run again", trial_id)
            changed = True
        return changed

    def read_result(self, trial_id: str) -> dict:
        """The result the tuner wrote for an epoch trial (`supernet_result.json`)."""
        path = os.path.join(trial_dir(internals.project_dir(self), trial_id), RESULT_FILE)
        with open(path) as f:
            return json.load(f)

    def get_best_trials(self, num_trials=1):
        """The best completed trials, final (from-scratch) trials ranked before epoch trials."""
        trials = super().get_best_trials(len(self.trials) or 1)
        final = [
            t
            for t in trials
            if t.status == TrialStatus.COMPLETED
            and t.hyperparameters.values.get(self.key("role")) == ROLE_FINAL
        ]
        rest = [t for t in trials if t not in final]
        return (final + rest)[:num_trials]

    def get_state(self):
        state = super().get_state()
        state["supernet"] = {
            "version": STATE_VERSION,
            "epochs": self.epochs,
            "epoch": self.epoch,
            "parent_trial_id": self.parent_trial_id,
            "final_trial_id": self.final_trial_id,
            "decisiveness": self.decisiveness_history,
        }
        state[self.key_prefix.rstrip("/")] = self.policy_state()
        return state

    def set_state(self, state):
        super().set_state(state)
        supernet = state.get("supernet", {})
        self.epochs = supernet.get("epochs", self.epochs)
        self.epoch = supernet.get("epoch", 0)
        self.parent_trial_id = supernet.get("parent_trial_id")
        self.final_trial_id = supernet.get("final_trial_id")
        self.decisiveness_history = supernet.get("decisiveness", [])
        policy = state.get(self.key_prefix.rstrip("/"))
        if policy:
            self.set_policy_state(policy)


class SupernetDisplay(internals.Display):
    """One line per trial (role, epoch, parent) instead of a table of long JSON values."""

    def show_hyperparameter_table(self, trial):
        values = trial.hyperparameters.values
        prefix = getattr(self.oracle, "key_prefix", "")
        if prefix + "role" not in values:
            return super().show_hyperparameter_table(trial)
        print(
            f"{prefix}{values[prefix + 'role']} | epoch {values.get(prefix + 'epoch')} | "
            f"inherits from trial {values.get(prefix + 'parent') or '-'}"
        )
