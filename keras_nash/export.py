"""Export a found network: `.keras`, SavedModel, TFLite, and its architecture and preprocessing as
JSON.

A search ends with a Keras model and the plain-data architecture it was built from. `export`
writes the artifacts a user deploys or reloads, each with the tool made for it:

- `model.keras`: the Keras 3 archive (`model.save`). keras_nash layers are registered with
  `keras.saving.register_keras_serializable(package="keras_nash")`, so it loads back with plain
  `keras.saving.load_model(path)` in safe mode, without `custom_objects`. Models that could
  not load that way (a Lambda layer, an unregistered custom class anywhere in the model's
  serialised config) are refused before anything is written.
- `saved_model/`: a TensorFlow SavedModel with a `serve` endpoint, written by
  `model.export(path)` (Keras's ExportArchive): `tf.saved_model.load(path).serve(x)`.
- `model.tflite`: a TFLite flatbuffer converted from that SavedModel with
  `tf.lite.TFLiteConverter` (TFLite built-in ops, falling back to select TF ops when needed).
- `architecture.json`: the architecture (an object with `to_json()`, a dict, or a JSON string),
  exactly as given.
- `preprocessing.json`: with `preprocessing`, the standardisation built into the exported
  models, `{"dtype": "uint8", "scale": 1/255, "mean": [...], "std": [...]}` (the format of
  `keras_nash.datasets.Data.preprocessing`).

Serving raw images. A network found by a search expects standardised images,
`(raw * scale - mean) / std` per channel. Given `preprocessing` (a `keras_nash.datasets.Data`
or its `preprocessing` dict), every exported model takes raw images instead: it is the
functional model `raw images -> keras.layers.Rescaling(scale) ->
keras.layers.Normalization(mean, std ** 2) -> the model` (built-in layers only, so it stays
loadable in safe mode). The `.keras` model takes float32 input and accepts any dtype that
casts to it (uint8 pixels, floats in 0..255); the SavedModel's `serve` signature and the
TFLite input take `preprocessing["dtype"]` (uint8 for 8-bit sources; float32 when the key is
absent), shape `(batch, H, W, C)`. H, W, C come from the model: its `inputs` when functional,
else the shape it was built with, so a subclassed model must have been called (or built) once.

The module itself is callable: `keras_nash.export(model, directory)` calls `export`, while
`keras_nash.export.export` and `keras_nash.export.load` stay reachable, so `keras_nash/__init__.py`
can expose the module (`from keras_nash import export`) without a function shadowing it.
"""

import json
import math
import numbers
import os
import sys
import tempfile
import types

import keras

from keras_nash.checks import check_choice, check_float
from keras_nash.logs import logger

FORMATS = ("keras", "saved_model", "tflite", "json")
KERAS_FILE = "model.keras"
SAVED_MODEL_DIR = "saved_model"
TFLITE_FILE = "model.tflite"
ARCHITECTURE_FILE = "architecture.json"
PREPROCESSING_FILE = "preprocessing.json"
VOCABULARY_FILE = "vocab.json"
RAW_DTYPES = ("uint8", "float32")  # the dtypes a raw-image SavedModel / TFLite model can take
_LOADABLE_PACKAGES = ("keras", "keras_hub", "keras_cv", "keras_nlp")  # Keras imports these itself


