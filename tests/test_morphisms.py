"""Tests for keras_nash.morphisms: every operator and random compositions keep the function."""

import keras
import numpy as np
import pytest

from keras_nash import graph, morphisms, seed_models
from tests.helpers import randomise_batch_norm, real_images

TOLERANCE = 1e-4  # max |child logits - parent logits| in float32, inference mode


@pytest.fixture(scope="module")
def images():
    return real_images(16, 16)[0]


def _parent(filters=(8, 16, 32), seed=0):
    arch = seed_models.simple_cnn_architecture((16, 16, 3), 10, filters=filters)
    model = graph.build_model(arch)
    randomise_batch_norm(model, arch, seed)
    return arch, model


def _child_difference(arch, model, ms, x):
    child_arch, child_weights = morphisms.apply_with_weights(
        arch, graph.get_weights(model, arch), ms
    )
    assert (
        morphisms.apply(arch, ms) == child_arch
    )  # the coordinator's view agrees with the worker's
    child = graph.build_model(child_arch)
    graph.set_weights(child, child_weights)
    return morphisms.max_output_difference(model, child, x, output="logits"), child_arch, child


DEEPER = {"op": "deeper", "after": "relu_2", "kernel_size": 3}


@pytest.mark.parametrize(
    "ms",
    [
        [{"op": "deeper", "after": "relu_1", "kernel_size": 3}],
        [{"op": "deeper", "after": "relu_3", "kernel_size": 5}],
        [{"op": "wider", "conv": "conv_1", "factor": 2, "seed": 1}],
        [{"op": "wider", "conv": "conv_3", "factor": 4, "seed": 2}],
        [DEEPER, {"op": "skip", "from": "relu_2", "to": "relu_4", "mode": "add"}],  # lambda_sum
        [
            DEEPER,
            {"op": "wider", "conv": "conv_4", "factor": 2, "seed": 3},
            {"op": "skip", "from": "relu_2", "to": "relu_4", "mode": "add"},
        ],  # projection
        [DEEPER, {"op": "skip", "from": "relu_2", "to": "relu_4", "mode": "concat", "seed": 4}],
    ],
    ids=[
        "deeper3",
        "deeper5",
        "wider2",
        "wider4",
        "skip_add_lambda",
        "skip_add_projection",
        "skip_concat",
    ],
)
def test_each_operator_preserves_the_function(ms, images):
    arch, model = _parent()
    difference, child_arch, _ = _child_difference(arch, model, ms, images)
    assert difference <= TOLERANCE
    assert child_arch.count_params() > arch.count_params()


def test_widening_through_an_add_widens_both_sides_together(images):
    arch, model = _parent()
    ms = [DEEPER, {"op": "skip", "from": "relu_2", "to": "relu_4", "mode": "add"}]
    arch = morphisms.apply(arch, ms)
    model = graph.build_model(arch)
    randomise_batch_norm(model, arch, 1)
    difference, child_arch, _ = _child_difference(
        arch, model, [{"op": "wider", "conv": "conv_4", "factor": 2, "seed": 0}], images
    )
    assert difference <= TOLERANCE
    # conv_4 feeds lambda_sum add_1 whose other side comes from conv_2: both doubled.
    assert (
        child_arch.node("conv_4").config["filters"] == 32
        and child_arch.node("conv_2").config["filters"] == 32
    )


def test_random_compositions_preserve_the_function(images):
    """A fast subset of the 200 compositions bench/morphisms.py runs."""
    rng = np.random.default_rng(123)
    for trial in range(8):
        arch, model = _parent(filters=tuple(int(f) for f in rng.choice([4, 8, 12], 3)), seed=trial)
        ms = morphisms.random_morphisms(arch, int(rng.integers(1, 21)), rng)
        difference, _, _ = _child_difference(arch, model, ms, images)
        assert difference <= TOLERANCE, (trial, ms)
        keras.backend.clear_session()


def test_random_morphisms_are_reproducible_and_cover_all_operators():
    arch, _ = _parent()
    first = morphisms.random_morphisms(arch, 30, 7)
    assert first == morphisms.random_morphisms(arch, 30, 7)
    assert first != morphisms.random_morphisms(arch, 30, 8)
    assert {m["op"] for m in first} == {"deeper", "wider", "skip"}
    assert {m.get("mode") for m in first if m["op"] == "skip"} == {"add", "concat"}
    assert {m["kernel_size"] for m in first if m["op"] == "deeper"} <= {3, 5}
    assert {m["factor"] for m in first if m["op"] == "wider"} <= {2, 4}


def test_probabilities_select_operators():
    arch, _ = _parent()
    only_deeper = morphisms.random_morphisms(arch, 10, 0, probabilities={"deeper": 1})
    assert [m["op"] for m in only_deeper] == ["deeper"] * 10


