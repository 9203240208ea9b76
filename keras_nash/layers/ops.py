"""Candidate operations of the DARTS and ENAS search spaces, as one registry.

`OPS[name](channels, strides, affine)` builds one candidate operation: a registered,
serialisable Keras layer mapping `(N, H, W, C)` to `(N, ceil(H / strides), ceil(W / strides), C)`
(channels in equal channels out). The table follows DARTS's `operations.py` (Liu et al. 2019):

- "none": `Zero` (with stride), the edge that is absent.
- "skip_connect": `Identity`, or `FactorizedReduce` at stride 2.
- "max_pool_3x3", "avg_pool_3x3": `PoolBN`, 3x3 pooling followed, when `affine=False` (in
  search), by a non-affine batch norm, as DARTS's MixedOp adds one.
- "sep_conv_3x3", "sep_conv_5x5": `SepConv`, (ReLU - depthwise - pointwise - BN) twice.
- "dil_conv_3x3", "dil_conv_5x5": `DilConv`, ReLU - depthwise (dilation 2) - pointwise - BN.
- "conv_3x3", "conv_5x5": `ReLUConvBN`, used by ENAS's macro space.

`PRIMITIVES` lists the 8 DARTS operations in DARTS's order; the columns of alpha follow it.

All convolutions use "same" padding and no bias (a batch norm follows each). Batch norms use
PyTorch's defaults (momentum 0.1, i.e. Keras momentum 0.9, epsilon 1e-5); `affine=False`
drops their scale and offset, as DARTS does during search.
"""

from typing import Callable

import keras
from keras import ops

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

BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def batch_norm(affine: bool, name: str | None = None) -> keras.layers.BatchNormalization:
    """A batch norm with PyTorch's defaults; `affine=False` has no scale and no offset."""
    return keras.layers.BatchNormalization(
        momentum=BN_MOMENTUM, epsilon=BN_EPSILON, center=affine, scale=affine, name=name
    )


def _check_strides(strides: int) -> int:
    if strides not in (1, 2):
        raise ValueError(f"`strides` must be 1 or 2. Received: strides={strides}")
    return int(strides)


