"""The three NASH operators (deeper, wider, skip) applied to an architecture and its weights.

`apply` edits the architecture alone (the search coordinator's view), `apply_with_weights` also
transforms the weights (the worker's view); both run the same code, so they give the same node
ids. Each morphism is checked first (`check_morphism`: errors name the argument and the value),
and the child is validated after each one. The child computes the parent's function in
inference mode; `preservation.py` measures it, and calibrates the batch norms `deeper` inserts
from data so that the child is close to its parent in training mode too.
"""

import numpy as np

from keras_nash.checks import check_choice, check_int
from keras_nash.graph import OP_DEFAULTS, WEIGHTED_OPS, Architecture, Node
from keras_nash.layers.morph import dirac_kernel
from keras_nash.morphisms.growth import CannotGrow, grow, new_channels, plan_growth

OPERATORS = ("deeper", "wider", "skip")
SKIP_MODES = ("add", "concat")


def apply(arch: Architecture, morphisms) -> Architecture:
    """Apply morphisms to an architecture alone (no weights): the coordinator's view.

    Args:
        arch: the parent `Architecture` (not modified).
        morphisms: a list of morphism dicts (or one dict).

    Returns:
        The child `Architecture`.

    Example:

    >>> from keras_nash import morphisms, seed_models
    >>> arch = seed_models.simple_cnn_architecture((8, 8, 3), 10, filters=(4, 8))
    >>> child = morphisms.apply(arch, {"op": "deeper", "after": "relu_1", "kernel_size": 3})
    >>> child.ids()[:7]
    ['input', 'conv_1', 'bn_1', 'relu_1', 'conv_3', 'bn_3', 'relu_3']
    """
    child, _ = _apply_all(arch, morphisms, None)
    return child


def apply_with_weights(arch: Architecture, weights: dict, morphisms) -> tuple:
    """Apply morphisms to an architecture and its weights: the worker's view.

    Args:
        arch: the parent `Architecture` (not modified).
        weights: `{node_id: [numpy arrays]}` as `keras_nash.graph.get_weights` gives.
        morphisms: a list of morphism dicts (or one dict).

    Returns:
        `(child_arch, child_weights)`: load the weights into `build_model(child_arch)` with
        `keras_nash.graph.set_weights` and it computes the parent's function.

    Example:

    >>> import numpy as np
    >>> from keras_nash import graph, morphisms, seed_models
    >>> arch = seed_models.simple_cnn_architecture((8, 8, 3), 10, filters=(4, 8))
    >>> parent = graph.build_model(arch)
    >>> m = [{"op": "wider", "conv": "conv_1", "factor": 2, "seed": 0}]
    >>> child_arch, w = morphisms.apply_with_weights(arch, graph.get_weights(parent, arch), m)
    >>> child = graph.build_model(child_arch)
    >>> graph.set_weights(child, w)
    >>> x = np.random.default_rng(0).random((2, 8, 8, 3), dtype="float32")
    >>> morphisms.max_output_difference(parent, child, x) < 1e-5
    True
    """
    missing = [n.id for n in arch.nodes if n.op in WEIGHTED_OPS and n.id not in weights]
    if missing:
        raise ValueError(f"`weights` has no values for nodes {missing}.")
    arrays = {node_id: [np.asarray(v) for v in values] for node_id, values in weights.items()}
    return _apply_all(arch, morphisms, arrays)


def check_morphism(arch: Architecture, morphism: dict) -> None:
    """Check that `morphism` can be applied to `arch`; ValueError naming the argument."""
    if not isinstance(morphism, dict):
        raise ValueError(f"A morphism must be a dict. Received: {morphism!r}")
    op = check_choice("op", morphism.get("op"), OPERATORS)
    try:
        _CHECKS[op](arch, morphism)
    except ValueError as error:
        raise ValueError(f"{op}: {error}") from None


# -- predicates: where an operator applies ------------------------------------------------------
def ends_conv_block(arch: Architecture, node: Node) -> bool:
    """Whether `node` is a ReLU right after a conv, or after a conv's batch norm."""
    if node.op != "relu":
        return False
    before = arch.node(node.inputs[0])
    if before.op == "batch_norm":
        before = arch.node(before.inputs[0])
    return before.op == "conv"


def can_widen(arch: Architecture, conv_id: str) -> bool:
    """Whether the new filters of conv `conv_id` can be carried through the network."""
    filters = arch.node(conv_id).config["filters"]
    return _can_grow(lambda: plan_growth(arch, {conv_id: new_channels(filters, filters)}))


def can_concat(arch: Architecture, source: str, target: str) -> bool:
    """Whether `source` can be concatenated onto `target` (its channels carried on)."""
    morphism = {"from": source, "to": target, "mode": "concat"}
    return _can_grow(lambda: _skip(arch.copy(), morphism, None))


def _can_grow(attempt) -> bool:
    try:
        attempt()
    except CannotGrow:
        return False
    return True


# -- checking -----------------------------------------------------------------------------------
def _require(morphism: dict, key: str, kind: str):
    if key not in morphism:
        raise ValueError(f"Morphism {morphism} needs the key {key!r} ({kind}).")
    return morphism[key]


def _check_deeper(arch, m):
    after = arch.node(_require(m, "after", "the id of a conv block's ReLU"))
    if not ends_conv_block(arch, after):
        raise ValueError(
            f"`after` must be a ReLU that ends a conv block. Received: after={after.id!r} "
            f"({after.op})"
        )
    k = _require(m, "kernel_size", "an odd int")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 or k % 2 == 0:
        raise ValueError(f"`kernel_size` must be a positive odd int. Received: kernel_size={k!r}")


