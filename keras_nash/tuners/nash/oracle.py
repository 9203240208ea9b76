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
from keras_nash.tuners.nash.budget import TimeBudget, check_cost, static_cost
from keras_nash.tuners.nash.display import KEY, NashDisplay
from keras_nash.tuners.nash.pareto import non_dominated, sample_parents
from keras_nash.tuners.nash.workers import beat, contact, forget_dead, owner, take_over

_DONE = (TrialStatus.COMPLETED, TrialStatus.FAILED)


class NashOracle(internals.AtomicStateFiles, TimeBudget, keras_tuner.Oracle):
    """The NASH hill-climbing coordinator: proposes children, promotes the best.

    Args:
        seed_architecture: `Architecture` (or its JSON) of the seed network.
        objective: the keras-tuner objective. Defaults to "val_accuracy".
        n_steps: int >= 1, hill-climbing steps, or None: climb until the time budget stops it
            (needs `time_budget`). Defaults to 5.
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
            training included (counted from the first trial, across resumes). The
            pre-training and the hill climb get `1 - final_share` of it (`climb_budget`), the
            final training the rest, whatever `n_steps` is. A child is proposed only if its
            expected training (its parent's measured seconds per epoch times their ratio of
            multiply-adds, after the step's children planned before it, with a 25% margin)
            ends inside the climb's share, and its final training would get at least
            `epochs_per_neighbor`
            epochs in the final share; once the climb's share is spent, or when no child fits,
            no new hill-climbing trial starts (the current step ends with the trials already
            started; the previous incumbent stays a candidate). The final training then gets
            as many epochs as fit in what is left at the incumbent's measured speed, at most
            `final_epochs`, its cosine schedule over them (none if fewer than
            `epochs_per_neighbor` fit: the incumbent is the result). Defaults to None (no
            limit: `n_steps` and `final_epochs` decide).
        final_share: float in (0, 1), the share of `time_budget` kept for the final training
            (ignored when `final_epochs` is 0 or without a budget). Defaults to 0.25: the
            paper's final training is 100 epochs of 800 (20 pre-training, 5 x 8 x 17 climbing),
            12.5% of the epochs, but of the climb's largest network, where the climb's
            networks grow from the seed to it; weighted by cost that is about a quarter of the
            time (and on a 10-minute budget, 150 s of final training).
        cost: "params", "flops" (multiply-adds) or "seconds" (measured seconds per training
            epoch), the cost recorded for every trial as its metric `cost`, and the one
            `pareto` and `max_cost_growth` use. Defaults to "params".
        pareto: bool, LEMONADE's multi-objective climb (Elsken et al. 2019): the front of
            (objective, cost) over every trained network is kept, and each step's
            `n_neighbors` children are morphisms of parents drawn from it with probability
            inversely proportional to a kernel density of the front's log-costs (sparse,
            cheap regions first); the incumbent, trained at the end, is the front's best on
            the objective. False: the paper's single-objective hill climb. Defaults to False.
        max_cost_growth: optional float >= 1, the largest cost of a child over its parent's
            (its multiply-adds when `cost` is "seconds"): morphisms are redrawn to stay under
            it. Defaults to None (no bound, the paper).
        seed: int, the random seed (0 included). Defaults to None: a random one.
        heartbeat_timeout: optional float, seconds: in a distributed search, a running trial
            whose worker has reported no epoch for this long is re-issued to the next other
            worker that asks (`tuners/nash/workers.py`). Defaults to None: 3 times the trial's
            expected seconds, at least 10 minutes (an hour before any speed is measured).
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
        final_share=0.25,
        cost="params",
        pareto=False,
        max_cost_growth=None,
        seed=None,
        heartbeat_timeout=None,
        max_consecutive_failed_trials=None,
        **kwargs,
    ):
        if time_budget is not None and not time_budget > 0:
            raise ValueError(
                f"`time_budget` must be > 0 seconds or None. Received: time_budget={time_budget}"
            )
        if heartbeat_timeout is not None and not heartbeat_timeout > 0:
            raise ValueError(
                "`heartbeat_timeout` must be > 0 seconds or None. Received: "
                f"heartbeat_timeout={heartbeat_timeout}"
            )
        if n_steps is None and time_budget is None:
            raise ValueError(
                "`n_steps=None` climbs until the time budget stops it: give a `time_budget` "
                "(seconds) or an int `n_steps`. Received: n_steps=None, time_budget=None"
            )
        if not 0 < final_share < 1:
            raise ValueError(
                f"`final_share` must be in (0, 1). Received: final_share={final_share}"
            )
        if max_cost_growth is not None and not max_cost_growth >= 1:
            raise ValueError(
                "`max_cost_growth` must be >= 1 or None. Received: "
                f"max_cost_growth={max_cost_growth}"
            )
        if isinstance(seed_architecture, str):
            seed_architecture = Architecture.from_json(seed_architecture)
        if not isinstance(seed_architecture, Architecture):
            raise ValueError(
                "`seed_architecture` must be an Architecture. Received: "
                f"{type(seed_architecture).__name__}"
            )
        self.n_steps = None if n_steps is None else check_int("n_steps", n_steps, 1)
        self.cost = check_cost(cost)
        self.final_share = float(final_share)
        self.pareto = bool(pareto)
        self.max_cost_growth = None if max_cost_growth is None else float(max_cost_growth)
        self.n_neighbors = check_int("n_neighbors", n_neighbors, 1)
        self.n_morphisms = check_int("n_morphisms", n_morphisms, 1)
        self.epochs_per_neighbor = check_int("epochs_per_neighbor", epochs_per_neighbor, 1)
        self.final_epochs = check_int("final_epochs", final_epochs, 0)
        self.pretrain_epochs = check_int("pretrain_epochs", pretrain_epochs, 1)
        # Fails early on bad operator settings (and checks the sampler accepts them).
        morphisms.random_morphisms(
            seed_architecture,
            0,
            0,
            morphism_probabilities,
            kernel_sizes,
            widening_factors,
            skip_modes,
        )
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
        self.heartbeat_timeout = heartbeat_timeout
        self._heartbeats = {}  # trial id -> last sign of progress (not saved: reset on load)
        self._contacts = {}  # tuner id -> its last call (not saved)
        # Search state (JSON, saved with the oracle).
        self._step = 0  # 0: pre-training, then the hill-climbing steps
        self._final = False  # the final training (its step: the one after the last climbing step)
        self._ended = None  # wall-clock time the search finished
        self._pending = []  # values of this step's trials not issued yet
        self._step_trials = []  # ids of this step's trials issued so far
        self._incumbent = None  # trial id
        self._history = []  # one record per finished step
        self._tuner_of = {}  # trial id -> id of the tuner (worker) that ran it
        self._reissued = []  # trials taken from a silent worker (`workers.py`)
        self._finished = False
        self._started = None  # wall-clock time of the first trial
        internals.set_display(self, NashDisplay)

    # -- keras-tuner hooks ------------------------------------------------------------------
    def populate_space(self, trial_id):
        if self._finished:
            return {"status": TrialStatus.STOPPED, "values": None}
        if self._started is None:
            self._started = time.time()
        climbing = self._step >= 1 and not self._final
        if climbing and not self._pending and not self._step_trials:
            self._pending = [] if self._budget_spent() else self._plan_step()
            if not self._pending:
                logger.info(
                    "NASH time budget: no child of step %d fits what is left of the climb's %.0f "
                    "s.",
                    self._step,
                    self.climb_budget,
                )
                return self._end_climb(trial_id)
        if (
            climbing
            and self._pending
            and (self._budget_spent() or not self._fits(self._pending[0]))
        ):
            # No new hill-climbing trial: the step ends with the trials already started (the
            # previous incumbent stays a candidate), then the final training.
            logger.info(
                "NASH time budget: %d trial(s) of step %d not started (the climb's %.0f s "
                "are spent, or the next would end past the %.0f s budget).",
                len(self._pending),
                self._step,
                self.climb_budget,
                self.time_budget,
            )
            self._pending = []
            if not self._step_trials:
                return self._end_climb(trial_id)
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

    def _end_climb(self, trial_id):
        """No further hill-climbing step: the final training next (or the end)."""
        logger.info("NASH: the hill climb ends after %d step(s); final training.", self._step - 1)
        self._final = True
        if self.final_epochs == 0:
            self._finish()
        return self.populate_space(trial_id)

    def _finish(self):
        self._finished = True
        self._ended = time.time()

    @property
    def tuner_ids(self):
        """keras-tuner's set of the workers seen, which its chief waits for before it exits
        (`exit_chief` reads it every 20 s): once the search has ended, without the workers that
        died between two trials (`workers.forget_dead`)."""
        if getattr(self, "_finished", False):
            forget_dead(self, self._tuner_ids)
        return self._tuner_ids

    @tuner_ids.setter
    def tuner_ids(self, value):
        self._tuner_ids = value

    @keras_tuner.synchronized
    def create_trial(self, tuner_id):
        contact(self, tuner_id)
        trial = take_over(self, tuner_id) or super().create_trial(tuner_id)
        if trial.status == TrialStatus.RUNNING:
            self._tuner_of[trial.trial_id] = tuner_id
            beat(self, trial.trial_id)
            self.save()  # keras-tuner saved before the trial's worker was known
        return trial

    @keras_tuner.synchronized
    def update_trial(self, trial_id, metrics, step=0):
        beat(self, trial_id)
        if not metrics or self.trials[trial_id].status in _DONE:
            # A worker's epoch ended (`NashTuner.on_epoch_end`), or a trial re-issued and ended
            # by another worker: its status tells the worker.
            return self.trials[trial_id]
        return super().update_trial(trial_id, metrics, step)

    @keras_tuner.synchronized
    def end_trial(self, trial):
        running = owner(self, trial.trial_id)
        if running:
            contact(self, running)  # it asks for its next trial once this end is written
        if self.trials[trial.trial_id].status in _DONE and not running:
            logger.info(
                "NASH: trial %s was re-issued and has ended: this later end is ignored.",
                trial.trial_id,
            )
            return
        super().end_trial(trial)

    def get_state(self):
        state = super().get_state()
        state.update(
            {
                "nash_seed_architecture": self.seed_architecture.to_dict(),
                "nash_step": self._step,
                "nash_final": self._final,
                "nash_ended": self._ended,
                "nash_pending": self._pending,
                "nash_step_trials": self._step_trials,
                "nash_incumbent": self._incumbent,
                "nash_history": self._history,
                "nash_tuner_of": self._tuner_of,
                "nash_reissued": self._reissued,
                "nash_finished": self._finished,
                "nash_started": self._started,
            }
        )
        return state

    def set_state(self, state):
        super().set_state(state)
        self.seed_architecture = Architecture.from_dict(state["nash_seed_architecture"])
        self._step = state["nash_step"]
        self._final = state.get("nash_final", False)
        self._ended = state.get("nash_ended")
        self._pending = state["nash_pending"]
        self._step_trials = state["nash_step_trials"]
        self._incumbent = state["nash_incumbent"]
        self._history = state["nash_history"]
        self._tuner_of = state.get("nash_tuner_of", {})
        self._reissued = state.get("nash_reissued", [])
        self._finished = state["nash_finished"]
        self._started = state.get("nash_started")

    # -- the Pareto front ---------------------------------------------------------------------
    def trial_cost(self, trial_id) -> float:
        """A trial's cost (`cost`): its recorded metric, or from its architecture."""
        recorded = internals.last_metric(self.trials[trial_id], "cost")
        if recorded is not None:
            return float(recorded)
        return static_cost(self.architecture(trial_id), self.cost)

    def pareto_front(self) -> list:
        """The completed trials no other completed trial beats on both the objective and the
        cost (`cost`), cheapest first."""
        sign = 1.0 if self.objective.direction == "max" else -1.0
        points = [(t.trial_id, sign * t.score, self.trial_cost(t.trial_id)) for t in self._scored()]
        return [self.trials[key] for key, _, _ in non_dominated(points)]

    def _scored(self):
        return [
            self.trials[t]
            for t in sorted(self.trials)
            if self.trials[t].status == TrialStatus.COMPLETED
            and self.trials[t].score is not None
            and KEY + "arch" in self.trials[t].hyperparameters.values
        ]

    def _parents(self, n: int) -> list:
        """The parents of a step's `n` children: the incumbent, or (`pareto`) front members."""
        if not self.pareto:
            return [self._incumbent] * n
        front = [
            (t.trial_id, 0.0, self.trial_cost(t.trial_id))
            for t in self.pareto_front()
            if t.hyperparameters.values[KEY + "role"] != "final"
        ]
        return sample_parents(front, n, np.random.default_rng([self.seed, self._step, 2**20]))

    @property
    def history(self) -> list:
        """One record per finished step: its trials, their scores and the incumbent chosen."""
        return list(self._history)

    def get_best_trials(self, num_trials=1):
        """The search's result first, then the other trials by score: the incumbent (after the
        final training, the final network), not whichever trial scored highest (an earlier
        child's score is that of a shorter training, and not what the search returns)."""
        ranked = super().get_best_trials(len(self.trials))
        if (
            self._incumbent is not None
            and self.trials[self._incumbent].status == TrialStatus.COMPLETED
        ):
            ranked = [self.trials[self._incumbent]] + [
                t for t in ranked if t.trial_id != self._incumbent
            ]
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
            KEY + "role": role,
            KEY + "step": self._step,
            KEY + "arch": arch.to_json(),
            KEY + "parent": parent or "",
            KEY + "morphs": json.dumps(morphs),
            KEY + "epochs": int(epochs),
            # Workers reach the oracle over gRPC, which does not carry its seed (nor the cost to
            # record): the trial does.
            KEY + "seed": int(self.seed),
            KEY + "cost": self.cost,
        }

    def _plan_step(self):
        """The values of every trial of the current step (architectures only, no weights)."""
        if self._step == 0:
            return [self._values("seed", self.seed_architecture, None, [], self.pretrain_epochs)]
        if self._final:
            epochs = self._final_epochs()
            return (
                [
                    self._values(
                        "final", self.architecture(self._incumbent), self._incumbent, [], epochs
                    )
                ]
                if epochs
                else []
            )
        retrain = self.n_neighbors > 1 and not self.pareto
        n_children = self.n_neighbors - 1 if retrain else self.n_neighbors
        planned, before = [], 0.0
        cost = lambda arch: static_cost(arch, self.cost)  # noqa: E731
        for j, parent in enumerate(self._parents(n_children)):
            rng = np.random.default_rng([self.seed, self._step, j])
            parent_arch = self.architecture(parent)
            ms = morphisms.random_morphisms(
                parent_arch,
                self.n_morphisms,
                rng,
                self.morphism_probabilities,
                self.kernel_sizes,
                self.widening_factors,
                self.skip_modes,
                cost=cost,
                max_growth=self.max_cost_growth,
            )
            if not ms:
                continue
            values = self._values(
                "child", morphisms.apply(parent_arch, ms), parent, ms, self.epochs_per_neighbor
            )
            if not self._affordable(values, before):
                logger.info(
                    "NASH time budget: child %d of step %d not proposed (%s params): it would not "
                    "fit the budget with the final training.",
                    j,
                    self._step,
                    f"{Architecture.from_json(values[KEY + 'arch']).count_params():,}",
                )
                continue
            before += (self._expected(values) or (0.0,))[0]
            planned.append(values)
        if retrain:
            values = self._values(
                "incumbent",
                self.architecture(self._incumbent),
                self._incumbent,
                [],
                self.epochs_per_neighbor,
            )
            if planned and self._affordable(values, before):
                planned.append(values)
        return planned

    def _finish_step(self):
        trials = [self.trials[t] for t in self._step_trials]
        completed = [t for t in trials if t.status == TrialStatus.COMPLETED and t.score is not None]
        record = {
            "step": self._step,
            "final": self._final,
            "trials": {t.trial_id: {"status": t.status, "score": t.score} for t in trials},
            "previous_incumbent": self._incumbent,
        }
        if self._final:
            self._finish()
            if completed:
                self._incumbent = completed[0].trial_id
            record["incumbent"] = self._incumbent
        else:
            # The paper's selection: the argmax over the neighbours just trained (the old
            # incumbent competes as its retrained copy). Only when that copy did not finish (a
            # spent time budget, a failure) does the old incumbent's own score stand in for it.
            # `pareto`: the best on the objective of every network trained so far.
            candidates = list(completed)
            retrained = any(
                t.hyperparameters.values[KEY + "role"] == "incumbent" for t in completed
            )
            if self._incumbent is not None and self.n_neighbors > 1 and not retrained:
                candidates.append(self.trials[self._incumbent])
            if self.pareto:
                candidates = [
                    t for t in self._scored() if t.hyperparameters.values[KEY + "role"] != "final"
                ]
            if candidates:
                best = candidates[0]
                for trial in candidates[1:]:
                    if self.objective.better_than(trial.score, best.score):
                        best = trial
                self._incumbent = best.trial_id
            elif self._incumbent is None:
                raise RuntimeError(
                    "The seed network's pre-training failed; see the trial's message."
                )
            record["incumbent"] = self._incumbent
            self._step += 1
            if self.n_steps is not None and self._step > self.n_steps:
                self._final = True
                if self.final_epochs == 0:
                    self._finish()
        record["incumbent_score"] = self.trials[self._incumbent].score if self._incumbent else None
        self._history.append(record)
        self._step_trials = []
        self._pending = []
        logger.info(
            "NASH %s done: incumbent trial %s (%s=%s)",
            "final training"
            if record["final"]
            else "pre-training"
            if record["step"] == 0
            else f"step {record['step']}",
            record["incumbent"],
            self.objective.name,
            record["incumbent_score"],
        )

    def architecture(self, trial_id) -> Architecture:
        """The `Architecture` a trial trained."""
        return Architecture.from_json(self.trials[trial_id].hyperparameters.values[KEY + "arch"])
