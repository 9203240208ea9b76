"""Tests for keras_nash.layers.mixed: MixedOp and the channel shuffle."""

import numpy as np
import pytest

from keras_nash.layers.mixed import MixedOp, channel_shuffle
from keras_nash.layers.ops import PRIMITIVES


@pytest.mark.parametrize("strides", [1, 2])
def test_one_hot_mixture_equals_the_chosen_op(strides):
    x = np.random.rand(2, 8, 8, 8).astype("float32")
    mixed = MixedOp(8, strides)
    for index, name in enumerate(PRIMITIVES):
        weights = np.eye(len(PRIMITIVES), dtype="float32")[index]
        for training in (False, True):
            out = np.asarray(mixed(x, weights, training=training))
            alone = np.asarray(mixed.candidates[index](x, training=training))
            assert np.abs(out - alone).max() <= 1e-5, (name, strides, training)


def test_mixture_is_the_weighted_sum():
    x = np.random.rand(2, 8, 8, 4).astype("float32")
    mixed = MixedOp(4, 1, primitives=["skip_connect", "avg_pool_3x3", "sep_conv_3x3"])
    weights = np.array([0.2, 0.3, 0.5], "float32")
    out = np.asarray(mixed(x, weights, training=False))
    expected = sum(
        w * np.asarray(op(x, training=False)) for w, op in zip(weights, mixed.candidates)
    )
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_channel_shuffle_interleaves_groups():
    x = np.arange(8, dtype="float32").reshape(1, 1, 1, 8)
    np.testing.assert_array_equal(
        np.asarray(channel_shuffle(x, 4))[0, 0, 0], [0, 2, 4, 6, 1, 3, 5, 7]
    )


def test_partial_channels_shapes_and_bypass_stride_1():
    x = np.random.rand(2, 8, 8, 8).astype("float32")
    mixed = MixedOp(8, 1, primitives=["none", "sep_conv_3x3"], partial_channels=4)
    # Only "none" on: the 2 operated channels are zero, the 6 bypassed ones pass unchanged,
    # then the shuffle with 4 groups puts channel g*2+i at i*4+g.
    out = np.asarray(mixed(x, np.array([1.0, 0.0], "float32")))
    assert out.shape == (2, 8, 8, 8)
    expected = np.asarray(
        channel_shuffle(np.concatenate([np.zeros_like(x[..., :2]), x[..., 2:]], -1), 4)
    )
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert np.all(out[..., 0] == 0) and np.all(out[..., 4] == 0)
    np.testing.assert_array_equal(out[..., 1], x[..., 2])


def test_partial_channels_stride_2_bypass_is_max_pooled():
    x = np.random.rand(2, 8, 8, 8).astype("float32")
    mixed = MixedOp(8, 2, primitives=["none", "max_pool_3x3"], partial_channels=4)
    out = np.asarray(mixed(x, np.array([1.0, 0.0], "float32")))
    assert out.shape == (2, 4, 4, 8)
    pooled = x.reshape(2, 4, 2, 4, 2, 8).max(axis=(2, 4))
    np.testing.assert_allclose(out[..., 1], pooled[..., 2], atol=1e-6)
    # The operations see C/k channels.
    assert mixed.candidates[1].compute_output_shape((2, 8, 8, 2)) == (2, 4, 4, 2)


def test_bad_arguments():
    with pytest.raises(ValueError, match="primitives"):
        MixedOp(8, 1, primitives=["sep_conv_3x3"])
    with pytest.raises(ValueError, match="conv_9x9"):
        MixedOp(8, 1, primitives=["sep_conv_3x3", "conv_9x9"])
    with pytest.raises(ValueError, match="channels=6, partial_channels=4"):
        MixedOp(6, 1, partial_channels=4)
    with pytest.raises(ValueError, match="weights"):
        MixedOp(4, 1, primitives=["none", "skip_connect"])(
            np.zeros((1, 4, 4, 4), "float32"), np.ones(3, "float32")
        )
