"""Tests for keras_nash/datasets/: every source kind, splits, augmentation, preprocessing record,
bad input, tfds offline."""

import json
import os
import socket
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_nash import datasets
from keras_nash.datasets import tfds as tfds_source


def _images(n, shape=(8, 8, 3), seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def _labels(n, num_classes=4):
    return np.arange(n) % num_classes


def _count(dataset):
    return sum(int(x.shape[0]) for x, _ in dataset)


def _first_batch(dataset):
    x, y = next(iter(dataset))
    return x.numpy(), y.numpy()


def _all_images(dataset):
    return np.concatenate([x.numpy() for x, _ in dataset])


# ------------------------------------------------------------------------------------- default


def test_default_loads_offline_with_cifar_shapes():
    data = datasets.load(batch_size=64)
    assert data.input_shape == (32, 32, 3)
    assert data.num_classes == 10
    assert data.class_names[:2] == ("airplane", "automobile") and len(data.class_names) == 10
    assert data.num_examples == {"train": 2800, "validation": 350, "test": 350}
    x, y = _first_batch(data.train)
    assert x.shape == (64, 32, 32, 3) and x.dtype == np.float32 and y.dtype == np.int32
    assert y.min() >= 0 and y.max() < 10
    assert _count(data.validation) == 350 and _count(data.test) == 350


def test_default_file_is_embedded_and_small():
    path = datasets.default_data_path()
    assert os.path.isfile(path)
    assert os.path.getsize(path) < 10_000_000
    with np.load(path) as data:
        assert data["x"].dtype == np.uint8 and data["x"].shape == (3500, 32, 32, 3)
        assert np.bincount(data["y"]).tolist() == [350] * 10


def test_default_train_split_is_standardised():
    arrays = datasets.load_arrays("default")
    data = datasets.load("default", batch_size=400)  # 7 full batches: every training image
    x = _all_images(data.train).astype(np.float64)
    assert len(x) == len(arrays.train[0]) == 2800
    np.testing.assert_allclose(x.mean(axis=(0, 1, 2)), 0.0, atol=1e-3)
    np.testing.assert_allclose(x.std(axis=(0, 1, 2)), 1.0, atol=1e-3)


def test_preprocessing_record_reproduces_the_pipeline():
    """`Data.preprocessing` is JSON data, and (raw * scale - mean) / std is what the pipeline
    yields."""
    arrays = datasets.load_arrays("default")
    data = datasets.load("default", batch_size=512)
    record = json.loads(json.dumps(data.preprocessing))
    assert record == data.preprocessing and sorted(record) == ["dtype", "mean", "scale", "std"]
    assert record["dtype"] == "uint8" and record["scale"] == 1 / 255
    assert len(record["mean"]) == len(record["std"]) == 3
    x_raw = arrays.validation[0].astype(np.float32)
    expected = (x_raw * record["scale"] - np.array(record["mean"])) / np.array(record["std"])
    np.testing.assert_allclose(_all_images(data.validation), expected, atol=1e-5)


def test_float_sources_are_recorded_unscaled():
    x = _images(40).astype(np.float64) / 255.0
    data = datasets.from_arrays(x, _labels(40), batch_size=8, validation_split=0.0, test_split=0.0)
    record = data.preprocessing
    assert record["dtype"] == "float32" and record["scale"] == 1.0
    np.testing.assert_allclose(record["mean"], x.mean(axis=(0, 1, 2)), rtol=1e-6)
    np.testing.assert_allclose(record["std"], x.std(axis=(0, 1, 2)), rtol=1e-6)


# ---------------------------------------------------------------------------------- npz, arrays


def test_npz_source_with_its_own_test_split(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(
        path,
        x=_images(100),
        y=_labels(100),
        x_test=_images(30, seed=1),
        y_test=_labels(30),
        class_names=np.array(["a", "b", "c", "d"]),
    )
    data = datasets.load(str(path), batch_size=16, validation_split=0.2, test_split=0.5)
    assert data.num_examples == {"train": 80, "validation": 20, "test": 30}
    assert data.input_shape == (8, 8, 3) and data.num_classes == 4
    assert data.class_names == ("a", "b", "c", "d")
    assert _count(data.train) == 80 and _count(data.validation) == 20 and _count(data.test) == 30


def test_npz_source_without_test_split(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=_images(200).astype(np.float32) / 255.0, y=_labels(200, 5))
    data = datasets.load(path, batch_size=32, validation_split=0.1, test_split=0.2)
    assert data.num_examples == {"train": 140, "validation": 20, "test": 40}
    assert data.num_classes == 5 and data.class_names is None
    x, y = _first_batch(data.test)
    assert x.dtype == np.float32 and y.dtype == np.int32 and x.shape == (32, 8, 8, 3)


def test_tuple_source_grayscale_gets_a_channel_axis():
    x = _images(50, shape=(6, 6, 1))[..., 0]
    data = datasets.load((x, _labels(50, 3)), batch_size=8, validation_split=0.2, test_split=0.0)
    assert data.input_shape == (6, 6, 1)
    assert data.num_classes == 3
    assert data.test is None
    assert data.num_examples == {"train": 40, "validation": 10, "test": 0}
    assert _first_batch(data.train)[0].shape == (8, 6, 6, 1)


def test_from_arrays_with_test_and_max_examples():
    data = datasets.from_arrays(
        _images(100),
        _labels(100),
        x_test=_images(10, seed=2),
        y_test=_labels(10),
        batch_size=7,
        max_examples=25,
    )
    assert data.num_examples == {"train": 25, "validation": 10, "test": 10}
    # Training batches are full (a fixed shape): 3 x 7, the 4 left over go to other epochs.
    assert _count(data.train) == 21 and data.train.element_spec[0].shape[0] == 7
    assert _count(data.validation) == 10 and data.validation.element_spec[0].shape[0] is None
    small = datasets.from_arrays(
        _images(20), _labels(20), batch_size=64, test_split=0.0, validation_split=0.0
    )
    assert _count(small.train) == 20  # smaller than one batch: one smaller batch


def test_a_dict_source_is_from_arrays_and_needs_x_and_y():
    x, y, x_test, y_test = _images(30), _labels(30), _images(6, seed=2), _labels(6)
    given = datasets.from_arrays(
        x, y, x_test=x_test, y_test=y_test, class_names=list("abcd"), batch_size=8, seed=4
    )
    loaded = datasets.load(
        {"x": x, "y": y, "x_test": x_test, "y_test": y_test, "class_names": list("abcd")},
        batch_size=8,
        seed=4,
    )
    assert given.num_examples == loaded.num_examples == {"train": 27, "validation": 3, "test": 6}
    assert given.class_names == loaded.class_names
    np.testing.assert_array_equal(_first_batch(given.train)[0], _first_batch(loaded.train)[0])
    with pytest.raises(
        ValueError, match=r"`source` dict must hold arrays 'x' and 'y'; missing \['y'\]"
    ):
        datasets.load({"x": x})
    with pytest.raises(TypeError, match="batchsize"):
        datasets.from_arrays(x, y, batchsize=8)


def test_augmentation_keeps_shapes_and_changes_pixels():
    x, y = _images(64, shape=(32, 32, 3)), _labels(64)
    plain = datasets.load((x, y), batch_size=16, seed=3)
    augmented = datasets.load((x, y), batch_size=16, seed=3, augment=True)
    x_plain, y_plain = _first_batch(plain.train)
    x_aug, y_aug = _first_batch(augmented.train)
    assert x_aug.shape == x_plain.shape == (16, 32, 32, 3)
    np.testing.assert_array_equal(y_aug, y_plain)  # same shuffle, only the pixels move
    assert not np.allclose(x_aug, x_plain)
    # Validation is never augmented.
    np.testing.assert_array_equal(_all_images(augmented.validation), _all_images(plain.validation))


def test_same_seed_same_splits_and_batches():
    first = datasets.load_arrays("default", seed=5)
    second = datasets.load_arrays("default", seed=5)
    other = datasets.load_arrays("default", seed=6)
    np.testing.assert_array_equal(first.validation[0], second.validation[0])
    np.testing.assert_array_equal(first.test[1], second.test[1])
    assert not np.array_equal(first.validation[0], other.validation[0])

    x, y = _images(64, shape=(16, 16, 3)), _labels(64)
    one = datasets.load((x, y), batch_size=32, seed=1, augment=True)
    two = datasets.load((x, y), batch_size=32, seed=1, augment=True)
    epochs_one = [_first_batch(one.train)[0] for _ in range(2)]
    epochs_two = [_first_batch(two.train)[0] for _ in range(2)]
    np.testing.assert_array_equal(epochs_one[0], epochs_two[0])
    np.testing.assert_array_equal(epochs_one[1], epochs_two[1])
    assert not np.array_equal(epochs_one[0], epochs_one[1])  # reshuffled and re-augmented


# ------------------------------------------------------------------------------------ bad input


def _npz(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize(
    "make_source, kwargs, match",
    [
        (lambda p: 42, {}, "source"),
        (lambda p: str(p / "missing.npz"), {}, "source"),
        (lambda p: _npz(p, images=_images(4), y=_labels(4)), {}, "source"),
        (lambda p: (_images(5), _labels(4)), {}, "`x` and `y`"),
        (lambda p: (np.zeros((5, 8)), _labels(5)), {}, "`x`"),
        (lambda p: (np.zeros((5, 2, 2, 2, 2)), _labels(5)), {}, "`x`"),
        (lambda p: (_images(5), -_labels(5) - 1), {}, "`y`"),
        (lambda p: (_images(0), _labels(0)), {}, "empty"),
        (lambda p: (_images(10), _labels(10)), {"validation_split": 1.0}, "validation_split"),
        (lambda p: (_images(10), _labels(10)), {"test_split": -0.1}, "test_split"),
        (
            lambda p: (_images(10), _labels(10)),
            {"validation_split": 0.5, "test_split": 0.5},
            "no training data",
        ),
        (lambda p: (_images(10), _labels(10)), {"batch_size": 0}, "batch_size"),
        (lambda p: (_images(10), _labels(10)), {"max_examples": 0}, "max_examples"),
        (
            lambda p: (_images(1, shape=(4, 4)), _labels(1)),
            {"validation_split": 0.5},
            "no training data",
        ),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(tmp_path, make_source, kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.load(make_source(tmp_path), **kwargs)


def test_bad_test_arrays_raise_value_error():
    with pytest.raises(ValueError, match="x_test"):
        datasets.from_arrays(_images(10), _labels(10), x_test=_images(3))
    with pytest.raises(ValueError, match="x_test"):
        datasets.from_arrays(
            _images(10), _labels(10), x_test=_images(3, shape=(4, 4, 3)), y_test=_labels(3)
        )


# ----------------------------------------------------------------------------- tensorflow-datasets


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    """A real prepared tfds dataset, `tiny_images` (50 train, 20 test, 8x8x3, 4 classes)."""
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    features = tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(8, 8, 3)),
            "label": tfds.features.ClassLabel(names=list("abcd")),
        }
    )

    def split(n, seed):
        return tf.data.Dataset.from_tensor_slices(
            {"image": _images(n, seed=seed), "label": _labels(n)}
        )

    tfds.dataset_builders.store_as_tfds_dataset(
        name="tiny_images",
        version="1.0.0",
        features=features,
        split_datasets={"train": split(50, 0), "test": split(20, 1)},
        data_dir=data_dir,
    )
    return data_dir


def test_tfds_prepared_dataset_loads_without_network(tfds_dir, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("prepared data must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    data = datasets.load(
        "tiny_images", data_dir=tfds_dir, batch_size=8, augment=True, validation_split=0.2
    )
    assert data.input_shape == (8, 8, 3) and data.num_classes == 4
    assert data.class_names == ("a", "b", "c", "d")
    assert data.num_examples == {"train": 40, "validation": 10, "test": 20}
    assert _count(data.train) == 40 and _count(data.validation) == 10 and _count(data.test) == 20
    # Known cardinality (batches), so nothing reads the data to count it.
    assert [int(d.cardinality()) for d in (data.train, data.validation, data.test)] == [5, 2, 3]
    x, y = _first_batch(data.train)
    assert x.dtype == np.float32 and y.dtype == np.int32 and x.shape == (8, 8, 8, 3)

    # The carved validation split is the one load_arrays gives for the same seed.
    arrays = datasets.load_arrays("tiny_images", data_dir=tfds_dir, validation_split=0.2)
    again = datasets.load("tiny_images", data_dir=tfds_dir, batch_size=8, validation_split=0.2)
    assert len(arrays.validation[0]) == 10 and len(arrays.test[0]) == 20
    np.testing.assert_array_equal(_all_images(data.validation), _all_images(again.validation))
    labels = np.concatenate([y.numpy() for _, y in data.validation])
    np.testing.assert_array_equal(labels, arrays.validation[1])


def test_tfds_known_statistics_standardise_the_images(tfds_dir, monkeypatch):
    mean, std = (0.5, 0.4, 0.3), (0.25, 0.2, 0.1)
    monkeypatch.setitem(tfds_source._TFDS_STATS, "tiny_images", (mean, std))
    data = datasets.load("tiny_images", data_dir=tfds_dir, batch_size=4, validation_split=0.2)
    arrays = datasets.load_arrays("tiny_images", data_dir=tfds_dir, validation_split=0.2)
    expected = (arrays.validation[0].astype(np.float32) / 255.0 - np.array(mean)) / np.array(std)
    np.testing.assert_allclose(_all_images(data.validation), expected, atol=1e-5)
    assert data.preprocessing == {
        "dtype": "uint8",
        "scale": 1 / 255,
        "mean": list(mean),
        "std": list(std),
    }


def test_tfds_unknown_name_fails_fast():
    start = time.monotonic()
    with pytest.raises(ValueError, match="source.*no_such_dataset_xyz"):
        datasets.load("no_such_dataset_xyz")
    with pytest.raises(ValueError, match="source"):
        datasets.load("no_such_dataset_xyz/some_config")
    assert time.monotonic() - start < 10


def test_tfds_missing_data_without_network_fails_fast(tmp_path, monkeypatch):
    def unreachable(address, *args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    start = time.monotonic()
    with pytest.raises(ConnectionError, match="data_dir") as error:
        datasets.load("cifar10", data_dir=str(tmp_path))
    assert time.monotonic() - start < 30
    assert "source='default'" in str(error.value) and ".npz" in str(error.value)


def test_tfds_download_error_is_reported_with_offline_hint(tmp_path, monkeypatch):
    class _Connection:
        def __enter__(self):
            return self

        def __exit__(self, *args):
            return False

    calls = []

    def refuse_download(self, *args, **kwargs):
        calls.append(self.name)
        raise ConnectionError("Failed to connect to www.cs.toronto.edu")

    monkeypatch.setattr(socket, "create_connection", lambda *args, **kwargs: _Connection())
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", refuse_download)
    start = time.monotonic()
    with pytest.raises(ConnectionError, match="could not be downloaded.*data_dir"):
        datasets.load("cifar10", data_dir=str(tmp_path))
    assert calls == ["cifar10"]
    assert time.monotonic() - start < 30


def test_batch_augmentation_is_each_examples_own_crop_and_flip():
    """`augment_batch` gives example i the pad-crop-flip its random number names (a numpy
    reference: row offset r mod 9, column offset the next base-9 digit, flip the next bit)."""
    from keras_nash.datasets.pipeline import PAD, augment_batch

    x = np.random.default_rng(0).random((6, 8, 8, 3)).astype("float32")
    randoms = [0, 1, 9, 81, 80, -5]
    out = augment_batch(x, np.array(randoms, np.int64)).numpy()
    padded = np.pad(x, [[0, 0], [PAD, PAD], [PAD, PAD], [0, 0]])
    for i, r in enumerate(randoms):
        r %= 162
        crop = padded[i, r % 9 : r % 9 + 8, r // 9 % 9 : r // 9 % 9 + 8]
        np.testing.assert_array_equal(out[i], crop[:, ::-1] if r // 81 else crop)
