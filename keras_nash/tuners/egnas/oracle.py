"""EG-NAS (Cai et al., AAAI 2024): an evolution strategy over DARTS's alpha, as an Oracle and Tuner.

The supernet is the DARTS cell supernet (`spaces/darts/`), by default as the authors run it:
partial channels (PC-DARTS, `k = 4`) and the 7 operations without 'none' (`EGNAS_PRIMITIVES`).
Each search epoch is one trial (the machinery of `tuners/supernet/`: the weights are inherited
from the previous epoch's checkpoint, the search resumes at epoch granularity).
`EgnasTuner`, in each epoch,

1. trains the supernet's weights on every training minibatch with the current mixture
   `softmax(alpha)` (alpha fixed during the epoch): SGD momentum 0.9, gradient norm clipped to
   5, coupled L2 3e-4, learning rate by cosine per epoch from 0.1 to 0;
2. measures the supernet's validation loss and accuracy (the trial's metrics);
3. after the warm-up, runs one generation on a validation minibatch drawn at random from the
   generation's seed (`validation_batch`, recorded in the history): it samples the population
   `z_i ~ N(m, sigma^2 I)` around `m = softmax(alpha)` (both cells, flattened) from the seed
   and sigma the oracle sent, normalises each candidate per edge (`normalise_candidates`:
   clip at 0, divide by the edge's sum), and evaluates `m` and every candidate mixture on
   that minibatch in ONE compiled function (`PopulationEvaluator`, traced once per search),
   writing the candidates' cross-entropies and accuracies to the trial directory.

When the trial ends `EgnasOracle` regenerates the same population from the seed, scores it
with the compound fitness and updates alpha by one of two rules (`update`):

- `"paper"` (the default), the published update as the authors' code computes it
  (`tuners/egnas/published.py`): the candidates are scored as `q_i = softmax(z_i / |z_i|)`
  per edge, and the single best one is added, `v <- alpha_momentum * v + (1 - alpha_momentum)
  * softmax(q_best)`, `alpha <- alpha + step * v`, accumulating over all generations;
- `"es"`, the project's evolution strategy (`tuners/egnas/strategy.py`, `move_mean`): the
  candidates are scored as `normalise_candidates(z_i)`, `m <- m + v`, `v <- alpha_momentum * v
  + step * (sum_i w_i q_(i) - m)` over the scored mixtures `q_(i)` of the better half, then
  `alpha <- log(m)`; it moves `softmax(alpha)` about 10x more a generation and forgets with
  a time constant of about `1 / step` generations.

The better half of the population is kept in the search history; sigma follows the paper's
intended schedule (`sigma_schedule`; the authors' script keeps it at 1.0 by a bug). After the last
epoch a final trial trains the
derived genotype's `DartsEvalNetwork` from scratch, checkpointed, so `get_best_models` returns
it.

Every policy decision (sampling seed, sigma, selection, the alpha update) lives in the oracle and
its JSON state; the tuner only trains and measures, so distributed workers need nothing more.

Example:

```python
tuner = EgnasTuner(num_classes=10, epochs=50, warmup_epochs=15, population_size=50,
                       final_epochs=800, directory="runs", project_name="egnas", seed=1)
tuner.search(train_ds, validation_data=val_ds)
best = tuner.get_best_models(1)[0]
```
"""

import json

import numpy as np

from keras_nash.checks import check_float, check_fraction, check_int
from keras_nash.layers.ops import PRIMITIVES
from keras_nash.spaces.darts import (
    DartsSpace,
    Genotype,
    check_alpha,
)
from keras_nash.tuners.egnas.published import paper_move
from keras_nash.tuners.egnas.strategy import (
    UPDATES,
    alpha_from_mixture,
    edge_softmax,
    mixture_spread,
    move_mean,
    score_generation,
    sigma_schedule,
)
from keras_nash.tuners.supernet.cells import cell_space
from keras_nash.tuners.supernet.oracle import SupernetOracle

KEY = "egnas/"
STATE_VERSION = 3
# 2: the velocity is a move of the mixture softmax(alpha) (move_mean);
# 3: the state names its `update` (before 3: "es"); under "paper" the velocity is the
#    accumulated softmax(q_best) (paper_move).

