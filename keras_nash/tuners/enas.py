"""ENAS (Pham et al. 2018): a REINFORCE controller over a shared-weight model, as an Oracle and Tuner.

`EnasOracle` owns the LSTM controller (`tuners/controller.py`): its weights and Adam state in
`<project>/enas/controller_<epoch>.npz`, its baseline and step in the oracle's JSON state. Each
search epoch is one trial (the machinery of `tuners/supernet.py`); its values carry the
controller snapshot to sample from and the epoch's sampling seeds. `EnasTuner` then

1. trains the shared weights (inherited from the previous epoch's checkpoint) one minibatch at a
   time, each minibatch with a fresh architecture sampled from the controller snapshot: SGD
   Nesterov 0.9, learning rate by cosine with warm restarts 0.05 -> 0.0005 (T0 = 10 epochs,
   Tmul = 2, set per epoch), gradient norm clipped to 5, then coupled L2 1e-4 (`search_loop.weight_step`);
2. samples `controller_train_steps * controller_num_aggregate` architectures and scores each on
   one validation minibatch (its reward: the accuracy);
3. writes the decisions and rewards to the trial directory (`supernet_result.json`).

When the trial ends the oracle takes `controller_train_steps` REINFORCE steps, each on
`controller_num_aggregate` of those samples, and writes the next controller snapshot. (The
samples of an epoch all come from the epoch's first controller, so later steps are slightly off
policy; the authors sample again after every step. This keeps every policy decision in the
oracle and the epoch a unit of resume.) In the last epoch the tuner also scores
`final_candidates` sampled architectures on the whole validation data; the oracle keeps the
best, and a final trial trains it from scratch as a standalone Keras model
(`space.build_child_model`), checkpointed, so `get_best_models` returns it.

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

import keras
import numpy as np
import tensorflow as tf

from keras_nash import internals
from keras_nash.checks import check_float, check_int, check_range
from keras_nash.optimizers import CoupledSGD
from keras_nash.spaces.enas import architecture_from_json, get_space
from keras_nash.tuners.controller import DEFAULTS, Controller
from keras_nash.tuners.search_loop import EpochMetrics, SearchState, cross_entropy, labels, weight_step
from keras_nash.tuners.supernet import RESULT_FILE, ROLE_EPOCH, SupernetOracle, SupernetTuner

_KEY = "enas/"
CONTROLLER_DIR = "enas"
# The authors' controller steps x aggregation per epoch.
TRAIN_STEPS = {"macro": (50, 20), "micro": (30, 10)}


def controller_kwargs(search_space, lstm_size=64, tanh_constant=None, op_tanh_reduce=None, temperature=None,
                      entropy_weight=1e-4, baseline_decay=0.99, skip_target=0.4, skip_weight=None,
                      learning_rate=None, seed=0) -> dict:
    """The `Controller` arguments of a space: its defaults, overridden by non-None values.

    Args:
        search_space: a `MacroSpace` or `MicroSpace`.
        lstm_size, tanh_constant, op_tanh_reduce, temperature, entropy_weight, baseline_decay,
            skip_target, skip_weight, learning_rate, seed: see `Controller`; None keeps the
            space's default (`controller.DEFAULTS`).

    Returns:
        dict of `Controller` keyword arguments (space, num_layers and num_ops included).
    """
    check_int("controller_lstm_size", lstm_size, 1)
    kwargs = dict(DEFAULTS[search_space.name])
    given = dict(lstm_size=lstm_size, tanh_constant=tanh_constant, op_tanh_reduce=op_tanh_reduce,
                 temperature=temperature, entropy_weight=entropy_weight, baseline_decay=baseline_decay,
                 skip_target=skip_target, skip_weight=skip_weight, learning_rate=learning_rate, seed=seed)
    kwargs.update({k: v for k, v in given.items() if v is not None})
    return dict(space=search_space.name, num_layers=search_space.controller_layers,
                num_ops=len(search_space.operations), **kwargs)


class EnasOracle(SupernetOracle):
    """The ENAS policy: an LSTM controller trained by REINFORCE, one trial per search epoch.

    Args:
        search_space: `MacroSpace`, `MicroSpace`, "macro" or "micro".
        epochs: int >= 1, search epochs. Defaults to 150.
        controller_kwargs: dict, the `Controller` arguments (see `controller_kwargs()`);
            defaults to the space's.
        controller_train_steps: int >= 1, REINFORCE steps per epoch; None: 50 (macro), 30 (micro).
        controller_num_aggregate: int >= 1, samples per step; None: 20 (macro), 10 (micro).
        final_candidates: int >= 1, sampled architectures among which the final one is the best
            on validation. Defaults to 10.
        objective, max_trials, seed, **kwargs: as `SupernetOracle`.

    Example:

    >>> oracle = EnasOracle("macro", epochs=2, controller_train_steps=2, controller_num_aggregate=2)
    """

    key_prefix = _KEY

    def __init__(self, search_space="macro", epochs: int = 150, controller_kwargs=None,
                 controller_train_steps=None, controller_num_aggregate=None, final_candidates: int = 10,
                 objective="val_accuracy", max_trials=None, seed=None, **kwargs):
        self.space = get_space(search_space)
        super().__init__(epochs=epochs, objective=objective, max_trials=max_trials, seed=seed, **kwargs)
        steps, aggregate = TRAIN_STEPS[self.space.name]
        self.controller_train_steps = check_int(
            "controller_train_steps", steps if controller_train_steps is None else controller_train_steps, 1)
        self.controller_num_aggregate = check_int(
            "controller_num_aggregate", aggregate if controller_num_aggregate is None else controller_num_aggregate, 1)
        self.final_candidates = check_int("final_candidates", final_candidates, 1)
        self.controller_kwargs = dict(controller_kwargs or globals()["controller_kwargs"](self.space))
        self.controller_kwargs["seed"] = int(self.seed)
        self.controller_file = None  # relative to the project directory
        self.controller_state = {"baseline": 0.0, "step": 0}
        self.best_arch = None
        self.input_shape = None
        self.history = []
        self._controller = None

    # ----- the controller -----
    def controller(self) -> Controller:
        """The controller, loaded from its latest snapshot (created and saved on first use)."""
        if self._controller is None:
            self._controller = Controller(**self.controller_kwargs)
            if self.controller_file:
                self._controller.load(os.path.join(internals.project_dir(self), self.controller_file))
            self._controller.set_state(self.controller_state)
        if self.controller_file is None:
            self._save_controller()
        return self._controller

    def _save_controller(self):
        name = os.path.join(CONTROLLER_DIR, f"controller_{self.epoch:04d}.npz")
        project = internals.project_dir(self)
        os.makedirs(os.path.join(project, CONTROLLER_DIR), exist_ok=True)
        self._controller.save(os.path.join(project, name))
        self.controller_file = name
        self.controller_state = self._controller.get_state()

    def _seed(self, epoch, purpose):
        return int(np.random.default_rng([int(self.seed), int(epoch), purpose]).integers(2**31 - 1))

    # ----- SupernetOracle hooks -----
    def epoch_values(self):
        self.controller()
        values = {
            self.key("controller"): self.controller_file,
            self.key("train_seed"): self._seed(self.epoch, 0),
            self.key("sample_seed"): self._seed(self.epoch, 1),
            self.key("num_samples"): self.controller_train_steps * self.controller_num_aggregate,
            self.key("num_candidates"): self.final_candidates if self.epoch == self.epochs - 1 else 0,
        }
        return values

    def final_values(self):
        return {self.key("arch"): self.best_arch, self.key("input_shape"): json.dumps(self.input_shape)}

    def update_policy(self, trial, result):
        controller = self.controller()
        decisions = np.asarray(result["decisions"], "int32")
        rewards = np.asarray(result["rewards"], "float64")
        aggregate = self.controller_num_aggregate
        logs = []
        for step in range(self.controller_train_steps):
            chunk = slice(step * aggregate, (step + 1) * aggregate)
            if len(decisions[chunk]):
                logs.append(controller.update(decisions[chunk], rewards[chunk]))
        self.epoch += 1  # the snapshot is named after the epoch it serves
        self._save_controller()
        self.epoch -= 1
        self.input_shape = list(result["input_shape"])
        if result.get("candidates"):
            best = int(np.argmax(result["candidate_rewards"]))
            self.best_arch = architecture_from_json(json.dumps(result["candidates"][best])).to_json()
        self.history.append({
            "epoch": self.epoch, "trial_id": trial.trial_id, "mean_reward": float(rewards.mean()),
            "baseline": controller.baseline,
            "controller_loss": float(np.mean([log["loss"] for log in logs])) if logs else 0.0,
        })

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
        self._controller = None


class EnasTuner(SupernetTuner):
    """ENAS: shared weights trained on controller-sampled architectures, one trial per epoch.

    Builds its `EnasOracle` from the same arguments (as keras-tuner's `Hyperband` does). Labels
    are integer class ids; models return logits.

    Args:
        search_space: `MacroSpace`, `MicroSpace`, "macro" or "micro". Defaults to "macro".
        num_classes: int >= 2. Defaults to 10.
        epochs: int >= 1, search epochs. Defaults to 150.
        final_epochs: int >= 1, epochs of the final from-scratch training. Defaults to 310.
        batch_size: int, batch size for array inputs. Defaults to 128.
        learning_rate: float, the shared weights' maximum learning rate. Defaults to 0.05.
        learning_rate_min: float, the minimum. Defaults to 0.0005.
        lr_t0: int, epochs of the first cosine cycle. Defaults to 10.
        lr_t_mul: float, cycle growth. Defaults to 2.
        momentum: float, Nesterov momentum. Defaults to 0.9.
        weight_decay: float, coupled L2 on the shared weights (see `keras_nash.optimizers`;
            the authors add it to the loss, so their clip sees it). Defaults to 1e-4.
        grad_clip: float, global gradient norm bound, before the L2 term. Defaults to 5.0.
        controller_lstm_size, controller_tanh_constant, controller_op_tanh_reduce,
        controller_temperature, controller_entropy_weight, controller_baseline_decay,
        controller_skip_target, controller_skip_weight, controller_learning_rate: the
            `Controller` arguments; None keeps the space's default.
        controller_train_steps, controller_num_aggregate, final_candidates: see `EnasOracle`.
        final_filters: int, channels of the final network; None: the space's.
        final_learning_rate: float, the final training's initial learning rate (cosine to 0).
            Defaults to 0.05.
        objective, seed, max_trials, max_retries_per_trial, max_consecutive_failed_trials:
            keras-tuner's.
        **kwargs: `keras_tuner.Tuner` arguments (`directory`, `project_name`, `overwrite`, ...).

    Example:

    >>> from keras_nash.spaces import MacroSpace
    >>> tuner = EnasTuner(MacroSpace(num_layers=3, filters=4), num_classes=10, epochs=2,
    ...                   final_epochs=1, controller_train_steps=2, controller_num_aggregate=2,
    ...                   directory="runs", project_name="enas_doc", overwrite=True)
    """

    key_prefix = _KEY

    def __init__(self, search_space="macro", num_classes: int = 10, epochs: int = 150,
                 final_epochs: int = 310, batch_size: int = 128, learning_rate: float = 0.05,
                 learning_rate_min: float = 0.0005, lr_t0: int = 10, lr_t_mul: float = 2.0,
                 momentum: float = 0.9, weight_decay: float = 1e-4, grad_clip: float = 5.0,
                 controller_lstm_size: int = 64, controller_tanh_constant=None, controller_op_tanh_reduce=None,
                 controller_temperature=None, controller_entropy_weight: float = 1e-4,
                 controller_baseline_decay: float = 0.99, controller_skip_target: float = 0.4,
                 controller_skip_weight=None, controller_learning_rate=None, controller_train_steps=None,
                 controller_num_aggregate=None, final_candidates: int = 10, final_filters=None,
                 final_learning_rate: float = 0.05, objective="val_accuracy", seed=None, max_trials=None,
                 max_retries_per_trial: int = 0, max_consecutive_failed_trials: int = 3, **kwargs):
        self.space = get_space(search_space)
        self.num_classes = check_int("num_classes", num_classes, 2)
        self.learning_rate_min, self.learning_rate = check_range(
            "learning_rate_min", learning_rate_min, "learning_rate", learning_rate
        )
        check_float("learning_rate", learning_rate, 0, exclusive=True)
        self.final_learning_rate = check_float(
            "final_learning_rate", final_learning_rate, 0, exclusive=True
        )
        self.lr_t0 = check_int("lr_t0", lr_t0, 1)
        self.lr_t_mul = check_float("lr_t_mul", lr_t_mul, 0, exclusive=True)
        self.momentum = check_float("momentum", momentum, 0, 1)
        self.weight_decay = check_float("weight_decay", weight_decay, 0)
        self.grad_clip = check_float("grad_clip", grad_clip, 0, exclusive=True)
        self.final_filters = None if final_filters is None else check_int("final_filters", final_filters, 2)
        self.seed = seed
        self.controller_kwargs = controller_kwargs(
            self.space, lstm_size=controller_lstm_size, tanh_constant=controller_tanh_constant,
            op_tanh_reduce=controller_op_tanh_reduce, temperature=controller_temperature,
            entropy_weight=controller_entropy_weight, baseline_decay=controller_baseline_decay,
            skip_target=controller_skip_target, skip_weight=controller_skip_weight,
            learning_rate=controller_learning_rate,
        )
        self.trace_counts = {"train_step": 0, "eval_step": 0}
        oracle = EnasOracle(
            self.space, epochs=epochs, controller_kwargs=self.controller_kwargs,
            controller_train_steps=controller_train_steps, controller_num_aggregate=controller_num_aggregate,
            final_candidates=final_candidates, objective=objective, max_trials=max_trials, seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        self.controller_kwargs["seed"] = int(oracle.seed)
        super().__init__(oracle=oracle, final_epochs=final_epochs, batch_size=batch_size, **kwargs)

    # ----- search -----
    def build_supernet(self, hp=None, input_shape=None):
        return self.space.build_shared_model(input_shape, self.num_classes)

    def load_model(self, trial):
        """The final network, or an epoch's shared-weight model with its weights."""
        if self.role(trial) != ROLE_EPOCH:
            return super().load_model(trial)
        directory = self.get_trial_dir(trial.trial_id)
        with open(os.path.join(directory, RESULT_FILE)) as f:
            input_shape = tuple(json.load(f)["input_shape"])
        model = self.build_supernet(input_shape=input_shape)
        model.load_weights(os.path.join(directory, internals.CHECKPOINT_FILE))
        return model

    def create_search(self, trial, data):
        if self.seed is not None:
            keras.utils.set_random_seed(int(self.seed))
        network = self.build_supernet(input_shape=data.input_shape)
        optimizer = CoupledSGD(self.learning_rate, momentum=self.momentum, nesterov=True,
                               weight_decay=self.weight_decay or None,
                               global_clipnorm=self.grad_clip)
        optimizer.build(network.trainable_variables)
        state = SearchState(network, {"weights": optimizer},
                            controller=Controller(**self.controller_kwargs))
        x_spec, y_spec = data.input_signature()
        arch_spec = tf.TensorSpec([self.space.num_decisions], tf.int32)
        state.train_step, state.eval_step = make_steps(
            network, optimizer, x_spec, y_spec, arch_spec, self.trace_counts,
            metrics=state.metrics, val_metrics=state.val_metrics,
        )
        return state

    def epoch_learning_rate(self, epoch: int) -> float:
        """The shared weights' learning rate of epoch `epoch`: cosine with warm restarts."""
        schedule = keras.optimizers.schedules.CosineDecayRestarts(
            self.learning_rate, first_decay_steps=self.lr_t0, t_mul=self.lr_t_mul, m_mul=1.0,
            alpha=self.learning_rate_min / self.learning_rate,
        )
        return float(schedule(epoch))

    def run_search_epoch(self, state, trial, data, loop):
        values = trial.hyperparameters.values
        epoch = int(values[self.key("epoch")])
        controller = state.controller
        controller.load(os.path.join(self.project_dir, values[self.key("controller")]))
        state.optimizers["weights"].learning_rate = self.epoch_learning_rate(epoch)

        # 1. Shared weights: one fresh architecture per minibatch.
        train_seed = int(values[self.key("train_seed")])
        chunk, archs = 256, {}

        def architecture(batch):
            if batch // chunk not in archs:
                archs.clear()
                archs[batch // chunk] = controller.sample(chunk, seed=train_seed + batch // chunk)[0]
            return (tf.constant(archs[batch // chunk][batch % chunk]),)

        metrics = loop.train(state.train_step, data.train, state.metrics, batch_args=architecture)

        # 2. Rewards: each sample's accuracy on one validation minibatch.
        num_samples = int(values[self.key("num_samples")])
        decisions = controller.sample(num_samples, seed=int(values[self.key("sample_seed")]))[0]
        validation = iter(data.validation.repeat())
        accuracies = []
        for vector in decisions:
            x, y = next(validation)
            accuracies.append(state.eval_step(x, y, tf.constant(vector))[1])
        rewards = [float(reward) for reward in np.asarray(accuracies)]
        metrics = {**metrics, "val_accuracy": float(np.mean(rewards))}
        result = {"epoch": epoch, "decisions": decisions.tolist(), "rewards": rewards, "metrics": metrics}

        # 3. Last epoch: the final candidates, scored on the whole validation data.
        num_candidates = int(values.get(self.key("num_candidates"), 0))
        if num_candidates:
            candidates = controller.sample(num_candidates, seed=int(values[self.key("sample_seed")]) + 1)[0]
            scores = []
            for vector in candidates:
                arch = tf.constant(vector)
                scores.append(loop.evaluate(state.eval_step, data.validation, state.val_metrics,
                                            batch_args=lambda batch: (arch,))["val_accuracy"])
            result["candidates"] = [self.space.decode(v).to_dict() for v in candidates]
            result["candidate_rewards"] = scores
        return metrics, result

    # ----- final network -----
    def build_final_model(self, hp):
        values = hp.values
        arch = architecture_from_json(values[self.key("arch")])
        input_shape = tuple(json.loads(values[self.key("input_shape")]))
        if self.seed is not None:
            keras.utils.set_random_seed(int(self.seed))
        model = self.space.build_child_model(arch, input_shape, self.num_classes, filters=self.final_filters)
        model.compile(
            optimizer=CoupledSGD(self.final_learning_rate, momentum=self.momentum, nesterov=True,
                                 global_clipnorm=self.grad_clip),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    def final_callbacks(self, hp):
        schedule = keras.optimizers.schedules.CosineDecay(self.final_learning_rate, decay_steps=self.final_epochs)
        return [keras.callbacks.LearningRateScheduler(lambda epoch: float(schedule(epoch)))]

    def get_best_architecture(self):
        """The final architecture (a `MacroArchitecture`/`MicroArchitecture`), or None before it."""
        for trial in self.oracle.get_best_trials(1):
            text = trial.hyperparameters.values.get(self.key("arch"))
            if text:
                return architecture_from_json(text)
        return None


def make_steps(network, optimizer, x_spec, y_spec, arch_spec, trace_counts=None, metrics=None,
               val_metrics=None):
    """The compiled shared-weight train and eval steps, architecture as an int32 input.

    The train step is the library's one weight step (`search_loop.weight_step`: clip, coupled
    L2, momentum, all in `optimizer`); each step adds its batch to its `EpochMetrics`.

    Args:
        network: the shared-weight model (called on `(x, arch)`), or any model called on `x`
            when `arch_spec` is None (a fixed child, for comparisons).
        optimizer: a built Keras optimizer over `network.trainable_variables` (e.g.
            `CoupledSGD(..., weight_decay=1e-4, global_clipnorm=5.0)`).
        x_spec, y_spec: `tf.TensorSpec`s of a batch (free batch dimension).
        arch_spec: `tf.TensorSpec` of the decision vector, or None.
        trace_counts: dict with "train_step" and "eval_step" counters, incremented at tracing.
        metrics, val_metrics: `EpochMetrics` of the train and eval steps (new ones if None).

    Returns:
        `(train_step, eval_step)`: `train_step(x, y, arch) -> (batch loss, the epoch's running
        accuracy)` and `eval_step(x, y, arch) -> (batch loss, batch accuracy)` (`arch`
        omitted without `arch_spec`).
    """
    counts = trace_counts if trace_counts is not None else {"train_step": 0, "eval_step": 0}
    metrics = metrics or EpochMetrics()
    val_metrics = val_metrics or EpochMetrics("val_")
    variables = network.trainable_variables

    def forward(x, arch, training):
        return network((x, arch), training=training) if arch_spec is not None else network(x, training=training)

    def batch_accuracy(logits, y):
        y = labels(y)
        return tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y), tf.float32))

    def train_step(x, y, arch=None):
        counts["train_step"] += 1  # runs only while tracing
        loss = weight_step(lambda inputs: forward(inputs, arch, True), optimizer, variables, x, y, metrics)
        return loss, metrics.accuracy.result()

    def eval_step(x, y, arch=None):
        counts["eval_step"] += 1
        logits = forward(x, arch, False)
        loss = cross_entropy(y, logits)
        val_metrics.update(y, logits, loss)
        return loss, batch_accuracy(logits, y)

    signature = [x_spec, y_spec] + ([arch_spec] if arch_spec is not None else [])
    return (tf.function(train_step, input_signature=signature),
            tf.function(eval_step, input_signature=signature))
