"""Tests for keras_nash.layers.cells and the DARTS networks of keras_nash.spaces.darts."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nash.layers.cells import FixedCell, SearchCell, n_edges
from keras_nash.spaces.darts import DARTS_V2, DartsEvalNetwork, DartsSearchNetwork, DartsSpace

SMALL_OPS = ("none", "max_pool_3x3", "skip_connect", "sep_conv_3x3")


def test_n_edges():
    assert [n_edges(steps) for steps in (1, 2, 3, 4)] == [2, 5, 9, 14]
    with pytest.raises(ValueError, match="steps=0"):
        n_edges(0)


@pytest.mark.parametrize(
    "reduction, reduction_prev", [(False, False), (True, False), (False, True)]
)
def test_search_cell_shapes(reduction, reduction_prev):
    cell = SearchCell(4, reduction, reduction_prev, steps=2, multiplier=2, primitives=SMALL_OPS)
    assert len(cell.edges) == 5
    s1 = np.random.rand(2, 8, 8, 6).astype("float32")
    s0 = np.random.rand(2, 16, 16, 5).astype("float32") if reduction_prev else s1
    out = cell(s0, s1, np.full((5, 4), 0.25, "float32"), training=True)
    expected = (2, 4, 4, 8) if reduction else (2, 8, 8, 8)
    assert tuple(out.shape) == expected
    with pytest.raises(ValueError, match=r"weights.shape=\(4, 4\)"):
        cell(s0, s1, np.full((4, 4), 0.25, "float32"))
    with pytest.raises(ValueError, match="steps=0"):
        SearchCell(4, steps=0)


@pytest.mark.parametrize("kind", ["search", "fixed"])
def test_cells_build_every_weight_before_the_first_call(kind):
    s0 = np.random.rand(2, 16, 16, 5).astype("float32")
    s1 = np.random.rand(2, 8, 8, 6).astype("float32")
    if kind == "search":
        cell = SearchCell(4, True, True, steps=2, multiplier=2, primitives=SMALL_OPS)
        cell.build(s0.shape, s1.shape, (5, 4))
        call = lambda: cell(s0, s1, np.full((5, 4), 0.25, "float32"))
    else:
        cell = FixedCell(
            4,
            [["sep_conv_3x3", 0], ["skip_connect", 1], ["dil_conv_3x3", 2], ["avg_pool_3x3", 0]],
            concat=[2, 3],
            reduction=True,
            reduction_prev=True,
        )
        cell.build(s0.shape, s1.shape)
        call = lambda: cell(s0, s1)
    built = [v.path for v in cell.weights]
    out = call()
    assert [v.path for v in cell.weights] == built
    assert tuple(out.shape) == cell.compute_output_shape(s0.shape, s1.shape) == (2, 4, 4, 8)


def _search_net(**space):
    defaults = dict(cells=3, channels=4, steps=2, multiplier=2, primitives=SMALL_OPS)
    return DartsSearchNetwork(DartsSpace(**{**defaults, **space}), num_classes=3, seed=1)


def test_search_network_alpha_apart_from_weights():
    net = _search_net()
    x = np.random.rand(4, 8, 8, 3).astype("float32")
    assert tuple(net(x).shape) == (4, 3)
    alpha = net.arch_variables
    assert [tuple(v.shape) for v in alpha] == [(5, 4), (5, 4)]
    assert 0 < np.abs(np.asarray(alpha[0])).max() < 0.01  # 1e-3 * N(0, 1)
    weight_ids = {id(v) for v in net.weight_variables}
    assert not any(id(v) in weight_ids for v in alpha)
    assert not any(v.trainable for v in alpha)
    with pytest.raises(ValueError, match=r"alpha_normal.shape=\(14, 8\)"):
        net.set_alpha(np.zeros((14, 8)), np.zeros((5, 4)))
    # Reductions at 1/3 and 2/3 of the depth double the channels.
    assert net.reductions == [False, True, True]


def test_explicit_mixture_matches_alpha_and_does_not_retrace():
    net = _search_net()
    x = tf.constant(np.random.rand(4, 8, 8, 3).astype("float32"))
    w_normal = tf.nn.softmax(net.alpha_normal.value)
    w_reduce = tf.nn.softmax(net.alpha_reduce.value)
    np.testing.assert_allclose(
        net(x, training=False), net(x, training=False, mixture=(w_normal, w_reduce)), atol=1e-5
    )
    traces = []
    spec = tf.TensorSpec((5, 4), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec((None, 8, 8, 3)), spec, spec], autograph=False)
    def evaluate(images, normal, reduce):
        traces.append(1)
        return net(images, training=False, mixture=(normal, reduce))

    rng = np.random.default_rng(0)
    outputs = []
    for _ in range(3):
        normal = tf.nn.softmax(rng.standard_normal((5, 4)).astype("float32"))
        reduce = tf.nn.softmax(rng.standard_normal((5, 4)).astype("float32"))
        outputs.append(np.asarray(evaluate(x, normal, reduce)))
    assert len(traces) == 1
    assert np.abs(outputs[0] - outputs[1]).max() > 0
    alpha_before = np.asarray(net.alpha_normal)
    np.testing.assert_array_equal(alpha_before, np.asarray(net.alpha_normal))


def test_search_network_validates_arguments():
    with pytest.raises(ValueError, match="cells=2"):
        _search_net(cells=2)
    with pytest.raises(ValueError, match="primitives"):
        _search_net(primitives=("none",))
    with pytest.raises(ValueError, match="steps=0"):
        _search_net(steps=0)
    with pytest.raises(ValueError, match="`search_space` must be a `keras_nash.spaces.DartsSpace`"):
        DartsSearchNetwork(search_space=3)
    with pytest.raises(ValueError, match="num_classes=1"):
        DartsSearchNetwork(num_classes=1)


def test_fixed_cell_drop_path_and_validation():
    cell = FixedCell(4, [["sep_conv_3x3", 0], ["skip_connect", 1]], concat=[2], seed=0)
    x = np.random.rand(8, 8, 8, 4).astype("float32")
    inference = np.asarray(cell(x, x, drop_prob=0.5, training=False))
    np.testing.assert_allclose(
        inference, np.asarray(cell(x, x, drop_prob=0.0, training=False)), atol=1e-6
    )
    dropped = np.asarray(cell(x, x, drop_prob=0.5, training=True))
    kept = np.asarray(cell(x, x, drop_prob=0.0, training=True))
    assert np.abs(dropped - kept).max() > 1e-3
    with pytest.raises(ValueError, match="conv_9x9"):
        FixedCell(4, [["conv_9x9", 0], ["skip_connect", 1]], concat=[2])
    with pytest.raises(ValueError, match="reads node 3"):
        FixedCell(4, [["skip_connect", 3], ["skip_connect", 1]], concat=[2])
    with pytest.raises(ValueError, match="concat"):
        FixedCell(4, [["skip_connect", 0], ["skip_connect", 1]], concat=[5])


def test_darts_v2_has_the_published_size():
    net = DartsEvalNetwork(DARTS_V2, num_classes=10, cells=20, channels=36, auxiliary_weight=0.4)
    net.build((None, 32, 32, 3))
    params = net.count_params_without_auxiliary()
    assert abs(params - 3.3e6) / 3.3e6 < 0.03, params
    assert net.count_params() > params  # the head exists, counted apart


def test_eval_network_trains_and_saves_as_keras(tmp_path):
    net = DartsEvalNetwork(
        DARTS_V2, num_classes=4, cells=3, channels=4, auxiliary_weight=0.4, seed=0
    )
    net.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x = np.random.rand(16, 32, 32, 3).astype("float32")
    y = np.random.randint(0, 4, 16)
    net.drop_path_rate.assign(0.2)
    history = net.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    # The auxiliary loss is added in training only.
    no_aux = DartsEvalNetwork(DARTS_V2, num_classes=4, cells=3, channels=4, auxiliary_weight=0.0)
    assert no_aux.auxiliary_head is None
    path = str(tmp_path / "darts_v2_small.keras")
    net.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, DartsEvalNetwork)
    np.testing.assert_allclose(net.predict(x, verbose=0), loaded.predict(x, verbose=0), atol=1e-5)
    assert loaded.genotype == DARTS_V2


def test_search_network_saves_as_keras(tmp_path):
    net = _search_net()
    x = np.random.rand(2, 8, 8, 3).astype("float32")
    net.set_alpha(np.random.rand(5, 4), np.random.rand(5, 4))
    expected = np.asarray(net(x))
    path = str(tmp_path / "supernet.keras")
    net.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(expected, loaded(x), atol=1e-5)
    np.testing.assert_allclose(np.asarray(net.alpha_reduce), np.asarray(loaded.alpha_reduce))
    assert loaded.search_space == net.search_space


def test_auxiliary_loss_added_in_training_only():
    net = DartsEvalNetwork(DARTS_V2, num_classes=4, cells=3, channels=4, auxiliary_weight=0.4)
    net.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.rand(4, 32, 32, 3).astype("float32")
    y = np.array([0, 1, 2, 3])
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    logits = net(x, training=True)
    auxiliary = net._auxiliary_logits
    loss = net.compute_loss(x, y, logits, training=True)
    expected = cross_entropy(y, logits) + 0.4 * cross_entropy(y, auxiliary)
    np.testing.assert_allclose(float(loss), float(expected), rtol=1e-5)
    logits = net(x, training=False)
    assert net._auxiliary_logits is None
    np.testing.assert_allclose(
        float(net.compute_loss(x, y, logits, training=False)),
        float(cross_entropy(y, logits)),
        rtol=1e-5,
    )
