"""Progress a user can follow: a line when a trial starts, a line per epoch, the time left.

- `TrialProgress` (tuner mixin): when a trial starts, one line through the "keras_nash" logger:
  `trial 0002 (3 of 10 planned) | NASH step 1, child of trial 0000 | 17 epochs | 212 s of
  the 300 s budget left`.
  The planned count is the search's plan (NASH: the seed's pre-training, `n_steps` x
  `n_neighbors` neighbours, the final training; a supernet search: its epochs and the final
  training); a time budget may end the search before it.
- `EpochProgress` (Keras callback): a line per epoch with its metrics, its seconds and, under a
  time budget, the budget left (and within a slow epoch a line every 25 s at most): `trial 0002 epoch 2/17 | loss 1.5457 accuracy 0.4312
  val_accuracy 0.4100 | 4.2 s | 208 s of the budget left`. Pass it in `search(callbacks=[...])`
  (the command line does): the mixin gives every copy the trial's name and the budget's end.

The lines are INFO records of the "keras_nash" logger (`keras_nash.logs`), so
`logs.set_verbosity("WARNING")` silences them, as it does the per-trial result lines.
"""

import time

import keras

from keras_nash.logs import logger

_SHOWN = ("loss", "accuracy", "val_loss", "val_accuracy")


def format_metrics(logs: dict) -> str:
    """`loss 1.5457 accuracy 0.4312 ...`: the usual metrics of a Keras log, four decimals."""
    return " ".join(f"{name} {float(logs[name]):.4f}" for name in _SHOWN if logs.get(name) is not None)


class EpochProgress(keras.callbacks.Callback):
    """Logs one line per epoch: the trial, the epoch, its metrics and seconds, the budget left;
    and within an epoch that runs longer than `interval` seconds, a line at the first batch
    after each `interval` (the batch reached and its running metrics), so that a slow epoch
    is never silent for long.

    Args:
        label: str, what trains (set per trial by `TrialProgress`). Defaults to "".
        deadline: float or None, the budget's end as a `time.time()` value (set per trial by
            `TrialProgress` under a time budget). Defaults to None.
        interval: float, the most seconds between two lines within an epoch. Defaults to 25.
    """

    def __init__(self, label: str = "", deadline: float = None, interval: float = 25.0):
        super().__init__()
        self.label, self.deadline, self.interval = label, deadline, float(interval)
        self._epochs, self._start, self._last = None, None, None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs") if self.params else None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._last = time.perf_counter()
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._last is None or now - self._last < self.interval:
            return
        self._last = now
        steps = self.params.get("steps") if self.params else None
        logger.info(self._line(self._epoch, f"batch {batch + 1}{f'/{steps}' if steps else ''} | "
                                            f"{format_metrics(logs or {})}", now - self._start))

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start if self._start is not None else 0.0
        logger.info(self._line(epoch, format_metrics(logs or {}), seconds))
        self._last = None

    def _line(self, epoch, what, seconds) -> str:
        total = f"/{self._epochs}" if self._epochs else ""
        line = f"{self.label + ' ' if self.label else ''}epoch {epoch + 1}{total} | {what} | {seconds:.1f} s"
        if self.deadline is not None:
            line += f" | {max(0.0, self.deadline - time.time()):.0f} s of the budget left"
        return line


class TrialProgress:
    """Tuner mixin: a line when each trial starts (see the module's docstring), and the trial's
    name and the budget's end given to the `EpochProgress` callbacks of `search()`. Put it
    before `keras_tuner.Tuner`."""

    def search(self, *fit_args, **fit_kwargs):
        self._epoch_progress = [c for c in fit_kwargs.get("callbacks") or [] if isinstance(c, EpochProgress)]
        self._search_started = time.time()
        return super().search(*fit_args, **fit_kwargs)

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        what, epochs = self.trial_description(trial)
        deadline = self._deadline()
        planned = self.planned_trials()
        line = f"trial {trial.trial_id} ({int(trial.trial_id) + 1}" + (f" of {planned} planned)" if planned else ")")
        line += f" | {what}" + (f" | {epochs} epochs" if epochs else "")
        if deadline is not None:
            line += f" | {max(0.0, deadline - time.time()):.0f} s of the {self.oracle.time_budget:.0f} s budget left"
        logger.info(line)
        for callback in getattr(self, "_epoch_progress", []):
            callback.label, callback.deadline = f"trial {trial.trial_id}", deadline

    def planned_trials(self):
        """The number of trials the search plans (None when the oracle is not here: a worker)."""
        try:
            oracle = self.oracle
            if hasattr(oracle, "n_neighbors"):  # NASH: pre-training, the steps, the final training
                if oracle.n_steps is None:  # the time budget ends the climb
                    return None
                return 1 + oracle.n_steps * oracle.n_neighbors + (1 if oracle.final_epochs else 0)
            if hasattr(oracle, "epochs"):  # supernet searches: the epochs, the final training
                return int(oracle.epochs) + 1
        except AttributeError:  # a worker's OracleClient
            return None
        return None

    def trial_description(self, trial):
        """(what the trial trains, its epochs or None), read from its values."""
        values = trial.hyperparameters.values
        for prefix, name in (("nash/", "NASH"), (getattr(self, "key_prefix", ""), type(self).__name__)):
            role = values.get(prefix + "role")
            if role is None:
                continue
            if prefix == "nash/":
                parent = values.get(prefix + "parent")
                return (f"NASH step {values.get(prefix + 'step')}, {role}"
                        + (f" of trial {parent}" if parent else ""), values.get(prefix + "epochs"))
            name = prefix.rstrip("/").upper() or name
            if role == "final":
                return f"{name} final training of the found network", getattr(self, "final_epochs", None)
            return f"{name} search epoch {values.get(prefix + 'epoch')}", None
        return "the final training", getattr(self, "final_epochs", None)

    def _deadline(self):
        try:
            budget = getattr(self.oracle, "time_budget", None)
            started = getattr(self.oracle, "_started", None)
        except AttributeError:
            return None
        if not budget or budget == float("inf"):
            return None
        return (started or self._search_started) + float(budget)
