"""The ENAS search spaces (Pham et al. 2018): macro (whole network) and micro (cells).

Architectures are plain data, `MacroArchitecture` and `MicroArchitecture`, with a JSON round
trip (`to_json` / `from_json`, schema version 1) and validation. A space turns them into int32
decision vectors for the controller (`encode` / `decode`) and builds two kinds of Keras models
from the operations of `keras_nash.layers.ops`:

- the shared-weight model (`build_shared_model`): every candidate operation of every edge, one
  set of weights for all architectures. Its call takes `(images, arch)`, `arch` an int32 decision
  vector tensor, and runs only the chosen operation on each edge (`tf.switch_case`), so one
  compiled train step serves every architecture.
- a fixed child (`build_child_model`): a functional Keras model with only the chosen
  operations, serialisable as `.keras`. Its layers carry the shared model's layer names, so
  `copy_shared_weights` makes it compute what the shared model computes on that architecture.

Both return logits.

Macro (the authors' `general_child.py`): a 3x3 conv stem, `num_layers` layers, each one of
`MACRO_OPERATIONS` applied to the previous layer, plus the sum of the earlier layers its skip mask
selects, then a batch norm. After the layers at `num_layers // 3 - 1` and
`2 * (num_layers // 3) - 1` every layer so far is halved by a `FactorizedReduce` (filters stay
constant, as in the authors' search). Head: ReLU, global average pooling, dense.

Micro (the authors' `micro_child.py`): a 3x3 conv stem with `stem_multiplier * filters`
channels, `num_cells` cells, reduction cells (channels doubled, resolution halved) at
`num_cells // 3` and `2 * num_cells // 3`. A cell brings its two inputs to its channels and
resolution (ReLU-conv1x1-BN, or one `FactorizedReduce` per halving: a reduction cell halves its
inputs first, as the authors' search code does, so every node of a cell has one shape), then
`num_blocks` blocks each add two operations of `MICRO_OPERATIONS` applied to two earlier nodes.
The nodes no block uses are concatenated, then ReLU - 1x1 conv - BN bring them back to the
cell's channels (the authors' search cell does the same: the number of loose ends varies).

Weight sharing granularity: one set of weights per (cell, block, slot, operation), shared by
whichever input the slot picks (the authors index some weights by the input too). A switch
over (input, operation) pairs made the compiled step's graph grow with the square of the
branches (a `tf.switch_case` gradient carries every branch's intermediates): tracing took
minutes. Inputs are picked by `tf.gather`, operations by `tf.switch_case` over 5 branches.
"""

import dataclasses
import json

import keras
import numpy as np
import tensorflow as tf

from keras_nash.layers.ops import OPS, FactorizedReduce, ReLUConvBN, batch_norm

