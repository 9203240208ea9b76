"""How decided a supernet search's policy is: entropy against uniform, the chosen option's
probability, and how stable the chosen architecture stays from epoch to epoch.

A search whose policy has hardly moved from its start (DARTS's alpha after a few hundred Adam
steps at 3e-4, an ENAS controller after a few dozen REINFORCE steps) hands over an
architecture that is close to a random draw. These measures say so, per search epoch:

- `entropy_ratio`: the policy's entropy over its decisions divided by the uniform
  distribution's (1.0: uniform, 0.0: every decision certain). For alpha (DARTS, EG-NAS) the
  mean per-edge entropy of `softmax(alpha)` over `log(num_ops)`; for ENAS's controller the
  expected entropy of a sampled architecture's decisions over that of uniform decisions.
- `chosen_probability` (with `uniform_probability`, its value under a uniform policy): for
  alpha the mean probability of each edge's chosen operation (the strongest one the genotype
  would take); for ENAS the per-decision (geometric mean) probability of the sampled decisions.
- `stability`: the fraction of decisions whose choice stayed the same over the last
  `STABILITY_EPOCHS` epochs (None at the first epoch).
- ENAS's last epoch, `policy_advantage` (with `policy_advantage_se`, its standard error): how
  much better the final candidates, sampled from the trained controller, score on the shared
  weights and the validation data than as many uniformly random architectures do (the
  controller's rewards came from the same validation data, so the figure leans optimistic:
  bench/enas_policy.py scores held-out images). The entropy alone cannot say whether a
  controller learned: the authors' micro controller starts favouring separable convolutions
  (0.98 of uniform), its operation logits are bounded so that no operation decision gets below
  0.95 of uniform, and a controller that learns to undo that start moves its entropy *up*
  (seen in short searches).

`SupernetOracle` records these per epoch (its `decisiveness` list, in its state), logs them,
and warns at the end of a search whose policy stayed within `UNDECIDED_RATIO` of uniform or,
where the policy advantage is measured, whose samples do not beat uniform ones by
`ADVANTAGE_ERRORS` standard errors (`is_undecided`).

Example:

>>> import numpy as np
>>> record = alpha_decisiveness(np.zeros((14, 8)), np.zeros((14, 8)))
>>> round(record["entropy_ratio"], 4), record["chosen_probability"]
(1.0, 0.125)
"""

import numpy as np

STABILITY_EPOCHS = 3
"""The epochs (the current one included) over which `stability` compares the choices."""
UNDECIDED_RATIO = 0.97
"""A search that ends with `entropy_ratio` at or above this is "close to a random draw"."""
ADVANTAGE_ERRORS = 2.0
"""A measured `policy_advantage` below this many standard errors is "close to a random draw"."""


def _softmax(logits):
    logits = np.asarray(logits, "float64")
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def alpha_decisiveness(alpha_normal, alpha_reduce, primitives=None) -> dict:
    """The decisiveness of DARTS-style architecture weights (one softmax per edge).

    Args:
        alpha_normal, alpha_reduce: arrays `(n_edges, n_ops)` of logits.
        primitives: the operations' names, or None. When given, an edge's chosen operation is
            its strongest one other than "none" (what `derive_genotype` takes); else its
            strongest one.

    Returns:
        A dict: `entropy_ratio`, `chosen_probability`, `uniform_probability` (floats) and
        `choice` (list of int, each edge's chosen operation, normal cell then reduction cell).
    """
    probabilities = np.concatenate([_softmax(alpha_normal), _softmax(alpha_reduce)])
    num_ops = probabilities.shape[1]
    entropy = -np.sum(probabilities * np.log(np.maximum(probabilities, 1e-300)), axis=1)
    ranked = probabilities.copy()
    if primitives is not None and "none" in list(primitives) and num_ops > 1:
        ranked[:, list(primitives).index("none")] = -1.0
    choice = np.argmax(ranked, axis=1)
    return {
        "entropy_ratio": float(entropy.mean() / np.log(num_ops)),
        "chosen_probability": float(probabilities[np.arange(len(choice)), choice].mean()),
        "uniform_probability": 1.0 / num_ops,
        "choice": [int(c) for c in choice],
    }


def controller_uniform_entropy(space: str, num_layers: int, num_ops: int) -> float:
    """The entropy of one architecture's decisions under uniform choices, for an ENAS
    decision program (`tuners/enas/programs.py`).

    Args:
        space: "macro", "micro" or "recurrent".
        num_layers: layers (macro), blocks per cell (micro) or nodes (recurrent).
        num_ops: operations (activations) per decision.

    Returns:
        float, nats: macro `L log K + L(L-1)/2 log 2`; micro, per cell and block b (from 0),
        `2 log(b + 2) + 2 log K`; recurrent `N log K + sum_{j=1}^{N-1} log j`.
    """
    log_ops = np.log(num_ops)
    if space == "macro":
        return float(num_layers * log_ops + num_layers * (num_layers - 1) / 2 * np.log(2))
    if space == "micro":
        return float(2 * sum(2 * np.log(b + 2) + 2 * log_ops for b in range(num_layers)))
    return float(num_layers * log_ops + sum(np.log(j) for j in range(1, num_layers)))


def _least_entropy(bound: float, bias) -> float:
    """The entropy of the most decided `softmax(bias + logits)` with every logit in
    `[-bound, bound]`: one option at `+bound`, the others at `-bound` (the best one to favour
    tried); the logits unbounded (`bound` None), 0."""
    bias = np.asarray(bias, "float64")
    if bound is None or len(bias) < 2:
        return 0.0
    least = np.inf
    for favoured in range(len(bias)):
        logits = bias - bound
        logits[favoured] = bias[favoured] + bound
        p = _softmax(logits)
        least = min(least, float(-np.sum(p * np.log(np.maximum(p, 1e-300)))))
    return least


