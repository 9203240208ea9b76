"""Image classification data for the search: train / validation / test `tf.data` pipelines.

One entry point, `load(source)`, turns any of these sources into batched, prefetched
pipelines of `(float32 image, int32 label)` plus what a model builder needs (input shape,
number of classes) and what an exported model needs (`Data.preprocessing`):

- `"default"`: 3,500 real CIFAR-10 images (350 per class) shipped inside the package, so
  examples, tests and CPU benchmarks run offline. `keras_nash/data/derive_default.py` says
  exactly how the file was derived from the first 5,000 official training images.
- a path to an `.npz` file with arrays `x` (N, H, W[, C]) and `y` (N,), optionally
  `class_names` and a test split of its own in `x_test` / `y_test`.
- a tuple `(x, y)` of numpy arrays, or a dict of arrays with the .npz file's keys (which
  `from_arrays(x, y, x_test=..., y_test=..., class_names=...)` builds).
- any tensorflow-datasets image classification name ("cifar10", "mnist", ...), read from
  `data_dir`, downloaded only when missing, failing within seconds when offline.

The validation split (and the test split, for sources without one of their own) is carved
from the training data with a seeded permutation, so the same `seed` always gives the same
split. Images are scaled to [0, 1] and standardised per channel with the training split's
mean and standard deviation (for tfds, the published statistics of CIFAR-10/100, MNIST and
Fashion-MNIST, otherwise estimated on a sample); `Data.preprocessing` records exactly that,
as JSON-ready data. The training pipeline is reshuffled every epoch from `seed`, and with
`augment=True` it gets the standard CIFAR augmentation (zero pad 4, random crop back to
H x W, random horizontal flip) from stateless random ops seeded per example, so two
pipelines built with the same seed yield the same batches epoch after epoch.

Modules: `arrays` (array sources and splits), `pipeline` (the tf.data pipeline and the
preprocessing record), `tfds` (tensorflow-datasets sources), `text` (language models:
`load_text` reads Penn Treebank-format text into truncated-BPTT batches, with its `Vocabulary`).
"""

import os

import tensorflow as tf

from keras_nash.checks import check_int
from keras_nash.datasets.arrays import (
    DEFAULT_FILE,
    DEFAULT_SOURCE,
    Arrays,
    SplitOptions,
    default_data_path,
    read_source,
    split_arrays,
)
from keras_nash.datasets.pipeline import Data, make_data, preprocessing_of
from keras_nash.datasets.text import TextData, Vocabulary, load_text
from keras_nash.datasets.tfds import is_tfds_name, load_tfds, tfds_arrays

__all__ = [
    "DEFAULT_FILE",
    "DEFAULT_SOURCE",
    "Arrays",
    "Data",
    "TextData",
    "Vocabulary",
    "default_data_path",
    "from_arrays",
    "load",
    "load_arrays",
    "load_text",
]


