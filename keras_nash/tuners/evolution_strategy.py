"""EG-NAS's evolution-strategy mathematics (Cai et al., AAAI 2024): plain numpy, no Keras.

The pieces `EvolutionOracle` composes into one generation: the sigma schedule, sampling the
population around the current mixture, turning candidates into mixtures, the similarity term
and the compound fitness (lower is better)

    f_i = zeta * L1_i + eta * L2_i   if acc_i >= acc(m) on the same minibatch,
    f_i = zeta * L1_i - eta * L2_i   otherwise,

with L1 the candidate's cross-entropy and L2 = (cos(m, p_i) + 1) / 2 (`cosine_term`) the
similarity of the candidate mixture `p_i` to the current one `m = softmax(alpha)`. Each is a
pure function, tested on its own; `score_generation` composes them.
"""

import numpy as np

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


def score_generation(alpha, sigma, seed, population_size, cross_entropy, accuracy,
                     reference_accuracy, zeta=1.0, eta=0.4):
    """Score one evaluated generation: regenerate its population, rank it by fitness.

    Regenerates the raw candidates `z = sample_population(softmax(alpha), sigma, ..., seed)`
    (what the tuner evaluated), their mixtures (`normalise_candidates`), the similarity
    (`cosine_term`) and the compound fitness, and ranks the candidates, best first.

    Args:
        alpha: array `(2, n_edges, n_ops)`, the current architecture weights.
        sigma, seed, population_size: the generation's sampling (see `sample_population`).
        cross_entropy, accuracy: sequences of `population_size` floats measured per candidate.
        reference_accuracy: float, the current alpha's accuracy on the same minibatch.
        zeta, eta: the fitness weights (see `compound_fitness`).

    Returns:
        `(z, elite)`: the raw candidates, and the better half of the population as JSON-ready
        records (`index`, `fitness`, `cross_entropy`, `similarity`, `accuracy`), best first.

    Example:

    >>> z, elite = score_generation(np.zeros((2, 3, 4)), 0.5, 1, 4, [2.0, 1.0, 3.0, 4.0],
    ...                             [0.5] * 4, 0.5)
    >>> z.shape, [record["index"] for record in elite]
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
    mean = edge_softmax(alpha)
    z = sample_population(mean, sigma, population_size, seed)
    similarity = cosine_term(mean, normalise_candidates(z))
    fitness = compound_fitness(cross_entropy, similarity, accuracy, reference_accuracy, zeta, eta)
    fitness = np.where(np.isfinite(fitness), fitness, np.inf)
    order = np.argsort(fitness, kind="stable")
    elite = [
        {
            "index": int(i),
            "fitness": float(fitness[i]),
            "cross_entropy": float(cross_entropy[i]),
            "similarity": float(similarity[i]),
            "accuracy": float(accuracy[i]),
        }
        for i in order[: max(1, population_size // 2)]
    ]
    return z, elite
