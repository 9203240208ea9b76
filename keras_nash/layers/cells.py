"""DARTS cells: the searchable cell of mixed operations and the fixed cell of a genotype.

A DARTS cell (Liu et al. 2019) is a DAG of `steps` intermediate nodes over two input nodes,
the outputs of the two previous cells. The inputs are preprocessed to `channels` channels
(ReLU-Conv1x1-BN, or `FactorizedReduce` when the previous cell halved the resolution), each
intermediate node sums operations applied to earlier nodes, and the cell output concatenates
the last `multiplier` nodes. In a reduction cell the operations reading the two input nodes
use stride 2.

- `SearchCell`: every earlier node feeds every intermediate node through a `MixedOp`
  (`n_edges(steps)` edges: 14 for 4 nodes); the mixture weights `(n_edges, n_ops)` are a call
  argument, so one compiled step serves every alpha.
- `FixedCell`: each intermediate node sums two chosen operations (a genotype's cell, given as
  plain `(op_name, input_index)` pairs so this layer needs nothing from `spaces/`), with
  drop-path on every operation that is not the identity.
- `AuxiliaryHead`: DARTS's CIFAR auxiliary classifier on an 8x8 feature map, and
  `AuxiliaryLossMixin`, which adds its weighted cross-entropy to a model's training loss.

These layers import nothing above `layers/`.
"""

import keras
from keras import ops

from keras_nash.checks import check_int
from keras_nash.layers.augment import drop_path
from keras_nash.layers.base import batch_norm, reduced_size
from keras_nash.layers.mixed import MixedOp
from keras_nash.layers.ops import OPS, PRIMITIVES, FactorizedReduce, Identity, ReLUConvBN


def n_edges(steps: int) -> int:
    """The number of mixed edges of a search cell with `steps` intermediate nodes.

    Node `i` (0-based) has `2 + i` incoming edges, so the cell has
    `2 * steps + steps * (steps - 1) / 2`.

    Example:

    >>> from keras_nash.layers.cells import n_edges
    >>> n_edges(4)
    14
    """
    steps = check_int("steps", steps, minimum=1)
    return sum(2 + i for i in range(steps))


def _preprocess(channels, reduction_prev, affine):
    if reduction_prev:
        return FactorizedReduce(channels, affine=affine)
    return ReLUConvBN(channels, 1, 1, affine=affine)


def _build(layer, input_shape):
    """Build `layer` for `input_shape` unless it is built; return its output shape."""
    if not layer.built:
        layer.build(input_shape)
    return tuple(layer.compute_output_shape(input_shape))


def _cell_output_shape(s1_shape, reduction, channels):
    n, h, w, _ = s1_shape
    strides = 2 if reduction else 1
    return (n, reduced_size(h, strides), reduced_size(w, strides), channels)


