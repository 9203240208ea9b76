"""Test helpers shared by several test modules."""

import pathlib

import numpy as np

from keras_nash import graph

_PACKAGE_DATA = (
    pathlib.Path(__file__).resolve().parents[1] / "keras_nash" / "data" / "cifar10_default.npz"
)
_SHARED_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10_5k.npz"


def real_images(n=16, size=32, seed=0):
    """`n` real CIFAR-10 images (float32 in [0, 1]) from the embedded default data, cropped to
    `size`."""
    path = _PACKAGE_DATA if _PACKAGE_DATA.exists() else _SHARED_DATA
    with np.load(path) as data:
        x, y = data["x"], data["y"]
    index = np.random.default_rng(seed).choice(len(x), n, replace=False)
    return (x[index, :size, :size].astype("float32") / 255.0), y[index].astype("int32")


def randomise_batch_norm(model, arch, seed=0):
    """Give every batch norm non-trivial statistics so identity tricks are really tested."""
    rng = np.random.default_rng(seed)
    weights = graph.get_weights(model, arch)
    for node in arch.nodes:
        if node.op == "batch_norm":
            c = weights[node.id][0].shape[0]
            weights[node.id] = [
                rng.uniform(0.5, 1.5, c).astype("float32"),
                rng.normal(0, 0.5, c).astype("float32"),
                rng.normal(0, 0.5, c).astype("float32"),
                rng.uniform(0.5, 2.0, c).astype("float32"),
            ]
    graph.set_weights(model, weights)
