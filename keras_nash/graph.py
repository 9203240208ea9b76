"""Architecture: a network as plain data, a DAG of layer nodes with stable ids.

NASH's search coordinator reasons about architectures without building them (which conv can be
widened, which blocks share a spatial size), and its workers move weights between a parent and a
child by layer name. Both need the network as data: an `Architecture` is an ordered list of
`Node`s (op, inputs, config) plus the ids of the output nodes. It round-trips through JSON with a
schema version, validates itself (errors name the node), infers every node's output shape without
Keras, and builds a `keras.Model` whose layer names are the node ids. `Architecture.from_model`
reads a Keras functional (or Sequential) model made of supported layers, so a user can hand in
their own seed network.

Supported ops and their config keys (defaults in `OP_DEFAULTS`):

| op | inputs | config |
|---|---|---|
| input | 0 | shape |
| conv | 1 | filters, kernel_size, strides, padding, use_bias, kernel_initializer |
| batch_norm | 1 | epsilon, momentum, identity_init |
| relu, softmax, dropout | 1 | (dropout: rate) |
| max_pool, avg_pool | 1 | pool_size, strides, padding |
| global_avg_pool, flatten | 1 | |
| dense | 1 | units, activation, use_bias |
| add | >= 2 | |
| lambda_sum | 2 | initial_lambda |
| concat | >= 2 | |
"""

import copy
import dataclasses
import json
import math
import re

import keras
import numpy as np

from keras_nash.layers.morph import DiracInitializer, LambdaSum

SCHEMA_VERSION = 1

OP_DEFAULTS = {
    "input": {"shape": None},
    "conv": {
        "filters": None,
        "kernel_size": 3,
        "strides": 1,
        "padding": "same",
        "use_bias": False,
        "kernel_initializer": "he_normal",
    },
    "batch_norm": {"epsilon": 1e-3, "momentum": 0.99, "identity_init": False},
    "relu": {},
    "softmax": {},
    "dropout": {"rate": 0.5},
    "max_pool": {"pool_size": 2, "strides": None, "padding": "valid"},
    "avg_pool": {"pool_size": 2, "strides": None, "padding": "valid"},
    "global_avg_pool": {},
    "flatten": {},
    "dense": {"units": None, "activation": "linear", "use_bias": True},
    "add": {},
    "lambda_sum": {"initial_lambda": 1.0},
    "concat": {},
}

# Number of inputs each op takes: (minimum, maximum).
_ARITY = {"input": (0, 0), "add": (2, None), "concat": (2, None), "lambda_sum": (2, 2)}
# Ops whose Keras layer holds weights (what morphisms transform and what is copied by name).
WEIGHTED_OPS = ("conv", "batch_norm", "dense", "lambda_sum")
_ACTIVATIONS = ("linear", "relu", "softmax")


@dataclasses.dataclass
class Node:
    """One layer of an `Architecture`.

    Args:
        id: str, the node's stable id; also the name of its Keras layer.
        op: str, one of `OP_DEFAULTS`.
        inputs: list of str, the ids of the nodes it reads, in order.
        config: dict, the op's settings (missing keys take `OP_DEFAULTS`).
    """

    id: str
    op: str
    inputs: list = dataclasses.field(default_factory=list)
    config: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.inputs = list(self.inputs)
        self.config = _complete_config(self)

    def to_dict(self) -> dict:
        return {"id": self.id, "op": self.op, "inputs": list(self.inputs), "config": dict(self.config)}


