"""Tests for keras_nash/export.py: .keras, SavedModel and TFLite agree with the model, raw-image
exports standardise inside the model, safe-mode refusals, bad input."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_nash
from keras_nash import datasets, spaces
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
    bn.set_weights(
        [
            rng.uniform(0.5, 1.5, 4),
            rng.normal(0, 0.1, 4),
            rng.normal(0, 0.1, 4),
            rng.uniform(0.5, 1.5, 4),
        ]
    )
    return model


def _inputs(n=5, shape=(8, 8, 3)):
    return np.random.default_rng(1).normal(size=(n, *shape)).astype("float32")


def _raw_images(n=5, shape=(8, 8, 3), seed=2):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def _standardise(raw, preprocessing):
    """What the data pipelines feed the tuned model: (raw * scale - mean) / std, float32."""
    scaled = raw.astype(np.float32) * np.float32(preprocessing["scale"])
    return (scaled - np.float32(preprocessing["mean"])) / np.float32(preprocessing["std"])


def _tflite_predict(path, x):
    interpreter = tf.lite.Interpreter(model_path=path)
    input_details = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(input_details["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(input_details["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), input_details[
        "dtype"
    ]


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
    output, _ = _tflite_predict(paths["tflite"], x)
    np.testing.assert_allclose(output, expected, atol=1e-3)


# ------------------------------------------------------------------------------ raw-image export

# Tolerances against the tuned model on standardised images: the exported front computes
# (raw * scale - mean) / sqrt(std ** 2) in float32, the pipeline (raw * scale - mean) / std.
RAW_ATOL = 1e-4
TFLITE_ATOL = 1e-3


@pytest.fixture(scope="module")
def raw_exported(tmp_path_factory):
    """A functional model exported with the preprocessing of its data (every format, one TFLite
    conversion)."""
    keras.utils.set_random_seed(0)
    data = datasets.from_arrays(_raw_images(60, seed=0), np.arange(60) % 4, batch_size=8)
    model = _tiny_cnn()
    raw = _raw_images()
    expected = model.predict(_standardise(raw, data.preprocessing), verbose=0)
    directory = str(tmp_path_factory.mktemp("raw_exported"))
    paths = export_lib.export(model, directory, architecture={"cells": [1]}, preprocessing=data)
    return paths, data.preprocessing, raw, expected


def test_raw_export_records_the_preprocessing(raw_exported):
    paths, preprocessing, _, _ = raw_exported
    assert sorted(paths) == ["json", "keras", "preprocessing", "saved_model", "tflite"]
    assert os.path.basename(paths["preprocessing"]) == "preprocessing.json"
    with open(paths["preprocessing"], encoding="utf-8") as file:
        assert json.load(file) == preprocessing
    with open(paths["json"], encoding="utf-8") as file:
        assert json.load(file) == {"cells": [1]}  # the architecture file is the architecture alone


def test_raw_keras_file_standardises_uint8_and_float_pixels(raw_exported):
    paths, _, raw, expected = raw_exported
    reloaded = keras.saving.load_model(paths["keras"])  # safe mode, no custom_objects
    assert [layer.__class__.__name__ for layer in reloaded.layers[1:3]] == [
        "Rescaling",
        "Normalization",
    ]
    np.testing.assert_allclose(reloaded.predict(raw, verbose=0), expected, atol=RAW_ATOL)
    np.testing.assert_allclose(
        reloaded.predict(raw.astype("float64"), verbose=0), expected, atol=RAW_ATOL
    )
    np.testing.assert_allclose(
        export_lib.load(os.path.dirname(paths["keras"]))(raw), expected, atol=RAW_ATOL
    )


def test_raw_saved_model_serves_uint8_images(raw_exported):
    paths, _, raw, expected = raw_exported
    loaded = tf.saved_model.load(paths["saved_model"])  # kept alive while it serves
    served = loaded.serve(tf.constant(raw))
    np.testing.assert_allclose(served.numpy(), expected, atol=RAW_ATOL)


def test_raw_tflite_takes_uint8_images(raw_exported):
    paths, _, raw, expected = raw_exported
    output, input_dtype = _tflite_predict(paths["tflite"], raw)
    assert input_dtype == np.uint8
    np.testing.assert_allclose(output, expected, atol=TFLITE_ATOL)


def test_subclassed_model_exports_for_raw_images(tmp_path):
    keras.utils.set_random_seed(0)
    network = spaces.DartsEvalNetwork(
        keras_nash.DARTS_V2, num_classes=3, cells=3, channels=2, auxiliary_weight=0.0
    )
    preprocessing = {
        "scale": 1 / 255,
        "mean": [0.5, 0.4, 0.3],
        "std": [0.25, 0.2, 0.3],
        "dtype": "uint8",
    }
    with pytest.raises(ValueError, match="must be built"):
        export_lib.export(network, str(tmp_path / "unbuilt"), preprocessing=preprocessing)
    assert not os.path.exists(tmp_path / "unbuilt")
    raw = _raw_images(2)
    expected = network(_standardise(raw, preprocessing), training=False).numpy()
    paths = export_lib.export(
        network, str(tmp_path), formats=("keras", "json"), preprocessing=preprocessing
    )
    assert sorted(paths) == [
        "keras",
        "preprocessing",
    ]  # no architecture given: only the preprocessing file
    reloaded = keras.saving.load_model(paths["keras"])
    np.testing.assert_allclose(reloaded(raw), expected, atol=RAW_ATOL)  # eager: no predict tracing


@pytest.mark.parametrize(
    "preprocessing, match",
    [
        ({"mean": [0.5] * 3, "std": [0.2] * 3}, "`preprocessing`"),
        ({"scale": 0.0, "mean": [0.5] * 3, "std": [0.2] * 3}, "preprocessing\\['scale'\\]"),
        ({"scale": 1.0, "mean": [0.5] * 3, "std": [0.2, 0.0, 0.2]}, "std"),
        ({"scale": 1.0, "mean": ["a"] * 3, "std": [0.2] * 3}, "preprocessing\\['mean'\\]"),
        ({"scale": 1.0, "mean": [0.5] * 2, "std": [0.2] * 2}, "one statistic per channel"),
        (
            {"scale": 1.0, "mean": [0.5] * 3, "std": [0.2] * 3, "dtype": "int64"},
            "preprocessing\\['dtype'\\]",
        ),
        ("standardise", "`preprocessing`"),
    ],
)
def test_bad_preprocessing_raises_value_error(tmp_path, preprocessing, match):
    with pytest.raises(ValueError, match=match):
        export_lib.export(_tiny_cnn(), str(tmp_path / "out"), preprocessing=preprocessing)
    assert not os.path.exists(tmp_path / "out")


# ----------------------------------------------------------------------------- safe-mode checks


def test_registered_keras_nash_layers_reload_in_safe_mode(tmp_path):
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.ReLU()(inputs)
    x = morph.ConvBNReLU(3, 3, identity_init=True)(x)
    outputs = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, outputs)
    x_in = _inputs(2, (6, 6, 3))
    paths = export_lib(
        model, str(tmp_path), formats=("keras",), architecture={"a": 1}
    )  # callable module
    assert list(paths) == ["keras"]
    reloaded = keras.saving.load_model(paths["keras"])
    np.testing.assert_allclose(
        reloaded.predict(x_in, verbose=0), model.predict(x_in, verbose=0), atol=1e-5
    )


@pytest.mark.parametrize(
    "architecture, expected",
    [
        ({"cells": [1, 2]}, {"cells": [1, 2]}),
        ('{"a": 1}', {"a": 1}),
        ("Genotype(normal=[])", "Genotype(normal=[])"),
    ],
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


@keras.saving.register_keras_serializable(package="keras_nash_tests")
class _Doubler(keras.layers.Layer):
    def call(self, inputs):
        return inputs * 2.0


class _UnregisteredDoubler(keras.layers.Layer):
    def call(self, inputs):
        return inputs * 2.0


def test_unregistered_layer_is_refused_registered_one_reloads(tmp_path):
    inputs = keras.Input((4,))
    registered = keras.Model(inputs, _Doubler()(inputs))
    paths = export_lib.export(registered, str(tmp_path / "ok"), formats="keras")
    assert keras.saving.load_model(paths["keras"]).predict(np.ones((1, 4)), verbose=0).tolist() == [
        [2.0] * 4
    ]
    unregistered = keras.Model(inputs, _UnregisteredDoubler(name="doubler")(inputs))
    with pytest.raises(ValueError, match="unregistered class .*_UnregisteredDoubler.*doubler"):
        export_lib.export(unregistered, str(tmp_path / "out"), formats="keras")
    assert not os.path.exists(tmp_path / "out")
