"""PC-DARTS's edge normalisation: betas per edge, in the supernet, the derivation and DARTS."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nash.spaces import DartsSearchNetwork, DartsSpace, derive_genotype
from keras_nash.spaces.darts.genotypes import edge_weights
from keras_nash.tuners.darts.oracle import DartsOracle
from keras_nash.tuners.egnas.tuner import EgnasTuner

OPS = ("none", "skip_connect", "sep_conv_3x3")
SPACE = DartsSpace(steps=2, multiplier=2, primitives=OPS, edge_normalization=True)
SETTINGS = dict(cells=3, channels=4, steps=2, multiplier=2, primitives=OPS)


def test_edge_weights_are_a_softmax_per_node():
    beta = np.array([0.0, np.log(3.0), 0.0, 0.0, np.log(2.0)])
    np.testing.assert_allclose(edge_weights(beta, 2), [0.25, 0.75, 0.25, 0.25, 0.5])
    with pytest.raises(ValueError, match=r"`beta` must be 5 finite values"):
        edge_weights(np.zeros(4), 2)


def test_betas_decide_which_edges_a_node_keeps():
    # Every edge's operations are equal, so alpha alone keeps the first two edges of node 3;
    # the betas of node 3 favour its inputs 1 and 2.
    alpha = np.zeros((5, 3))
    plain = derive_genotype(alpha, alpha, OPS, steps=2, multiplier=2)
    assert [j for _, j in plain.normal[2:]] == [0, 1]
    beta = np.array([0.0, 0.0, -2.0, 1.0, 2.0])
    found = derive_genotype(alpha, alpha, OPS, steps=2, multiplier=2,
                            beta_normal=beta, beta_reduce=np.zeros(5))
    assert sorted(j for _, j in found.normal[2:]) == [1, 2]
    assert [j for _, j in found.reduce[2:]] == [0, 1]
    with pytest.raises(ValueError, match="`beta_normal` and `beta_reduce` together"):
        derive_genotype(alpha, alpha, OPS, steps=2, multiplier=2, beta_normal=beta)


def test_supernet_scales_each_edge_by_its_weight():
    """With k=1, scaling a MixedOp's output by e equals scaling its mixture row by e."""
    net = DartsSearchNetwork(DartsSpace(**SETTINGS, edge_normalization=True), seed=1)
    plain = DartsSearchNetwork(DartsSpace(**SETTINGS), seed=1)
    x = np.random.default_rng(0).uniform(0, 1, (2, 8, 8, 3)).astype("float32")
    net(x), plain(x)
    assert [tuple(v.shape) for v in net.arch_variables] == [(5, 3), (5, 3), (5,), (5,)]
    betas = {id(v) for v in net.betas}
    shared = [v for v in net.weights if id(v) not in betas]
    assert len(shared) == len(plain.weights)
    for target, source in zip(plain.weights, shared):
        target.assign(source)
    rng = np.random.default_rng(1)
    net.set_beta(rng.normal(size=5), rng.normal(size=5))
    e_normal, e_reduce = (edge_weights(np.asarray(b), 2) for b in net.betas)
    w_normal = keras.ops.softmax(net.alpha_normal, axis=-1) * e_normal[:, None]
    w_reduce = keras.ops.softmax(net.alpha_reduce, axis=-1) * e_reduce[:, None]
    expected = plain(x, mixture=(w_normal, w_reduce))
    np.testing.assert_allclose(net(x), expected, rtol=1e-5, atol=1e-5)
    # The architecture step (which takes `arch_variables`) gets gradients for the betas.
    with tf.GradientTape() as tape:
        tape.watch([v.value for v in net.betas])  # non-trainable: watched as DARTS's step does
        loss = keras.ops.mean(net(x, training=True) ** 2)
    gradients = tape.gradient(loss, [v.value for v in net.betas])
    assert all(g is not None and float(tf.norm(g)) > 0 for g in gradients)
    assert net.get_config()["search_space"]["edge_normalization"] is True
    with pytest.raises(ValueError, match="edge_normalization=True"):
        plain.set_beta(np.zeros(5), np.zeros(5))


def test_darts_oracle_keeps_betas_through_results_and_resume():
    oracle = DartsOracle(epochs=2, search_space=SPACE, seed=3)
    arch = oracle.arch_data()
    assert len(arch["beta_normal"]) == 5 and len(arch["beta_reduce"]) == 5
    assert "beta_normal" not in DartsOracle(
        epochs=2, search_space=DartsSpace(steps=2, multiplier=2, primitives=OPS), seed=3).arch_data()
    beta = [0.0, 0.0, -2.0, 1.0, 2.0]
    oracle.beta = (np.asarray(beta), np.zeros(5))
    oracle.alpha_normal = oracle.alpha_reduce = np.zeros((5, 3))
    assert sorted(j for _, j in oracle.genotype().normal[2:]) == [1, 2]
    restored = DartsOracle(epochs=2, search_space=SPACE, seed=4)
    restored.set_policy_state(oracle.policy_state())
    np.testing.assert_array_equal(restored.beta[0], beta)
    assert restored.genotype() == oracle.genotype()


def test_egnas_rejects_edge_normalization(tmp_path):
    # EgnasTuner takes no `edge_normalization` (its signature lists what it takes).
    with pytest.raises(ValueError, match="edge_normalization"):
        EgnasTuner(epochs=2, warmup_epochs=1, cells=3, channels=4, edge_normalization=True,
                   directory=str(tmp_path), project_name="egnas")
    space = DartsSpace(cells=3, channels=4, edge_normalization=True)
    with pytest.raises(ValueError, match="`edge_normalization`"):
        EgnasTuner(epochs=2, warmup_epochs=1, search_space=space,
                       directory=str(tmp_path), project_name="egnas")
