"""Image classification data for the search: train / validation / test `tf.data` pipelines.

One entry point, `load(source)`, turns any of these sources into batched, prefetched
pipelines of `(float32 image, int32 label)` plus what a model builder needs (input shape,
number of classes):

- `"default"`: 3,500 real CIFAR-10 images (350 per class) shipped inside the package, so
  examples, tests and CPU benchmarks run offline. `keras_nash/data/derive_default.py` says
  exactly how the file was derived from the first 5,000 official training images.
- a path to an `.npz` file with arrays `x` (N, H, W[, C]) and `y` (N,), optionally
  `class_names` and a test split of its own in `x_test` / `y_test`.
- a tuple `(x, y)` of numpy arrays (or `from_arrays(x, y, x_test=..., y_test=...)`).
- any tensorflow-datasets image classification name ("cifar10", "mnist", ...), read from
  `data_dir`. Prepared data is used first; only when it is missing is it downloaded, and a
  machine without network gets a `ConnectionError` within seconds that says how to proceed
  offline (tfds itself would retry for minutes).

The validation split (and the test split, for sources without one of their own) is carved
from the training data with a seeded permutation, so the same `seed` always gives the same
split. Images are scaled to [0, 1] and standardised per channel with the training split's
mean and standard deviation (for tfds, the published statistics of CIFAR-10/100, MNIST and
Fashion-MNIST, otherwise estimated on a sample). The training pipeline is reshuffled every
epoch from `seed`, and with `augment=True` it gets the standard CIFAR augmentation (zero pad
4, random crop back to H x W, random horizontal flip) from stateless random ops seeded per
example, so two pipelines built with the same seed yield the same batches epoch after epoch.
"""

import dataclasses
import importlib.resources
import os
import socket
import urllib.parse
import urllib.request

import numpy as np
import tensorflow as tf

DEFAULT_SOURCE = "default"
DEFAULT_FILE = "cifar10_default.npz"

_PAD = 4  # pixels of zero padding before the random crop (CIFAR convention)
_TFDS_SHUFFLE_BUFFER = 10_000  # tfds training sets are not held in memory
_STATS_SAMPLE = 10_000  # images to estimate mean/std on for tfds sets without known statistics
_STATS_CHUNK = 4_096  # images per numpy chunk when computing mean/std of arrays
_PROBE_TIMEOUT_S = 5.0  # seconds to wait for a download host before calling the machine offline

# Per-channel mean and standard deviation of the training sets, for pixels scaled to [0, 1].
_TFDS_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
}


@dataclasses.dataclass(frozen=True)
class Data:
    """The pipelines and facts a search needs about a dataset.

    Attributes:
        train: batched `(image, label)` pipeline, reshuffled each epoch from the seed, augmented
            when asked, prefetched.
        validation: batched, prefetched, neither shuffled nor augmented (empty when
            `validation_split=0`).
        test: like `validation`, or None when the source has no test data and `test_split=0`.
        input_shape: shape of one image, e.g. `(32, 32, 3)`.
        num_classes: number of classes; labels are `0 .. num_classes - 1`.
        class_names: the class names when the source has them, else None.
        num_examples: `{"train": n, "validation": n, "test": n}`.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset | None
    input_shape: tuple
    num_classes: int
    class_names: tuple | None
    num_examples: dict


@dataclasses.dataclass(frozen=True)
class Arrays:
    """A dataset split into numpy arrays, before any scaling (see `load_arrays`).

    Attributes:
        train: `(x, y)`; `x` keeps the source's pixel dtype (uint8 or float) with a channel
            axis, `y` is int32.
        validation: `(x, y)`, possibly empty.
        test: `(x, y)` or None.
        num_classes: number of classes.
        class_names: tuple of names or None.
    """

    train: tuple
    validation: tuple
    test: tuple | None
    num_classes: int
    class_names: tuple | None


def default_data_path() -> str:
    """Path of the CIFAR-10 subset embedded in the package (`keras_nash/data/cifar10_default.npz`)."""
    return str(importlib.resources.files("keras_nash") / "data" / DEFAULT_FILE)


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
            `x`, `y`, optionally `class_names`, `x_test`, `y_test`), a tuple `(x, y)` of numpy
            arrays, or a tensorflow-datasets name such as `"cifar10"`. Defaults to `"default"`.
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
        A `Data` with the pipelines, `input_shape`, `num_classes`, `class_names` and
        `num_examples`.

    Raises:
        ValueError: on an unknown source, a missing or malformed file, inconsistent arrays,
            or out-of-range arguments; the message names the argument and the value.
        ConnectionError: a tfds dataset is neither prepared in `data_dir` nor downloadable.

    Example:

    >>> data = keras_nash.datasets.load("default", batch_size=64, augment=True)
    >>> data.input_shape, data.num_classes
    ((32, 32, 3), 10)
    >>> model.fit(data.train, validation_data=data.validation, epochs=1)
    """
    _check_batch_size(batch_size)
    _check_options(validation_split, test_split, seed, max_examples)
    if _is_tfds_name(source):
        return _load_tfds(
            source,
            data_dir=data_dir,
            batch_size=batch_size,
            validation_split=validation_split,
            test_split=test_split,
            augment=augment,
            seed=seed,
            max_examples=max_examples,
        )
    arrays = load_arrays(
        source,
        data_dir=data_dir,
        validation_split=validation_split,
        test_split=test_split,
        seed=seed,
        max_examples=max_examples,
    )
    return _data_from_split_arrays(arrays, batch_size=batch_size, augment=augment, seed=seed)


