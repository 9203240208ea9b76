"""The one door to keras-tuner's and Keras's private API: every private symbol keras_nash uses.

keras_nash is a set of keras-tuner Oracles and Tuners, and a few things it needs are not public
in keras-tuner 1.4 (setup.py bounds it to `>=1.4.7,<1.5`) or Keras 3. They are all reached here
and nowhere else, so an upgrade that removes one breaks this module (and
`tests/test_internals.py`, which names the missing symbol), not the searches in silence.

keras-tuner:
- `Display` (`keras_tuner.src.engine.oracle.Display`): the base of the one-line trial displays.
- `SaveBestEpoch` (`keras_tuner.src.engine.tuner_utils`): the callback `Tuner.run_trial` adds
  to save each improving epoch's weights, which NASH leaves out (it keeps the end of the cycle).
- `Oracle._display`, `Oracle._project_dir`: through `set_display` and `project_dir`;
  `Oracle._retry_queue` (the trials a restart runs again): through `retry_queue`;
  `Oracle._seed_state` (with `Oracle.seed`: keras-tuner turns `seed=0` into a random seed):
  through `keep_seed`.
- `Tuner._try_build` (clear_session + build + size check), `Tuner._get_checkpoint_fname`,
  `Tuner._get_build_config_fname`,
  `Tuner._deepcopy_callbacks`, `Tuner._configure_tensorboard_dir`: through the functions below.
- Hooks keras_nash overrides (`OVERRIDDEN`): `Tuner._build_and_fit_model` (documented by
  keras-tuner as an override point "for AutoKeras"), `BaseTuner._populate_initial_space` and
  `Oracle._save_trial` (with `Oracle._get_oracle_fname` / `_get_trial_dir`, in
  `AtomicStateFiles`, and `BaseTuner._is_worker` / `_get_tuner_fname` in
  `AtomicTunerFile`: the oracle's and the tuner's files written by atomic replace).
- The project layout keras-tuner writes and reads: `<project>/trial_<id>/checkpoint.weights.h5`
  (`trial_dir`, `CHECKPOINT_FILE`).

Keras:
- `Model._symbolic_build` (what `fit` runs first under a distribution strategy): through
  `build_compiled_state`, so that a NASH child's train step is traced once, not twice.
- `Optimizer._apply_weight_decay` (overridden to switch off the decoupled form),
  `Optimizer._clip_gradients` (overridden to clip after the replicas' sum) and
  `Optimizer._use_weight_decay` (the `exclude_from_weight_decay` filter), for the coupled L2
  of `keras_nash.optimizers`.
"""

import json
import os

import keras
import keras_tuner
from keras_tuner.engine.trial import TrialStatus  # noqa: F401  (public; re-exported for one import)
from keras_tuner.src.engine import base_tuner as _base_tuner_module
from keras_tuner.src.engine import oracle as _oracle_module
from keras_tuner.src.engine import tuner_utils as _tuner_utils

from keras_nash import files

CHECKPOINT_FILE = "checkpoint.weights.h5"
"""The file keras-tuner's `Tuner` saves a trial's best weights to and `load_model` reads."""

Display = _oracle_module.Display
"""keras-tuner's trial display (`show_hyperparameter_table`, `on_trial_begin`, ...)."""

SaveBestEpoch = _tuner_utils.SaveBestEpoch
"""The callback keras-tuner's `run_trial` adds: saves the weights at every improving epoch."""

OVERRIDDEN = {
    keras_tuner.Tuner: ("_build_and_fit_model",),
    _base_tuner_module.BaseTuner: ("_populate_initial_space",),
    keras_tuner.Oracle: ("_save_trial",),
    keras.optimizers.Optimizer: ("_apply_weight_decay", "_clip_gradients"),
}
"""Private methods keras_nash's subclasses override, by the class that must still define them."""

CALLED = {
    keras_tuner.Tuner: (
        "_try_build",
        "_get_checkpoint_fname",
        "_deepcopy_callbacks",
        "_configure_tensorboard_dir",
        "_get_build_config_fname",
    ),
    keras.optimizers.Optimizer: ("_use_weight_decay",),
    keras.Model: ("_symbolic_build",),
    keras_tuner.Oracle: ("_get_oracle_fname", "_get_trial_dir"),
    _base_tuner_module.BaseTuner: ("_is_worker", "_get_tuner_fname"),
}
"""Private methods keras_nash calls, by the class that must define them."""

INSTANCE_ATTRIBUTES = {
    keras_tuner.Oracle: ("_display", "_project_dir", "_retry_queue", "_seed_state"),
}
"""Private attributes keras_nash reads or sets on instances (set in `__init__` /
`_set_project_dir`)."""


def trial_dir(project_dir: str, trial_id: str) -> str:
    """A trial's directory, as keras-tuner names it (`<project_dir>/trial_<id>`)."""
    return os.path.join(str(project_dir), f"trial_{trial_id}")


def project_dir(oracle) -> str:
    """The oracle's project directory (set by the tuner that owns it)."""
    return oracle._project_dir


def retry_queue(oracle) -> list:
    """The ids of the trials the oracle hands out again before new ones (keras-tuner's list:
    `reload` puts the trials that were running at a restart in it)."""
    return oracle._retry_queue


