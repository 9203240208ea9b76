"""Architecture: a network as a validated DAG of `Node`s with stable ids, as plain data.

NASH's search coordinator reasons about architectures without building them (which conv can be
widened, which blocks share a spatial size), and its workers move weights between a parent and a
child by layer name. Both need the network as data: an `Architecture` is an ordered list of
`Node`s (op, inputs, config) plus the ids of the output nodes. It round-trips through JSON with a
schema version, validates itself (errors name the node) and infers every node's output shape
without Keras. The Keras side lives next door: `to_keras` builds the model, `from_keras` reads
one (`Architecture.from_model`).
"""

import copy
import json
import re

from keras_nash.graph.from_keras import read_model
from keras_nash.graph.node import Node, check_node, count_params, infer_shape

SCHEMA_VERSION = 1


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

    >>> from keras_nash.graph import Architecture, Node, build_model
    >>> arch = Architecture([
    ...     Node("input", "input", [], {"shape": [8, 8, 3]}),
    ...     Node("conv_1", "conv", ["input"], {"filters": 4}),
    ...     Node("gap", "global_avg_pool", ["conv_1"]),
    ...     Node("logits", "dense", ["gap"], {"units": 10}),
    ... ])
    >>> arch.shape("conv_1")
    (8, 8, 4)
    >>> Architecture.from_json(arch.to_json()) == arch
    True
    >>> build_model(arch).count_params() == arch.count_params() == 158
    True
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
        raise ValueError(
            f"No node with id {node_id!r} in the architecture. Known ids: {self.ids()}"
        )

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
            shapes[node.id] = infer_shape(node, [shapes[i] for i in node.inputs])
        return shapes

    def next_id(self, prefix: str) -> str:
        """A fresh id `prefix_<k>`, with k one more than the largest used with that prefix."""
        pattern = re.compile(rf"^{re.escape(prefix)}_(\d+)$")
        used = [int(m.group(1)) for m in (pattern.match(i) for i in self.ids()) if m]
        return f"{prefix}_{max(used, default=0) + 1}"

    def count_params(self) -> int:
        """Number of parameters of the built model (trainable and not), computed from shapes."""
        shapes = self.shapes()
        return sum(count_params(n, [shapes[i] for i in n.inputs]) for n in self.nodes)

    # -- editing (used by morphisms; each returns nothing and keeps the DAG topological) --------
    def copy(self) -> "Architecture":
        return Architecture.from_dict(self.to_dict())

    def insert_after(
        self, anchor_id: str, new_nodes: list, rewire_from: str, rewire_to: str
    ) -> None:
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
                raise ValueError(
                    f"Output {out!r} is not a node of the architecture. Known ids: {ids}"
                )
        for node in self.nodes:
            check_node(node)
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
            raise ValueError(
                f"An architecture dict needs a 'nodes' list. Received keys: {list(data or {})}"
            )
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
    def from_model(cls, model) -> "Architecture":
        """Read a Keras functional or Sequential model made of supported layers.

        Supported: InputLayer, Conv2D (channels_last, no dilation or groups, linear or ReLU
        activation: a ReLU becomes its own node `<name>_relu`), BatchNormalization (last axis,
        center and scale), ReLU, Activation (relu, softmax), MaxPooling2D, AveragePooling2D,
        GlobalAveragePooling2D, Flatten, Dense (linear, relu or softmax), Dropout, Add,
        Concatenate (last axis) and keras_nash's LambdaSum. Node ids are the layer names, so
        weights move between the model and `build_model(arch)` by name. The model is read
        through its public `get_config()`, the same description `.keras` files store.

        Args:
            model: a functional or built Sequential `keras.Model`.

        Raises:
            ValueError: naming every layer that cannot be represented and why.

        Example:

        >>> import keras
        >>> from keras_nash.graph import Architecture
        >>> inputs = keras.Input((8, 8, 3), name="image")
        >>> x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
        >>> outputs = keras.layers.Dense(2, name="logits")(keras.layers.Flatten(name="flat")(x))
        >>> arch = Architecture.from_model(keras.Model(inputs, outputs))
        >>> [(n.id, n.inputs) for n in arch.nodes]  # doctest: +NORMALIZE_WHITESPACE
        [('image', []), ('conv', ['image']), ('conv_relu', ['conv']), ('flat', ['conv_relu']),
         ('logits', ['flat'])]
        """
        return cls(*read_model(model))


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
                raise ValueError(
                    f"Node {node.id!r} reads {i!r}, which is not a node of the architecture "
                    "(dangling input)."
                )
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
