"""Export a found network: `.keras`, SavedModel, TFLite and the architecture as JSON.

A search ends with a Keras model and the plain-data architecture it was built from. `export`
writes the artifacts a user deploys or reloads, each with the tool made for it:

- `model.keras`: the Keras 3 archive (`model.save`). keras_nash layers are registered with
  `keras.saving.register_keras_serializable(package="keras_nash")`, so it loads back with plain
  `keras.saving.load_model(path)` in safe mode, without `custom_objects`. Models that could
  not load that way (a Lambda layer, an unregistered custom layer) are refused before anything
  is written.
- `saved_model/`: a TensorFlow SavedModel with a `serve` endpoint, written by
  `model.export(path)` (Keras's ExportArchive): `tf.saved_model.load(path).serve(x)`.
- `model.tflite`: a TFLite flatbuffer converted from that SavedModel with
  `tf.lite.TFLiteConverter` (TFLite built-in ops, falling back to select TF ops when needed).
- `architecture.json`: the architecture (an object with `to_json()`, a dict, or a JSON string).

The module itself is callable: `keras_nash.export(model, directory)` calls `export`, while
`keras_nash.export.export` and `keras_nash.export.load` stay reachable, so `keras_nash/__init__.py`
can expose the module (`from keras_nash import export`) without a function shadowing it.
"""

import json
import os
import sys
import tempfile
import types

import keras
from absl import logging

FORMATS = ("keras", "saved_model", "tflite", "json")
KERAS_FILE = "model.keras"
SAVED_MODEL_DIR = "saved_model"
TFLITE_FILE = "model.tflite"
ARCHITECTURE_FILE = "architecture.json"


def export(
    model: keras.Model,
    directory: str,
    *,
    architecture=None,
    formats=FORMATS,
) -> dict[str, str]:
    """Write a model (and its architecture) into `directory` in the requested formats.

    Args:
        model: the `keras.Model` to export.
        directory: output directory, created when missing; existing files of the same names
            are replaced.
        architecture: optional architecture to write as `architecture.json`: an object with a
            `to_json()` method (e.g. `keras_nash.graph.Architecture`), a JSON-serialisable dict
            or list, or a string (JSON text is written as parsed JSON, other text as a JSON
            string). Defaults to None (no JSON file).
        formats: any of `"keras"`, `"saved_model"`, `"tflite"`, `"json"` (a single name is
            accepted too). `"json"` writes nothing without an `architecture`. Defaults to all.

    Returns:
        A dict from each format written to its path.

    Raises:
        ValueError: `model` is not a `keras.Model`, `formats` names an unknown format,
            `architecture` is not JSON-serialisable, or the model would not reload from a
            `.keras` file in safe mode.

    Example:

    >>> paths = keras_nash.export(best_model, "exported/", architecture=arch)
    >>> sorted(paths)
    ['json', 'keras', 'saved_model', 'tflite']
    >>> reloaded = keras.saving.load_model(paths["keras"])
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model. Received: model of type {type(model).__name__}")
    formats = _check_formats(formats)
    if not isinstance(directory, (str, os.PathLike)):
        raise ValueError(f"`directory` must be a path. Received: directory={directory!r}")
    architecture_text = None
    if "json" in formats and architecture is not None:
        architecture_text = _architecture_json(architecture)
    if "keras" in formats:
        _check_safe_mode_loadable(model)

    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    paths = {}
    if "keras" in formats:
        paths["keras"] = os.path.join(directory, KERAS_FILE)
        model.save(paths["keras"])
    if "saved_model" in formats:
        paths["saved_model"] = os.path.join(directory, SAVED_MODEL_DIR)
        model.export(paths["saved_model"], format="tf_saved_model", verbose=False)
    if "tflite" in formats:
        paths["tflite"] = os.path.join(directory, TFLITE_FILE)
        if "saved_model" in paths:
            flatbuffer = _convert_to_tflite(paths["saved_model"])
        else:
            with tempfile.TemporaryDirectory() as scratch:
                saved_model = os.path.join(scratch, SAVED_MODEL_DIR)
                model.export(saved_model, format="tf_saved_model", verbose=False)
                flatbuffer = _convert_to_tflite(saved_model)
        with open(paths["tflite"], "wb") as file:
            file.write(flatbuffer)
    if architecture_text is not None:
        paths["json"] = os.path.join(directory, ARCHITECTURE_FILE)
        with open(paths["json"], "w", encoding="utf-8") as file:
            file.write(architecture_text)
    logging.info("Exported %s to %s", ", ".join(sorted(paths)), directory)
    return paths


def load(directory: str) -> keras.Model:
    """Reload the `.keras` model written by `export` (plain `keras.saving.load_model`, safe mode).

    Args:
        directory: the directory given to `export`, or the path of a `.keras` file.

    Returns:
        The reloaded `keras.Model`.

    Example:

    >>> model = keras_nash.export.load("exported/")
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
        raise ValueError(f"`formats` must be a sequence of format names. Received: formats={formats!r}") from None
    unknown = [name for name in formats if name not in FORMATS]
    if unknown or not formats:
        raise ValueError(
            f"`formats` must be a non-empty selection of {list(FORMATS)}. Received: formats={formats!r}"
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


def _check_safe_mode_loadable(model):
    """Refuse models whose `.keras` file would need `custom_objects` or unsafe deserialisation."""
    for layer in model._flatten_layers(include_self=False, recursive=True):
        cls = type(layer)
        if isinstance(layer, keras.layers.Lambda):
            raise ValueError(
                f"`model` has a Lambda layer ({layer.name!r}); a .keras file with one does not "
                "load in safe mode. Replace it with a registered custom layer."
            )
        if cls.__module__.startswith("keras."):
            continue
        registered = keras.saving.get_registered_object(keras.saving.get_registered_name(cls))
        if registered is not cls:
            raise ValueError(
                f"`model` has a layer of the unregistered class {cls.__module__}.{cls.__qualname__} "
                f"({layer.name!r}); register it with keras.saving.register_keras_serializable() so "
                "the .keras file loads without custom_objects."
            )


def _convert_to_tflite(saved_model_dir) -> bytes:
    """TFLite flatbuffer of a SavedModel: built-in ops, else built-in plus select TF ops."""
    import tensorflow as tf

    try:
        return tf.lite.TFLiteConverter.from_saved_model(saved_model_dir).convert()
    except Exception as error:  # the converter raises its own ConverterError types
        logging.warning("TFLite conversion with built-in ops failed (%s); retrying with select TF ops", error)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        return converter.convert()


class _CallableModule(types.ModuleType):
    """This module's type: calling the module calls `export`."""

    def __call__(self, model, directory, **kwargs):
        return export(model, directory, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
