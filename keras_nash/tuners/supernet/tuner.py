"""`SupernetTuner`: runs a `SupernetOracle`'s trials, search epochs on a shared supernet, then the
final network through keras-tuner's build-fit-checkpoint path (`_FinalHyperModel`)."""

import contextlib
import json
import os
import time

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from keras_nash import files, identity, internals, progress
from keras_nash import precision as precisions
from keras_nash.checks import check_int
from keras_nash.logs import logger
from keras_nash.tuners.supernet.data import (
    SearchData,
    as_search_data,
    batch_size_of,
    check_final_fit,
    final_batches,
    skip_passes,
)
from keras_nash.tuners.supernet.loop import (
    CHECKPOINT,
    EpochLoop,
    SearchState,
    load_network,
    reseed,
)
from keras_nash.tuners.supernet.oracle import RESULT_FILE, ROLE_FINAL


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
        if isinstance(args[0] if args else kwargs.get("x"), tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself (Keras warns otherwise)
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


class SupernetTuner(identity.SearchIdentity, progress.TrialProgress, internals.RaiseOnFailedSearch,
                    internals.AtomicTunerFile, keras_tuner.Tuner):
    """Run a `SupernetOracle`'s trials: search epochs on a shared supernet, then the final one.

    Args:
        oracle: a `SupernetOracle`.
        final_epochs: int, epochs of the final from-scratch training (>= 1).
        batch_size: int, the batch size for array inputs (datasets come batched);
            `search(..., batch_size=)` overrides it.
        final_batch_size: int or None, the batch size of the final training, whether its data
            is the search's or `search(final_fit=...)`'s: a dataset is rebatched
            (`supernet.data.final_batches`), arrays are fed in batches of it; a `batch_size`
            given in `final_fit` overrides it. None: the final training keeps its data's
            batches (the search's batch size for arrays). Defaults to None.
        precision: "float32", "mixed_bfloat16" or "mixed_float16", the dtype policy of every
            network built (`keras_nash.precision`). None: the global policy now. Defaults to None.
        **kwargs: `keras_tuner.Tuner` arguments (`directory`, `project_name`, `overwrite`,
            `logger`, `tuner_id`, `distribution_strategy`, ...). Under a
            `distribution_strategy` the search epochs' steps run on every replica (see
            `supernet.loop`), the final training through `fit`.

    `search()` takes what `model.fit` takes, in the search epochs as in the final training:
    `callbacks` (each trial gets its own copies; a search epoch is one epoch to them, numbered
    by the search epoch, with the epoch's metrics, so `TensorBoard` logs every search epoch
    under its trial id), `verbose` (1: a progress bar within each epoch, 2: one line per
    epoch, 0: silent) and `batch_size` (array inputs). `search(..., final_fit={...})` gives
    the final training data of its own (see `search`).
    """

    key_prefix = "supernet/"

    step_label = "search epoch (final: the found network trained from scratch)"
    """What a trial record's `step` counts (the search plot's axis)."""

    def __init__(self, oracle, final_epochs: int, batch_size: int = 64, precision=None,
                 final_batch_size=None, **kwargs):
        self.final_epochs = check_int("final_epochs", final_epochs, 1)
        self.final_batch_size = (None if final_batch_size is None
                                 else check_int("final_batch_size", final_batch_size, 1))
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
        self.check_image_size(data.input_shape)
        if final_fit is not None:
            check_final_fit(final_fit, self.search_data, batch_size, data.input_shape)
        self._final_fit = final_fit
        return super().search(*fit_args, **fit_kwargs)

    def get_state(self):  # the precision a resumed search must keep
        return {**super().get_state(), "precision": self.precision}

    def set_state(self, state):
        super().set_state(state)
        precisions.check_resumed(state.get("precision"), self.precision)

    def check_image_size(self, input_shape) -> None:
        """A ValueError when images are too small for the space's reductions: each halves the
        height and width, so they must be at least `2 ** reductions` pixels."""
        if len(input_shape) != 3:  # token windows
            return
        space = getattr(self, "space", None)
        if hasattr(space, "pool_layers"):  # ENAS's macro space
            reductions = len(space.pool_layers)
        else:  # DARTS's and ENAS's micro cells: reduction cells at 1/3 and 2/3 of the depth
            cells = getattr(space, "num_cells", None) or getattr(space, "cells", None)
            reductions = len({cells // 3, 2 * cells // 3}) if isinstance(cells, int) else 0
        smallest = 2 ** reductions
        if min(input_shape[:2]) < smallest:
            raise ValueError(
                f"The images ({input_shape[0]}x{input_shape[1]}) are too small for the search space: "
                f"its {reductions} reductions halve them {reductions} times, so they need at least "
                f"{smallest}x{smallest} pixels. Resize the images (e.g. `keras.layers.Resizing`), or "
                f"choose a space with fewer reductions. Received: input_shape={tuple(input_shape)}"
            )

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
            given = (self._final_fit or {}).get("batch_size")
            fit_args, fit_kwargs = final_batches(
                fit_args, fit_kwargs, self.final_batch_size if given is None else given,
                array_batch_size=self.batch_size)
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
            # replica: `supernet.loop`); the epoch runs outside it, as `fit` does.
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
            return self._load_final_model(trial)
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

    def trial_records(self) -> list:
        """One dict per trial, in trial order: its epoch (as `step`), role, parent, status,
        score and seconds (the command line's summary lists them)."""
        records = []
        for trial_id in sorted(self.oracle.trials):
            trial = self.oracle.trials[trial_id]
            values = trial.hyperparameters.values
            records.append({
                "trial_id": trial_id,
                "step": values[self.key("epoch")],
                "role": values[self.key("role")],
                "parent": values[self.key("parent")] or None,
                "status": trial.status,
                "score": trial.score,
                "seconds": internals.last_metric(trial, "trial_seconds"),
            })
        return records

    def get_best_architecture(self):
        """The found architecture (the subclass's: a `Genotype`, an ENAS architecture)."""
        raise NotImplementedError

    def search_summary(self) -> dict:
        """The search's outcome as JSON-ready data: its trials (`trial_records`), the best
        trial, the found architecture and how decided the policy was (`decisiveness`)."""
        return {
            "trials": self.trial_records(),
            "best_trial": self.oracle.get_best_trials(1)[0].trial_id,
            "architecture": json.loads(self.get_best_architecture().to_json()),
            "decisiveness": self.decisiveness(),
        }

    def _load_final_model(self, trial):
        """keras-tuner's `load_model`, with the optimizer built first: the checkpoint holds its
        variables (`SaveBestEpoch`), which an unbuilt optimizer skips with a warning."""
        model = internals.try_build(self, trial.hyperparameters)
        internals.build_as_trained(self, model, trial.trial_id)
        strategy = self.distribution_strategy
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            if model.optimizer is not None and not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            model.load_weights(internals.checkpoint_path(self, trial.trial_id))
        return model

    def decisiveness(self) -> list:
        """How decided the search's policy was after each search epoch: one dict per epoch
        (`epoch`, `entropy_ratio`, `chosen_probability`, `uniform_probability`, `stability`;
        see `tuners.supernet.decisiveness`). An `entropy_ratio` near 1 means the policy is
        still close to uniform and the found architecture close to a random draw."""
        return self.oracle.decisiveness_records()

    @property
    def search_state(self):
        """The in-memory `SearchState` of the running search (None before, after the final)."""
        return self._search_state