def from_arrays(
    x,
    y,
    *,
    x_test=None,
    y_test=None,
    class_names=None,
    batch_size: int = 128,
    validation_split: float = 0.1,
    test_split: float = 0.1,
    augment: bool = False,
    seed: int = 0,
    max_examples: int | None = None,
) -> Data:
    """Build the pipelines from numpy arrays already in memory.

    Args:
        x: images, (N, H, W, C) or grayscale (N, H, W); uint8 in [0, 255] (or another integer
            type with values in that range) or floating point.
        y: integer labels (N,), >= 0.
        x_test: optional test images of the same image shape. Defaults to None.
        y_test: labels of `x_test`, given together with it. Defaults to None.
        class_names: optional sequence of class names; labels must be below its length.
            Defaults to None.
        batch_size, validation_split, test_split, augment, seed, max_examples: as in `load`.

    Returns:
        A `Data`.

    Example:

    >>> x = np.random.randint(0, 256, (100, 32, 32, 3), dtype="uint8")
    >>> data = keras_nash.datasets.from_arrays(x, np.arange(100) % 10, batch_size=16)
    >>> data.num_examples
    {'train': 80, 'validation': 10, 'test': 10}
    """
    _check_batch_size(batch_size)
    _check_options(validation_split, test_split, seed, max_examples)
    arrays = _split_arrays(
        x,
        y,
        x_test=x_test,
        y_test=y_test,
        class_names=class_names,
        validation_split=validation_split,
        test_split=test_split,
        seed=seed,
        max_examples=max_examples,
    )
    return _data_from_split_arrays(arrays, batch_size=batch_size, augment=augment, seed=seed)


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

    >>> arrays = keras_nash.datasets.load_arrays("default")
    >>> x_train, y_train = arrays.train
    >>> x_train.shape, x_train.dtype
    ((2800, 32, 32, 3), dtype('uint8'))
    """
    _check_options(validation_split, test_split, seed, max_examples)
    if _is_tfds_name(source):
        x, y, x_test, y_test, class_names = _tfds_arrays(source, data_dir)
    else:
        x, y, x_test, y_test, class_names = _read_source(source)
    return _split_arrays(
        x,
        y,
        x_test=x_test,
        y_test=y_test,
        class_names=class_names,
        validation_split=validation_split,
        test_split=test_split,
        seed=seed,
        max_examples=max_examples,
    )


# ----------------------------------------------------------------------------------------------
# Argument checks


def _check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"`batch_size` must be an integer >= 1. Received: batch_size={batch_size!r}")


def _check_options(validation_split, test_split, seed, max_examples):
    for name, value in (("validation_split", validation_split), ("test_split", test_split)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")
        if not 0.0 <= value < 1.0:
            raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"`seed` must be an integer. Received: seed={seed!r}")
    if max_examples is not None and (
        isinstance(max_examples, bool) or not isinstance(max_examples, (int, np.integer)) or max_examples < 1
    ):
        raise ValueError(f"`max_examples` must be None or an integer >= 1. Received: max_examples={max_examples!r}")


def _is_tfds_name(source) -> bool:
    """A string source that is neither "default", an .npz name nor an existing file.

    tfds names may hold a "/" (a config, e.g. "imagenet2012_subset/1pct"), so a missing path
    without the .npz suffix reaches tfds, whose "not found" becomes a ValueError about `source`.
    """
    if not isinstance(source, str) or source == DEFAULT_SOURCE:
        return False
    return not source.lower().endswith(".npz") and not os.path.exists(os.path.expanduser(source))


# ----------------------------------------------------------------------------------------------
# Array sources


def _read_source(source):
    """Returns `x, y, x_test, y_test, class_names` of the default data, an .npz file or a tuple."""
    if isinstance(source, (tuple, list)):
        if len(source) != 2:
            raise ValueError(
                f"A tuple `source` must be `(x, y)`, two arrays. Received: source with {len(source)} items"
            )
        return source[0], source[1], None, None, None
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str):
        raise ValueError(
            "`source` must be 'default', a path to an .npz file, a tuple (x, y) of arrays or a "
            f"tensorflow-datasets name. Received: source={source!r} of type {type(source).__name__}"
        )
    path = default_data_path() if source == DEFAULT_SOURCE else os.path.expanduser(source)
    if not os.path.isfile(path):
        raise ValueError(f"`source` file not found. Received: source={source!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise ValueError(
            f"`source` must be an .npz file written by numpy.savez. Received: source={source!r} ({error})"
        ) from error
    missing = [key for key in ("x", "y") if key not in arrays]
    if missing:
        raise ValueError(
            f"`source` .npz file must hold arrays 'x' and 'y'; missing {missing}, found "
            f"{sorted(arrays)}. Received: source={source!r}"
        )
    class_names = arrays.get("class_names")
    return arrays["x"], arrays["y"], arrays.get("x_test"), arrays.get("y_test"), class_names


def _check_images(x, name):
    """Returns `x` as an (N, H, W, C) numpy array of uint8 or floating pixels."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4:
        raise ValueError(
            f"`{name}` must have shape (N, H, W, C) or (N, H, W). Received: {name}.shape={x.shape}"
        )
    if x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating):
        return x
    if np.issubdtype(x.dtype, np.integer) and x.size and x.min() >= 0 and x.max() <= 255:
        return x.astype(np.uint8)
    raise ValueError(
        f"`{name}` must hold uint8 pixels (or integers in [0, 255]) or floating-point pixels. "
        f"Received: {name}.dtype={x.dtype}"
    )