def export(
    model: keras.Model,
    directory: str,
    *,
    architecture=None,
    formats=FORMATS,
    preprocessing=None,
    vocabulary=None,
) -> dict[str, str]:
    """Write a model (and its architecture) into `directory` in the requested formats.

    Args:
        model: the `keras.Model` to export (functional, Sequential, or a subclassed model that
            has been built).
        directory: output directory, created when missing; existing files of the same names
            are replaced.
        architecture: optional architecture to write as `architecture.json`: an object with a
            `to_json()` method (e.g. `keras_nash.graph.Architecture`), a JSON-serialisable dict
            or list, or a string (JSON text is written as parsed JSON, other text as a JSON
            string). Defaults to None (no architecture file).
        formats: any of `"keras"`, `"saved_model"`, `"tflite"`, `"json"` (a single name is
            accepted too). `"json"` writes `architecture.json` and `preprocessing.json` for
            what is given, nothing when neither is. Defaults to all.
        preprocessing: None, a `keras_nash.datasets.Data`, or its `preprocessing` dict
            `{"scale": float > 0, "mean": [float] * C, "std": [float > 0] * C, "dtype":
            "uint8" | "float32" (optional)}`. When given, the exported models take raw images
            and standardise them, `(raw * scale - mean) / std` (see the module docstring).
            Defaults to None (the models take what `model` takes).
        vocabulary: None, or a language model's vocabulary (a
            `keras_nash.datasets.Vocabulary`: anything with `to_json()`), written beside the
            model as `vocab.json` so that token ids can be read from the export alone.
            Defaults to None.

    Returns:
        A dict from each format written to its path; `"json"` is the architecture file,
        `"preprocessing"` the preprocessing file and `"vocabulary"` the vocabulary file when
        one was written.

    Raises:
        ValueError: `model` is not a `keras.Model`, `formats` names an unknown format,
            `architecture` is not JSON-serialisable, `preprocessing` is malformed or does not
            fit the model's input, or the model would not reload from a `.keras` file in safe
            mode. Nothing is written then.

    Example:

    >>> import keras, numpy as np, keras_nash
    >>> data = keras_nash.datasets.load("default")
    >>> model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(10)])
    >>> paths = keras_nash.export(model, "exported/", preprocessing=data, formats=("keras", "json"))
    >>> sorted(paths)
    ['keras', 'preprocessing']
    >>> raw_model = keras.saving.load_model(paths["keras"])
    >>> images = np.zeros((2, 32, 32, 3), "uint8")  # raw pixels, 0-255
    >>> tuple(raw_model.predict(images, verbose=0).shape)
    (2, 10)
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`model` must be a keras.Model. Received: model of type {type(model).__name__}"
        )
    formats = _check_formats(formats)
    if not isinstance(directory, (str, os.PathLike)):
        raise ValueError(f"`directory` must be a path. Received: directory={directory!r}")
    model, input_signature, texts = _prepare(
        model, formats, architecture, preprocessing, vocabulary
    )
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    paths = _write_models(model, directory, formats, input_signature)
    for key, name in (
        ("json", ARCHITECTURE_FILE),
        ("preprocessing", PREPROCESSING_FILE),
        ("vocabulary", VOCABULARY_FILE),
    ):
        if key in texts:
            paths[key] = os.path.join(directory, name)
            with open(paths[key], "w", encoding="utf-8") as file:
                file.write(texts[key])
    logger.info("Exported %s to %s", ", ".join(sorted(paths)), directory)
    return paths


def _prepare(model, formats, architecture, preprocessing, vocabulary):
    """Every check of `export` before a file is written: the model to save (taking raw images
    when `preprocessing` is given), its input signature, and the texts to write beside it."""
    texts = {}
    if "json" in formats and architecture is not None:
        texts["json"] = _architecture_json(architecture)
    input_signature = None
    if preprocessing is not None:
        preprocessing = _check_preprocessing(preprocessing)
        model = _raw_image_model(model, preprocessing)
        spec = model.inputs[0]
        input_signature = [_tensor_spec(spec.shape, preprocessing["dtype"])]
        if "json" in formats:
            texts["preprocessing"] = json.dumps(preprocessing, indent=2) + "\n"
    if vocabulary is not None:
        if not callable(getattr(vocabulary, "to_json", None)):
            raise ValueError(
                "`vocabulary` must be a keras_nash.datasets.Vocabulary (with `to_json()`). "
                f"Received: vocabulary of type {type(vocabulary).__name__}"
            )
        texts["vocabulary"] = vocabulary.to_json()
    if "keras" in formats:
        _check_safe_mode_loadable(model)
    return model, input_signature, texts


def _write_models(model, directory, formats, input_signature) -> dict:
    """The model's files in `directory`: `.keras`, SavedModel, TFLite (through a SavedModel)."""
    paths = {}
    if "keras" in formats:
        paths["keras"] = os.path.join(directory, KERAS_FILE)
        model.save(paths["keras"])
    if "saved_model" in formats:
        paths["saved_model"] = os.path.join(directory, SAVED_MODEL_DIR)
        model.export(
            paths["saved_model"],
            format="tf_saved_model",
            verbose=False,
            input_signature=input_signature,
        )
    if "tflite" in formats:
        paths["tflite"] = os.path.join(directory, TFLITE_FILE)
        with tempfile.TemporaryDirectory() as scratch:
            saved_model = paths.get("saved_model") or os.path.join(scratch, SAVED_MODEL_DIR)
            if "saved_model" not in paths:
                model.export(
                    saved_model,
                    format="tf_saved_model",
                    verbose=False,
                    input_signature=input_signature,
                )
            flatbuffer = _convert_to_tflite(saved_model)
        with open(paths["tflite"], "wb") as file:
            file.write(flatbuffer)
    return paths


