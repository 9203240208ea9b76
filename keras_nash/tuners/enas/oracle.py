"""ENAS (Pham et al. 2018): a REINFORCE controller over a shared-weight model, as an Oracle and
Tuner.

`EnasOracle` holds the policy: the latest controller snapshot (weights and Adam state in an
`.npz` file, baseline and step in its JSON state). Each search epoch is one trial (the machinery
of `tuners/supernet/`); its values carry the snapshot and the epoch's sampling seeds.
`EnasTuner` then, as the authors' training loop does,

1. trains the shared weights (inherited from the previous epoch's checkpoint) one minibatch at a
   time, each minibatch with a fresh architecture sampled from the controller: SGD Nesterov
   0.9, learning rate by cosine with warm restarts 0.05 -> 0.0005 (T0 = 10 epochs, Tmul = 2,
   set per epoch), gradient norm clipped to 5, then coupled L2 (5e-4 macro, 2e-4 micro:
   `supernet.loop.weight_step`);
2. trains the controller on-policy: `controller_train_steps` REINFORCE steps, each on
   `controller_num_aggregate` architectures sampled afresh from the controller as the previous
   step left it, each rewarded on one validation minibatch (the accuracy);
3. writes the controller it trained (`controller.npz`) and the epoch's decisions, rewards and
   controller state to the trial directory; the oracle takes them as the next snapshot.

In the last epoch the tuner also scores `final_candidates` architectures sampled from the trained
controller on the whole validation data; the oracle keeps the best, and a final trial trains it
from scratch as a standalone Keras model (`space.build_child_model`), checkpointed, so
`get_best_models` returns it.

The shared train step is one `tf.function` with the architecture as an int32 input: traced once
per search process whatever the architecture (`EnasTuner.trace_counts`).

Example:

```python
tuner = EnasTuner(search_space=MacroSpace(num_layers=12, filters=36), num_classes=10,
                  epochs=150, final_epochs=310, directory="runs", project_name="enas", seed=1)
tuner.search(train_ds, validation_data=val_ds)
best = tuner.get_best_models(1)[0]
```
"""

import json
import os

import numpy as np

from keras_nash import internals
from keras_nash.checks import check_int
from keras_nash.spaces.enas import architecture_from_json, get_space
from keras_nash.tuners.enas.controller import Controller
from keras_nash.tuners.enas.controller import (
    controller_kwargs as default_controller_kwargs,
)
from keras_nash.tuners.enas.presets import TRAIN_STEPS, default_objective
from keras_nash.tuners.supernet.oracle import SupernetOracle

KEY = "enas/"
CONTROLLER_DIR = "enas"
CONTROLLER_FILE = "controller.npz"  # the controller an epoch trained, in its trial directory