def _check_labels(y, n, name, x_name):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"`{name}` must be a vector of integer labels (N,). Received: {name}.shape={y.shape}")
    if len(y) != n:
        raise ValueError(
            f"`{x_name}` and `{name}` must have the same length. Received: len({x_name})={n}, len({name})={len(y)}"
        )
    if y.dtype == bool or not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise ValueError(f"`{name}` must hold integer labels. Received: {name}.dtype={y.dtype}")
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y) & (y == np.round(y))):
        raise ValueError(f"`{name}` must hold integer labels. Received: non-integer values in {name}")
    if len(y) and y.min() < 0:
        raise ValueError(f"`{name}` labels must be >= 0. Received: min({name})={y.min()}")
    return y.astype(np.int32)


def _split_sizes(n, validation_split, test_split, has_test):
    """Validation and test counts carved from `n` examples (test 0 when the source has its own)."""

    def count(fraction):
        return 0 if fraction == 0 else max(1, int(round(n * fraction)))

    n_validation = count(validation_split)
    n_test = 0 if has_test else count(test_split)
    if n - n_validation - n_test < 1:
        raise ValueError(
            f"`validation_split` and `test_split` leave no training data out of {n} examples. "
            f"Received: validation_split={validation_split}, test_split={test_split}"
            + (" (the source has its own test split, so `test_split` is unused)" if has_test else "")
        )
    return n_validation, n_test


def _split_indices(n, validation_split, test_split, seed, max_examples, has_test):
    """Seeded permutation of `range(n)` cut into train / validation / test index arrays."""
    n_validation, n_test = _split_sizes(n, validation_split, test_split, has_test)
    permutation = np.random.default_rng(seed).permutation(n)
    test = permutation[:n_test]
    validation = permutation[n_test : n_test + n_validation]
    train = permutation[n_test + n_validation :]
    if max_examples is not None:
        train = train[:max_examples]
    # In the source's order, as a filtered tfds pipeline reads them.
    return np.sort(train), np.sort(validation), np.sort(test)


