"""NASH: hill climbing over function-preserving network morphisms (Elsken et al. 2017).

`NashOracle` decides, `NashTuner` trains, as keras-tuner's `HyperbandOracle` and `Hyperband`.

The search, with the paper's defaults:

    trial 0: pre-train the seed network (pretrain_epochs=20)
    for step in 1..n_steps (5):
        n_neighbors - 1 (7) children: n_morphisms (5) random morphisms of the incumbent,
            weights inherited, each trained epochs_per_neighbor (17) epochs with a cosine
            schedule lr_start -> lr_end (0.05 -> 0) restarted for every child (SGDR)
        + the incumbent itself, trained on the same way
        incumbent <- the best of these on the validation objective (the old incumbent is kept
            when none beats it, so the incumbent never gets worse)
    final trial: the incumbent trained final_epochs (100) epochs

Every trial is one keras-tuner trial whose values carry the architecture as data: `nash/arch`
(Architecture JSON), `nash/parent` (the parent trial id), `nash/morphs` (the resolved
morphisms, JSON), `nash/epochs`, `nash/step`, `nash/role` (seed, child, incumbent or final).
The oracle draws every morphism itself (architectures only, from its saved seed), so the
sequence of architectures is reproducible and a search killed at any point resumes with
`overwrite=False`. A worker rebuilds the parent, loads the parent's best-epoch checkpoint from
the project directory, applies the morphisms to the weights, checks on one validation batch that
the child computes the parent's function (the difference is recorded as the trial metric
`preservation_error`; above `preservation_tolerance` the trial fails rather than train a broken
child), then trains. All of a step's neighbours are issued at once, so several keras-tuner
workers (KERASTUNER_* variables) train them in parallel; the oracle waits (IDLE) only while some
are still running.

`n_neighbors=1` is the paper's random-network baseline: each step trains one morphed child and
keeps it whatever its score (morphisms applied, no selection).
"""

import json
import math
import time
import warnings

from absl import logging
import keras
import keras_tuner
import numpy as np
import tensorflow as tf
from keras_tuner.src.engine import oracle as oracle_module
from keras_tuner.src.engine import trial as trial_module

from keras_nash import graph, morphisms, schedules
from keras_nash.graph import Architecture

_DONE = (trial_module.TrialStatus.COMPLETED, trial_module.TrialStatus.FAILED)
_KEY = "nash/"