class Architecture:
    """A network as a validated DAG of `Node`s with stable ids.

    Args:
        nodes: list of `Node` (or dicts with `id`, `op`, `inputs`, `config`). Any order: they are
            sorted topologically, keeping the given order where the graph allows.
        outputs: list of str, the ids of the output nodes. Defaults to the last node.

    Raises:
        ValueError: on an unknown op, a duplicate or dangling id, a cycle, a wrong number of
            inputs, a missing or invalid config value, or shapes that do not fit together;
            the message names the node.

    Example:

    >>> arch = Architecture([
    ...     Node("input", "input", [], {"shape": [8, 8, 3]}),
    ...     Node("conv_1", "conv", ["input"], {"filters": 4}),
    ...     Node("gap", "global_avg_pool", ["conv_1"]),
    ...     Node("logits", "dense", ["gap"], {"units": 10}),
    ... ])
    >>> arch.shape("conv_1")
    (8, 8, 4)
    >>> model = build_model(arch)
    """

    def __init__(self, nodes, outputs=None):
        nodes = [Node(**n) if isinstance(n, dict) else n for n in nodes]
        if not nodes:
            raise ValueError("An Architecture needs at least one node. Received: nodes=[]")
        self.nodes = _topological_sort(nodes)
        self.outputs = list(outputs) if outputs is not None else [nodes[-1].id]
        self.validate()

    # -- access -----------------------------------------------------------------------------
    def node(self, node_id: str) -> Node:
        """The node with id `node_id`; ValueError naming it when there is none."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise ValueError(f"No node with id {node_id!r} in the architecture. Known ids: {self.ids()}")

    def ids(self) -> list:
        return [node.id for node in self.nodes]

    def index(self, node_id: str) -> int:
        """Position of a node in topological order."""
        return self.ids().index(self.node(node_id).id)

    def consumers(self, node_id: str) -> list:
        """The nodes that read `node_id`'s output, in topological order."""
        return [node for node in self.nodes if node_id in node.inputs]

    @property
    def inputs(self) -> list:
        return [node.id for node in self.nodes if node.op == "input"]

    def shape(self, node_id: str) -> tuple:
        """Output shape of a node without the batch axis, e.g. `(16, 16, 64)` or `(10,)`."""
        return self.shapes()[node_id]

    def shapes(self) -> dict:
        """Output shapes of every node, inferred without Keras. Raises ValueError naming the
        node whose inputs do not fit."""
        shapes = {}
        for node in self.nodes:
            shapes[node.id] = _infer_shape(node, [shapes[i] for i in node.inputs])
        return shapes

    def next_id(self, prefix: str) -> str:
        """A fresh id `prefix_<k>`, with k one more than the largest used with that prefix."""
        pattern = re.compile(rf"^{re.escape(prefix)}_(\d+)$")
        used = [int(m.group(1)) for m in (pattern.match(i) for i in self.ids()) if m]
        return f"{prefix}_{max(used, default=0) + 1}"

    def count_params(self) -> int:
        """Number of parameters of the built model (trainable and not), computed from shapes."""
        shapes = self.shapes()
        total = 0
        for node in self.nodes:
            cfg = node.config
            if node.op == "conv":
                k = cfg["kernel_size"]
                total += k * k * shapes[node.inputs[0]][-1] * cfg["filters"] + (cfg["filters"] if cfg["use_bias"] else 0)
            elif node.op == "batch_norm":
                total += 4 * shapes[node.id][-1]
            elif node.op == "dense":
                total += shapes[node.inputs[0]][-1] * cfg["units"] + (cfg["units"] if cfg["use_bias"] else 0)
            elif node.op == "lambda_sum":
                total += 1
        return total

    # -- editing (used by morphisms; each returns nothing and keeps the DAG topological) --------
    def copy(self) -> "Architecture":
        return Architecture.from_dict(self.to_dict())

    def insert_after(self, anchor_id: str, new_nodes: list, rewire_from: str, rewire_to: str) -> None:
        """Insert `new_nodes` right after `anchor_id` and make every earlier consumer of
        `rewire_from` (and the outputs) read `rewire_to` instead. Does not validate."""
        old_consumers = self.consumers(rewire_from)
        position = self.index(anchor_id) + 1
        self.nodes[position:position] = new_nodes
        for node in old_consumers:
            node.inputs = [rewire_to if i == rewire_from else i for i in node.inputs]
        self.outputs = [rewire_to if o == rewire_from else o for o in self.outputs]

    # -- validation -------------------------------------------------------------------------
    def validate(self) -> None:
        """Check ids, ops, arity, configs, outputs and shapes. ValueError naming the node."""
        ids = self.ids()
        if not self.inputs:
            raise ValueError("The architecture has no 'input' node.")
        for out in self.outputs:
            if out not in ids:
                raise ValueError(f"Output {out!r} is not a node of the architecture. Known ids: {ids}")
        for node in self.nodes:
            lo, hi = _ARITY.get(node.op, (1, 1))
            if len(node.inputs) < lo or (hi is not None and len(node.inputs) > hi):
                expected = f"{lo}" if lo == hi else f"{lo} or more" if hi is None else f"{lo} to {hi}"
                raise ValueError(
                    f"Node {node.id!r} ({node.op}) takes {expected} inputs. Received: inputs={node.inputs}"
                )
            _check_config(node)
        self.shapes()

    # -- serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "nodes": [node.to_dict() for node in self.nodes],
            "outputs": list(self.outputs),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Architecture":
        if not isinstance(data, dict) or "nodes" not in data:
            raise ValueError(f"An architecture dict needs a 'nodes' list. Received keys: {list(data or {})}")
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"Unsupported architecture schema_version={version}; this keras_nash reads version "
                f"{SCHEMA_VERSION}."
            )
        return cls([Node(**copy.deepcopy(n)) for n in data["nodes"]], data.get("outputs"))

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str) -> "Architecture":
        return cls.from_dict(json.loads(text))

    def __eq__(self, other):
        return isinstance(other, Architecture) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return f"Architecture({len(self.nodes)} nodes, {self.count_params():,} params)"

    # -- Keras ------------------------------------------------------------------------------
    @classmethod
    def from_model(cls, model: keras.Model) -> "Architecture":
        """Read a Keras functional or Sequential model made of supported layers.

        Supported: InputLayer, Conv2D (channels_last, no dilation or groups, linear or ReLU
        activation: a ReLU becomes its own node `<name>_relu`), BatchNormalization (last axis,
        center and scale), ReLU, Activation (relu, softmax), MaxPooling2D, AveragePooling2D,
        GlobalAveragePooling2D, Flatten, Dense (linear, relu or softmax), Dropout, Add,
        Concatenate (last axis) and keras_nash's LambdaSum. Node ids are the layer names, so
        weights move between the model and `build_model(arch)` by name.

        Raises:
            ValueError: naming every layer that cannot be represented and why.
        """
        return _from_model(model)