@keras.saving.register_keras_serializable(package="keras_nash")
class SearchCell(keras.layers.Layer):
    """A searchable DARTS cell: `MixedOp`s on all `n_edges(steps)` edges.

    Args:
        channels: int, the channels of each node (the output has `multiplier * channels`).
        reduction: bool, whether this cell halves the resolution. Defaults to False.
        reduction_prev: bool, whether the cell before the previous input reduced, i.e. `s0`
            has twice the resolution of `s1`. Defaults to False.
        steps: int, the number of intermediate nodes. Defaults to 4.
        multiplier: int, the number of last nodes concatenated as output. Defaults to 4.
        primitives: sequence of str, the candidate operations. Defaults to `PRIMITIVES`.
        partial_channels: int, PC-DARTS's `k` for every `MixedOp`. Defaults to 1.
        **kwargs: base `Layer` arguments.

    Call arguments:
        s0: the output of the cell before the previous one, `(batch, h0, w0, c0)`.
        s1: the output of the previous cell, `(batch, h, w, c1)`.
        weights: the mixture `(n_edges(steps), len(primitives))`, one row per edge, edges
            ordered node by node and, within a node, by input (DARTS's order).
        edge_weights: None, or `(n_edges(steps),)`: PC-DARTS's edge normalisation, each
            edge's `MixedOp` output (partial channels' bypass included) scaled by its weight
            before the node sums its edges. Defaults to None.
        training: bool, whether batch norms use batch statistics.

    Returns:
        A tensor `(batch, h / (2 if reduction else 1), ..., multiplier * channels)`.

    Example:

    >>> import keras
    >>> from keras_nash.layers import SearchCell
    >>> cell = SearchCell(4, steps=2, multiplier=2, primitives=["skip_connect", "avg_pool_3x3"])
    >>> x = keras.ops.ones((2, 8, 8, 6))
    >>> tuple(cell(x, x, keras.ops.ones((5, 2)) / 2).shape)
    (2, 8, 8, 8)
    """

    def __init__(
        self,
        channels: int,
        reduction: bool = False,
        reduction_prev: bool = False,
        steps: int = 4,
        multiplier: int = 4,
        primitives=PRIMITIVES,
        partial_channels: int = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.channels = check_int("channels", channels, minimum=1)
        self.reduction = bool(reduction)
        self.reduction_prev = bool(reduction_prev)
        self.steps = check_int("steps", steps, minimum=1)
        self.multiplier = check_int("multiplier", multiplier, minimum=1, maximum=self.steps)
        self.primitives = tuple(primitives)
        self.partial_channels = check_int("partial_channels", partial_channels, minimum=1)
        self.preprocess0 = _preprocess(self.channels, self.reduction_prev, affine=False)
        self.preprocess1 = ReLUConvBN(self.channels, 1, 1, affine=False)
        self.edges = []
        for i in range(self.steps):
            for j in range(2 + i):
                strides = 2 if self.reduction and j < 2 else 1
                self.edges.append(
                    MixedOp(self.channels, strides, self.primitives, self.partial_channels)
                )

    def build(self, s0_shape, s1_shape, weights_shape=None, edge_weights_shape=None):
        shapes = [_build(self.preprocess0, s0_shape), _build(self.preprocess1, s1_shape)]
        offset = 0
        for i in range(self.steps):
            node_shape = None
            for j, shape in enumerate(shapes):
                node_shape = _build(self.edges[offset + j], shape)
            offset += len(shapes)
            shapes.append(node_shape)

    def call(self, s0, s1, weights, edge_weights=None, training=None):
        expected = (len(self.edges), len(self.primitives))
        if tuple(weights.shape) != expected and None not in weights.shape:
            raise ValueError(
                f"`weights` must have shape {expected}. Received: weights.shape="
                f"{tuple(weights.shape)}"
            )
        states = [self.preprocess0(s0, training=training), self.preprocess1(s1, training=training)]
        offset = 0
        for i in range(self.steps):
            node = None
            for j, state in enumerate(states):
                h = self.edges[offset + j](state, weights[offset + j], training=training)
                if edge_weights is not None:
                    h = edge_weights[offset + j] * h
                node = h if node is None else node + h
            offset += len(states)
            states.append(node)
        return ops.concatenate(states[-self.multiplier :], axis=-1)

    def compute_output_shape(self, s0_shape, s1_shape, weights_shape=None, edge_weights_shape=None):
        return _cell_output_shape(s1_shape, self.reduction, self.multiplier * self.channels)

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "reduction": self.reduction,
            "reduction_prev": self.reduction_prev,
            "steps": self.steps,
            "multiplier": self.multiplier,
            "primitives": list(self.primitives),
            "partial_channels": self.partial_channels,
        }


