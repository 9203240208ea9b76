"""Tests for keras_nash.datasets.text: the Penn Treebank reader, its vocabulary and batches."""

import numpy as np
import pytest

from keras_nash.datasets import Vocabulary, load_text
from keras_nash.datasets.text import batchify, default_text_directory


def _write(directory, train="a b c\nb c\n", valid="c a d\n", test="b c a\n"):
    for name, text in (("ptb.train.txt", train), ("ptb.valid.txt", valid), ("ptb.test.txt", test)):
        if text is not None:
            (directory / name).write_text(text)
    return directory


def test_vocabulary_from_the_training_file_with_eos_and_unk(tmp_path):
    data = load_text(_write(tmp_path), batch_size=1, bptt=2)
    vocabulary = data.vocabulary
    # counts: b 2, c 2, <eos> 2, a 1 (ties alphabetical); <unk> added last
    assert vocabulary.words == ("<eos>", "b", "c", "a", "<unk>")
    assert data.num_tokens == {"train": 7, "validation": 4, "test": 4}
    # "d" is not in the training file: <unk>
    inputs, targets = next(iter(data.validation))
    assert vocabulary.decode(inputs[0]) == ["c", "a"]
    assert vocabulary.decode(targets[0]) == ["a", "<unk>"]
    path = tmp_path / "vocab.json"
    vocabulary.save(str(path))
    assert Vocabulary.load(str(path)).words == vocabulary.words


def test_batchify_rows_windows_and_shift():
    ids = np.arange(23)
    inputs, targets = batchify(ids, batch_size=2, bptt=3)
    assert inputs.shape == targets.shape == (3, 2, 3)  # rows of 11: (11 - 1) // 3 windows
    np.testing.assert_array_equal(targets, inputs + 1)  # the next token, everywhere
    # row r is a contiguous stretch, read window after window
    np.testing.assert_array_equal(np.concatenate(list(inputs[:, 1]), axis=0), np.arange(11, 20))


def test_default_text_loads_in_fixed_shape_batches():
    data = load_text(batch_size=20, bptt=35)
    assert 6000 < len(data.vocabulary) < 6100  # measured: 6,043 words
    assert data.num_tokens == {"train": 71278, "validation": 7174, "test": 7279}
    assert data.train.cardinality() == (71278 // 20 - 1) // 35
    for dataset in (data.train, data.validation, data.test):
        inputs, targets = dataset.element_spec
        assert inputs.shape == targets.shape == (20, 35) and inputs.dtype.name == "int32"
    assert default_text_directory().endswith("ptb_default")


@pytest.mark.parametrize(
    "case, error, message",
    [
        ("no directory", FileNotFoundError, "is not a directory"),
        ("no valid file", FileNotFoundError, "ptb.valid.txt is missing"),
        ("empty train file", ValueError, "ptb.train.txt is empty"),
        ("bptt 0", ValueError, "`bptt` must be an int >= 1. Received: bptt=0"),
        ("batch too large", ValueError, r"too short for one window of batch_size=8 x bptt=2"),
    ],
)
def test_bad_input_is_named(tmp_path, case, error, message):
    kwargs = dict(batch_size=1, bptt=2)
    directory = tmp_path
    if case == "no directory":
        directory = tmp_path / "missing"
    elif case == "no valid file":
        _write(tmp_path, valid=None)
    elif case == "empty train file":
        _write(tmp_path, train="\n")
    elif case == "bptt 0":
        _write(tmp_path)
        kwargs["bptt"] = 0
    else:
        _write(tmp_path)
        kwargs["batch_size"] = 8
    with pytest.raises(error, match=message):
        load_text(directory, **kwargs)