def build_model(arch: Architecture, name: str | None = None) -> keras.Model:
    """Build the `keras.Model` of an architecture; each layer is named by its node id.

    Args:
        arch: the `Architecture`.
        name: optional model name.

    Returns:
        A functional `keras.Model` with fresh weights (identity-initialised blocks start as
        the identity; use `set_weights` to load inherited ones).
    """
    tensors = {}
    for node in arch.nodes:
        if node.op == "input":
            tensors[node.id] = keras.Input(shape=tuple(node.config["shape"]), name=node.id)
            continue
        layer = _make_layer(node)
        args = [tensors[i] for i in node.inputs]
        tensors[node.id] = layer(args if node.op in ("add", "concat", "lambda_sum") else args[0])
    inputs = [tensors[i] for i in arch.inputs]
    outputs = [tensors[o] for o in arch.outputs]
    return keras.Model(
        inputs=inputs[0] if len(inputs) == 1 else inputs,
        outputs=outputs[0] if len(outputs) == 1 else outputs,
        name=name,
    )


def get_weights(model: keras.Model, arch: Architecture) -> dict:
    """The weights of every weighted node as `{node_id: [numpy arrays]}` (Keras order)."""
    return {n.id: model.get_layer(n.id).get_weights() for n in arch.nodes if n.op in WEIGHTED_OPS}


def set_weights(model: keras.Model, weights: dict) -> None:
    """Load `{node_id: [arrays]}` into the layers of the same names; shapes must match."""
    for node_id, values in weights.items():
        layer = model.get_layer(node_id)
        expected = [tuple(w.shape) for w in layer.get_weights()]
        received = [tuple(np.shape(v)) for v in values]
        if expected != received:
            raise ValueError(
                f"Weights for node {node_id!r} have shapes {received}; the layer expects {expected}."
            )
        layer.set_weights(values)


# -- internals ------------------------------------------------------------------------------
def _complete_config(node: Node) -> dict:
    if node.op not in OP_DEFAULTS:
        raise ValueError(
            f"Node {node.id!r} has unknown op {node.op!r}. Supported ops: {sorted(OP_DEFAULTS)}"
        )
    unknown = set(node.config) - set(OP_DEFAULTS[node.op])
    if unknown:
        raise ValueError(
            f"Node {node.id!r} ({node.op}) has unknown config keys {sorted(unknown)}. "
            f"Allowed: {sorted(OP_DEFAULTS[node.op])}"
        )
    config = {**OP_DEFAULTS[node.op], **node.config}
    if node.op == "input" and config["shape"] is not None:
        config["shape"] = [int(d) for d in config["shape"]]
    if node.op in ("max_pool", "avg_pool") and config["strides"] is None:
        config["strides"] = config["pool_size"]
    return config


