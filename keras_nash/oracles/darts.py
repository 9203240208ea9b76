"""First-order DARTS (Liu et al. 2019) as a keras-tuner Oracle and Tuner.

`DartsOracle` holds the architecture weights alpha (normal and reduction cell) in its JSON
state and issues one trial per search epoch; `DartsTuner` trains the shared supernet weights
for the epoch, alternating each minibatch

1. an alpha step on a validation batch: Adam (3e-4, betas (0.5, 0.999)) with L2 1e-3, and
2. a weight step on a training batch: SGD (momentum 0.9, L2 3e-4, gradient norm clipped to 5)
   with the learning rate annealed per epoch by a cosine from 0.025 to 0.001,

and reports the supernet's validation accuracy and loss, and the new alpha (in the trial
directory) back to the oracle. After the last epoch the oracle derives the genotype
(`derive_genotype`) and issues a final trial that trains the genotype's `DartsEvalNetwork`
from scratch for `final_epochs`; `get_best_models` returns it. The epoch-trial machinery
(weight inheritance through checkpoint files, resume, the final trial) is `oracles/supernet.py`.

The search step is one `tf.function` with a fixed input signature and alpha held in variables:
it is traced once per search (`DartsTuner.trace_counts`), whatever alpha is.

Example:

```python
tuner = DartsTuner(num_classes=10, epochs=50, final_epochs=600,
                   directory="runs", project_name="darts", seed=1)
tuner.search(train_ds, validation_data=val_ds)
best = tuner.get_best_models(1)[0]
```
"""

import json

import keras
import numpy as np
import tensorflow as tf

from keras_nash.layers.ops import PRIMITIVES
from keras_nash.oracles.supernet import SearchState, SupernetOracle, SupernetTuner
from keras_nash.spaces.darts import (
    DartsEvalNetwork,
    DartsSpace,
    DropPathSchedule,
    Genotype,
    check_alpha,
)

_KEY = "darts/"


def _alpha_json(alpha_normal, alpha_reduce) -> str:
    return json.dumps(
        {
            "normal": np.asarray(alpha_normal, "float64").tolist(),
            "reduce": np.asarray(alpha_reduce, "float64").tolist(),
        }
    )


class DartsOracle(SupernetOracle):
    """Hold DARTS's alpha; one trial per search epoch, then the final genotype's training.

    Trial values: "darts/role" ("epoch" or "final"), "darts/epoch", "darts/parent" (the trial
    whose supernet checkpoint the epoch inherits), "darts/alpha" (JSON: `{"normal": [[...]],
    "reduce": [[...]]}`), and for the final trial "darts/genotype" (`Genotype.to_json()`).

    Args:
        epochs: int, search epochs. Defaults to 50.
        steps: int, intermediate nodes per cell. Defaults to 4.
        multiplier: int, nodes concatenated per cell. Defaults to 4.
        primitives: sequence of str, the candidate operations. Defaults to `PRIMITIVES`.
        objective: str or `keras_tuner.Objective`. Defaults to "val_accuracy".
        max_trials: int or None. Defaults to None (stop after the final trial).
        seed: int or None, seeds alpha's initialisation (`1e-3 * N(0, 1)`).
        **kwargs: other `keras_tuner.Oracle` arguments.

    Example:

    >>> oracle = DartsOracle(epochs=2, seed=1)
    >>> oracle.alpha_normal.shape
    (14, 8)
    """

    key_prefix = _KEY

    def __init__(
        self,
        epochs: int = 50,
        steps: int = 4,
        multiplier: int = 4,
        primitives=PRIMITIVES,
        objective="val_accuracy",
        max_trials=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            epochs=epochs, objective=objective, max_trials=max_trials, seed=seed, **kwargs
        )
        # A 3-cell space only to validate steps/multiplier/primitives and shape alpha.
        self.space = DartsSpace(
            cells=3, channels=1, steps=steps, multiplier=multiplier, primitives=primitives
        )
        rng = np.random.default_rng(self.seed)
        self.alpha_normal, self.alpha_reduce = self.space.initial_alpha(rng)
        self.history = []

    def epoch_values(self):
        return {self.key("alpha"): _alpha_json(self.alpha_normal, self.alpha_reduce)}

    def final_values(self):
        return {
            self.key("alpha"): _alpha_json(self.alpha_normal, self.alpha_reduce),
            self.key("genotype"): self.genotype().to_json(),
        }

    def update_policy(self, trial, result):
        alpha = result["alpha"]
        shape = self.space.alpha_shape
        self.alpha_normal = check_alpha(alpha["normal"], self.space.steps, shape[1], "alpha_normal")
        self.alpha_reduce = check_alpha(alpha["reduce"], self.space.steps, shape[1], "alpha_reduce")
        metrics = {
            name: float(trial.metrics.get_last_value(name))
            for name in trial.metrics.metrics
            if trial.metrics.get_last_value(name) is not None
        }
        self.history.append(
            {"epoch": self.epoch, "trial_id": trial.trial_id, "genotype": self.genotype().to_dict(),
             **metrics}
        )

    def genotype(self) -> Genotype:
        """The genotype of the current alpha."""
        return self.space.derive(self.alpha_normal, self.alpha_reduce)

    def get_state(self):
        state = super().get_state()
        state["darts"] = {
            "space": self.space.to_dict(),
            "alpha_normal": np.asarray(self.alpha_normal).tolist(),
            "alpha_reduce": np.asarray(self.alpha_reduce).tolist(),
            "history": self.history,
        }
        return state

    def set_state(self, state):
        super().set_state(state)
        darts = state.get("darts")
        if darts:
            space = dict(darts["space"])
            space["primitives"] = tuple(space["primitives"])
            self.space = DartsSpace(**space)
            self.alpha_normal = np.asarray(darts["alpha_normal"], "float64")
            self.alpha_reduce = np.asarray(darts["alpha_reduce"], "float64")
            self.history = darts.get("history", [])