def test_morphed_child_trains(images):
    """One epoch on real images lowers the child's loss (measured with batch statistics, since
    one epoch barely moves the batch norms' moving averages) and gives no NaN."""
    x, y = real_images(512, 16, seed=1)
    arch, model = _parent()
    ms = morphisms.random_morphisms(arch, 5, 3)
    _, _, child = _child_difference(arch, model, ms, images)
    child.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy"
    )

    def loss():
        return float(
            np.mean(keras.losses.sparse_categorical_crossentropy(y, child(x, training=True)))
        )

    before = loss()
    history = child.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0]) and loss() < before


def test_morphed_model_saves_and_loads_as_keras(tmp_path, images):
    arch, model = _parent()
    ms = [
        DEEPER,
        {"op": "skip", "from": "relu_2", "to": "relu_4", "mode": "add"},
        {"op": "deeper", "after": "relu_4", "kernel_size": 5},
    ]
    _, _, child = _child_difference(arch, model, ms, images)
    path = tmp_path / "child.keras"
    child.save(path)
    loaded = keras.saving.load_model(path)  # safe mode, no custom_objects
    np.testing.assert_allclose(
        loaded(images, training=False), child(images, training=False), atol=1e-6
    )


def test_valid_targets():
    arch, _ = _parent()
    assert morphisms.valid_targets(arch, "deeper") == ["relu_1", "relu_2", "relu_3"]
    assert morphisms.valid_targets(arch, "wider") == ["conv_1", "conv_2", "conv_3"]
    assert morphisms.valid_targets(arch, "skip") == []  # each block has its own spatial size
    deeper = morphisms.apply(arch, [DEEPER])
    assert morphisms.valid_targets(deeper, "skip") == [("relu_2", "relu_4")]


def test_wider_cannot_reach_the_output():
    arch = graph.Architecture(
        [
            {"id": "input", "op": "input", "config": {"shape": [8, 8, 3]}},
            {"id": "conv", "op": "conv", "inputs": ["input"], "config": {"filters": 4}},
            {"id": "relu", "op": "relu", "inputs": ["conv"]},
        ]
    )
    assert morphisms.valid_targets(arch, "wider") == []
    with pytest.raises(
        ValueError,
        match="wider: conv 'conv' cannot be widened: new channels would reach the output 'relu'",
    ):
        morphisms.apply(arch, [{"op": "wider", "conv": "conv", "factor": 2}])


@pytest.mark.parametrize(
    "m, message",
    [
        ({"op": "shrink"}, "`op` must be one of .*Received: op='shrink'"),
        (
            {"op": "wider", "conv": "conv_1", "factor": 0},
            "`factor` must be an int >= 2. Received: factor=0",
        ),
        (
            {"op": "wider", "conv": "bn_1", "factor": 2},
            "`conv` must be a conv node. Received: conv='bn_1'",
        ),
        ({"op": "wider", "conv": "conv_9", "factor": 2}, "No node with id 'conv_9'"),
        (
            {"op": "deeper", "after": "conv_1", "kernel_size": 3},
            "`after` must be a ReLU that ends a conv block. Received: after='conv_1'",
        ),
        (
            {"op": "deeper", "after": "relu_1", "kernel_size": 4},
            "`kernel_size` must be a positive odd int. Received: kernel_size=4",
        ),
        ({"op": "deeper", "after": "relu_1"}, "needs the key 'kernel_size'"),
        (
            {"op": "skip", "from": "relu_1", "to": "relu_2", "mode": "add"},
            "same spatial size. Received: from='relu_1' \\(16, 16, 8\\), to='relu_2' \\(8, 8, "
            "16\\)",
        ),
        (
            {"op": "skip", "from": "relu_2", "to": "relu_1", "mode": "add"},
            "`from` must come before `to`",
        ),
        (
            {"op": "skip", "from": "relu_1", "to": "relu_2", "mode": "sum"},
            "`mode` must be one of \\[.add., .concat.\\]. Received: mode='sum'",
        ),
    ],
)
def test_bad_morphisms_raise_value_error_naming_the_argument(m, message):
    arch, _ = _parent()
    with pytest.raises(ValueError, match=message):
        morphisms.apply(arch, [m])


def test_bad_sampler_arguments():
    arch, _ = _parent()
    with pytest.raises(ValueError, match="`n` must be an int >= 0. Received: n=-1"):
        morphisms.random_morphisms(arch, -1, 0)
    with pytest.raises(ValueError, match="`widening_factors` must be ints >= 2"):
        morphisms.random_morphisms(arch, 1, 0, widening_factors=(0,))
    with pytest.raises(ValueError, match="unknown operators \\['prune'\\]"):
        morphisms.random_morphisms(arch, 1, 0, probabilities={"prune": 1})
    with pytest.raises(ValueError, match="`weights` has no values for nodes"):
        morphisms.apply_with_weights(arch, {}, [DEEPER])
