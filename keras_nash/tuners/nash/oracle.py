"""NASH's hill-climbing oracle (Elsken et al. 2017): which networks to train, which to keep.

`NashOracle` decides and `NashTuner` (`tuners/nash/tuner.py`) trains, as keras-tuner's
`HyperbandOracle` and `Hyperband`; the oracle holds the lineage as JSON state and draws every
morphism itself (architectures only, from its saved seed), so a search resumes exactly and
distributed workers need nothing but the trial values. See `tuners/nash/tuner.py` for the search.
"""

import json
import time

import keras_tuner
import numpy as np

from keras_nash import internals, morphisms
from keras_nash.checks import check_int
from keras_nash.graph import Architecture
from keras_nash.internals import TrialStatus
from keras_nash.logs import logger

_DONE = (TrialStatus.COMPLETED, TrialStatus.FAILED)
_KEY = "nash/"


class NashOracle(internals.AtomicStateFiles, keras_tuner.Oracle):
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
        time_budget: optional float, seconds of wall time for the whole search, final
            training included (counted from the first trial, across resumes). The hill climb
            gets the share of the budget that its planned epochs have among all planned
            epochs (`climb_budget`); once that is spent, or when a trial would not end inside
            the whole budget at the incumbent's measured speed, no new hill-climbing trial
            starts (the current step ends with the trials already started; the previous
            incumbent stays a candidate). The final training then gets as many epochs as fit
            in what is left at the incumbent's measured speed, at most `final_epochs`, its
            cosine schedule over them (none if fewer than `epochs_per_neighbor` fit: the
            incumbent is the result). Defaults to None (no limit: `n_steps` and `final_epochs` decide).
        seed: int, the random seed (0 included). Defaults to None: a random one.
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
        if time_budget is not None and not time_budget > 0:
            raise ValueError(f"`time_budget` must be > 0 seconds or None. Received: time_budget={time_budget}")
        if isinstance(seed_architecture, str):
            seed_architecture = Architecture.from_json(seed_architecture)
        if not isinstance(seed_architecture, Architecture):
            raise ValueError(f"`seed_architecture` must be an Architecture. Received: {type(seed_architecture).__name__}")
        self.n_steps = check_int("n_steps", n_steps, 1)
        self.n_neighbors = check_int("n_neighbors", n_neighbors, 1)
        self.n_morphisms = check_int("n_morphisms", n_morphisms, 1)
        self.epochs_per_neighbor = check_int("epochs_per_neighbor", epochs_per_neighbor, 1)
        self.final_epochs = check_int("final_epochs", final_epochs, 0)
        self.pretrain_epochs = check_int("pretrain_epochs", pretrain_epochs, 1)
        # Fails early on bad operator settings (and checks the sampler accepts them).
        morphisms.random_morphisms(seed_architecture, 0, 0, morphism_probabilities, kernel_sizes, widening_factors, skip_modes)
        super().__init__(
            objective=objective,
            max_trials=None,
            seed=seed,
            max_consecutive_failed_trials=max_consecutive_failed_trials or 2 * self.n_neighbors + 1,
            **kwargs,
        )
        internals.keep_seed(self, seed)
        self.seed_architecture = seed_architecture
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
        internals.set_display(self, _NashDisplay)

    # -- keras-tuner hooks ------------------------------------------------------------------
    def populate_space(self, trial_id):
        if self._finished:
            return {"status": TrialStatus.STOPPED, "values": None}
        if self._started is None:
            self._started = time.time()
        climbing = 1 <= self._step <= self.n_steps
        if climbing and not self._budget_spent() and not self._pending and not self._step_trials:
            self._pending = self._plan_step()
        if climbing and (self._budget_spent() or (self._pending and not self._fits(self._pending[0]))):
            # No new hill-climbing trial: the step ends with the trials already started (the
            # previous incumbent stays a candidate), then the final training.
            if self._pending:
                logger.info("NASH time budget: %d trial(s) of step %d not started (the climb's %.0f s "
                            "are spent, or the next would end past the %.0f s budget).", len(self._pending),
                            self._step, self.climb_budget, self.time_budget)
                self._pending = []
            if not self._step_trials:
                logger.info("NASH time budget of %.0f s spent after %d steps: final training.",
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
            return {"status": TrialStatus.RUNNING, "values": values}
        if not all(self.trials[t].status in _DONE for t in self._step_trials):
            # Never IDLE without a running trial: single-process search would spin.
            if self.ongoing_trials:
                return {"status": TrialStatus.IDLE, "values": None}
        self._finish_step()
        return self.populate_space(trial_id)

    @keras_tuner.synchronized
    def create_trial(self, tuner_id):
        trial = super().create_trial(tuner_id)
        if trial.status == TrialStatus.RUNNING:
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
    @property
    def climb_budget(self):
        """Seconds of the time budget for pre-training and hill climbing: its share of the
        planned epochs, the rest left for the final training (None without a budget)."""
        if self.time_budget is None:
            return None
        climb = self.pretrain_epochs + self.n_steps * self.n_neighbors * self.epochs_per_neighbor
        return self.time_budget * climb / (climb + self.final_epochs)

    def _budget_spent(self):
        return self.time_budget is not None and time.time() - self._started >= self.climb_budget

    def _speed(self):
        """The incumbent's measured (seconds per epoch, seconds per trial outside training), or
        None before it has been measured."""
        trial = self.trials.get(self._incumbent)
        if trial is None or not (trial.metrics.exists("fit_seconds") and trial.metrics.exists("trial_seconds")):
            return None
        fit, total = trial.metrics.get_last_value("fit_seconds"), trial.metrics.get_last_value("trial_seconds")
        return fit / int(trial.hyperparameters.values[_KEY + "epochs"]), max(0.0, total - fit)

    def _fits(self, values) -> bool:
        """Whether a hill-climbing trial is expected to end inside the whole time budget, at the
        incumbent's measured speed (a child a morphism made bigger may run a little longer)."""
        speed = self._speed()
        if self.time_budget is None or speed is None:
            return True
        per_epoch, overhead = speed
        expected = per_epoch * int(values[_KEY + "epochs"]) + overhead
        return time.time() - self._started + expected <= self.time_budget

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
        logger.info("NASH time budget: %.0f s left, %.2f s an epoch: %d final epochs.",
                    left, per_epoch, epochs)
        return epochs

    @property
    def history(self) -> list:
        """One record per finished step: its trials, their scores and the incumbent chosen."""
        return list(self._history)

    def get_best_trials(self, num_trials=1):
        """The search's result first, then the other trials by score: the incumbent (after the
        final training, the final network), not whichever trial scored highest (an earlier
        child's score is that of a shorter training, and not what the search returns)."""
        ranked = super().get_best_trials(len(self.trials))
        if self._incumbent is not None and self.trials[self._incumbent].status == TrialStatus.COMPLETED:
            ranked = [self.trials[self._incumbent]] + [t for t in ranked if t.trial_id != self._incumbent]
        return ranked[:num_trials]

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
            epochs = self._final_epochs()
            return [self._values("final", incumbent_arch, self._incumbent, [], epochs)] if epochs else []
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
        completed = [t for t in trials if t.status == TrialStatus.COMPLETED and t.score is not None]
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
            # The paper's selection: the argmax over the neighbours just trained (the old
            # incumbent competes as its retrained copy). Only when that copy did not finish (a
            # spent time budget, a failure) does the old incumbent's own score stand in for it.
            candidates = list(completed)
            retrained = any(t.hyperparameters.values[_KEY + "role"] == "incumbent" for t in completed)
            if self._incumbent is not None and self.n_neighbors > 1 and not retrained:
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
        logger.info(
            "NASH step %d done: incumbent trial %s (%s=%s)", record["step"], record["incumbent"],
            self.objective.name, record["incumbent_score"],
        )

    def architecture(self, trial_id) -> Architecture:
        """The `Architecture` a trial trained."""
        return Architecture.from_json(self.trials[trial_id].hyperparameters.values[_KEY + "arch"])


class _NashDisplay(internals.Display):
    """One readable line per trial instead of keras-tuner's table (architectures are long)."""

    def show_hyperparameter_table(self, trial):
        values = trial.hyperparameters.values
        if _KEY + "arch" not in values:
            return super().show_hyperparameter_table(trial)
        arch = Architecture.from_json(values[_KEY + "arch"])
        morphs = json.loads(values[_KEY + "morphs"])
        applied = ", ".join(describe(m) for m in morphs) or "none"
        print(
            f"step {values[_KEY + 'step']} | {values[_KEY + 'role']} | parent trial "
            f"{values[_KEY + 'parent'] or '-'} | {values[_KEY + 'epochs']} epochs | "
            f"{arch.count_params():,} params | morphisms: {applied}"
        )




def describe(m) -> str:
    """A morphism as a short readable string, e.g. `deeper(relu_2, k=3)`."""
    if m["op"] == "deeper":
        return f"deeper({m['after']}, k={m['kernel_size']})"
    if m["op"] == "wider":
        return f"wider({m['conv']}, x{m['factor']})"
    return f"skip-{m['mode']}({m['from']} -> {m['to']})"
