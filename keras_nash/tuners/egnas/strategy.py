"""EG-NAS's evolution-strategy mathematics (Cai et al., AAAI 2024): plain numpy, no Keras.

The pieces `EgnasOracle` composes into one generation: the sigma schedule, sampling the
population around the current mixture `m = softmax(alpha)`, turning candidates into mixtures
(`population_candidates`), the similarity term and the compound fitness (lower is better)

    f_i = zeta * L1_i + eta * L2_i   if acc_i >= acc(m) on the same minibatch,
    f_i = zeta * L1_i - eta * L2_i   otherwise,

with L1 the candidate's cross-entropy and L2 = (cos(m, q_i) + 1) / 2 (`cosine_term`, the mean
over edges of the per-edge cosine, as the authors' code computes it), and the update of alpha,
one of two (`UPDATES`):

- `"paper"`, the published update as the authors' code computes it (`tuners/egnas/published.py`):
  candidates `q_i = softmax(z_i / |z_i|)` per edge, the single best one added to alpha,
  `alpha += step * softmax(q_best)`, accumulating over all generations;
- `"es"`, the project's evolution strategy (`move_mean`), described below.

Why `"es"`: `z_best` lies within about `sigma` of `m`, so the published update moves
`softmax(alpha)` by `O(step * sigma / n_ops**2)` a generation. At `sigma = 1/16`, `step = 0.1`
and 7 operations the per-edge spread (`max - min`) of that move is 3.4e-4 (averaged over 200
populations); the authors' per-edge normalisation `softmax(z / |z|)` gives 8.5e-4, their second
softmax of it (the update in their code) 1.2e-4. The supernet's weights then train on a
near-uniform mixture for the whole search (the published regime). `"es"` moves the mean the
way evolution strategies move it, in the space the candidates are sampled in (a
(mu/mu_w, lambda)-ES, Hansen's CMA-ES tutorial, 2016, with learning rate `c_m = step`):

    m' = P(m + v'),   v' = momentum * v + step * (sum_i w_i q_(i) - m),

where `q_(1), ..., q_(mu)` are the mixtures of the better half of the population, best first
(`normalise_candidates`: clipped at 0, divided by the edge's sum), exactly the mixtures that
were scored; `w_i` the log-rank weights (`recombination_weights`); `P` clips each entry at a
floor and renormalises each edge; and `alpha' = log(m')` (centred per edge). This moves
`softmax(alpha)` by `O(step * sigma)` a generation: 4.6e-3 in the setting above even when the
ranking is pure noise, more when successive generations agree, and forgets with a time
constant of about `1 / step` generations. Both updates: one population per generation from one
seeded sampler (the authors' script builds three CMA states, each with seed 1, for one
generation each: identical populations) and the decaying sigma (`sigma_schedule`).
Each piece is a pure function, tested on its own; `score_generation` composes them.
"""

import numpy as np

from keras_nash.tuners.egnas.published import paper_candidates, paper_mean, paper_order

UPDATES = ("paper", "es")
"""EG-NAS's alpha updates: the published one ("paper") and the project's evolution strategy."""


def sigma_schedule(epoch: int, sigma_initial: float = 1.0, sigma_min: float = 0.02) -> float:
    """The step size of the generation in search epoch `epoch`: `max(sigma_initial / (epoch + 1),
    sigma_min)`.

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

    The cosine is taken per edge (over the last axis, the operations) and averaged over the
    edges, as the authors' code does (`CosineSimilarity(dim=-1)`, then the mean); a cosine of
    the flattened vectors would let the many near-uniform edges drown the few that differ.

    Args:
        reference: array `(..., n_ops)`, the current mixture `softmax(alpha)`.
        candidates: array `(population,) + reference.shape` (or one candidate of the
            reference's shape).

    Returns:
        Array `(population,)` (or a float for one candidate). An edge where either vector is
        zero counts as similarity 0.5.

    Example:

    >>> cosine_term([1.0, 0.0], [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    array([1. , 0.5, 0. ])
    >>> cosine_term([[1.0, 0.0], [1.0, 1.0]], [[0.0, 1.0], [1.0, 1.0]])
    0.75
    """
    reference = np.asarray(reference, "float64")
    candidates = np.asarray(candidates, "float64")
    single = candidates.shape == reference.shape
    flat = candidates.reshape((-1,) + reference.shape)
    norms = np.linalg.norm(flat, axis=-1) * np.linalg.norm(reference, axis=-1)
    dots = np.sum(flat * reference, axis=-1)
    cosine = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    edges = tuple(range(1, cosine.ndim))
    term = (np.clip(cosine, -1.0, 1.0) + 1.0).mean(axis=edges) / 2.0
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
    on `m` (a softmax would flatten it toward uniform: the authors' `softmax(z / |z|)` turns
    `m = (0.5, 0.1, ...)` into about `(0.2, 0.14, ...)`, so the scored candidates would not
    look like the current architecture); an edge whose entries are all <= 0 gets the uniform
    mixture. These mixtures are both what is scored and what the mean moves toward
    (`move_mean`).

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