def _topological_sort(nodes: list) -> list:
    by_id = {}
    for node in nodes:
        if not isinstance(node.id, str) or not node.id:
            raise ValueError(f"Node ids must be non-empty strings. Received: id={node.id!r}")
        if node.id in by_id:
            raise ValueError(f"Duplicate node id {node.id!r}.")
        by_id[node.id] = node
    for node in nodes:
        for i in node.inputs:
            if i not in by_id:
                raise ValueError(f"Node {node.id!r} reads {i!r}, which is not a node of the architecture (dangling input).")
    placed, order = set(), []
    remaining = list(nodes)
    while remaining:
        ready = [n for n in remaining if all(i in placed for i in n.inputs)]
        if not ready:
            raise ValueError(
                f"The architecture has a cycle through nodes {sorted(n.id for n in remaining)}."
            )
        for node in ready:
            placed.add(node.id)
            order.append(node)
        remaining = [n for n in remaining if n.id not in placed]
    return order


def _positive_int(node, key):
    value = node.config[key]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Node {node.id!r} ({node.op}): `{key}` must be an int >= 1. Received: {key}={value!r}")


def _check_config(node: Node) -> None:
    cfg = node.config
    if node.op == "input":
        if not cfg["shape"] or len(cfg["shape"]) not in (1, 3) or min(cfg["shape"]) < 1:
            raise ValueError(f"Node {node.id!r} (input): `shape` must be (height, width, channels) or (features,). Received: shape={cfg['shape']}")
    elif node.op == "conv":
        for key in ("filters", "kernel_size", "strides"):
            _positive_int(node, key)
    elif node.op in ("max_pool", "avg_pool"):
        _positive_int(node, "pool_size")
        if cfg["strides"] is not None:
            _positive_int(node, "strides")
    elif node.op == "dense":
        _positive_int(node, "units")
        if cfg["activation"] not in _ACTIVATIONS:
            raise ValueError(f"Node {node.id!r} (dense): `activation` must be one of {_ACTIVATIONS}. Received: activation={cfg['activation']!r}")
    elif node.op == "dropout" and not 0 <= cfg["rate"] < 1:
        raise ValueError(f"Node {node.id!r} (dropout): `rate` must be in [0, 1). Received: rate={cfg['rate']}")
    if "padding" in cfg and cfg["padding"] not in ("same", "valid"):
        raise ValueError(f"Node {node.id!r} ({node.op}): `padding` must be 'same' or 'valid'. Received: padding={cfg['padding']!r}")


def _spatial(size, window, stride, padding):
    if padding == "same":
        return math.ceil(size / stride)
    return (size - window) // stride + 1


def _infer_shape(node: Node, in_shapes: list) -> tuple:
    cfg, op = node.config, node.op
    if op == "input":
        return tuple(cfg["shape"])

    def need_image():
        if len(in_shapes[0]) != 3:
            raise ValueError(f"Node {node.id!r} ({op}) needs an image input (height, width, channels). Received input shape: {in_shapes[0]}")
        return in_shapes[0]

    if op == "conv":
        h, w, _ = need_image()
        k, s = cfg["kernel_size"], cfg["strides"]
        out = (_spatial(h, k, s, cfg["padding"]), _spatial(w, k, s, cfg["padding"]), cfg["filters"])
    elif op in ("max_pool", "avg_pool"):
        h, w, c = need_image()
        k, s = cfg["pool_size"], cfg["strides"]
        out = (_spatial(h, k, s, cfg["padding"]), _spatial(w, k, s, cfg["padding"]), c)
    elif op == "global_avg_pool":
        out = (need_image()[-1],)
    elif op == "flatten":
        out = (int(np.prod(in_shapes[0])),)
    elif op == "dense":
        if len(in_shapes[0]) != 1:
            raise ValueError(f"Node {node.id!r} (dense) needs a flat input; add a flatten or global_avg_pool node. Received input shape: {in_shapes[0]}")
        out = (cfg["units"],)
    elif op in ("add", "lambda_sum"):
        if any(s != in_shapes[0] for s in in_shapes):
            raise ValueError(f"Node {node.id!r} ({op}) needs inputs of one shape. Received shapes: {dict(zip(node.inputs, in_shapes))}")
        out = in_shapes[0]
    elif op == "concat":
        if any(len(s) != len(in_shapes[0]) or s[:-1] != in_shapes[0][:-1] for s in in_shapes):
            raise ValueError(f"Node {node.id!r} (concat) needs inputs that differ only in channels. Received shapes: {dict(zip(node.inputs, in_shapes))}")
        out = in_shapes[0][:-1] + (sum(s[-1] for s in in_shapes),)
    else:  # batch_norm, relu, softmax, dropout
        out = in_shapes[0]
    if min(out) < 1:
        raise ValueError(f"Node {node.id!r} ({op}) has an empty output: shape {out} from input shapes {in_shapes}.")
    return tuple(int(d) for d in out)


