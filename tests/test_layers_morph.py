"""Tests for keras_nash.layers.morph: identity-initialised blocks and the lambda-weighted sum."""

import keras
import numpy as np
import pytest

from keras_nash.layers import ConvBNReLU, DiracInitializer, LambdaSum
from tests.helpers import real_images


def test_identity_conv_bn_relu_is_identity_after_a_relu():
    x = np.maximum(real_images(4, 16)[0] - 0.5, 0.0)
    for k in (1, 3, 5):
        block = ConvBNReLU(3, k, identity_init=True)
        np.testing.assert_allclose(block(x, training=False), x, atol=1e-6)


def test_conv_bn_relu_round_trips_through_keras_file(tmp_path):
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(
        inputs, LambdaSum(0.7)([ConvBNReLU(4, 3, identity_init=True)(inputs), inputs])
    )
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.rand(2, 8, 8, 4).astype("float32")
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


def test_lambda_sum_starts_as_its_first_input_and_learns():
    f, h = np.ones((2, 3), "float32"), np.full((2, 3), 5.0, "float32")
    layer = LambdaSum()
    np.testing.assert_allclose(layer([f, h]), f)
    assert len(layer.trainable_weights) == 1


def test_dirac_initializer_shapes_and_errors():
    kernel = np.asarray(DiracInitializer()((3, 3, 2, 4)))
    assert kernel.sum() == 2 and kernel[1, 1, 1, 1] == 1
    with pytest.raises(ValueError, match="odd kh and kw"):
        DiracInitializer()((2, 2, 3, 3))
    with pytest.raises(ValueError, match="as many input channels as filters"):
        ConvBNReLU(5, 3, identity_init=True)(np.zeros((1, 4, 4, 3), "float32"))
    with pytest.raises(
        ValueError, match="`kernel_size` must be a positive odd int. Received: kernel_size=2"
    ):
        ConvBNReLU(5, 2)