def population_candidates(alpha, sigma: float, seed: int, population_size: int, update: str = "es"):
    """A generation's raw candidates and the mixtures the supernet is scored with.

    `"es"`: `z ~ N(softmax(alpha), sigma^2 I)`, mixtures `normalise_candidates(z)`;
    `"paper"`: `z ~ N(paper_mean(softmax(alpha), seed), sigma^2 I)`, mixtures
    `paper_candidates(z)` (`softmax(z / |z|)` per edge), as the authors' code.
    The tuner (to evaluate) and the oracle (to score) both call this with the same arguments.

    Args:
        alpha: array `(2, n_edges, n_ops)`, the current architecture weights.
        sigma, seed, population_size: the generation's sampling (see `sample_population`).
        update: one of `UPDATES`. Defaults to "es".

    Returns:
        `(z, mixtures)`, two arrays `(population_size,) + alpha.shape`.

    Example:

    >>> z, q = population_candidates(np.zeros((2, 3, 4)), 0.5, 1, 6, "paper")
    >>> z.shape, bool(np.allclose(q.sum(-1), 1.0))
    ((6, 2, 3, 4), True)
    """
    if update not in UPDATES:
        raise ValueError(f"`update` must be one of {UPDATES}. Received: update={update!r}")
    mean = edge_softmax(alpha)
    if update == "paper":
        z = sample_population(paper_mean(mean, seed), sigma, population_size, seed)
        return z, paper_candidates(z)
    z = sample_population(mean, sigma, population_size, seed)
    return z, normalise_candidates(z)


