"""EG-NAS (Cai et al., AAAI 2024): an evolution strategy over DARTS's alpha, as an Oracle and Tuner.

The supernet is the DARTS cell supernet (`spaces/darts.py`), by default as the authors run it:
partial channels (PC-DARTS, `k = 4`) and the 7 operations without 'none' (`EGNAS_PRIMITIVES`).
Each search epoch is one trial (the machinery of `oracles/supernet.py`: the weights are inherited
from the previous epoch's checkpoint, the search resumes at epoch granularity).
`EvolutionTuner`, in each epoch,

1. trains the supernet's weights on every training minibatch with the current mixture
   `softmax(alpha)` (alpha fixed during the epoch): SGD momentum 0.9, L2 3e-4, gradient norm
   clipped to 5, learning rate by cosine per epoch from 0.1 to 0;
2. measures the supernet's validation loss and accuracy (the trial's metrics);
3. after the warm-up, runs one generation on the first validation minibatch: it samples the
   population `z_i ~ N(m, sigma^2 I)` around `m = softmax(alpha)` (both cells, flattened)
   from the seed and sigma the oracle sent, normalises each candidate per edge
   (`normalise_candidates`: clip at 0, divide by the edge's sum), and evaluates `m` and every
   candidate mixture on that minibatch in ONE compiled function (`PopulationEvaluator`,
   traced once per search), writing the candidates' cross-entropies and accuracies to the
   trial directory.

When the trial ends `EvolutionOracle` regenerates the same population from the seed, scores it
with the compound fitness (lower is better)

    f_i = zeta * L1_i + eta * L2_i   if acc_i >= acc(m) on the same minibatch,
    f_i = zeta * L1_i - eta * L2_i   otherwise,

with L1 the candidate's cross-entropy and L2 = (cos(m, p_i) + 1) / 2 (`cosine_term`) the
similarity of the candidate mixture `p_i` to the current one, and moves alpha toward the best
candidate: `alpha <- alpha + v`, `v <- alpha_momentum * v + step * softmax(z_best)` (per edge;
`alpha_momentum = 0` is the authors' plain update). The better half of the population (indices,
fitness terms) is kept in the search history; its candidates are reproducible from the
generation's seed and sigma (`sample_population`). sigma follows the paper's intended schedule
`max(sigma_initial / (epoch + 1), sigma_min)` (`sigma_schedule`; the authors' script keeps it
at 1.0 by a bug). After the last epoch a final trial trains the derived genotype's
`DartsEvalNetwork` from scratch, checkpointed, so `get_best_models` returns it.

Every policy decision (sampling seed, sigma, selection, the alpha update) lives in the oracle and
its JSON state; the tuner only trains and measures, so distributed workers need nothing more.

Example:

```python
tuner = EvolutionTuner(num_classes=10, epochs=50, warmup_epochs=15, population_size=50,
                       final_epochs=600, directory="runs", project_name="egnas", seed=1)
tuner.search(train_ds, validation_data=val_ds)
best = tuner.get_best_models(1)[0]
```
"""

import json

import keras
import numpy as np
import tensorflow as tf

from keras_nash.layers.ops import PRIMITIVES
from keras_nash.oracles.darts import CellSearch, cell_space
from keras_nash.oracles.supernet import SearchState, SupernetOracle, SupernetTuner
from keras_nash.spaces.darts import (
    DartsSpace,
    Genotype,
    check_alpha,
)

_KEY = "egnas/"
STATE_VERSION = 1

EGNAS_PRIMITIVES = tuple(name for name in PRIMITIVES if name != "none")
"""The 7 DARTS operations without 'none', as the EG-NAS authors search them."""


# ----- pure functions -----
def sigma_schedule(epoch: int, sigma_initial: float = 1.0, sigma_min: float = 0.02) -> float:
    """The step size of the generation in search epoch `epoch`: `max(sigma_initial / (epoch + 1), sigma_min)`.

    EG-NAS's intended schedule (the authors' CIFAR script keeps sigma at 1.0 by a bug).

    Args:
        epoch: int >= 0, the search epoch (0-based; warm-up epochs count).
        sigma_initial: float > 0. Defaults to 1.0.
        sigma_min: float >= 0, the floor. Defaults to 0.02.

    Returns:
        The float sigma.

    Example:

    >>> sigma_schedule(0), sigma_schedule(15), sigma_schedule(99)
    (1.0, 0.0625, 0.02)
    """
    if epoch < 0:
        raise ValueError(f"`epoch` must be >= 0. Received: epoch={epoch}")
    return float(max(sigma_initial / (epoch + 1), sigma_min))