class NashOracle(keras_tuner.Oracle):
    """The NASH hill-climbing coordinator: proposes children, promotes the best.

    Args:
        seed_architecture: `Architecture` (or its JSON) of the seed network.
        objective: the keras-tuner objective. Defaults to "val_accuracy".
        n_steps: int >= 1, hill-climbing steps. Defaults to 5.
        n_neighbors: int >= 1, neighbours per step, the incumbent included. Defaults to 8.
        n_morphisms: int >= 1, morphisms applied to make each child. Defaults to 5.
        epochs_per_neighbor: int >= 1, training epochs of each neighbour. Defaults to 17.
        final_epochs: int >= 0, epochs of the final training of the best network; 0 skips it.
            Defaults to 100.
        pretrain_epochs: int >= 1, epochs of the seed's pre-training. Defaults to 20.
        morphism_probabilities: dict operator -> weight for "deeper", "wider", "skip".
            Defaults to 1/3 each.
        kernel_sizes: kernel sizes of "deeper". Defaults to (3, 5).
        widening_factors: factors of "wider". Defaults to (2, 4).
        skip_modes: kinds of skip connection. Defaults to ("add", "concat").
        time_budget: optional float, seconds of wall time for pre-training and hill climbing
            (counted from the first trial, across resumes); once spent, no new hill-climbing
            trial starts: the current step ends with the trials already started (the previous
            incumbent stays a candidate) and the final training follows. Defaults to None (no
            limit: `n_steps` decides).
        seed: int, the random seed. Defaults to a random one (keras-tuner's rule).
        max_consecutive_failed_trials: int, abort after this many failed trials in a row.
            Defaults to 2 * n_neighbors + 1 (a whole failed step does not abort the search).
        **kwargs: further `keras_tuner.Oracle` arguments (`max_retries_per_trial`, ...).
    """

    def __init__(
        self,
        seed_architecture,
        objective="val_accuracy",
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
        seed=None,
        max_consecutive_failed_trials=None,
        **kwargs,
    ):
        _check_int("n_steps", n_steps, 1)
        if time_budget is not None and not time_budget > 0:
            raise ValueError(f"`time_budget` must be > 0 seconds or None. Received: time_budget={time_budget}")
        _check_int("n_neighbors", n_neighbors, 1)
        _check_int("n_morphisms", n_morphisms, 1)
        _check_int("epochs_per_neighbor", epochs_per_neighbor, 1)
        _check_int("final_epochs", final_epochs, 0)
        _check_int("pretrain_epochs", pretrain_epochs, 1)
        if isinstance(seed_architecture, str):
            seed_architecture = Architecture.from_json(seed_architecture)
        if not isinstance(seed_architecture, Architecture):
            raise ValueError(f"`seed_architecture` must be an Architecture. Received: {type(seed_architecture).__name__}")
        # Fails early on bad operator settings (and checks the sampler accepts them).
        morphisms.random_morphisms(seed_architecture, 0, 0, morphism_probabilities, kernel_sizes, widening_factors, skip_modes)
        super().__init__(
            objective=objective,
            max_trials=None,
            seed=seed,
            max_consecutive_failed_trials=max_consecutive_failed_trials or 2 * n_neighbors + 1,
            **kwargs,
        )
        self.seed_architecture = seed_architecture
        self.n_steps = int(n_steps)
        self.n_neighbors = int(n_neighbors)
        self.n_morphisms = int(n_morphisms)
        self.epochs_per_neighbor = int(epochs_per_neighbor)
        self.final_epochs = int(final_epochs)
        self.pretrain_epochs = int(pretrain_epochs)
        self.morphism_probabilities = morphism_probabilities
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        self.widening_factors = tuple(int(f) for f in widening_factors)
        self.skip_modes = tuple(skip_modes)
        self.time_budget = time_budget
        # Search state (JSON, saved with the oracle).
        self._step = 0  # 0: pre-training, 1..n_steps: hill climbing, n_steps + 1: final
        self._pending = []  # values of this step's trials not issued yet
        self._step_trials = []  # ids of this step's trials issued so far
        self._incumbent = None  # trial id
        self._history = []  # one record per finished step
        self._tuner_of = {}  # trial id -> id of the tuner (worker) that ran it
        self._finished = False
        self._started = None  # wall-clock time of the first trial
        self._display = _NashDisplay(self)

    # -- keras-tuner hooks ------------------------------------------------------------------
    def populate_space(self, trial_id):
        if self._finished:
            return {"status": trial_module.TrialStatus.STOPPED, "values": None}
        if self._started is None:
            self._started = time.time()
        if 1 <= self._step <= self.n_steps and self._budget_spent():
            # No new hill-climbing trial: the step ends with the trials already started (the
            # previous incumbent stays a candidate), then the final training.
            if self._pending:
                logging.info("NASH time budget of %.0f s spent: %d trial(s) of step %d not started.",
                             self.time_budget, len(self._pending), self._step)
                self._pending = []
            if not self._step_trials:
                logging.info("NASH time budget of %.0f s spent after %d steps: final training.",
                             self.time_budget, self._step - 1)
                self._step = self.n_steps + 1
                if self.final_epochs == 0:
                    self._finished = True
                    return self.populate_space(trial_id)
        if not self._pending and not self._step_trials:
            self._pending = self._plan_step()
        if self._pending:
            values = self._pending.pop(0)
            self._step_trials.append(trial_id)
            return {"status": trial_module.TrialStatus.RUNNING, "values": values}
        if not all(self.trials[t].status in _DONE for t in self._step_trials):
            # Never IDLE without a running trial: single-process search would spin.
            if self.ongoing_trials:
                return {"status": trial_module.TrialStatus.IDLE, "values": None}
        self._finish_step()
        return self.populate_space(trial_id)

    @keras_tuner.synchronized
    def create_trial(self, tuner_id):
        trial = super().create_trial(tuner_id)
        if trial.status == trial_module.TrialStatus.RUNNING:
            self._tuner_of[trial.trial_id] = tuner_id
        return trial

    def get_state(self):
        state = super().get_state()
        state.update({
            "nash_seed_architecture": self.seed_architecture.to_dict(),
            "nash_step": self._step,
            "nash_pending": self._pending,
            "nash_step_trials": self._step_trials,
            "nash_incumbent": self._incumbent,
            "nash_history": self._history,
            "nash_tuner_of": self._tuner_of,
            "nash_finished": self._finished,
            "nash_started": self._started,
        })
        return state

    def set_state(self, state):
        super().set_state(state)
        self.seed_architecture = Architecture.from_dict(state["nash_seed_architecture"])
        self._step = state["nash_step"]
        self._pending = state["nash_pending"]
        self._step_trials = state["nash_step_trials"]
        self._incumbent = state["nash_incumbent"]
        self._history = state["nash_history"]
        self._tuner_of = state.get("nash_tuner_of", {})
        self._finished = state["nash_finished"]
        self._started = state.get("nash_started")

    # -- the hill climbing ------------------------------------------------------------------
    def _budget_spent(self):
        return self.time_budget is not None and time.time() - self._started >= self.time_budget

    @property
    def history(self) -> list:
        """One record per finished step: its trials, their scores and the incumbent chosen."""
        return list(self._history)

    @property
    def incumbent(self):
        """The trial id of the current best network (None before pre-training ends)."""
        return self._incumbent

    def tuner_of(self, trial_id):
        """The id of the tuner (worker) that ran a trial."""
        return self._tuner_of.get(trial_id)

    def _values(self, role, arch, parent, morphs, epochs):
        return {
            _KEY + "role": role,
            _KEY + "step": self._step,
            _KEY + "arch": arch.to_json(),
            _KEY + "parent": parent or "",
            _KEY + "morphs": json.dumps(morphs),
            _KEY + "epochs": int(epochs),
            # Workers reach the oracle over gRPC, which does not carry its seed: the trial does.
            _KEY + "seed": int(self.seed),
        }

    def _plan_step(self):
        """The values of every trial of the current step (architectures only, no weights)."""
        if self._step == 0:
            return [self._values("seed", self.seed_architecture, None, [], self.pretrain_epochs)]
        incumbent_arch = self.architecture(self._incumbent)
        if self._step > self.n_steps:
            return [self._values("final", incumbent_arch, self._incumbent, [], self.final_epochs)]
        n_children = self.n_neighbors - 1 if self.n_neighbors > 1 else 1
        planned = []
        for j in range(n_children):
            rng = np.random.default_rng([self.seed, self._step, j])
            ms = morphisms.random_morphisms(
                incumbent_arch, self.n_morphisms, rng, self.morphism_probabilities,
                self.kernel_sizes, self.widening_factors, self.skip_modes,
            )
            child = morphisms.apply(incumbent_arch, ms)
            planned.append(self._values("child", child, self._incumbent, ms, self.epochs_per_neighbor))
        if self.n_neighbors > 1:
            planned.append(self._values("incumbent", incumbent_arch, self._incumbent, [], self.epochs_per_neighbor))
        return planned

    def _finish_step(self):
        trials = [self.trials[t] for t in self._step_trials]
        completed = [t for t in trials if t.status == trial_module.TrialStatus.COMPLETED and t.score is not None]
        record = {
            "step": self._step,
            "trials": {t.trial_id: {"status": t.status, "score": t.score} for t in trials},
            "previous_incumbent": self._incumbent,
        }
        if self._step > self.n_steps:
            self._finished = True
            if completed:
                self._incumbent = completed[0].trial_id
            record["incumbent"] = self._incumbent
        else:
            candidates = list(completed)
            keep_old = self._incumbent is not None and self.n_neighbors > 1
            if keep_old:
                candidates.append(self.trials[self._incumbent])
            if candidates:
                best = candidates[0]
                for trial in candidates[1:]:
                    if self.objective.better_than(trial.score, best.score):
                        best = trial
                self._incumbent = best.trial_id
            elif self._incumbent is None:
                raise RuntimeError("The seed network's pre-training failed; see the trial's message.")
            record["incumbent"] = self._incumbent
            self._step += 1
            if self._step > self.n_steps and self.final_epochs == 0:
                self._finished = True
        record["incumbent_score"] = self.trials[self._incumbent].score if self._incumbent else None
        self._history.append(record)
        self._step_trials = []
        self._pending = []
        logging.info(
            "NASH step %d done: incumbent trial %s (%s=%s)", record["step"], record["incumbent"],
            self.objective.name, record["incumbent_score"],
        )

    def architecture(self, trial_id) -> Architecture:
        """The `Architecture` a trial trained."""
        return Architecture.from_json(self.trials[trial_id].hyperparameters.values[_KEY + "arch"])


