"""EG-NAS's architecture update as published (`update="paper"`), as the authors' code computes it.

Cai et al., "EG-NAS: Neural Architecture Search with Fast Evolutionary Exploration" (AAAI
2024), and their `train_search.py` (github.com/caicaicheng/EG-NAS): each generation samples
the population `z_i ~ N(m~, sigma^2 I)` around `m~ = m + 1e-2 * N(0, I)` (`paper_mean`; the
authors' CMA-ES mean is the current mixture `m = softmax(alpha)`, jittered), maps each
candidate to the mixture the supernet is scored with, per edge `q_i = softmax(z_i / |z_i|)`
(`paper_candidates`), scores it with the compound fitness whose similarity is the per-edge
cosine of `m` and `z_i` (scale-free, so the same against `z_i / |z_i|`), keeps the single best
candidate (`best_candidate`: the lowest fitness, the last one on a tie, as their `<=`), and
adds the softmax of its mixture to alpha (`paper_move`):

    v' = momentum * v + (1 - momentum) * softmax(q_best),   alpha' = alpha + step * v',

accumulating over all generations (nothing is forgotten: alpha is the sum of every
generation's `step * softmax(q_best)`). Their defaults: step 0.1, momentum 0, population 50.

What the authors' code does that this does not: it scores each generation three times with
three CMA-ES states built with the same seed (identical populations, so one generation here),
and it adds zeros instead of `softmax(q_best)` when that mixture's accuracy on the minibatch is
exactly 0. The accumulated `v` starts at zeros here (theirs at `1e-3 * N(0, 1)`, which only a
non-zero momentum reads).

Why the project also has `update="es"`: this update moves `softmax(alpha)` little per
generation (`softmax(q_best)` is near uniform), so the supernet's weights train on a
near-uniform mixture for the whole search, the regime behind the paper's results; `es`
(`tuners/egnas/strategy.py`, `move_mean`) moves it as evolution strategies do.
"""

import numpy as np

PAPER_JITTER = 1e-2
"""The standard deviation of the authors' jitter of the sampling mean (`1e-2 * randn_like`)."""


def _softmax(x) -> np.ndarray:
    x = np.asarray(x, "float64")
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def paper_mean(mean, seed: int) -> np.ndarray:
    """The authors' sampling mean: `mean + 1e-2 * N(0, I)`, the noise from `seed`.

    A stream of its own (`default_rng((seed, 2))`), independent of the population's and of
    the validation batch's draws from the same seed.

    Args:
        mean: array `(2, n_edges, n_ops)`, the current mixture `softmax(alpha)`.
        seed: int, the generation's seed.

    Returns:
        Array of `mean`'s shape, float64.

    Example:

    >>> bool(np.abs(paper_mean(np.zeros((2, 3)), seed=1)).max() < 0.05)
    True
    """
    mean = np.asarray(mean, "float64")
    noise = np.random.default_rng((int(seed), 2)).standard_normal(mean.shape)
    return mean + PAPER_JITTER * noise


def paper_candidates(z) -> np.ndarray:
    """The authors' candidate mixtures: per edge, `softmax(z / |z|)` (`|z|` the edge's L2 norm).

    Args:
        z: array `(..., n_ops)`, the sampled candidates.

    Returns:
        Array of `z`'s shape, each edge a mixture (positive, summing to 1); an edge whose
        `z` is all zeros gets the uniform mixture.

    Example:

    >>> paper_candidates([[3.0, 0.0, -4.0]]).round(4)
    array([[0.557 , 0.3057, 0.1373]])
    """
    z = np.asarray(z, "float64")
    norm = np.linalg.norm(z, axis=-1, keepdims=True)
    return _softmax(np.divide(z, norm, out=np.zeros_like(z), where=norm > 0))


def best_candidate(fitness) -> int:
    """The index of the lowest fitness, the last one on a tie (the authors' `<=`).

    Non-finite fitness values never win unless all are non-finite (then index 0).

    Example:

    >>> best_candidate([2.0, 1.0, 3.0, 1.0]), best_candidate([np.nan, 2.0])
    (3, 1)
    """
    fitness = np.asarray(fitness, "float64")
    fitness = np.where(np.isfinite(fitness), fitness, np.inf)
    if not np.isfinite(fitness).any():
        return 0
    return int(np.flatnonzero(fitness == fitness.min())[-1])


def paper_order(fitness) -> np.ndarray:
    """The candidates best first, ties broken as `best_candidate` (the later index first).

    Example:

    >>> paper_order([2.0, 1.0, 3.0, 1.0]).tolist()
    [3, 1, 0, 2]
    """
    fitness = np.asarray(fitness, "float64")
    fitness = np.where(np.isfinite(fitness), fitness, np.inf)
    return np.lexsort((-np.arange(len(fitness)), fitness))


def paper_move(alpha, velocity, best_mixture, step: float, momentum: float = 0.0):
    """The published update: `v' = momentum * v + (1 - momentum) * softmax(q_best)`, then
    `alpha' = alpha + step * v'`.

    Args:
        alpha: array `(2, n_edges, n_ops)`, the current architecture weights.
        velocity: array of `alpha`'s shape, the previous `v` (zeros at the start).
        best_mixture: array of `alpha`'s shape, the best candidate's mixture `q_best`
            (`paper_candidates`).
        step: float > 0, the authors' `step_size` (0.1).
        momentum: float in [0, 1), the authors' `pop_momentum` (0.0).

    Returns:
        `(new_alpha, new_velocity)`.

    Example:

    >>> alpha, v = paper_move(np.zeros((1, 1, 2)), np.zeros((1, 1, 2)),
    ...                       np.array([[[1.0, 0.0]]]), step=0.1)
    >>> alpha.round(4)
    array([[[0.0731, 0.0269]]])
    """
    velocity = momentum * np.asarray(velocity, "float64") + (1.0 - momentum) * _softmax(
        best_mixture
    )
    return np.asarray(alpha, "float64") + step * velocity, velocity
