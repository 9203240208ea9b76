"""Derives `cifar10_default.npz`, the small CIFAR-10 subset embedded in keras_nash.

Source: `cifar10_5k.npz` (5,000 real CIFAR-10 training images: the first 1,000 images of each
of the five official training batches, in order; sha256
e3a42b0a00af4660b9d11f2fde5531acef01105b6594373a745fcc075085e1be). The whole set compresses to
14.1 MB with `np.savez_compressed`, over the 10 MB budget for the package, so the embedded
file keeps the first `PER_CLASS` = 350 images of every class, in the source's order (no
randomness, hence no seed): 3,500 images, uint8, 9.90 MB. 352 per class (9.95 MB) is the
largest balanced subset under 10,000,000 bytes; 350 keeps a round number and a margin for
other zlib builds. Arrays: `x` (3500, 32, 32, 3) uint8, `y` (3500,) uint8,
`class_names` (10,) str.

Usage: python keras_nash/data/derive_default.py /path/to/cifar10_5k.npz
"""

import os
import sys

import numpy as np

PER_CLASS = 350
OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cifar10_default.npz")


def derive(source_path, output_path=OUTPUT, per_class=PER_CLASS):
    """Writes the first `per_class` images of every class of `source_path` to `output_path`."""
    with np.load(source_path) as data:
        x, y, class_names = data["x"], data["y"], data["class_names"]
    indices = np.sort(
        np.concatenate([np.flatnonzero(y == label)[:per_class] for label in range(len(class_names))])
    )
    np.savez_compressed(output_path, x=x[indices], y=y[indices], class_names=class_names)
    return output_path


if __name__ == "__main__":
    path = derive(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/cifar10_5k.npz")
    print(path, os.path.getsize(path), "bytes")