EGNAS_PRIMITIVES = tuple(name for name in PRIMITIVES if name != "none")
"""The 7 DARTS operations without 'none', as the EG-NAS authors search them."""

EGNAS_SPACE = {"primitives": EGNAS_PRIMITIVES, "partial_channels": 4}
"""EG-NAS's space over `DartsSpace`'s defaults, as the authors run it (PC-DARTS's k = 4)."""


def _alpha_json(alpha) -> str:
    return json.dumps({"normal": alpha[0].tolist(), "reduce": alpha[1].tolist()})


# ----- the oracle -----
class EgnasOracle(SupernetOracle):
    """Hold EG-NAS's alpha, sigma, generation and fitness history; one trial per search epoch.

    Trial values: "egnas/role" ("epoch" or "final"), "egnas/epoch", "egnas/parent" (the trial
    whose supernet checkpoint the epoch inherits), "egnas/alpha" (JSON `{"normal": [[...]],
    "reduce": [[...]]}`), "egnas/evolve" (bool: a generation runs this epoch), "egnas/sigma",
    "egnas/population_seed", "egnas/population_size", "egnas/update"; the final trial adds
    "egnas/genotype".

    Args:
        epochs: int, search epochs (warm-up included). Defaults to 50.
        warmup_epochs: int in [0, epochs), epochs that train the weights only. Defaults to 15.
        population_size: int >= 2, candidates per generation. Defaults to 50.
        sigma_initial: float > 0, see `sigma_schedule`. Defaults to 1.0.
        sigma_min: float >= 0, see `sigma_schedule`. Defaults to 0.02.
        zeta: float >= 0, the cross-entropy's weight in the fitness. Defaults to 1.0.
        eta: float >= 0, the similarity's weight in the fitness. Defaults to 0.4.
        step: float > 0, under "paper" the authors' `step_size` (`alpha += step * v`); under
            "es" the learning rate of the mean's move toward the recombined better half
            (`move_mean`; 1 is the textbook evolution strategy). Defaults to 0.1 (the
            authors' code).
        alpha_momentum: float in [0, 1), momentum of that update (the authors'
            `pop_momentum`). Defaults to 0.0 (the authors' code).
        update: "paper" (the published single-best additive update, as the authors' code
            computes it, `tuners/egnas/published.py`) or "es" (the project's evolution
            strategy, `move_mean`). Defaults to "paper".
        search_space: a `DartsSpace`, the supernet's space (its `steps` and `primitives`
            shape alpha), without `edge_normalization` (EG-NAS evolves alpha only, as its
            authors' code). None: EG-NAS's default space (`EGNAS_SPACE`: `EGNAS_PRIMITIVES`,
            `partial_channels=4`). The tuner passes its own.
        initial_alpha: None (`1e-3 * N(0, 1)` from the seed) or a pair `(alpha_normal,
            alpha_reduce)`, each `(n_edges(steps), len(primitives))` (e.g. a DARTS result).
        objective: str or `keras_tuner.Objective`. Defaults to "val_accuracy".
        max_trials: int or None. Defaults to None (stop after the final trial).
        seed: int or None, seeds alpha's initialisation and every generation's sampling.
        **kwargs: other `keras_tuner.Oracle` arguments.

    Example:

    >>> oracle = EgnasOracle(epochs=3, warmup_epochs=1, population_size=8, seed=1)
    >>> oracle.alpha.shape
    (2, 14, 7)
    """

    key_prefix = KEY

    def __init__(
        self,
        epochs: int = 50,
        warmup_epochs: int = 15,
        population_size: int = 50,
        sigma_initial: float = 1.0,
        sigma_min: float = 0.02,
        zeta: float = 1.0,
        eta: float = 0.4,
        step: float = 0.1,
        alpha_momentum: float = 0.0,
        update: str = "paper",
        search_space=None,
        initial_alpha=None,
        objective="val_accuracy",
        max_trials=None,
        seed=None,
        **kwargs,
    ):
        self.space = cell_space(search_space, EGNAS_SPACE)
        if self.space.edge_normalization:
            raise ValueError(
                "EG-NAS evolves alpha only: `edge_normalization` (PC-DARTS's betas) must be "
                "False, as in the authors' code. Received: edge_normalization=True"
            )
        super().__init__(
            epochs=epochs, objective=objective, max_trials=max_trials, seed=seed, **kwargs
        )
        self.warmup_epochs = check_int("warmup_epochs", warmup_epochs, 0)
        if self.warmup_epochs >= self.epochs:
            raise ValueError(
                "`warmup_epochs` must be < `epochs` (at least one generation must run). "
                f"Received: warmup_epochs={warmup_epochs}, epochs={epochs}"
            )
        self.population_size = check_int("population_size", population_size, 2)
        self.sigma_initial = check_float("sigma_initial", sigma_initial, 0, exclusive=True)
        self.sigma_min = check_float("sigma_min", sigma_min, 0)
        self.zeta = check_float("zeta", zeta, 0)
        self.eta = check_float("eta", eta, 0)
        self.step = check_float("step", step, 0, exclusive=True)
        self.alpha_momentum = check_fraction("alpha_momentum", alpha_momentum)
        if update not in UPDATES:
            raise ValueError(
                f"`update` must be one of {UPDATES} (the published update or the project's "
                f"evolution strategy). Received: update={update!r}"
            )
        self.update = update
        if initial_alpha is None:
            alpha = self.space.initial_alpha(np.random.default_rng(self.seed))
        else:
            if len(initial_alpha) != 2:
                raise ValueError(
                    "`initial_alpha` must be a pair (alpha_normal, alpha_reduce). "
                    f"Received: initial_alpha of length {len(initial_alpha)}"
                )
            alpha = initial_alpha
        self.alpha = self._check_alpha(alpha, "initial_alpha")
        self.velocity = np.zeros_like(self.alpha)
        self.generation = 0
        self.sigma = sigma_schedule(0, self.sigma_initial, self.sigma_min)
        self.history = []

    def _check_alpha(self, alpha, argument):
        steps, n_ops = self.space.steps, len(self.space.primitives)
        return np.stack(
            [
                check_alpha(alpha[0], steps, n_ops, f"{argument}[0] (alpha_normal)"),
                check_alpha(alpha[1], steps, n_ops, f"{argument}[1] (alpha_reduce)"),
            ]
        )

    @property
    def alpha_normal(self) -> np.ndarray:
        """The normal cell's alpha `(n_edges, n_ops)`."""
        return self.alpha[0]

    @property
    def alpha_reduce(self) -> np.ndarray:
        """The reduction cell's alpha `(n_edges, n_ops)`."""
        return self.alpha[1]

    def population_seed(self, epoch: int) -> int:
        """The sampling seed of epoch `epoch`'s generation (from the oracle's seed)."""
        return int((int(self.seed) * 1_000_003 + 7919 * (epoch + 1)) % (2**31 - 1))

    def epoch_values(self):
        evolve = self.epoch >= self.warmup_epochs
        self.sigma = sigma_schedule(self.epoch, self.sigma_initial, self.sigma_min)
        return {
            self.key("alpha"): _alpha_json(self.alpha),
            self.key("evolve"): bool(evolve),
            self.key("sigma"): float(self.sigma),
            self.key("population_seed"): self.population_seed(self.epoch),
            self.key("population_size"): self.population_size,
            self.key("update"): self.update,
        }

    def final_values(self):
        return {
            self.key("alpha"): _alpha_json(self.alpha),
            self.key("genotype"): self.genotype().to_json(),
        }

    def evolve(self, cross_entropy, accuracy, reference_accuracy, sigma, seed) -> dict:
        """Score one evaluated population and update alpha from its best.

        Regenerates the population's mixtures (`score_generation`: the same `z` and mixtures
        the tuner evaluated) and ranks them by the compound fitness. "paper": adds the best
        candidate's `softmax(q_best)` to alpha (`paper_move`, step `step`, momentum
        `alpha_momentum`). "es": moves the mixture toward the weighted better half
        (`move_mean`); alpha becomes `log` of the new mixture, centred per edge.

        Args:
            cross_entropy: sequence of `population_size` floats, each candidate's L1.
            accuracy: sequence of `population_size` floats, each candidate's accuracy.
            reference_accuracy: float, the current alpha's accuracy on the same minibatch.
            sigma: float, the generation's step size.
            seed: int, the generation's seed.

        Returns:
            A JSON-ready dict: the update, the best candidate's index and fitness terms, the
            better half of the population (`elite`, best first, with their weights in the
            update), the mixture's move `shift` (`|m' - m|` averaged over entries) and
            `spread` (`mixture_spread`).
        """
        mixtures, elite = score_generation(
            self.alpha,
            sigma,
            seed,
            self.population_size,
            cross_entropy,
            accuracy,
            reference_accuracy,
            self.zeta,
            self.eta,
            update=self.update,
        )
        before = edge_softmax(self.alpha)
        if self.update == "paper":
            self.alpha, self.velocity = paper_move(
                self.alpha,
                self.velocity,
                mixtures[elite[0]["index"]],
                self.step,
                self.alpha_momentum,
            )
        else:
            mean, self.velocity = move_mean(
                before,
                self.velocity,
                mixtures[[e["index"] for e in elite]],
                [e["weight"] for e in elite],
                self.step,
                self.alpha_momentum,
            )
            self.alpha = alpha_from_mixture(mean)
        self.generation += 1
        return {
            "generation": self.generation,
            "update": self.update,
            "sigma": float(sigma),
            "population_seed": int(seed),
            "reference_accuracy": float(reference_accuracy),
            "best": elite[0],
            "elite": elite,
            "shift": float(np.abs(edge_softmax(self.alpha) - before).mean()),
            "spread": mixture_spread(self.alpha),
        }

    def update_policy(self, trial, result):
        values = trial.hyperparameters.values
        entry = {"epoch": int(values[self.key("epoch")]), "trial_id": trial.trial_id}
        population = result.get("population")
        if population is not None:
            entry.update(
                self.evolve(
                    population["cross_entropy"],
                    population["accuracy"],
                    population["reference_accuracy"],
                    float(values[self.key("sigma")]),
                    int(values[self.key("population_seed")]),
                )
            )
            for name in ("validation_batch", "validation_batches"):
                entry[name] = population.get(name)
        entry["metrics"] = {name: float(value) for name, value in result.get("metrics", {}).items()}
        entry["genotype"] = self.genotype().to_dict()
        self.history.append(entry)

    def genotype(self) -> Genotype:
        """The genotype of the current alpha (`derive_genotype`)."""
        return self.space.derive(self.alpha[0], self.alpha[1])

    def policy_state(self):
        return {
            "version": STATE_VERSION,
            "space": self.space.to_dict(),
            "warmup_epochs": self.warmup_epochs,
            "population_size": self.population_size,
            "sigma_initial": self.sigma_initial,
            "sigma_min": self.sigma_min,
            "zeta": self.zeta,
            "eta": self.eta,
            "step": self.step,
            "alpha_momentum": self.alpha_momentum,
            "update": self.update,
            "alpha": self.alpha.tolist(),
            "velocity": self.velocity.tolist(),
            "sigma": self.sigma,
            "generation": self.generation,
            "history": self.history,
        }

    def set_policy_state(self, egnas):
        version = egnas.get("version", 1)
        saved = egnas.get("update", "es") if version >= 3 else "es"  # before 3: only "es"
        if saved != self.update:
            raise ValueError(
                f"This EG-NAS search ran with update={saved!r} (state version {version}); it "
                f"cannot go on with update={self.update!r}. Pass update={saved!r} to resume it, "
                "or start a new search (another `project_name`, or `overwrite=True`). "
                f"Received: update={self.update!r}"
            )
        self.space = DartsSpace.from_dict(egnas["space"])
        for name in (
            "warmup_epochs",
            "population_size",
            "sigma_initial",
            "sigma_min",
            "zeta",
            "eta",
            "step",
            "alpha_momentum",
            "sigma",
            "generation",
        ):
            setattr(self, name, egnas.get(name, getattr(self, name)))
        self.alpha = self._check_alpha(egnas["alpha"], "alpha")
        # Before version 2 the velocity was a step of the logits, now one of the mixture.
        velocity = egnas.get("velocity") if version >= 2 else None
        self.velocity = np.asarray(velocity or np.zeros_like(self.alpha), "float64")
        self.history = egnas.get("history", [])
