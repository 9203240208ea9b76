"""The ENAS macro search space (Pham et al. 2018, the authors' `general_child.py`).

A 3x3 conv stem, `num_layers` layers, each one of `MACRO_OPERATIONS` applied to the previous
layer, plus the sum of the earlier layers its skip mask selects, then a batch norm. After the
layers at `num_layers // 3 - 1` and `2 * (num_layers // 3) - 1` every layer so far is halved by
a `FactorizedReduce` (filters stay constant, as in the authors' search). Head: ReLU, global
average pooling, dense.

- `MacroSpace`: the space (decision vectors, random architectures, child models).
- `_SharedMacroModel`: its shared-weight model, one `tf.switch_case` over the operations per
  layer and the skips as multiplications by the 0/1 decisions.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_nash.checks import check_int
from keras_nash.layers.ops import OPS, FactorizedReduce, batch_norm
from keras_nash.spaces.enas.architectures import MacroArchitecture
from keras_nash.spaces.enas.shared import (
    EnasSpace,
    _build,
    _child_stem,
    _named,
    _SharedModel,
    check_operations,
)

MACRO_OPERATIONS = (
    "conv_3x3",
    "conv_5x5",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "avg_pool_3x3",
    "max_pool_3x3",
)


class _SharedMacroModel(_SharedModel):
    """The macro space's shared-weight model: every operation of every layer, all reducers."""

    def __init__(self, space, input_shape, num_classes):
        super().__init__(space, input_shape, num_classes, name="enas_macro_shared")
        f = space.filters
        shape = self._stem_and_head(f)
        self.branches, self.bns, self.reducers = [], [], []
        for i in range(space.num_layers):
            branches = [_named(OPS[op](f, 1, True), f"layer{i}_{op}") for op in space.operations]
            self._add_built(branches, shape)
            self.branches.append(branches)
            self.bns.append(self._add(batch_norm(True, name=f"layer{i}_bn")))
            _build(self.bns[-1], shape)
            reducers = []
            if i in space.pool_layers:
                reducers = [
                    FactorizedReduce(f, True, name=f"pool{i}_reduce{j}") for j in range(i + 1)
                ]
                shape = self._add_built(reducers, shape)
            self.reducers.append(reducers)
        _build(self.head, (f,))
        self.built = True

    def call(self, inputs, training=None):
        images, arch = inputs
        x = self.stem_bn(self.stem_conv(images), training=training)
        layers, prev, k = [], x, 0
        for i in range(self.space.num_layers):
            out = tf.switch_case(
                arch[k],
                [lambda b=b, prev=prev: b(prev, training=training) for b in self.branches[i]],
            )
            k += 1
            for j in range(i):
                out = out + tf.cast(arch[k + j], out.dtype) * layers[j]
            k += i
            out = self.bns[i](out, training=training)
            layers.append(out)
            prev = out
            if self.reducers[i]:
                layers = [
                    reducer(h, training=training) for reducer, h in zip(self.reducers[i], layers)
                ]
                prev = layers[-1]
        return self._finish(prev)


class MacroSpace(EnasSpace):
    """The ENAS macro search space: a whole network of `num_layers` searched layers.

    Args:
        num_layers: int >= 1, searched layers. Defaults to 12 (24 in the authors' final net).
        filters: int >= 2, channels of every layer. Defaults to 36.
        operations: tuple of names in `keras_nash.layers.ops.OPS`. Defaults to `MACRO_OPERATIONS`.

    Example:

    >>> from keras_nash.spaces import MacroArchitecture, MacroSpace
    >>> space = MacroSpace(num_layers=4, filters=8)
    >>> space.num_decisions, space.pool_layers  # 4 operations + 6 skip bits; halve after 0, 1
    (10, (0, 1))
    >>> arch = MacroArchitecture(("conv_3x3", "max_pool_3x3", "conv_5x5", "sep_conv_3x3"),
    ...                          ((), (1,), (0, 1), (1, 0, 0)))
    >>> space.encode(arch).tolist()
    [0, 5, 1, 1, 0, 1, 2, 1, 0, 0]
    >>> child = space.build_child_model(arch, (16, 16, 3), num_classes=10)
    >>> child.output_shape
    (None, 10)
    """

    name = "macro"
    architecture_class = MacroArchitecture
    shared_model_class = _SharedMacroModel
    arguments = ("num_layers", "filters", "operations")

    def __init__(self, num_layers: int = 12, filters: int = 36, operations=MACRO_OPERATIONS):
        self.num_layers = check_int("num_layers", num_layers, minimum=1)
        self.filters = check_int("filters", filters, minimum=2)
        self.operations = check_operations(operations, "operations")
        distance = self.num_layers // 3
        self.pool_layers = tuple(sorted({distance - 1, 2 * distance - 1} - {-1}))

    @property
    def controller_layers(self) -> int:
        """The controller's steps: one per layer."""
        return self.num_layers

    @property
    def num_decisions(self) -> int:
        """An operation per layer and a skip bit per pair of layers."""
        return self.num_layers + self.num_layers * (self.num_layers - 1) // 2

    def validate(self, arch: MacroArchitecture) -> MacroArchitecture:
        """Raise ValueError unless `arch` belongs to this space; return it."""
        self._check_type(arch)
        if arch.num_layers != self.num_layers:
            raise ValueError(
                f"`ops` must have {self.num_layers} layers. Received: {arch.num_layers} layers"
            )
        unknown = [op for op in arch.ops if op not in self.operations]
        if unknown:
            raise ValueError(
                f"`ops` holds operations outside {self.operations}. Received: {unknown}"
            )
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
        vector = self._decisions(vector)
        ops, skips, k = [], [], 0
        for i in range(self.num_layers):
            ops.append(self._operation(vector[k], f"`vector[{k}]` (layer {i}'s operation)"))
            skips.append(tuple(vector[k + 1 : k + 1 + i]))
            k += 1 + i
        return MacroArchitecture(tuple(ops), tuple(skips))

    def random_architecture(self, rng: np.random.Generator) -> MacroArchitecture:
        """A uniformly random architecture drawn from `rng`."""
        ops = tuple(
            self.operations[int(i)] for i in rng.integers(0, len(self.operations), self.num_layers)
        )
        skips = tuple(tuple(int(s) for s in rng.integers(0, 2, i)) for i in range(self.num_layers))
        return MacroArchitecture(ops, skips)

    def _child_features(self, arch: MacroArchitecture, images, filters: int):
        layers = []
        prev = _child_stem(images, filters)
        for i, op in enumerate(arch.ops):
            out = _named(OPS[op](filters, 1, True), f"layer{i}_{op}")(prev)
            chosen = [layers[j] for j, s in enumerate(arch.skips[i]) if s]
            if chosen:
                out = keras.layers.Add(name=f"layer{i}_add")([out] + chosen)
            out = batch_norm(True, name=f"layer{i}_bn")(out)
            layers.append(out)
            prev = out
            if i in self.pool_layers:
                layers = [
                    FactorizedReduce(filters, True, name=f"pool{i}_reduce{j}")(h)
                    for j, h in enumerate(layers)
                ]
                prev = layers[-1]
        return prev, None  # no auxiliary head

    def copy_shared_weights(self, shared: keras.Model, child: keras.Model, arch=None):
        """Give `child` the shared model's weights (matched by layer name)."""
        for layer in child.layers:
            if layer.weights:
                layer.set_weights(shared.shared_layer(layer.name).get_weights())
