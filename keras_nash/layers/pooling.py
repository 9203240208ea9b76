"""The candidate operations without convolution weights: "none" (`Zero`) and pooling (`PoolBN`).

Both keep the channels and reduce the spatial size by `strides` ("same" padding). They are
entries of `keras_nash.layers.ops.OPS` and importable from there.
"""

import keras
from keras import ops

from keras_nash.checks import check_choice, check_int
from keras_nash.layers.base import StridedOp, batch_norm, check_strides


@keras.saving.register_keras_serializable(package="keras_nash")
class Zero(StridedOp):
    """The "none" operation: zeros, subsampled by `strides`.

    DARTS keeps "none" among the candidates so that an edge can learn to vanish; its output is
    zeros of the shape the other operations on the edge produce.

    Args:
        strides: int, 1 or 2. Defaults to 1.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: a 4D tensor `(batch, height, width, channels)`.

    Returns:
        Zeros of shape `(batch, ceil(height / strides), ceil(width / strides), channels)`.

    Example:

    >>> import keras
    >>> from keras_nash.layers import Zero
    >>> tuple(Zero(strides=2)(keras.ops.ones((1, 8, 8, 4))).shape)
    (1, 4, 4, 4)
    """

    config_keys = ("strides",)

    def __init__(self, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.strides = check_strides(strides)

    def call(self, inputs):
        return ops.zeros_like(inputs[:, :: self.strides, :: self.strides, :])


@keras.saving.register_keras_serializable(package="keras_nash")
class PoolBN(StridedOp):
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

    >>> import keras
    >>> from keras_nash.layers import PoolBN
    >>> tuple(PoolBN("max", strides=2)(keras.ops.ones((1, 8, 8, 4))).shape)
    (1, 4, 4, 4)
    """

    config_keys = ("pool_type", "pool_size", "strides", "affine")

    def __init__(
        self,
        pool_type: str,
        pool_size: int = 3,
        strides: int = 1,
        affine: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.pool_type = check_choice("pool_type", pool_type, ("max", "avg"))
        self.pool_size = check_int("pool_size", pool_size, minimum=1)
        self.strides = check_strides(strides)
        self.affine = bool(affine)
        pool_class = (
            keras.layers.MaxPooling2D if pool_type == "max" else keras.layers.AveragePooling2D
        )
        self.pool = pool_class(self.pool_size, strides=self.strides, padding="same")
        self.bn = None if self.affine else batch_norm(False)

    def build(self, input_shape):
        self.pool.build(input_shape)
        if self.bn is not None:
            self.bn.build(self.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        x = self.pool(inputs)
        if self.bn is not None:
            x = self.bn(x, training=training)
        return x
