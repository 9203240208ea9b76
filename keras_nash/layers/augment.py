"""Augmentation inside the network: `Cutout` (DeVries and Taylor 2017), as DARTS applies it.

DARTS's evaluation recipe (`train.py --cutout`, length 16) cuts one square hole per training
image after normalisation. As a layer at the network's input the hole follows the network
into any input pipeline, is drawn from the layer's seed (reproducible), and vanishes at
inference, so exported models need nothing special.
"""

import keras
from keras import ops

from keras_nash.checks import check_int


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