def _make_layer(node: Node) -> keras.layers.Layer:
    cfg, name = node.config, node.id
    if node.op == "conv":
        init = DiracInitializer() if cfg["kernel_initializer"] == "dirac" else cfg["kernel_initializer"]
        return keras.layers.Conv2D(
            cfg["filters"], cfg["kernel_size"], strides=cfg["strides"], padding=cfg["padding"],
            use_bias=cfg["use_bias"], kernel_initializer=init, name=name,
        )
    if node.op == "batch_norm":
        gamma = keras.initializers.Constant(float(np.sqrt(1.0 + cfg["epsilon"]))) if cfg["identity_init"] else "ones"
        return keras.layers.BatchNormalization(epsilon=cfg["epsilon"], momentum=cfg["momentum"], gamma_initializer=gamma, name=name)
    if node.op == "relu":
        return keras.layers.ReLU(name=name)
    if node.op == "softmax":
        return keras.layers.Softmax(name=name)
    if node.op == "dropout":
        return keras.layers.Dropout(cfg["rate"], name=name)
    if node.op in ("max_pool", "avg_pool"):
        cls = keras.layers.MaxPooling2D if node.op == "max_pool" else keras.layers.AveragePooling2D
        return cls(cfg["pool_size"], strides=cfg["strides"], padding=cfg["padding"], name=name)
    if node.op == "global_avg_pool":
        return keras.layers.GlobalAveragePooling2D(name=name)
    if node.op == "flatten":
        return keras.layers.Flatten(name=name)
    if node.op == "dense":
        return keras.layers.Dense(cfg["units"], activation=cfg["activation"], use_bias=cfg["use_bias"], name=name)
    if node.op == "add":
        return keras.layers.Add(name=name)
    if node.op == "concat":
        return keras.layers.Concatenate(axis=-1, name=name)
    if node.op == "lambda_sum":
        return LambdaSum(cfg["initial_lambda"], name=name)
    raise ValueError(f"Node {node.id!r} has op {node.op!r}, which has no Keras layer.")


def _activation_name(layer) -> str:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", str(activation))