def _split_arrays(x, y, *, x_test, y_test, class_names, validation_split, test_split, seed, max_examples):
    x = _check_images(x, "x")
    if len(x) == 0:
        raise ValueError(f"The dataset is empty: `x` has no examples. Received: x.shape={x.shape}")
    y = _check_labels(y, len(x), "y", "x")
    if (x_test is None) != (y_test is None):
        raise ValueError(
            "`x_test` and `y_test` must be given together. Received: "
            f"x_test={'None' if x_test is None else 'an array'}, y_test={'None' if y_test is None else 'an array'}"
        )
    has_test = x_test is not None
    if has_test:
        x_test = _check_images(x_test, "x_test")
        y_test = _check_labels(y_test, len(x_test), "y_test", "x_test")
        if x_test.shape[1:] != x.shape[1:]:
            raise ValueError(
                "`x_test` images must have the shape of `x` images. Received: "
                f"x.shape={x.shape}, x_test.shape={x_test.shape}"
            )
    if class_names is not None:
        class_names = tuple(str(name) for name in np.asarray(class_names).reshape(-1))
    max_label = int(max(y.max(), y_test.max() if has_test and len(y_test) else 0))
    if class_names is not None and max_label >= len(class_names):
        raise ValueError(
            f"`y` labels must be below the number of `class_names` ({len(class_names)}). "
            f"Received: max label={max_label}"
        )
    num_classes = len(class_names) if class_names is not None else max_label + 1
    train, validation, test = _split_indices(len(x), validation_split, test_split, seed, max_examples, has_test)
    if has_test:
        test_arrays = (x_test, y_test)
    elif len(test):
        test_arrays = (x[test], y[test])
    else:
        test_arrays = None
    return Arrays(
        train=(x[train], y[train]),
        validation=(x[validation], y[validation]),
        test=test_arrays,
        num_classes=num_classes,
        class_names=class_names,
    )


def _scale(x):
    """1/255 for uint8 pixels, 1 for floating-point pixels."""
    return 1.0 / 255.0 if x.dtype == np.uint8 else 1.0


def _mean_std(x):
    """Per-channel mean and std of the scaled pixels of `x` (N, H, W, C), in float64 chunks."""
    scale = _scale(x)
    channels = x.shape[-1]
    total, total_sq, count = np.zeros(channels), np.zeros(channels), 0
    for start in range(0, len(x), _STATS_CHUNK):
        chunk = x[start : start + _STATS_CHUNK].astype(np.float64).reshape(-1, channels) * scale
        total += chunk.sum(axis=0)
        total_sq += np.square(chunk).sum(axis=0)
        count += len(chunk)
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - np.square(mean), 0.0))
    return mean, np.maximum(std, 1e-7)


def _data_from_split_arrays(arrays, *, batch_size, augment, seed):
    x_train, y_train = arrays.train
    mean, std = _mean_std(x_train)
    scale = _scale(x_train)

    def make(split, training):
        x, y = split
        dataset = tf.data.Dataset.from_tensor_slices((x, y))
        return _pipeline(
            dataset,
            buffer_size=len(x),
            batch_size=batch_size,
            scale=scale,
            mean=mean,
            std=std,
            training=training,
            augment=augment,
            seed=seed,
        )

    test = make(arrays.test, False) if arrays.test is not None else None
    return Data(
        train=make(arrays.train, True),
        validation=make(arrays.validation, False),
        test=test,
        input_shape=tuple(int(d) for d in x_train.shape[1:]),
        num_classes=arrays.num_classes,
        class_names=arrays.class_names,
        num_examples={
            "train": len(x_train),
            "validation": len(arrays.validation[0]),
            "test": 0 if arrays.test is None else len(arrays.test[0]),
        },
    )


# ----------------------------------------------------------------------------------------------
# The tf.data pipeline


