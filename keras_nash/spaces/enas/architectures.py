"""ENAS architectures as plain data: `MacroArchitecture`, `MicroArchitecture`,
`RecurrentArchitecture` and their JSON.

An architecture is a frozen dataclass of tuples, validated on construction, with a JSON round
trip (`to_json` / `from_json`, `to_dict` / `from_dict`) whose header names the space ("macro",
"micro" or "recurrent") and the schema version (1). `architecture_from_json` reads any kind.
Whether an architecture fits a given space (its number of layers, blocks or nodes, its
operations) is the space's `validate`; nothing here builds a network.
"""

import dataclasses
import json

import numpy as np

from keras_nash.layers.enas_rnn import RECURRENT_ACTIVATIONS

SCHEMA_VERSION = 1


def _check_header(data, space):
    if not isinstance(data, dict):
        raise ValueError(f"An architecture must be a dict. Received: {type(data).__name__}")
    if data.get("space") != space:
        raise ValueError(f"`space` must be {space!r}. Received: space={data.get('space')!r}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(
            f"`schema_version` must be {SCHEMA_VERSION}. Received: schema_version={version!r}"
        )


def _is_node_index(index, block) -> bool:
    return (
        not isinstance(index, bool)
        and isinstance(index, (int, np.integer))
        and 0 <= index < block + 2
    )


def _item_error(field: str, index: int, item, requirement: str) -> ValueError:
    """The error for `field[index]`, which must meet `requirement`, given as `item`."""
    shown = list(item) if isinstance(item, (tuple, list)) else repr(item)
    return ValueError(f"`{field}[{index}]` {requirement}. Received: {field}[{index}]={shown}")


def _items_of_size(field: str, items, size: int, form: str):
    """Yield `(index, item)` for each item of `items`, each a tuple or list of `size` values,
    else raise the error that `field[index]` must be `form`."""
    for index, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) != size:
            raise _item_error(field, index, item, f"must be {form}")
        yield index, item


def _as_lists(value):
    """Tuples (nested) as lists, the form JSON writes."""
    if isinstance(value, tuple):
        return [_as_lists(item) for item in value]
    return value


class _ArchitectureData:
    """The dict and JSON forms both architectures share; `space` names the kind."""

    space = None

    def to_dict(self) -> dict:
        """The architecture as a JSON-ready dict with `schema_version` and `space`."""
        data = {"schema_version": SCHEMA_VERSION, "space": self.space}
        for field in dataclasses.fields(self):
            data[field.name] = _as_lists(getattr(self, field.name))
        return data

    @classmethod
    def from_dict(cls, data: dict):
        """Rebuild an architecture from `to_dict()`'s output (checks the header)."""
        _check_header(data, cls.space)
        names = [field.name for field in dataclasses.fields(cls)]
        for name in names:
            if name not in data:
                raise ValueError(
                    f"`{name}` is missing from the {cls.space} architecture. "
                    f"Received keys: {sorted(data)}"
                )
        return cls(*(data[name] for name in names))

    def to_json(self) -> str:
        """The architecture as a JSON string (keys sorted)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str):
        """Rebuild an architecture from `to_json()`'s output."""
        return cls.from_dict(json.loads(text))


@dataclasses.dataclass(frozen=True)
class MacroArchitecture(_ArchitectureData):
    """A macro architecture: one operation per layer and a skip mask over the earlier layers.

    Args:
        ops: tuple of str, the operation of each layer.
        skips: tuple of tuples of 0/1; `skips[i]` has `i` entries, `skips[i][j] == 1` adds layer
            `j`'s output to layer `i`'s.

    Example:

    >>> from keras_nash.spaces import MacroArchitecture
    >>> arch = MacroArchitecture(("conv_3x3", "max_pool_3x3"), ((), (1,)))
    >>> MacroArchitecture.from_json(arch.to_json()) == arch
    True
    >>> arch.num_layers
    2
    """

    space = "macro"

    ops: tuple
    skips: tuple

    def __post_init__(self):
        object.__setattr__(self, "ops", tuple(str(op) for op in self.ops))
        object.__setattr__(self, "skips", tuple(tuple(int(s) for s in row) for row in self.skips))
        if len(self.ops) < 1:
            raise ValueError(
                f"`ops` must name one operation per layer (>= 1). Received: ops={list(self.ops)}"
            )
        if len(self.skips) != len(self.ops):
            raise ValueError(
                f"`skips` must have one row per layer ({len(self.ops)}). "
                f"Received: skips={self.skips}"
            )
        for i, row in enumerate(self.skips):
            if len(row) != i or any(s not in (0, 1) for s in row):
                raise _item_error("skips", i, row, f"must hold {i} values, each 0 or 1")

    @property
    def num_layers(self) -> int:
        """The number of layers."""
        return len(self.ops)