SCHEMA_VERSION = 1
MACRO_OPERATIONS = ("conv_3x3", "conv_5x5", "sep_conv_3x3", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3")
# "skip_connect" is ENAS's identity (a FactorizedReduce at stride 2).
MICRO_OPERATIONS = ("skip_connect", "sep_conv_3x3", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3")


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")
    return int(value)


def _check_operations(operations, argument):
    operations = tuple(operations)
    unknown = [op for op in operations if op not in OPS or op == "none"]
    if unknown or len(operations) < 2 or len(set(operations)) != len(operations):
        raise ValueError(
            f"`{argument}` must be 2 or more distinct names of keras_nash.layers.ops.OPS (not 'none'). "
            f"Received: {argument}={list(operations)}"
        )
    return operations


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


# Architectures --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MacroArchitecture:
    """A macro architecture: one operation per layer and a skip mask over the earlier layers.

    Args:
        ops: tuple of str, the operation of each layer.
        skips: tuple of tuples of 0/1; `skips[i]` has `i` entries, `skips[i][j] == 1` adds layer
            `j`'s output to layer `i`'s.

    Example:

    >>> arch = MacroArchitecture(("conv_3x3", "max_pool_3x3"), ((), (1,)))
    >>> MacroArchitecture.from_json(arch.to_json()) == arch
    True
    """

    ops: tuple
    skips: tuple

    def __post_init__(self):
        object.__setattr__(self, "ops", tuple(str(op) for op in self.ops))
        object.__setattr__(self, "skips", tuple(tuple(int(s) for s in row) for row in self.skips))
        if len(self.ops) < 1:
            raise ValueError(f"`ops` must name one operation per layer (>= 1). Received: ops={list(self.ops)}")
        if len(self.skips) != len(self.ops):
            raise ValueError(
                f"`skips` must have one row per layer ({len(self.ops)}). Received: skips={self.skips}"
            )
        for i, row in enumerate(self.skips):
            if len(row) != i or any(s not in (0, 1) for s in row):
                raise ValueError(f"`skips[{i}]` must hold {i} values, each 0 or 1. Received: skips[{i}]={list(row)}")

    @property
    def num_layers(self) -> int:
        return len(self.ops)

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "space": "macro",
            "ops": list(self.ops),
            "skips": [list(row) for row in self.skips],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "MacroArchitecture":
        _check_header(data, "macro")
        for key in ("ops", "skips"):
            if key not in data:
                raise ValueError(f"`{key}` is missing from the macro architecture. Received keys: {sorted(data)}")
        return cls(data["ops"], data["skips"])

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "MacroArchitecture":
        return cls.from_dict(json.loads(text))


@dataclasses.dataclass(frozen=True)
class MicroArchitecture:
    """A micro architecture: a normal and a reduction cell, each a tuple of blocks.

    A block is `(input_1, input_2, op_1, op_2)`: node `b + 2` of the cell is
    `op_1(node[input_1]) + op_2(node[input_2])`, nodes 0 and 1 being the cell's inputs.

    Args:
        normal: tuple of blocks of the normal cell.
        reduce: tuple of blocks of the reduction cell (same length).

    Example:

    >>> cell = ((0, 1, "sep_conv_3x3", "skip_connect"), (2, 0, "avg_pool_3x3", "sep_conv_5x5"))
    >>> arch = MicroArchitecture(cell, cell)
    >>> MicroArchitecture.from_json(arch.to_json()) == arch
    True
    """

    normal: tuple
    reduce: tuple

    def __post_init__(self):
        for field in ("normal", "reduce"):
            blocks = []
            for b, block in enumerate(getattr(self, field)):
                if len(block) != 4:
                    raise ValueError(
                        f"`{field}[{b}]` must be (input_1, input_2, op_1, op_2). Received: {field}[{b}]={block}"
                    )
                i1, i2, op1, op2 = block
                for slot, index in enumerate((i1, i2)):
                    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < b + 2:
                        raise ValueError(
                            f"`{field}[{b}]` input {slot + 1} must be an int in [0, {b + 1}]. "
                            f"Received: {field}[{b}]={list(block)}"
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
        return len(self.normal)

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "space": "micro",
            "normal": [list(block) for block in self.normal],
            "reduce": [list(block) for block in self.reduce],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "MicroArchitecture":
        _check_header(data, "micro")
        for key in ("normal", "reduce"):
            if key not in data:
                raise ValueError(f"`{key}` is missing from the micro architecture. Received keys: {sorted(data)}")
        return cls([tuple(b) for b in data["normal"]], [tuple(b) for b in data["reduce"]])

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "MicroArchitecture":
        return cls.from_dict(json.loads(text))


def architecture_from_json(text: str):
    """Read a `MacroArchitecture` or `MicroArchitecture` from its JSON (dispatch on "space").

    Args:
        text: str, what `to_json` wrote.

    Returns:
        The architecture.
    """
    data = json.loads(text)
    space = data.get("space") if isinstance(data, dict) else None
    if space == "macro":
        return MacroArchitecture.from_dict(data)
    if space == "micro":
        return MicroArchitecture.from_dict(data)
    raise ValueError(f"`space` must be 'macro' or 'micro'. Received: space={space!r}")


# Spaces ---------------------------------------------------------------------------------------


class MacroSpace:
    """The ENAS macro search space: a whole network of `num_layers` searched layers.

    Args:
        num_layers: int >= 1, searched layers. Defaults to 12 (24 in the authors' final net).
        filters: int >= 2, channels of every layer. Defaults to 36.
        operations: tuple of names in `keras_nash.layers.ops.OPS`. Defaults to `MACRO_OPERATIONS`.

    Example:

    >>> space = MacroSpace(num_layers=4, filters=8)
    >>> arch = space.random_architecture(np.random.default_rng(0))
    >>> space.decode(space.encode(arch)) == arch
    True
    >>> model = space.build_child_model(arch, (16, 16, 3), num_classes=10)
    """

    name = "macro"

    def __init__(self, num_layers: int = 12, filters: int = 36, operations=MACRO_OPERATIONS):
        self.num_layers = _check_int("num_layers", num_layers, 1)
        self.filters = _check_int("filters", filters, 2)
        self.operations = _check_operations(operations, "operations")
        distance = self.num_layers // 3
        self.pool_layers = tuple(sorted({distance - 1, 2 * distance - 1} - {-1}))

    @property
    def controller_layers(self) -> int:
        return self.num_layers

    @property
    def num_decisions(self) -> int:
        return self.num_layers + self.num_layers * (self.num_layers - 1) // 2

    def get_config(self) -> dict:
        return {"name": self.name, "num_layers": self.num_layers, "filters": self.filters,
                "operations": list(self.operations)}

    def validate(self, arch: MacroArchitecture) -> MacroArchitecture:
        """Raise ValueError unless `arch` belongs to this space; return it."""
        if not isinstance(arch, MacroArchitecture):
            raise ValueError(f"`arch` must be a MacroArchitecture. Received: {type(arch).__name__}")
        if arch.num_layers != self.num_layers:
            raise ValueError(f"`ops` must have {self.num_layers} layers. Received: {arch.num_layers} layers")
        unknown = [op for op in arch.ops if op not in self.operations]
        if unknown:
            raise ValueError(f"`ops` holds operations outside {self.operations}. Received: {unknown}")
        return arch

    def encode(self, arch: MacroArchitecture) -> np.ndarray:
        """The int32 decision vector `[op_0, op_1, skip_1_0, op_2, skip_2_0, skip_2_1, ...]`."""
        self.validate(arch)
        vector = []
        for i in range(self.num_layers):
            vector.append(self.operations.index(arch.ops[i]))
            vector.extend(arch.skips[i])
        return np.asarray(vector, dtype="int32")

    def decode(self, vector) -> MacroArchitecture:
        """The architecture of an int decision vector (inverse of `encode`)."""
        vector = [int(v) for v in np.asarray(vector).reshape(-1)]
        if len(vector) != self.num_decisions:
            raise ValueError(f"`vector` must have {self.num_decisions} decisions. Received: {len(vector)}")
        ops, skips, k = [], [], 0
        for i in range(self.num_layers):
            if not 0 <= vector[k] < len(self.operations):
                raise ValueError(f"`vector[{k}]` (layer {i}'s operation) must be in [0, {len(self.operations) - 1}]. "
                                 f"Received: {vector[k]}")
            ops.append(self.operations[vector[k]])
            skips.append(tuple(vector[k + 1 : k + 1 + i]))
            k += 1 + i
        return MacroArchitecture(tuple(ops), tuple(skips))

    def random_architecture(self, rng: np.random.Generator) -> MacroArchitecture:
        """A uniformly random architecture drawn from `rng`."""
        ops = tuple(self.operations[int(i)] for i in rng.integers(0, len(self.operations), self.num_layers))
        skips = tuple(tuple(int(s) for s in rng.integers(0, 2, i)) for i in range(self.num_layers))
        return MacroArchitecture(ops, skips)

    def build_shared_model(self, input_shape, num_classes: int) -> keras.Model:
        """The shared-weight model: call it on `(images, arch)` with `arch` an int32 vector."""
        return _SharedMacroModel(self, tuple(input_shape), _check_int("num_classes", num_classes, 2))

    def build_child_model(self, arch: MacroArchitecture, input_shape, num_classes: int, filters=None) -> keras.Model:
        """A functional Keras model with only `arch`'s operations (logits out).

        Args:
            arch: a `MacroArchitecture` of this space.
            input_shape: tuple `(height, width, channels)`.
            num_classes: int >= 2.
            filters: int, channels (defaults to the space's; another value builds a wider net
                that cannot take the shared weights).

        Returns:
            A `keras.Model` named "enas_macro_child".
        """
        self.validate(arch)
        filters = self.filters if filters is None else _check_int("filters", filters, 2)
        images = keras.Input(tuple(input_shape), name="images")
        x = batch_norm(True, name="stem_bn")(_stem_conv(filters, "stem_conv")(images))
        layers, prev = [], x
        for i, op in enumerate(arch.ops):
            out = _named(OPS[op](filters, 1, True), f"layer{i}_{op}")(prev)
            chosen = [layers[j] for j, s in enumerate(arch.skips[i]) if s]
            if chosen:
                out = keras.layers.Add(name=f"layer{i}_add")([out] + chosen)
            out = batch_norm(True, name=f"layer{i}_bn")(out)
            layers.append(out)
            prev = out
            if i in self.pool_layers:
                layers = [FactorizedReduce(filters, True, name=f"pool{i}_reduce{j}")(h) for j, h in enumerate(layers)]
                prev = layers[-1]
        outputs = _head(prev, num_classes)
        return keras.Model(images, outputs, name="enas_macro_child")

    def copy_shared_weights(self, shared: keras.Model, child: keras.Model, arch=None):
        """Give `child` the shared model's weights (matched by layer name)."""
        for layer in child.layers:
            if layer.weights:
                layer.set_weights(shared.shared_layer(layer.name).get_weights())


class MicroSpace:
    """The ENAS micro search space: cells of `num_blocks` blocks, normal and reduction.

    Args:
        num_cells: int >= 1, cells in the network; reduction cells at `num_cells // 3` and
            `2 * num_cells // 3`. Defaults to 8 (the authors' 6 normal + 2 reduction).
        num_blocks: int >= 1, blocks per cell. Defaults to 5.
        filters: int >= 2, channels of the first cells (doubled at each reduction). Defaults to 20.
        stem_multiplier: int >= 1, the stem has `stem_multiplier * filters` channels. Defaults to 3.
        operations: tuple of names in `keras_nash.layers.ops.OPS`. Defaults to `MICRO_OPERATIONS`.

    Example:

    >>> space = MicroSpace(num_cells=3, num_blocks=2, filters=4)
    >>> arch = space.random_architecture(np.random.default_rng(0))
    >>> model = space.build_child_model(arch, (16, 16, 3), num_classes=10)
    """

    name = "micro"

    def __init__(self, num_cells: int = 8, num_blocks: int = 5, filters: int = 20, stem_multiplier: int = 3,
                 operations=MICRO_OPERATIONS):
        self.num_cells = _check_int("num_cells", num_cells, 1)
        self.num_blocks = _check_int("num_blocks", num_blocks, 1)
        self.filters = _check_int("filters", filters, 2)
        self.stem_multiplier = _check_int("stem_multiplier", stem_multiplier, 1)
        self.operations = _check_operations(operations, "operations")
        self.reduction_cells = tuple(sorted({self.num_cells // 3, 2 * self.num_cells // 3}))

    @property
    def controller_layers(self) -> int:
        return self.num_blocks

    @property
    def num_decisions(self) -> int:
        return 8 * self.num_blocks

    def get_config(self) -> dict:
        return {"name": self.name, "num_cells": self.num_cells, "num_blocks": self.num_blocks,
                "filters": self.filters, "stem_multiplier": self.stem_multiplier,
                "operations": list(self.operations)}

    def validate(self, arch: MicroArchitecture) -> MicroArchitecture:
        """Raise ValueError unless `arch` belongs to this space; return it."""
        if not isinstance(arch, MicroArchitecture):
            raise ValueError(f"`arch` must be a MicroArchitecture. Received: {type(arch).__name__}")
        if arch.num_blocks != self.num_blocks:
            raise ValueError(f"`normal` must have {self.num_blocks} blocks. Received: {arch.num_blocks} blocks")
        for field in ("normal", "reduce"):
            for b, block in enumerate(getattr(arch, field)):
                if block[2] not in self.operations or block[3] not in self.operations:
                    raise ValueError(f"`{field}[{b}]` uses operations outside {self.operations}. "
                                     f"Received: {field}[{b}]={list(block)}")
        return arch

    def encode(self, arch: MicroArchitecture) -> np.ndarray:
        """The int32 decision vector: per cell (normal, reduce), per block `[in_1, in_2, op_1, op_2]`."""
        self.validate(arch)
        vector = []
        for cell in (arch.normal, arch.reduce):
            for i1, i2, op1, op2 in cell:
                vector += [i1, i2, self.operations.index(op1), self.operations.index(op2)]
        return np.asarray(vector, dtype="int32")

    def decode(self, vector) -> MicroArchitecture:
        """The architecture of an int decision vector (inverse of `encode`)."""
        vector = [int(v) for v in np.asarray(vector).reshape(-1)]
        if len(vector) != self.num_decisions:
            raise ValueError(f"`vector` must have {self.num_decisions} decisions. Received: {len(vector)}")
        cells = []
        for c in range(2):
            blocks = []
            for b in range(self.num_blocks):
                i1, i2, o1, o2 = vector[(c * self.num_blocks + b) * 4 : (c * self.num_blocks + b) * 4 + 4]
                for o in (o1, o2):
                    if not 0 <= o < len(self.operations):
                        raise ValueError(f"`vector` holds operation index {o} outside [0, {len(self.operations) - 1}]")
                blocks.append((i1, i2, self.operations[o1], self.operations[o2]))
            cells.append(tuple(blocks))
        return MicroArchitecture(*cells)

    def random_architecture(self, rng: np.random.Generator) -> MicroArchitecture:
        """A uniformly random architecture drawn from `rng`."""
        cells = []
        for _ in range(2):
            blocks = []
            for b in range(self.num_blocks):
                i1, i2 = (int(i) for i in rng.integers(0, b + 2, 2))
                o1, o2 = (self.operations[int(o)] for o in rng.integers(0, len(self.operations), 2))
                blocks.append((i1, i2, o1, o2))
            cells.append(tuple(blocks))
        return MicroArchitecture(*cells)

    def _plan(self, filters=None):
        """For each cell: (index, channels, is reduction, (halvings of input 0, of input 1)).

        A reduction cell halves both its inputs first (`FactorizedReduce`), as the authors'
        search code does, so every node of a cell has one shape and the input choice is free of
        strides; an input from before the previous reduction is halved once more.
        """
        channels = self.filters if filters is None else filters
        plan, scales, scale = [], [0, 0], 0
        for c in range(self.num_cells):
            reduction = c in self.reduction_cells
            if reduction:
                channels *= 2
                scale += 1
            plan.append((c, channels, reduction, (scale - scales[0], scale - scales[1])))
            scales = [scales[1], scale]
        return plan

    def build_shared_model(self, input_shape, num_classes: int) -> keras.Model:
        """The shared-weight model: call it on `(images, arch)` with `arch` an int32 vector."""
        return _SharedMicroModel(self, tuple(input_shape), _check_int("num_classes", num_classes, 2))

    def build_child_model(self, arch: MicroArchitecture, input_shape, num_classes: int, filters=None) -> keras.Model:
        """A functional Keras model with only `arch`'s operations (logits out).

        Args:
            arch: a `MicroArchitecture` of this space.
            input_shape: tuple `(height, width, channels)`.
            num_classes: int >= 2.
            filters: int, the first cells' channels (defaults to the space's).

        Returns:
            A `keras.Model` named "enas_micro_child".
        """
        self.validate(arch)
        filters = self.filters if filters is None else _check_int("filters", filters, 2)
        images = keras.Input(tuple(input_shape), name="images")
        stem = batch_norm(True, name="stem_bn")(_stem_conv(self.stem_multiplier * filters, "stem_conv")(images))
        s0 = s1 = stem
        for c, channels, reduction, reductions in self._plan(filters):
            blocks = arch.reduce if reduction else arch.normal
            pre = _preprocess(c, channels, reductions)
            nodes = [_apply(pre[0], s0), _apply(pre[1], s1)]
            for b, (i1, i2, op1, op2) in enumerate(blocks):
                outs = []
                for slot, (index, op) in enumerate(((i1, op1), (i2, op2))):
                    outs.append(_named(OPS[op](channels, 1, True), _edge_name(c, b, slot, op))(nodes[index]))
                nodes.append(keras.layers.Add(name=f"cell{c}_node{b + 2}")(outs))
            loose = [nodes[j] for j in _loose_ends(blocks)]
            out = keras.layers.Concatenate(name=f"cell{c}_concat")(loose) if len(loose) > 1 else loose[0]
            out = keras.layers.ReLU(name=f"cell{c}_relu")(out)
            out = keras.layers.Conv2D(channels, 1, use_bias=False, name=f"cell{c}_out_conv")(out)
            out = batch_norm(True, name=f"cell{c}_out_bn")(out)
            s0, s1 = s1, out
        return keras.Model(images, _head(s1, num_classes), name="enas_micro_child")

    def copy_shared_weights(self, shared: keras.Model, child: keras.Model, arch: MicroArchitecture):
        """Give `child` the shared model's weights (matched by layer name; the cell output
        convolution takes the rows of the loose ends)."""
        plan = {f"cell{c}_out_conv": (arch.reduce if reduction else arch.normal, channels)
                for c, channels, reduction, _ in self._plan()}
        for layer in child.layers:
            if not layer.weights:
                continue
            weights = shared.shared_layer(layer.name).get_weights()
            if layer.name in plan:
                blocks, channels = plan[layer.name]
                rows = np.concatenate([np.arange((j - 2) * channels, (j - 1) * channels) for j in _loose_ends(blocks)])
                weights = [weights[0][:, :, rows, :]]
            layer.set_weights(weights)


def get_space(search_space):
    """A space from itself, its name ("macro", "micro") or its `get_config()` dict."""
    if isinstance(search_space, (MacroSpace, MicroSpace)):
        return search_space
    if isinstance(search_space, dict):
        config = dict(search_space)
        name = config.pop("name", None)
        if name in ("macro", "micro"):
            return (MacroSpace if name == "macro" else MicroSpace)(**config)
        search_space = name
    if search_space == "macro":
        return MacroSpace()
    if search_space == "micro":
        return MicroSpace()
    raise ValueError(
        "`search_space` must be a MacroSpace, a MicroSpace, 'macro' or 'micro'. "
        f"Received: search_space={search_space!r}"
    )


# Model pieces shared by the child and the shared-weight models ----------------------------


def _named(layer, name):
    layer.name = name
    return layer


def _stem_conv(filters, name):
    return keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name)


def _head(x, num_classes):
    x = keras.layers.ReLU(name="head_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    return keras.layers.Dense(num_classes, name="head")(x)


def _edge_name(cell, block, slot, op):
    return f"cell{cell}_b{block}_s{slot}_{op}"


def _preprocess(cell, channels, reductions):
    """The layers that bring each cell input to the cell's channels and resolution: ReLU-conv1x1-BN
    when no halving is needed, else one `FactorizedReduce` per halving."""
    pre = []
    for i, halvings in enumerate(reductions):
        if halvings == 0:
            pre.append([ReLUConvBN(channels, 1, 1, True, name=f"cell{cell}_pre{i}")])
        else:
            pre.append([FactorizedReduce(channels, True, name=f"cell{cell}_pre{i}" + (f"_{n}" if n else ""))
                        for n in range(halvings)])
    return pre


def _apply(layers, x, training=None):
    for layer in layers:
        x = layer(x, training=training) if training is not None else layer(x)
    return x


def _loose_ends(blocks):
    """The intermediate nodes (2..B+1) no block of `blocks` takes as input."""
    used = {i for block in blocks for i in block[:2]}
    return [j for j in range(2, len(blocks) + 2) if j not in used]


def _build(layer, shape):
    """Build a layer (and its sublayers) by calling it once eagerly on zeros."""
    layer(tf.zeros((1,) + tuple(shape)), training=False)
    return tuple(layer.compute_output_shape((1,) + tuple(shape))[1:])


class _SharedModel(keras.Model):
    """Base of the shared-weight models: layers by name and a call on `(images, arch)`."""

    def __init__(self, space, input_shape, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.space = space
        self.image_shape = input_shape
        self.num_classes = num_classes
        self._by_name = {}
        self._all = []

    def _add(self, layer):
        self._by_name[layer.name] = len(self._all)
        self._all.append(layer)
        return layer

    def shared_layer(self, name: str) -> keras.layers.Layer:
        """The layer called `name` (the child's layers carry the same names)."""
        return self._all[self._by_name[name]]

    def _stem_and_head(self, stem_channels):
        self.stem_conv = self._add(_stem_conv(stem_channels, "stem_conv"))
        self.stem_bn = self._add(batch_norm(True, name="stem_bn"))
        self.head = self._add(keras.layers.Dense(self.num_classes, name="head"))
        shape = _build(self.stem_conv, self.image_shape)
        _build(self.stem_bn, shape)
        return shape

    def _finish(self, x):
        x = tf.reduce_mean(tf.nn.relu(x), axis=[1, 2])
        return self.head(x)


class _SharedMacroModel(_SharedModel):
    def __init__(self, space, input_shape, num_classes):
        super().__init__(space, input_shape, num_classes, name="enas_macro_shared")
        f = space.filters
        shape = self._stem_and_head(f)
        self.branches, self.bns, self.reducers = [], [], []
        for i in range(space.num_layers):
            branches = [self._add(_named(OPS[op](f, 1, True), f"layer{i}_{op}")) for op in space.operations]
            for branch in branches:
                _build(branch, shape)
            self.branches.append(branches)
            self.bns.append(self._add(batch_norm(True, name=f"layer{i}_bn")))
            _build(self.bns[-1], shape)
            reducers = []
            if i in space.pool_layers:
                reducers = [self._add(FactorizedReduce(f, True, name=f"pool{i}_reduce{j}")) for j in range(i + 1)]
                for reducer in reducers:
                    new_shape = _build(reducer, shape)
                shape = new_shape
            self.reducers.append(reducers)
        _build(self.head, (f,))
        self.built = True

    def call(self, inputs, training=None):
        images, arch = inputs
        x = self.stem_bn(self.stem_conv(images), training=training)
        layers, prev, k = [], x, 0
        for i in range(self.space.num_layers):
            out = tf.switch_case(
                arch[k], [lambda b=b, prev=prev: b(prev, training=training) for b in self.branches[i]]
            )
            k += 1
            for j in range(i):
                out = out + tf.cast(arch[k + j], out.dtype) * layers[j]
            k += i
            out = self.bns[i](out, training=training)
            layers.append(out)
            prev = out
            if self.reducers[i]:
                layers = [reducer(h, training=training) for reducer, h in zip(self.reducers[i], layers)]
                prev = layers[-1]
        return self._finish(prev)


class _SharedMicroModel(_SharedModel):
    def __init__(self, space, input_shape, num_classes):
        super().__init__(space, input_shape, num_classes, name="enas_micro_shared")
        stem_shape = self._stem_and_head(space.stem_multiplier * space.filters)
        self.cells = []
        s0 = s1 = stem_shape
        for c, channels, reduction, reductions in space._plan():
            pre = _preprocess(c, channels, reductions)
            shapes = []
            for layers, shape in zip(pre, (s0, s1)):
                for layer in layers:
                    shape = _build(self._add(layer), shape)
                shapes.append(shape)
            node_shape = shapes[1]
            edges = []  # edges[b][slot][op]
            for b in range(space.num_blocks):
                slots = []
                for slot in range(2):
                    layers = [self._add(_named(OPS[op](channels, 1, True), _edge_name(c, b, slot, op)))
                              for op in space.operations]
                    for layer in layers:
                        _build(layer, node_shape)
                    slots.append(layers)
                edges.append(slots)
            out_conv = self._add(keras.layers.Conv2D(channels, 1, use_bias=False, name=f"cell{c}_out_conv"))
            out_bn = self._add(batch_norm(True, name=f"cell{c}_out_bn"))
            _build(out_conv, node_shape[:2] + (space.num_blocks * channels,))
            _build(out_bn, node_shape)
            self.cells.append((pre, edges, out_conv, out_bn, reduction))
            s0, s1 = s1, node_shape
        _build(self.head, (s1[-1],))
        self.built = True

    def call(self, inputs, training=None):
        images, arch = inputs
        blocks = self.space.num_blocks
        x = self.stem_bn(self.stem_conv(images), training=training)
        s0 = s1 = x
        for pre, edges, out_conv, out_bn, reduction in self.cells:
            offset = 4 * blocks if reduction else 0
            nodes = [_apply(pre[0], s0, training), _apply(pre[1], s1, training)]
            used = [tf.zeros([], tf.bool) for _ in range(blocks + 2)]
            for b in range(blocks):
                stacked = tf.stack(nodes)
                outs = []
                for slot in range(2):
                    index, op = arch[offset + 4 * b + slot], arch[offset + 4 * b + 2 + slot]
                    node = tf.gather(stacked, index)
                    outs.append(tf.switch_case(
                        op, [lambda layer=layer: layer(node, training=training) for layer in edges[b][slot]]
                    ))
                    used = [u | tf.equal(index, j) for j, u in enumerate(used)]
                nodes.append(outs[0] + outs[1])
            loose = [tf.cast(tf.logical_not(used[j]), nodes[j].dtype) * nodes[j] for j in range(2, blocks + 2)]
            out = out_conv(tf.nn.relu(tf.concat(loose, axis=-1)))
            s0, s1 = s1, out_bn(out, training=training)
        return self._finish(s1)
