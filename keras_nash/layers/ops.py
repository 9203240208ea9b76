"""Candidate operations of the DARTS and ENAS search spaces, as one registry.

`OPS[name](channels, strides, affine)` builds one candidate operation: a registered,
serialisable Keras layer mapping `(N, H, W, C)` to `(N, ceil(H / strides), ceil(W / strides), C)`
(channels in equal channels out). The table follows DARTS's `operations.py` (Liu et al. 2019):

- "none": `Zero` (with stride), the edge that is absent.
- "skip_connect": `Identity` (Keras's own), or `FactorizedReduce` at stride 2.
- "max_pool_3x3", "avg_pool_3x3": `PoolBN`, 3x3 pooling followed, when `affine=False` (in
  search), by a non-affine batch norm, as DARTS's MixedOp adds one.
- "sep_conv_3x3", "sep_conv_5x5": `SepConv`, (ReLU - depthwise - pointwise - BN) twice.
- "dil_conv_3x3", "dil_conv_5x5": `DilConv`, ReLU - depthwise (dilation 2) - pointwise - BN.
- "conv_3x3", "conv_5x5": `ReLUConvBN`, used by ENAS's macro space.

`PRIMITIVES` lists the 8 DARTS operations in DARTS's order; the columns of alpha follow it.

This module holds the registry and the convolution operations; `Zero` and `PoolBN` live in
`keras_nash.layers.pooling` and `batch_norm` in `keras_nash.layers.base`, all importable from
here. All convolutions use "same" padding and no bias (a batch norm follows each). Batch norms
use PyTorch's defaults (momentum 0.1, i.e. Keras momentum 0.9, epsilon 1e-5); `affine=False`
drops their scale and offset, as DARTS does during search.
"""

from typing import Callable

import keras
from keras import ops

from keras_nash.checks import check_int
from keras_nash.layers.base import StridedOp, batch_norm, check_strides, reduced_size
from keras_nash.layers.pooling import PoolBN, Zero

__all__ = [
    "OPS",
    "PRIMITIVES",
    "DilConv",
    "FactorizedReduce",
    "Identity",
    "PoolBN",
    "ReLUConvBN",
    "SepConv",
    "Zero",
    "batch_norm",
    "check_op_names",
]

PRIMITIVES = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)

Identity = keras.layers.Identity


class ConvOp(StridedOp):
    """Base of the convolution operations: stores and serialises their common arguments.

    A subclass creates its layers in `make_layers()`, which the constructor calls once the
    arguments are stored and checked.

    Args (the same for `ReLUConvBN`, `DilConv` and `SepConv`):
        out_channels: int, the number of output channels (>= 1).
        kernel_size: int, the square (depthwise) kernel size (>= 1).
        strides: int, 1 or 2. Defaults to 1.
        affine: bool, whether the batch norms have scale and offset. Defaults to True.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: a 4D tensor `(batch, height, width, channels)`.
        training: bool, whether batch norm uses batch statistics.

    Returns:
        A tensor `(batch, ceil(height / strides), ceil(width / strides), out_channels)`.
    """

    config_keys = ("out_channels", "kernel_size", "strides", "affine")

    def __init__(
        self, out_channels: int, kernel_size: int, strides: int = 1, affine: bool = True, **kwargs
    ):
        super().__init__(**kwargs)
        self.out_channels = check_int("out_channels", out_channels, minimum=1)
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        self.strides = check_strides(strides)
        self.affine = bool(affine)
        self.make_layers()

    def make_layers(self):
        """Create the operation's layers from the stored arguments."""
        raise NotImplementedError


