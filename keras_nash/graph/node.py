"""Node: one layer of an Architecture, as plain data, with its checks and shape arithmetic.

Everything here works on a single node and the shapes of its inputs, without Keras: the op
table (`OP_DEFAULTS`), completing and checking a node's config, inferring its output shape and
counting its parameters. `Architecture` runs these over the whole DAG.

Example:

>>> from keras_nash.graph.node import Node, infer_shape
>>> conv = Node("conv_1", "conv", ["input"], {"filters": 4, "strides": 2})
>>> infer_shape(conv, [(8, 8, 3)])
(4, 4, 4)
>>> count_params(conv, [(8, 8, 3)])
108
"""

import dataclasses
import math

from keras_nash.checks import check_choice, check_float, check_int

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
# Ops whose Keras layer holds weights (what morphisms transform and what is copied by name).
WEIGHTED_OPS = ("conv", "batch_norm", "dense", "lambda_sum")
# Activations a dense node may end with.
ACTIVATIONS = ("linear", "relu", "softmax")
PADDINGS = ("same", "valid")
# Number of inputs each op takes, (minimum, maximum); every other op takes exactly one.
_ARITY = {"input": (0, 0), "add": (2, None), "concat": (2, None), "lambda_sum": (2, 2)}
_POOLS = ("max_pool", "avg_pool")


@dataclasses.dataclass
class Node:
    """One layer of an `Architecture`.

    Missing config keys take their `OP_DEFAULTS` value; an unknown op or config key raises a
    ValueError naming the node.

    Args:
        id: str, the node's stable id; also the name of its Keras layer.
        op: str, one of `OP_DEFAULTS`.
        inputs: list of str, the ids of the nodes it reads, in order. Defaults to none.
        config: dict, the op's settings. Defaults to the op's defaults.

    Example:

    >>> from keras_nash.graph import Node
    >>> Node("pool_1", "max_pool", ["relu_1"]).config
    {'pool_size': 2, 'strides': 2, 'padding': 'valid'}
    """

    id: str
    op: str
    inputs: list = dataclasses.field(default_factory=list)
    config: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.inputs = list(self.inputs)
        self.config = _complete_config(self)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "op": self.op,
            "inputs": list(self.inputs),
            "config": dict(self.config),
        }


def check_node(node: Node) -> None:
    """Check a node's number of inputs and its config values; ValueError naming the node."""
    low, high = _ARITY.get(node.op, (1, 1))
    if len(node.inputs) < low or (high is not None and len(node.inputs) > high):
        expected = (
            f"{low}" if low == high else f"{low} or more" if high is None else f"{low} to {high}"
        )
        raise ValueError(
            f"Node {node.id!r} ({node.op}) takes {expected} inputs. Received: inputs={node.inputs}"
        )
    cfg = node.config
    if node.op == "input":
        shape = cfg["shape"]
        if not shape or len(shape) not in (1, 3) or min(shape) < 1:
            raise ValueError(
                f"Node {node.id!r} (input): `shape` must be (height, width, channels) or "
                f"(features,). Received: shape={shape}"
            )
    positive = {"conv": ("filters", "kernel_size", "strides"), "dense": ("units",)}
    positive.update({pool: ("pool_size", "strides") for pool in _POOLS})
    for key in positive.get(node.op, ()):
        _check_value(node, key, check_int, minimum=1)
    if node.op == "dense":
        _check_value(node, "activation", check_choice, ACTIVATIONS)
    if node.op == "dropout":
        _check_value(node, "rate", check_float, minimum=0.0)
        if cfg["rate"] >= 1:
            raise ValueError(
                f"Node {node.id!r} (dropout): `rate` must be in [0, 1). Received: "
                f"rate={cfg['rate']}"
            )
    if "padding" in cfg:
        _check_value(node, "padding", check_choice, PADDINGS)


def infer_shape(node: Node, in_shapes: list) -> tuple:
    """Output shape of `node` (no batch axis) given its inputs' shapes; ValueError naming it."""
    cfg, op = node.config, node.op
    if op == "input":
        return tuple(cfg["shape"])
    first = tuple(in_shapes[0])
    if op in ("conv", "global_avg_pool", *_POOLS) and len(first) != 3:
        raise ValueError(
            f"Node {node.id!r} ({op}) needs an image input (height, width, channels). "
            f"Received input shape: {first}"
        )
    if op == "conv":
        out = _window(first, cfg["kernel_size"], cfg["strides"], cfg["padding"]) + (cfg["filters"],)
    elif op in _POOLS:
        out = _window(first, cfg["pool_size"], cfg["strides"], cfg["padding"]) + first[-1:]
    elif op == "global_avg_pool":
        out = first[-1:]
    elif op == "flatten":
        out = (math.prod(first),)
    elif op == "dense":
        if len(first) != 1:
            raise ValueError(
                f"Node {node.id!r} (dense) needs a flat input; add a flatten or global_avg_pool "
                f"node. Received input shape: {first}"
            )
        out = (cfg["units"],)
    elif op in ("add", "lambda_sum"):
        if any(tuple(s) != first for s in in_shapes):
            raise ValueError(
                f"Node {node.id!r} ({op}) needs inputs of one shape. Received shapes: "
                f"{dict(zip(node.inputs, in_shapes))}"
            )
        out = first
    elif op == "concat":
        if any(len(s) != len(first) or tuple(s[:-1]) != first[:-1] for s in in_shapes):
            raise ValueError(
                f"Node {node.id!r} (concat) needs inputs that differ only in channels. Received "
                f"shapes: {dict(zip(node.inputs, in_shapes))}"
            )
        out = first[:-1] + (sum(s[-1] for s in in_shapes),)
    else:  # batch_norm, relu, softmax, dropout
        out = first
    if min(out) < 1:
        raise ValueError(
            f"Node {node.id!r} ({op}) has an empty output: shape {out} from input shapes "
            f"{in_shapes}."
        )
    return tuple(int(d) for d in out)


def count_params(node: Node, in_shapes: list) -> int:
    """Number of parameters (trainable and not) of the node's Keras layer."""
    cfg = node.config
    if node.op == "conv":
        kernel = cfg["kernel_size"] ** 2 * in_shapes[0][-1] * cfg["filters"]
        return kernel + (cfg["filters"] if cfg["use_bias"] else 0)
    if node.op == "dense":
        return in_shapes[0][-1] * cfg["units"] + (cfg["units"] if cfg["use_bias"] else 0)
    if node.op == "batch_norm":
        return 4 * in_shapes[0][-1]  # gamma, beta, moving mean, moving variance
    return 1 if node.op == "lambda_sum" else 0


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
    if node.op in _POOLS and config["strides"] is None:
        config["strides"] = config["pool_size"]
    return config


def _check_value(node: Node, key: str, check, *args, **kwargs) -> None:
    """Run a `keras_nash.checks` function on `node.config[key]`, naming the node on error."""
    try:
        node.config[key] = check(key, node.config[key], *args, **kwargs)
    except ValueError as error:
        raise ValueError(f"Node {node.id!r} ({node.op}): {error}") from None


def _window(image_shape, window, strides, padding) -> tuple:
    """Height and width after a sliding window (conv or pooling) over `(h, w, c)`."""
    if padding == "same":
        return tuple(math.ceil(size / strides) for size in image_shape[:2])
    return tuple((size - window) // strides + 1 for size in image_shape[:2])
