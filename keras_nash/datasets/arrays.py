"""Array sources: the embedded default set, `.npz` files, `(x, y)` tuples, and their splits.

Every array source ends as `x, y, x_test, y_test, class_names` numpy arrays, checked once
(`split_arrays`) and cut into train / validation / test with a seeded permutation
(`split_indices`), which tensorflow-datasets sources share so that a split is the same
whichever way it is read.
"""

import dataclasses
import importlib.resources
import os

import numpy as np

from keras_nash.checks import check_class_ids, check_finite_examples, check_fraction, check_int

DEFAULT_SOURCE = "default"
DEFAULT_FILE = "cifar10_default.npz"


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


@dataclasses.dataclass(frozen=True)
class SplitOptions:
    """How to carve validation and test data, checked on construction.

    Args:
        validation_split: float in [0, 1), see `keras_nash.datasets.load`.
        test_split: float in [0, 1).
        seed: int, the seed of the permutation.
        max_examples: int >= 1 or None, the cap on training examples.
    """

    validation_split: float = 0.1
    test_split: float = 0.1
    seed: int = 0
    max_examples: int | None = None

    def __post_init__(self):
        for name in ("validation_split", "test_split"):
            object.__setattr__(self, name, check_fraction(name, getattr(self, name)))
        object.__setattr__(self, "seed", check_int("seed", self.seed))
        if self.max_examples is not None:
            object.__setattr__(
                self, "max_examples", check_int("max_examples", self.max_examples, minimum=1)
            )


def default_data_path() -> str:
    """Path of the CIFAR-10 subset embedded in the package
    (`keras_nash/data/cifar10_default.npz`)."""
    return str(importlib.resources.files("keras_nash") / "data" / DEFAULT_FILE)


def read_source(source):
    """Returns `x, y, x_test, y_test, class_names` of the default data, an .npz file, a tuple
    `(x, y)` or a dict with the .npz file's keys."""
    if isinstance(source, (tuple, list)):
        if len(source) != 2:
            raise ValueError(
                "A tuple `source` must be `(x, y)`, two arrays. Received: source with "
                f"{len(source)} items"
            )
        return source[0], source[1], None, None, None
    if isinstance(source, dict):
        return _source_arrays(source, "dict", "a dict")
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str):
        raise ValueError(
            "`source` must be 'default', a path to an .npz file, a tuple (x, y) of arrays, a dict "
            "of arrays or a tensorflow-datasets name. "
            f"Received: source={source!r} of type {type(source).__name__}"
        )
    path = default_data_path() if source == DEFAULT_SOURCE else os.path.expanduser(source)
    if not os.path.isfile(path):
        raise ValueError(f"`source` file not found. Received: source={source!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise ValueError(
            f"`source` must be an .npz file written by numpy.savez. Received: source={source!r} "
            f"({error})"
        ) from error
    return _source_arrays(arrays, ".npz file", repr(source))


def _source_arrays(arrays: dict, kind: str, received: str):
    """`x, y, x_test, y_test, class_names` of a dict (an .npz file's or a user's); `received`
    shows the source in the error (a path, not a dict's arrays)."""
    missing = [key for key in ("x", "y") if arrays.get(key) is None]
    if missing:
        raise ValueError(
            f"`source` {kind} must hold arrays 'x' and 'y'; missing {missing}, found "
            f"{sorted(arrays)}. Received: source={received}"
        )
    return (
        arrays["x"],
        arrays["y"],
        arrays.get("x_test"),
        arrays.get("y_test"),
        arrays.get("class_names"),
    )


def split_indices(n: int, options: SplitOptions, has_test: bool):
    """Seeded permutation of `range(n)` cut into sorted train / validation / test index arrays.

    The test part is empty when the source has a test split of its own (`has_test`).
    """

    def count(fraction):
        return 0 if fraction == 0 else max(1, int(round(n * fraction)))

    n_validation = count(options.validation_split)
    n_test = 0 if has_test else count(options.test_split)
    if n - n_validation - n_test < 1:
        raise ValueError(
            f"`validation_split` and `test_split` leave no training data out of {n} examples. "
            f"Received: validation_split={options.validation_split}, "
            f"test_split={options.test_split}"
            + (
                " (the source has its own test split, so `test_split` is unused)"
                if has_test
                else ""
            )
        )
    permutation = np.random.default_rng(options.seed).permutation(n)
    test = permutation[:n_test]
    validation = permutation[n_test : n_test + n_validation]
    train = permutation[n_test + n_validation :]
    if options.max_examples is not None:
        train = train[: options.max_examples]
    # In the source's order, as a filtered tfds pipeline reads them.
    return np.sort(train), np.sort(validation), np.sort(test)


def split_arrays(x, y, x_test, y_test, class_names, options: SplitOptions) -> Arrays:
    """Check the arrays of a source and carve its splits."""
    x = _check_images(x, "x")
    if len(x) == 0:
        raise ValueError(f"The dataset is empty: `x` has no examples. Received: x.shape={x.shape}")
    y = _check_labels(y, len(x), "y", "x")
    if (x_test is None) != (y_test is None):
        raise ValueError(
            "`x_test` and `y_test` must be given together. Received: "
            f"x_test={'None' if x_test is None else 'an array'}, "
            f"y_test={'None' if y_test is None else 'an array'}"
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
    if class_names is None:
        check_class_ids(
            "y",
            np.concatenate([y, y_test]) if has_test else y,
            "pass `class_names` (one name per class: their number is the number of outputs)",
        )
    if class_names is not None and max_label >= len(class_names):
        raise ValueError(
            f"`y` labels must be below the number of `class_names` ({len(class_names)}). "
            f"Received: max label={max_label}"
        )
    train, validation, test = split_indices(len(x), options, has_test)
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
        num_classes=len(class_names) if class_names is not None else max_label + 1,
        class_names=class_names,
    )


def _check_images(x, name):
    """Returns `x` as an (N, H, W, C) numpy array of uint8 or floating pixels."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4:
        raise ValueError(
            f"`{name}` must have shape (N, H, W, C) or (N, H, W). Received: {name}.shape={x.shape}"
        )
    if x.dtype == np.uint8:
        return x
    if np.issubdtype(x.dtype, np.floating):
        check_finite_examples(name, x)
        return x
    if np.issubdtype(x.dtype, np.integer) and x.size and x.min() >= 0 and x.max() <= 255:
        return x.astype(np.uint8)
    raise ValueError(
        f"`{name}` must hold uint8 pixels (or integers in [0, 255]) or floating-point pixels. "
        f"Received: {name}.dtype={x.dtype}"
    )


def _check_labels(y, n, name, x_name):
    """Returns `y` as an int32 vector of `n` labels >= 0."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"`{name}` must be a vector of integer labels (N,). Received: {name}.shape={y.shape}"
        )
    if len(y) != n:
        raise ValueError(
            f"`{x_name}` and `{name}` must have the same length. Received: len({x_name})={n}, "
            f"len({name})={len(y)}"
        )
    if y.dtype == bool or not (
        np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)
    ):
        raise ValueError(f"`{name}` must hold integer labels. Received: {name}.dtype={y.dtype}")
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y) & (y == np.round(y))):
        raise ValueError(
            f"`{name}` must hold integer labels. Received: non-integer values in {name}"
        )
    if len(y) and y.min() < 0:
        raise ValueError(f"`{name}` labels must be >= 0. Received: min({name})={y.min()}")
    return y.astype(np.int32)