@keras.saving.register_keras_serializable(package="keras_nash")
class FactorizedReduce(StridedOp):
    """Halve the resolution without losing pixels: ReLU, two offset 1x1 stride-2 convs, BN.

    One 1x1 convolution sees the even pixels, the other the odd pixels (the input shifted by
    one); their outputs (`out_channels // 2` and the rest) are concatenated, then batch
    normalised. DARTS uses it for "skip_connect" at stride 2 and to preprocess a cell input that
    comes from before a reduction.

    Args:
        out_channels: int, the number of output channels (>= 2).
        affine: bool, whether the batch norm has scale and offset. Defaults to True.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: a 4D tensor `(batch, height, width, channels)`.
        training: bool, whether batch norm uses batch statistics.

    Returns:
        A tensor `(batch, ceil(height / 2), ceil(width / 2), out_channels)`.

    Example:

    >>> import keras
    >>> from keras_nash.layers import FactorizedReduce
    >>> tuple(FactorizedReduce(8)(keras.ops.ones((1, 8, 8, 4))).shape)
    (1, 4, 4, 8)
    """

    config_keys = ("out_channels", "affine")
    strides = 2

    def __init__(self, out_channels: int, affine: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.out_channels = check_int("out_channels", out_channels, minimum=2)
        self.affine = bool(affine)
        half = self.out_channels // 2
        self.conv_even = keras.layers.Conv2D(half, 1, strides=2, padding="same", use_bias=False)
        self.conv_odd = keras.layers.Conv2D(
            self.out_channels - half, 1, strides=2, padding="same", use_bias=False
        )
        self.bn = batch_norm(self.affine)

    def build(self, input_shape):
        self.conv_even.build(input_shape)
        self.conv_odd.build(input_shape)
        self.bn.build(self.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        x = ops.relu(inputs)
        shifted = ops.pad(x, [[0, 0], [0, 1], [0, 1], [0, 0]])[:, 1:, 1:, :]
        x = ops.concatenate([self.conv_even(x), self.conv_odd(shifted)], axis=-1)
        return self.bn(x, training=training)


@keras.saving.register_keras_serializable(package="keras_nash")
class ReLUConvBN(ConvOp):
    """ReLU, Conv2D ("same", no bias), batch norm.

    DARTS preprocesses cell inputs with it (1x1); ENAS's macro space uses it as "conv_3x3" and
    "conv_5x5".

    Args, call arguments and output as `ConvOp`.

    Example:

    >>> import keras
    >>> from keras_nash.layers import ReLUConvBN
    >>> tuple(ReLUConvBN(8, 3)(keras.ops.ones((1, 8, 8, 4))).shape)
    (1, 8, 8, 8)
    """

    def make_layers(self):
        self.conv = keras.layers.Conv2D(
            self.out_channels,
            self.kernel_size,
            strides=self.strides,
            padding="same",
            use_bias=False,
        )
        self.bn = batch_norm(self.affine)

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.bn.build(self.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        return self.bn(self.conv(ops.relu(inputs)), training=training)


@keras.saving.register_keras_serializable(package="keras_nash")
class DilConv(ConvOp):
    """ReLU, depthwise conv (dilated), pointwise 1x1 conv, batch norm.

    Keras convolutions do not combine `strides > 1` with `dilation_rate > 1`; a strided dilated
    convolution is computed at stride 1 and subsampled (the same output pixels as DARTS's
    symmetric padding).

    Args, call arguments and output as `ConvOp`, plus:
        dilation_rate: int, the depthwise dilation. Defaults to 2.

    Example:

    >>> import keras
    >>> from keras_nash.layers import DilConv
    >>> tuple(DilConv(4, 3, strides=2)(keras.ops.ones((1, 8, 8, 4))).shape)
    (1, 4, 4, 4)
    """

    config_keys = ConvOp.config_keys + ("dilation_rate",)

    def __init__(
        self,
        out_channels: int,
        kernel_size: int,
        strides: int = 1,
        dilation_rate: int = 2,
        affine: bool = True,
        **kwargs,
    ):
        # Before the base's constructor, which calls `make_layers`.
        self.dilation_rate = check_int("dilation_rate", dilation_rate, minimum=1)
        super().__init__(out_channels, kernel_size, strides, affine, **kwargs)

    def make_layers(self):
        subsample = self.dilation_rate > 1 and self.strides > 1
        self.depthwise = keras.layers.DepthwiseConv2D(
            self.kernel_size,
            strides=1 if subsample else self.strides,
            dilation_rate=self.dilation_rate,
            padding="same",
            use_bias=False,
        )
        self._subsample = self.strides if subsample else 1
        self.pointwise = keras.layers.Conv2D(self.out_channels, 1, use_bias=False)
        self.bn = batch_norm(self.affine)

    def build(self, input_shape):
        self.depthwise.build(input_shape)
        n, h, w, c = input_shape
        reduced = (n, reduced_size(h, self.strides), reduced_size(w, self.strides), c)
        self.pointwise.build(reduced)
        self.bn.build(self.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        x = self.depthwise(ops.relu(inputs))
        if self._subsample > 1:
            x = x[:, :: self._subsample, :: self._subsample, :]
        return self.bn(self.pointwise(x), training=training)


@keras.saving.register_keras_serializable(package="keras_nash")
class SepConv(ConvOp):
    """Separable convolution, twice: (ReLU, depthwise, pointwise, BN) x 2, as DARTS does.

    The first depthwise convolution carries the stride; both pointwise convolutions map to
    `out_channels` (DARTS's first maps to the input channels, which equal `out_channels`
    wherever the search spaces use it). Each half is a `DilConv` with dilation 1.

    Args, call arguments and output as `ConvOp`.

    Example:

    >>> import keras
    >>> from keras_nash.layers import SepConv
    >>> op = SepConv(8, 3, strides=2)  # the first half carries the stride
    >>> tuple(op(keras.ops.ones((1, 8, 8, 4))).shape)
    (1, 4, 4, 8)
    >>> # depthwise 3*3*4, pointwise 4*8, depthwise 3*3*8, pointwise 8*8, two BNs' 2*8
    >>> sum(int(keras.ops.size(w)) for w in op.trainable_weights)
    236
    """

    def make_layers(self):
        self.first = DilConv(
            self.out_channels,
            self.kernel_size,
            self.strides,
            dilation_rate=1,
            affine=self.affine,
        )
        self.second = DilConv(
            self.out_channels, self.kernel_size, 1, dilation_rate=1, affine=self.affine
        )

    def build(self, input_shape):
        self.first.build(input_shape)
        self.second.build(self.first.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        return self.second(self.first(inputs, training=training), training=training)


def _skip(channels: int, strides: int, affine: bool) -> keras.layers.Layer:
    if check_strides(strides) == 1:
        return Identity()
    return FactorizedReduce(channels, affine=affine)


OPS: dict[str, Callable[[int, int, bool], keras.layers.Layer]] = {
    "none": lambda channels, strides, affine: Zero(strides),
    "max_pool_3x3": lambda channels, strides, affine: PoolBN("max", 3, strides, affine),
    "avg_pool_3x3": lambda channels, strides, affine: PoolBN("avg", 3, strides, affine),
    "skip_connect": _skip,
    "sep_conv_3x3": lambda channels, strides, affine: SepConv(channels, 3, strides, affine),
    "sep_conv_5x5": lambda channels, strides, affine: SepConv(channels, 5, strides, affine),
    "dil_conv_3x3": lambda channels, strides, affine: DilConv(channels, 3, strides, 2, affine),
    "dil_conv_5x5": lambda channels, strides, affine: DilConv(channels, 5, strides, 2, affine),
    "conv_3x3": lambda channels, strides, affine: ReLUConvBN(channels, 3, strides, affine),
    "conv_5x5": lambda channels, strides, affine: ReLUConvBN(channels, 5, strides, affine),
}


def check_op_names(names, argument: str = "primitives") -> tuple:
    """Return `names` as a tuple, or raise ValueError naming the unknown ones.

    Args:
        names: an iterable of operation names.
        argument: str, the argument name to use in the error. Defaults to "primitives".

    Returns:
        The names as a tuple of str.

    Example:

    >>> from keras_nash.layers.ops import check_op_names
    >>> check_op_names(["skip_connect", "sep_conv_3x3"])
    ('skip_connect', 'sep_conv_3x3')
    """
    names = tuple(names)
    unknown = [name for name in names if name not in OPS]
    if unknown:
        raise ValueError(
            f"`{argument}` holds unknown operation names {unknown}; known: {sorted(OPS)}. "
            f"Received: {argument}={list(names)}"
        )
    return names
