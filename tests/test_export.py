"""Tests for keras_nash/export.py: .keras, SavedModel and TFLite agree with the model; bad input."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nash import export as export_lib
from keras_nash.layers import morph


def _tiny_cnn(input_shape=(8, 8, 3), num_classes=4):
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(6, 3, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes)(x)
    model = keras.Model(inputs, outputs)
    # Non-trivial batch norm statistics, so inference mode is really tested.
    rng = np.random.default_rng(0)
    bn = model.layers[2]
    bn.set_weights([rng.uniform(0.5, 1.5, 4), rng.normal(0, 0.1, 4), rng.normal(0, 0.1, 4), rng.uniform(0.5, 1.5, 4)])
    return model


def _inputs(n=5, shape=(8, 8, 3)):
    return np.random.default_rng(1).normal(size=(n, *shape)).astype("float32")


class _Arch:
    def to_json(self):
        return json.dumps({"schema_version": 1, "nodes": [{"id": "conv_0", "op": "conv"}]})


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = _tiny_cnn()
    x = _inputs()
    expected = model.predict(x, verbose=0)
    directory = str(tmp_path_factory.mktemp("exported"))
    paths = export_lib.export(model, directory, architecture=_Arch())
    return paths, x, expected


def test_export_writes_every_format(exported):
    paths, _, _ = exported
    assert sorted(paths) == ["json", "keras", "saved_model", "tflite"]
    assert paths["keras"].endswith("model.keras") and os.path.isfile(paths["keras"])
    assert os.path.isfile(os.path.join(paths["saved_model"], "saved_model.pb"))
    assert os.path.getsize(paths["tflite"]) > 0
    with open(paths["json"], encoding="utf-8") as file:
        assert json.load(file)["nodes"][0]["id"] == "conv_0"


def test_keras_file_reloads_in_safe_mode(exported):
    paths, x, expected = exported
    reloaded = keras.saving.load_model(paths["keras"])  # safe_mode=True, no custom_objects
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, atol=1e-5)
    np.testing.assert_allclose(
        export_lib.load(os.path.dirname(paths["keras"])).predict(x, verbose=0), expected, atol=1e-5
    )


def test_saved_model_serves_the_same_predictions(exported):
    paths, x, expected = exported
    # Keep the loaded object alive: a chained `tf.saved_model.load(path).serve(x)` lets Python
    # collect it, and its variables with it, before the call runs.
    loaded = tf.saved_model.load(paths["saved_model"])
    served = loaded.serve(tf.constant(x))
    np.testing.assert_allclose(served.numpy(), expected, atol=1e-5)


def test_tflite_interpreter_agrees(exported):
    paths, x, expected = exported
    interpreter = tf.lite.Interpreter(model_path=paths["tflite"])
    input_index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(input_index, x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(input_index, x)
    interpreter.invoke()
    output = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(output, expected, atol=1e-3)


def test_registered_keras_nash_layers_reload_in_safe_mode(tmp_path):
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.ReLU()(inputs)
    x = morph.ConvBNReLU(3, 3, identity_init=True)(x)
    outputs = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, outputs)
    x_in = _inputs(2, (6, 6, 3))
    paths = export_lib(model, str(tmp_path), formats=("keras",), architecture={"a": 1})  # callable module
    assert list(paths) == ["keras"]
    reloaded = keras.saving.load_model(paths["keras"])
    np.testing.assert_allclose(reloaded.predict(x_in, verbose=0), model.predict(x_in, verbose=0), atol=1e-5)


@pytest.mark.parametrize(
    "architecture, expected",
    [({"cells": [1, 2]}, {"cells": [1, 2]}), ('{"a": 1}', {"a": 1}), ("Genotype(normal=[])", "Genotype(normal=[])")],
)
def test_architecture_json_forms(tmp_path, architecture, expected):
    paths = export_lib.export(_tiny_cnn(), str(tmp_path), architecture=architecture, formats="json")
    assert list(paths) == ["json"]
    with open(paths["json"], encoding="utf-8") as file:
        assert json.load(file) == expected


def test_bad_input_raises_value_error(tmp_path):
    model = _tiny_cnn()
    with pytest.raises(ValueError, match="`model`"):
        export_lib.export("not a model", str(tmp_path))
    with pytest.raises(ValueError, match="`formats`"):
        export_lib.export(model, str(tmp_path), formats=("keras", "onnx"))
    with pytest.raises(ValueError, match="`formats`"):
        export_lib.export(model, str(tmp_path), formats=())
    with pytest.raises(ValueError, match="`architecture`"):
        export_lib.export(model, str(tmp_path), architecture={"bad": object()}, formats=("json",))
    with pytest.raises(ValueError, match="`directory`"):
        export_lib.load(str(tmp_path / "nowhere"))
    assert not os.listdir(tmp_path)  # nothing written on bad input


def test_lambda_layer_is_refused_before_writing(tmp_path):
    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    with pytest.raises(ValueError, match="Lambda"):
        export_lib.export(keras.Model(inputs, outputs), str(tmp_path / "out"))
    assert not os.path.exists(tmp_path / "out")
