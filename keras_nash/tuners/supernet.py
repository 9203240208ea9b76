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
  directory): `supernet.npz` (`search_loop.CHECKPOINT`; `load_model` reads it). Within one process the supernet, its optimisers and its compiled steps are
  kept from one epoch trial to the next (`SearchState`), so the steps are traced once per
  search, not once per epoch; a resumed search (`overwrite=False`, e.g. after a crash) or
  another worker rebuilds them from the checkpoint. The final trial goes through
  keras-tuner's ordinary build-fit-checkpoint path with `build_final_model`, so
  `get_best_models` returns the final network.

Weights and optimiser state move only through files in the project directory; the oracle
holds no Keras object. Subclasses (see `tuners/darts.py`) implement:

- oracle: `epoch_values()`, `final_values()`, `update_policy(trial, result)`, and the policy's
  JSON state: `policy_state()` / `set_policy_state(policy)`.
- tuner: `create_search(trial, data)`, `run_search_epoch(state, trial, data, loop)` (the
  batches through `loop.train`, the one training loop of `tuners/search_loop.py`),
  `build_final_model(hp)`, optionally `final_callbacks(hp)` and `build_supernet(hp)`.
"""

import contextlib
import json
import os
import time

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from keras_nash import files, internals
from keras_nash import precision as precisions
from keras_nash.checks import check_int
from keras_nash.internals import TrialStatus, trial_dir
from keras_nash.logs import logger
from keras_nash.tuners.search_data import SearchData, as_search_data, batch_size_of, check_final_fit, skip_passes
from keras_nash.tuners.search_loop import CHECKPOINT, EpochLoop, SearchState, load_network, reseed

ROLE_EPOCH = "epoch"
ROLE_FINAL = "final"
RESULT_FILE = "supernet_result.json"
STATE_VERSION = 1

__all__ = [
    "ROLE_EPOCH", "ROLE_FINAL", "RESULT_FILE", "CHECKPOINT", "SearchData", "SearchState",
    "SupernetOracle", "SupernetTuner", "trial_dir",
]


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
        values = {self.key("parent"): self.parent_trial_id or "", self.key("epoch"): self.epoch,
                  self.key("data_seed"): int(self.seed) * 1009 + self.epoch}
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
            self.update_policy(trial, self.read_result(trial.trial_id))
            self.epoch += 1
            self.parent_trial_id = trial.trial_id
        elif role == ROLE_FINAL:
            self.final_trial_id = trial.trial_id

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


class _FinalHyperModel(keras_tuner.HyperModel):
    """Builds and fits the final network through the tuner's hooks (keras-tuner's path)."""

    def __init__(self, tuner):
        super().__init__()
        self.tuner = tuner

    def build(self, hp):
        # After keras-tuner's clear_session: the final network's weights from the trial's seed,
        # whatever ran before in this process (a restarted final training is the same).
        seed = hp.values.get(self.tuner.key("data_seed"))
        if seed is not None:
            keras.utils.set_random_seed(int(seed) % (2**31 - 1))
        precisions.apply(self.tuner.precision)  # clear_session reset it
        return self.tuner.build_final_model(hp)

    def fit(self, hp, model, *args, **kwargs):
        kwargs["epochs"] = self.tuner.final_epochs
        kwargs["callbacks"] = list(kwargs.get("callbacks", [])) + self.tuner.final_callbacks(hp)
        start = time.perf_counter()
        history = model.fit(*args, **kwargs)
        seconds = time.perf_counter() - start
        epochs = len(history.history.get("loss", []))
        history.history["trial_seconds"] = [seconds] * epochs
        logger.info(
            "%s final training | %d params | %d epochs | %s | %.1f s",
            self.tuner.key_prefix.rstrip("/"), model.count_params(), epochs,
            _format_metrics({k: v[-1] for k, v in history.history.items() if v}), seconds,
        )
        return history


def _format_metrics(metrics: dict) -> str:
    shown = ("loss", "accuracy", "val_loss", "val_accuracy")
    return " ".join(f"{name} {float(metrics[name]):.4f}" for name in shown if name in metrics)


class SupernetTuner(internals.AtomicTunerFile, keras_tuner.Tuner):
    """Run a `SupernetOracle`'s trials: search epochs on a shared supernet, then the final one.

    Args:
        oracle: a `SupernetOracle`.
        final_epochs: int, epochs of the final from-scratch training (>= 1).
        batch_size: int, the batch size for array inputs (datasets come batched);
            `search(..., batch_size=)` overrides it.
        precision: "float32", "mixed_bfloat16" or "mixed_float16", the dtype policy of every
            network built (`keras_nash.precision`). None: the global policy now. Defaults to None.
        **kwargs: `keras_tuner.Tuner` arguments (`directory`, `project_name`, `overwrite`,
            `logger`, `tuner_id`, `distribution_strategy`, ...). Under a
            `distribution_strategy` the search epochs' steps run on every replica (see
            `search_loop`), the final training through `fit`.

    `search()` takes what `model.fit` takes, in the search epochs as in the final training:
    `callbacks` (each trial gets its own copies; a search epoch is one epoch to them, numbered
    by the search epoch, with the epoch's metrics, so `TensorBoard` logs every search epoch
    under its trial id), `verbose` (1: a progress bar within each epoch, 2: one line per
    epoch, 0: silent) and `batch_size` (array inputs). `search(..., final_fit={...})` gives
    the final training data of its own (see `search`).
    """

    key_prefix = "supernet/"

    def __init__(self, oracle, final_epochs: int, batch_size: int = 64, precision=None, **kwargs):
        self.final_epochs = check_int("final_epochs", final_epochs, 1)
        self.precision = precisions.resolve(precision)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self._search_state = None
        self._final_fit = None
        self._train_source, self._train_passes = None, 0
        super().__init__(oracle=oracle, hypermodel=_FinalHyperModel(self), **kwargs)

    def search(self, *fit_args, final_fit: dict = None, **fit_kwargs):
        """Run the search epochs, then the final training, on the `model.fit` arguments given.

        Args:
            *fit_args, **fit_kwargs: what `model.fit` takes (`x`, `y`, `validation_data`,
                `callbacks`, `verbose`, `batch_size`): the data of every trial.
            final_fit: None, or a dict of `model.fit` arguments that replace the data of the
                final training (`x`, `y`, `validation_data`, `batch_size`; `callbacks` and
                `verbose` stay the search's unless given). The papers' protocol: search on
                the two halves of the training set, then train the final network on all of
                it, `final_fit={"x": train, "validation_data": held_out}`. Give it again
                when resuming. Defaults to None.
        """
        # Bad data fails here, before any trial (a trial's error would be retried), and so do
        # the final training's arguments, which are not used before the search's end.
        batch_size = batch_size_of(fit_kwargs, self.batch_size)
        data = self.search_data(fit_args, fit_kwargs, batch_size, shuffle_seed=None)
        if final_fit is not None:
            check_final_fit(final_fit, self.search_data, batch_size, data.input_shape)
        self._final_fit = final_fit
        return super().search(*fit_args, **fit_kwargs)

    def get_state(self):  # the precision a resumed search must keep
        return {**super().get_state(), "precision": self.precision}

    def set_state(self, state):
        super().set_state(state)
        precisions.check_resumed(state.get("precision"), self.precision)

    # ----- hooks for subclasses -----
    def search_data(self, fit_args, fit_kwargs, batch_size, shuffle_seed) -> SearchData:
        """`search()`'s data as `SearchData` (images and labels: `as_search_data`)."""
        return as_search_data(fit_args, fit_kwargs, batch_size, shuffle_seed=shuffle_seed)

    def create_search(self, trial, data: SearchData) -> SearchState:
        """Build the supernet, its built optimisers and compiled steps (weights fresh)."""
        raise NotImplementedError

    def run_search_epoch(self, state: SearchState, trial, data: SearchData, loop: EpochLoop):
        """Train one search epoch (the batches through `loop.train`, so callbacks and the
        progress bar see them); return `(metrics, result)`: metrics (dict of floats, the
        objective among them) for keras-tuner, result (JSON-ready dict) for the oracle's
        `update_policy`."""
        raise NotImplementedError

    def build_final_model(self, hp) -> keras.Model:
        """The compiled final network of the final trial's values."""
        raise NotImplementedError

    def final_callbacks(self, hp) -> list:
        """Extra callbacks of the final training (e.g. schedules)."""
        return []

    def build_supernet(self, hp, input_shape=None) -> keras.Model:
        """The supernet of an epoch trial (built, or built by `load_model` on `input_shape`,
        the images' `(height, width, channels)`)."""
        raise NotImplementedError

    # ----- machinery -----
    def on_search_begin(self):
        # keras-tuner reloads a project only if the tuner's file exists, and writes it first
        # when a trial ends: a kill during the first trial's end would start the search over
        # (and train that trial again). Written now, a restart always reloads and reconciles.
        super().on_search_begin()
        self.save()

    def _populate_initial_space(self):
        # keras-tuner builds the hypermodel once to discover registered hyperparameters; a
        # supernet search has none (its values are the oracle's JSON strings), and there is no
        # final network to build before the search.
        return

    def key(self, name: str) -> str:
        """The trial-value key `name` under this tuner's prefix."""
        return self.key_prefix + name

    def role(self, trial) -> str:
        """ROLE_EPOCH or ROLE_FINAL."""
        return trial.hyperparameters.values.get(self.key("role"), ROLE_FINAL)

    def run_trial(self, trial, *fit_args, **fit_kwargs):
        if self.role(trial) == ROLE_FINAL:
            self._search_state = None
            if self._final_fit is not None:
                kept = {k: v for k, v in fit_kwargs.items() if k in ("callbacks", "verbose")}
                fit_args, fit_kwargs = (), {**kept, **self._final_fit}
            else:  # the final training goes on with the search's data from the next pass
                epoch = int(trial.hyperparameters.values[self.key("epoch")])
                self._align_passes(fit_args, fit_kwargs, epoch)
            return super().run_trial(trial, *fit_args, **fit_kwargs)
        return self._run_epoch_trial(trial, fit_args, fit_kwargs)

    def _align_passes(self, fit_args, fit_kwargs, passes: int) -> None:
        """Bring a training dataset to its pass number `passes` (search epoch `passes`).

        An uninterrupted search makes one pass over the training data per epoch, so a
        reshuffling pipeline gives epoch k its k-th order. A resumed search has a new
        dataset object: `skip_passes` advances it to the pass the epoch would have had, so a
        resumed search trains on the same batches. Arrays need nothing (each epoch's order is
        drawn from the epoch's seed).
        """
        source = fit_args[0] if fit_args else fit_kwargs.get("x")
        if not isinstance(source, tf.data.Dataset):
            return
        made = self._train_passes if source is self._train_source else 0
        if made < passes:
            skip_passes(source, passes - made)
        elif made > passes:
            logger.warning(
                "The training dataset has made %d passes where search epoch %d expects %d "
                "(an epoch run again in this process); a reshuffling dataset now gives this "
                "epoch another order than an uninterrupted search would.", made, passes, passes,
            )
        self._train_source, self._train_passes = source, passes + 1

    def _run_epoch_trial(self, trial, fit_args, fit_kwargs):
        start = time.perf_counter()
        values = trial.hyperparameters.values
        epoch = int(values[self.key("epoch")])
        batch_size = batch_size_of(fit_kwargs, self.batch_size)
        data = self.search_data(fit_args, fit_kwargs, batch_size,
                                shuffle_seed=values.get(self.key("data_seed")))
        self._align_passes(fit_args, fit_kwargs, epoch)
        parent = values.get(self.key("parent"), "")
        strategy = self.distribution_strategy
        state, self._search_state = self._search_state, None  # dropped if the epoch fails
        if state is None or state.trial_id != (parent or None):
            # A fresh supernet's initial weights from the epoch's seed, not from whatever drew
            # from the global generator before in this process (a restarted epoch 0 is the same).
            keras.utils.set_random_seed(int(values[self.key("data_seed")]) % (2**31 - 1))
            precisions.apply(self.precision)
            # Made in the `distribution_strategy`'s scope (mirrored variables, steps on every
            # replica: `search_loop`); the epoch runs outside it, as `fit` does.
            with strategy.scope() if strategy is not None else contextlib.nullcontext():
                state = self.create_search(trial, data)
                if parent:
                    state.restore(self.get_trial_dir(parent))
            state.trial_id = parent or None
        reseed(state.network, values[self.key("data_seed")])  # the epoch's dropout masks
        callbacks = internals.trial_callbacks(self, fit_kwargs.get("callbacks"), trial)
        loop = EpochLoop(epoch, callbacks, state.network, fit_kwargs.get("verbose", "auto"),
                         epochs=values.get(self.key("epochs")), strategy=strategy)
        loop.begin()
        metrics, result = self.run_search_epoch(state, trial, data, loop)
        metrics = {name: float(value) for name, value in metrics.items()}
        directory = self.get_trial_dir(trial.trial_id)
        state.save(directory)
        result = {**result, "input_shape": list(data.input_shape)}
        files.write_json(os.path.join(directory, RESULT_FILE), result)
        metrics["trial_seconds"] = time.perf_counter() - start  # the checkpoint's write included
        loop.end(dict(metrics))
        state.trial_id = trial.trial_id
        self._search_state = state
        logger.info(
            "%s search epoch %d | trial %s | %s | %.1f s",
            self.key_prefix.rstrip("/"), epoch, trial.trial_id, _format_metrics(metrics),
            metrics["trial_seconds"],
        )
        return metrics

    def load_model(self, trial):
        """The trial's model: the final network, or an epoch's supernet with its weights."""
        if self.role(trial) == ROLE_FINAL:
            return super().load_model(trial)
        directory = self.get_trial_dir(trial.trial_id)
        with open(os.path.join(directory, RESULT_FILE)) as f:
            input_shape = tuple(json.load(f)["input_shape"])
        precisions.apply(self.precision)
        model = self.build_supernet(trial.hyperparameters, input_shape)
        if not model.built:
            model(np.zeros((1,) + input_shape, "float32"))
        with np.load(os.path.join(directory, CHECKPOINT)) as arrays:
            load_network(model, arrays, directory)
        return model

    @property
    def search_state(self):
        """The in-memory `SearchState` of the running search (None before, after the final)."""
        return self._search_state
