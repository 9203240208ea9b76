"""Layers that network morphisms insert: identity-initialised blocks and a lambda-weighted sum.

A network morphism changes a network's architecture while keeping the function it computes
(Elsken et al. 2017). The pieces here make that possible for the NASH operators:

- `DiracInitializer`: a convolution kernel that copies its input (a centred identity kernel),
  so an inserted convolution starts as the identity (morphism type I).
- `ConvBNReLU`: Conv-BN-ReLU as one layer; with `identity_init=True` it is the identity on
  non-negative inputs (after a ReLU) in inference mode: Dirac kernel, batch norm that passes its
  input through (type I), and a ReLU that is idempotent after a ReLU (type III).
- `LambdaSum`: `lam * x + (1 - lam) * h` with a trainable `lam` starting at 1, the paper's type IV
  morphism for skip connections whose shapes already agree.

All are registered for `.keras` serialisation, so a morphed model loads with plain
`keras.saving.load_model`.
"""

import keras
import numpy as np
from keras import ops

from keras_nash.checks import check_float, check_int
from keras_nash.layers.base import ConfigLayer


@keras.saving.register_keras_serializable(package="keras_nash")
class DiracInitializer(keras.initializers.Initializer):
    """Initialise a 2D convolution kernel to the identity (a centred Dirac delta).

    For a kernel of shape `(kh, kw, c_in, c_out)`, entry `[kh // 2, kw // 2, c, c]` is 1 for
    `c < min(c_in, c_out)` and every other entry is 0: with `c_in == c_out` a stride-1 "same"
    convolution returns its input (extra output channels are zero, extra inputs are ignored).

    Example:

    >>> import keras, numpy as np
    >>> from keras_nash.layers import DiracInitializer
    >>> conv = keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=DiracInitializer())
    >>> x = np.random.rand(1, 8, 8, 4).astype("float32")
    >>> bool(np.allclose(conv(x), x, atol=1e-6))
    True
    """

    def __call__(self, shape, dtype=None):
        if len(shape) != 4 or shape[0] % 2 == 0 or shape[1] % 2 == 0:
            raise ValueError(
                "DiracInitializer needs a 2D convolution kernel (kh, kw, c_in, c_out) with odd kh "
                f"and kw. Received: shape={tuple(shape)}"
            )
        return ops.convert_to_tensor(dirac_kernel(*shape), dtype=dtype)

    def get_config(self):
        return {}


def dirac_kernel(kh: int, kw: int, channels_in: int, channels_out: int | None = None) -> np.ndarray:
    """The identity kernel of shape `(kh, kw, channels_in, channels_out)` (float32 numpy).

    Example:

    >>> from keras_nash.layers.morph import dirac_kernel
    >>> kernel = dirac_kernel(3, 3, 2, 4)
    >>> kernel.shape, float(kernel.sum()), float(kernel[1, 1, 1, 1])
    ((3, 3, 2, 4), 2.0, 1.0)
    """
    channels_out = channels_in if channels_out is None else channels_out
    kernel = np.zeros((kh, kw, channels_in, channels_out), dtype="float32")
    diagonal = np.arange(min(channels_in, channels_out))
    kernel[kh // 2, kw // 2, diagonal, diagonal] = 1.0
    return kernel


@keras.saving.register_keras_serializable(package="keras_nash")
class ConvBNReLU(ConfigLayer):
    """Conv2D ("same", no bias) followed by batch normalisation and a ReLU.

    With `identity_init=True` the block computes the identity on non-negative inputs in
    inference mode: the kernel is a Dirac delta (input channels must equal `filters`), the
    batch norm's gamma is `sqrt(1 + epsilon)` with moving mean 0 and variance 1, and the ReLU
    leaves non-negative values alone. NASH's "deeper" morphism inserts exactly this block after
    a ReLU.

    Args:
        filters: int, the number of output channels.
        kernel_size: int, odd, the square kernel size. Defaults to 3.
        identity_init: bool, start as the identity. Defaults to False.
        epsilon: float, the batch norm epsilon. Defaults to 1e-3 (Keras's default).
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a 4D tensor `(batch, height, width, channels)`.
        training: bool, whether batch norm uses batch statistics.

    Example:

    >>> import keras
    >>> from keras_nash.layers import ConvBNReLU
    >>> x = keras.random.uniform((2, 8, 8, 4))
    >>> block = ConvBNReLU(4, 5, identity_init=True)
    >>> bool(keras.ops.max(keras.ops.abs(block(x) - x)) < 1e-5)
    True
    """

    config_keys = ("filters", "kernel_size", "identity_init", "epsilon")

    def __init__(self, filters, kernel_size=3, identity_init=False, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.filters = check_int("filters", filters, minimum=1)
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        if self.kernel_size % 2 == 0:
            raise ValueError(
                f"`kernel_size` must be a positive odd int. Received: kernel_size={kernel_size}"
            )
        self.identity_init = bool(identity_init)
        self.epsilon = check_float("epsilon", epsilon, minimum=0, exclusive=True)
        self.conv = keras.layers.Conv2D(
            self.filters,
            self.kernel_size,
            padding="same",
            use_bias=False,
            kernel_initializer=DiracInitializer() if identity_init else "he_normal",
            name="conv",
        )
        self.bn = keras.layers.BatchNormalization(
            epsilon=self.epsilon,
            gamma_initializer=(
                keras.initializers.Constant(float(np.sqrt(1.0 + self.epsilon)))
                if identity_init
                else "ones"
            ),
            name="bn",
        )

    def build(self, input_shape):
        if self.identity_init and input_shape[-1] != self.filters:
            raise ValueError(
                "An identity-initialised ConvBNReLU needs as many input channels as filters. "
                f"Received: input channels={input_shape[-1]}, filters={self.filters}"
            )
        self.conv.build(input_shape)
        self.bn.build(self.conv.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        return ops.relu(self.bn(self.conv(inputs), training=training))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)


@keras.saving.register_keras_serializable(package="keras_nash")
class LambdaSum(ConfigLayer):
    """`lam * inputs[0] + (1 - lam) * inputs[1]` with a trainable scalar `lam`.

    NASH's type IV morphism: replace `f` by `lam * f + (1 - lam) * h` with `lam = 1`, so a new
    skip connection `h` contributes nothing at first and is learned from there.

    Args:
        initial_lambda: float, the starting value of `lam`. Defaults to 1.0.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: a list of two tensors of the same shape: `[f, h]`.

    Example:

    >>> import keras
    >>> from keras_nash.layers import LambdaSum
    >>> f, h = keras.ops.ones((1, 4)), keras.ops.zeros((1, 4))
    >>> keras.ops.convert_to_numpy(LambdaSum()([f, h])).tolist()
    [[1.0, 1.0, 1.0, 1.0]]
    """

    config_keys = ("initial_lambda",)

    def __init__(self, initial_lambda=1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_lambda = check_float("initial_lambda", initial_lambda)

    def build(self, input_shape):
        if len(input_shape) != 2 or tuple(input_shape[0]) != tuple(input_shape[1]):
            raise ValueError(
                f"LambdaSum takes two inputs of the same shape. Received: input_shape={input_shape}"
            )
        self.lam = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(self.initial_lambda), name="lambda"
        )

    def call(self, inputs):
        f, h = inputs
        return self.lam * f + (1.0 - self.lam) * h

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])
