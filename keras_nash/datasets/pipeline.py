"""The `tf.data` pipeline: scaling, per-channel standardisation, augmentation, batching.

What a pipeline applies to raw images is one plain, JSON-ready record, `Data.preprocessing`:

    {"dtype": "uint8", "scale": 0.00392156862745098, "mean": [0.49, 0.48, 0.45], "std": [0.25,
    0.24, 0.26]}

`standardised = (float32(raw) * scale - mean) / std`, per channel (the last axis). `dtype` is
the raw images' dtype, `"uint8"` (then `scale` is 1/255) or `"float32"` for floating-point
sources (then `scale` is 1 and the pixels are taken as they are). `keras_nash.export` builds
the same standardisation into an exported model, so it serves raw images.
"""

import dataclasses

import numpy as np
import tensorflow as tf

PAD = 4  # pixels of zero padding before the random crop (CIFAR convention)
_STATS_CHUNK = 4_096  # images per numpy chunk when computing mean/std of arrays
_MIN_STD = 1e-7  # a constant channel is divided by this rather than by 0


@dataclasses.dataclass(frozen=True)
class Data:
    """The pipelines and facts a search needs about a dataset.

    Attributes:
        train: batched `(image, label)` pipeline, reshuffled each epoch from the seed, augmented
            when asked, prefetched; full batches only (a fixed batch shape, so an XLA-compiled
            step compiles once: the few examples left over are in other epochs' batches, as
            the order reshuffles), or one smaller batch when the split is smaller than a batch.
        validation: batched, prefetched, neither shuffled nor augmented (empty when
            `validation_split=0`).
        test: like `validation`, or None when the source has no test data and `test_split=0`.
        input_shape: shape of one image, e.g. `(32, 32, 3)`.
        num_classes: number of classes; labels are `0 .. num_classes - 1`.
        class_names: the class names when the source has them, else None.
        num_examples: `{"train": n, "validation": n, "test": n}`.
        preprocessing: what the pipelines apply to raw images, JSON-ready:
            `{"dtype": str, "scale": float, "mean": [float] * C, "std": [float] * C}`, so that
            `standardised = (raw * scale - mean) / std` (see this module's docstring).
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset | None
    input_shape: tuple
    num_classes: int
    class_names: tuple | None
    num_examples: dict
    preprocessing: dict


def make_preprocessing(dtype, mean, std) -> dict:
    """The preprocessing record of raw images of `dtype` with per-channel `mean` and `std`.

    Args:
        dtype: the raw pixels' numpy dtype (or its name); uint8 pixels are scaled by 1/255,
            any other dtype is read as float32 pixels already in their final range.
        mean: per-channel mean of the scaled pixels.
        std: per-channel standard deviation of the scaled pixels (floored at 1e-7).

    Returns:
        `{"dtype", "scale", "mean", "std"}` with Python floats, ready for `json.dumps`.
    """
    uint8 = np.dtype(dtype) == np.uint8
    return {
        "dtype": "uint8" if uint8 else "float32",
        "scale": _scale(dtype),
        "mean": [float(value) for value in np.asarray(mean, np.float64).reshape(-1)],
        "std": [float(max(value, _MIN_STD)) for value in np.asarray(std, np.float64).reshape(-1)],
    }


def preprocessing_of(x) -> dict:
    """The preprocessing record standardising `x` (N, H, W, C): its per-channel mean and std."""
    scale = _scale(x.dtype)
    channels = x.shape[-1]
    total, total_sq, count = np.zeros(channels), np.zeros(channels), 0
    for start in range(0, len(x), _STATS_CHUNK):
        chunk = x[start : start + _STATS_CHUNK].astype(np.float64).reshape(-1, channels) * scale
        total += chunk.sum(axis=0)
        total_sq += np.square(chunk).sum(axis=0)
        count += len(chunk)
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - np.square(mean), 0.0))
    return make_preprocessing(x.dtype, mean, std)


def _scale(dtype) -> float:
    """1/255 for uint8 pixels, 1 for any other (floating-point) pixels."""
    return 1.0 / 255.0 if np.dtype(dtype) == np.uint8 else 1.0


def make_data(splits, *, preprocessing, batch_size, augment, seed, shuffle_buffer, **facts) -> Data:
    """A `Data` of unbatched `(image, label)` datasets of raw images.

    Args:
        splits: dict with "train", "validation" and "test" datasets (test may be None).
        preprocessing: the record the pipelines apply (see `make_preprocessing`).
        batch_size, augment, seed: as in `keras_nash.datasets.load`.
        shuffle_buffer: int, the training shuffle buffer.
        **facts: the other `Data` fields (input_shape, num_classes, class_names, num_examples).
    """
    options = dict(preprocessing=preprocessing, batch_size=batch_size, seed=seed)
    test = splits["test"]
    return Data(
        train=pipeline(
            splits["train"],
            training=True,
            augment=augment,
            shuffle_buffer=shuffle_buffer,
            **options,
        ),
        validation=pipeline(splits["validation"], **options),
        test=None if test is None else pipeline(test, **options),
        preprocessing=preprocessing,
        **facts,
    )


def pipeline(
    dataset, *, preprocessing, batch_size, seed, training=False, augment=False, shuffle_buffer=0
):
    """Scale, (shuffle, augment,) standardise, batch and prefetch `(image, label)` pairs.

    Args:
        dataset: unbatched `(raw image, label)` pairs.
        preprocessing: the record to apply (see `make_preprocessing`).
        batch_size: int, examples per batch.
        seed: int, the seed of the shuffle and the augmentation.
        training: bool, shuffle every epoch (and augment when `augment`). Defaults to False.
        augment: bool, pad-crop-flip the training images. Defaults to False.
        shuffle_buffer: int, the shuffle buffer of a training pipeline. Defaults to 0.

    Returns:
        A batched, prefetched `tf.data.Dataset` of `(float32 image, int32 label)`; a training
        pipeline drops the last partial batch when it has a full one (fixed batch shape).
    """
    scale = tf.constant(preprocessing["scale"], tf.float32)
    mean = tf.constant(preprocessing["mean"], tf.float32)
    std = tf.constant(preprocessing["std"], tf.float32)

    def transform(images, labels, randoms=None):  # a batch at once: no per-image Python op
        images = tf.cast(images, tf.float32) * scale
        if randoms is not None:
            images = augment_batch(images, randoms)
        return (images - mean) / std, tf.cast(labels, tf.int32)

    if training:
        dataset = dataset.shuffle(max(1, shuffle_buffer), seed=seed, reshuffle_each_iteration=True)
    # `cardinality` is known for array and tfds sources (-2, unknown, counts as large).
    drop_remainder = training and not 0 <= int(dataset.cardinality()) < batch_size
    if training and augment:
        # One fresh random int64 per example and epoch, reproducible from the seed, which
        # `augment_batch` turns into the example's crop offset and flip.
        randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        dataset = tf.data.Dataset.zip((dataset, randoms)).batch(
            batch_size, drop_remainder=drop_remainder
        )
        dataset = dataset.map(
            lambda example, random: transform(*example, random), num_parallel_calls=tf.data.AUTOTUNE
        )
    else:
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder).map(
            transform, num_parallel_calls=tf.data.AUTOTUNE
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def augment_batch(images, randoms):
    """Zero-pad by `PAD`, crop each image back to its size at its own random offset, flip half.

    Args:
        images: float32 `(batch, H, W, C)` images, scaled but not yet standardised.
        randoms: int64 `(batch,)`, each example's random number for this epoch: its row offset
            is `r mod (2 PAD + 1)`, its column offset the next digit in that base, its flip
            the next bit.
    """
    span = 2 * PAD + 1
    randoms = tf.math.floormod(randoms, span * span * 2)
    rows_offset = tf.cast(randoms % span, tf.int32)
    cols_offset = tf.cast(randoms // span % span, tf.int32)
    flip = randoms // (span * span) == 1
    shape = tf.shape(images)
    padded = tf.pad(images, [[0, 0], [PAD, PAD], [PAD, PAD], [0, 0]])
    rows = rows_offset[:, None] + tf.range(shape[1])[None]
    cols = cols_offset[:, None] + tf.range(shape[2])[None]
    cropped = tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
    return tf.where(flip[:, None, None, None], tf.reverse(cropped, axis=[2]), cropped)
