"""What the candidate operations share: the batch norm, the stride check, two base classes.

- `batch_norm(affine)`: a batch norm with PyTorch's defaults (momentum 0.1, i.e. Keras momentum
  0.9, epsilon 1e-5), as DARTS trains with; `affine=False` drops scale and offset. It is a
  `FusedBatchNorm`: Keras's batch norm computed by TensorFlow's fused kernel.
- `check_strides`, `reduced_size`: strides are 1 or 2; "same" padding gives `ceil(size / s)`.
- `ConfigLayer`: a layer whose `get_config()` is its constructor arguments, kept as attributes
  of the same names and listed once in `config_keys`.
- `StridedOp`: a `ConfigLayer` mapping `(N, H, W, C)` to `(N, ceil(H / s), ceil(W / s), C')`,
  the output shape of every candidate operation.
"""

import keras
import tensorflow as tf

from keras_nash.checks import check_choice

BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5
_FUSED_DTYPES = ("float16", "bfloat16", "float32")


@keras.saving.register_keras_serializable(package="keras_nash")
class FusedBatchNorm(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` computed by TensorFlow's fused kernel on images.

    Keras 3 builds a batch norm from about 30 small operations forward and as many backward;
    TensorFlow's `FusedBatchNormV3` is one each way, and it updates the moving statistics
    in the same operation. On a DARTS supernet (hundreds of batch norms) that halves the traced
    search step's graph: half the tracing and graph optimisation before the first step, and
    faster steps (`bench/startup.py`). Same arguments, variables and checkpoints as
    Keras's layer; inputs other than 4D channels-last float16 / bfloat16 / float32 without a
    mask (and `renorm` / `synchronized`) fall back to Keras's computation.

    Two differences, both PyTorch's behaviour (which DARTS, EG-NAS and ENAS's PyTorch ports
    train with): the moving variance is updated with the unbiased batch variance (`n / (n -
    1)` times Keras's, `n` the batch's pixels), and epsilon is at least 1.001e-5 (cuDNN's
    bound, as in `tf.nn.fused_batch_norm`).

    Example:

    >>> import numpy as np
    >>> from keras_nash.layers.base import FusedBatchNorm
    >>> bn = FusedBatchNorm(momentum=0.9, epsilon=1e-5)
    >>> x = np.random.default_rng(0).normal(2.0, 3.0, (4, 5, 5, 2)).astype("float32")
    >>> y = bn(x, training=True)
    >>> bool(np.abs(np.asarray(y).mean(axis=(0, 1, 2))).max() < 1e-5)
    True
    >>> bool(np.allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * x.var(axis=(0, 1, 2), ddof=1)))
    True
    """

    def _fused(self, inputs, mask) -> bool:
        return (
            mask is None
            and not self.renorm
            and not self.synchronized
            and len(inputs.shape) == 4
            and self.axis in (3, -1)
            and inputs.dtype.name in _FUSED_DTYPES
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fused(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        scale = tf.cast(self.gamma, "float32") if self.scale else tf.ones([channels])
        offset = tf.cast(self.beta, "float32") if self.center else tf.zeros([channels])
        learning = bool(training) and self.trainable
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs,
            scale,
            offset,
            mean=tf.cast(self.moving_mean, "float32"),
            variance=tf.cast(self.moving_variance, "float32"),
            epsilon=self.epsilon,
            is_training=learning,
            exponential_avg_factor=1.0 - self.momentum if learning else 1.0,
        )
        if learning:
            self.moving_mean.assign(mean)
            self.moving_variance.assign(variance)
        return tf.cast(outputs, self.compute_dtype)


def batch_norm(affine: bool, name: str | None = None) -> FusedBatchNorm:
    """A batch norm with PyTorch's defaults; `affine=False` has no scale and no offset.

    Args:
        affine: bool, whether the batch norm has a learned scale and offset.
        name: str or None, the layer name. Defaults to None (a generated name).

    Returns:
        A `FusedBatchNorm` (a `keras.layers.BatchNormalization`) with momentum 0.9 and
        epsilon 1e-5.

    Example:

    >>> from keras_nash.layers.base import batch_norm
    >>> bn = batch_norm(affine=False)
    >>> bn.center, bn.scale, bn.momentum
    (False, False, 0.9)
    """
    return FusedBatchNorm(
        momentum=BN_MOMENTUM, epsilon=BN_EPSILON, center=affine, scale=affine, name=name
    )


def check_strides(strides) -> int:
    """`strides` as an int if it is 1 or 2, or a ValueError naming it."""
    return int(check_choice("strides", strides, (1, 2)))


def reduced_size(size: int | None, strides: int) -> int | None:
    """The spatial size after a "same"-padded stride: `ceil(size / strides)`; None stays None.

    Example:

    >>> from keras_nash.layers.base import reduced_size
    >>> reduced_size(9, 2), reduced_size(None, 2)
    (5, None)
    """
    if size is None:
        return None
    return -(-size // strides)


class ConfigLayer(keras.layers.Layer):
    """A layer whose config is the constructor arguments named in `config_keys`.

    Subclasses store each constructor argument listed in `config_keys` as an attribute of the
    same name (validated and converted to a JSON-friendly type); `get_config()` returns them
    with the base `Layer` config, so `cls.from_config(layer.get_config())` rebuilds the layer.
    """

    config_keys: tuple = ()

    def get_config(self):
        return {**super().get_config(), **{key: getattr(self, key) for key in self.config_keys}}


class StridedOp(ConfigLayer):
    """A candidate operation: `(N, H, W, C)` to `(N, ceil(H / s), ceil(W / s), C')`.

    `s` is the attribute `strides` (1 unless a subclass sets it) and `C'` the attribute
    `out_channels`, or `C` where it is None (operations that keep the channels).
    """

    strides = 1
    out_channels = None

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        channels = c if self.out_channels is None else self.out_channels
        return (n, reduced_size(h, self.strides), reduced_size(w, self.strides), channels)