def cell_space(search_space, defaults: dict, **arguments) -> DartsSpace:
    """A cell tuner's `DartsSpace`: `search_space` as given, or one made of the flat space
    arguments (`cells`, `channels`, ...; None = not given) over the tuner's `defaults`."""
    given = {name: value for name, value in arguments.items() if value is not None}
    if search_space is None:
        return DartsSpace(**{**defaults, **given})
    if not isinstance(search_space, DartsSpace):
        raise ValueError(
            "`search_space` must be a `keras_nash.spaces.DartsSpace`. "
            f"Received: search_space={search_space!r}"
        )
    if given:
        names = ", ".join(f"`{name}`" for name in given)
        raise ValueError(
            f"Give the space either as `search_space` or as {names}, not both. Received: "
            f"search_space={search_space}, " + ", ".join(f"{k}={v}" for k, v in given.items())
        )
    return search_space


class CellSearch:
    """What the DARTS-cell searches share (`DartsTuner`, `EvolutionTuner`): the supernet of
    `self.space`, the weights' per-epoch cosine learning rate, the validation pass, and the final
    trial, the derived genotype's network trained from scratch with DARTS's evaluation recipe
    (`DartsEvalNetwork` with auxiliary head and drop-path, SGD with a cosine schedule to 0).

    Reads the tuner's `space`, `num_classes`, `epochs`, `learning_rate`, `learning_rate_min`,
    `final_*`, `momentum`, `grad_clip`, `auxiliary_weight`, `drop_path_prob`, `jit_compile` and
    `seed` attributes and the final trial's `<prefix>genotype` value.
    """

    def build_supernet(self, hp=None):
        return self.space.build_supernet(self.num_classes, seed=self.seed)

    def epoch_learning_rate(self, epoch: int) -> float:
        """The weights' learning rate of search epoch `epoch`: cosine from `learning_rate` to
        `learning_rate_min` over `epochs` (DARTS steps its scheduler per epoch)."""
        schedule = keras.optimizers.schedules.CosineDecay(
            self.learning_rate, decay_steps=self.epochs,
            alpha=self.learning_rate_min / self.learning_rate,
        )
        return float(schedule(epoch))

    def validate(self, state, data) -> dict:
        """The supernet's validation loss and accuracy with the current alpha."""
        total_loss, total_correct, count = 0.0, 0.0, 0
        for x, y in data.validation:
            loss, correct = state.eval_step(x, y)
            n = int(tf.shape(x)[0])
            total_loss += float(loss) * n
            total_correct += float(correct)
            count += n
        if count == 0:
            raise ValueError("The validation data yielded no batch.")
        return {"val_loss": total_loss / count, "val_accuracy": total_correct / count}

    def build_final_model(self, hp):
        genotype = Genotype.from_json(hp.values[self.key("genotype")])
        model = DartsEvalNetwork(
            genotype, num_classes=self.num_classes, cells=self.final_cells,
            channels=self.final_channels, auxiliary_weight=self.auxiliary_weight,
            drop_path_prob=self.drop_path_prob, seed=self.seed,
        )
        model.compile(
            optimizer=keras.optimizers.SGD(
                learning_rate=self.final_learning_rate, momentum=self.momentum,
                weight_decay=self.final_weight_decay, global_clipnorm=self.grad_clip,
            ),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            jit_compile=self.jit_compile,
        )
        return model

    def final_callbacks(self, hp):
        schedule = keras.optimizers.schedules.CosineDecay(
            self.final_learning_rate, decay_steps=self.final_epochs
        )
        return [
            keras.callbacks.LearningRateScheduler(lambda epoch: float(schedule(epoch))),
            DropPathSchedule(self.final_epochs),
        ]

    def get_best_genotype(self) -> Genotype:
        """The genotype of the final trial (or, before it, of the oracle's current alpha)."""
        for trial in self.oracle.get_best_trials(1):
            text = trial.hyperparameters.values.get(self.key("genotype"))
            if text:
                return Genotype.from_json(text)
        return self.oracle.genotype()


