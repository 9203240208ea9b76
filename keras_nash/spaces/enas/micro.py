"""The ENAS micro search space (Pham et al. 2018, the authors' `micro_child.py`): cells.

A 3x3 conv stem with `stem_multiplier * filters` channels, `num_cells` cells, reduction cells
(channels doubled, resolution halved) at `num_cells // 3` and `2 * num_cells // 3`. A cell brings
its two inputs to its channels and resolution (ReLU-conv1x1-BN, or one `FactorizedReduce` per
halving: a reduction cell halves its inputs first, as the authors' search code does, so every
node of a cell has one shape), then `num_blocks` blocks each add two operations of
`MICRO_OPERATIONS` applied to two earlier nodes. The nodes no block uses are concatenated, then
ReLU - 1x1 conv - BN bring them back to the cell's channels (the authors' search cell does the
same: the number of loose ends varies).

Weight sharing granularity: one set of weights per (cell, block, slot, operation), shared by
whichever input the slot picks (the authors index some weights by the input too). A switch
over (input, operation) pairs made the compiled step's graph grow with the square of the
branches (a `tf.switch_case` gradient carries every branch's intermediates): tracing took
minutes. Inputs are picked by `tf.gather`, operations by `tf.switch_case` over 5 branches.

- `MicroSpace`: the space (decision vectors, random architectures, child models).
- `_SharedMicroModel`: its shared-weight model.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_nash.checks import check_int
from keras_nash.layers.augment import DropPath
from keras_nash.layers.ops import OPS, FactorizedReduce, ReLUConvBN, batch_norm
from keras_nash.spaces.enas.architectures import MicroArchitecture
from keras_nash.spaces.enas.shared import (
    EnasSpace,
    _apply,
    _build,
    _child_stem,
    _named,
    _SharedModel,
    check_operations,
)

# "skip_connect" is ENAS's identity (a FactorizedReduce at stride 2).
MICRO_OPERATIONS = ("skip_connect", "sep_conv_3x3", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3")


def _edge_name(cell, block, slot, op):
    return f"cell{cell}_b{block}_s{slot}_{op}"


def _edge(cell, block, slot, op, channels):
    """The layer of operation `op` on slot `slot` of block `block` of cell `cell`."""
    return _named(OPS[op](channels, 1, True), _edge_name(cell, block, slot, op))


def _cell_output_layers(cell, channels):
    """The 1x1 convolution and batch norm that bring a cell's loose ends to `channels`."""
    return (
        keras.layers.Conv2D(channels, 1, use_bias=False, name=f"cell{cell}_out_conv"),
        batch_norm(True, name=f"cell{cell}_out_bn"),
    )


def _preprocess(cell, channels, reductions):
    """The layers that bring each cell input to the cell's channels and resolution: ReLU-conv1x1-BN
    when no halving is needed, else one `FactorizedReduce` per halving."""
    pre = []
    for i, halvings in enumerate(reductions):
        if halvings == 0:
            pre.append([ReLUConvBN(channels, 1, 1, True, name=f"cell{cell}_pre{i}")])
        else:
            pre.append(
                [
                    FactorizedReduce(
                        channels, True, name=f"cell{cell}_pre{i}" + (f"_{n}" if n else "")
                    )
                    for n in range(halvings)
                ]
            )
    return pre


