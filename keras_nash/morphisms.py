"""Function-preserving network morphisms: NASH's deeper, wider and skip operators, as data.

A morphism is a plain dict with every random choice already made, e.g.

    {"op": "deeper", "after": "relu_3", "kernel_size": 5}
    {"op": "wider", "conv": "conv_2", "factor": 2, "seed": 17}
    {"op": "skip", "from": "relu_1", "to": "relu_2", "mode": "concat", "seed": 3}

so it can be applied to an `Architecture` alone (what a search coordinator needs: `apply`) or to
an architecture with its weights (what a worker needs: `apply_with_weights`), deterministically
and with the same node ids either way. The child computes the same function as its parent in
inference mode (up to float rounding); `max_output_difference` measures it.

How each operator keeps the function (Elsken et al. 2017, types I-IV):

- deeper: after a conv block's ReLU, insert Conv(k)-BN-ReLU with a Dirac kernel, a batch norm
  that passes its input through, and a ReLU that is idempotent on the non-negative input.
- wider: the conv gets `(factor - 1) * filters` new filters (random He-normal values); every
  node downstream carries the new channels (batch norm gets identity parameters for them) until
  a conv or dense layer, whose weights for the new channels are zero. Where the new channels
  reach an add (or lambda_sum) whose other input does not carry them, the conv behind that
  input is widened with them ("widened together"); a target that cannot be widened
  consistently (the channels would reach the output or a softmax, or an add input has no conv
  behind it) is not valid and `valid_targets` leaves it out.
- skip, mode "add": `to` becomes `lambda_sum(to, from)` with lambda = 1 when the shapes agree
  (type IV), else `add(to, conv1x1(from))` with a zero-initialised projection (type II).
- skip, mode "concat": `to` becomes `concat(to, from)`; the appended channels travel downstream
  like a widening and meet zero weights (type II).

New nodes get fresh ids (`conv_<k>`, `bn_<k>`, `relu_<k>`, `add_<k>`, `concat_<k>`).
"""

import numpy as np

from keras_nash.graph import Architecture, Node

OPERATORS = ("deeper", "wider", "skip")
# Ops that carry channels through unchanged (per channel), so new channels pass them.
_PER_CHANNEL = ("batch_norm", "relu", "dropout", "max_pool", "avg_pool", "global_avg_pool")
# Ops through which an add's input can be traced back to the conv that makes its channels.
_TRACEABLE = ("batch_norm", "relu", "dropout", "max_pool", "avg_pool")


class _CannotGrow(ValueError):
    """New channels cannot be carried through the network consistently."""


# -- public API -------------------------------------------------------------------------------
def apply(arch: Architecture, morphisms: list) -> Architecture:
    """Apply morphisms to an architecture alone (no weights): the coordinator's view.

    Args:
        arch: the parent `Architecture` (not modified).
        morphisms: a list of morphism dicts (or one dict).

    Returns:
        The child `Architecture`.
    """
    child, _ = _apply_all(arch, morphisms, None)
    return child


def apply_with_weights(arch: Architecture, weights: dict, morphisms: list):
    """Apply morphisms to an architecture and its weights: the worker's view.

    Args:
        arch: the parent `Architecture` (not modified).
        weights: `{node_id: [numpy arrays]}` as `keras_nash.graph.get_weights` gives.
        morphisms: a list of morphism dicts (or one dict).

    Returns:
        `(child_arch, child_weights)`: load the weights into `build_model(child_arch)` with
        `keras_nash.graph.set_weights` and it computes the parent's function.

    Example:

    >>> arch = seed_models.simple_cnn_architecture((32, 32, 3), 10, filters=(8, 16, 32))
    >>> parent = build_model(arch)
    >>> m = [{"op": "wider", "conv": "conv_2", "factor": 2, "seed": 0}]
    >>> child_arch, w = apply_with_weights(arch, get_weights(parent, arch), m)
    >>> child = build_model(child_arch); set_weights(child, w)
    """
    missing = [n.id for n in arch.nodes if n.op in ("conv", "batch_norm", "dense", "lambda_sum") and n.id not in weights]
    if missing:
        raise ValueError(f"`weights` has no values for nodes {missing}.")
    return _apply_all(arch, morphisms, {k: [np.asarray(v) for v in vs] for k, vs in weights.items()})