def load(directory: str) -> keras.Model:
    """Reload the `.keras` model written by `export` (plain `keras.saving.load_model`, safe mode).

    Args:
        directory: the directory given to `export`, or the path of a `.keras` file.

    Returns:
        The reloaded `keras.Model` (taking raw images when exported with `preprocessing`).

    Example:

    >>> import keras, keras_nash
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> _ = keras_nash.export(model, "exported/", formats="keras")
    >>> keras_nash.export.load("exported/").count_params()
    10
    """
    path = os.fspath(directory)
    if os.path.isdir(path):
        path = os.path.join(path, KERAS_FILE)
    if not os.path.isfile(path):
        raise ValueError(
            f"`directory` must hold a {KERAS_FILE} written by export (or be a .keras file). "
            f"Received: directory={directory!r}"
        )
    return keras.saving.load_model(path)


def _check_formats(formats):
    if isinstance(formats, str):
        formats = (formats,)
    try:
        formats = tuple(formats)
    except TypeError:
        raise ValueError(
            f"`formats` must be a sequence of format names. Received: formats={formats!r}"
        ) from None
    unknown = [name for name in formats if name not in FORMATS]
    if unknown or not formats:
        raise ValueError(
            f"`formats` must be a non-empty selection of {list(FORMATS)}. Received: "
            f"formats={formats!r}"
        )
    return formats


def _architecture_json(architecture) -> str:
    """The architecture as indented JSON text."""
    value = architecture.to_json() if hasattr(architecture, "to_json") else architecture
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass  # plain text (e.g. a genotype's repr) is written as a JSON string
    try:
        return json.dumps(value, indent=2) + "\n"
    except TypeError as error:
        raise ValueError(
            "`architecture` must have a to_json() method or be a JSON-serialisable dict, list or "
            f"str. Received: architecture of type {type(architecture).__name__} ({error})"
        ) from error


# ----------------------------------------------------------------------------------------------
# Raw-image models


def _check_preprocessing(preprocessing) -> dict:
    """The preprocessing record, checked, with Python floats: {"dtype", "scale", "mean", "std"}."""
    record = (
        preprocessing
        if isinstance(preprocessing, dict)
        else getattr(preprocessing, "preprocessing", None)
    )
    if not isinstance(record, dict) or not {"scale", "mean", "std"} <= set(record):
        raise ValueError(
            "`preprocessing` must be a keras_nash.datasets.Data or a dict with 'scale', 'mean' "
            f"and 'std' (and optionally 'dtype'). Received: preprocessing={preprocessing!r}"
        )
    mean, std = _floats("mean", record["mean"]), _floats("std", record["std"])
    if len(mean) != len(std) or not mean or min(std) <= 0:
        raise ValueError(
            "`preprocessing` must have one 'mean' and one 'std' > 0 per channel. "
            f"Received: mean={record['mean']!r}, std={record['std']!r}"
        )
    return {
        "dtype": check_choice("preprocessing['dtype']", record.get("dtype", "float32"), RAW_DTYPES),
        "scale": check_float(
            "preprocessing['scale']", record["scale"], minimum=0.0, exclusive=True
        ),
        "mean": mean,
        "std": std,
    }


def _floats(key, values) -> list:
    try:
        values = list(values)
    except TypeError:
        values = [values]
    if not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in values
    ):
        raise ValueError(
            f"`preprocessing['{key}']` must be a list of finite numbers, one per channel. "
            f"Received: preprocessing['{key}']={values!r}"
        )
    return [float(v) for v in values]


