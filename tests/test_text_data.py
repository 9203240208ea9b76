"""Tests for keras_nash.datasets.text: the Penn Treebank reader, its vocabulary and batches."""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_nash.datasets import TextData, Vocabulary, load_text
from keras_nash.datasets.text import batchify, default_text_directory


def _write(directory, train="a b c\nb c\n", valid="c a d\n", test="b c a\n"):
    """Tiny PTB-format files; None leaves a file out."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in (("ptb.train.txt", train), ("ptb.valid.txt", valid), ("ptb.test.txt", test)):
        if text is not None:
            (directory / name).write_text(text)
    return directory


def test_vocabulary_ids_eos_and_unk(tmp_path):
    data = load_text(_write(tmp_path), batch_size=1, bptt=2)
    assert isinstance(data, TextData)
    vocabulary = data.vocabulary
    # counts in the training file: b 2, c 2, <eos> 2, a 1 (ties alphabetical); <unk> added last
    assert vocabulary.words == ("<eos>", "b", "c", "a", "<unk>")
    assert len(vocabulary) == 5
    assert data.num_tokens == {"train": 7, "validation": 4, "test": 4}
    # validation "c a d <eos>": "d" is not in the training file, so it reads as <unk>
    inputs, targets = next(iter(data.validation))
    assert vocabulary.decode(inputs[0]) == ["c", "a"]
    assert vocabulary.decode(targets[0]) == ["a", "<unk>"]
    # the training stream has <eos> at every line end: 7 tokens, 3 windows of 2
    windows = list(data.train.as_numpy_iterator())
    stream = [int(i) for inputs, _ in windows for i in inputs[0]] + [int(windows[-1][1][0, -1])]
    assert vocabulary.decode(stream) == ["a", "b", "c", "<eos>", "b", "c", "<eos>"]
    assert vocabulary.encode(["c", "<eos>", "zebra"]).tolist() == [2, 0, 4]
    assert vocabulary.encode(["a"]).dtype == np.int32


def test_unk_kept_in_its_frequency_order_when_the_file_has_it():
    vocabulary = Vocabulary.from_words("<unk> x <unk> y <eos>".split())
    assert vocabulary.words == ("<unk>", "<eos>", "x", "y")
    assert vocabulary.encode(["nope"]).tolist() == [0]


def test_vocabulary_json_round_trip_and_save_load(tmp_path):
    vocabulary = Vocabulary.from_words("the cat sat on the mat <eos>".split())
    data = json.loads(vocabulary.to_json())
    assert data == {"schema_version": 1, "words": list(vocabulary.words)}
    assert Vocabulary.from_json(vocabulary.to_json()).words == vocabulary.words
    path = tmp_path / "vocab.json"
    vocabulary.save(str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vocab.json"]  # no stray temporary
    loaded = Vocabulary.load(str(path))
    assert loaded.words == vocabulary.words
    assert loaded.decode(loaded.encode(["the", "mat"])) == ["the", "mat"]


@pytest.mark.parametrize(
    "text, match",
    [
        ("not json", "`text` must be JSON"),
        ('{"schema_version": 2, "words": ["<unk>"]}', "Received: text="),
        ('{"schema_version": 1, "words": ["a", "a", "<unk>"]}', "must be distinct"),
        ('{"schema_version": 1, "words": ["a"]}', "contain '<unk>'"),
    ],
)
def test_vocabulary_rejects_bad_json(text, match):
    with pytest.raises(ValueError, match=match):
        Vocabulary.from_json(text)


def test_decode_rejects_out_of_range_ids():
    with pytest.raises(ValueError, match=r"`ids` must be in \[0, 1\)"):
        Vocabulary(["<unk>"]).decode([1])


def test_batchify_rows_windows_and_shift():
    ids = np.arange(23)
    inputs, targets = batchify(ids, batch_size=2, bptt=3)
    # 23 tokens -> 22 kept -> rows of 11; (11 - 1) // 3 = 3 windows, the short last one dropped
    assert inputs.shape == targets.shape == (3, 2, 3)
    assert inputs.dtype == targets.dtype == np.int32
    # row r is the contiguous stretch [11 r, 11 r + 11)
    np.testing.assert_array_equal(inputs[0], [[0, 1, 2], [11, 12, 13]])
    # inside a window, targets[t] == inputs[t + 1]; the last target is the next window's first input
    np.testing.assert_array_equal(targets[:, :, :-1], inputs[:, :, 1:])
    np.testing.assert_array_equal(targets[:-1, :, -1], inputs[1:, :, 0])
    # across windows, every row's stream continues in order
    np.testing.assert_array_equal(np.concatenate(list(inputs[:, 1]), axis=0), np.arange(11, 20))
    np.testing.assert_array_equal(np.concatenate(list(targets[:, 0]), axis=0), np.arange(1, 10))


def test_batchify_too_short_gives_no_windows():
    inputs, targets = batchify(np.arange(7), batch_size=2, bptt=3)  # rows of 3 need 4
    assert inputs.shape == targets.shape == (0, 2, 3)
    assert batchify(np.arange(8), batch_size=2, bptt=3)[0].shape == (1, 2, 3)  # exactly enough
    with pytest.raises(ValueError, match="`bptt` must be an int >= 1. Received: bptt=0"):
        batchify(np.arange(8), batch_size=2, bptt=0)


def test_datasets_shapes_dtypes_and_cardinality(tmp_path):
    train = "".join(f"w{i % 7} w{i % 5} w{i % 3}\n" for i in range(50))  # 200 tokens
    valid = "w1 w2 w3 unseen\n" * 10  # 50 tokens
    data = load_text(
        _write(tmp_path, train=train, valid=valid, test=None),
        batch_size=4,
        bptt=5,
        eval_batch_size=2,
    )
    assert data.test is None and data.num_tokens["test"] == 0
    assert (data.batch_size, data.eval_batch_size, data.bptt) == (4, 2, 5)
    for dataset, rows, tokens in ((data.train, 4, 200), (data.validation, 2, 50)):
        for spec in dataset.element_spec:
            assert spec.shape == (rows, 5) and spec.dtype == tf.int32
        assert int(dataset.cardinality()) == (tokens // rows - 1) // 5
        batches = list(dataset.as_numpy_iterator())
        assert len(batches) == int(dataset.cardinality())  # not shuffled: the windows in order
        np.testing.assert_array_equal(batches[1][0][:, 0], batches[0][1][:, -1])
    # the same directory gives the same batches (deterministic)
    again = load_text(tmp_path, batch_size=4, bptt=5, eval_batch_size=2)
    for first, second in zip(data.train.as_numpy_iterator(), again.train.as_numpy_iterator()):
        np.testing.assert_array_equal(first[0], second[0])


def test_default_text_loads_in_fixed_shape_batches():
    assert default_text_directory().endswith("ptb_default")
    data = load_text(batch_size=20, bptt=35)
    # measured: 6,043 words from 71,278 training tokens (the partial PTB train file + 80% of the
    # official validation file), 7,174 validation and 7,279 test tokens
    assert len(data.vocabulary) == 6043
    assert data.vocabulary.words[:3] == ("the", "<unk>", "<eos>")
    assert data.num_tokens == {"train": 71278, "validation": 7174, "test": 7279}
    assert int(data.train.cardinality()) == (71278 // 20 - 1) // 35 == 101
    assert int(data.validation.cardinality()) == (7174 // 20 - 1) // 35 == 10
    for dataset in (data.train, data.validation, data.test):
        inputs, targets = dataset.element_spec
        assert inputs.shape == targets.shape == (20, 35) and inputs.dtype == tf.int32


@pytest.mark.parametrize(
    "case, kwargs, error, message",
    [
        (
            "no directory",
            {},
            FileNotFoundError,
            r"must be a directory holding ptb\.train\.txt.*"
            r"--dataset.*\(not found\)",
        ),
        ("a file", {}, FileNotFoundError, r"\(a file, not a directory\)"),
        ("no valid file", {}, FileNotFoundError, r"`directory` has no ptb\.valid\.txt"),
        ("no train file", {}, FileNotFoundError, r"`directory` has no ptb\.train\.txt"),
        ("empty train file", {}, ValueError, r"ptb\.train\.txt is empty.*Received: directory="),
        ("empty valid file", {}, ValueError, r"ptb\.valid\.txt is empty"),
        ("ok", {"bptt": 0}, ValueError, r"`bptt` must be an int >= 1\. Received: bptt=0"),
        ("ok", {"batch_size": 0}, ValueError, r"`batch_size` must be an int >= 1"),
        ("ok", {"eval_batch_size": -1}, ValueError, r"`eval_batch_size` must be an int >= 1"),
        (
            "ok",
            {"batch_size": 8},
            ValueError,
            r"The train text \(ptb\.train\.txt, 7 tokens\) is "
            r"too short for one window of batch_size=8 rows x bptt=2.*at least 24 tokens.*lower "
            r"`batch_size` or `bptt`",
        ),
        (
            "ok",
            {"eval_batch_size": 2},
            ValueError,
            r"The validation text \(ptb\.valid\.txt, 4 "
            r"tokens\).*lower `eval_batch_size` or `bptt`",
        ),
    ],
)
def test_bad_input_is_named(tmp_path, case, kwargs, error, message):
    kwargs = {"batch_size": 1, "bptt": 2, **kwargs}
    directory = tmp_path / "ptb"
    if case == "a file":
        directory.write_text("a b\n")
    elif case == "no valid file":
        _write(directory, valid=None)
    elif case == "no train file":
        _write(directory, train=None)
    elif case == "empty train file":
        _write(directory, train="\n \n")
    elif case == "empty valid file":
        _write(directory, valid="")
    elif case == "ok":
        _write(directory)
    with pytest.raises(error, match=message):
        load_text(directory, **kwargs)