def cosine_term(reference, candidates) -> np.ndarray:
    """EG-NAS's similarity term `L2 = (cos(reference, candidate) + 1) / 2`, in [0, 1].

    Args:
        reference: array, the current mixture `softmax(alpha)` (any shape; flattened).
        candidates: array `(population,) + reference.shape` (or one candidate of the
            reference's shape).

    Returns:
        Array `(population,)` (or a float for one candidate). A zero vector has similarity 0.5.

    Example:

    >>> cosine_term([1.0, 0.0], [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    array([1. , 0.5, 0. ])
    """
    reference = np.asarray(reference, "float64").reshape(-1)
    candidates = np.asarray(candidates, "float64")
    single = candidates.size == reference.size and candidates.ndim == np.ndim(reference)
    flat = candidates.reshape(-1, reference.size)
    norms = np.linalg.norm(flat, axis=1) * np.linalg.norm(reference)
    dots = flat @ reference
    cosine = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    term = (np.clip(cosine, -1.0, 1.0) + 1.0) / 2.0
    return float(term[0]) if single else term


def compound_fitness(
    cross_entropy, similarity, accuracy, reference_accuracy, zeta: float = 1.0, eta: float = 0.4
) -> np.ndarray:
    """EG-NAS's compound fitness (lower is better).

    `f = zeta * L1 + eta * L2` where the candidate is at least as accurate as the current
    alpha on the same minibatch, `f = zeta * L1 - eta * L2` where it is less accurate.

    Args:
        cross_entropy: array `(population,)`, L1: each candidate's cross-entropy.
        similarity: array `(population,)`, L2 (`cosine_term`), in [0, 1].
        accuracy: array `(population,)`, each candidate's accuracy on the minibatch.
        reference_accuracy: float, the current alpha's accuracy on the same minibatch.
        zeta: float >= 0, the weight of L1. Defaults to 1.0.
        eta: float >= 0, the weight of L2. Defaults to 0.4.

    Returns:
        Array `(population,)` of fitness values.

    Example:

    >>> compound_fitness([2.0, 2.0], [0.5, 0.5], [0.6, 0.4], 0.5)
    array([2.2, 1.8])
    """
    cross_entropy = np.asarray(cross_entropy, "float64")
    similarity = np.asarray(similarity, "float64")
    accuracy = np.asarray(accuracy, "float64")
    sign = np.where(accuracy >= reference_accuracy, 1.0, -1.0)
    return zeta * cross_entropy + sign * eta * similarity


def edge_softmax(x) -> np.ndarray:
    """Softmax over the last axis (the operations of each edge), in float64.

    Example:

    >>> edge_softmax(np.zeros((2, 4)))[0]
    array([0.25, 0.25, 0.25, 0.25])
    """
    x = np.asarray(x, "float64")
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def normalise_candidates(z) -> np.ndarray:
    """Turn sampled candidates into mixtures: per edge, clip at 0 and divide by the edge's sum.

    A candidate `z ~ N(m, sigma^2 I)` around the current mixture `m` is not a mixture (entries
    may be negative, edges do not sum to 1). Clipping and dividing keeps the candidate centred
    on `m` (a softmax would flatten it toward uniform); an edge whose entries are all <= 0 gets
    the uniform mixture.

    Args:
        z: array `(..., n_ops)`.

    Returns:
        Array of `z`'s shape, non-negative, each edge summing to 1.

    Example:

    >>> normalise_candidates([[0.5, -0.2, 1.5], [-1.0, -2.0, -0.5]])
    array([[0.25      , 0.        , 0.75      ],
           [0.33333333, 0.33333333, 0.33333333]])
    """
    z = np.clip(np.asarray(z, "float64"), 0.0, None)
    total = z.sum(axis=-1, keepdims=True)
    uniform = np.full_like(z, 1.0 / z.shape[-1])
    return np.where(total > 0, z / np.where(total > 0, total, 1.0), uniform)