def _image_shape(model) -> tuple:
    """`(H, W, C)` of the one image input of `model`: its `inputs`, else its build shape."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if inputs:
        shapes = [tuple(tensor.shape) for tensor in inputs]
    else:
        build_config = model.get_build_config()
        if not build_config:
            raise ValueError(
                "`model` must be built before export with `preprocessing`, so its input shape is "
                "known: call it on a batch of images or `model.build((None, H, W, C))` first. "
                f"Received: an unbuilt model {model.name!r} of type {type(model).__name__}"
            )
        if "input_shape" in build_config:
            shapes = [tuple(build_config["input_shape"])]
        else:
            shapes = [tuple(shape) for shape in build_config.get("shapes_dict", {}).values()]
    if len(shapes) != 1 or len(shapes[0]) != 4 or shapes[0][-1] is None:
        raise ValueError(
            "`preprocessing` needs a model with one image input (batch, H, W, C) with a known "
            f"channel count. Received: model {model.name!r} with input shapes {shapes}"
        )
    return shapes[0][1:]


def _raw_image_model(model, preprocessing) -> keras.Model:
    """`raw images -> Rescaling -> Normalization -> model`, a functional model of built-in
    layers."""
    shape = _image_shape(model)
    if shape[-1] != len(preprocessing["mean"]):
        raise ValueError(
            f"`preprocessing` must have one statistic per channel of the model's input {shape}. "
            f"Received: {len(preprocessing['mean'])} means and stds"
        )
    raw = keras.Input(shape, dtype="float32", name="raw_images")
    x = keras.layers.Rescaling(preprocessing["scale"], name="raw_scale")(raw)
    variance = [std * std for std in preprocessing["std"]]
    x = keras.layers.Normalization(
        mean=preprocessing["mean"], variance=variance, name="raw_standardise"
    )(x)
    return keras.Model(raw, model(x), name=f"{model.name}_raw")


def _tensor_spec(shape, dtype):
    import tensorflow as tf

    return tf.TensorSpec(shape, tf.as_dtype(dtype), name="raw_images")


# ----------------------------------------------------------------------------------------------
# Safe-mode check and TFLite


def _check_safe_mode_loadable(model):
    """Refuse models whose `.keras` file would need `custom_objects` or unsafe deserialisation.

    Reads the model's serialised config (what `model.save` writes and `load_model` reads back):
    every object in it must be a Keras built-in or registered, and none a Lambda.
    """
    try:
        config = keras.saving.serialize_keras_object(model)
    except (NotImplementedError, TypeError, ValueError) as error:
        raise ValueError(
            f"`model` cannot be serialised for a .keras file ({type(error).__name__}: {error}). "
            "Give its custom layers a get_config() and register them with "
            "keras.saving.register_keras_serializable()."
        ) from error
    for entry in _serialised_objects(config):
        problem = _safe_mode_problem(entry)
        if problem:
            raise ValueError(f"`model` {problem}")


def _serialised_objects(value):
    """Every serialised object (a dict with a "class_name") nested in `value`, outermost first."""
    if isinstance(value, dict):
        if isinstance(value.get("class_name"), str):
            yield value
        for item in value.values():
            yield from _serialised_objects(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _serialised_objects(item)


def _safe_mode_problem(entry) -> str | None:
    """Why `load_model(safe_mode=True)` could not rebuild a serialised object, or None."""
    class_name, module = entry["class_name"], entry.get("module") or ""
    config = entry.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    keras_builtin = module.split(".", maxsplit=1)[0] in _LOADABLE_PACKAGES
    if class_name == "__lambda__" or (class_name == "Lambda" and keras_builtin):
        return (
            f"has a Lambda layer or function ({name!r}); a .keras file with one does not load in "
            "safe mode. Replace it with a registered custom layer."
        )
    if class_name.startswith("__") or keras_builtin:
        return None  # plain values (tuples, arrays, tensors) and Keras's own objects
    if class_name == "function":
        if module == "builtins" or keras.saving.get_registered_object(config) is not None:
            return None
        return (
            f"uses the unregistered function {module}.{config}; register it with "
            "keras.saving.register_keras_serializable() so the .keras file loads without "
            "custom_objects."
        )
    if keras.saving.get_registered_object(entry.get("registered_name") or class_name) is not None:
        return None
    return (
        f"has an object of the unregistered class {module}.{class_name} ({name!r}); register it "
        "with keras.saving.register_keras_serializable() so the .keras file loads without "
        "custom_objects."
    )


def _convert_to_tflite(saved_model_dir) -> bytes:
    """TFLite flatbuffer of a SavedModel: built-in ops, else built-in plus select TF ops."""
    import tensorflow as tf

    try:
        return tf.lite.TFLiteConverter.from_saved_model(saved_model_dir).convert()
    except Exception as error:  # the converter raises its own ConverterError types
        logger.warning(
            "TFLite conversion with built-in ops failed (%s); retrying with select TF ops", error
        )
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS,
            tf.lite.OpsSet.SELECT_TF_OPS,
        ]
        return converter.convert()


class _CallableModule(types.ModuleType):
    """This module's type: calling the module calls `export`."""

    def __call__(self, model, directory, **kwargs):
        return export(model, directory, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
