"""Drawing random morphisms: NASH's ApplyNetMorph, with every random choice resolved.

Example:

>>> from keras_nash import morphisms, seed_models
>>> arch = seed_models.simple_cnn_architecture((8, 8, 3), 10, filters=(4, 8))
>>> drawn = morphisms.random_morphisms(arch, 3, rng=0)
>>> drawn == morphisms.random_morphisms(arch, 3, rng=0)
True
>>> morphisms.apply(arch, drawn).count_params() > arch.count_params()
True
"""

import numpy as np

from keras_nash.checks import check_int
from keras_nash.graph import Architecture
from keras_nash.morphisms.operators import OPERATORS, SKIP_MODES, apply, can_concat, can_widen
from keras_nash.morphisms.targets import skip_pairs, valid_targets

# Seeds drawn for the new random weights of a morphism are in [0, _MAX_SEED).
_MAX_SEED = 2**31 - 1
# Draws of one morphism before `random_morphisms` gives up on keeping a child inside `max_growth`.
_REDRAWS = 10


def random_morphisms(
    arch: Architecture,
    n: int,
    rng,
    probabilities: dict | None = None,
    kernel_sizes=(3, 5),
    widening_factors=(2, 4),
    skip_modes=SKIP_MODES,
    cost=None,
    max_growth=None,
) -> list:
    """Draw `n` resolved morphisms to apply one after the other (NASH's ApplyNetMorph).

    Each draw picks an operator with `probabilities` (default 1/3 each; operators with no
    valid target are skipped and the rest renormalised), then a target uniformly among the valid
    ones and every other choice uniformly (kernel size, widening factor, skip mode), plus a seed
    for the new random weights. Later draws see the architecture the earlier ones made. One
    convolution is widened at most once in one draw of `n` (a conv widened x2 then x4 grows its
    cost x8 in one child).

    With `cost` and `max_growth`, a morphism that would make `cost(child)` exceed `max_growth`
    times `cost(arch)` is drawn again (up to `_REDRAWS` times, then the drawing stops: fewer
    than `n` morphisms), so a child's cost grows by a bounded factor.

    Args:
        arch: the parent `Architecture`.
        n: int >= 0, the number of morphisms.
        rng: a `numpy.random.Generator` or an int seed.
        probabilities: dict operator -> weight, e.g. `{"deeper": 1, "wider": 1, "skip": 1}`.
            Defaults to None (equal weights).
        kernel_sizes: positive odd ints, the kernel sizes of deeper. Defaults to `(3, 5)`.
        widening_factors: ints >= 2, the factors of wider. Defaults to `(2, 4)`.
        skip_modes: subset of `("add", "concat")`, the modes of skip. Defaults to both.
        cost: optional callable `Architecture -> float`, the cost `max_growth` bounds.
        max_growth: optional float >= 1, the largest `cost(child) / cost(arch)`. Defaults to
            None (no bound: the paper).

    Returns:
        A list of `n` morphism dicts (fewer if no operator has a target left, or no draw keeps
        the cost inside `max_growth`).
    """
    n = check_int("n", n, minimum=0)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    weights = _check_probabilities(probabilities)
    _check_choices(kernel_sizes, widening_factors, skip_modes)
    if max_growth is not None and (cost is None or not max_growth >= 1):
        raise ValueError(f"`max_growth` must be >= 1, with a `cost`. Received: max_growth={max_growth}")
    limit = None if max_growth is None else max_growth * cost(arch)
    morphisms, current, widened = [], arch, set()
    for _ in range(n):
        for _ in range(_REDRAWS if limit is not None else 1):
            morphism = _draw(current, rng, weights, kernel_sizes, widening_factors, skip_modes, widened)
            if morphism is None:
                break
            child = apply(current, [morphism])
            if limit is None or cost(child) <= limit:
                break
            morphism = None
        if morphism is None:
            break
        current = child
        morphisms.append(morphism)
        if morphism["op"] == "wider":
            widened.add(morphism["conv"])
    return morphisms


def _check_probabilities(probabilities):
    if probabilities is None:
        return {op: 1.0 for op in OPERATORS}
    unknown = set(probabilities) - set(OPERATORS)
    if unknown:
        raise ValueError(f"`probabilities` has unknown operators {sorted(unknown)}; use {OPERATORS}.")
    weights = {op: float(probabilities.get(op, 0.0)) for op in OPERATORS}
    if min(weights.values()) < 0 or sum(weights.values()) <= 0:
        raise ValueError(f"`probabilities` must be >= 0 with a positive sum. Received: probabilities={probabilities}")
    return weights


def _check_choices(kernel_sizes, widening_factors, skip_modes):
    if not kernel_sizes or any(int(k) < 1 or int(k) % 2 == 0 for k in kernel_sizes):
        raise ValueError(f"`kernel_sizes` must be positive odd ints. Received: kernel_sizes={kernel_sizes}")
    if not widening_factors or any(int(f) < 2 for f in widening_factors):
        raise ValueError(f"`widening_factors` must be ints >= 2. Received: widening_factors={widening_factors}")
    if not skip_modes or set(skip_modes) - set(SKIP_MODES):
        raise ValueError(f"`skip_modes` must be a non-empty subset of {SKIP_MODES}. Received: skip_modes={skip_modes}")


def _draw(arch, rng, weights, kernel_sizes, widening_factors, skip_modes, widened=()):
    """One morphism: an operator by weight, retried without it when it has no valid target."""
    candidates = [op for op in OPERATORS if weights[op] > 0]
    while candidates:
        p = np.array([weights[op] for op in candidates])
        op = candidates[rng.choice(len(candidates), p=p / p.sum())]
        if op == "deeper":
            morphism = _draw_deeper(arch, rng, kernel_sizes)
        elif op == "wider":
            morphism = _draw_wider(arch, rng, widening_factors, widened)
        else:
            morphism = _draw_skip(arch, rng, skip_modes)
        if morphism is not None:
            return morphism
        candidates.remove(op)
    return None


def _draw_deeper(arch, rng, kernel_sizes):
    targets = valid_targets(arch, "deeper")
    if not targets:
        return None
    after = _pick(targets, rng)
    return {"op": "deeper", "after": after, "kernel_size": int(_pick(kernel_sizes, rng))}


def _draw_wider(arch, rng, widening_factors, widened=()):
    convs = [n.id for n in arch.nodes if n.op == "conv" and n.id not in widened]
    conv = _first_valid(convs, rng, lambda c: can_widen(arch, c))
    if conv is None:
        return None
    factor = int(_pick(widening_factors, rng))
    return {"op": "wider", "conv": conv, "factor": factor, "seed": int(rng.integers(_MAX_SEED))}


def _draw_skip(arch, rng, skip_modes):
    pairs = skip_pairs(arch)
    modes = list(skip_modes)
    while modes and pairs:
        mode = _pick(modes, rng)
        if mode == "add":
            pair = _pick(pairs, rng)
        else:
            pair = _first_valid(pairs, rng, lambda p: can_concat(arch, *p))
        if pair is not None:
            return {"op": "skip", "from": pair[0], "to": pair[1], "mode": mode, "seed": int(rng.integers(_MAX_SEED))}
        modes.remove(mode)
    return None


def _pick(items, rng):
    """One of `items`, uniformly (items may be a tuple of pairs, unlike `rng.choice`)."""
    return items[rng.integers(len(items))]


def _first_valid(items, rng, is_valid):
    """The first item of a random permutation that `is_valid`, or None."""
    for index in rng.permutation(len(items)):
        if is_valid(items[index]):
            return items[index]
    return None