def _layer_to_nodes(layer, inputs: list):
    """Map one Keras layer to nodes; returns (nodes, problem) with problem a str or None."""
    name, cls = layer.name, type(layer).__name__
    L = keras.layers
    if isinstance(layer, L.InputLayer):
        return [Node(name, "input", [], {"shape": list(layer.batch_shape[1:])})], None
    if isinstance(layer, L.Conv2D) and type(layer) is L.Conv2D:
        cfg = layer.get_config()
        kernel, strides = cfg["kernel_size"], cfg["strides"]
        problems = []
        if cfg["data_format"] != "channels_last":
            problems.append("data_format must be channels_last")
        if tuple(cfg["dilation_rate"]) != (1, 1) or cfg["groups"] != 1:
            problems.append("dilation and groups are not supported")
        if kernel[0] != kernel[1] or strides[0] != strides[1]:
            problems.append("kernel_size and strides must be square")
        act = _activation_name(layer)
        if act not in ("linear", "relu"):
            problems.append(f"activation {act!r} (only linear or relu)")
        if problems:
            return [], "; ".join(problems)
        nodes = [Node(name, "conv", inputs, {"filters": cfg["filters"], "kernel_size": kernel[0], "strides": strides[0], "padding": cfg["padding"], "use_bias": cfg["use_bias"]})]
        if act == "relu":
            nodes.append(Node(f"{name}_relu", "relu", [name]))
        return nodes, None
    if isinstance(layer, L.BatchNormalization):
        if layer.axis not in (-1, 3) or not (layer.center and layer.scale):
            return [], "batch norm must normalise the last axis with center=True and scale=True"
        return [Node(name, "batch_norm", inputs, {"epsilon": float(layer.epsilon), "momentum": float(layer.momentum)})], None
    if isinstance(layer, L.ReLU):
        cfg = layer.get_config()
        if cfg.get("max_value") is not None or cfg.get("negative_slope") or cfg.get("threshold"):
            return [], "only a plain ReLU (no max_value, negative_slope or threshold)"
        return [Node(name, "relu", inputs)], None
    if isinstance(layer, L.Activation):
        act = _activation_name(layer)
        if act not in ("relu", "softmax"):
            return [], f"activation {act!r} (only relu or softmax)"
        return [Node(name, act, inputs)], None
    if isinstance(layer, L.Softmax):
        return [Node(name, "softmax", inputs)], None
    if isinstance(layer, (L.MaxPooling2D, L.AveragePooling2D)):
        cfg = layer.get_config()
        if cfg["pool_size"][0] != cfg["pool_size"][1] or cfg["strides"][0] != cfg["strides"][1]:
            return [], "pool_size and strides must be square"
        op = "max_pool" if isinstance(layer, L.MaxPooling2D) else "avg_pool"
        return [Node(name, op, inputs, {"pool_size": cfg["pool_size"][0], "strides": cfg["strides"][0], "padding": cfg["padding"]})], None
    if isinstance(layer, L.GlobalAveragePooling2D):
        if layer.keepdims:
            return [], "keepdims=True is not supported"
        return [Node(name, "global_avg_pool", inputs)], None
    if isinstance(layer, L.Flatten):
        return [Node(name, "flatten", inputs)], None
    if isinstance(layer, L.Dense):
        act = _activation_name(layer)
        if act not in _ACTIVATIONS:
            return [], f"activation {act!r} (only linear, relu or softmax)"
        return [Node(name, "dense", inputs, {"units": layer.units, "activation": act, "use_bias": layer.use_bias})], None
    if isinstance(layer, L.Dropout):
        return [Node(name, "dropout", inputs, {"rate": float(layer.rate)})], None
    if isinstance(layer, L.Add):
        return [Node(name, "add", inputs)], None
    if isinstance(layer, L.Concatenate):
        if layer.axis not in (-1, 3):
            return [], "only concatenation along the last (channel) axis"
        return [Node(name, "concat", inputs)], None
    if isinstance(layer, LambdaSum):
        return [Node(name, "lambda_sum", inputs, {"initial_lambda": layer.initial_lambda})], None
    return [], f"{cls} is not a supported layer"


def _from_model(model) -> Architecture:
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model. Received: {type(model).__name__}")
    if isinstance(model, keras.Sequential):
        if not model.built or getattr(model, "_functional", None) is None:
            raise ValueError("A Sequential `model` must be built with a known input shape (start it with keras.Input).")
        model = model._functional
    if not hasattr(model, "_nodes_by_depth") or not model.inputs:
        raise ValueError(f"`model` must be a functional or Sequential Keras model. Received a subclassed {type(model).__name__}.")
    nodes, problems, renamed = [], [], {}
    for layer in model.layers:
        inbound = layer._inbound_nodes
        if len(inbound) != 1:
            problems.append(f"layer {layer.name!r} ({type(layer).__name__}): used {len(inbound)} times; shared layers are not supported")
            continue
        inputs = [renamed.get(t._keras_history[0].name, t._keras_history[0].name) for t in inbound[0].input_tensors]
        new_nodes, problem = _layer_to_nodes(layer, inputs)
        if problem:
            problems.append(f"layer {layer.name!r} ({type(layer).__name__}): {problem}")
            continue
        nodes.extend(new_nodes)
        renamed[layer.name] = new_nodes[-1].id
    if problems:
        raise ValueError("Architecture.from_model cannot represent these layers:\n  " + "\n  ".join(problems))
    outputs = [renamed[t._keras_history[0].name] for t in model.outputs]
    return Architecture(nodes, outputs)
