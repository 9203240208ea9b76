"""What the candidate operations share: the batch norm, the stride check, two base classes.

- `batch_norm(affine)`: a batch norm with PyTorch's defaults (momentum 0.1, i.e. Keras momentum
  0.9, epsilon 1e-5), as DARTS trains with; `affine=False` drops scale and offset.
- `check_strides`, `reduced_size`: strides are 1 or 2; "same" padding gives `ceil(size / s)`.
- `ConfigLayer`: a layer whose `get_config()` is its constructor arguments, kept as attributes
  of the same names and listed once in `config_keys`.
- `StridedOp`: a `ConfigLayer` mapping `(N, H, W, C)` to `(N, ceil(H / s), ceil(W / s), C')`,
  the output shape of every candidate operation.
"""

import keras

from keras_nash.checks import check_choice

BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def batch_norm(affine: bool, name: str | None = None) -> keras.layers.BatchNormalization:
    """A batch norm with PyTorch's defaults; `affine=False` has no scale and no offset.

    Args:
        affine: bool, whether the batch norm has a learned scale and offset.
        name: str or None, the layer name. Defaults to None (a generated name).

    Returns:
        A `keras.layers.BatchNormalization` with momentum 0.9 and epsilon 1e-5.

    Example:

    >>> from keras_nash.layers.base import batch_norm
    >>> bn = batch_norm(affine=False)
    >>> bn.center, bn.scale, bn.momentum
    (False, False, 0.9)
    """
    return keras.layers.BatchNormalization(
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