@dataclasses.dataclass(frozen=True)
class MicroArchitecture(_ArchitectureData):
    """A micro architecture: a normal and a reduction cell, each a tuple of blocks.

    A block is `(input_1, input_2, op_1, op_2)`: node `b + 2` of the cell is
    `op_1(node[input_1]) + op_2(node[input_2])`, nodes 0 and 1 being the cell's inputs.

    Args:
        normal: tuple of blocks of the normal cell.
        reduce: tuple of blocks of the reduction cell (same length).

    Example:

    >>> from keras_nash.spaces import MicroArchitecture
    >>> cell = ((0, 1, "sep_conv_3x3", "skip_connect"), (2, 0, "avg_pool_3x3", "sep_conv_5x5"))
    >>> arch = MicroArchitecture(normal=cell, reduce=cell)
    >>> arch.to_dict()["normal"][1]  # node 3 = avg_pool_3x3(node 2) + sep_conv_5x5(input 0)
    [2, 0, 'avg_pool_3x3', 'sep_conv_5x5']
    >>> MicroArchitecture.from_json(arch.to_json()) == arch
    True
    """

    space = "micro"

    normal: tuple
    reduce: tuple

    def __post_init__(self):
        for field in ("normal", "reduce"):
            blocks = []
            items = getattr(self, field)
            for b, block in _items_of_size(field, items, 4, "(input_1, input_2, op_1, op_2)"):
                i1, i2, op1, op2 = block
                for slot, index in enumerate((i1, i2)):
                    if not _is_node_index(index, b):
                        raise _item_error(
                            field, b, block, f"input {slot + 1} must be an int in [0, {b + 1}]"
                        )
                blocks.append((int(i1), int(i2), str(op1), str(op2)))
            if not blocks:
                raise ValueError(f"`{field}` must hold at least one block. Received: {field}=()")
            object.__setattr__(self, field, tuple(blocks))
        if len(self.normal) != len(self.reduce):
            raise ValueError(
                f"`reduce` must have as many blocks as `normal` ({len(self.normal)}). "
                f"Received: {len(self.reduce)} blocks"
            )

    @property
    def num_blocks(self) -> int:
        """The number of blocks per cell."""
        return len(self.normal)


@dataclasses.dataclass(frozen=True)
class RecurrentArchitecture(_ArchitectureData):
    """An ENAS recurrent cell: node 1's activation, then (input node, activation) per node.

    Node 1 reads the token's embedding and the previous state; `nodes[k]` is node `k + 2`'s
    `(previous, activation)`: `previous` the 0-based index of the node it reads (node 1 is 0),
    in `[0, k]`, and `activation` one of `RECURRENT_ACTIVATIONS`. The nodes no later node reads
    (`loose_ends`) are averaged into the cell's output.

    Args:
        first_activation: str, node 1's activation.
        nodes: tuple of `(previous, activation)` pairs, one per node after the first.

    Example:

    >>> from keras_nash.spaces.enas.recurrent import RecurrentArchitecture
    >>> arch = RecurrentArchitecture("tanh", ((0, "relu"), (0, "identity"), (2, "sigmoid")))
    >>> arch.num_nodes, arch.loose_ends  # nodes 2 and 4 (indices 1 and 3) are read by nobody
    (4, (1, 3))
    >>> RecurrentArchitecture.from_json(arch.to_json()) == arch
    True
    """

    space = "recurrent"

    first_activation: str
    nodes: tuple

    def __post_init__(self):
        if self.first_activation not in RECURRENT_ACTIVATIONS:
            raise ValueError(
                f"`first_activation` must be one of {RECURRENT_ACTIVATIONS}. "
                f"Received: first_activation={self.first_activation!r}"
            )
        nodes = []
        for k, node in _items_of_size("nodes", self.nodes, 2, "a (previous, activation) pair"):
            previous, activation = node
            if not _is_node_index(previous, k - 1):
                raise _item_error(
                    "nodes", k, node, f"(node {k + 2}) must read a previous node in [0, {k}]"
                )
            if activation not in RECURRENT_ACTIVATIONS:
                raise _item_error(
                    "nodes",
                    k,
                    node,
                    f"(node {k + 2}) activation must be one of {RECURRENT_ACTIVATIONS}",
                )
            nodes.append((int(previous), str(activation)))
        object.__setattr__(self, "first_activation", str(self.first_activation))
        object.__setattr__(self, "nodes", tuple(nodes))

    @property
    def num_nodes(self) -> int:
        """The number of nodes (the first one included)."""
        return 1 + len(self.nodes)

    @property
    def loose_ends(self) -> tuple:
        """The 0-based indices of the nodes no later node reads (averaged into the output)."""
        used = {previous for previous, _ in self.nodes}
        return tuple(n for n in range(self.num_nodes) if n not in used)


def architecture_from_json(text: str):
    """Read a `MacroArchitecture`, `MicroArchitecture` or `RecurrentArchitecture` from its JSON
    (dispatch on "space").

    Args:
        text: str, what `to_json` wrote.

    Returns:
        The architecture.

    Example:

    >>> from keras_nash.spaces import MacroArchitecture, architecture_from_json
    >>> arch = MacroArchitecture(("conv_3x3",), ((),))
    >>> architecture_from_json(arch.to_json()) == arch
    True
    """
    data = json.loads(text)
    space = data.get("space") if isinstance(data, dict) else None
    for kind in (MacroArchitecture, MicroArchitecture, RecurrentArchitecture):
        if space == kind.space:
            return kind.from_dict(data)
    raise ValueError(f"`space` must be 'macro', 'micro' or 'recurrent'. Received: space={space!r}")