def sample_population(mean, sigma: float, population_size: int, seed: int) -> np.ndarray:
    """The raw candidates `z_i ~ N(mean, sigma^2 I)`, reproducible from `seed`.

    Args:
        mean: array, the current mixture `softmax(alpha)` (e.g. `(2, n_edges, n_ops)`).
        sigma: float >= 0, the step size.
        population_size: int >= 1.
        seed: int, the generation's seed.

    Returns:
        Array `(population_size,) + mean.shape`, float64.

    Example:

    >>> sample_population(np.zeros((2, 3)), 0.5, 4, seed=1).shape
    (4, 2, 3)
    """
    mean = np.asarray(mean, "float64")
    rng = np.random.default_rng(int(seed))
    return mean + float(sigma) * rng.standard_normal((int(population_size),) + mean.shape)


def _check_positive_int(name, value, minimum):
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value}")
    return int(value)


def _check_non_negative(name, value):
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"`{name}` must be >= 0. Received: {name}={value}")
    return float(value)


def _check_evolution_args(epochs, warmup_epochs, population_size, sigma_initial, sigma_min,
                          zeta, eta, step, alpha_momentum):
    epochs = _check_positive_int("epochs", epochs, 1)
    warmup = _check_positive_int("warmup_epochs", warmup_epochs, 0)
    if warmup >= epochs:
        raise ValueError(
            "`warmup_epochs` must be < `epochs` (at least one generation must run). "
            f"Received: warmup_epochs={warmup_epochs}, epochs={epochs}"
        )
    _check_positive_int("population_size", population_size, 2)
    if not (np.isfinite(sigma_initial) and sigma_initial > 0):
        raise ValueError(f"`sigma_initial` must be > 0. Received: sigma_initial={sigma_initial}")
    _check_non_negative("sigma_min", sigma_min)
    _check_non_negative("zeta", zeta)
    _check_non_negative("eta", eta)
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"`step` must be > 0. Received: step={step}")
    if not 0 <= alpha_momentum < 1:
        raise ValueError(
            f"`alpha_momentum` must be in [0, 1). Received: alpha_momentum={alpha_momentum}"
        )


def _alpha_json(alpha) -> str:
    return json.dumps({"normal": alpha[0].tolist(), "reduce": alpha[1].tolist()})


