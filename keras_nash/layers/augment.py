"""Training-only noise inside the network: `Cutout` on images and `DropPath` on paths.

DARTS's evaluation recipe (`train.py --cutout`, length 16) cuts one square hole per training
image after normalisation. As a layer at the network's input the hole follows the network
into any input pipeline, is drawn from the layer's seed (reproducible), and vanishes at
inference, so exported models need nothing special.

Drop-path (FractalNet; DARTS's and ENAS's final networks) zeroes a whole operation's output
for some examples of a batch and scales the kept ones by `1 / keep`: `drop_path` is the
function (DARTS's `FixedCell` calls it with its network's scheduled rate), `DropPath` the layer
(ENAS's micro networks), whose rate `DropPathSchedule` raises over training.
"""

import keras
from keras import ops

from keras_nash.checks import check_fraction, check_int


@keras.saving.register_keras_serializable(package="keras_nash")
class Cutout(keras.layers.Layer):
    """Zero one `length x length` square per image, in training only (DARTS's `Cutout`).

    The square's centre is drawn uniformly over the image's pixels and the square is clipped at
    the image's borders (so a hole near a border is smaller), exactly as DARTS's
    `utils.Cutout(length)`: rows `[clip(cy - length // 2), clip(cy + length // 2))`, the same
    for columns. Applied to normalised images, zero is the dataset's mean colour.

    Args:
        length: int >= 1, the square's side in pixels (DARTS: 16).
        seed: int or None, seeds the holes' positions. Defaults to None.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: images `(batch, height, width, channels)`.
        training: bool; without it (or False) the images pass unchanged.

    Returns:
        The images, with one zeroed square each when training.

    Example:

    >>> import keras
    >>> from keras_nash.layers import Cutout
    >>> images = keras.ops.ones((2, 32, 32, 3))
    >>> holes = Cutout(16, seed=1)(images, training=True)
    >>> [int(keras.ops.sum(1 - holes[i, :, :, 0])) <= 256 for i in range(2)]
    [True, True]
    >>> bool(keras.ops.all(Cutout(16)(images) == images))
    True
    """

    def __init__(self, length: int, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.length = check_int("length", length, 1)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training:
            return inputs
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        half = self.length // 2

        def band(size):
            # The centre, uniform over [0, size); the band [centre - half, centre + half).
            centre = ops.floor(
                keras.random.uniform((batch, 1), 0.0, 1.0, seed=self.seed_generator)
                * ops.cast(size, "float32")
            )
            positions = ops.cast(ops.arange(size), "float32")[None, :]
            return (positions >= centre - half) & (positions < centre + half)

        rows, columns = band(height), band(width)
        hole = ops.logical_and(rows[:, :, None], columns[:, None, :])
        return inputs * ops.cast(ops.logical_not(hole), inputs.dtype)[:, :, :, None]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "length": self.length, "seed": self.seed}


def drop_path(x, rate, seed_generator):
    """Zero `x` for a `rate` fraction of the examples (drawn per example) and scale the rest
    by `1 / (1 - rate)`: DARTS's `drop_path`, in training only (the caller decides)."""
    keep = 1.0 - ops.cast(rate, x.dtype)
    noise = keras.random.uniform((ops.shape(x)[0], 1, 1, 1), seed=seed_generator, dtype=x.dtype)
    return x * ops.floor(keep + noise) / keep


@keras.saving.register_keras_serializable(package="keras_nash")
class DropPath(keras.layers.Layer):
    """Drop a path (the whole input) per example in training, at `rate * progress`.

    `progress` is a non-trainable scalar weight, 1 at first: the layer alone drops at `rate`.
    `DropPathSchedule` sets it to `epoch / epochs` at every epoch, the linear ramp of DARTS's
    and ENAS's final trainings, without retracing the training step.

    Args:
        rate: float in [0, 1), the drop probability at full progress.
        seed: int or None, seeds the drops. Defaults to None.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: a 4D tensor `(batch, height, width, channels)`.
        training: bool; without it (or False) the input passes unchanged.

    Returns:
        The input, zeroed for the dropped examples and scaled by `1 / keep` for the others.

    Example:

    >>> import keras
    >>> from keras_nash.layers import DropPath
    >>> x = keras.ops.ones((1000, 1, 1, 1))
    >>> kept = DropPath(0.25, seed=1)(x, training=True)
    >>> sorted({round(float(v), 4) for v in keras.ops.unique(kept)})  # 0 or 1 / 0.75
    [0.0, 1.3333]
    >>> bool(keras.ops.all(DropPath(0.25)(x) == x))
    True
    """

    def __init__(self, rate: float, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_fraction("rate", rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.progress = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="progress"
        )

    def call(self, inputs, training=None):
        if not training or not self.rate:
            return inputs
        return drop_path(
            inputs, self.rate * ops.cast(self.progress, inputs.dtype), self.seed_generator
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def _layers_within(layer):
    """`layer` and every layer nested in it, depth first."""
    yield layer
    for child in getattr(layer, "layers", None) or ():
        yield from _layers_within(child)


class DropPathSchedule(keras.callbacks.Callback):
    """Raise a network's drop-path rate linearly over training: `epoch / epochs` of the full rate.

    At the start of each epoch it sets the `progress` of every `DropPath` layer in the model
    (nested models included) and, for a network with a `drop_path_rate` variable and a
    `drop_path_prob` (`DartsEvalNetwork`), that variable to `drop_path_prob * epoch / epochs`,
    as DARTS raises `drop_path_prob` per epoch. (ENAS's authors ramp per step; per epoch here.)

    Args:
        epochs: int >= 1, the epochs of the training.

    Example:

    >>> from keras_nash.spaces import DropPathSchedule
    >>> DropPathSchedule(epochs=600).epochs
    600
    """

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = check_int("epochs", epochs, 1)

    def on_epoch_begin(self, epoch, logs=None):
        progress = epoch / self.epochs
        if hasattr(self.model, "drop_path_rate"):
            self.model.drop_path_rate.assign(getattr(self.model, "drop_path_prob", 0.0) * progress)
        for layer in _layers_within(self.model):
            if isinstance(layer, DropPath):
                layer.progress.assign(progress)