def _reduction_cells(cells: int) -> tuple:
    """The reduction cells of a `cells`-cell network: `cells // 3` and `2 * cells // 3` (the
    authors' `pool_layers` for their 6 and 15 normal cells: (2, 5) of 8, (5, 11) of 17)."""
    return tuple(sorted({cells // 3, 2 * cells // 3}))


def _loose_ends(blocks):
    """The intermediate nodes (2..B+1) no block of `blocks` takes as input."""
    used = {i for block in blocks for i in block[:2]}
    return [j for j in range(2, len(blocks) + 2) if j not in used]


class _SharedMicroModel(_SharedModel):
    """The micro space's shared-weight model: every operation of every slot of every block."""

    def __init__(self, space, input_shape, num_classes):
        super().__init__(space, input_shape, num_classes, name="enas_micro_shared")
        stem_shape = self._stem_and_head(space.stem_multiplier * space.filters)
        self.cells = []
        s0 = s1 = stem_shape
        for c, channels, reduction, reductions in space._plan():
            pre = _preprocess(c, channels, reductions)
            shapes = [
                self._add_built(layers, shape, chained=True) for layers, shape in zip(pre, (s0, s1))
            ]
            node_shape = shapes[1]
            edges = []  # edges[b][slot][op]
            for b in range(space.num_blocks):
                slots = []
                for slot in range(2):
                    layers = [_edge(c, b, slot, op, channels) for op in space.operations]
                    self._add_built(layers, node_shape)
                    slots.append(layers)
                edges.append(slots)
            out_conv, out_bn = _cell_output_layers(c, channels)
            self._add_built([out_conv], node_shape[:2] + (space.num_blocks * channels,))
            self._add_built([out_bn], node_shape)
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
                    outs.append(
                        tf.switch_case(
                            op,
                            [
                                lambda layer=layer: layer(node, training=training)
                                for layer in edges[b][slot]
                            ],
                        )
                    )
                    used = [u | tf.equal(index, j) for j, u in enumerate(used)]
                nodes.append(outs[0] + outs[1])
            loose = [
                tf.cast(tf.logical_not(used[j]), nodes[j].dtype) * nodes[j]
                for j in range(2, blocks + 2)
            ]
            out = out_conv(tf.nn.relu(tf.concat(loose, axis=-1)))
            s0, s1 = s1, out_bn(out, training=training)
        return self._finish(s1)


class MicroSpace(EnasSpace):
    """The ENAS micro search space: cells of `num_blocks` blocks, normal and reduction.

    Args:
        num_cells: int >= 1, cells in the network; reduction cells at `num_cells // 3` and
            `2 * num_cells // 3`. Defaults to 8 (the authors' 6 normal + 2 reduction).
        num_blocks: int >= 1, blocks per cell. Defaults to 5.
        filters: int >= 2, channels of the first cells (doubled at each reduction). Defaults to 20.
        stem_multiplier: int >= 1, the stem has `stem_multiplier * filters` channels. Defaults to 3.
        operations: tuple of names in `keras_nash.layers.ops.OPS`. Defaults to `MICRO_OPERATIONS`.

    Example:

    >>> import numpy as np
    >>> from keras_nash.spaces import MicroSpace
    >>> space = MicroSpace(num_cells=3, num_blocks=2, filters=4)
    >>> space.reduction_cells, space.num_decisions
    ((1, 2), 16)
    >>> rng = np.random.default_rng(0)
    >>> arch = space.random_architecture(rng)
    >>> space.decode(space.encode(arch)) == arch
    True
    >>> model = space.build_child_model(arch, (16, 16, 3), num_classes=10)
    >>> model.name, model.output_shape
    ('enas_micro_child', (None, 10))
    """

    name = "micro"
    cells_options = True
    architecture_class = MicroArchitecture
    shared_model_class = _SharedMicroModel
    arguments = ("num_cells", "num_blocks", "filters", "stem_multiplier", "operations")

    def __init__(
        self,
        num_cells: int = 8,
        num_blocks: int = 5,
        filters: int = 20,
        stem_multiplier: int = 3,
        operations=MICRO_OPERATIONS,
    ):
        self.num_cells = check_int("num_cells", num_cells, minimum=1)
        self.num_blocks = check_int("num_blocks", num_blocks, minimum=1)
        self.filters = check_int("filters", filters, minimum=2)
        self.stem_multiplier = check_int("stem_multiplier", stem_multiplier, minimum=1)
        self.operations = check_operations(operations, "operations")
        self.reduction_cells = _reduction_cells(self.num_cells)

    @property
    def controller_layers(self) -> int:
        """The controller's steps: one per block."""
        return self.num_blocks

    @property
    def num_decisions(self) -> int:
        """Two inputs and two operations per block, in the normal and the reduction cell."""
        return 8 * self.num_blocks

    def validate(self, arch: MicroArchitecture) -> MicroArchitecture:
        """Raise ValueError unless `arch` belongs to this space; return it."""
        self._check_type(arch)
        if arch.num_blocks != self.num_blocks:
            raise ValueError(
                f"`normal` must have {self.num_blocks} blocks. Received: {arch.num_blocks} blocks"
            )
        for field in ("normal", "reduce"):
            for b, block in enumerate(getattr(arch, field)):
                if block[2] not in self.operations or block[3] not in self.operations:
                    raise ValueError(
                        f"`{field}[{b}]` uses operations outside {self.operations}. "
                        f"Received: {field}[{b}]={list(block)}"
                    )
        return arch

    def encode(self, arch: MicroArchitecture) -> np.ndarray:
        """The int32 decision vector: per cell (normal, reduce), per block
        `[in_1, in_2, op_1, op_2]`."""
        self.validate(arch)
        vector = []
        for cell in (arch.normal, arch.reduce):
            for i1, i2, op1, op2 in cell:
                vector += [i1, i2, self.operations.index(op1), self.operations.index(op2)]
        return np.asarray(vector, dtype="int32")

    def decode(self, vector) -> MicroArchitecture:
        """The architecture of an int decision vector (inverse of `encode`)."""
        vector = self._decisions(vector)
        cells = []
        for c in range(2):
            blocks = []
            for b in range(self.num_blocks):
                k = (c * self.num_blocks + b) * 4
                i1, i2 = vector[k : k + 2]
                o1, o2 = (
                    self._operation(vector[j], f"`vector[{j}]` (an operation)")
                    for j in (k + 2, k + 3)
                )
                blocks.append((i1, i2, o1, o2))
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

    def _plan(self, filters=None, cells=None):
        """For each cell: (index, channels, is reduction, (halvings of input 0, of input 1)).

        A reduction cell halves both its inputs first (`FactorizedReduce`), as the authors'
        search code does, so every node of a cell has one shape and the input choice is free of
        strides; an input from before the previous reduction is halved once more. `filters`
        and `cells` default to the space's.
        """
        channels = self.filters if filters is None else filters
        cells = self.num_cells if cells is None else cells
        reduction_cells = _reduction_cells(cells)
        plan, scales, scale = [], [0, 0], 0
        for c in range(cells):
            reduction = c in reduction_cells
            if reduction:
                channels *= 2
                scale += 1
            plan.append((c, channels, reduction, (scale - scales[0], scale - scales[1])))
            scales = [scales[1], scale]
        return plan

    def _child_features(
        self,
        arch: MicroArchitecture,
        images,
        filters: int,
        cells=None,
        drop_path_prob: float = 0.0,
        seed=None,
    ):
        """The cells; the auxiliary head reads the cell after the second reduction (the
        authors' `aux_head_indices`; the last cell in a network too short to have one after
        it), drop-path covers every operation but the identity."""
        cells = self.num_cells if cells is None else cells
        auxiliary_cell = min(_reduction_cells(cells)[-1] + 1, cells - 1)
        s0 = s1 = _child_stem(images, self.stem_multiplier * filters)
        drops = 0
        for c, channels, reduction, reductions in self._plan(filters, cells):
            blocks = arch.reduce if reduction else arch.normal
            pre = _preprocess(c, channels, reductions)
            nodes = [_apply(pre[0], s0), _apply(pre[1], s1)]
            for b, (i1, i2, op1, op2) in enumerate(blocks):
                outs = []
                for slot, (index, op) in enumerate(((i1, op1), (i2, op2))):
                    out = _edge(c, b, slot, op, channels)(nodes[index])
                    if drop_path_prob and op != "skip_connect":
                        drops += 1
                        out = DropPath(
                            drop_path_prob * (c + 1) / cells,
                            seed=None if seed is None else seed + drops,
                            name=f"cell{c}_b{b}_s{slot}_drop_path",
                        )(out)
                    outs.append(out)
                nodes.append(keras.layers.Add(name=f"cell{c}_node{b + 2}")(outs))
            loose = [nodes[j] for j in _loose_ends(blocks)]
            if len(loose) > 1:
                out = keras.layers.Concatenate(name=f"cell{c}_concat")(loose)
            else:
                out = loose[0]
            out = keras.layers.ReLU(name=f"cell{c}_relu")(out)
            out_conv, out_bn = _cell_output_layers(c, channels)
            s0, s1 = s1, out_bn(out_conv(out))
            if c == auxiliary_cell:
                auxiliary_input = s1
        return s1, auxiliary_input

    def copy_shared_weights(self, shared: keras.Model, child: keras.Model, arch: MicroArchitecture):
        """Give `child` the shared model's weights (matched by layer name; the cell output
        convolution takes the rows of the loose ends)."""
        plan = {
            f"cell{c}_out_conv": (arch.reduce if reduction else arch.normal, channels)
            for c, channels, reduction, _ in self._plan()
        }
        for layer in child.layers:
            if not layer.weights or isinstance(layer, DropPath):
                continue
            weights = shared.shared_layer(layer.name).get_weights()
            if layer.name in plan:
                blocks, channels = plan[layer.name]
                rows = np.concatenate(
                    [np.arange((j - 2) * channels, (j - 1) * channels) for j in _loose_ends(blocks)]
                )
                weights = [weights[0][:, :, rows, :]]
            layer.set_weights(weights)