def valid_targets(arch: Architecture, op: str, mode: str | None = None) -> list:
    """Where an operator can be applied, in topological order.

    - "deeper": ids of ReLU nodes that end a conv block (ReLU after a conv or a conv's BN).
    - "wider": ids of convs whose new channels can be carried consistently.
    - "skip": `(from, to)` pairs of conv-block ReLUs, `from` earlier, same spatial size, not
      already joined; with `mode="concat"`, only pairs whose new channels can be carried.
    """
    if op == "deeper":
        return [n.id for n in arch.nodes if _ends_conv_block(arch, n)]
    if op == "wider":
        return [n.id for n in arch.nodes if n.op == "conv" and _can_widen(arch, n.id)]
    if op == "skip":
        pairs = _skip_pairs(arch)
        if mode == "concat":
            pairs = [p for p in pairs if _can_concat(arch, *p)]
        return pairs
    raise ValueError(f"`op` must be one of {OPERATORS}. Received: op={op!r}")


def random_morphisms(
    arch: Architecture,
    n: int,
    rng,
    probabilities=None,
    kernel_sizes=(3, 5),
    widening_factors=(2, 4),
    skip_modes=("add", "concat"),
) -> list:
    """Draw `n` resolved morphisms to apply one after the other (NASH's ApplyNetMorph).

    Each draw picks an operator with `probabilities` (default 1/3 each; operators with no
    valid target are skipped and the rest renormalised), then a target uniformly among the valid
    ones and every other choice uniformly (kernel size, widening factor, skip mode), plus a seed
    for the new random weights. Later draws see the architecture the earlier ones made.

    Args:
        arch: the parent `Architecture`.
        n: int >= 0, the number of morphisms.
        rng: a `numpy.random.Generator` or an int seed.
        probabilities: dict operator -> weight, e.g. `{"deeper": 1, "wider": 1, "skip": 1}`.
        kernel_sizes, widening_factors, skip_modes: the uniform choices.

    Returns:
        A list of `n` morphism dicts (fewer only if no operator has a target left).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"`n` must be an int >= 0. Received: n={n!r}")
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    weights = _check_probabilities(probabilities)
    _check_choices(kernel_sizes, widening_factors, skip_modes)
    morphisms, current = [], arch
    for _ in range(n):
        morphism = _draw(current, rng, weights, kernel_sizes, widening_factors, skip_modes)
        if morphism is None:
            break
        current = apply(current, [morphism])
        morphisms.append(morphism)
    return morphisms


def max_output_difference(parent, child, x, output: str | None = None) -> float:
    """Largest absolute difference between two models' outputs on `x`, in inference mode.

    Args:
        parent, child: `keras.Model`s.
        x: a batch of inputs (numpy array or tensor).
        output: optional layer name (e.g. "logits") to compare instead of the models' outputs;
            both models must have a layer of that name.

    Returns:
        float, `max |parent(x) - child(x)|`.
    """
    import keras

    def outputs(model):
        if output is not None:
            model = keras.Model(model.input, model.get_layer(output).output)
        return np.asarray(model(x, training=False))

    a, b = outputs(parent), outputs(child)
    if a.shape != b.shape:
        raise ValueError(f"The models' outputs differ in shape: {a.shape} vs {b.shape}.")
    return float(np.max(np.abs(a - b)))


# -- drawing ----------------------------------------------------------------------------------
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
    if not skip_modes or set(skip_modes) - {"add", "concat"}:
        raise ValueError(f"`skip_modes` must be a non-empty subset of ('add', 'concat'). Received: skip_modes={skip_modes}")


def _draw(arch, rng, weights, kernel_sizes, widening_factors, skip_modes):
    candidates = [op for op in OPERATORS if weights[op] > 0]
    while candidates:
        p = np.array([weights[op] for op in candidates])
        op = candidates[rng.choice(len(candidates), p=p / p.sum())]
        morphism = _draw_for(arch, op, rng, kernel_sizes, widening_factors, skip_modes)
        if morphism is not None:
            return morphism
        candidates.remove(op)
    return None


def _first_valid(items, rng, is_valid):
    for index in rng.permutation(len(items)):
        if is_valid(items[index]):
            return items[index]
    return None


def _draw_for(arch, op, rng, kernel_sizes, widening_factors, skip_modes):
    seed = lambda: int(rng.integers(2**31 - 1))  # noqa: E731
    if op == "deeper":
        targets = valid_targets(arch, "deeper")
        if not targets:
            return None
        after = targets[rng.integers(len(targets))]
        return {"op": "deeper", "after": after, "kernel_size": int(kernel_sizes[rng.integers(len(kernel_sizes))])}
    if op == "wider":
        convs = [n.id for n in arch.nodes if n.op == "conv"]
        conv = _first_valid(convs, rng, lambda c: _can_widen(arch, c))
        if conv is None:
            return None
        return {"op": "wider", "conv": conv, "factor": int(widening_factors[rng.integers(len(widening_factors))]), "seed": seed()}
    pairs = _skip_pairs(arch)
    modes = list(skip_modes)
    while modes and pairs:
        mode = modes[rng.integers(len(modes))]
        pair = pairs[rng.integers(len(pairs))] if mode == "add" else _first_valid(pairs, rng, lambda p: _can_concat(arch, *p))
        if pair is not None:
            return {"op": "skip", "from": pair[0], "to": pair[1], "mode": mode, "seed": seed()}
        modes.remove(mode)
    return None


# -- applying ---------------------------------------------------------------------------------
def _apply_all(arch, morphisms, weights):
    if isinstance(morphisms, dict):
        morphisms = [morphisms]
    child = arch.copy()
    weights = dict(weights) if weights is not None else None
    for morphism in morphisms:
        _check_morphism(child, morphism)
        {"deeper": _deeper, "wider": _wider, "skip": _skip}[morphism["op"]](child, morphism, weights)
        child.validate()
    return child, weights


def _require(morphism, key, kind):
    if key not in morphism:
        raise ValueError(f"Morphism {morphism} needs the key {key!r} ({kind}).")
    return morphism[key]


def _check_morphism(arch, m):
    if not isinstance(m, dict):
        raise ValueError(f"A morphism must be a dict. Received: {m!r}")
    op = m.get("op")
    if op not in OPERATORS:
        raise ValueError(f"Morphism `op` must be one of {OPERATORS}. Received: op={op!r}")
    if op == "deeper":
        after = arch.node(_require(m, "after", "the id of a conv block's ReLU"))
        if not _ends_conv_block(arch, after):
            raise ValueError(f"deeper: `after` must be a ReLU that ends a conv block. Received: after={after.id!r} ({after.op})")
        k = _require(m, "kernel_size", "an odd int")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 or k % 2 == 0:
            raise ValueError(f"deeper: `kernel_size` must be a positive odd int. Received: kernel_size={k!r}")
    elif op == "wider":
        conv = arch.node(_require(m, "conv", "the id of a conv node"))
        if conv.op != "conv":
            raise ValueError(f"wider: `conv` must be a conv node. Received: conv={conv.id!r} ({conv.op})")
        factor = _require(m, "factor", "an int >= 2")
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 2:
            raise ValueError(f"wider: `factor` must be an int >= 2. Received: factor={factor!r}")
    else:
        source = arch.node(_require(m, "from", "a node id"))
        target = arch.node(_require(m, "to", "a node id"))
        mode = _require(m, "mode", "'add' or 'concat'")
        if mode not in ("add", "concat"):
            raise ValueError(f"skip: `mode` must be 'add' or 'concat'. Received: mode={mode!r}")
        if arch.index(source.id) >= arch.index(target.id):
            raise ValueError(f"skip: `from` must come before `to` in the network. Received: from={source.id!r}, to={target.id!r}")
        shapes = arch.shapes()
        if len(shapes[source.id]) != 3 or shapes[source.id][:2] != shapes[target.id][:2]:
            raise ValueError(
                f"skip: `from` and `to` must have the same spatial size. Received: from={source.id!r} "
                f"{shapes[source.id]}, to={target.id!r} {shapes[target.id]}"
            )
        if target.id in arch.outputs:
            raise ValueError(f"skip: `to` must not be an output of the network. Received: to={target.id!r}")


def _deeper(arch, m, weights):
    after = m["after"]
    channels = arch.shape(after)[-1]
    k = int(m["kernel_size"])
    conv_id = arch.next_id("conv")
    bn_id = arch.next_id("bn")
    relu_id = arch.next_id("relu")
    eps = 1e-3
    arch.insert_after(
        after,
        [
            Node(conv_id, "conv", [after], {"filters": channels, "kernel_size": k, "kernel_initializer": "dirac"}),
            Node(bn_id, "batch_norm", [conv_id], {"epsilon": eps, "identity_init": True}),
            Node(relu_id, "relu", [bn_id]),
        ],
        rewire_from=after,
        rewire_to=relu_id,
    )
    if weights is not None:
        from keras_nash.layers.morph import dirac_kernel

        weights[conv_id] = [dirac_kernel(k, k, channels)]
        weights[bn_id] = [
            np.full(channels, np.sqrt(1.0 + eps), "float32"),
            np.zeros(channels, "float32"),
            np.zeros(channels, "float32"),
            np.ones(channels, "float32"),
        ]


def _wider(arch, m, weights):
    conv = arch.node(m["conv"])
    filters = conv.config["filters"]
    mask = np.concatenate([np.zeros(filters, bool), np.ones(filters * (int(m["factor"]) - 1), bool)])
    try:
        _grow(arch, {conv.id: mask}, weights, m.get("seed", 0))
    except _CannotGrow as error:
        raise ValueError(f"wider: conv {conv.id!r} cannot be widened: {error}") from None


def _skip(arch, m, weights):
    source, target = m["from"], m["to"]
    shapes = arch.shapes()
    c_source, c_target = shapes[source][-1], shapes[target][-1]
    if m["mode"] == "concat":
        concat_id = arch.next_id("concat")
        arch.insert_after(target, [Node(concat_id, "concat", [target, source])], target, concat_id)
        mask = np.concatenate([np.zeros(c_target, bool), np.ones(c_source, bool)])
        try:
            _grow(arch, {concat_id: mask}, weights, m.get("seed", 0))
        except _CannotGrow as error:
            raise ValueError(f"skip: cannot concatenate {source!r} onto {target!r}: {error}") from None
        return
    if c_source == c_target:
        add_id = arch.next_id("add")
        arch.insert_after(target, [Node(add_id, "lambda_sum", [target, source])], target, add_id)
        if weights is not None:
            weights[add_id] = [np.array(1.0, "float32")]
        return
    proj_id = arch.next_id("conv")
    add_id = arch.next_id("add")
    arch.insert_after(
        target,
        [
            Node(proj_id, "conv", [source], {"filters": c_target, "kernel_size": 1, "kernel_initializer": "zeros"}),
            Node(add_id, "add", [target, proj_id]),
        ],
        target,
        add_id,
    )
    if weights is not None:
        weights[proj_id] = [np.zeros((1, 1, c_source, c_target), "float32")]


# -- carrying new channels --------------------------------------------------------------------
def _plan_growth(arch, origins):
    """Which nodes carry new channels, and which convs must be widened to carry them.

    Args:
        origins: `{node_id: mask}`: the node's output gets new channels where mask is True.

    Returns:
        `(sources, masks)`: `sources` maps every widened node (origins and convs widened
        together with them) to its new-channel mask; `masks[node_id]` is the new-channel mask of
        each node's output, or None where the output is unchanged.

    Raises:
        _CannotGrow: the new channels would reach an output or a softmax, or an add input
        that carries no new channels has no conv behind it to widen.
    """
    shapes = arch.shapes()
    sources = dict(origins)
    while True:
        masks, widened_more = {}, False
        for node in arch.nodes:
            in_masks = [masks[i] for i in node.inputs]
            if node.id in sources:
                out = sources[node.id]
            elif node.op in ("conv", "dense", "input"):
                out = None
            elif node.op in _PER_CHANNEL:
                out = in_masks[0]
            elif node.op == "flatten":
                h, w, _ = shapes[node.inputs[0]]
                out = None if in_masks[0] is None else np.tile(in_masks[0], h * w)
            elif node.op == "concat":
                out = None
                if any(mk is not None for mk in in_masks):
                    out = np.concatenate([
                        mk if mk is not None else np.zeros(shapes[i][-1], bool) for i, mk in zip(node.inputs, in_masks)
                    ])
            elif node.op in ("add", "lambda_sum"):
                grown = [mk for mk in in_masks if mk is not None]
                out = grown[0] if grown else None
                if any(not np.array_equal(mk, out) for mk in grown):
                    raise _CannotGrow(f"new channels reach {node.id!r} ({node.op}) at different positions")
                for input_id, mk in zip(node.inputs, in_masks):
                    if out is None or mk is not None:
                        continue
                    conv_id = _conv_behind(arch, input_id)
                    if conv_id is None or conv_id in sources:
                        raise _CannotGrow(f"{node.id!r} ({node.op}) has an input {input_id!r} with no conv behind it to widen together")
                    sources[conv_id] = out
                    widened_more = True
            else:  # softmax and anything that mixes channels
                if any(mk is not None for mk in in_masks):
                    raise _CannotGrow(f"new channels would reach {node.id!r} ({node.op})")
                out = None
            if out is not None and node.id in arch.outputs:
                raise _CannotGrow(f"new channels would reach the output {node.id!r}")
            masks[node.id] = out
        if not widened_more:
            return sources, masks


def _grow(arch, origins, weights, seed):
    """Carry new channels from `origins` through `arch` (and `weights`), in place."""
    sources, masks = _plan_growth(arch, origins)
    rng = np.random.default_rng(seed)
    for node in arch.nodes:
        in_mask = masks[node.inputs[0]] if node.inputs else None
        if node.op == "conv" and node.id in sources:
            node.config["filters"] = int(len(sources[node.id]))
        if weights is None or node.id not in weights:
            continue
        values = weights[node.id]
        if node.op == "conv":
            kernel = values[0] if in_mask is None else _expand(values[0], in_mask, 2, 0.0)
            rest = values[1:]
            if node.id in sources:
                out_mask = sources[node.id]
                kh, kw, c_in, _ = kernel.shape
                fan_in = kh * kw * c_in
                new = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(kh, kw, c_in, int(out_mask.sum())))
                kernel = _expand(kernel, out_mask, 3, new)
                rest = [_expand(b, out_mask, 0, 0.0) for b in rest]
            weights[node.id] = [kernel] + rest
        elif node.op == "dense" and in_mask is not None:
            weights[node.id] = [_expand(values[0], in_mask, 0, 0.0)] + values[1:]
        elif node.op == "batch_norm" and in_mask is not None:
            gamma, beta, mean, var = values
            weights[node.id] = [_expand(gamma, in_mask, 0, 1.0), _expand(beta, in_mask, 0, 0.0), _expand(mean, in_mask, 0, 0.0), _expand(var, in_mask, 0, 1.0)]


def _expand(array, mask, axis, fill):
    """Insert new entries along `axis` where `mask` is True; old entries keep their order."""
    shape = list(array.shape)
    shape[axis] = len(mask)
    out = np.empty(shape, dtype=array.dtype)
    index = [slice(None)] * array.ndim
    index[axis] = ~mask
    out[tuple(index)] = array
    index[axis] = mask
    out[tuple(index)] = fill
    return out


def _conv_behind(arch, node_id):
    node = arch.node(node_id)
    while node.op in _TRACEABLE:
        node = arch.node(node.inputs[0])
    return node.id if node.op == "conv" else None


def _can_widen(arch, conv_id):
    filters = arch.node(conv_id).config["filters"]
    mask = np.concatenate([np.zeros(filters, bool), np.ones(filters, bool)])
    try:
        _plan_growth(arch, {conv_id: mask})
    except _CannotGrow:
        return False
    return True


def _can_concat(arch, source, target):
    trial = arch.copy()
    try:
        _skip(trial, {"from": source, "to": target, "mode": "concat"}, None)
    except ValueError:
        return False
    return True


def _ends_conv_block(arch, node):
    if node.op != "relu":
        return False
    before = arch.node(node.inputs[0])
    if before.op == "batch_norm":
        before = arch.node(before.inputs[0])
    return before.op == "conv"


def _skip_pairs(arch):
    shapes = arch.shapes()
    blocks = [n.id for n in arch.nodes if _ends_conv_block(arch, n) and n.id not in arch.outputs]
    joined = {tuple(n.inputs[:2]) for n in arch.nodes if n.op in ("add", "lambda_sum", "concat")}
    joined |= {(n.inputs[0], arch.node(n.inputs[1]).inputs[0]) for n in arch.nodes if n.op == "add" and len(n.inputs) == 2 and arch.node(n.inputs[1]).op == "conv"}
    pairs = []
    for a, source in enumerate(blocks):
        for target in blocks[a + 1:]:
            if shapes[source][:2] == shapes[target][:2] and (target, source) not in joined:
                pairs.append((source, target))
    return pairs