def _reduced(size, strides):
    if size is None:
        return None
    return -(-size // strides)


@keras.saving.register_keras_serializable(package="keras_nash")
class Zero(keras.layers.Layer):
    """The "none" operation: zeros, subsampled by `strides`.

    Args:
        strides: int, 1 or 2. Defaults to 1.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: a 4D tensor `(batch, height, width, channels)`.

    Returns:
        Zeros of shape `(batch, ceil(height / strides), ceil(width / strides), channels)`.

    Example:

    >>> Zero(strides=2)(keras.ops.ones((1, 8, 8, 4))).shape
    (1, 4, 4, 4)
    """

    def __init__(self, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.strides = _check_strides(strides)

    def call(self, inputs):
        return ops.zeros_like(inputs[:, :: self.strides, :: self.strides, :])

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, _reduced(h, self.strides), _reduced(w, self.strides), c)

    def get_config(self):
        return {**super().get_config(), "strides": self.strides}


@keras.saving.register_keras_serializable(package="keras_nash")
class Identity(keras.layers.Layer):
    """The identity ("skip_connect" at stride 1).

    Example:

    >>> Identity()(keras.ops.ones((1, 8, 8, 4))).shape
    (1, 8, 8, 4)
    """

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="keras_nash")
class FactorizedReduce(keras.layers.Layer):
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

    >>> FactorizedReduce(8)(keras.ops.ones((1, 8, 8, 4))).shape
    (1, 4, 4, 8)
    """

    def __init__(self, out_channels: int, affine: bool = True, **kwargs):
        super().__init__(**kwargs)
        if out_channels < 2:
            raise ValueError(
                f"`out_channels` must be >= 2. Received: out_channels={out_channels}"
            )
        self.out_channels = int(out_channels)
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

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        return (n, _reduced(h, 2), _reduced(w, 2), self.out_channels)

    def get_config(self):
        return {
            **super().get_config(),
            "out_channels": self.out_channels,
            "affine": self.affine,
        }


@keras.saving.register_keras_serializable(package="keras_nash")
class ReLUConvBN(keras.layers.Layer):
    """ReLU, Conv2D ("same", no bias), batch norm.

    DARTS preprocesses cell inputs with it (1x1); ENAS's macro space uses it as "conv_3x3" and
    "conv_5x5".

    Args:
        out_channels: int, the number of output channels.
        kernel_size: int, the square kernel size. Defaults to 1.
        strides: int, 1 or 2. Defaults to 1.
        affine: bool, whether the batch norm has scale and offset. Defaults to True.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: a 4D tensor `(batch, height, width, channels)`.
        training: bool, whether batch norm uses batch statistics.

    Returns:
        A tensor `(batch, ceil(height / strides), ceil(width / strides), out_channels)`.

    Example:

    >>> ReLUConvBN(8, 3)(keras.ops.ones((1, 8, 8, 4))).shape
    (1, 8, 8, 8)
    """

    def __init__(
        self,
        out_channels: int,
        kernel_size: int = 1,
        strides: int = 1,
        affine: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.out_channels = int(out_channels)
        self.kernel_size = int(kernel_size)
        self.strides = _check_strides(strides)
        self.affine = bool(affine)
        self.conv = keras.layers.Conv2D(
            self.out_channels, self.kernel_size, strides=self.strides, padding="same",
            use_bias=False,
        )
        self.bn = batch_norm(self.affine)

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.bn.build(self.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        return self.bn(self.conv(ops.relu(inputs)), training=training)

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        return (n, _reduced(h, self.strides), _reduced(w, self.strides), self.out_channels)

    def get_config(self):
        return {
            **super().get_config(),
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "affine": self.affine,
        }


@keras.saving.register_keras_serializable(package="keras_nash")
class DilConv(keras.layers.Layer):
    """ReLU, depthwise conv (dilated), pointwise 1x1 conv, batch norm.

    Keras convolutions do not combine `strides > 1` with `dilation_rate > 1`; a strided dilated
    convolution is computed at stride 1 and subsampled (the same output pixels as DARTS's
    symmetric padding).

    Args:
        out_channels: int, the number of output channels.
        kernel_size: int, the square depthwise kernel size.
        strides: int, 1 or 2. Defaults to 1.
        dilation_rate: int, the depthwise dilation. Defaults to 2.
        affine: bool, whether the batch norm has scale and offset. Defaults to True.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: a 4D tensor `(batch, height, width, channels)`.
        training: bool, whether batch norm uses batch statistics.

    Returns:
        A tensor `(batch, ceil(height / strides), ceil(width / strides), out_channels)`.

    Example:

    >>> DilConv(4, 3, strides=2)(keras.ops.ones((1, 8, 8, 4))).shape
    (1, 4, 4, 4)
    """

    def __init__(
        self,
        out_channels: int,
        kernel_size: int,
        strides: int = 1,
        dilation_rate: int = 2,
        affine: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.out_channels = int(out_channels)
        self.kernel_size = int(kernel_size)
        self.strides = _check_strides(strides)
        self.dilation_rate = int(dilation_rate)
        self.affine = bool(affine)
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
        reduced = (n, _reduced(h, self.strides), _reduced(w, self.strides), c)
        self.pointwise.build(reduced)
        self.bn.build(self.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        x = self.depthwise(ops.relu(inputs))
        if self._subsample > 1:
            x = x[:, :: self._subsample, :: self._subsample, :]
        return self.bn(self.pointwise(x), training=training)

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        return (n, _reduced(h, self.strides), _reduced(w, self.strides), self.out_channels)

    def get_config(self):
        return {
            **super().get_config(),
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "dilation_rate": self.dilation_rate,
            "affine": self.affine,
        }


@keras.saving.register_keras_serializable(package="keras_nash")
class SepConv(keras.layers.Layer):
    """Separable convolution, twice: (ReLU, depthwise, pointwise, BN) x 2, as DARTS does.

    The first depthwise convolution carries the stride; both pointwise convolutions map to
    `out_channels` (DARTS's first maps to the input channels, which equal `out_channels`
    wherever the search spaces use it).

    Args:
        out_channels: int, the number of output channels.
        kernel_size: int, the square depthwise kernel size.
        strides: int, 1 or 2. Defaults to 1.
        affine: bool, whether the batch norms have scale and offset. Defaults to True.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: a 4D tensor `(batch, height, width, channels)`.
        training: bool, whether batch norm uses batch statistics.

    Returns:
        A tensor `(batch, ceil(height / strides), ceil(width / strides), out_channels)`.

    Example:

    >>> SepConv(4, 3)(keras.ops.ones((1, 8, 8, 4))).shape
    (1, 8, 8, 4)
    """

    def __init__(
        self,
        out_channels: int,
        kernel_size: int,
        strides: int = 1,
        affine: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.out_channels = int(out_channels)
        self.kernel_size = int(kernel_size)
        self.strides = _check_strides(strides)
        self.affine = bool(affine)
        self.first = DilConv(
            self.out_channels, self.kernel_size, self.strides, dilation_rate=1,
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

    def compute_output_shape(self, input_shape):
        return self.first.compute_output_shape(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "affine": self.affine,
        }


@keras.saving.register_keras_serializable(package="keras_nash")
class PoolBN(keras.layers.Layer):
    """3x3 max or average pooling ("same"), then a non-affine batch norm when `affine=False`.

    DARTS follows pooling with `BatchNorm2d(affine=False)` in its search cells (so pooling
    outputs are on the scale of the convolution outputs they are mixed with) and not in the
    evaluation network; `affine` selects the two cases, as it does for the other operations.
    Average pooling excludes the padding from the average (PyTorch's `count_include_pad=False`).

    Args:
        pool_type: str, "max" or "avg".
        pool_size: int, the square window. Defaults to 3.
        strides: int, 1 or 2. Defaults to 1.
        affine: bool, False adds the non-affine batch norm. Defaults to True.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: a 4D tensor `(batch, height, width, channels)`.
        training: bool, whether batch norm uses batch statistics.

    Returns:
        A tensor `(batch, ceil(height / strides), ceil(width / strides), channels)`.

    Example:

    >>> PoolBN("max", strides=2)(keras.ops.ones((1, 8, 8, 4))).shape
    (1, 4, 4, 4)
    """

    def __init__(
        self,
        pool_type: str,
        pool_size: int = 3,
        strides: int = 1,
        affine: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if pool_type not in ("max", "avg"):
            raise ValueError(
                f"`pool_type` must be 'max' or 'avg'. Received: pool_type={pool_type!r}"
            )
        self.pool_type = pool_type
        self.pool_size = int(pool_size)
        self.strides = _check_strides(strides)
        self.affine = bool(affine)
        pool_class = (
            keras.layers.MaxPooling2D if pool_type == "max" else keras.layers.AveragePooling2D
        )
        self.pool = pool_class(self.pool_size, strides=self.strides, padding="same")
        self.bn = None if self.affine else batch_norm(False)

    def build(self, input_shape):
        if self.bn is not None:
            self.bn.build(self.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        x = self.pool(inputs)
        if self.bn is not None:
            x = self.bn(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, _reduced(h, self.strides), _reduced(w, self.strides), c)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_type": self.pool_type,
            "pool_size": self.pool_size,
            "strides": self.strides,
            "affine": self.affine,
        }


def _skip(channels: int, strides: int, affine: bool) -> keras.layers.Layer:
    if _check_strides(strides) == 1:
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
