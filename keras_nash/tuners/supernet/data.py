"""A supernet search's data: `search()`'s arguments read into batched datasets.

- `SearchData`: the training and validation batches, with `full_batches` (one batch shape for
  XLA-compiled steps) and `policy_batches` (the validation stream a policy takes one batch at
  a time from).
- `as_search_data` reads `search()`'s arguments (datasets, or arrays batched by `batch_size`)
  into `SearchData`, failing early with a message that names the argument; `batch_size_of`
  and `check_final_fit` check the others.
- `skip_passes` moves a reshuffling dataset on to the pass a resumed search is at.
- `final_batches` gives the final training's data the final batch size.
"""

import dataclasses
import inspect

import keras
import numpy as np
import tensorflow as tf

from keras_nash.checks import check_finite_examples, check_int


@dataclasses.dataclass
class SearchData:
    """The training and validation data of a search, as batched `tf.data.Dataset`s.

    Attributes:
        train: batches `(x, y)` for the weight steps.
        validation: batches `(x, y)` for the policy and for the epoch's metrics.
        input_shape: tuple, one example's shape `(height, width, channels)` (token windows:
            a batch's `(batch_size, bptt)`).
        full_batch_size: int or None: every batch `train` and `policy_batches` yield holds
            this many examples (`full_batches`), or None (the batches as given).
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    input_shape: tuple
    full_batch_size: int | None = None

    def full_batches(self, batch_size: int) -> "SearchData":
        """These data with every training and policy batch of `batch_size` examples, so that
        an XLA-compiled step sees one shape and compiles once: the training batches regrouped,
        each epoch's last partial batch dropped (its examples differ from epoch to epoch as the
        order does); the policy's validation stream regrouped across passes, nothing dropped.
        The validation passes that score the epoch keep every example (their forward step
        compiles once more, for the last batch, once per search)."""
        train = self.train.rebatch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
        return dataclasses.replace(self, train=train, full_batch_size=batch_size)

    def policy_batches(self, repeat: bool = True, seed=None, start: int = 0) -> tf.data.Dataset:
        """The validation batches a policy takes one at a time (DARTS's alpha step, ENAS's
        rewards, EG-NAS's population batch): endless when `repeat`, the passes running into
        each other; of `full_batch_size` examples each when set (a pass without `repeat`:
        its full batches).

        Args:
            repeat: bool, an endless stream.
            seed: None (the validation data's own order), or an int: the examples shuffled
                within windows of `POLICY_SHUFFLE_WINDOW`, each window's order drawn from
                `(seed, window)` by stateless ops (the same whatever ran before in the
                process: a resumed search takes the same batches). Then the batches are of
                the validation data's first batch's size.
            start: int, validation batches skipped first (with `repeat`, modulo the number of
                batches when known): an epoch's stream goes on where the previous one stopped.
        """
        batches = self.validation.repeat() if repeat else self.validation
        count = int(self.validation.cardinality())
        if start and (count > 0 or not repeat):
            batches = batches.skip(int(start) % count if count > 0 else int(start))
        if seed is not None:
            size = self.full_batch_size or int(next(iter(self.validation))[1].shape[0])
            batches = _shuffle_windows(batches, int(seed), size)
        if self.full_batch_size:
            batches = batches.rebatch(self.full_batch_size, drop_remainder=True)
        return batches

    def input_signature(self):
        """`(x spec, y spec)` with a free batch dimension: one trace for all batch sizes."""
        x_spec, y_spec = self.train.element_spec[:2]
        x = tf.TensorSpec((None,) + tuple(x_spec.shape[1:]), x_spec.dtype)
        y = tf.TensorSpec((None,) + tuple(y_spec.shape[1:]), y_spec.dtype)
        return x, y


POLICY_SHUFFLE_WINDOW = 2048
"""Examples shuffled together in a policy's validation stream (`SearchData.policy_batches`)."""


def _shuffle_windows(batches, seed: int, batch_size: int) -> tf.data.Dataset:
    """`batches` of `(x, y)` as batches of `batch_size` examples, shuffled within windows of
    `POLICY_SHUFFLE_WINDOW` examples by the stateless seed `(seed, window index)`."""
    seed = tf.constant(seed % (2**31 - 1), tf.int64)

    def shuffle(index, window):
        order = tf.argsort(
            tf.random.stateless_uniform(tf.shape(window[0])[:1], tf.stack([seed, index]))
        )
        return tuple(tf.gather(part, order) for part in window)

    windows = batches.unbatch().batch(POLICY_SHUFFLE_WINDOW).enumerate().map(shuffle)
    return windows.unbatch().batch(batch_size)


def as_search_data(fit_args, fit_kwargs, batch_size: int, shuffle_seed=None) -> SearchData:
    """Read `search()`'s arguments into `SearchData`, or raise a clear ValueError.

    Accepts `search(train_ds, validation_data=val_ds)` with batched `(x, y)` datasets, or
    `search(x, y, validation_data=(x_val, y_val))` with arrays (batched by `batch_size`, the
    training arrays in the order of `np.random.default_rng(shuffle_seed).permutation` when
    `shuffle_seed` is given, so that each epoch's order is a function of its seed alone). Labels
    are integer class ids (`(batch,)` or `(batch, 1)`).
    """

    def dataset(x, y, argument, shuffle):
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            if not isinstance(spec, tuple) or len(spec) < 2:
                raise ValueError(
                    f"`{argument}` must yield `(images, labels)` batches. Received: "
                    f"element_spec={spec}"
                )
            if len(spec[0].shape) != 4:
                raise ValueError(
                    f"`{argument}` must yield batched images `(batch, height, width, "
                    f"channels)`. Received: images shape {spec[0].shape}"
                )
            return x.map(lambda *batch: batch[:2])
        if x is None or y is None:
            raise ValueError(
                f"`{argument}` needs images and labels. Received: x={type(x).__name__}, "
                f"y={type(y).__name__}"
            )
        x, y = np.asarray(x), np.asarray(y)
        check_finite_examples(argument if argument == "x" else f"{argument}[0]", x)
        if x.ndim != 4 or len(x) != len(y):
            raise ValueError(
                f"`{argument}` must be images `(n, height, width, channels)` with n labels. "
                f"Received: x.shape={x.shape}, y.shape={y.shape}"
            )
        if shuffle and shuffle_seed is not None:
            # The order is the seed's alone: tf.data's `shuffle(seed=)` also mixes in the global
            # seed, which a resumed process may have set differently.
            order = np.random.default_rng(int(shuffle_seed)).permutation(len(x))
            x, y = tf.constant(x), tf.constant(y)
            return (
                tf.data.Dataset.from_tensor_slices(order)
                .batch(batch_size)
                .map(lambda index: (tf.gather(x, index), tf.gather(y, index)))
            )
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)

    args = list(fit_args)
    x = args[0] if args else fit_kwargs.get("x")
    y = args[1] if len(args) > 1 else fit_kwargs.get("y")
    train = dataset(x, y, "x", shuffle=True)
    validation = fit_kwargs.get("validation_data")
    if validation is None:
        raise ValueError(
            "A supernet search needs `validation_data` (the architecture's half of the data). "
            "Received: validation_data=None"
        )
    if isinstance(validation, tf.data.Dataset):
        validation = dataset(validation, None, "validation_data", shuffle=False)
    else:
        validation = dataset(validation[0], validation[1], "validation_data", shuffle=False)
    x_spec, y_spec = train.element_spec
    if len(y_spec.shape) > 2 or (len(y_spec.shape) == 2 and y_spec.shape[-1] not in (1, None)):
        raise ValueError(
            "Labels must be integer class ids `(batch,)` or `(batch, 1)`, not one-hot. "
            f"Received: labels shape {y_spec.shape}"
        )
    return SearchData(
        train.prefetch(tf.data.AUTOTUNE),
        validation.prefetch(tf.data.AUTOTUNE),
        tuple(x_spec.shape[1:]),
    )


def batch_size_of(fit_kwargs, default: int) -> int:
    """`fit_kwargs["batch_size"]` when given (0 included, to fail its check), else `default`,
    checked to be an int >= 1."""
    given = fit_kwargs.get("batch_size")
    return check_int("batch_size", default if given is None else given, 1)


def check_final_fit(final_fit, read_data, batch_size: int, input_shape: tuple) -> None:
    """Raise a clear ValueError unless `final_fit` (`search(final_fit=...)`) is a dict of
    `model.fit` arguments with `validation_data` whose data `read_data` (the tuner's
    `search_data`) reads, of the search's `input_shape` (the final network is built for it);
    `batch_size` is the search's, for arrays given without one."""
    example = "e.g. {'x': train, 'validation_data': val}"
    if not isinstance(final_fit, dict):
        raise ValueError(
            f"`final_fit` must be a dict of `model.fit` arguments ({example}) "
            f"or None. Received: final_fit={final_fit!r}"
        )
    allowed = set(inspect.signature(keras.Model.fit).parameters) - {"self", "epochs"}
    unknown = sorted(set(final_fit) - allowed)
    if unknown or "validation_data" not in final_fit:
        raise ValueError(
            "`final_fit` must hold `model.fit` arguments, `validation_data` among them (the "
            f"final trial is scored on it; {example}), not `epochs` (the tuner's "
            f"`final_epochs`). Received keys: {sorted(final_fit)}"
        )
    try:
        data = read_data((), final_fit, batch_size_of(final_fit, batch_size), None)
    except ValueError as error:
        raise ValueError(f"`final_fit`: {error}") from None
    if tuple(data.input_shape) != tuple(input_shape):
        raise ValueError(
            f"`final_fit`'s data must have the search's shape {tuple(input_shape)} (the final "
            f"network is built for it). Received: {tuple(data.input_shape)}"
        )


def skip_passes(dataset: tf.data.Dataset, count: int) -> None:
    """Advance a reshuffling dataset by `count` passes without reading them.

    A pipeline with `shuffle(..., seed=s, reshuffle_each_iteration=True)` (or
    `Dataset.random(seed=s, rerandomize_each_iteration=True)`, as keras_nash's augmentation
    uses) draws a pass's order when the pass's iterator is created: the k-th iterator of the
    dataset object gives the k-th order. A resumed search has a new dataset object, whose first
    pass would repeat epoch 0's order; creating and dropping `count` iterators first makes its
    next pass the one an uninterrupted search would have made (about 30 ms a pass for 25,000
    CIFAR images). A dataset without per-pass randomness is unchanged by this.
    """
    for _ in range(int(count)):
        iter(dataset)


def _known_examples(dataset):
    """The examples of a batched dataset whose batches are all full and counted (a training
    pipeline's, `drop_remainder=True`: a static batch size and a known cardinality), else None:
    `Dataset.rebatch` loses the count, which Keras needs to know an epoch's end in advance."""
    batches = int(dataset.cardinality())
    size = tf.nest.flatten(dataset.element_spec)[0].shape
    if batches < 0 or not size.rank or size[0] is None:
        return None
    return batches * int(size[0])


def final_batches(fit_args: tuple, fit_kwargs: dict, batch_size, array_batch_size=None):
    """The final training's `model.fit` arguments with its training data in `batch_size` batches.

    A `tf.data.Dataset` (which comes batched) is rebatched (`Dataset.rebatch`: the same
    examples in the same order, `batch_size` to a batch, the last batch partial); arrays get
    `batch_size=batch_size`. The validation data is left as it is (its batching changes no
    weight). `batch_size` None: a dataset keeps its batches, arrays are fed in batches of
    `fit_kwargs["batch_size"]`, else of `array_batch_size` (not Keras's 32).

    Args:
        fit_args: tuple, `model.fit`'s positional arguments (`x` first, if any).
        fit_kwargs: dict, its keyword arguments.
        batch_size: int >= 1 or None.
        array_batch_size: int or None, arrays' batch size where neither is given.

    Returns:
        `(fit_args, fit_kwargs)`, new containers (the given ones are not changed).

    Example:

    >>> data = tf.data.Dataset.range(10).batch(3)
    >>> args, kwargs = final_batches((data,), {"verbose": 0}, 4)
    >>> [len(batch) for batch in args[0]], kwargs
    ([4, 4, 2], {'verbose': 0})
    >>> final_batches((), {"x": np.zeros((10, 2))}, 4)[1]["batch_size"]
    4
    """
    fit_args, fit_kwargs = tuple(fit_args), dict(fit_kwargs)
    x = fit_args[0] if fit_args else fit_kwargs.get("x")
    if batch_size is None:
        if not isinstance(x, tf.data.Dataset) and array_batch_size is not None:
            fit_kwargs.setdefault("batch_size", int(array_batch_size))
        return fit_args, fit_kwargs
    if isinstance(x, tf.data.Dataset):
        examples = _known_examples(x)
        x = x.rebatch(int(batch_size))
        if examples is not None:  # else Keras warns "Your input ran out of data" at epoch 1
            x = x.apply(tf.data.experimental.assert_cardinality(-(-examples // int(batch_size))))
        if fit_args:
            fit_args = (x,) + fit_args[1:]
        else:
            fit_kwargs["x"] = x
        fit_kwargs.pop("batch_size", None)
    else:
        fit_kwargs["batch_size"] = int(batch_size)
    return fit_args, fit_kwargs
