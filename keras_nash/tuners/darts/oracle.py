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
(weight inheritance through checkpoint files, resume, the final trial) is `tuners/supernet/`.

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

import numpy as np

from keras_nash.spaces.darts import DartsSpace, Genotype, check_alpha, edge_weights
from keras_nash.tuners.supernet.cells import cell_space
from keras_nash.tuners.supernet.oracle import SupernetOracle

KEY = "darts/"


def arch_data(alpha_normal, alpha_reduce, beta=None) -> dict:
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

    key_prefix = KEY
    undecided_advice = (
        "search longer (more `epochs`) or raise `arch_learning_rate` ('auto' "
        "scales it to the run's alpha steps)"
    )

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
        return arch_data(self.alpha_normal, self.alpha_reduce, self.beta)

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
            {
                "epoch": self.epoch,
                "trial_id": trial.trial_id,
                "genotype": self.genotype().to_dict(),
                **metrics,
            }
        )

    def genotype(self) -> Genotype:
        """The genotype of the current alpha."""
        return self.space.derive(self.alpha_normal, self.alpha_reduce, *(self.beta or ()))

    def policy_state(self):
        return {"space": self.space.to_dict(), "arch": self.arch_data(), "history": self.history}

    def set_policy_state(self, darts):
        self.space = DartsSpace.from_dict(darts["space"])
        # States written before the betas keep alpha under two keys of their own.
        arch = darts.get("arch") or {
            "normal": darts["alpha_normal"],
            "reduce": darts["alpha_reduce"],
        }
        self.alpha_normal = np.asarray(arch["normal"], "float64")
        self.alpha_reduce = np.asarray(arch["reduce"], "float64")
        self.beta = None
        if self.space.edge_normalization:
            self.beta = (np.asarray(arch["beta_normal"]), np.asarray(arch["beta_reduce"]))
        self.history = darts.get("history", [])
