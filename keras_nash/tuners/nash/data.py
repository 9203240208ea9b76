"""What NASH reads from `search()`'s arguments: checks before any training, and batch facts."""

import math
import weakref

import numpy as np
import tensorflow as tf

from keras_nash.checks import check_finite_examples

# What a trial's logs hold besides the compiled metrics (their `val_` forms too, except these).
_EXTRA_LOGS = (
    "params",
    "preservation_error",
    "training_mode_difference",
    "trial_seconds",
    "fit_seconds",
)


def check_seed_architecture(arch) -> None:
    """A ValueError unless the seed network has one image input and one output (NASH's
    morphisms and its data checks assume a single-input, single-output classifier)."""
    inputs, outputs = arch.inputs, arch.outputs
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            "`seed_model` must have one input (images) and one output (class scores): NASH "
            "morphs single-input, single-output classifiers. Received: a network with "
            f"{len(inputs)} inputs ({', '.join(inputs)}) and {len(outputs)} outputs "
            f"({', '.join(outputs)}). Merge the inputs into one tensor, or keep one output head."
        )


def check_objective(objective, metrics) -> None:
    """A ValueError unless a NASH trial's logs hold the objective: `loss`, a compiled metric or
    one of the extra values NASH records, in its training or `val_` form."""
    names = ["loss"] + [m if isinstance(m, str) else getattr(m, "name", str(m)) for m in metrics]
    computable = names + [f"val_{n}" for n in names] + list(_EXTRA_LOGS)
    for single in getattr(objective, "objectives", None) or [objective]:
        if single.name not in computable:
            raise ValueError(
                f"`objective` must be a value the trials record: one of {computable}. Received: "
                f"objective={single.name!r}. Add its metric to `metrics`, or choose another "
                "objective."
            )


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
        raise ValueError(
            "`search` needs training data: search(x, y, validation_data=...) or search(dataset, "
            "validation_data=...)."
        )
    if not isinstance(train, tf.data.Dataset):
        y = fit_args[1] if len(fit_args) > 1 else fit_kwargs.get("y")
        if y is None:
            raise ValueError(
                "`search` got `x` without `y`; pass labels or a tf.data dataset of (x, y)."
            )
        train = (np.asarray(train), np.asarray(y))
    validation = fit_kwargs.get("validation_data")
    if validation is None:
        raise ValueError(
            "NASH needs `validation_data` in `search()`, whatever the objective "
            f"(objective={objective.name!r}): each child's function is checked against its "
            "parent's on validation batches, and the paper selects children on a held-out split. "
            "Received: validation_data=None; pass validation_data=(x_val, y_val) or a dataset."
        )
    if isinstance(validation, (tuple, list)) and len(validation) != 2:
        raise ValueError(
            "`validation_data` must be `(x_val, y_val)` or a tf.data dataset of (x, y) batches. "
            f"Received: a {type(validation).__name__} of {len(validation)} items"
        )
    if isinstance(validation, (tuple, list)):
        validation = (np.asarray(validation[0]), np.asarray(validation[1]))
    for name, data in (("x", train), ("validation_data", validation)):
        if not isinstance(data, tf.data.Dataset):
            check_finite_examples(name if name == "x" else "validation_data[0]", data[0])
    for name, data in (("training data", train), ("validation_data", validation)):
        if data is None:
            continue
        batch = first_batch(data)
        if batch is None:
            raise ValueError(f"The {name} is empty.")
        x, y = batch
        if tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"The {name} has inputs of shape {tuple(x.shape[1:])}, but the seed network "
                f"expects {expected}."
            )
        labels = np.asarray(data[1] if isinstance(data, tuple) else y)
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(
                f"The {name} has labels in [{labels.min()}, {labels.max()}], but the seed network "
                "has "
                f"{num_classes} outputs: labels must be in [0, {num_classes - 1}]."
            )


def _batches(data, n, batch_size):
    """The first `n` input batches of a dataset of `(x, y)` batches or of an `(x, y)` pair."""
    if isinstance(data, tf.data.Dataset):
        return [batch[0] for batch in data.take(n)]
    x = np.asarray(data[0])
    return [x[i * batch_size : (i + 1) * batch_size] for i in range(n) if len(x) > i * batch_size]


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
