"""The Pareto front of (objective, cost) and LEMONADE's choice of parents on it.

LEMONADE (Elsken, Metzen and Hutter, ICLR 2019) keeps every trained network that no other
beats on both the objective and the cost, and picks the parents of the next children with
probability inversely proportional to a kernel density estimate of the front in the cheap
objective (here the log of the cost): children are proposed where the front is sparse, which
keeps it spread from cheap to accurate instead of crowding behind the most accurate network.

Example:

>>> front = non_dominated([("a", 0.5, 10.0), ("b", 0.6, 20.0), ("c", 0.4, 30.0)])
>>> sorted(point[0] for point in front)
['a', 'b']
>>> p = parent_probabilities([1.0, 1.1, 100.0])
>>> bool(p[2] > p[0])
True
"""

import numpy as np


def non_dominated(points: list) -> list:
    """The points of `(key, score, cost)` (score: higher is better; cost: lower is better) that
    no other point dominates (at least as good on both, strictly better on one), by cost.
    Of points equal on both, the first is kept."""
    front = []
    for i, (key, score, cost) in enumerate(points):
        dominated = False
        for j, (_, other_score, other_cost) in enumerate(points):
            if j == i:
                continue
            at_least = other_score >= score and other_cost <= cost
            strictly = other_score > score or other_cost < cost
            if at_least and (strictly or j < i):
                dominated = True
                break
        if not dominated:
            front.append((key, score, cost))
    return sorted(front, key=lambda point: (point[2], -point[1]))


def parent_probabilities(costs) -> np.ndarray:
    """Probabilities inversely proportional to a Gaussian kernel density estimate of the
    log-costs (Scott's bandwidth; 1 when they are all equal)."""
    log_costs = np.log(np.maximum(np.asarray(costs, dtype=float), 1e-12))
    n = len(log_costs)
    if n == 1:
        return np.ones(1)
    spread = log_costs.std()
    bandwidth = 1.06 * spread * n ** -0.2 if spread > 0 else 1.0
    distances = (log_costs[:, None] - log_costs[None, :]) / bandwidth
    density = np.exp(-0.5 * distances**2).mean(axis=1)
    weights = 1.0 / density
    return weights / weights.sum()


def sample_parents(front: list, n: int, rng) -> list:
    """`n` keys of `front` (`(key, score, cost)` points) drawn with `parent_probabilities`."""
    p = parent_probabilities([cost for _, _, cost in front])
    return [front[i][0] for i in rng.choice(len(front), size=n, p=p)]
