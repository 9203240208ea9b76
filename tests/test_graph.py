"""Tests for keras_nash.graph: the Architecture DAG, its validation, JSON and Keras round trips."""

import json

import keras
import numpy as np
import pytest

from keras_nash import graph, seed_models
from keras_nash.graph import Architecture, Node
from keras_nash.layers.morph import LambdaSum
from tests.helpers import real_images


def _n(node_id, op, inputs=(), config=None):
    return {"id": node_id, "op": op, "inputs": list(inputs), "config": config or {}}


def _tiny():
    return seed_models.simple_cnn_architecture((16, 16, 3), 10, filters=(4, 8))


def test_shapes_and_params_match_keras():
    arch = _tiny()
    model = graph.build_model(arch)
    assert arch.count_params() == model.count_params()
    for node in arch.nodes:
        assert tuple(model.get_layer(node.id).output.shape[1:]) == arch.shape(node.id)


def test_layer_names_are_node_ids():
    arch = _tiny()
    model = graph.build_model(arch)
    assert [layer.name for layer in model.layers] == arch.ids()


def test_json_round_trip_keeps_everything():
    arch = _tiny()
    text = arch.to_json()
    assert json.loads(text)["schema_version"] == graph.SCHEMA_VERSION
    again = Architecture.from_json(text)
    assert again == arch and again.to_json() == text


def test_unknown_schema_version_is_refused():
    data = _tiny().to_dict()
    data["schema_version"] = 99
    with pytest.raises(ValueError, match="schema_version=99"):
        Architecture.from_dict(data)


def test_from_model_then_build_model_computes_the_same_function():
    inputs = keras.Input((16, 16, 3))
    a = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="c1")(inputs)
    b = keras.layers.BatchNormalization(name="bn")(a)
    c = keras.layers.Conv2D(6, 3, padding="same", name="c2")(b)
    d = keras.layers.Add(name="res")([b, c])
    e = keras.layers.MaxPooling2D(name="pool")(d)
    f = keras.layers.Concatenate(name="cat")([e, keras.layers.AveragePooling2D(2, name="avg")(d)])
    g = keras.layers.Flatten(name="flat")(f)
    out = keras.layers.Dense(10, activation="softmax", name="out")(
        keras.layers.Dropout(0.2, name="drop")(g)
    )
    model = keras.Model(inputs, out)
    model.get_layer("bn").set_weights(
        [
            np.full(6, 1.3, "float32"),
            np.full(6, 0.2, "float32"),
            np.full(6, 0.1, "float32"),
            np.full(6, 2.0, "float32"),
        ]
    )
    arch = Architecture.from_model(model)
    assert arch.node("c1_relu").op == "relu" and arch.node("bn").inputs == ["c1_relu"]
    rebuilt = graph.build_model(arch)
    graph.set_weights(rebuilt, graph.get_weights(model, arch))
    x, _ = real_images(8, 16)
    np.testing.assert_allclose(rebuilt(x, training=False), model(x, training=False), atol=1e-6)


def test_from_model_reads_sequential():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2),
        ]
    )
    arch = Architecture.from_model(model)
    assert [n.op for n in arch.nodes] == ["input", "conv", "global_avg_pool", "dense"]


def test_from_model_names_every_unsupported_layer():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, activation="tanh", name="tanh_conv")(inputs)
    x = keras.layers.LayerNormalization(name="ln")(x)
    model = keras.Model(inputs, keras.layers.Flatten()(x))
    with pytest.raises(ValueError) as info:
        Architecture.from_model(model)
    assert (
        "'tanh_conv'" in str(info.value)
        and "'ln'" in str(info.value)
        and "LayerNormalization" in str(info.value)
    )


def test_from_model_reads_lambda_sum_dict_outputs_and_fused_relus():
    inputs = keras.Input((8, 8, 3), name="image")
    conv = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv")(inputs)
    mixed = LambdaSum(0.5, name="mix")([conv, inputs])
    model = keras.Model(
        inputs,
        {
            "pooled": keras.layers.GlobalAveragePooling2D(name="gap")(mixed),
            "flat": keras.layers.Flatten(name="flat")(conv),
        },
    )
    arch = Architecture.from_model(model)
    assert (
        arch.node("mix").inputs == ["conv_relu", "image"]
        and arch.node("mix").config["initial_lambda"] == 0.5
    )
    assert arch.node("flat").inputs == ["conv_relu"] and arch.outputs == ["gap", "flat"]
    assert Architecture.from_model(graph.build_model(arch)) == arch


