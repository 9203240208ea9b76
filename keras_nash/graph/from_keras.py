"""From Keras to an Architecture: read a functional or Sequential model into nodes.

The model is read through its public serialised form, `model.get_config()`, the description a
`.keras` file stores: a functional model lists its layers, each with `name`, `class_name`,
`config` and `inbound_nodes` (the tensors each call read, as `keras_history` triples
`[layer name, node index, tensor index]`), plus `input_layers` and `output_layers`; a
Sequential model lists its layers in order. `READERS` maps each supported layer class to a
function from its config to nodes; `keras_nash.graph.to_keras` builds the same layers back.

Example:

>>> import keras
>>> from keras_nash.graph.from_keras import read_model
>>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="logits")])
>>> nodes, outputs = read_model(model)
>>> [(n.op, n.inputs) for n in nodes], outputs  # doctest: +ELLIPSIS
([('input', []), ('dense', ['input_layer...'])], ['logits'])
"""

import keras

from keras_nash.graph.node import ACTIVATIONS, Node

# The one LambdaSum of keras_nash, as its `registered_name` in a model config.
_LAMBDA_SUM = "keras_nash>LambdaSum"


class _Unsupported(ValueError):
    """A layer that has no node equivalent; the message says why."""


def read_model(model: keras.Model) -> tuple:
    """The nodes and output ids of a functional or built Sequential Keras model.

    Args:
        model: the `keras.Model`.

    Returns:
        `(nodes, outputs)`: a list of `Node` in the model's layer order and the list of output
        node ids, ready for `Architecture(nodes, outputs)`.

    Raises:
        ValueError: naming every layer that cannot be represented and why, or saying what
            kind of model was received when it is neither functional nor Sequential.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model. Received: model={type(model).__name__}")
    try:
        config = model.get_config()
    except NotImplementedError:
        raise ValueError(
            "`model` must be a functional or Sequential Keras model that `get_config()` can "
            f"describe. Received: a {type(model).__name__} whose get_config() raises "
            "NotImplementedError (a subclassed model, or a custom layer without get_config)."
        ) from None
    if isinstance(model, keras.Sequential):
        entries = _sequential_entries(config["layers"])
        outputs = [_name(entries[-1])]
    elif "layers" in config and "output_layers" in config:
        entries = config["layers"]
        outputs = [history[0] for history in _histories(config["output_layers"])]
    else:
        raise ValueError(
            "`model` must be a functional or Sequential Keras model. Received a subclassed "
            f"{type(model).__name__}."
        )
    nodes, problems, renamed = [], [], {}
    for entry in entries:
        name, class_name = _name(entry), entry["class_name"]
        try:
            calls = entry["inbound_nodes"]
            if len(calls) > 1:
                raise _Unsupported(f"used {len(calls)} times; shared layers are not supported")
            inputs = [renamed.get(h[0], h[0]) for h in _histories(calls)]
            new_nodes = _read_layer(entry, inputs)
        except _Unsupported as problem:
            problems.append(f"layer {name!r} ({class_name}): {problem}")
            continue
        nodes.extend(new_nodes)
        renamed[name] = new_nodes[-1].id  # a conv's fused ReLU becomes the node it feeds
    if problems:
        raise ValueError(
            "Architecture.from_model cannot represent these layers:\n  " + "\n  ".join(problems)
        )
    return nodes, [renamed[name] for name in outputs]


def _name(entry: dict) -> str:
    return entry.get("name", entry["config"]["name"])


def _sequential_entries(entries: list) -> list:
    """A Sequential model's layer list with the functional `inbound_nodes` added: a chain."""
    if not entries or entries[0]["class_name"] != "InputLayer":
        raise ValueError(
            "A Sequential `model` must be built with a known input shape (start it with "
            "keras.Input)."
        )
    chained = [{**entries[0], "inbound_nodes": []}]
    for entry in entries[1:]:
        history = {
            "class_name": "__keras_tensor__",
            "config": {"keras_history": [_name(chained[-1]), 0, 0]},
        }
        chained.append({**entry, "inbound_nodes": [{"args": [history], "kwargs": {}}]})
    return chained


def _histories(structure) -> list:
    """Every `[layer name, node index, tensor index]` triple in a nested config structure.

    Covers inbound nodes (tensors serialised as `{"class_name": "__keras_tensor__",
    "config": {"keras_history": [...]}}`, anywhere in a call's args and kwargs) and a model's
    `input_layers`/`output_layers` (a triple, a list of triples or a dict of them).
    """
    if isinstance(structure, dict):
        if structure.get("class_name") == "__keras_tensor__":
            return [structure["config"]["keras_history"]]
        return [h for value in structure.values() for h in _histories(value)]
    if isinstance(structure, (list, tuple)):
        if len(structure) == 3 and isinstance(structure[0], str) and isinstance(structure[1], int):
            return [list(structure)]
        return [h for item in structure for h in _histories(item)]
    return []