# ----- the oracle -----
class EvolutionOracle(SupernetOracle):
    """Hold EG-NAS's alpha, sigma, generation and fitness history; one trial per search epoch.

    Trial values: "egnas/role" ("epoch" or "final"), "egnas/epoch", "egnas/parent" (the trial
    whose supernet checkpoint the epoch inherits), "egnas/alpha" (JSON `{"normal": [[...]],
    "reduce": [[...]]}`), "egnas/evolve" (bool: a generation runs this epoch), "egnas/sigma",
    "egnas/population_seed", "egnas/population_size"; the final trial adds "egnas/genotype".

    Args:
        epochs: int, search epochs (warm-up included). Defaults to 50.
        warmup_epochs: int in [0, epochs), epochs that train the weights only. Defaults to 15.
        population_size: int >= 2, candidates per generation. Defaults to 50.
        sigma_initial: float > 0, see `sigma_schedule`. Defaults to 1.0.
        sigma_min: float >= 0, see `sigma_schedule`. Defaults to 0.02.
        zeta: float >= 0, the cross-entropy's weight in the fitness. Defaults to 1.0.
        eta: float >= 0, the similarity's weight in the fitness. Defaults to 0.4.
        step: float > 0, the alpha update's step. Defaults to 0.1.
        alpha_momentum: float in [0, 1), momentum of the alpha update. Defaults to 0.0.
        steps: int, intermediate nodes per cell. Defaults to 4.
        multiplier: int, nodes concatenated per cell. Defaults to 4.
        primitives: sequence of str, the candidate operations. Defaults to `EGNAS_PRIMITIVES`.
        initial_alpha: None (`1e-3 * N(0, 1)` from the seed) or a pair `(alpha_normal,
            alpha_reduce)`, each `(n_edges(steps), len(primitives))` (e.g. a DARTS result).
        objective: str or `keras_tuner.Objective`. Defaults to "val_accuracy".
        max_trials: int or None. Defaults to None (stop after the final trial).
        seed: int or None, seeds alpha's initialisation and every generation's sampling.
        **kwargs: other `keras_tuner.Oracle` arguments.

    Example:

    >>> oracle = EvolutionOracle(epochs=3, warmup_epochs=1, population_size=8, seed=1)
    >>> oracle.alpha.shape
    (2, 14, 7)
    """

    key_prefix = _KEY

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
        steps: int = 4,
        multiplier: int = 4,
        primitives=EGNAS_PRIMITIVES,
        initial_alpha=None,
        objective="val_accuracy",
        max_trials=None,
        seed=None,
        **kwargs,
    ):
        _check_evolution_args(epochs, warmup_epochs, population_size, sigma_initial, sigma_min,
                              zeta, eta, step, alpha_momentum)
        # A 3-cell space only to validate steps/multiplier/primitives and shape alpha.
        space = DartsSpace(cells=3, channels=1, steps=steps, multiplier=multiplier,
                           primitives=tuple(primitives))
        super().__init__(
            epochs=epochs, objective=objective, max_trials=max_trials, seed=seed, **kwargs
        )
        self.space = space
        self.warmup_epochs = int(warmup_epochs)
        self.population_size = int(population_size)
        self.sigma_initial = float(sigma_initial)
        self.sigma_min = float(sigma_min)
        self.zeta = float(zeta)
        self.eta = float(eta)
        self.step = float(step)
        self.alpha_momentum = float(alpha_momentum)
        if initial_alpha is None:
            alpha = space.initial_alpha(np.random.default_rng(self.seed))
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
        return np.stack([
            check_alpha(alpha[0], steps, n_ops, f"{argument}[0] (alpha_normal)"),
            check_alpha(alpha[1], steps, n_ops, f"{argument}[1] (alpha_reduce)"),
        ])

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
        }

    def final_values(self):
        return {
            self.key("alpha"): _alpha_json(self.alpha),
            self.key("genotype"): self.genotype().to_json(),
        }

    def evolve(self, cross_entropy, accuracy, reference_accuracy, sigma, seed) -> dict:
        """Score one evaluated population and move alpha toward its best candidate.

        Regenerates the population (`sample_population(softmax(alpha), sigma, ..., seed)`),
        normalises it, computes the similarity and the compound fitness, updates alpha (and
        the velocity) and the generation counter.

        Args:
            cross_entropy: sequence of `population_size` floats, each candidate's L1.
            accuracy: sequence of `population_size` floats, each candidate's accuracy.
            reference_accuracy: float, the current alpha's accuracy on the same minibatch.
            sigma: float, the generation's step size.
            seed: int, the generation's seed.

        Returns:
            A JSON-ready dict: the best candidate's index and fitness terms, and the better
            half of the population (`elite`, best first).
        """
        cross_entropy = np.asarray(cross_entropy, "float64")
        accuracy = np.asarray(accuracy, "float64")
        for name, values in (("cross_entropy", cross_entropy), ("accuracy", accuracy)):
            if values.shape != (self.population_size,):
                raise ValueError(
                    f"`{name}` must hold one value per candidate ({self.population_size}). "
                    f"Received: {name}.shape={values.shape}"
                )
        mean = edge_softmax(self.alpha)
        z = sample_population(mean, sigma, self.population_size, seed)
        similarity = cosine_term(mean, normalise_candidates(z))
        fitness = compound_fitness(cross_entropy, similarity, accuracy, reference_accuracy,
                                   self.zeta, self.eta)
        fitness = np.where(np.isfinite(fitness), fitness, np.inf)
        order = np.argsort(fitness, kind="stable")
        best = int(order[0])
        self.velocity = self.alpha_momentum * self.velocity + self.step * edge_softmax(z[best])
        self.alpha = self.alpha + self.velocity
        self.generation += 1
        elite = [
            {
                "index": int(i),
                "fitness": float(fitness[i]),
                "cross_entropy": float(cross_entropy[i]),
                "similarity": float(similarity[i]),
                "accuracy": float(accuracy[i]),
            }
            for i in order[: max(1, self.population_size // 2)]
        ]
        return {
            "generation": self.generation,
            "sigma": float(sigma),
            "population_seed": int(seed),
            "reference_accuracy": float(reference_accuracy),
            "best": elite[0],
            "elite": elite,
        }

    def update_policy(self, trial, result):
        values = trial.hyperparameters.values
        entry = {"epoch": int(values[self.key("epoch")]), "trial_id": trial.trial_id}
        population = result.get("population")
        if population is not None:
            entry.update(self.evolve(
                population["cross_entropy"], population["accuracy"],
                population["reference_accuracy"], float(values[self.key("sigma")]),
                int(values[self.key("population_seed")]),
            ))
        entry["metrics"] = {
            name: float(value) for name, value in result.get("metrics", {}).items()
        }
        entry["genotype"] = self.genotype().to_dict()
        self.history.append(entry)

    def genotype(self) -> Genotype:
        """The genotype of the current alpha (`derive_genotype`)."""
        return self.space.derive(self.alpha[0], self.alpha[1])

    def get_state(self):
        state = super().get_state()
        state["egnas"] = {
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
            "alpha": self.alpha.tolist(),
            "velocity": self.velocity.tolist(),
            "sigma": self.sigma,
            "generation": self.generation,
            "history": self.history,
        }
        return state

    def set_state(self, state):
        super().set_state(state)
        egnas = state.get("egnas")
        if not egnas:
            return
        space = dict(egnas["space"])
        self.space = DartsSpace(**{**space, "primitives": tuple(space["primitives"])})
        for name in ("warmup_epochs", "population_size", "sigma_initial", "sigma_min", "zeta",
                     "eta", "step", "alpha_momentum", "sigma", "generation"):
            setattr(self, name, egnas.get(name, getattr(self, name)))
        self.alpha = self._check_alpha(egnas["alpha"], "alpha")
        self.velocity = np.asarray(egnas.get("velocity", np.zeros_like(self.alpha)), "float64")
        self.history = egnas.get("history", [])


# ----- the population evaluation -----
class PopulationEvaluator:
    """Evaluate many candidate mixtures of a `DartsSearchNetwork` on one minibatch, traced once.

    The mixtures are one float32 tensor `(population, 2, n_edges, n_ops)` fed to ONE compiled
    `tf.function` with a fixed input signature, which loops over them with `tf.map_fn` (one
    forward pass per candidate, no retracing, no Python between candidates). With
    `batch_stats=True` the batch norms use the minibatch's statistics (as DARTS's alpha step
    does) and their moving statistics are restored afterwards, so the evaluation leaves the
    network as it was; with `batch_stats=False` they use the moving statistics.

    Args:
        network: a built `DartsSearchNetwork` (or any model whose `call` takes
            `mixture=(w_normal, w_reduce)`).
        input_signature: `(x spec, y spec)` of the minibatches (`SearchData.input_signature`).
        alpha_shape: `(n_edges, n_ops)`. Defaults to `network.alpha_shape`.
        batch_stats: bool. Defaults to True.
        jit_compile: bool, compile with XLA. Defaults to False.

    Call arguments:
        x, y: one minibatch (integer labels).
        mixtures: array `(population, 2, n_edges, n_ops)`.

    Returns:
        `(cross_entropy, accuracy)`, two numpy arrays `(population,)`.

    Example:

    >>> evaluator = PopulationEvaluator(net, data.input_signature())
    >>> ce, acc = evaluator(x, y, mixtures)
    """

    def __init__(self, network, input_signature, alpha_shape=None, batch_stats=True,
                 jit_compile=False):
        self.network = network
        self.alpha_shape = tuple(alpha_shape or network.alpha_shape)
        self.batch_stats = bool(batch_stats)
        self.trace_count = 0
        x_spec, y_spec = input_signature
        mixture_spec = tf.TensorSpec((None, 2) + self.alpha_shape, "float32")
        self._function = tf.function(
            self._evaluate, input_signature=[x_spec, y_spec, mixture_spec],
            jit_compile=jit_compile, autograph=False,
        )

    def _evaluate(self, x, y, mixtures):
        self.trace_count += 1  # runs only while tracing
        network = self.network
        y = tf.reshape(tf.cast(y, "int32"), (-1,))
        arch = {id(v) for v in getattr(network, "arch_variables", [])}
        moving = [v for v in network.non_trainable_variables if id(v) not in arch]
        saved = [tf.identity(v.value) for v in moving] if self.batch_stats else []

        def one(mixture):
            logits = network(x, training=self.batch_stats, mixture=(mixture[0], mixture[1]))
            logits = tf.cast(logits, "float32")
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            )
            correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type="int32"), y), "float32")
            return tf.stack([loss, tf.reduce_mean(correct)])

        out = tf.map_fn(one, mixtures, fn_output_signature=tf.TensorSpec((2,), "float32"))
        with tf.control_dependencies([out]):
            for variable, value in zip(moving, saved):
                variable.assign(value)
            out = tf.identity(out)
        return out

    def __call__(self, x, y, mixtures):
        expected = (2,) + self.alpha_shape
        mixtures = np.asarray(mixtures, "float32")
        if mixtures.ndim != 4 or mixtures.shape[1:] != expected:
            raise ValueError(
                f"`mixtures` must have shape (population,) + {expected}. "
                f"Received: mixtures.shape={mixtures.shape}"
            )
        out = self._function(x, y, tf.constant(mixtures)).numpy()
        return out[:, 0], out[:, 1]