def _check_wider(arch, m):
    conv = arch.node(_require(m, "conv", "the id of a conv node"))
    if conv.op != "conv":
        raise ValueError(f"`conv` must be a conv node. Received: conv={conv.id!r} ({conv.op})")
    check_int("factor", _require(m, "factor", "an int >= 2"), minimum=2)


def _check_skip(arch, m):
    source = arch.node(_require(m, "from", "a node id"))
    target = arch.node(_require(m, "to", "a node id"))
    check_choice("mode", _require(m, "mode", "'add' or 'concat'"), SKIP_MODES)
    if arch.index(source.id) >= arch.index(target.id):
        raise ValueError(
            f"`from` must come before `to` in the network. Received: from={source.id!r}, "
            f"to={target.id!r}"
        )
    shapes = arch.shapes()
    if len(shapes[source.id]) != 3 or shapes[source.id][:2] != shapes[target.id][:2]:
        raise ValueError(
            f"`from` and `to` must have the same spatial size. Received: from={source.id!r} "
            f"{shapes[source.id]}, to={target.id!r} {shapes[target.id]}"
        )
    if target.id in arch.outputs:
        raise ValueError(f"`to` must not be an output of the network. Received: to={target.id!r}")


_CHECKS = {"deeper": _check_deeper, "wider": _check_wider, "skip": _check_skip}


# -- applying -----------------------------------------------------------------------------------
def _apply_all(arch, morphisms, weights):
    if isinstance(morphisms, dict):
        morphisms = [morphisms]
    child = arch.copy()
    weights = dict(weights) if weights is not None else None
    for morphism in morphisms:
        check_morphism(child, morphism)
        _OPERATORS[morphism["op"]](child, morphism, weights)
        child.validate()
    return child, weights


def _deeper(arch, m, weights):
    """Conv(k)-BN-ReLU after a conv block's ReLU, as the identity (Elsken et al. types I, III)."""
    after, k = m["after"], int(m["kernel_size"])
    channels = arch.shape(after)[-1]
    epsilon = OP_DEFAULTS["batch_norm"]["epsilon"]
    conv_id, bn_id, relu_id = arch.next_id("conv"), arch.next_id("bn"), arch.next_id("relu")
    block = [
        Node(
            conv_id,
            "conv",
            [after],
            {"filters": channels, "kernel_size": k, "kernel_initializer": "dirac"},
        ),
        Node(bn_id, "batch_norm", [conv_id], {"epsilon": epsilon, "identity_init": True}),
        Node(relu_id, "relu", [bn_id]),
    ]
    arch.insert_after(after, block, rewire_from=after, rewire_to=relu_id)
    if weights is not None:
        weights[conv_id] = [dirac_kernel(k, k, channels)]
        # gamma, beta, moving mean, moving variance: gamma = sqrt(1 + epsilon) over the unit
        # variance makes the batch norm pass its input through in inference mode. In training
        # mode (batch statistics) it would standardise its input: `calibrate_batch_norms`
        # (preservation.py) sets it from the data it sees, exact in inference and close in
        # training mode (type I); this data-free form is what it starts from.
        weights[bn_id] = [
            np.full(channels, np.sqrt(1.0 + epsilon), "float32"),
            np.zeros(channels, "float32"),
            np.zeros(channels, "float32"),
            np.ones(channels, "float32"),
        ]


def _wider(arch, m, weights):
    """`(factor - 1) * filters` new filters, met by zero weights downstream (type II)."""
    conv = arch.node(m["conv"])
    filters = conv.config["filters"]
    mask = new_channels(filters, filters * (int(m["factor"]) - 1))
    try:
        grow(arch, {conv.id: mask}, weights, m.get("seed", 0))
    except CannotGrow as error:
        raise CannotGrow(f"wider: conv {conv.id!r} cannot be widened: {error}") from None


def _skip(arch, m, weights):
    """`to` becomes concat(to, from), lambda_sum(to, from) or add(to, conv1x1(from))."""
    source, target = m["from"], m["to"]
    shapes = arch.shapes()
    c_source, c_target = shapes[source][-1], shapes[target][-1]
    if m["mode"] == "concat":
        concat_id = arch.next_id("concat")
        arch.insert_after(target, [Node(concat_id, "concat", [target, source])], target, concat_id)
        try:
            grow(arch, {concat_id: new_channels(c_target, c_source)}, weights, m.get("seed", 0))
        except CannotGrow as error:
            raise CannotGrow(
                f"skip: cannot concatenate {source!r} onto {target!r}: {error}"
            ) from None
    elif c_source == c_target:  # type IV: lambda * to + (1 - lambda) * from, lambda = 1
        add_id = arch.next_id("add")
        arch.insert_after(target, [Node(add_id, "lambda_sum", [target, source])], target, add_id)
        if weights is not None:
            weights[add_id] = [np.array(1.0, "float32")]
    else:  # type II: a zero-initialised 1x1 projection of `from`
        proj_id, add_id = arch.next_id("conv"), arch.next_id("add")
        projection = Node(
            proj_id,
            "conv",
            [source],
            {"filters": c_target, "kernel_size": 1, "kernel_initializer": "zeros"},
        )
        arch.insert_after(
            target, [projection, Node(add_id, "add", [target, proj_id])], target, add_id
        )
        if weights is not None:
            weights[proj_id] = [np.zeros((1, 1, c_source, c_target), "float32")]


_OPERATORS = {"deeper": _deeper, "wider": _wider, "skip": _skip}
