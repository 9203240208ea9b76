"""Carrying new channels through a network: which nodes grow, and how their weights grow.

Widening a conv, or concatenating a skip connection onto a block, adds channels to one node's
output. Every node downstream that works per channel (batch norm, ReLU, pooling, dropout) then
carries them too, until a conv or dense layer mixes channels: there the new input channels meet
zero weights, so the function is unchanged (Elsken et al. 2017, type II). Where new channels
reach an add (or lambda_sum) whose other input does not carry them, the conv behind that input
is widened with them ("widened together"). `plan_growth` decides all this on the architecture
alone; `grow` applies it to the architecture and, when given, its weights.

Example:

>>> from keras_nash import seed_models
>>> from keras_nash.morphisms.growth import new_channels, plan_growth
>>> arch = seed_models.simple_cnn_architecture((8, 8, 3), 10, filters=(2, 4))
>>> sources, masks = plan_growth(arch, {"conv_1": new_channels(2, 1)})
>>> [node_id for node_id, mask in masks.items() if mask is not None]
['conv_1', 'bn_1', 'relu_1', 'pool_1']
"""

import numpy as np

from keras_nash.graph import Architecture

# Ops that carry channels through unchanged (per channel), so new channels pass them.
PER_CHANNEL = ("batch_norm", "relu", "dropout", "max_pool", "avg_pool", "global_avg_pool")
# Ops through which an add's input can be traced back to the conv that makes its channels.
_TRACEABLE = ("batch_norm", "relu", "dropout", "max_pool", "avg_pool")


class CannotGrow(ValueError):
    """New channels cannot be carried through the network consistently."""


def new_channels(old: int, new: int) -> np.ndarray:
    """The mask of a node output that keeps `old` channels and appends `new` ones (True)."""
    return np.concatenate([np.zeros(old, bool), np.ones(new, bool)])


def plan_growth(arch: Architecture, origins: dict) -> tuple:
    """Which nodes carry new channels, and which convs must be widened to carry them.

    Args:
        arch: the `Architecture` (not modified).
        origins: `{node_id: mask}`: the node's output gets new channels where mask is True.

    Returns:
        `(sources, masks)`: `sources` maps every widened node (origins and convs widened
        together with them) to its new-channel mask; `masks[node_id]` is the new-channel mask of
        each node's output, or None where the output is unchanged.

    Raises:
        CannotGrow: the new channels would reach an output or a softmax, or an add input that
            carries no new channels has no conv behind it to widen, or the shapes of `arch`
            do not fit together (a concat inserted right before an add).
    """
    try:
        shapes = arch.shapes()
    except ValueError as error:
        raise CannotGrow(str(error)) from None
    sources = dict(origins)
    while True:
        masks, widened_more = {}, False
        for node in arch.nodes:
            in_masks = [masks[i] for i in node.inputs]
            if node.id in sources:
                out = sources[node.id]
            elif node.op in ("conv", "dense", "input"):
                out = None
            elif node.op in PER_CHANNEL:
                out = in_masks[0]
            elif node.op == "flatten":
                h, w, _ = shapes[node.inputs[0]]
                out = None if in_masks[0] is None else np.tile(in_masks[0], h * w)
            elif node.op == "concat":
                out = None
                if any(mask is not None for mask in in_masks):
                    out = np.concatenate(
                        [
                            mask if mask is not None else np.zeros(shapes[i][-1], bool)
                            for i, mask in zip(node.inputs, in_masks)
                        ]
                    )
            elif node.op in ("add", "lambda_sum"):
                out, together = _merge_at_add(arch, node, in_masks, sources)
                sources.update(together)
                widened_more |= bool(together)
            else:  # softmax and anything that mixes channels
                if any(mask is not None for mask in in_masks):
                    raise CannotGrow(f"new channels would reach {node.id!r} ({node.op})")
                out = None
            if out is not None and node.id in arch.outputs:
                raise CannotGrow(f"new channels would reach the output {node.id!r}")
            masks[node.id] = out
        if not widened_more:
            return sources, masks


def grow(arch: Architecture, origins: dict, weights: dict | None, seed: int) -> None:
    """Carry new channels from `origins` through `arch` (and `weights`), in place.

    Widened convs get `filters` raised and He-normal values (drawn from `seed`) for their new
    filters; every layer reading new channels gets zero weights for them (batch norm: identity
    parameters), so the network computes the same function.
    """
    sources, masks = plan_growth(arch, origins)
    rng = np.random.default_rng(seed)
    for node in arch.nodes:
        in_mask = masks[node.inputs[0]] if node.inputs else None
        if node.op == "conv" and node.id in sources:
            node.config["filters"] = int(len(sources[node.id]))
        if weights is None or node.id not in weights:
            continue
        values = weights[node.id]
        if node.op == "conv":
            kernel = values[0] if in_mask is None else expand(values[0], in_mask, 2, 0.0)
            rest = values[1:]
            if node.id in sources:
                out_mask = sources[node.id]
                kh, kw, c_in, _ = kernel.shape
                new = rng.normal(
                    0.0, np.sqrt(2.0 / (kh * kw * c_in)), size=(kh, kw, c_in, int(out_mask.sum()))
                )
                kernel = expand(kernel, out_mask, 3, new)
                rest = [expand(bias, out_mask, 0, 0.0) for bias in rest]
            weights[node.id] = [kernel] + rest
        elif node.op == "dense" and in_mask is not None:
            weights[node.id] = [expand(values[0], in_mask, 0, 0.0)] + values[1:]
        elif node.op == "batch_norm" and in_mask is not None:
            # gamma, beta, moving mean, moving variance: the identity for the new channels.
            fills = (1.0, 0.0, 0.0, 1.0)
            weights[node.id] = [expand(v, in_mask, 0, fill) for v, fill in zip(values, fills)]


def expand(array: np.ndarray, mask: np.ndarray, axis: int, fill) -> np.ndarray:
    """Insert new entries along `axis` where `mask` is True; old entries keep their order.

    Example:

    >>> import numpy as np
    >>> from keras_nash.morphisms.growth import expand
    >>> expand(np.array([1.0, 2.0]), np.array([False, True, False]), 0, 0.0).tolist()
    [1.0, 0.0, 2.0]
    """
    shape = list(array.shape)
    shape[axis] = len(mask)
    out = np.empty(shape, dtype=array.dtype)
    index = [slice(None)] * array.ndim
    index[axis] = ~mask
    out[tuple(index)] = array
    index[axis] = mask
    out[tuple(index)] = fill
    return out


def _merge_at_add(arch, node, in_masks, sources) -> tuple:
    """The output mask of an add or lambda_sum, and the convs to widen together with it."""
    grown = [mask for mask in in_masks if mask is not None]
    out = grown[0] if grown else None
    if any(not np.array_equal(mask, out) for mask in grown):
        raise CannotGrow(f"new channels reach {node.id!r} ({node.op}) at different positions")
    together = {}
    for input_id, mask in zip(node.inputs, in_masks):
        if out is None or mask is not None:
            continue
        conv_id = _conv_behind(arch, input_id)
        if conv_id is None or conv_id in sources or conv_id in together:
            raise CannotGrow(
                f"{node.id!r} ({node.op}) has an input {input_id!r} with no conv behind it to "
                "widen together"
            )
        together[conv_id] = out
    return out, together


def _conv_behind(arch, node_id):
    node = arch.node(node_id)
    while node.op in _TRACEABLE:
        node = arch.node(node.inputs[0])
    return node.id if node.op == "conv" else None
