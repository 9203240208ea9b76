"""`FusedBatchNorm`: Keras's batch norm in TensorFlow's fused kernel, the same numbers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nash.layers.base import FusedBatchNorm

X = np.random.default_rng(0).normal(1.5, 2.0, (6, 5, 5, 3)).astype("float32")


def _pair(affine):
    fused = FusedBatchNorm(momentum=0.9, epsilon=1e-5, center=affine, scale=affine)
    plain = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, center=affine, scale=affine)
    fused.build(X.shape)
    plain.build(X.shape)
    if affine:
        rng = np.random.default_rng(1)
        gamma, beta = rng.uniform(0.5, 1.5, 3), rng.normal(0, 1, 3)
        for layer in (fused, plain):
            layer.gamma.assign(gamma.astype("float32"))
            layer.beta.assign(beta.astype("float32"))
    return fused, plain


def _step(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * tf.range(1.0, 4.0))
    return y, tape.gradient(loss, [x] + layer.trainable_variables)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_fused_batch_norm_is_keras_batch_norm_but_for_the_unbiased_moving_variance(
    affine, jit_compile
):
    fused, plain = _pair(affine)
    x = tf.constant(X)
    y, grads = tf.function(lambda x: _step(fused, x), jit_compile=jit_compile)(x)
    y_ref, grads_ref = _step(plain, x)
    np.testing.assert_allclose(y, y_ref, atol=2e-5)
    assert len(grads) == len(grads_ref) == (3 if affine else 1)
    for grad, grad_ref in zip(grads, grads_ref):
        np.testing.assert_allclose(grad, grad_ref, atol=1e-4)
    np.testing.assert_allclose(fused.moving_mean, plain.moving_mean, atol=1e-6)
    np.testing.assert_allclose(plain.moving_variance, 0.9 + 0.1 * X.var(axis=(0, 1, 2)), rtol=1e-5)
    # PyTorch's running variance: the unbiased batch variance.
    unbiased = 0.9 + 0.1 * X.var(axis=(0, 1, 2), ddof=1)
    np.testing.assert_allclose(fused.moving_variance, unbiased, rtol=1e-5)
    expected = (X - fused.moving_mean.numpy()) / np.sqrt(fused.moving_variance.numpy() + 1.001e-5)
    if affine:
        expected = expected * fused.gamma.numpy() + fused.beta.numpy()
    np.testing.assert_allclose(fused(x, training=False), expected, atol=1e-5)
    frozen = fused.moving_mean.numpy().copy()
    fused(x, training=False)
    np.testing.assert_array_equal(fused.moving_mean, frozen)  # inference leaves the statistics


def test_fused_batch_norm_is_one_operation_each_way_and_keeps_the_policy():
    fused, plain = _pair(True)
    x = tf.constant(X)

    def count(layer):
        graph = tf.function(lambda x: _step(layer, x)).get_concrete_function(x).graph
        return len(graph.get_operations())

    assert count(fused) * 2 < count(plain)
    half = FusedBatchNorm(momentum=0.9, epsilon=1e-5, dtype="mixed_bfloat16")
    y = half(tf.cast(X, "bfloat16"), training=True)
    assert y.dtype == tf.bfloat16 and half.moving_mean.dtype == "float32"
    np.testing.assert_allclose(half.moving_mean, 0.1 * X.mean(axis=(0, 1, 2)), rtol=2e-2)
    # Anything but 4D channels-last images is Keras's own computation.
    flat = FusedBatchNorm()
    np.testing.assert_allclose(
        flat(X[:, 0, 0], training=False), X[:, 0, 0] / np.sqrt(1 + 1e-3), rtol=1e-6
    )