def controller_entropy_floor(controller) -> float:
    """The least `entropy_ratio` an ENAS controller can reach: its logits are bounded by
    `tanh_constant * tanh` (operations by `tanh_constant / op_tanh_reduce`), so even its most
    decided policy keeps some entropy (the authors' micro bounds, 1.1 and 1.1 / 2.5: about 0.8
    of uniform; macro's 1.5: about 0.37). 0.0 for unbounded logits (`tanh_constant` 0)."""
    from keras_nash.tuners.enas.programs import DISTANCE_DIVISOR

    c = controller.tanh_constant or None
    op_bound = None if c is None else c / controller.op_tanh_reduce
    k, layers = controller.num_ops, controller.num_layers
    zeros = np.zeros(k)
    if controller.space == "macro":
        least = layers * _least_entropy(op_bound, zeros)
        least += layers * (layers - 1) / 2 * _least_entropy(c, np.zeros(2))
    elif controller.space == "micro":
        fixed = zeros if controller.op_bias_fixed is None else controller.op_bias_fixed
        least = 0.0
        for bias in (fixed, zeros):  # the normal cell's fixed op bias, then the reduction cell
            for block in range(layers):
                least += 2 * _least_entropy(c, np.zeros(block + 2))
                least += 2 * _least_entropy(op_bound, bias)
    else:
        least = layers * _least_entropy(op_bound, zeros)
        for node in range(1, layers):
            distance = np.arange(node, 0, -1, dtype="float64")
            least += _least_entropy(c, -(distance**2) / DISTANCE_DIVISOR)
    uniform = controller_uniform_entropy(controller.space, layers, k)
    return float(least / uniform)


def controller_decisiveness(controller, num: int = 64, seed: int = 0) -> dict:
    """The decisiveness of an ENAS controller, from `num` architectures it samples.

    The same `seed` every epoch: the samples differ only as the controller does.

    Args:
        controller: a `tuners.enas.controller.Controller`.
        num: int, sampled architectures.
        seed: int, the sampling seed.

    Returns:
        A dict: `entropy_ratio` (the samples' mean summed entropy over the uniform one),
        `entropy_floor` (the least ratio the controller's logit bounds allow,
        `controller_entropy_floor`), `chosen_probability` (the mean per-decision
        geometric-mean probability of the sampled decisions), `uniform_probability`, and
        `choice` (the most probable sample's decisions).
    """
    decisions, log_probs, entropies = controller.sample(num, seed=seed)
    uniform = controller_uniform_entropy(
        controller.space, controller.num_layers, controller.num_ops
    )
    count = decisions.shape[1]
    return {
        "entropy_ratio": float(np.mean(entropies) / uniform),
        "entropy_floor": controller_entropy_floor(controller),
        "chosen_probability": float(np.mean(np.exp(log_probs / count))),
        "uniform_probability": float(np.exp(-uniform / count)),
        "choice": [int(d) for d in decisions[int(np.argmax(log_probs))]],
    }


def policy_advantage(policy_scores, uniform_scores) -> dict:
    """How much better architectures sampled from a policy score than uniformly random ones
    (on the same shared weights and data; higher scores better).

    Args:
        policy_scores, uniform_scores: sequences of floats, one score an architecture.

    Returns:
        A dict: `policy_advantage` (the difference of the means) and `policy_advantage_se`
        (its standard error, from the two samples' variances; 0 for single scores).

    Example:

    >>> record = policy_advantage([0.3, 0.5], [0.2, 0.2])
    >>> round(record["policy_advantage"], 4), round(record["policy_advantage_se"], 4)
    (0.2, 0.1)
    """
    policy = np.asarray(policy_scores, "float64")
    uniform = np.asarray(uniform_scores, "float64")

    def variance_of_mean(values):
        return values.var(ddof=1) / len(values) if len(values) > 1 else 0.0

    return {
        "policy_advantage": float(policy.mean() - uniform.mean()),
        "policy_advantage_se": float(np.sqrt(variance_of_mean(policy) + variance_of_mean(uniform))),
    }


def stability(choices: list) -> float | None:
    """The fraction of decisions whose choice is the same in all of `choices` (the last
    epochs' choice vectors, oldest first); None for fewer than two."""
    if len(choices) < 2:
        return None
    stacked = np.asarray(choices)
    return float(np.mean(np.all(stacked == stacked[-1], axis=0)))


def describe(record: dict) -> str:
    """One log line's worth of a record."""
    floor = record.get("entropy_floor")
    text = (
        f"entropy {record['entropy_ratio']:.4f} of uniform"
        + (f" (its logit bounds allow {floor:.4f} at least)" if floor else "")
        + " | chosen option p "
        f"{record['chosen_probability']:.4f} (uniform {record['uniform_probability']:.4f})"
    )
    if record.get("stability") is not None:
        text += f" | {record['stability']:.0%} of choices unchanged over the last epochs"
    if "policy_advantage" in record:
        text += (
            f" | its samples score {record['policy_advantage']:+.4f} ± "
            f"{record['policy_advantage_se']:.4f} against uniform ones"
        )
    return text


def is_undecided(records: list, ratio: float = UNDECIDED_RATIO) -> bool:
    """Whether the last record says the found architecture is close to a random draw: its
    policy advantage, where measured, below `ADVANTAGE_ERRORS` standard errors; else its
    entropy within `1 - ratio` of uniform. No record: False."""
    if not records:
        return False
    last = records[-1]
    if "policy_advantage" in last:
        return last["policy_advantage"] <= ADVANTAGE_ERRORS * last["policy_advantage_se"]
    return last["entropy_ratio"] >= ratio
