"""Tests for keras_nash.layers.ops: the candidate operation registry."""

import keras
import numpy as np
import pytest

from keras_nash.layers import ops as nash_ops
from keras_nash.layers.ops import OPS, PRIMITIVES


def test_primitives_are_darts_order():
    assert PRIMITIVES == (
        "none",
        "max_pool_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "sep_conv_3x3",
        "sep_conv_5x5",
        "dil_conv_3x3",
        "dil_conv_5x5",
    )
    assert set(PRIMITIVES) | {"conv_3x3", "conv_5x5"} == set(OPS)


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("strides", [1, 2])
@pytest.mark.parametrize("affine", [True, False])
def test_op_shapes_and_config(name, strides, affine):
    x = np.random.rand(2, 9, 9, 6).astype("float32")
    layer = OPS[name](6, strides, affine)
    y = layer(x, training=True)
    expected = (2, 5, 5, 6) if strides == 2 else (2, 9, 9, 6)
    assert tuple(y.shape) == expected
    assert tuple(layer.compute_output_shape(x.shape)) == expected
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_zero_is_zero_and_identity_is_identity():
    x = np.random.rand(2, 8, 8, 4).astype("float32")
    assert np.all(np.asarray(OPS["none"](4, 1, False)(x)) == 0)
    np.testing.assert_array_equal(np.asarray(OPS["skip_connect"](4, 1, False)(x)), x)
    assert isinstance(OPS["skip_connect"](4, 2, False), nash_ops.FactorizedReduce)


def test_identity_is_keras_identity():
    assert nash_ops.Identity is keras.layers.Identity
    assert type(OPS["skip_connect"](4, 1, True)) is keras.layers.Identity


def test_pool_bn_only_in_search():
    assert OPS["max_pool_3x3"](4, 1, False).bn is not None
    assert OPS["max_pool_3x3"](4, 1, True).bn is None


def test_parameter_counts_match_darts():
    c = 8
    x = np.zeros((1, 8, 8, c), "float32")
    sep = OPS["sep_conv_3x3"](c, 1, True)
    sep(x)
    assert sep.count_params() == 2 * (9 * c + c * c + 4 * c)  # BN: gamma, beta, mean, var
    dil = OPS["dil_conv_5x5"](c, 1, True)
    dil(x)
    assert dil.count_params() == 25 * c + c * c + 4 * c


def test_bad_arguments():
    with pytest.raises(ValueError, match="strides=3"):
        OPS["sep_conv_3x3"](4, 3, True)
    with pytest.raises(ValueError, match="pool_type='min'"):
        nash_ops.PoolBN("min")
    with pytest.raises(ValueError, match="primitives"):
        nash_ops.check_op_names(["sep_conv_3x3", "conv_7x7"])
    with pytest.raises(ValueError, match="out_channels=1"):
        nash_ops.FactorizedReduce(1)
    with pytest.raises(ValueError, match="kernel_size=0"):
        nash_ops.ReLUConvBN(4, 0)


def test_keras_save_load_safe_mode(tmp_path):
    inputs = keras.Input((8, 8, 4))
    h = inputs
    for name in sorted(OPS):
        h = OPS[name](4, 1, False)(h)
    for name in ("sep_conv_3x3", "dil_conv_5x5", "skip_connect", "avg_pool_3x3"):
        h = OPS[name](4, 2, True)(h)
    model = keras.Model(inputs, h)
    path = str(tmp_path / "ops.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.rand(2, 8, 8, 4).astype("float32")
    np.testing.assert_allclose(model(x), loaded(x), atol=1e-6)