def test_from_model_refuses_shared_nested_and_unknown_sizes():
    dense = keras.layers.Dense(4, name="shared")
    features = keras.Input((4,))
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)], name="inner")
    image = keras.Input((None, None, 3), name="image")
    cases = [
        (
            keras.Model(features, inner(dense(dense(features)))),
            ["'shared' (Dense): used 2 times", "'inner' (Sequential)"],
        ),
        (
            keras.Model(image, keras.layers.Conv2D(2, 3, name="c")(image)),
            ["'image' (InputLayer): every input dimension must be known"],
        ),
    ]
    for model, messages in cases:
        with pytest.raises(ValueError) as info:
            Architecture.from_model(model)
        assert all(m in str(info.value) for m in messages), str(info.value)
    with pytest.raises(ValueError, match="Sequential `model` must be built"):
        Architecture.from_model(keras.Sequential([keras.layers.Dense(2)]))


def test_from_model_refuses_subclassed_models():
    class Net(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="subclassed"):
        Architecture.from_model(Net())


@pytest.mark.parametrize(
    "nodes, message",
    [
        (
            [_n("input", "input", [], {"shape": [8, 8, 3]}), _n("x", "bogus", ["input"])],
            "unknown op 'bogus'",
        ),
        (
            [_n("input", "input", [], {"shape": [8, 8, 3]}), _n("a", "relu", ["ghost"])],
            "'a' reads 'ghost'.*dangling",
        ),
        (
            [
                _n("input", "input", [], {"shape": [8, 8, 3]}),
                _n("a", "add", ["input", "b"]),
                _n("b", "relu", ["a"]),
            ],
            "cycle through nodes \\['a', 'b'\\]",
        ),
        (
            [
                _n("input", "input", [], {"shape": [8, 8, 3]}),
                _n("c", "conv", ["input"], {"filters": 4}),
                _n("s", "add", ["input", "c"]),
            ],
            "'s' \\(add\\) needs inputs of one shape",
        ),
        (
            [
                _n("input", "input", [], {"shape": [8, 8, 3]}),
                _n("c", "conv", ["input"], {"filters": 0}),
            ],
            "'c' \\(conv\\): `filters` must be an int >= 1. Received: filters=0",
        ),
        (
            [
                _n("input", "input", [], {"shape": [8, 8, 3]}),
                _n("d", "dense", ["input"], {"units": 2}),
            ],
            "'d' \\(dense\\) needs a flat input",
        ),
        (
            [_n("input", "input", [], {"shape": [8, 8, 3]}), _n("r", "relu", ["input", "input"])],
            "'r' \\(relu\\) takes 1 inputs",
        ),
        (
            [_n("input", "input", [], {"shape": [8, 8, 3]}), _n("input", "relu", ["input"])],
            "Duplicate node id 'input'",
        ),
    ],
)
def test_invalid_architectures_name_the_node(nodes, message):
    with pytest.raises(ValueError, match=message):
        Architecture(nodes)


def test_unknown_config_key_and_missing_node_are_named():
    with pytest.raises(ValueError, match="'c' \\(conv\\) has unknown config keys \\['filter'\\]"):
        Node("c", "conv", ["input"], {"filter": 3})
    with pytest.raises(ValueError, match="No node with id 'nope'"):
        _tiny().node("nope")
    with pytest.raises(ValueError, match="Output 'ghost'"):
        Architecture(_tiny().nodes, outputs=["ghost"])


def test_set_weights_checks_shapes():
    arch = _tiny()
    model = graph.build_model(arch)
    with pytest.raises(ValueError, match="node 'conv_1'"):
        graph.set_weights(model, {"conv_1": [np.zeros((3, 3, 3, 5), "float32")]})


def test_next_id_is_fresh_and_deterministic():
    arch = _tiny()
    assert arch.next_id("conv") == "conv_3"
    assert arch.next_id("concat") == "concat_1"