def _read_layer(entry: dict, inputs: list) -> list:
    """The nodes of one layer config; `_Unsupported` says why there are none."""
    if entry.get("module") == "keras.layers":
        kind = entry["class_name"]
    else:  # a custom layer: only a registered one (`package>Name`) can be recognised
        kind = entry.get("registered_name") or ""
    if entry["class_name"] in ("Functional", "Sequential"):
        raise _Unsupported(
            "nested models are not supported; build the network from layers directly"
        )
    if kind not in READERS:
        raise _Unsupported(f"{entry['class_name']} is not a supported layer")
    return READERS[kind](_name(entry), entry["config"], inputs)


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise _Unsupported(reason)


def _channels_last(cfg: dict) -> None:
    _require(
        cfg.get("data_format", "channels_last") == "channels_last",
        "data_format must be channels_last",
    )


def _square(cfg: dict, *keys) -> dict:
    """The window settings of a 2D conv or pooling layer as ints; square windows only."""
    _channels_last(cfg)
    values = {key: tuple(cfg[key]) for key in keys}
    _require(all(v[0] == v[1] for v in values.values()), f"{' and '.join(keys)} must be square")
    return {key: int(v[0]) for key, v in values.items()}


def _input(name, cfg, inputs):
    shape = list(cfg["batch_shape"][1:])
    _require(None not in shape, f"every input dimension must be known. Received: shape={shape}")
    return [Node(name, "input", [], {"shape": shape})]


def _conv(name, cfg, inputs):
    window = _square(cfg, "kernel_size", "strides")
    _require(
        tuple(cfg["dilation_rate"]) == (1, 1) and cfg["groups"] == 1,
        "dilation and groups are not supported",
    )
    activation = cfg["activation"]
    _require(activation in ("linear", "relu"), f"activation {activation!r} (only linear or relu)")
    settings = {
        "filters": cfg["filters"],
        **window,
        "padding": cfg["padding"],
        "use_bias": cfg["use_bias"],
    }
    nodes = [Node(name, "conv", inputs, settings)]
    if activation == "relu":
        nodes.append(Node(f"{name}_relu", "relu", [name]))
    return nodes


def _batch_norm(name, cfg, inputs):
    _require(
        cfg["axis"] in (-1, 3) and cfg["center"] and cfg["scale"],
        "batch norm must normalise the last axis with center=True and scale=True",
    )
    return [
        Node(
            name,
            "batch_norm",
            inputs,
            {"epsilon": float(cfg["epsilon"]), "momentum": float(cfg["momentum"])},
        )
    ]


def _relu(name, cfg, inputs):
    _require(
        cfg.get("max_value") is None and not cfg.get("negative_slope") and not cfg.get("threshold"),
        "only a plain ReLU (no max_value, negative_slope or threshold)",
    )
    return [Node(name, "relu", inputs)]


def _activation(name, cfg, inputs):
    _require(
        cfg["activation"] in ("relu", "softmax"),
        f"activation {cfg['activation']!r} (only relu or softmax)",
    )
    return [Node(name, cfg["activation"], inputs)]


def _pool(op):
    def read(name, cfg, inputs):
        window = _square(cfg, "pool_size", "strides")
        return [Node(name, op, inputs, {**window, "padding": cfg["padding"]})]

    return read


def _global_avg_pool(name, cfg, inputs):
    _channels_last(cfg)
    _require(not cfg["keepdims"], "keepdims=True is not supported")
    return [Node(name, "global_avg_pool", inputs)]


def _dense(name, cfg, inputs):
    activation = cfg["activation"]
    _require(activation in ACTIVATIONS, f"activation {activation!r} (only linear, relu or softmax)")
    return [
        Node(
            name,
            "dense",
            inputs,
            {"units": cfg["units"], "activation": activation, "use_bias": cfg["use_bias"]},
        )
    ]


def _concat(name, cfg, inputs):
    _require(cfg["axis"] in (-1, 3), "only concatenation along the last (channel) axis")
    return [Node(name, "concat", inputs)]


def _flatten(name, cfg, inputs):
    _channels_last(cfg)  # channels_first would reorder the features
    return [Node(name, "flatten", inputs)]


def _plain(op):
    """A reader for a layer with no settings to carry over."""
    return lambda name, cfg, inputs: [Node(name, op, inputs)]


# Layer kind (class name, or `package>Name` for a registered custom layer) -> reader.
READERS = {
    "InputLayer": _input,
    "Conv2D": _conv,
    "BatchNormalization": _batch_norm,
    "ReLU": _relu,
    "Activation": _activation,
    "Softmax": _plain("softmax"),
    "MaxPooling2D": _pool("max_pool"),
    "AveragePooling2D": _pool("avg_pool"),
    "GlobalAveragePooling2D": _global_avg_pool,
    "Flatten": _flatten,
    "Dense": _dense,
    "Dropout": lambda name, cfg, inputs: [
        Node(name, "dropout", inputs, {"rate": float(cfg["rate"])})
    ],
    "Add": _plain("add"),
    "Concatenate": _concat,
    _LAMBDA_SUM: lambda name, cfg, inputs: [
        Node(name, "lambda_sum", inputs, {"initial_lambda": float(cfg["initial_lambda"])})
    ],
}
