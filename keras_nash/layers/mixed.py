"""MixedOp: the softmax(alpha)-weighted sum of the candidate operations on one edge (DARTS).

DARTS relaxes the choice of one operation per edge into a mixture: `sum_o w_o * o(x)` with
`w = softmax(alpha_edge)`. The mixture weights are a call argument, not a weight of the layer:
the architecture parameters live in the network, apart from the operation weights, so the
weight optimiser never sees them, and an evolution strategy can feed candidate mixtures as
tensors without retracing.

Partial channels (PC-DARTS, Xu et al. 2020): with `partial_channels=k` only the first `C / k`
channels go through the operations; the other channels bypass them (max-pooled 2x2 at stride
2, as PC-DARTS does) and a channel shuffle with `k` groups mixes the two parts, so a different
slice of channels is sampled on the next edge.
"""

import keras
import tensorflow as tf
from keras import ops

from keras_nash.checks import check_int
from keras_nash.layers.base import check_strides, reduced_size
from keras_nash.layers.ops import OPS, PRIMITIVES, check_op_names


def channel_shuffle(x, groups: int):
    """Interleave `groups` equal channel groups (ShuffleNet's shuffle, channels last).

    Args:
        x: a 4D tensor `(batch, height, width, channels)`, channels divisible by `groups`.
        groups: int, the number of groups.

    Returns:
        The tensor with channel `g * (C / groups) + i` moved to `i * groups + g`.

    Example:

    >>> import keras
    >>> from keras_nash.layers.mixed import channel_shuffle
    >>> x = keras.ops.reshape(keras.ops.arange(4.0), (1, 1, 1, 4))
    >>> keras.ops.convert_to_numpy(channel_shuffle(x, 2))[0, 0, 0].tolist()
    [0.0, 2.0, 1.0, 3.0]
    """
    shape = ops.shape(x)
    channels = x.shape[-1]
    x = ops.reshape(x, (shape[0], shape[1], shape[2], groups, channels // groups))
    x = ops.transpose(x, (0, 1, 2, 4, 3))
    return ops.reshape(x, (shape[0], shape[1], shape[2], channels))


@keras.saving.register_keras_serializable(package="keras_nash")
class MixedOp(keras.layers.Layer):
    """The weighted sum of candidate operations on one DARTS edge.

    The operations are built with `affine=False` (DARTS's search setting). The "none" operation
    contributes zeros, so it is not computed (its weight still takes part in the softmax).

    Args:
        channels: int, the channels in and out.
        strides: int, 1 or 2.
        primitives: sequence of str, the operation names (keys of `OPS`), at least 2.
            Defaults to `PRIMITIVES` (the 8 DARTS operations).
        partial_channels: int, PC-DARTS's `k`: `channels / k` channels go through the
            operations. Defaults to 1 (all channels).
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: a 4D tensor `(batch, height, width, channels)`.
        weights: a tensor `(len(primitives),)`, the mixture (already softmaxed).
        training: bool, whether batch norms use batch statistics.

    Returns:
        A tensor `(batch, ceil(height / strides), ceil(width / strides), channels)`.

    Example:

    >>> import keras
    >>> from keras_nash.layers import MixedOp
    >>> op = MixedOp(8, 1, primitives=["skip_connect", "sep_conv_3x3"])
    >>> tuple(op(keras.ops.ones((2, 8, 8, 8)), keras.ops.array([0.5, 0.5])).shape)
    (2, 8, 8, 8)
    """

    def __init__(
        self,
        channels: int,
        strides: int = 1,
        primitives=PRIMITIVES,
        partial_channels: int = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        primitives = check_op_names(primitives)
        if len(primitives) < 2:
            raise ValueError(
                "`primitives` must hold at least 2 operations. "
                f"Received: primitives={list(primitives)}"
            )
        self.channels = check_int("channels", channels, minimum=1)
        self.strides = check_strides(strides)
        self.primitives = primitives
        self.partial_channels = check_int("partial_channels", partial_channels, minimum=1)
        if self.channels % self.partial_channels:
            raise ValueError(
                "`partial_channels` must divide `channels`. "
                f"Received: channels={channels}, partial_channels={partial_channels}"
            )
        op_channels = self.channels // self.partial_channels
        self.candidates = [OPS[name](op_channels, self.strides, False) for name in primitives]
        self.bypass_pool = None
        if self.partial_channels > 1 and self.strides > 1:
            self.bypass_pool = keras.layers.MaxPooling2D(2, strides=2, padding="same")

    def build(self, inputs_shape, weights_shape=None):
        n, h, w, _ = inputs_shape
        op_shape = (n, h, w, self.channels // self.partial_channels)
        for op in self.candidates:
            if not op.built:
                op.build(op_shape)
        if self.bypass_pool is not None:
            self.bypass_pool.build((n, h, w, self.channels - op_shape[-1]))

    def call(self, inputs, weights, training=None):
        if weights.shape[-1] is not None and weights.shape[-1] != len(self.primitives):
            raise ValueError(
                f"`weights` must have shape ({len(self.primitives)},). "
                f"Received: weights.shape={tuple(weights.shape)}"
            )
        k = self.partial_channels
        x = inputs
        if k > 1:
            op_channels = self.channels // k
            x, bypass = inputs[..., :op_channels], inputs[..., op_channels:]
        # One unstack and one n-ary sum, not a slice and an add per operation: a smaller traced
        # step (bench/startup.py), and no stacked copy of the outputs.
        mixture = ops.unstack(weights, len(self.primitives))
        terms = [
            mixture[index] * op(x, training=training)
            for index, (name, op) in enumerate(zip(self.primitives, self.candidates))
            if name != "none"
        ]
        out = tf.add_n(terms) if terms else self.candidates[0](x)
        if k > 1:
            if self.bypass_pool is not None:
                bypass = self.bypass_pool(bypass)
            out = channel_shuffle(ops.concatenate([out, bypass], axis=-1), k)
        return out

    def compute_output_shape(self, inputs_shape, weights_shape=None):
        n, h, w, c = inputs_shape
        return (n, reduced_size(h, self.strides), reduced_size(w, self.strides), c)

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "strides": self.strides,
            "primitives": list(self.primitives),
            "partial_channels": self.partial_channels,
        }
