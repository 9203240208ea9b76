"""tensorflow-datasets sources: prepared data first, a download only when missing, fast offline.

A tfds image classification dataset ("cifar10", "mnist", ...) is read from `data_dir`. Only
when it is not prepared there is it downloaded, and a machine without network gets a
`ConnectionError` within seconds that says how to proceed offline (tfds itself would retry
for minutes). Its validation split (and test split, when it has none of its own) is carved
from the training split with the same seeded indices as an array source (`split_indices`).
Standardisation uses the published statistics of CIFAR-10/100, MNIST and Fashion-MNIST,
otherwise statistics estimated on a sample of the training split.
"""

import os
import socket
import urllib.parse
import urllib.request

import numpy as np
import tensorflow as tf

from keras_nash.datasets.arrays import DEFAULT_SOURCE, SplitOptions, split_indices
from keras_nash.datasets.pipeline import Data, make_data, make_preprocessing, preprocessing_of

_SHUFFLE_BUFFER = 10_000  # for tfds training sets too large to cache in memory
_CACHE_BYTES = 2**31  # decoded images up to 2 GiB are cached in memory (CIFAR-10: 150 MB)
_STATS_SAMPLE = 10_000  # images to estimate mean/std on for sets without known statistics
_PROBE_TIMEOUT_S = 5.0  # seconds to wait for a download host before calling the machine offline

# Per-channel mean and standard deviation of the training sets, for pixels scaled to [0, 1].
_TFDS_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
}


def is_tfds_name(source) -> bool:
    """A string source that is neither "default", an .npz name nor an existing file.

    tfds names may hold a "/" (a config, e.g. "imagenet2012_subset/1pct"), so a missing path
    without the .npz suffix reaches tfds, whose "not found" becomes a ValueError about `source`.
    """
    if not isinstance(source, str) or source == DEFAULT_SOURCE:
        return False
    return not source.lower().endswith(".npz") and not os.path.exists(os.path.expanduser(source))


def load_tfds(
    name: str, data_dir, options: SplitOptions, *, batch_size: int, augment: bool
) -> Data:
    """The `Data` of a tfds dataset, streamed from its prepared files."""
    builder, image_key, label_key = _prepared_builder(name, data_dir)
    splits = builder.info.splits
    has_test = "test" in splits
    n = splits["train"].num_examples
    if n == 0:
        raise ValueError(
            f"The dataset is empty: its 'train' split has no examples. Received: source={name!r}"
        )
    train_idx, validation_idx, test_idx = split_indices(n, options, has_test)
    # Which carved split each training example goes to: 0 train, 1 validation, 2 test, -1 none
    # (dropped by `max_examples`). The read order is fixed (`shuffle_files=False`).
    assignment = np.full(n, -1, np.int8)
    assignment[train_idx], assignment[validation_idx], assignment[test_idx] = 0, 1, 2
    assignment = tf.constant(assignment)
    full_train = _read_split(builder, "train", image_key, label_key)

    image_feature = builder.info.features[image_key]
    input_shape = tuple(int(d) for d in image_feature.shape)
    cache = n * int(np.prod(input_shape)) <= _CACHE_BYTES  # decoded uint8 images fit in memory

    def carved(code):
        # A known cardinality (the count is known: `filter` would hide it) so that consumers
        # never read the data to count it; decoded once and cached in memory when it fits.
        count = int(np.sum(assignment.numpy() == code))
        dataset = (
            full_train.enumerate()
            .filter(lambda index, example: tf.equal(tf.gather(assignment, index), code))
            .map(lambda index, example: example)
            .apply(tf.data.experimental.assert_cardinality(count))
        )
        return dataset.cache() if cache else dataset

    known = _TFDS_STATS.get(builder.name)
    if known is not None and len(known[0]) == input_shape[-1]:
        preprocessing = make_preprocessing(image_feature.np_dtype, *known)
    else:
        batches = carved(0).take(_STATS_SAMPLE).batch(1024).as_numpy_iterator()
        preprocessing = preprocessing_of(np.concatenate([images for images, _ in batches]))
    if has_test:
        test, n_test = (
            _read_split(builder, "test", image_key, label_key),
            splits["test"].num_examples,
        )
        test = test.cache() if cache else test
    elif len(test_idx):
        test, n_test = carved(2), len(test_idx)
    else:
        test, n_test = None, 0
    label_feature = builder.info.features[label_key]
    return make_data(
        {"train": carved(0), "validation": carved(1), "test": test},
        preprocessing=preprocessing,
        batch_size=batch_size,
        augment=augment,
        seed=options.seed,
        shuffle_buffer=len(train_idx) if cache else min(len(train_idx), _SHUFFLE_BUFFER),
        input_shape=input_shape,
        num_classes=int(label_feature.num_classes),
        class_names=_class_names(label_feature),
        num_examples={"train": len(train_idx), "validation": len(validation_idx), "test": n_test},
    )