def load(
    source="default",
    *,
    data_dir: str | None = None,
    batch_size: int = 128,
    validation_split: float = 0.1,
    test_split: float = 0.1,
    augment: bool = False,
    seed: int = 0,
    max_examples: int | None = None,
) -> Data:
    """Load an image classification dataset as train / validation / test pipelines.

    Args:
        source: `"default"` (the embedded CIFAR-10 subset), a path to an `.npz` file (arrays
            `x`, `y`, optionally `class_names`, `x_test`, `y_test`), a dict of numpy arrays
            with those keys, a tuple `(x, y)` of numpy arrays, or a tensorflow-datasets name
            such as `"cifar10"`. Defaults to `"default"`.
        data_dir: tensorflow-datasets data directory (tfds sources only; None: tfds's
            default, `~/tensorflow_datasets`). Defaults to None.
        batch_size: examples per batch, >= 1. Defaults to 128.
        validation_split: fraction in [0, 1) held out for validation: of the whole set when
            the source has no test split of its own, else of its training split.
            Defaults to 0.1.
        test_split: fraction in [0, 1) of the whole set held out for testing when the source
            has no test split of its own (ignored otherwise). Defaults to 0.1.
        augment: pad-crop-flip augmentation of the training pipeline. Defaults to False.
        seed: seed of the splits, the shuffling and the augmentation. Defaults to 0.
        max_examples: keep at most this many training examples (after the splits are
            carved), e.g. for quick tests; None keeps all. Defaults to None.

    Returns:
        A `Data` with the pipelines, `input_shape`, `num_classes`, `class_names`,
        `num_examples` and `preprocessing`.

    Raises:
        ValueError: on an unknown source, a missing or malformed file, inconsistent arrays,
            or out-of-range arguments; the message names the argument and the value.
        ConnectionError: a tfds dataset is neither prepared in `data_dir` nor downloadable.

    Example:

    >>> from keras_nash import datasets
    >>> data = datasets.load("default", batch_size=64, augment=True)
    >>> data.input_shape, data.num_classes
    ((32, 32, 3), 10)
    >>> data.num_examples
    {'train': 2800, 'validation': 350, 'test': 350}
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    options = SplitOptions(validation_split, test_split, seed, max_examples)
    _check_data_dir(source, data_dir)
    if is_tfds_name(source):
        return load_tfds(source, data_dir, options, batch_size=batch_size, augment=augment)
    return _data_of_arrays(
        _load_arrays(source, data_dir, options), batch_size, augment, options.seed
    )


def from_arrays(x, y, *, x_test=None, y_test=None, class_names=None, **options) -> Data:
    """Build the pipelines from numpy arrays already in memory: `load` of a dict source.

    Args:
        x: images, (N, H, W, C) or grayscale (N, H, W); uint8 in [0, 255] (or another integer
            type with values in that range) or floating point.
        y: integer labels (N,), >= 0.
        x_test: optional test images of the same image shape. Defaults to None.
        y_test: labels of `x_test`, given together with it. Defaults to None.
        class_names: optional sequence of class names; labels must be below its length.
            Defaults to None.
        **options: `load`'s keyword arguments (`batch_size`, `validation_split`,
            `test_split`, `augment`, `seed`, `max_examples`).

    Returns:
        A `Data`.

    Example:

    >>> import numpy as np
    >>> from keras_nash import datasets
    >>> x = np.random.randint(0, 256, (100, 32, 32, 3), dtype="uint8")
    >>> data = datasets.from_arrays(x, np.arange(100) % 10, batch_size=16)
    >>> data.num_examples
    {'train': 80, 'validation': 10, 'test': 10}
    """
    source = {"x": x, "y": y, "x_test": x_test, "y_test": y_test, "class_names": class_names}
    return load(source, **options)


def load_arrays(
    source="default",
    *,
    data_dir: str | None = None,
    validation_split: float = 0.1,
    test_split: float = 0.1,
    seed: int = 0,
    max_examples: int | None = None,
) -> Arrays:
    """Load a source and carve its splits as numpy arrays, unscaled (the same splits as `load`).

    A tensorflow-datasets source is read whole into memory, so keep to small sets.

    Args:
        source, data_dir, validation_split, test_split, seed, max_examples: as in `load`.

    Returns:
        An `Arrays` with `(x, y)` per split, `num_classes` and `class_names`.

    Example:

    >>> from keras_nash import datasets
    >>> split = datasets.load_arrays("default")
    >>> x_train, y_train = split.train
    >>> x_train.shape, x_train.dtype
    ((2800, 32, 32, 3), dtype('uint8'))
    """
    return _load_arrays(
        source, data_dir, SplitOptions(validation_split, test_split, seed, max_examples)
    )


def _check_data_dir(source, data_dir) -> None:
    """`data_dir` is a tensorflow-datasets source's directory, and it must exist."""
    if data_dir is None:
        return
    if not is_tfds_name(source):
        raise ValueError(
            "`data_dir` is the directory of a tensorflow-datasets source (e.g. source='cifar10'); "
            f"this source does not read it. Leave `data_dir` out. Received: source={source!r}, "
            f"data_dir={data_dir!r}"
        )
    if not os.path.isdir(os.path.expanduser(str(data_dir))):
        raise ValueError(
            "`data_dir` must be an existing directory (create it first: tensorflow-datasets "
            f"downloads into it). Received: data_dir={data_dir!r}"
        )


def _load_arrays(source, data_dir, options: SplitOptions) -> Arrays:
    _check_data_dir(source, data_dir)
    if is_tfds_name(source):
        return split_arrays(*tfds_arrays(source, data_dir), options)
    return split_arrays(*read_source(source), options)


def _data_of_arrays(arrays: Arrays, batch_size: int, augment: bool, seed: int) -> Data:
    """The pipelines of split arrays, standardised with the training split's statistics."""
    x_train = arrays.train[0]
    splits = {"train": arrays.train, "validation": arrays.validation, "test": arrays.test}
    return make_data(
        {
            name: None if split is None else tf.data.Dataset.from_tensor_slices(split)
            for name, split in splits.items()
        },
        preprocessing=preprocessing_of(x_train),
        batch_size=batch_size,
        augment=augment,
        seed=seed,
        shuffle_buffer=len(x_train),
        input_shape=tuple(int(d) for d in x_train.shape[1:]),
        num_classes=arrays.num_classes,
        class_names=arrays.class_names,
        num_examples={
            name: 0 if split is None else len(split[0]) for name, split in splits.items()
        },
    )