class DartsTuner(CellSearch, SupernetTuner):
    """First-order DARTS: alternate alpha and weight steps on the supernet, one trial per epoch.

    Builds its `DartsOracle` from the same arguments (as keras-tuner's `Hyperband` does).
    Labels are integer class ids; the loss is sparse categorical cross-entropy on logits.

    Args:
        num_classes: int, the number of classes. Defaults to 10.
        epochs: int, search epochs. Defaults to 50.
        final_epochs: int, epochs of the final network's training. Defaults to 600.
        cells: int, supernet cells. Defaults to 8.
        channels: int, supernet initial channels. Defaults to 16.
        steps: int, intermediate nodes per cell. Defaults to 4.
        multiplier: int, nodes concatenated per cell. Defaults to 4.
        primitives: sequence of str. Defaults to `PRIMITIVES`.
        partial_channels: int, PC-DARTS's `k` (1 = plain DARTS). Defaults to 1.
        search_space: a `DartsSpace`, instead of the six arguments above. Defaults to None.
        batch_size: int, batch size for array inputs. Defaults to 64.
        learning_rate: float, the weights' initial SGD learning rate. Defaults to 0.025.
        learning_rate_min: float, the weights' final learning rate. Defaults to 0.001.
        momentum: float. Defaults to 0.9.
        weight_decay: float, L2 on the weights. Defaults to 3e-4.
        grad_clip: float, the weights' gradient global-norm clip. Defaults to 5.0.
        arch_learning_rate: float, alpha's Adam learning rate. Defaults to 3e-4.
        arch_beta_1: float. Defaults to 0.5.
        arch_beta_2: float. Defaults to 0.999.
        arch_weight_decay: float, L2 on alpha. Defaults to 1e-3.
        final_cells: int, cells of the final network. Defaults to 20.
        final_channels: int, initial channels of the final network. Defaults to 36.
        final_learning_rate: float, SGD learning rate of the final training (cosine to 0).
            Defaults to 0.025.
        final_weight_decay: float, the final training's weight decay. Defaults to 3e-4.
        auxiliary_weight: float, the final network's auxiliary loss weight. Defaults to 0.4.
        drop_path_prob: float, the final network's drop-path probability. Defaults to 0.2.
        jit_compile: bool, compile the search step with XLA. Defaults to False.
        objective: str or `keras_tuner.Objective`. Defaults to "val_accuracy".
        seed: int or None.
        max_trials: int or None. Defaults to None.
        **kwargs: `keras_tuner.Tuner` arguments (`directory`, `project_name`, `overwrite`,
            `logger`, `tuner_id`, ...) and `Oracle` ones (`max_retries_per_trial`, ...).

    Example:

    >>> tuner = DartsTuner(num_classes=10, epochs=2, final_epochs=1, cells=3, channels=4,
    ...                    directory="/tmp/runs", project_name="darts_doc", overwrite=True)
    """

    key_prefix = _KEY

    def __init__(
        self,
        num_classes: int = 10,
        epochs: int = 50,
        final_epochs: int = 600,
        cells: int = None,
        channels: int = None,
        steps: int = None,
        multiplier: int = None,
        primitives=None,
        partial_channels: int = None,
        search_space: DartsSpace = None,
        batch_size: int = 64,
        learning_rate: float = 0.025,
        learning_rate_min: float = 0.001,
        momentum: float = 0.9,
        weight_decay: float = 3e-4,
        grad_clip: float = 5.0,
        arch_learning_rate: float = 3e-4,
        arch_beta_1: float = 0.5,
        arch_beta_2: float = 0.999,
        arch_weight_decay: float = 1e-3,
        final_cells: int = 20,
        final_channels: int = 36,
        final_learning_rate: float = 0.025,
        final_weight_decay: float = 3e-4,
        auxiliary_weight: float = 0.4,
        drop_path_prob: float = 0.2,
        jit_compile: bool = False,
        objective="val_accuracy",
        seed=None,
        max_trials=None,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        **kwargs,
    ):
        self.space = cell_space(
            search_space, {}, cells=cells, channels=channels, steps=steps, multiplier=multiplier,
            primitives=primitives, partial_channels=partial_channels,
        )
        for name, value in (
            ("learning_rate", learning_rate), ("arch_learning_rate", arch_learning_rate),
            ("final_learning_rate", final_learning_rate), ("grad_clip", grad_clip),
        ):
            if not value > 0:
                raise ValueError(f"`{name}` must be > 0. Received: {name}={value}")
        if not 0 <= learning_rate_min <= learning_rate:
            raise ValueError(
                "`learning_rate_min` must be in [0, learning_rate]. Received: "
                f"learning_rate_min={learning_rate_min}, learning_rate={learning_rate}"
            )
        if int(num_classes) != num_classes or num_classes < 2:
            raise ValueError(
                f"`num_classes` must be an int >= 2. Received: num_classes={num_classes}"
            )
        if int(final_cells) != final_cells or final_cells < 3:
            raise ValueError(
                f"`final_cells` must be an int >= 3. Received: final_cells={final_cells}"
            )
        self.num_classes = int(num_classes)
        self.epochs = int(epochs)
        self.learning_rate = float(learning_rate)
        self.learning_rate_min = float(learning_rate_min)
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.grad_clip = float(grad_clip)
        self.arch_learning_rate = float(arch_learning_rate)
        self.arch_beta_1 = float(arch_beta_1)
        self.arch_beta_2 = float(arch_beta_2)
        self.arch_weight_decay = float(arch_weight_decay)
        self.final_cells = int(final_cells)
        self.final_channels = int(final_channels)
        self.final_learning_rate = float(final_learning_rate)
        self.final_weight_decay = float(final_weight_decay)
        self.auxiliary_weight = float(auxiliary_weight)
        self.drop_path_prob = float(drop_path_prob)
        self.jit_compile = bool(jit_compile)
        self.seed = seed
        self.trace_counts = {"search_step": 0, "eval_step": 0}
        oracle = DartsOracle(
            epochs=epochs, steps=self.space.steps, multiplier=self.space.multiplier,
            primitives=self.space.primitives,
            objective=objective, max_trials=max_trials, seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        super().__init__(oracle=oracle, final_epochs=final_epochs, batch_size=batch_size, **kwargs)

    # ----- search -----
    def create_search(self, trial, data):
        network = self.build_supernet()
        network(np.zeros((1,) + tuple(data.input_shape), "float32"))
        weight_optimizer = keras.optimizers.SGD(
            learning_rate=self.learning_rate, momentum=self.momentum
        )
        arch_optimizer = keras.optimizers.Adam(
            learning_rate=self.arch_learning_rate, beta_1=self.arch_beta_1,
            beta_2=self.arch_beta_2, epsilon=1e-8,
        )
        weight_optimizer.build(network.weight_variables)
        arch_optimizer.build(network.arch_variables)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        x_spec, y_spec = data.input_signature()

        def labels(y):
            return tf.reshape(tf.cast(y, "int32"), (-1,))

        def loss_and_correct(logits, y):
            loss = loss_fn(y, logits)
            correct = tf.reduce_sum(
                tf.cast(tf.equal(tf.argmax(logits, -1, output_type="int32"), y), "float32")
            )
            return loss, correct

        def search_step(x, y, x_val, y_val):
            self.trace_counts["search_step"] += 1  # runs only while tracing
            y, y_val = labels(y), labels(y_val)
            # 1. alpha step (first order) on the validation batch.
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                for variable in network.arch_variables:
                    tape.watch(variable.value)
                arch_loss, _ = loss_and_correct(network(x_val, training=True), y_val)
            arch_grads = tape.gradient(arch_loss, [v.value for v in network.arch_variables])
            arch_grads = [
                g + self.arch_weight_decay * v.value
                for g, v in zip(arch_grads, network.arch_variables)
            ]
            arch_optimizer.apply(arch_grads, network.arch_variables)
            # 2. weight step on the training batch.
            with tf.GradientTape() as tape:
                loss, correct = loss_and_correct(network(x, training=True), y)
            weights = network.weight_variables
            grads = tape.gradient(loss, weights)
            grads, _ = tf.clip_by_global_norm(grads, self.grad_clip)
            grads = [g + self.weight_decay * w.value for g, w in zip(grads, weights)]
            weight_optimizer.apply(grads, weights)
            return loss, correct, arch_loss

        def eval_step(x, y):
            self.trace_counts["eval_step"] += 1
            y = labels(y)
            return loss_and_correct(network(x, training=False), y)

        return SearchState(
            network,
            {"weights": weight_optimizer, "arch": arch_optimizer},
            search_step=tf.function(
                search_step, input_signature=[x_spec, y_spec, x_spec, y_spec],
                jit_compile=self.jit_compile, autograph=False,
            ),
            eval_step=tf.function(
                eval_step, input_signature=[x_spec, y_spec], jit_compile=self.jit_compile,
                autograph=False,
            ),
        )

    def run_search_epoch(self, state, trial, data):
        values = trial.hyperparameters.values
        epoch = int(values[self.key("epoch")])
        alpha = json.loads(values[self.key("alpha")])
        state.network.set_alpha(alpha["normal"], alpha["reduce"])
        state.optimizers["weights"].learning_rate = self.epoch_learning_rate(epoch)
        validation = iter(data.validation.repeat())
        total = {"loss": 0.0, "correct": 0.0, "count": 0, "arch_loss": 0.0, "steps": 0}
        for x, y in data.train:
            x_val, y_val = next(validation)
            loss, correct, arch_loss = state.search_step(x, y, x_val, y_val)
            count = int(tf.shape(x)[0])
            total["loss"] += float(loss) * count
            total["correct"] += float(correct)
            total["count"] += count
            total["arch_loss"] += float(arch_loss)
            total["steps"] += 1
        if total["count"] == 0:
            raise ValueError("The training data yielded no batch.")
        network = state.network
        metrics = {
            "loss": total["loss"] / total["count"],
            "accuracy": total["correct"] / total["count"],
            "arch_loss": total["arch_loss"] / total["steps"],
            **self.validate(state, data),
        }
        result = {
            "epoch": epoch,
            "alpha": {
                "normal": np.asarray(network.alpha_normal, "float64").tolist(),
                "reduce": np.asarray(network.alpha_reduce, "float64").tolist(),
            },
            "metrics": metrics,
        }
        return metrics, result