@keras.saving.register_keras_serializable(package="keras_nash")
class FixedCell(keras.layers.Layer):
    """A DARTS cell built from a genotype: two chosen operations per intermediate node.

    Operations are built with `affine=True` (the evaluation setting: no batch norm after
    pooling). In training, every operation that is not the identity is followed by drop-path
    (the whole path dropped per example with probability `drop_prob`, survivors scaled by
    `1 / (1 - drop_prob)`), as DARTS's evaluation network does.

    Args:
        channels: int, the channels of each node.
        cell_ops: list of `[op_name, input_index]` pairs, two per intermediate node; index 0
            and 1 are the cell inputs, `2 + i` is intermediate node `i`.
        concat: list of int, the nodes concatenated as output.
        reduction: bool, whether this cell halves the resolution. Defaults to False.
        reduction_prev: bool, whether `s0` has twice the resolution of `s1`. Defaults to False.
        seed: int or None, the drop-path seed. Defaults to None.
        **kwargs: base `Layer` arguments.

    Call arguments:
        s0: the output of the cell before the previous one.
        s1: the output of the previous cell.
        drop_prob: a scalar tensor or float, the drop-path probability. Defaults to 0.
        training: bool, whether batch norms use batch statistics and drop-path is on.

    Returns:
        A tensor `(batch, h', w', len(concat) * channels)`.

    Example:

    >>> import keras
    >>> from keras_nash.layers import FixedCell
    >>> cell = FixedCell(4, [["skip_connect", 0], ["avg_pool_3x3", 1]], concat=[2])
    >>> x = keras.ops.ones((2, 8, 8, 6))
    >>> tuple(cell(x, x).shape)
    (2, 8, 8, 4)
    """

    def __init__(
        self,
        channels: int,
        cell_ops,
        concat,
        reduction: bool = False,
        reduction_prev: bool = False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        cell_ops = [(str(name), int(index)) for name, index in cell_ops]
        if not cell_ops or len(cell_ops) % 2:
            raise ValueError(
                "`cell_ops` must hold two (op_name, input_index) pairs per node. "
                f"Received: cell_ops={cell_ops}"
            )
        steps = len(cell_ops) // 2
        for position, (name, index) in enumerate(cell_ops):
            if name not in OPS:
                raise ValueError(
                    f"`cell_ops` holds the unknown operation {name!r}; known: {sorted(OPS)}. "
                    f"Received: cell_ops={cell_ops}"
                )
            if not 0 <= index < 2 + position // 2:
                raise ValueError(
                    f"`cell_ops` entry {position} reads node {index}, which is not an earlier "
                    f"node. Received: cell_ops={cell_ops}"
                )
        concat = [int(node) for node in concat]
        if not concat or any(not 0 <= node < 2 + steps for node in concat):
            raise ValueError(
                f"`concat` must name nodes in [0, {2 + steps}). Received: concat={concat}"
            )
        self.channels = check_int("channels", channels, minimum=1)
        self.cell_ops = cell_ops
        self.concat = concat
        self.reduction = bool(reduction)
        self.reduction_prev = bool(reduction_prev)
        self.seed = seed
        self.preprocess0 = _preprocess(self.channels, self.reduction_prev, affine=True)
        self.preprocess1 = ReLUConvBN(self.channels, 1, 1, affine=True)
        self.candidates = [
            OPS[name](self.channels, 2 if self.reduction and index < 2 else 1, True)
            for name, index in cell_ops
        ]
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, s0_shape, s1_shape, drop_prob_shape=None):
        shapes = [_build(self.preprocess0, s0_shape), _build(self.preprocess1, s1_shape)]
        for i in range(len(self.cell_ops) // 2):
            for position in (2 * i, 2 * i + 1):
                node_shape = _build(self.candidates[position], shapes[self.cell_ops[position][1]])
            shapes.append(node_shape)

    def call(self, s0, s1, drop_prob=0.0, training=None):
        states = [self.preprocess0(s0, training=training), self.preprocess1(s1, training=training)]
        for i in range(len(self.cell_ops) // 2):
            node = None
            for position in (2 * i, 2 * i + 1):
                op = self.candidates[position]
                h = op(states[self.cell_ops[position][1]], training=training)
                if training and not isinstance(op, Identity):
                    h = drop_path(h, drop_prob, self.seed_generator)
                node = h if node is None else node + h
            states.append(node)
        return ops.concatenate([states[node] for node in self.concat], axis=-1)

    def compute_output_shape(self, s0_shape, s1_shape, drop_prob_shape=None):
        return _cell_output_shape(s1_shape, self.reduction, len(self.concat) * self.channels)

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "cell_ops": [list(pair) for pair in self.cell_ops],
            "concat": list(self.concat),
            "reduction": self.reduction,
            "reduction_prev": self.reduction_prev,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="keras_nash")
class AuxiliaryHead(keras.layers.Layer):
    """DARTS's auxiliary classifier for 8x8 feature maps (CIFAR).

    ReLU, 5x5 average pooling with stride 3 (to 2x2), Conv1x1(128)-BN-ReLU,
    Conv2x2(768)-BN-ReLU, then a dense classifier. On maps smaller than 8x8 (tiny inputs)
    the pooling window shrinks to the map and the 2x2 convolution to the pooled map.

    Args:
        num_classes: int, the number of classes.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: a 4D tensor `(batch, 8, 8, channels)`.
        training: bool, whether batch norms use batch statistics.

    Returns:
        Logits `(batch, num_classes)`.

    Example:

    >>> import keras
    >>> from keras_nash.layers import AuxiliaryHead
    >>> tuple(AuxiliaryHead(10)(keras.ops.ones((2, 8, 8, 16))).shape)
    (2, 10)
    """

    def __init__(self, num_classes: int, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = check_int("num_classes", num_classes, minimum=1)
        self.pool = None
        self.conv1 = keras.layers.Conv2D(128, 1, use_bias=False)
        self.bn1 = batch_norm(True)
        self.conv2 = None
        self.bn2 = batch_norm(True)
        self.flatten = keras.layers.Flatten()
        self.classifier = keras.layers.Dense(self.num_classes)

    def build(self, input_shape):
        # DARTS's sizes on 8x8 maps; smaller maps (tiny test inputs) shrink the windows.
        size = min(input_shape[1], input_shape[2])
        if size is None:
            raise ValueError(
                f"`AuxiliaryHead` needs a known spatial size. Received: input_shape={input_shape}"
            )
        pool_size = min(5, size)
        self.pool = keras.layers.AveragePooling2D(pool_size, strides=3, padding="valid")
        pooled = (size - pool_size) // 3 + 1
        self.conv2 = keras.layers.Conv2D(768, min(2, pooled), use_bias=False)
        n, c = input_shape[0], input_shape[3]
        self.conv1.build((n, pooled, pooled, c))
        self.bn1.build((n, pooled, pooled, 128))
        self.conv2.build((n, pooled, pooled, 128))
        out = pooled - min(2, pooled) + 1
        self.bn2.build((n, out, out, 768))
        self.classifier.build((n, out * out * 768))

    def call(self, inputs, training=None):
        x = self.pool(ops.relu(inputs))
        x = ops.relu(self.bn1(self.conv1(x), training=training))
        x = ops.relu(self.bn2(self.conv2(x), training=training))
        return self.classifier(self.flatten(x))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


class AuxiliaryLossMixin:
    """Adds an auxiliary head's weighted cross-entropy to a `keras.Model`'s training loss.

    The model (listing this mixin before `keras.Model`) sets `auxiliary_weight` and, in `call`,
    passes its head's logits to `keep_auxiliary_logits(logits, training)`; `compute_loss` in the
    same training step adds `auxiliary_weight * mean(cross-entropy(labels, logits))` (labels
    are class ids; sample weights apply), the papers' 0.4 x auxiliary loss. Out of training
    nothing is kept and the loss is the model's own.
    """

    _auxiliary_logits = None

    def keep_auxiliary_logits(self, logits, training):
        # Read by `compute_loss` in the same (traced) training step; not a tracked attribute.
        object.__setattr__(self, "_auxiliary_logits", logits if training else None)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x, y, y_pred, sample_weight, training=training)
        auxiliary = self._auxiliary_logits
        object.__setattr__(self, "_auxiliary_logits", None)
        if training and auxiliary is not None:
            auxiliary_loss = keras.losses.sparse_categorical_crossentropy(  # in float32
                ops.reshape(y, (-1,)), ops.cast(auxiliary, "float32"), from_logits=True
            )
            if sample_weight is not None:
                auxiliary_loss = auxiliary_loss * ops.cast(
                    ops.reshape(sample_weight, (-1,)), "float32"
                )
            loss = loss + ops.cast(self.auxiliary_weight * ops.mean(auxiliary_loss), loss.dtype)
        return loss
