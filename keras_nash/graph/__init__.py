"""Networks as plain data: an `Architecture` is a DAG of layer `Node`s with stable ids.

NASH's search coordinator reasons about architectures without building them, and its workers
move weights between a parent and a child by layer name; both need the network as data. An
`Architecture` round-trips through JSON with a schema version, validates itself (errors name
the node), infers shapes without Keras, builds a `keras.Model` whose layer names are the node
ids (`build_model`) and reads a functional or Sequential Keras model of supported layers
(`Architecture.from_model`), so a user can hand in their own seed network.

Modules, by concept:

- `node`: `Node`, the op table `OP_DEFAULTS`, per-node checks and shape arithmetic.
- `architecture`: `Architecture`, the validated DAG, its editing and JSON form.
- `to_keras`: `build_model`, `get_weights`, `set_weights`.
- `from_keras`: reading a Keras model's `get_config()` into nodes.

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

Example:

>>> from keras_nash import graph
>>> arch = graph.Architecture([
...     graph.Node("input", "input", [], {"shape": [4]}),
...     graph.Node("logits", "dense", ["input"], {"units": 2}),
... ])
>>> model = graph.build_model(arch)
>>> graph.Architecture.from_model(model) == arch
True
"""

from keras_nash.graph.architecture import SCHEMA_VERSION, Architecture
from keras_nash.graph.node import OP_DEFAULTS, WEIGHTED_OPS, Node
from keras_nash.graph.to_keras import build_model, get_weights, set_weights

__all__ = [
    "OP_DEFAULTS",
    "SCHEMA_VERSION",
    "WEIGHTED_OPS",
    "Architecture",
    "Node",
    "build_model",
    "get_weights",
    "set_weights",
]
