"""NASH: hill climbing over function-preserving network morphisms (Elsken et al. 2017).

`NashOracle` (`tuners/nash/oracle.py`) decides, `NashTuner` trains, as keras-tuner's
`HyperbandOracle` and `Hyperband`.

The search, with the paper's defaults:

    trial 0: pre-train the seed network (pretrain_epochs=20)
    for step in 1..n_steps (5):
        n_neighbors - 1 (7) children: n_morphisms (5) random morphisms of the incumbent,
            weights inherited, each trained epochs_per_neighbor (17) epochs with a cosine
            schedule lr_start -> lr_end (0.05 -> 0) restarted for every child (SGDR)
        + the incumbent itself, trained on the same way
        incumbent <- the best of these fresh neighbours on the validation objective at the
            end of their cycles (the paper's selection: the old incumbent competes only as its
            retrained copy; its old score stands in only when that copy did not finish)
    final trial: the incumbent trained final_epochs (100) epochs

Every trial is one keras-tuner trial whose values carry the architecture as data: `nash/arch`
(Architecture JSON), `nash/parent` (the parent trial id), `nash/morphs` (the resolved
morphisms, JSON), `nash/epochs`, `nash/step`, `nash/role` (seed, child, incumbent or final).
The oracle draws every morphism itself (architectures only, from its saved seed), so the
sequence of architectures is reproducible and a search killed at any point resumes with
`overwrite=False`. A worker rebuilds the parent, loads the parent's end-of-cycle checkpoint from
the project directory, applies the morphisms to the weights, sets the batch norms a deeper
morphism inserted from two training batches (so the child is close to its parent in training
mode too), checks on two validation batches that the child computes the parent's logits
(relative difference recorded as the trial metric `preservation_error`, the training-mode one as
`training_mode_difference`; above `preservation_tolerance` the trial fails rather than train a
broken child), then trains. All of a step's neighbours are issued at once, so several keras-tuner
workers (KERASTUNER_* variables) train them in parallel; the oracle waits (IDLE) only while some
are still running.

`n_neighbors=1` is the paper's random-network baseline: each step trains one morphed child and
keeps it whatever its score (morphisms applied, no selection).
"""

import json
import time
import warnings

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from keras_nash import files, graph, identity, internals, morphisms, progress, schedules
from keras_nash import precision as precisions
from keras_nash.graph import Architecture
from keras_nash.logs import logger
from keras_nash.optimizers import CoupledSGD
from keras_nash.tuners.nash.budget import static_cost
from keras_nash.tuners.nash.data import (
    batch_spec,
    check_objective,
    check_search_data,
    check_seed_architecture,
    steps_per_epoch,
    training_batches,
    validation_batches,
)
from keras_nash.tuners.nash.display import KEY, describe
from keras_nash.tuners.nash.oracle import NashOracle


class _ArchitectureHyperModel(keras_tuner.HyperModel):
    """Builds and compiles the network a trial's `nash/arch` value describes (the seed network
    when there is none: keras-tuner builds once with empty values to discover the space)."""

    def __init__(
        self,
        seed_architecture,
        loss,
        metrics,
        lr_start,
        momentum,
        weight_decay,
        precision,
        jit_compile,
    ):
        super().__init__()
        self.seed_json = seed_architecture.to_json()
        self.precision, self.jit_compile = precision, jit_compile
        self.loss, self.metrics = loss, metrics
        self.lr_start, self.momentum, self.weight_decay = lr_start, momentum, weight_decay

    def build(self, hp):
        precisions.apply(self.precision)  # after keras-tuner's clear_session, which resets it
        model = graph.build_model(
            Architecture.from_json(hp.values.get(KEY + "arch", self.seed_json)), name="nash"
        )
        self.compile(model, self.lr_start)
        return model

    def compile(self, model, learning_rate):
        model.compile(
            optimizer=CoupledSGD(
                learning_rate, momentum=self.momentum, weight_decay=self.weight_decay or None
            ),
            loss=self.loss,
            metrics=list(self.metrics),
            jit_compile=self.jit_compile,
        )