# ----- the tuner -----
class EvolutionTuner(CellSearch, SupernetTuner):
    """EG-NAS: SGD on the supernet's weights, an evolution strategy on alpha, one trial per epoch.

    Builds its `EvolutionOracle` from the same arguments (as keras-tuner's `Hyperband` does).
    Labels are integer class ids; the loss is sparse categorical cross-entropy on logits.

    Args:
        num_classes: int, the number of classes. Defaults to 10.
        epochs: int, search epochs (warm-up included). Defaults to 50.
        warmup_epochs: int in [0, epochs), weight-only epochs. Defaults to 15.
        population_size: int >= 2, candidates per generation. Defaults to 50.
        sigma_initial: float > 0, `sigma = max(sigma_initial / (epoch + 1), sigma_min)`.
            Defaults to 1.0.
        sigma_min: float >= 0. Defaults to 0.02.
        zeta: float >= 0, the cross-entropy's weight in the fitness. Defaults to 1.0.
        eta: float >= 0, the similarity's weight in the fitness. Defaults to 0.4.
        step: float > 0, the alpha update's step. Defaults to 0.1.
        alpha_momentum: float in [0, 1), momentum of the alpha update. Defaults to 0.0.
        population_batch_stats: bool, candidates use the minibatch's batch-norm statistics
            (moving statistics restored afterwards). Defaults to True.
        final_epochs: int, epochs of the final network's training. Defaults to 600.
        cells: int, supernet cells. Defaults to 8.
        channels: int, supernet initial channels. Defaults to 16.
        steps: int, intermediate nodes per cell. Defaults to 4.
        multiplier: int, nodes concatenated per cell. Defaults to 4.
        primitives: sequence of str. Defaults to `EGNAS_PRIMITIVES` (7 ops, no 'none').
        partial_channels: int, PC-DARTS's `k` (1 = plain DARTS). Defaults to 4.
        search_space: a `DartsSpace`, instead of the six arguments above (with its own
            defaults: DARTS's 8 operations, `partial_channels=1`). Defaults to None.
        batch_size: int, batch size for array inputs. Defaults to 256.
        learning_rate: float, the weights' initial SGD learning rate. Defaults to 0.1.
        learning_rate_min: float, the weights' final learning rate. Defaults to 0.0.
        momentum: float, SGD momentum of the weights. Defaults to 0.9.
        weight_decay: float, L2 on the weights. Defaults to 3e-4.
        grad_clip: float, gradient global-norm clip. Defaults to 5.0.
        final_cells: int, cells of the final network. Defaults to 20.
        final_channels: int, initial channels of the final network. Defaults to 36.
        final_learning_rate: float, SGD learning rate of the final training (cosine to 0).
            Defaults to 0.025.
        final_weight_decay: float. Defaults to 3e-4.
        auxiliary_weight: float, the final network's auxiliary loss weight. Defaults to 0.4.
        drop_path_prob: float, the final network's drop-path probability. Defaults to 0.2.
        initial_alpha: None or a pair `(alpha_normal, alpha_reduce)`. Defaults to None.
        jit_compile: bool, compile the steps with XLA. Defaults to False.
        objective: str or `keras_tuner.Objective`. Defaults to "val_accuracy".
        seed: int or None.
        max_trials: int or None. Defaults to None.
        **kwargs: `keras_tuner.Tuner` arguments (`directory`, `project_name`, `overwrite`,
            `logger`, `tuner_id`, ...) and `Oracle` ones (`max_retries_per_trial`, ...).

    Example:

    >>> tuner = EvolutionTuner(num_classes=10, epochs=3, warmup_epochs=1, population_size=8,
    ...                        final_epochs=1, cells=3, channels=4, partial_channels=2,
    ...                        directory="/tmp/runs", project_name="egnas_doc", overwrite=True)
    """

    key_prefix = _KEY

    def __init__(
        self,
        num_classes: int = 10,
        epochs: int = 50,
        warmup_epochs: int = 15,
        population_size: int = 50,
        sigma_initial: float = 1.0,
        sigma_min: float = 0.02,
        zeta: float = 1.0,
        eta: float = 0.4,
        step: float = 0.1,
        alpha_momentum: float = 0.0,
        population_batch_stats: bool = True,
        final_epochs: int = 600,
        cells: int = None,
        channels: int = None,
        steps: int = None,
        multiplier: int = None,
        primitives=None,
        partial_channels: int = None,
        search_space: DartsSpace = None,
        batch_size: int = 256,
        learning_rate: float = 0.1,
        learning_rate_min: float = 0.0,
        momentum: float = 0.9,
        weight_decay: float = 3e-4,
        grad_clip: float = 5.0,
        final_cells: int = 20,
        final_channels: int = 36,
        final_learning_rate: float = 0.025,
        final_weight_decay: float = 3e-4,
        auxiliary_weight: float = 0.4,
        drop_path_prob: float = 0.2,
        initial_alpha=None,
        jit_compile: bool = False,
        objective="val_accuracy",
        seed=None,
        max_trials=None,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        **kwargs,
    ):
        _check_evolution_args(epochs, warmup_epochs, population_size, sigma_initial, sigma_min,
                              zeta, eta, step, alpha_momentum)
        self.space = cell_space(
            search_space, {"primitives": EGNAS_PRIMITIVES, "partial_channels": 4}, cells=cells,
            channels=channels, steps=steps, multiplier=multiplier, primitives=primitives,
            partial_channels=partial_channels,
        )
        for name, value in (
            ("learning_rate", learning_rate), ("final_learning_rate", final_learning_rate),
            ("grad_clip", grad_clip),
        ):
            if not value > 0:
                raise ValueError(f"`{name}` must be > 0. Received: {name}={value}")
        if not 0 <= learning_rate_min <= learning_rate:
            raise ValueError(
                "`learning_rate_min` must be in [0, learning_rate]. Received: "
                f"learning_rate_min={learning_rate_min}, learning_rate={learning_rate}"
            )
        self.num_classes = _check_positive_int("num_classes", num_classes, 2)
        self.final_cells = _check_positive_int("final_cells", final_cells, 3)
        self.final_channels = _check_positive_int("final_channels", final_channels, 1)
        self.epochs = int(epochs)
        self.population_batch_stats = bool(population_batch_stats)
        self.learning_rate = float(learning_rate)
        self.learning_rate_min = float(learning_rate_min)
        self.momentum = float(momentum)
        self.weight_decay = _check_non_negative("weight_decay", weight_decay)
        self.grad_clip = float(grad_clip)
        self.final_learning_rate = float(final_learning_rate)
        self.final_weight_decay = _check_non_negative("final_weight_decay", final_weight_decay)
        self.auxiliary_weight = float(auxiliary_weight)
        self.drop_path_prob = float(drop_path_prob)
        self.jit_compile = bool(jit_compile)
        self.seed = seed
        self.trace_counts = {"train_step": 0, "eval_step": 0, "population": 0}
        oracle = EvolutionOracle(
            epochs=epochs, warmup_epochs=warmup_epochs, population_size=population_size,
            sigma_initial=sigma_initial, sigma_min=sigma_min, zeta=zeta, eta=eta, step=step,
            alpha_momentum=alpha_momentum, steps=self.space.steps,
            multiplier=self.space.multiplier, primitives=self.space.primitives,
            initial_alpha=initial_alpha, objective=objective,
            max_trials=max_trials, seed=seed, max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        super().__init__(oracle=oracle, final_epochs=final_epochs, batch_size=batch_size, **kwargs)

    # ----- search -----
    def create_search(self, trial, data):
        network = self.build_supernet()
        network(np.zeros((1,) + tuple(data.input_shape), "float32"))
        optimizer = keras.optimizers.SGD(learning_rate=self.learning_rate, momentum=self.momentum)
        optimizer.build(network.weight_variables)
        x_spec, y_spec = data.input_signature()

        def loss_and_correct(logits, y):
            y = tf.reshape(tf.cast(y, "int32"), (-1,))
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            )
            correct = tf.reduce_sum(
                tf.cast(tf.equal(tf.argmax(logits, -1, output_type="int32"), y), "float32")
            )
            return loss, correct

        def train_step(x, y):
            self.trace_counts["train_step"] += 1  # runs only while tracing
            with tf.GradientTape() as tape:
                loss, correct = loss_and_correct(network(x, training=True), y)
            weights = network.weight_variables
            grads = tape.gradient(loss, weights)
            grads, _ = tf.clip_by_global_norm(grads, self.grad_clip)
            grads = [g + self.weight_decay * w.value for g, w in zip(grads, weights)]
            optimizer.apply(grads, weights)
            return loss, correct

        def eval_step(x, y):
            self.trace_counts["eval_step"] += 1
            return loss_and_correct(network(x, training=False), y)

        compile_args = dict(input_signature=[x_spec, y_spec], jit_compile=self.jit_compile,
                            autograph=False)
        return SearchState(
            network,
            {"weights": optimizer},
            train_step=tf.function(train_step, **compile_args),
            eval_step=tf.function(eval_step, **compile_args),
            population=PopulationEvaluator(
                network, (x_spec, y_spec), batch_stats=self.population_batch_stats,
                jit_compile=self.jit_compile,
            ),
        )

    def train_epoch(self, state, data) -> dict:
        """Train the weights on every training minibatch with the current alpha."""
        total_loss, total_correct, count = 0.0, 0.0, 0
        for x, y in data.train:
            loss, correct = state.train_step(x, y)
            n = int(tf.shape(x)[0])
            total_loss += float(loss) * n
            total_correct += float(correct)
            count += n
        if count == 0:
            raise ValueError("The training data yielded no batch.")
        return {"loss": total_loss / count, "accuracy": total_correct / count}

    def evaluate_population(self, state, x, y, alpha, sigma, seed, population_size) -> dict:
        """Sample the generation's population and evaluate it, with the current mixture, on
        one minibatch: `population_size + 1` forward passes in one compiled call."""
        mean = edge_softmax(alpha)
        z = sample_population(mean, sigma, population_size, seed)
        mixtures = np.concatenate([mean[None], normalise_candidates(z)])
        cross_entropy, accuracy = state.population(x, y, mixtures)
        return {
            "cross_entropy": cross_entropy[1:].astype("float64").tolist(),
            "accuracy": accuracy[1:].astype("float64").tolist(),
            "reference_cross_entropy": float(cross_entropy[0]),
            "reference_accuracy": float(accuracy[0]),
        }

    def run_search_epoch(self, state, trial, data):
        values = trial.hyperparameters.values
        epoch = int(values[self.key("epoch")])
        sent = json.loads(values[self.key("alpha")])
        alpha = np.stack([np.asarray(sent["normal"]), np.asarray(sent["reduce"])])
        state.network.set_alpha(alpha[0], alpha[1])
        state.optimizers["weights"].learning_rate = self.epoch_learning_rate(epoch)
        metrics = self.train_epoch(state, data)
        metrics.update(self.validate(state, data))
        result = {"epoch": epoch, "metrics": metrics}
        if values.get(self.key("evolve")):
            x, y = next(iter(data.validation))
            result["population"] = self.evaluate_population(
                state, x, y, alpha, float(values[self.key("sigma")]),
                int(values[self.key("population_seed")]),
                int(values[self.key("population_size")]),
            )
            metrics["reference_accuracy"] = result["population"]["reference_accuracy"]
            self.trace_counts["population"] = state.population.trace_count
        return metrics, result