def score_generation(
    alpha,
    sigma,
    seed,
    population_size,
    cross_entropy,
    accuracy,
    reference_accuracy,
    zeta=1.0,
    eta=0.4,
    update="es",
):
    """Score one evaluated generation: regenerate its population, rank it by fitness.

    Regenerates the raw candidates `z` and their mixtures (`population_candidates`, what the
    tuner fed the supernet), the similarity (`cosine_term` of `softmax(alpha)` and the
    mixtures, or of `softmax(alpha)` and `z` under "paper", as the authors' code) and the
    compound fitness, and ranks the candidates, best first (under "paper" the last of equal
    fitness first, as the authors' `<=`). Candidates whose fitness is not finite rank last.

    Args:
        alpha: array `(2, n_edges, n_ops)`, the current architecture weights.
        sigma, seed, population_size: the generation's sampling (see `sample_population`).
        cross_entropy, accuracy: sequences of `population_size` floats measured per candidate.
        reference_accuracy: float, the current alpha's accuracy on the same minibatch.
        zeta, eta: the fitness weights (see `compound_fitness`).
        update: one of `UPDATES`. Defaults to "es".

    Returns:
        `(mixtures, elite)`: the scored mixtures `(population_size, 2, n_edges, n_ops)`, and
        the better half of the population as JSON-ready records (`index`, `fitness`,
        `cross_entropy`, `similarity`, `accuracy`, and `weight`, its weight in the update:
        the recombination weight in `move_mean`, or 1 for the best and 0 for the others under
        "paper"), best first.

    Example:

    >>> q, elite = score_generation(np.zeros((2, 3, 4)), 0.5, 1, 4, [2.0, 1.0, 3.0, 4.0],
    ...                             [0.5] * 4, 0.5)
    >>> q.shape, [record["index"] for record in elite]
    ((4, 2, 3, 4), [1, 0])
    """
    cross_entropy = np.asarray(cross_entropy, "float64")
    accuracy = np.asarray(accuracy, "float64")
    for name, values in (("cross_entropy", cross_entropy), ("accuracy", accuracy)):
        if values.shape != (population_size,):
            raise ValueError(
                f"`{name}` must hold one value per candidate ({population_size}). "
                f"Received: {name}.shape={values.shape}"
            )
    z, mixtures = population_candidates(alpha, sigma, seed, population_size, update)
    mean = edge_softmax(alpha)
    # "paper": the cosine against z, as the authors' (against z / |z|: the same cosine).
    similarity = cosine_term(mean, z if update == "paper" else mixtures)
    fitness = compound_fitness(cross_entropy, similarity, accuracy, reference_accuracy, zeta, eta)
    fitness = np.where(np.isfinite(fitness), fitness, np.inf)
    half = max(1, population_size // 2)
    if update == "paper":  # the single best (the last on a tie) moves alpha
        order = paper_order(fitness)[:half]
        weights = np.zeros(len(order))
        weights[0] = 1.0
    else:
        order = np.argsort(fitness, kind="stable")[:half]
        weights = recombination_weights(len(order)) * np.isfinite(fitness[order])
        weights = weights / weights.sum() if weights.sum() > 0 else weights
    elite = [
        {
            "index": int(i),
            "fitness": float(fitness[i]),
            "cross_entropy": float(cross_entropy[i]),
            "similarity": float(similarity[i]),
            "accuracy": float(accuracy[i]),
            "weight": float(w),
        }
        for i, w in zip(order, weights)
    ]
    return mixtures, elite


def recombination_weights(mu: int) -> np.ndarray:
    """CMA-ES's log-rank weights of the `mu` best candidates: `w_i ~ log(mu + 1/2) - log(i)`.

    Positive, decreasing, summing to 1 (Hansen, "The CMA evolution strategy: a tutorial", 2016,
    with `mu = lambda // 2`); for `mu = 25` the effective number `1 / sum(w_i**2)` is about 14.

    Args:
        mu: int >= 1, the number of selected candidates.

    Returns:
        Array `(mu,)`.

    Example:

    >>> recombination_weights(3).round(3)
    array([0.637, 0.285, 0.078])
    """
    if int(mu) < 1:
        raise ValueError(f"`mu` must be >= 1. Received: mu={mu}")
    weights = np.log(int(mu) + 0.5) - np.log(np.arange(1, int(mu) + 1))
    return weights / weights.sum()


def alpha_from_mixture(mixture) -> np.ndarray:
    """The alpha whose `edge_softmax` is `mixture`: `log(mixture)`, centred on each edge.

    Args:
        mixture: array `(..., n_ops)`, positive, each edge summing to 1.

    Returns:
        Array of the same shape, each edge's entries summing to 0.

    Example:

    >>> mixture = np.array([[0.5, 0.25, 0.25]])
    >>> np.allclose(edge_softmax(alpha_from_mixture(mixture)), mixture)
    True
    """
    logits = np.log(np.asarray(mixture, "float64"))
    return logits - logits.mean(axis=-1, keepdims=True)


MIXTURE_FLOOR = 1e-6
"""The least weight `move_mean` leaves an operation, so alpha = log(mixture) stays finite."""


def move_mean(
    mean,
    velocity,
    elite_mixtures,
    weights,
    step: float,
    momentum: float = 0.0,
    floor: float = MIXTURE_FLOOR,
):
    """Move the search distribution's mean toward the weighted best candidates.

    `v' = momentum * v + step * (sum_i w_i q_(i) - m)`, `m' = P(m + v')`, where `P` clips
    each entry at `floor` and renormalises each edge; the returned velocity is the move
    actually made, `m' - m`. With `momentum = 0`, `m'` is the convex combination
    `(1 - step) * m + step * sum_i w_i q_(i)` (a mixture for `step <= 1`).

    Args:
        mean: array `(2, n_edges, n_ops)`, the current mixture `m = softmax(alpha)`.
        velocity: array of `mean`'s shape, the previous move (zeros at the start).
        elite_mixtures: array `(mu,) + mean.shape`, the scored mixtures of the selected
            candidates, best first.
        weights: array `(mu,)`, non-negative (`recombination_weights`); all zero: no pull.
        step: float > 0, the learning rate `c_m` of the mean.
        momentum: float in [0, 1). Defaults to 0.0.
        floor: float > 0, the least weight of an operation. Defaults to `MIXTURE_FLOOR`.

    Returns:
        `(new_mean, new_velocity)`, arrays of `mean`'s shape.

    Example:

    >>> m = np.full((1, 1, 2), 0.5)
    >>> new, v = move_mean(m, np.zeros_like(m), np.array([[[[1.0, 0.0]]]]), [1.0], step=0.5)
    >>> new
    array([[[0.75, 0.25]]])
    """
    mean = np.asarray(mean, "float64")
    weights = np.asarray(weights, "float64")
    target = np.tensordot(weights, np.asarray(elite_mixtures, "float64"), axes=1)
    pull = target - mean * weights.sum()
    moved = np.clip(mean + momentum * np.asarray(velocity, "float64") + step * pull, floor, None)
    moved = moved / moved.sum(axis=-1, keepdims=True)
    return moved, moved - mean


def mixture_spread(alpha) -> float:
    """The mean over edges of `max - min` of `softmax(alpha)` over each edge's operations.

    0 for a uniform alpha, near 1 for one-hot edges: how far the search has moved alpha.

    Example:

    >>> mixture_spread(np.log([[0.5, 0.25, 0.25], [1.0, 1.0, 1.0]]))
    0.125
    """
    mixture = edge_softmax(alpha)
    return float(np.mean(mixture.max(axis=-1) - mixture.min(axis=-1)))


def validation_batch(seed: int, batches: int) -> int:
    """The validation batch a generation is scored on: uniform in `[0, batches)` from `seed`.

    A stream of its own (`default_rng((seed, 1))`), independent of the population drawn from
    the same `seed`, so each generation sees a fresh batch, reproducibly.

    Args:
        seed: int, the generation's seed.
        batches: int >= 1, the number of validation batches.

    Returns:
        The int batch index.

    Example:

    >>> [validation_batch(seed, 4) for seed in range(6)]
    [2, 2, 1, 3, 1, 0]
    """
    if int(batches) < 1:
        raise ValueError(f"`batches` must be >= 1. Received: batches={batches}")
    return int(np.random.default_rng((int(seed), 1)).integers(int(batches)))
