"""What NASH reads from `search()`'s arguments: checks before any training, and batch facts."""

import math
import weakref

import numpy as np
import tensorflow as tf


def first_batch(data):
    """(x, y) of the first batch of a tf.data dataset or of (x, y) arrays."""
    if isinstance(data, tf.data.Dataset):
        for batch in data.take(1):
            return batch[0], batch[1]
        return None
    x, y = data[0], data[1]
    if len(x) == 0:
        return None
    return x, y


def check_search_data(arch, fit_args, fit_kwargs, objective):
    expected = tuple(arch.node(arch.inputs[0]).config["shape"])
    num_classes = arch.shape(arch.outputs[0])[-1]
    train = fit_args[0] if fit_args else fit_kwargs.get("x")
    if train is None:
        raise ValueError("`search` needs training data: search(x, y, validation_data=...) or search(dataset, validation_data=...).")
    if not isinstance(train, tf.data.Dataset):
        y = fit_args[1] if len(fit_args) > 1 else fit_kwargs.get("y")
        if y is None:
            raise ValueError("`search` got `x` without `y`; pass labels or a tf.data dataset of (x, y).")
        train = (np.asarray(train), np.asarray(y))
    validation = fit_kwargs.get("validation_data")
    if validation is None and objective.name.startswith("val_"):
        raise ValueError(
            f"The objective {objective.name!r} needs `validation_data`: NASH selects children on a held-out split."
        )
    for name, data in (("training data", train), ("validation_data", validation)):
        if data is None:
            continue
        batch = first_batch(data)
        if batch is None:
            raise ValueError(f"The {name} is empty.")
        x, y = batch
        if tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"The {name} has inputs of shape {tuple(x.shape[1:])}, but the seed network expects {expected}."
            )
        labels = np.asarray(data[1] if isinstance(data, tuple) else y)
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(
                f"The {name} has labels in [{labels.min()}, {labels.max()}], but the seed network has "
                f"{num_classes} outputs: labels must be in [0, {num_classes - 1}]."
            )


def _batches(data, n, batch_size):
    """The first `n` input batches of a dataset of `(x, y)` batches or of an `(x, y)` pair."""
    if isinstance(data, tf.data.Dataset):
        return [batch[0] for batch in data.take(n)]
    x = np.asarray(data[0])
    return [x[i * batch_size:(i + 1) * batch_size] for i in range(n) if len(x) > i * batch_size]


def training_batches(fit_args, fit_kwargs, n):
    """The first `n` input batches of `search()`'s training data."""
    x = fit_args[0] if fit_args else fit_kwargs.get("x")
    data = x if isinstance(x, tf.data.Dataset) else (x, None)
    return _batches(data, n, fit_kwargs.get("batch_size") or 32)


def validation_batches(fit_kwargs, n):
    """The first `n` input batches of `search()`'s validation data."""
    return _batches(fit_kwargs["validation_data"], n, fit_kwargs.get("batch_size") or 32)


_COUNTED = weakref.WeakKeyDictionary()  # dataset -> batches, for unknown cardinalities


def steps_per_epoch(args, kwargs):
    """Batches per epoch of the training data: its cardinality (keras_nash's pipelines know
    theirs), `steps_per_epoch`, or for a dataset of unknown size a count made once a search."""
    data = args[0] if args else kwargs.get("x")
    if isinstance(data, tf.data.Dataset):
        steps = int(data.cardinality())
        if steps < 0:  # unknown or infinite
            steps = kwargs.get("steps_per_epoch")
        if steps is None:
            if data not in _COUNTED:
                _COUNTED[data] = sum(1 for _ in data)
            steps = _COUNTED[data]
        return max(1, steps)
    return max(1, math.ceil(len(data) / (kwargs.get("batch_size") or 32)))


def batch_spec(args, kwargs):
    """`(x, y)` of one training batch's shapes and dtypes, for `build_compiled_state`: a
    dataset's `element_spec`, or the first example of arrays (nothing is read from a dataset)."""
    data = args[0] if args else kwargs.get("x")
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        return spec[0], spec[1]
    y = args[1] if len(args) > 1 else kwargs.get("y")
    return np.asarray(data[:1]), np.asarray(y[:1])