class EnasOracle(SupernetOracle):
    """The ENAS policy: an LSTM controller trained by REINFORCE, one trial per search epoch.

    Args:
        search_space: `MacroSpace`, `MicroSpace`, `RecurrentSpace`, or one's name.
        epochs: int >= 1, search epochs. Defaults to 150.
        controller_kwargs: dict, the `Controller` arguments (see `controller_kwargs()`);
            defaults to the space's.
        controller_train_steps: int >= 1, REINFORCE steps per epoch; None: 50 (macro), 30 (micro).
        controller_num_aggregate: int >= 1, samples per step; None: 20 (macro), 10 (micro).
        final_candidates: int >= 1, sampled architectures among which the final one is the best
            on validation. Defaults to 10.
        objective: the keras-tuner objective. None: "val_accuracy" (recurrent: "val_loss",
            minimised). Defaults to None.
        max_trials, seed, **kwargs: as `SupernetOracle`.

    Example:

    >>> oracle = EnasOracle("macro", epochs=2, controller_train_steps=2, controller_num_aggregate=2)
    """

    key_prefix = KEY
    undecided_advice = (
        "search longer (more `epochs`: the shared weights must be trained well enough to rank "
        "architectures; more `controller_train_steps`) or raise `controller_learning_rate` "
        "('auto' scales it to the run's controller steps)"
    )

    def __init__(
        self,
        search_space="macro",
        epochs: int = 150,
        controller_kwargs=None,
        controller_train_steps=None,
        controller_num_aggregate=None,
        final_candidates: int = 10,
        objective=None,
        max_trials=None,
        seed=None,
        **kwargs,
    ):
        self.space = get_space(search_space)
        if objective is None:  # a language model is scored by its (log-)perplexity
            objective = default_objective(self.space)
        super().__init__(
            epochs=epochs, objective=objective, max_trials=max_trials, seed=seed, **kwargs
        )
        steps, aggregate = TRAIN_STEPS[self.space.name]
        self.controller_train_steps = check_int(
            "controller_train_steps",
            steps if controller_train_steps is None else controller_train_steps,
            1,
        )
        self.controller_num_aggregate = check_int(
            "controller_num_aggregate",
            aggregate if controller_num_aggregate is None else controller_num_aggregate,
            1,
        )
        self.final_candidates = check_int("final_candidates", final_candidates, 1)
        self.controller_kwargs = dict(controller_kwargs or default_controller_kwargs(self.space))
        self.controller_kwargs["seed"] = int(self.seed)
        self.controller_file = None  # relative to the project directory
        self.controller_state = {"baseline": 0.0, "step": 0}
        self.best_arch = None
        self.input_shape = None
        self.history = []

    # ----- the controller -----
    def _first_controller(self) -> str:
        """The initial controller snapshot (written on first use), relative to the project."""
        if self.controller_file is None:
            name = os.path.join(CONTROLLER_DIR, "controller_0000.npz")
            project = internals.project_dir(self)
            os.makedirs(os.path.join(project, CONTROLLER_DIR), exist_ok=True)
            controller = Controller(**self.controller_kwargs)
            controller.save(os.path.join(project, name))
            self.controller_file = name
            self.controller_state = controller.get_state()
        return self.controller_file

    def _seed(self, epoch, purpose):
        return int(np.random.default_rng([int(self.seed), int(epoch), purpose]).integers(2**31 - 1))

    # ----- SupernetOracle hooks -----
    def epoch_values(self):
        return {
            self.key("controller"): self._first_controller(),
            self.key("controller_state"): json.dumps(self.controller_state),
            self.key("train_seed"): self._seed(self.epoch, 0),
            self.key("sample_seed"): self._seed(self.epoch, 1),
            self.key("controller_train_steps"): self.controller_train_steps,
            self.key("controller_num_aggregate"): self.controller_num_aggregate,
            self.key("num_candidates"): self.final_candidates
            if self.epoch == self.epochs - 1
            else 0,
        }

    def final_values(self):
        return {
            self.key("arch"): self.best_arch,
            self.key("input_shape"): json.dumps(self.input_shape),
        }

    def update_policy(self, trial, result):
        # The controller the tuner trained in the epoch (on-policy) is the next snapshot.
        self.controller_file = result["controller_file"]
        self.controller_state = dict(result["controller_state"])
        self.input_shape = list(result["input_shape"])
        if result.get("candidates"):
            best = int(np.argmax(result["candidate_rewards"]))
            self.best_arch = architecture_from_json(
                json.dumps(result["candidates"][best])
            ).to_json()
        rewards = np.asarray(result["rewards"], "float64")
        self.history.append(
            {
                "epoch": self.epoch,
                "trial_id": trial.trial_id,
                "mean_reward": float(rewards.mean()),
                "baseline": self.controller_state["baseline"],
                "controller_loss": float(np.mean(result["controller_losses"])),
            }
        )

    def measure_decisiveness(self, result):
        # The tuner measured the controller it trained (`supernet.decisiveness`).
        return dict(result["decisiveness"]) if result.get("decisiveness") else None

    def policy_state(self):
        return {
            "space": self.space.get_config(),
            "controller_file": self.controller_file,
            "controller_state": self.controller_state,
            "best_arch": self.best_arch,
            "input_shape": self.input_shape,
            "history": self.history,
        }

    def set_policy_state(self, enas):
        self.space = get_space(enas["space"])
        self.controller_file = enas.get("controller_file")
        self.controller_state = enas.get("controller_state", {"baseline": 0.0, "step": 0})
        self.best_arch = enas.get("best_arch")
        self.input_shape = enas.get("input_shape")
        self.history = enas.get("history", [])
