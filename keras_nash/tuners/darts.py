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
(weight inheritance through checkpoint files, resume, the final trial) is `tuners/supernet.py`.

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

from keras_nash.checks import check_float
from keras_nash.optimizers import CoupledAdam
from keras_nash.precision import loss_scaled
from keras_nash.spaces.darts import DartsSpace, Genotype, check_alpha, edge_weights
from keras_nash.tuners.cell_search import CellSearch, cell_space
from keras_nash.tuners.search_loop import (
    SearchState, compile_step, cross_entropy, global_share, weight_step,
)
from keras_nash.tuners.supernet import SupernetOracle

_KEY = "darts/"


def _arch_data(alpha_normal, alpha_reduce, beta=None) -> dict:
    """Alpha (and PC-DARTS's betas, when searched) as JSON-ready data."""
    data = {
        "normal": np.asarray(alpha_normal, "float64").tolist(),
        "reduce": np.asarray(alpha_reduce, "float64").tolist(),
    }
    if beta is not None:
        data["beta_normal"], data["beta_reduce"] = (np.asarray(b, "float64").tolist() for b in beta)
    return data


class DartsOracle(SupernetOracle):
    """Hold DARTS's alpha; one trial per search epoch, then the final genotype's training.

    Trial values: "darts/role" ("epoch" or "final"), "darts/epoch", "darts/parent" (the trial
    whose supernet checkpoint the epoch inherits), "darts/alpha" (JSON: `{"normal": [[...]],
    "reduce": [[...]]}`), and for the final trial "darts/genotype" (`Genotype.to_json()`).

    Args:
        epochs: int, search epochs. Defaults to 50.
        search_space: a `DartsSpace`, the supernet's space: its `steps` and `primitives` shape
            alpha, and with `edge_normalization` PC-DARTS's betas are searched too (one per
            edge; the JSON of "darts/alpha" then has "beta_normal" and "beta_reduce"). None:
            `DartsSpace()` (DARTS's). The tuner passes its own.
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
        search_space=None,
        objective="val_accuracy",
        max_trials=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            epochs=epochs, objective=objective, max_trials=max_trials, seed=seed, **kwargs
        )
        self.space = cell_space(search_space, {})
        rng = np.random.default_rng(self.seed)
        self.alpha_normal, self.alpha_reduce = self.space.initial_alpha(rng)
        self.beta = self.space.initial_beta(rng) if self.space.edge_normalization else None
        self.history = []

    def epoch_values(self):
        return {self.key("alpha"): json.dumps(self.arch_data())}

    def final_values(self):
        return {**self.epoch_values(), self.key("genotype"): self.genotype().to_json()}

    def arch_data(self) -> dict:
        """The current alpha (and betas) as JSON-ready data."""
        return _arch_data(self.alpha_normal, self.alpha_reduce, self.beta)

    def update_policy(self, trial, result):
        alpha = result["alpha"]
        shape = self.space.alpha_shape
        self.alpha_normal = check_alpha(alpha["normal"], self.space.steps, shape[1], "alpha_normal")
        self.alpha_reduce = check_alpha(alpha["reduce"], self.space.steps, shape[1], "alpha_reduce")
        if self.beta is not None:
            for name in ("beta_normal", "beta_reduce"):
                edge_weights(alpha[name], self.space.steps)  # checks shape and finiteness
            self.beta = (np.asarray(alpha["beta_normal"]), np.asarray(alpha["beta_reduce"]))
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
        return self.space.derive(self.alpha_normal, self.alpha_reduce, *(self.beta or ()))

    def policy_state(self):
        return {"space": self.space.to_dict(), "arch": self.arch_data(), "history": self.history}

    def set_policy_state(self, darts):
        self.space = DartsSpace.from_dict(darts["space"])
        # States written before the betas keep alpha under two keys of their own.
        arch = darts.get("arch") or {"normal": darts["alpha_normal"],
                                     "reduce": darts["alpha_reduce"]}
        self.alpha_normal = np.asarray(arch["normal"], "float64")
        self.alpha_reduce = np.asarray(arch["reduce"], "float64")
        self.beta = None
        if self.space.edge_normalization:
            self.beta = (np.asarray(arch["beta_normal"]), np.asarray(arch["beta_reduce"]))
        self.history = darts.get("history", [])


class DartsTuner(CellSearch):
    """First-order DARTS: alternate alpha and weight steps on the supernet, one trial per epoch.

    Its `DartsOracle` is built from the same keyword arguments (see `CellSearch`).

    Args:
        num_classes: int, the number of classes. Defaults to 10.
        epochs: int, search epochs. Defaults to 50.
        arch_learning_rate: float, alpha's Adam learning rate. Defaults to 3e-4.
        arch_beta_1: float. Defaults to 0.5.
        arch_beta_2: float. Defaults to 0.999.
        arch_weight_decay: float, coupled L2 on alpha (Adam). Defaults to 1e-3.
        **kwargs: the arguments of `CellSearch` (`objective`, `seed`, `max_trials`, the space
            as `search_space` or `cells`, `channels`, ...; the weights' training; the final
            network), with DARTS's defaults: 8 cells x 16 channels, 4 steps, multiplier 4,
            `PRIMITIVES`, `partial_channels=1`, `batch_size=64`, `learning_rate=0.025`,
            `learning_rate_min=0.001`; and `keras_tuner.Oracle` / `Tuner` arguments
            (`max_retries_per_trial`, `directory`, `project_name`, `overwrite`, ...).

    Example:

    >>> tuner = DartsTuner(num_classes=10, epochs=2, final_epochs=1, cells=3, channels=4,
    ...                    directory="runs", project_name="darts_doc", overwrite=True)
    """

    key_prefix = _KEY
    oracle_class = DartsOracle

    def __init__(
        self,
        num_classes: int = 10,
        epochs: int = 50,
        arch_learning_rate: float = 3e-4,
        arch_beta_1: float = 0.5,
        arch_beta_2: float = 0.999,
        arch_weight_decay: float = 1e-3,
        **kwargs,
    ):
        self.arch_learning_rate = check_float(
            "arch_learning_rate", arch_learning_rate, 0, exclusive=True
        )
        self.arch_beta_1 = check_float("arch_beta_1", arch_beta_1, 0, 1)
        self.arch_beta_2 = check_float("arch_beta_2", arch_beta_2, 0, 1)
        self.arch_weight_decay = check_float("arch_weight_decay", arch_weight_decay, 0)
        self.trace_counts = {"search_step": 0, "eval_step": 0}
        super().__init__(num_classes=num_classes, epochs=epochs, **kwargs)

    # ----- search -----
    def create_search(self, trial, data):
        network = self.build_supernet()
        network(np.zeros((1,) + tuple(data.input_shape), "float32"))
        weight_optimizer = self.weight_optimizer()
        # DARTS's alpha optimiser: Adam with coupled L2 (PyTorch's `Adam(weight_decay=)`).
        arch_optimizer = loss_scaled(CoupledAdam(
            learning_rate=self.arch_learning_rate, beta_1=self.arch_beta_1,
            beta_2=self.arch_beta_2, epsilon=1e-8, weight_decay=self.arch_weight_decay or None,
        ), self.precision)
        weight_optimizer.build(network.weight_variables)
        arch_optimizer.build(network.arch_variables)
        state = SearchState(network, {"weights": weight_optimizer, "arch": arch_optimizer})
        arch_variables = network.arch_variables

        def search_step(x, y, x_val, y_val):
            self.trace_counts["search_step"] += 1  # runs only while tracing
            # 1. alpha step (first order) on the validation batch.
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                for variable in arch_variables:
                    tape.watch(variable.value)
                arch_loss = cross_entropy(y_val, network(x_val, training=True))
                scaled = arch_optimizer.scale_loss(global_share(arch_loss, y_val))
            arch_grads = tape.gradient(scaled, [v.value for v in arch_variables])
            arch_optimizer.apply(arch_grads, arch_variables)
            state.arch_loss.update_state(arch_loss)
            # 2. weight step on the training batch.
            return weight_step(lambda inputs: network(inputs, training=True), weight_optimizer,
                               network.weight_variables, x, y, state.metrics)

        x_spec, y_spec = data.input_signature()
        state.arch_loss = keras.metrics.Mean(name="arch_loss")
        state.search_step = compile_step(search_step, (x_spec, y_spec, x_spec, y_spec),
                                         self.jit_compile)
        state.eval_step = self.make_eval_step(network, data, state.val_metrics)
        return state

    def run_search_epoch(self, state, trial, data, loop):
        values = trial.hyperparameters.values
        epoch = int(values[self.key("epoch")])
        alpha = json.loads(values[self.key("alpha")])
        state.network.set_alpha(alpha["normal"], alpha["reduce"])
        if "beta_normal" in alpha:
            state.network.set_beta(alpha["beta_normal"], alpha["beta_reduce"])
        state.optimizers["weights"].learning_rate = self.epoch_learning_rate(epoch)
        validation = iter(loop.distribute(data.policy_batches()))
        state.arch_loss.reset_state()
        metrics = loop.train(state.search_step, data.train, state.metrics,
                             batch_args=lambda batch: next(validation))
        metrics["arch_loss"] = float(state.arch_loss.result())
        metrics.update(self.validate(state, data, loop))
        network = state.network
        result = {
            "epoch": epoch,
            "alpha": _arch_data(network.alpha_normal, network.alpha_reduce,
                                network.betas or None),
            "metrics": metrics,
        }
        return metrics, result