class NashTuner(
    identity.SearchIdentity,
    progress.TrialProgress,
    internals.RaiseOnFailedSearch,
    internals.AtomicTunerFile,
    keras_tuner.Tuner,
):
    """NASH as a drop-in keras-tuner tuner.

    Args:
        seed_model: the seed network: a Keras functional/Sequential model of supported layers
            (see `Architecture.from_model`) or an `Architecture`. Pre-trained from its fresh
            initialisation as the first trial.
        objective: defaults to "val_accuracy" (needs `validation_data` in `search`).
        lr_start: float, each neighbour's cosine schedule starts here. Defaults to 0.05.
        lr_end: float, and ends here. Defaults to 0.0.
        momentum: float, SGD momentum. Defaults to 0.9.
        weight_decay: float, coupled L2 of the SGD (`keras_nash.optimizers.CoupledSGD`: added to
            the gradient, through momentum; 0 for none). Defaults to 5e-4.
        loss: the Keras loss. Defaults to "sparse_categorical_crossentropy", or its
            `from_logits=True` form when the seed network ends without a softmax.
        metrics: Keras metrics. Defaults to ["accuracy"].
        preservation_tolerance: float or None, a child whose logits differ from its parent's
            by more than this (max |child - parent| / mean |parent| over two validation
            batches, inference mode) fails instead of training. None: the tolerance of the
            search's `precision` (`morphisms.PRESERVATION_TOLERANCES`: 1e-4 in
            float32, 1e-1 in `mixed_bfloat16`). Defaults to None.
        precision: "float32", "mixed_bfloat16" or "mixed_float16", the dtype policy of every
            network (`keras_nash.precision`; the preservation check's default tolerance follows
            it). None: the global policy now. Defaults to None.
        jit_compile: bool, train each network with XLA (Keras's `jit_compile`; each child is a
            new network, so XLA compiles once per child). Defaults to False.
        n_steps, n_neighbors, n_morphisms, epochs_per_neighbor, final_epochs,
            pretrain_epochs, morphism_probabilities, kernel_sizes, widening_factors,
            skip_modes, time_budget, final_share, cost, pareto, max_cost_growth,
            heartbeat_timeout, max_consecutive_failed_trials: the hill climb's arguments,
            passed to `NashOracle` (see there; the defaults are the paper's,
            `keras_nash.tuners.nash.presets.PAPER`).
            `n_steps=None` climbs until `time_budget` stops it, `final_share` of the budget
            kept for the final training; `cost` ("params", "flops" or "seconds") is recorded
            for every trial as its metric `cost`; `pareto=True` is LEMONADE's multi-objective
            climb over the front of (objective, cost) (`get_pareto_front`); `max_cost_growth`
            bounds a child's cost over its parent's; `heartbeat_timeout` re-issues a distributed
            worker's trial after that many seconds without an epoch (`tuners/nash/workers.py`).
        seed: int, the random seed of the search (0 included). Defaults to a random one.
        max_retries_per_trial: int, keras-tuner's retries of a failed trial. Defaults to 0.
        **kwargs: `keras_tuner.Tuner` arguments: `directory`, `project_name`, `overwrite`,
            `distribution_strategy`, `executions_per_trial`, `logger`, `tuner_id`.

    Example:

    ```python
    tuner = NashTuner(seed_models.simple_cnn((32, 32, 3), 10), n_steps=5, directory="runs",
                      project_name="c10", seed=1)
    tuner.search(train_ds, validation_data=val_ds)
    best = tuner.get_best_models(1)[0]
    ```
    """

    step_label = "hill-climbing step (0: seed pre-training)"
    """What a trial record's `step` counts (the search plot's axis)."""

    def __init__(
        self,
        seed_model,
        objective="val_accuracy",
        lr_start=0.05,
        lr_end=0.0,
        momentum=0.9,
        weight_decay=5e-4,
        loss=None,
        metrics=("accuracy",),
        preservation_tolerance=None,
        precision=None,
        jit_compile=False,
        n_steps=5,
        n_neighbors=8,
        n_morphisms=5,
        epochs_per_neighbor=17,
        final_epochs=100,
        pretrain_epochs=20,
        morphism_probabilities=None,
        kernel_sizes=(3, 5),
        widening_factors=(2, 4),
        skip_modes=("add", "concat"),
        time_budget=None,
        final_share=0.25,
        cost="params",
        pareto=False,
        max_cost_growth=None,
        seed=None,
        heartbeat_timeout=None,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=None,
        **kwargs,
    ):
        if isinstance(seed_model, keras.Model):
            seed_architecture = Architecture.from_model(seed_model)
        elif isinstance(seed_model, (Architecture, str)):
            seed_architecture = (
                seed_model
                if isinstance(seed_model, Architecture)
                else Architecture.from_json(seed_model)
            )
        else:
            raise ValueError(
                "`seed_model` must be a Keras functional model or an Architecture. "
                f"Received: {type(seed_model).__name__}"
            )
        check_seed_architecture(seed_architecture)
        schedules.cosine_annealing(lr_start, lr_end, 1)  # checks the learning rates
        if preservation_tolerance is not None and not preservation_tolerance >= 0:
            raise ValueError(
                "`preservation_tolerance` must be >= 0 or None. Received: "
                f"preservation_tolerance={preservation_tolerance}"
            )
        oracle = NashOracle(
            seed_architecture,
            objective=objective,
            n_steps=n_steps,
            n_neighbors=n_neighbors,
            n_morphisms=n_morphisms,
            epochs_per_neighbor=epochs_per_neighbor,
            final_epochs=final_epochs,
            pretrain_epochs=pretrain_epochs,
            morphism_probabilities=morphism_probabilities,
            kernel_sizes=kernel_sizes,
            widening_factors=widening_factors,
            skip_modes=skip_modes,
            time_budget=time_budget,
            final_share=final_share,
            cost=cost,
            pareto=pareto,
            max_cost_growth=max_cost_growth,
            seed=seed,
            heartbeat_timeout=heartbeat_timeout,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        self.seed_architecture = seed_architecture
        self.lr_start, self.lr_end = float(lr_start), float(lr_end)
        self.preservation_tolerance = (
            None if preservation_tolerance is None else float(preservation_tolerance)
        )
        last = seed_architecture.node(seed_architecture.outputs[0])
        self._outputs_probabilities = last.op == "softmax" or (
            last.op == "dense" and last.config["activation"] == "softmax"
        )
        if loss is None:
            loss = keras.losses.SparseCategoricalCrossentropy(
                from_logits=not self._outputs_probabilities
            )
        self.precision = precisions.resolve(precision)
        hypermodel = _ArchitectureHyperModel(
            seed_architecture,
            loss,
            metrics,
            lr_start,
            momentum,
            weight_decay,
            self.precision,
            bool(jit_compile),
        )
        self._reissued = set()  # trials of this worker the chief gave to another
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)

    # -- search -----------------------------------------------------------------------------
    def search(self, *fit_args, **fit_kwargs):
        """Run the search: `search(x, y, validation_data=(x_val, y_val), batch_size=...)` or
        `search(train_ds, validation_data=val_ds)`, as `keras_tuner.Tuner.search`.

        The data is checked against the seed network before any training: input shape, label
        range, non-empty training and validation sets.
        """
        check_objective(self.oracle.objective, self.hypermodel.metrics)
        check_search_data(self.seed_architecture, fit_args, fit_kwargs, self.oracle.objective)
        fit_kwargs.pop("epochs", None)  # each trial's epochs come from the oracle
        return super().search(*fit_args, **fit_kwargs)

    def run_trial(self, trial, *args, **kwargs):
        """Train the trial's network; its metrics are those of its last epoch: the paper scores
        each network at the end of its cosine cycle (keras-tuner would take its best epoch)."""
        histories = super().run_trial(trial, *args, **kwargs)
        return [
            {name: values[-1] for name, values in h.history.items() if values} for h in histories
        ]

    def _build_and_fit_model(self, trial, *args, **kwargs):
        values = trial.hyperparameters.values
        start = time.perf_counter()
        keras.utils.set_random_seed(
            (values[KEY + "seed"] * 1000003 + int(trial.trial_id)) % (2**31 - 1)
        )
        model = internals.try_build(self, trial.hyperparameters)
        extra = {"params": float(model.count_params())}
        cost = values.get(KEY + "cost", "params")
        if cost != "seconds":  # measured after training, below
            extra["cost"] = static_cost(Architecture.from_json(values[KEY + "arch"]), cost)
        if values[KEY + "parent"]:
            extra["preservation_error"], extra["training_mode_difference"] = self._inherit(
                model, values, args, kwargs
            )
        epochs = int(values[KEY + "epochs"])
        steps = steps_per_epoch(args, kwargs)
        with model.distribute_strategy.scope():  # keras-tuner's `distribution_strategy`, if any
            self.hypermodel.compile(
                model,
                schedules.cosine_annealing(self.lr_start, self.lr_end, max(1, epochs * steps)),
            )
            internals.build_compiled_state(model, *batch_spec(args, kwargs))  # one trace per child
        # keras-tuner's `SaveBestEpoch` would write the weights at every improving epoch; the
        # checkpoint NASH keeps is the end of the cycle, written once below.
        callbacks = [
            c for c in kwargs.pop("callbacks", []) if not isinstance(c, internals.SaveBestEpoch)
        ]
        clock = _EpochClock()
        callbacks = [_ConstantLogs(extra), keras.callbacks.TerminateOnNaN(), clock] + callbacks
        kwargs.pop("epochs", None)
        if isinstance(args[0] if args else kwargs.get("x"), tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself
        fit_start = time.perf_counter()
        history = model.fit(*args, epochs=epochs, callbacks=callbacks, **kwargs)
        fit_seconds = time.perf_counter() - fit_start
        if trial.trial_id in self._reissued:  # another worker has it (`on_epoch_end`)
            raise keras_tuner.errors.FailedTrialError(
                f"Trial {trial.trial_id} was re-issued to another worker; this copy is dropped."
            )
        losses = history.history.get("loss", [])
        if not np.all(np.isfinite(losses)):  # TerminateOnNaN stopped it, or the last epoch's loss
            raise keras_tuner.errors.FailedTrialError(
                f"Trial {trial.trial_id}: the loss became NaN or infinite (losses {losses}); the "
                "child is dropped."
            )
        if not losses:
            raise keras_tuner.errors.FailedTrialError(
                f"Trial {trial.trial_id}: a callback stopped the training before its first epoch "
                "ended "
                "(`model.stop_training`); there is no score to keep."
            )
        if (
            len(losses) < epochs
        ):  # a callback (EarlyStopping, a deadline) stopped it: scored as it stands
            logger.info(
                "NASH trial %s: a callback stopped the training after %d of %d epochs; the "
                "network is scored and kept as it stands.",
                trial.trial_id,
                len(losses),
                epochs,
            )
        # The paper scores and inherits the network at the end of its cycle (`run_trial`), so
        # that is what the checkpoint holds.
        files.replace_atomically(
            internals.checkpoint_path(self, trial.trial_id), model.save_weights
        )
        history.history["trial_seconds"] = [time.perf_counter() - start] * len(losses)
        history.history["fit_seconds"] = [fit_seconds] * len(losses)
        history.history["epoch_seconds"] = [
            clock.epoch_seconds(fit_start, fit_seconds, epochs)
        ] * len(losses)
        if cost == "seconds":
            history.history["cost"] = history.history["epoch_seconds"]
        self._log(trial, model, history)
        return history

    def _inherit(self, model, values, fit_args, fit_kwargs):
        """Load the parent's weights, morph them into `model`, set the batch norms a deeper
        morphism inserted from two training batches, and check the child computes its
        parent's logits; returns (inference difference, training-mode difference)."""
        parent_id = values[KEY + "parent"]
        parent_arch = Architecture.from_json(
            self.oracle.get_trial(parent_id).hyperparameters.values[KEY + "arch"]
        )
        parent = graph.build_model(parent_arch, name="parent")
        _load_weights(parent, internals.checkpoint_path(self, parent_id))
        ms = json.loads(values[KEY + "morphs"])
        child_arch, child_weights = morphisms.apply_with_weights(
            parent_arch, graph.get_weights(parent, parent_arch), ms
        )
        graph.set_weights(model, child_weights)
        new = morphisms.new_batch_norms(parent_arch, child_arch)
        if new:
            morphisms.calibrate_batch_norms(model, new, training_batches(fit_args, fit_kwargs, 2))
        batches = validation_batches(fit_kwargs, 2)
        layer = morphisms.logits_layer(parent_arch)
        try:
            difference = morphisms.check_preservation(
                parent, model, batches, self.preservation_tolerance, layer
            )
        except morphisms.PreservationError as error:
            raise keras_tuner.errors.FailedTrialError(
                f"The child of trial {parent_id} (morphisms {ms}): {error}"
            ) from None
        training = morphisms.logit_difference(
            parent, model, batches, layer, training=True, reduction="mean"
        )
        del parent
        return difference, training

    def on_epoch_end(self, trial, model, epoch, logs=None):
        """A distributed worker tells the chief after every epoch that its trial is alive
        (`tuners/nash/workers.py`); a trial the chief has given to another worker stops here,
        before its checkpoint is written."""
        super().on_epoch_end(trial, model, epoch, logs)
        if not internals.is_worker(self):
            return
        status = self.oracle.update_trial(trial.trial_id, {}, step=epoch).status
        if status != internals.TrialStatus.RUNNING:
            model.stop_training = True
            self._reissued.add(trial.trial_id)

    def _log(self, trial, model, history):
        values = trial.hyperparameters.values
        name = self.oracle.objective.name
        final = history.history.get(name, [float("nan")])[-1]  # the end-of-cycle score
        morphs = ", ".join(describe(m) for m in json.loads(values[KEY + "morphs"])) or "none"
        logger.info(
            "NASH trial %s | step %s | %s of trial %s | %d params | %s %.4f | %.1f s | morphisms: "
            "%s",
            trial.trial_id,
            values[KEY + "step"],
            values[KEY + "role"],
            values[KEY + "parent"] or "-",
            model.count_params(),
            name,
            final,
            history.history["trial_seconds"][0],
            morphs,
        )

    # -- results ----------------------------------------------------------------------------
    def results_summary(self, num_trials=10):
        """Print the best trials: role, step, parameters, morphisms and score."""
        print(
            f"Results summary\nResults in {self.project_dir}\nShowing {num_trials} best "
            f"trials\n{self.oracle.objective}"
        )
        for trial in self.oracle.get_best_trials(num_trials):
            values = trial.hyperparameters.values
            morphs = ", ".join(describe(m) for m in json.loads(values[KEY + "morphs"])) or "none"
            params = self.oracle.architecture(trial.trial_id).count_params()
            print(
                f"\nTrial {trial.trial_id} ({trial.status}): {values[KEY + 'role']} of step "
                f"{values[KEY + 'step']}, parent {values[KEY + 'parent'] or '-'}, {params:,} "
                "params, "
                f"morphisms: {morphs}\nScore: {trial.score}"
            )

    def load_model(self, trial):
        """The network of a trial with its end-of-cycle weights (compiled)."""
        model = internals.try_build(self, trial.hyperparameters)
        _load_weights(model, internals.checkpoint_path(self, trial.trial_id))
        return model

    def get_pareto_front(self) -> list:
        """The Pareto front of (objective, `cost`) over every network trained so far, cheapest
        first, as `(trial, model)` pairs (each model with its end-of-cycle weights). A network
        is on it when no other is as good on both and better on one. Its trials' metric `cost`
        holds each one's cost."""
        return [(trial, self.load_model(trial)) for trial in self.oracle.pareto_front()]

    def budget_report(self) -> dict:
        """Where the search's time went (`NashOracle.budget_report`): pre-training, each
        step's trainings, the final training, the trials' and the search's own overhead."""
        return self.oracle.budget_report()

    def get_best_architectures(self, num_trials=1) -> list:
        """The `Architecture`s of the best trials."""
        return [
            self.oracle.architecture(t.trial_id)
            for t in self.oracle.get_best_trials(num_trials)
            if KEY + "arch" in t.hyperparameters.values
        ]

    def get_best_architecture(self) -> Architecture:
        """The best trial's `Architecture` (the final network's, once it is trained)."""
        return self.get_best_architectures(1)[0]

    def trial_records(self) -> list:
        """One dict per trial, in trial order: step, role, parent, morphisms, status, score,
        parameters, preservation error and seconds (the command line's summary lists them)."""
        records = []
        for trial_id in sorted(self.oracle.trials):
            trial = self.oracle.trials[trial_id]
            values = trial.hyperparameters.values
            records.append(
                {
                    "trial_id": trial_id,
                    "step": values[KEY + "step"],
                    "role": values[KEY + "role"],
                    "parent": values[KEY + "parent"] or None,
                    "morphisms": values[KEY + "morphs"],
                    "status": trial.status,
                    "score": trial.score,
                    "params": self.oracle.architecture(trial_id).count_params(),
                    "preservation_error": internals.last_metric(trial, "preservation_error"),
                    "seconds": internals.last_metric(trial, "trial_seconds"),
                    "cost": internals.last_metric(trial, "cost"),
                }
            )
        return records

    def search_summary(self) -> dict:
        """The search's outcome as JSON-ready data: its trials (`trial_records`), the best
        trial and its architecture, the trials of the Pareto front of (objective, `cost`)
        and where the time went (`budget_report`)."""
        return {
            "trials": self.trial_records(),
            "best_trial": self.oracle.get_best_trials(1)[0].trial_id,
            "architecture": json.loads(self.get_best_architecture().to_json()),
            "cost": self.oracle.cost,
            "pareto_front": [t.trial_id for t in self.oracle.pareto_front()],
            "budget": self.budget_report(),
        }

    def step_best_trials(self) -> list:
        """The incumbent trial id after each hill-climbing step (the final trial last, if any)."""
        history = self.oracle.history
        ids = [record["incumbent"] for record in history if record["step"] >= 1]
        return list(dict.fromkeys(ids))

    def snapshot_ensemble(self, trial_ids=None) -> keras.Model:
        """One Keras model that averages the predicted probabilities of several networks.

        Args:
            trial_ids: the trials to ensemble. Defaults to the best network of every step
                (`step_best_trials`), the paper's snapshot ensemble.

        Returns:
            A functional `keras.Model` (exportable like any model).
        """
        trial_ids = list(trial_ids or self.step_best_trials())
        if not trial_ids:
            raise ValueError("`snapshot_ensemble` needs finished trials; run `search` first.")
        precisions.apply(self.precision)  # the members as the search built them
        shape = tuple(self.seed_architecture.node(self.seed_architecture.inputs[0]).config["shape"])
        inputs = keras.Input(shape, name="images")
        outputs = []
        for trial_id in trial_ids:
            arch = self.oracle.architecture(trial_id)
            member = graph.build_model(arch, name=f"trial_{trial_id}")
            _load_weights(member, internals.checkpoint_path(self, trial_id))
            y = member(inputs)
            outputs.append(y if self._outputs_probabilities else keras.layers.Softmax()(y))
        mean = (
            keras.layers.Average(name="mean_probabilities")(outputs)
            if len(outputs) > 1
            else outputs[0]
        )
        return keras.Model(inputs, mean, name="nash_snapshot_ensemble")


class _ConstantLogs(keras.callbacks.Callback):
    """Adds fixed values (parameters, preservation error) to every epoch's logs, so they are
    recorded with the trial's metrics."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.values)


class _EpochClock(keras.callbacks.Callback):
    """When each epoch ended, for the seconds an epoch takes once the network is traced."""

    def __init__(self):
        super().__init__()
        self.ends = []

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.perf_counter())

    def epoch_seconds(self, start, fit_seconds, epochs):
        """The mean seconds of the epochs after the first (which traces the network), or the
        whole fit over its epochs when there is one."""
        if len(self.ends) >= 2:
            return (self.ends[-1] - self.ends[0]) / (len(self.ends) - 1)
        return fit_seconds / max(1, epochs)


def _load_weights(model, path):
    """Load a trial checkpoint's layer weights; its optimizer variables are not needed."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(path)


__all__ = ["NashOracle", "NashTuner"]