class _NashDisplay(oracle_module.Display):
    """One readable line per trial instead of keras-tuner's table (architectures are long)."""

    def show_hyperparameter_table(self, trial):
        values = trial.hyperparameters.values
        if _KEY + "arch" not in values:
            return super().show_hyperparameter_table(trial)
        arch = Architecture.from_json(values[_KEY + "arch"])
        morphs = json.loads(values[_KEY + "morphs"])
        applied = ", ".join(_describe(m) for m in morphs) or "none"
        print(
            f"step {values[_KEY + 'step']} | {values[_KEY + 'role']} | parent trial "
            f"{values[_KEY + 'parent'] or '-'} | {values[_KEY + 'epochs']} epochs | "
            f"{arch.count_params():,} params | morphisms: {applied}"
        )


def _describe(m):
    if m["op"] == "deeper":
        return f"deeper({m['after']}, k={m['kernel_size']})"
    if m["op"] == "wider":
        return f"wider({m['conv']}, x{m['factor']})"
    return f"skip-{m['mode']}({m['from']} -> {m['to']})"


class _ArchitectureHyperModel(keras_tuner.HyperModel):
    """Builds and compiles the network a trial's `nash/arch` value describes (the seed network
    when there is none: keras-tuner builds once with empty values to discover the space)."""

    def __init__(self, seed_architecture, loss, metrics, lr_start, momentum, weight_decay):
        super().__init__()
        self.seed_json = seed_architecture.to_json()
        self.loss, self.metrics = loss, metrics
        self.lr_start, self.momentum, self.weight_decay = lr_start, momentum, weight_decay

    def build(self, hp):
        model = graph.build_model(Architecture.from_json(hp.values.get(_KEY + "arch", self.seed_json)), name="nash")
        self.compile(model, self.lr_start)
        return model

    def compile(self, model, learning_rate):
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate, momentum=self.momentum, weight_decay=self.weight_decay or None),
            loss=self.loss,
            metrics=list(self.metrics),
        )


