"""From an Architecture to Keras: build the model, and move weights in and out by node id.

Each node becomes one Keras layer named by the node's id, so the weights of a parent and a
morphed child line up by name (`get_weights` / `set_weights`). `LAYERS` is the table op ->
layer constructor; `keras_nash.graph.from_keras` reads the same layers back.

Example:

>>> from keras_nash.graph import Architecture, Node, build_model, get_weights, set_weights
>>> arch = Architecture([
...     Node("input", "input", [], {"shape": [4]}),
...     Node("logits", "dense", ["input"], {"units": 2}),
... ])
>>> weights = get_weights(build_model(arch), arch)
>>> [w.shape for w in weights["logits"]]
[(4, 2), (2,)]
>>> set_weights(build_model(arch), weights)
"""

import keras
import numpy as np

from keras_nash.graph.node import WEIGHTED_OPS
from keras_nash.layers.morph import DiracInitializer, LambdaSum

# Ops whose layer is called on the list of its inputs rather than on one tensor.
_MERGING_OPS = ("add", "concat", "lambda_sum")


def _conv(cfg, name):
    init = DiracInitializer() if cfg["kernel_initializer"] == "dirac" else cfg["kernel_initializer"]
    return keras.layers.Conv2D(
        cfg["filters"],
        cfg["kernel_size"],
        strides=cfg["strides"],
        padding=cfg["padding"],
        use_bias=cfg["use_bias"],
        kernel_initializer=init,
        name=name,
    )


def _batch_norm(cfg, name):
    # identity_init: gamma = sqrt(1 + epsilon) cancels the epsilon of the fresh unit variance.
    gamma = (
        keras.initializers.Constant(float(np.sqrt(1.0 + cfg["epsilon"])))
        if cfg["identity_init"]
        else "ones"
    )
    return keras.layers.BatchNormalization(
        epsilon=cfg["epsilon"], momentum=cfg["momentum"], gamma_initializer=gamma, name=name
    )


def _pool(layer_class):
    def make(cfg, name):
        return layer_class(
            cfg["pool_size"], strides=cfg["strides"], padding=cfg["padding"], name=name
        )

    return make


# op -> constructor(config, name) of its Keras layer.
LAYERS = {
    "conv": _conv,
    "batch_norm": _batch_norm,
    "relu": lambda cfg, name: keras.layers.ReLU(name=name),
    "softmax": lambda cfg, name: keras.layers.Softmax(name=name),
    "dropout": lambda cfg, name: keras.layers.Dropout(cfg["rate"], name=name),
    "max_pool": _pool(keras.layers.MaxPooling2D),
    "avg_pool": _pool(keras.layers.AveragePooling2D),
    "global_avg_pool": lambda cfg, name: keras.layers.GlobalAveragePooling2D(name=name),
    "flatten": lambda cfg, name: keras.layers.Flatten(name=name),
    "dense": lambda cfg, name: keras.layers.Dense(
        cfg["units"], activation=cfg["activation"], use_bias=cfg["use_bias"], name=name
    ),
    "add": lambda cfg, name: keras.layers.Add(name=name),
    "concat": lambda cfg, name: keras.layers.Concatenate(axis=-1, name=name),
    "lambda_sum": lambda cfg, name: LambdaSum(cfg["initial_lambda"], name=name),
}


def build_model(arch, name: str | None = None) -> keras.Model:
    """Build the `keras.Model` of an architecture; each layer is named by its node id.

    Args:
        arch: the `Architecture`.
        name: str or None, the model's name. Defaults to Keras's default.

    Returns:
        A functional `keras.Model` with fresh weights (identity-initialised blocks start as
        the identity; use `set_weights` to load inherited ones).
    """
    tensors = {}
    for node in arch.nodes:
        if node.op == "input":
            tensors[node.id] = keras.Input(shape=tuple(node.config["shape"]), name=node.id)
            continue
        layer = LAYERS[node.op](node.config, node.id)
        args = [tensors[i] for i in node.inputs]
        tensors[node.id] = layer(args if node.op in _MERGING_OPS else args[0])
    inputs = [tensors[i] for i in arch.inputs]
    outputs = [tensors[o] for o in arch.outputs]
    return keras.Model(
        inputs=inputs[0] if len(inputs) == 1 else inputs,
        outputs=outputs[0] if len(outputs) == 1 else outputs,
        name=name,
    )


def get_weights(model: keras.Model, arch) -> dict:
    """The weights of every weighted node as `{node_id: [numpy arrays]}` (Keras order).

    Args:
        model: the `keras.Model`, with a layer named by each weighted node's id.
        arch: the `Architecture` the model was built from.
    """
    return {n.id: model.get_layer(n.id).get_weights() for n in arch.nodes if n.op in WEIGHTED_OPS}


def set_weights(model: keras.Model, weights: dict) -> None:
    """Load `{node_id: [arrays]}` into the layers of the same names; shapes must match.

    Args:
        model: the `keras.Model`.
        weights: dict node id -> list of arrays, as `get_weights` gives.

    Raises:
        ValueError: naming the node whose arrays do not have the layer's shapes.
    """
    for node_id, values in weights.items():
        layer = model.get_layer(node_id)
        expected = [tuple(w.shape) for w in layer.get_weights()]
        received = [tuple(np.shape(v)) for v in values]
        if expected != received:
            raise ValueError(
                f"Weights for node {node_id!r} have shapes {received}; the layer expects "
                f"{expected}."
            )
        layer.set_weights(values)