def keep_seed(oracle, seed) -> None:
    """Give the oracle the `seed` it was built with when that is 0: keras-tuner's `Oracle`
    takes `seed or random.randint(1, 10000)`, so `seed=0` would silently be a random seed.
    None keeps keras-tuner's random one. The seed given is kept as `oracle._given_seed` (None
    for a random one), for the search's identity (`keras_nash.identity`)."""
    oracle._given_seed = None if seed is None else int(seed)
    if seed is not None:
        oracle.seed = oracle._seed_state = int(seed)


def set_display(oracle, display_class) -> None:
    """Replace the oracle's trial display with `display_class(oracle)`."""
    oracle._display = display_class(oracle)


def last_metric(trial, name: str):
    """The last value of a trial's metric `name`, or None when the trial has none."""
    return trial.metrics.get_last_value(name) if trial.metrics.exists(name) else None


def is_worker(tuner) -> bool:
    """Whether the tuner is a worker of a distributed search (its oracle is the chief's)."""
    return tuner._is_worker()


def try_build(tuner, hp):
    """Build the tuner's hypermodel for `hp` the way keras-tuner does (clear_session first)."""
    return tuner._try_build(hp)


def build_as_trained(tuner, model, trial_id: str) -> None:
    """Build `model` from the `build_config.json` keras-tuner wrote when the trial trained (as
    keras-tuner's `load_model` does), unless it is built."""
    if not model.built:
        with open(tuner._get_build_config_fname(trial_id)) as f:
            model.build_from_config(json.load(f))


def checkpoint_path(tuner, trial_id: str) -> str:
    """The path of a trial's checkpoint (`trial_<id>/checkpoint.weights.h5`)."""
    return tuner._get_checkpoint_fname(trial_id)


def trial_callbacks(tuner, callbacks, trial) -> list:
    """The callbacks of one trial as keras-tuner prepares them for `fit`: deep copies (one
    set per trial), with a TensorBoard callback's `log_dir` moved under the trial's id."""
    callbacks = tuner._deepcopy_callbacks(list(callbacks or []))
    tuner._configure_tensorboard_dir(callbacks, trial, 0)
    return callbacks


def build_compiled_state(model, x, y) -> None:
    """Create a compiled model's metric, loss and optimizer variables before `fit`.

    A `tf.function` whose first trace creates variables is traced a second time; Keras builds
    the compiled metrics inside the first trace of the train step unless a distribution
    strategy is set, so every new network would be traced twice. Built here from the shapes
    of a batch (`x`, `y`: arrays or `tf.TensorSpec`s; nothing is computed), it is traced once.
    Call it in the scope of `model.distribute_strategy`, as `compile`.
    """
    model._symbolic_build(data_batch=(x, y, None))


def uses_weight_decay(optimizer, variable) -> bool:
    """Whether `optimizer`'s `exclude_from_weight_decay` settings leave `variable` decayed."""
    return optimizer._use_weight_decay(variable)


class AtomicStateFiles:
    """Oracle mixin: the oracle's state file and every `trial.json` written by atomic replace.

    keras-tuner writes both in place (`Stateful.save`), so a kill during a write leaves a torn
    JSON file that the next start cannot read; here each is written whole to a temporary file
    and moved over the old one (`keras_nash.files`). Put it before `keras_tuner.Oracle`.
    """

    def save(self):
        files.write_json(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        files.write_json(
            os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"), trial.get_state()
        )


class AtomicTunerFile:
    """Tuner mixin: the tuner's state file written by atomic replace (see `AtomicStateFiles`).
    Put it before `keras_tuner.Tuner`."""

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        files.write_json(self._get_tuner_fname(), self.get_state())


class FailedSearchError(RuntimeError):
    """A search whose trials after the first all failed (see `RaiseOnFailedSearch`)."""


class RaiseOnFailedSearch:
    """Tuner mixin: `search()` raises when the first trial completed and every trial after it
    failed, naming the first failure's cause, instead of returning the first trial as the
    search's best (keras-tuner's `max_consecutive_failed_trials` raises only after that many
    failures in a row, which a short search never reaches). Put it before `keras_tuner.Tuner`.
    Runs where the trials are known (a single process or the chief; a worker sees only its own
    through the chief)."""

    def on_search_end(self):
        super().on_search_end()
        try:
            trials = [self.oracle.trials[i] for i in sorted(self.oracle.trials, key=_trial_order)]
        except AttributeError:  # a worker's OracleClient has no `trials`
            return
        later = trials[1:]
        if not later or trials[0].status != TrialStatus.COMPLETED:
            return
        if all(t.status in (TrialStatus.FAILED, TrialStatus.INVALID) for t in later):
            first = later[0]
            cause = (first.message or "no message").strip().splitlines()
            raise FailedSearchError(
                f"Every trial after the first failed ({len(later)} trials): the search found "
                "nothing "
                f"beyond its first network. The first failure (trial {first.trial_id}): "
                f"{cause[-1] if cause else 'no message'}"
            )


def _trial_order(trial_id):
    return (len(str(trial_id)), str(trial_id))
