"""Where each operator can be applied: the valid targets of deeper, wider and skip.

Example:

>>> from keras_nash import morphisms, seed_models
>>> arch = seed_models.simple_cnn_architecture((8, 8, 3), 10, filters=(4, 8))
>>> morphisms.valid_targets(arch, "deeper")
['relu_1', 'relu_2']
"""

from keras_nash.checks import check_choice
from keras_nash.graph import Architecture
from keras_nash.morphisms.operators import OPERATORS, can_concat, can_widen, ends_conv_block


def valid_targets(arch: Architecture, op: str, mode: str | None = None) -> list:
    """Where an operator can be applied, in topological order.

    - "deeper": ids of ReLU nodes that end a conv block (ReLU after a conv or a conv's BN).
    - "wider": ids of convs whose new channels can be carried consistently.
    - "skip": `(from, to)` pairs of conv-block ReLUs, `from` earlier, same spatial size, not
      already joined; with `mode="concat"`, only pairs whose new channels can be carried.

    Args:
        arch: the `Architecture`.
        op: str, one of `OPERATORS`.
        mode: str or None, for "skip": "concat" keeps only the pairs a concatenation can join.
            Defaults to None (every pair; "add" joins them all).

    Returns:
        A list of node ids, or of `(from, to)` pairs for "skip".
    """
    check_choice("op", op, OPERATORS)
    if op == "deeper":
        return [n.id for n in arch.nodes if ends_conv_block(arch, n)]
    if op == "wider":
        return [n.id for n in arch.nodes if n.op == "conv" and can_widen(arch, n.id)]
    pairs = skip_pairs(arch)
    if mode == "concat":
        pairs = [p for p in pairs if can_concat(arch, *p)]
    return pairs


def skip_pairs(arch: Architecture) -> list:
    """`(from, to)` pairs of conv-block ReLUs (`to` not an output) of one spatial size, `from`
    earlier, not already joined by a skip connection."""
    shapes = arch.shapes()
    blocks = [n.id for n in arch.nodes if ends_conv_block(arch, n) and n.id not in arch.outputs]
    joined = set()
    for node in arch.nodes:
        if node.op in ("add", "lambda_sum", "concat"):
            joined.add(tuple(node.inputs[:2]))
        if node.op == "add" and len(node.inputs) == 2 and arch.node(node.inputs[1]).op == "conv":
            joined.add((node.inputs[0], arch.node(node.inputs[1]).inputs[0]))  # a projected skip
    pairs = []
    for a, source in enumerate(blocks):
        for target in blocks[a + 1 :]:
            if shapes[source][:2] == shapes[target][:2] and (target, source) not in joined:
                pairs.append((source, target))
    return pairs