def tfds_arrays(name: str, data_dir):
    """`x, y, x_test, y_test, class_names` of a (small) tfds dataset, read whole into memory."""
    import tensorflow_datasets

    builder, image_key, label_key = _prepared_builder(name, data_dir)

    def read(split):
        dataset = builder.as_dataset(split=split, shuffle_files=False, batch_size=-1)
        examples = tensorflow_datasets.as_numpy(dataset)
        return examples[image_key], examples[label_key]

    x, y = read("train")
    x_test, y_test = read("test") if "test" in builder.info.splits else (None, None)
    return x, y, x_test, y_test, _class_names(builder.info.features[label_key])


def _prepared_builder(name, data_dir):
    """The builder of an image classification dataset with a train split, prepared in `data_dir`."""
    import tensorflow_datasets

    try:
        builder = tensorflow_datasets.builder(name, data_dir=data_dir)
    except tensorflow_datasets.core.registered.DatasetNotFoundError as error:
        raise ValueError(
            "`source` is neither 'default', an existing .npz file, nor a tensorflow-datasets "
            f"dataset name. Received: source={name!r}"
        ) from error
    image_key, label_key = _supervised_keys(builder, name)
    _ensure_prepared(builder, name, data_dir)
    splits = builder.info.splits
    if "train" not in splits:
        raise ValueError(
            f"`source` must have a 'train' split. Received: source={name!r} with splits "
            f"{sorted(splits)}"
        )
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
    if (
        shape is None
        or len(shape) != 3
        or any(d is None for d in shape)
        or not hasattr(label, "num_classes")
    ):
        raise ValueError(
            f"`source` must be a tensorflow-datasets image classification dataset with fixed-size "
            f"images and class labels. Received: source={name!r} (image shape {shape})"
        )
    return image_key, label_key


def _class_names(label_feature):
    names = getattr(label_feature, "names", None)
    return tuple(names) if names else None


def _read_split(builder, split, image_key, label_key):
    """`(image, label)` pairs of `split` in the stored order."""
    dataset = builder.as_dataset(split=split, shuffle_files=False)
    return dataset.map(lambda example: (example[image_key], example[label_key]))


# ----------------------------------------------------------------------------------------------
# Downloading, or failing fast without network


def _ensure_prepared(builder, name, data_dir):
    """Use prepared data when there is some; else download, failing fast when offline."""
    import tensorflow_datasets

    if builder.is_prepared():
        return
    _probe_download_hosts(builder, name, data_dir)
    try:
        builder.download_and_prepare()
    except (
        OSError,
        tensorflow_datasets.download.DownloadError,
    ) as error:  # ConnectionError is an OSError
        raise ConnectionError(
            f"tensorflow-datasets dataset {name!r} is not prepared in data_dir={data_dir!r} and "
            f"could not be downloaded ({type(error).__name__}: {error}). "
            + _offline_hint(name, data_dir)
        ) from error


def _probe_download_hosts(builder, name, data_dir):
    """Open one TCP connection per download host (or its proxy) with a short timeout.

    Without network, tfds retries each download with exponential backoff for minutes before
    it gives up; a failed connection here answers in seconds instead.
    """
    proxies = urllib.request.getproxies()
    hosts = set()
    for url in sorted(builder.url_infos or {}):
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            continue
        proxy = proxies.get(parsed.scheme)
        if proxy and not urllib.request.proxy_bypass(parsed.hostname):
            parsed = urllib.parse.urlparse(proxy if "://" in proxy else f"http://{proxy}")
        hosts.add((parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)))
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
