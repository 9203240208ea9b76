"""A tiny EG-NAS search's configuration and data, shared by the EG-NAS tests."""

import numpy as np
import tensorflow as tf

from keras_nash.tuners import egnas

CONFIG = dict(
    num_classes=3,
    epochs=3,
    warmup_epochs=1,
    population_size=6,
    final_epochs=1,
    cells=3,
    channels=4,
    steps=2,
    multiplier=2,
    partial_channels=2,
    primitives=["max_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3"],
    final_cells=3,
    final_channels=4,
    batch_size=8,
    seed=1,
    update="es",  # the end-to-end test pins the project's evolution strategy's figures
)


def data():
    """16 training and 16 validation 8x8 images of 3 classes, batched by 8."""
    rng = np.random.default_rng(0)
    images = rng.random((32, 8, 8, 3)).astype("float32")
    labels = rng.integers(0, 3, 32).astype("int32")
    train = tf.data.Dataset.from_tensor_slices((images[:16], labels[:16])).batch(8)
    val = tf.data.Dataset.from_tensor_slices((images[16:], labels[16:])).batch(8)
    return train, val


def tuner(directory, overwrite, **overrides):
    return egnas.EgnasTuner(
        **{**CONFIG, **overrides}, directory=directory, project_name="egnas", overwrite=overwrite
    )
