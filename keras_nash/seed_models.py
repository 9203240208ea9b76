"""Seed networks for NASH: the small network the hill climbing starts from."""

import keras

from keras_nash.checks import check_int
from keras_nash.graph import Architecture, Node, build_model


def simple_cnn_architecture(
    input_shape=(32, 32, 3), num_classes=10, filters=(64, 128, 256), softmax=True
) -> Architecture:
    """NASH's seed network as an `Architecture`: Conv-MaxPool-Conv-MaxPool-Conv-FC.

    Each Conv is Conv3x3-BN-ReLU ("same" padding); the FC head is global average pooling and a
    dense layer named `logits`, followed by a softmax node when `softmax=True`. Node ids:
    `conv_i`, `bn_i`, `relu_i`, `pool_i`, `gap`, `logits`, `softmax`.

    Args:
        input_shape: tuple `(height, width, channels)`. Defaults to CIFAR's `(32, 32, 3)`.
        num_classes: int >= 2. Defaults to 10.
        filters: the filters of the conv blocks; one pooling layer between consecutive blocks.
            Defaults to `(64, 128, 256)` as in NASH re-implementations.
        softmax: bool, end with a softmax (probabilities) rather than logits. Defaults to True.

    Returns:
        The seed `Architecture`.

    Example:

    >>> from keras_nash import seed_models
    >>> arch = seed_models.simple_cnn_architecture((32, 32, 3), 10, filters=(16, 32, 64))
    >>> [n.id for n in arch.nodes][:5]
    ['input', 'conv_1', 'bn_1', 'relu_1', 'pool_1']
    """
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ValueError(
            f"`input_shape` must be (height, width, channels). Received: input_shape={input_shape}"
        )
    num_classes = check_int("num_classes", num_classes, minimum=2)
    filters = [int(f) for f in filters]
    if not filters or min(filters) < 1:
        raise ValueError(
            f"`filters` must be a non-empty list of ints >= 1. Received: filters={filters}"
        )
    pools = len(filters) - 1
    if min(input_shape[:2]) < 2**pools:
        raise ValueError(
            f"`input_shape` {input_shape} is too small for {pools} pooling layers; use fewer "
            "`filters` "
            f"or images of at least {2**pools}x{2**pools}."
        )
    nodes = [Node("input", "input", [], {"shape": list(input_shape)})]
    previous = "input"
    for i, f in enumerate(filters, start=1):
        if i > 1:
            nodes.append(Node(f"pool_{i - 1}", "max_pool", [previous], {"pool_size": 2}))
            previous = f"pool_{i - 1}"
        nodes += [
            Node(f"conv_{i}", "conv", [previous], {"filters": f, "kernel_size": 3}),
            Node(f"bn_{i}", "batch_norm", [f"conv_{i}"]),
            Node(f"relu_{i}", "relu", [f"bn_{i}"]),
        ]
        previous = f"relu_{i}"
    nodes += [
        Node("gap", "global_avg_pool", [previous]),
        Node("logits", "dense", ["gap"], {"units": num_classes}),
    ]
    if softmax:
        nodes.append(Node("softmax", "softmax", ["logits"]))
    return Architecture(nodes)


def simple_cnn(
    input_shape=(32, 32, 3), num_classes=10, filters=(64, 128, 256), softmax=True
) -> keras.Model:
    """NASH's seed network as a Keras model (see `simple_cnn_architecture` for the arguments).

    Example:

    >>> from keras_nash import seed_models
    >>> model = seed_models.simple_cnn((8, 8, 3), 10, filters=(4, 8))
    >>> model.name, model.output.shape
    ('nash_seed', (None, 10))
    """
    return build_model(
        simple_cnn_architecture(input_shape, num_classes, filters, softmax), name="nash_seed"
    )