class NashTuner(keras_tuner.Tuner):
    """NASH as a drop-in keras-tuner tuner.

    Args:
        seed_model: the seed network: a Keras functional/Sequential model of supported layers
            (see `Architecture.from_model`) or an `Architecture`. Pre-trained from its fresh
            initialisation as the first trial.
        objective: defaults to "val_accuracy" (needs `validation_data` in `search`).
        n_steps, n_neighbors, n_morphisms, epochs_per_neighbor, final_epochs, pretrain_epochs,
        morphism_probabilities, kernel_sizes, widening_factors, skip_modes, time_budget: see
            `NashOracle`.
        lr_start: float, each neighbour's cosine schedule starts here. Defaults to 0.05.
        lr_end: float, and ends here. Defaults to 0.0.
        momentum: float, SGD momentum. Defaults to 0.9.
        weight_decay: float, SGD weight decay (0 for none). Defaults to 5e-4.
        loss: the Keras loss. Defaults to "sparse_categorical_crossentropy", or its
            `from_logits=True` form when the seed network ends without a softmax.
        metrics: Keras metrics. Defaults to ["accuracy"].
        preservation_tolerance: float, a child whose output differs from its parent's by more
            than this on a validation batch (inference mode) fails instead of training.
            Defaults to 1e-4.
        seed: int, the random seed of the search. Defaults to a random one.
        **kwargs: `keras_tuner.Tuner` arguments: `directory`, `project_name`, `overwrite`,
            `distribution_strategy`, `executions_per_trial`, `logger`, `tuner_id`,
            `max_retries_per_trial`, `max_consecutive_failed_trials`.

    Example:

    ```python
    tuner = NashTuner(seed_models.simple_cnn((32, 32, 3), 10), n_steps=5, directory="runs",
                      project_name="c10", seed=1)
    tuner.search(train_ds, validation_data=val_ds)
    best = tuner.get_best_models(1)[0]
    ```
    """

    def __init__(
        self,
        seed_model,
        objective="val_accuracy",
        n_steps=5,
        n_neighbors=8,
        n_morphisms=5,
        epochs_per_neighbor=17,
        final_epochs=100,
        pretrain_epochs=20,
        lr_start=0.05,
        lr_end=0.0,
        momentum=0.9,
        weight_decay=5e-4,
        morphism_probabilities=None,
        kernel_sizes=(3, 5),
        widening_factors=(2, 4),
        skip_modes=("add", "concat"),
        time_budget=None,
        loss=None,
        metrics=("accuracy",),
        preservation_tolerance=1e-4,
        seed=None,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=None,
        **kwargs,
    ):
        if isinstance(seed_model, keras.Model):
            seed_architecture = Architecture.from_model(seed_model)
        elif isinstance(seed_model, (Architecture, str)):
            seed_architecture = seed_model if isinstance(seed_model, Architecture) else Architecture.from_json(seed_model)
        else:
            raise ValueError(
                "`seed_model` must be a Keras functional model or an Architecture. "
                f"Received: {type(seed_model).__name__}"
            )
        schedules.cosine_annealing(lr_start, lr_end, 1)  # checks the learning rates
        if not preservation_tolerance >= 0:
            raise ValueError(f"`preservation_tolerance` must be >= 0. Received: preservation_tolerance={preservation_tolerance}")
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
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        self.seed_architecture = seed_architecture
        self.lr_start, self.lr_end = float(lr_start), float(lr_end)
        self.preservation_tolerance = float(preservation_tolerance)
        last = seed_architecture.node(seed_architecture.outputs[0])
        self._outputs_probabilities = last.op == "softmax" or (last.op == "dense" and last.config["activation"] == "softmax")
        if loss is None:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=not self._outputs_probabilities)
        hypermodel = _ArchitectureHyperModel(seed_architecture, loss, metrics, lr_start, momentum, weight_decay)
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)

    # -- search -----------------------------------------------------------------------------
    def search(self, *fit_args, **fit_kwargs):
        """Run the search: `search(x, y, validation_data=(x_val, y_val), batch_size=...)` or
        `search(train_ds, validation_data=val_ds)`, as `keras_tuner.Tuner.search`.

        The data is checked against the seed network before any training: input shape, label
        range, non-empty training and validation sets.
        """
        _check_data(self.seed_architecture, fit_args, fit_kwargs, self.oracle.objective)
        fit_kwargs.pop("epochs", None)  # each trial's epochs come from the oracle
        return super().search(*fit_args, **fit_kwargs)

    def _build_and_fit_model(self, trial, *args, **kwargs):
        values = trial.hyperparameters.values
        start = time.perf_counter()
        keras.utils.set_random_seed((values[_KEY + "seed"] * 1000003 + int(trial.trial_id)) % (2**31 - 1))
        model = self._try_build(trial.hyperparameters)
        extra = {"params": float(model.count_params())}
        if values[_KEY + "parent"]:
            extra["preservation_error"] = self._inherit(model, values, kwargs)
        epochs = int(values[_KEY + "epochs"])
        steps = _steps_per_epoch(args, kwargs)
        self.hypermodel.compile(model, schedules.cosine_annealing(self.lr_start, self.lr_end, max(1, epochs * steps)))
        callbacks = list(kwargs.pop("callbacks", []))
        callbacks = [_ConstantLogs(extra), keras.callbacks.TerminateOnNaN()] + callbacks
        kwargs.pop("epochs", None)
        if isinstance(args[0] if args else kwargs.get("x"), tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself
        fit_start = time.perf_counter()
        history = model.fit(*args, epochs=epochs, callbacks=callbacks, **kwargs)
        fit_seconds = time.perf_counter() - fit_start
        losses = history.history.get("loss", [])
        if len(losses) < epochs or not np.all(np.isfinite(losses)):
            raise keras_tuner.errors.FailedTrialError(
                f"Trial {trial.trial_id}: the loss became NaN or infinite (losses {losses}); the child is dropped."
            )
        history.history["trial_seconds"] = [time.perf_counter() - start] * len(losses)
        history.history["fit_seconds"] = [fit_seconds] * len(losses)
        self._log(trial, model, history)
        return history

    def _inherit(self, model, values, fit_kwargs):
        """Load the parent's weights, morph them into `model`, check the function is kept."""
        parent_id = values[_KEY + "parent"]
        parent_arch = Architecture.from_json(self.oracle.get_trial(parent_id).hyperparameters.values[_KEY + "arch"])
        parent = graph.build_model(parent_arch, name="parent")
        _load_weights(parent, self._get_checkpoint_fname(parent_id))
        ms = json.loads(values[_KEY + "morphs"])
        child_arch, child_weights = morphisms.apply_with_weights(parent_arch, graph.get_weights(parent, parent_arch), ms)
        graph.set_weights(model, child_weights)
        x = _validation_batch(fit_kwargs)
        difference = morphisms.max_output_difference(parent, model, x)
        del parent
        if not difference <= self.preservation_tolerance:
            raise keras_tuner.errors.FailedTrialError(
                f"The child of trial {parent_id} does not compute its parent's function: max output "
                f"difference {difference:.3g} > preservation_tolerance={self.preservation_tolerance} "
                f"(morphisms {ms})."
            )
        return difference

    def _log(self, trial, model, history):
        values = trial.hyperparameters.values
        name = self.oracle.objective.name
        scores = history.history.get(name, [float("nan")])
        best = max(scores) if self.oracle.objective.direction == "max" else min(scores)
        morphs = ", ".join(_describe(m) for m in json.loads(values[_KEY + "morphs"])) or "none"
        logging.info(
            "NASH trial %s | step %s | %s of trial %s | %d params | %s %.4f | %.1f s | morphisms: %s",
            trial.trial_id, values[_KEY + "step"], values[_KEY + "role"], values[_KEY + "parent"] or "-",
            model.count_params(), name, best, history.history["trial_seconds"][0], morphs,
        )

    # -- results ----------------------------------------------------------------------------
    def results_summary(self, num_trials=10):
        """Print the best trials: role, step, parameters, morphisms and score."""
        print(f"Results summary\nResults in {self.project_dir}\nShowing {num_trials} best trials\n{self.oracle.objective}")
        for trial in self.oracle.get_best_trials(num_trials):
            values = trial.hyperparameters.values
            morphs = ", ".join(_describe(m) for m in json.loads(values[_KEY + "morphs"])) or "none"
            params = self.oracle.architecture(trial.trial_id).count_params()
            print(
                f"\nTrial {trial.trial_id} ({trial.status}): {values[_KEY + 'role']} of step "
                f"{values[_KEY + 'step']}, parent {values[_KEY + 'parent'] or '-'}, {params:,} params, "
                f"morphisms: {morphs}\nScore: {trial.score}"
            )

    def load_model(self, trial):
        """The network of a trial with its best-epoch weights (compiled)."""
        model = self._try_build(trial.hyperparameters)
        _load_weights(model, self._get_checkpoint_fname(trial.trial_id))
        return model

    def get_best_architectures(self, num_trials=1) -> list:
        """The `Architecture`s of the best trials."""
        return [self.oracle.architecture(t.trial_id) for t in self.oracle.get_best_trials(num_trials) if _KEY + "arch" in t.hyperparameters.values]

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
        shape = tuple(self.seed_architecture.node(self.seed_architecture.inputs[0]).config["shape"])
        inputs = keras.Input(shape, name="images")
        outputs = []
        for trial_id in trial_ids:
            arch = self.oracle.architecture(trial_id)
            member = graph.build_model(arch, name=f"trial_{trial_id}")
            _load_weights(member, self._get_checkpoint_fname(trial_id))
            y = member(inputs)
            outputs.append(y if self._outputs_probabilities else keras.layers.Softmax()(y))
        mean = keras.layers.Average(name="mean_probabilities")(outputs) if len(outputs) > 1 else outputs[0]
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


def _load_weights(model, path):
    """Load a trial checkpoint's layer weights; its optimizer variables are not needed."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(path)


# -- input checks -----------------------------------------------------------------------------
def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")


def _first_batch(data):
    """(x, y) of the first batch of a tf.data dataset or of (x, y) arrays."""
    if isinstance(data, tf.data.Dataset):
        for batch in data.take(1):
            return batch[0], batch[1]
        return None
    x, y = data[0], data[1]
    if len(x) == 0:
        return None
    return x, y


def _check_data(arch, fit_args, fit_kwargs, objective):
    expected = tuple(arch.node(arch.inputs[0]).config["shape"])
    num_classes = arch.shape(arch.outputs[0])[-1]
    train = fit_args[0] if fit_args else fit_kwargs.get("x")
    if train is None:
        raise ValueError("`search` needs training data: search(x, y, validation_data=...) or search(dataset, validation_data=...).")
    if not isinstance(train, tf.data.Dataset):
        y = fit_args[1] if len(fit_args) > 1 else fit_kwargs.get("y")
        if y is None:
            raise ValueError("`search` got `x` without `y`; pass labels or a tf.data dataset of (x, y).")
        train = (np.asarray(train), np.asarray(y))
    validation = fit_kwargs.get("validation_data")
    if validation is None and objective.name.startswith("val_"):
        raise ValueError(
            f"The objective {objective.name!r} needs `validation_data`: NASH selects children on a held-out split."
        )
    for name, data in (("training data", train), ("validation_data", validation)):
        if data is None:
            continue
        batch = _first_batch(data)
        if batch is None:
            raise ValueError(f"The {name} is empty.")
        x, y = batch
        if tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"The {name} has inputs of shape {tuple(x.shape[1:])}, but the seed network expects {expected}."
            )
        labels = np.asarray(data[1] if isinstance(data, tuple) else y)
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(
                f"The {name} has labels in [{labels.min()}, {labels.max()}], but the seed network has "
                f"{num_classes} outputs: labels must be in [0, {num_classes - 1}]."
            )


def _validation_batch(fit_kwargs):
    batch = _first_batch(fit_kwargs["validation_data"])
    x = batch[0]
    return x[: fit_kwargs.get("batch_size") or 32] if not isinstance(fit_kwargs["validation_data"], tf.data.Dataset) else x


def _steps_per_epoch(args, kwargs):
    data = args[0] if args else kwargs.get("x")
    if isinstance(data, tf.data.Dataset):
        steps = int(data.cardinality())
        if steps < 0:  # unknown or infinite: count once
            steps = kwargs.get("steps_per_epoch") or sum(1 for _ in data)
        return max(1, steps)
    return max(1, math.ceil(len(data) / (kwargs.get("batch_size") or 32)))


__all__ = ["NashOracle", "NashTuner"]