def _pipeline(dataset, *, buffer_size, batch_size, scale, mean, std, training, augment, seed):
    """Scale, (shuffle, augment,) standardise, batch and prefetch `(image, label)` pairs."""
    scale = tf.constant(scale, tf.float32)
    mean = tf.constant(np.asarray(mean, np.float32))
    std = tf.constant(np.asarray(std, np.float32))

    def standardise(image, label):
        image = tf.cast(image, tf.float32) * scale
        return (image - mean) / std, tf.cast(label, tf.int32)

    def augment_and_standardise(example, random):
        image, label = example
        image = tf.cast(image, tf.float32) * scale
        image = _augment_image(image, random)
        return (image - mean) / std, tf.cast(label, tf.int32)

    if training:
        dataset = dataset.shuffle(max(1, buffer_size), seed=seed, reshuffle_each_iteration=True)
        if augment:
            # One fresh random int64 per example and epoch, reproducible from the seed; the
            # stateless ops below turn it into the crop offset and the flip.
            randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
            dataset = tf.data.Dataset.zip((dataset, randoms))
            dataset = dataset.map(augment_and_standardise, num_parallel_calls=tf.data.AUTOTUNE)
        else:
            dataset = dataset.map(standardise, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(standardise, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _augment_image(image, random):
    """Zero-pad by `_PAD`, crop back to the image's size at a random offset, maybe flip."""
    crop_seed = tf.stack([random, tf.constant(1, tf.int64)])
    flip_seed = tf.stack([random, tf.constant(2, tf.int64)])
    padded = tf.pad(image, [[_PAD, _PAD], [_PAD, _PAD], [0, 0]])
    image = tf.image.stateless_random_crop(padded, size=tf.shape(image), seed=crop_seed)
    return tf.image.stateless_random_flip_left_right(image, seed=flip_seed)


# ----------------------------------------------------------------------------------------------
# tensorflow-datasets sources


def _offline_hint(name, data_dir):
    where = data_dir if data_dir is not None else "~/tensorflow_datasets"
    return (
        f"To work offline: prepare the data on a machine with network access "
        f"(`python -c \"import tensorflow_datasets as tfds; tfds.builder('{name}', "
        f"data_dir='DIR').download_and_prepare()\"`), copy DIR here and pass it as `data_dir` "
        f"(--data_dir=DIR on the command line; looked in {where}); or pass an .npz file with "
        f"arrays 'x' and 'y' as `source`; or use source='default', the CIFAR-10 subset "
        f"embedded in keras_nash."
    )


def _tfds_builder(name, data_dir):
    """The tfds builder of `name`, checked to be an image classification dataset."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(
            "`source` is neither 'default', an existing .npz file, nor a tensorflow-datasets "
            f"dataset name. Received: source={name!r}"
        ) from error
    image_key, label_key = _supervised_keys(builder, name)
    return builder, image_key, label_key


def _supervised_keys(builder, name):
    """The (image, label) feature keys: the supervised keys, else features named so."""
    keys = builder.info.supervised_keys
    features = builder.info.features
    if not (keys and len(keys) == 2 and all(isinstance(key, str) for key in keys)):
        keys = ("image", "label")
    if not all(key in features for key in keys):
        raise ValueError(
            f"`source` must be a tensorflow-datasets image classification dataset with "
            f"(image, label) supervised keys. Received: source={name!r}"
        )
    image_key, label_key = keys
    image, label = features[image_key], features[label_key]
    shape = getattr(image, "shape", None)
    if shape is None or len(shape) != 3 or any(d is None for d in shape) or not hasattr(label, "num_classes"):
        raise ValueError(
            f"`source` must be a tensorflow-datasets image classification dataset with fixed-size "
            f"images and class labels. Received: source={name!r} (image shape {shape})"
        )
    return image_key, label_key


def _ensure_prepared(builder, name, data_dir):
    """Use prepared data when there is some; else download, failing fast when offline."""
    import tensorflow_datasets as tfds

    if builder.is_prepared():
        return
    _probe_download_hosts(builder, name, data_dir)
    try:
        builder.download_and_prepare()
    except (OSError, tfds.download.DownloadError) as error:  # ConnectionError is an OSError
        raise ConnectionError(
            f"tensorflow-datasets dataset {name!r} is not prepared in data_dir={data_dir!r} and "
            f"could not be downloaded ({type(error).__name__}: {error}). " + _offline_hint(name, data_dir)
        ) from error


def _probe_download_hosts(builder, name, data_dir):
    """Open one TCP connection per download host (or its proxy) with a short timeout.

    Without network, tfds retries each download with exponential backoff for minutes before
    it gives up; a failed connection here answers in seconds instead.
    """
    urls = sorted(builder.url_infos or {})
    proxies = urllib.request.getproxies()
    hosts = set()
    for url in urls:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            continue
        proxy = proxies.get(parsed.scheme)
        if proxy and not urllib.request.proxy_bypass(parsed.hostname):
            parsed = urllib.parse.urlparse(proxy if "://" in proxy else f"http://{proxy}")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        hosts.add((parsed.hostname, port))
    for host, port in sorted(hosts):
        try:
            with socket.create_connection((host, port), timeout=_PROBE_TIMEOUT_S):
                pass
        except OSError as error:
            raise ConnectionError(
                f"tensorflow-datasets dataset {name!r} is not prepared in data_dir={data_dir!r} "
                f"and its download host {host}:{port} cannot be reached ({error}). "
                + _offline_hint(name, data_dir)
            ) from error


def _tfds_split(builder, split, image_key, label_key):
    """`(image, label)` pairs of `split` in the stored order."""
    dataset = builder.as_dataset(split=split, shuffle_files=False)
    return dataset.map(lambda example: (example[image_key], example[label_key]))


def _load_tfds(name, *, data_dir, batch_size, validation_split, test_split, augment, seed, max_examples):
    builder, image_key, label_key = _tfds_builder(name, data_dir)
    _ensure_prepared(builder, name, data_dir)
    splits = builder.info.splits
    if "train" not in splits:
        raise ValueError(
            f"`source` must have a 'train' split. Received: source={name!r} with splits {sorted(splits)}"
        )
    has_test = "test" in splits
    n = splits["train"].num_examples
    if n == 0:
        raise ValueError(f"The dataset is empty: its 'train' split has no examples. Received: source={name!r}")
    train_idx, validation_idx, test_idx = _split_indices(
        n, validation_split, test_split, seed, max_examples, has_test
    )
    # Which carved split each training example goes to: 0 train, 1 validation, 2 test, -1 none
    # (dropped by `max_examples`). The read order is fixed (`shuffle_files=False`).
    assignment = np.full(n, -1, np.int8)
    assignment[train_idx], assignment[validation_idx], assignment[test_idx] = 0, 1, 2
    assignment = tf.constant(assignment)
    full_train = _tfds_split(builder, "train", image_key, label_key)

    def carved(code):
        return (
            full_train.enumerate()
            .filter(lambda index, example: tf.equal(tf.gather(assignment, index), code))
            .map(lambda index, example: example)
        )

    image_feature = builder.info.features[image_key]
    input_shape = tuple(int(d) for d in image_feature.shape)
    if builder.name in _TFDS_STATS and len(_TFDS_STATS[builder.name][0]) == input_shape[-1]:
        mean, std = _TFDS_STATS[builder.name]
    else:
        sample = np.concatenate(
            [images for images, _ in carved(0).take(_STATS_SAMPLE).batch(1024).as_numpy_iterator()]
        )
        mean, std = _mean_std(sample)
    scale = 1.0 / 255.0 if image_feature.np_dtype == np.uint8 else 1.0
    options = dict(batch_size=batch_size, scale=scale, mean=mean, std=std, augment=augment, seed=seed)

    train = _pipeline(carved(0), buffer_size=min(len(train_idx), _TFDS_SHUFFLE_BUFFER), training=True, **options)
    validation = _pipeline(carved(1), buffer_size=0, training=False, **options)
    if has_test:
        test = _pipeline(_tfds_split(builder, "test", image_key, label_key), buffer_size=0, training=False, **options)
        n_test = splits["test"].num_examples
    elif len(test_idx):
        test = _pipeline(carved(2), buffer_size=0, training=False, **options)
        n_test = len(test_idx)
    else:
        test, n_test = None, 0
    label_feature = builder.info.features[label_key]
    names = getattr(label_feature, "names", None)
    return Data(
        train=train,
        validation=validation,
        test=test,
        input_shape=input_shape,
        num_classes=int(label_feature.num_classes),
        class_names=tuple(names) if names else None,
        num_examples={"train": len(train_idx), "validation": len(validation_idx), "test": n_test},
    )


def _tfds_arrays(name, data_dir):
    """`x, y, x_test, y_test, class_names` of a (small) tfds dataset, read whole into memory."""
    import tensorflow_datasets as tfds

    builder, image_key, label_key = _tfds_builder(name, data_dir)
    _ensure_prepared(builder, name, data_dir)
    splits = builder.info.splits
    if "train" not in splits:
        raise ValueError(
            f"`source` must have a 'train' split. Received: source={name!r} with splits {sorted(splits)}"
        )

    def read(split):
        examples = tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False, batch_size=-1))
        return examples[image_key], examples[label_key]

    x, y = read("train")
    x_test, y_test = read("test") if "test" in splits else (None, None)
    names = getattr(builder.info.features[label_key], "names", None)
    return x, y, x_test, y_test, tuple(names) if names else None
