"""keras_nash.optimizers: `weight_decay` is coupled L2 (PyTorch's SGD), one order everywhere."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nash.optimizers import CoupledAdam, CoupledSGD


def _step(optimizer, weight, gradient, steps=1):
    w = keras.Variable(np.asarray(weight, "float32"))
    g = keras.ops.convert_to_tensor(np.asarray(gradient, "float32"))
    for _ in range(steps):
        optimizer.apply([g], [w])
    return w.numpy()


def test_one_sgd_step_adds_the_l2_term_to_the_gradient():
    # w <- w - lr * (g + wd * w), not Keras's decoupled w - lr * g - lr * wd * w (same here at
    # step 1 without momentum) ...
    w = _step(CoupledSGD(learning_rate=0.1, weight_decay=0.5), [2.0], [1.0])
    np.testing.assert_allclose(w, [2.0 - 0.1 * (1.0 + 0.5 * 2.0)], rtol=1e-6)


def test_the_l2_term_goes_through_momentum():
    # ... with momentum the coupled term accumulates in the velocity; PyTorch's SGD:
    # v1 = g + wd w0; w1 = w0 - lr v1; v2 = mu v1 + g + wd w1; w2 = w1 - lr v2.
    lr, mu, wd, g, w0 = 0.1, 0.9, 0.5, 1.0, 2.0
    v1 = g + wd * w0
    w1 = w0 - lr * v1
    v2 = mu * v1 + g + wd * w1
    w2 = w1 - lr * v2
    w = _step(CoupledSGD(learning_rate=lr, momentum=mu, weight_decay=wd), [w0], [g], steps=2)
    np.testing.assert_allclose(w, [w2], rtol=1e-6)
    decoupled = _step(
        keras.optimizers.SGD(learning_rate=lr, momentum=mu, weight_decay=wd), [w0], [g], steps=2
    )
    assert abs(decoupled[0] - w2) > 1e-3  # Keras's own SGD is a different update


@pytest.mark.parametrize("nesterov", [False, True])
def test_fused_momentum_update_is_kerass_sgd(nesterov):
    # Without decay CoupledSGD is Keras's SGD; with momentum each variable's update is one
    # fused kernel, eagerly and traced.
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(5,)).astype("float32")]
    grads = [[rng.normal(size=w.shape).astype("float32") for w in weights] for _ in range(3)]
    results = {}
    for name, make in (("coupled", CoupledSGD), ("keras", keras.optimizers.SGD)):
        optimizer = make(learning_rate=0.1, momentum=0.9, nesterov=nesterov)
        variables = [keras.Variable(w) for w in weights]
        optimizer.build(variables)
        for g in grads[:2]:
            optimizer.apply([keras.ops.convert_to_tensor(x) for x in g], variables)
        step = tf.function(lambda g: optimizer.apply(g, variables))
        step([tf.constant(x) for x in grads[2]])
        results[name] = [v.numpy() for v in variables]
        if name == "coupled":
            graph = step.get_concrete_function([tf.constant(x) for x in grads[2]]).graph
            fused = [op for op in graph.get_operations() if op.type == "ResourceApplyKerasMomentum"]
            assert len(fused) == len(variables)
    for ours, theirs in zip(results["coupled"], results["keras"]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


def test_clipping_comes_before_the_l2_term():
    # The gradient (3, 4) has norm 5 and is clipped to norm 1 first: (0.6, 0.8); then + wd * w.
    w = _step(
        CoupledSGD(learning_rate=0.1, weight_decay=0.5, global_clipnorm=1.0),
        [1.0, -2.0],
        [3.0, 4.0],
    )
    np.testing.assert_allclose(w, [1.0 - 0.1 * (0.6 + 0.5), -2.0 - 0.1 * (0.8 - 1.0)], rtol=1e-6)


def test_excluded_variables_are_not_decayed():
    optimizer = CoupledSGD(learning_rate=0.1, weight_decay=0.5)
    w = keras.Variable(np.asarray([2.0], "float32"), name="lambda")
    optimizer.exclude_from_weight_decay(var_names=["lambda"])
    optimizer.apply([keras.ops.convert_to_tensor(np.asarray([1.0], "float32"))], [w])
    np.testing.assert_allclose(w.numpy(), [1.9], rtol=1e-6)


def test_adam_adds_the_l2_term_before_its_moments():
    # First Adam step with bias correction moves by lr * sign(g'), g' = g + wd * w.
    w = _step(CoupledAdam(learning_rate=0.01, weight_decay=10.0, epsilon=1e-12), [1.0], [-1.0])
    np.testing.assert_allclose(w, [1.0 - 0.01], rtol=1e-5)  # g' = -1 + 10 = 9 > 0


@pytest.mark.parametrize("cls", [CoupledSGD, CoupledAdam])
def test_optimizers_round_trip_through_keras_serialisation(cls):
    optimizer = cls(learning_rate=0.05, weight_decay=3e-4)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is cls and restored.weight_decay == pytest.approx(3e-4)
