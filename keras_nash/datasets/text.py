"""Text for language models: Penn Treebank-format files, a vocabulary, truncated-BPTT batches.

A directory holds `ptb.train.txt`, `ptb.valid.txt` and `ptb.test.txt`: one sentence a line,
words separated by spaces (the Mikolov preprocessing: 10,000 words, `<unk>`, numbers as `N`).
Each line ends with `<eos>`. The vocabulary comes from the training file alone (ids by
decreasing frequency, ties in alphabetical order; `<unk>` always in it); words of the other
files that it lacks read as `<unk>`.

`load_text` gives each split as a `tf.data.Dataset` of `(inputs, targets)` int32 batches of
`(batch_size, bptt)`: the split's token stream cut into `batch_size` contiguous rows, read in
windows of `bptt` tokens, the targets the inputs shifted by one token (`batchify`). The windows
stay in order (a language model carries its state from one window to the next): the datasets
are not shuffled. `directory=None` reads the small PTB text embedded in the package
(`keras_nash/data/ptb_default`, see `derive_ptb_default.py`).
"""

import collections
import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from keras_nash import files
from keras_nash.checks import check_int

EOS, UNK = "<eos>", "<unk>"
SPLIT_FILES = {"train": "ptb.train.txt", "validation": "ptb.valid.txt", "test": "ptb.test.txt"}
SCHEMA_VERSION = 1


def default_text_directory() -> str:
    """The directory of the embedded PTB text."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                        "ptb_default")


def read_words(path: str) -> list:
    """The words of a text file, `<eos>` after every line.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the file has no words.
    """
    with open(path, encoding="utf-8") as f:
        words = [word for line in f for word in line.split() + [EOS]]
    if not any(word != EOS for word in words):
        raise ValueError(f"The text file {path} is empty: it needs one sentence a line.")
    return words


class Vocabulary:
    """Words and their ids, as a language model reads and writes them.

    Args:
        words: sequence of distinct str, the word of each id; `<unk>` must be among them.

    Example:

    >>> vocabulary = Vocabulary.from_words("the cat the <eos>".split())
    >>> vocabulary.encode(["the", "dog"]).tolist(), vocabulary.decode([0])
    ([0, 3], ['the'])
    """

    def __init__(self, words):
        self.words = tuple(str(word) for word in words)
        self.ids = {word: index for index, word in enumerate(self.words)}
        if len(self.ids) != len(self.words) or UNK not in self.ids:
            raise ValueError(
                f"`words` must be distinct and contain {UNK!r}. Received {len(self.words)} words, "
                f"{len(self.ids)} distinct, {UNK!r} {'in' if UNK in self.ids else 'missing'}"
            )

    @classmethod
    def from_words(cls, words) -> "Vocabulary":
        """The vocabulary of a word stream: ids by decreasing count, ties alphabetical; `<unk>`
        added (last) when absent."""
        counts = collections.Counter(words)
        ordered = sorted(counts, key=lambda word: (-counts[word], word))
        return cls(ordered if UNK in counts else ordered + [UNK])

    def __len__(self):
        return len(self.words)

    def encode(self, words) -> np.ndarray:
        """int32 ids of `words`; unknown words are `<unk>`'s id."""
        unknown = self.ids[UNK]
        return np.asarray([self.ids.get(word, unknown) for word in words], "int32")

    def decode(self, ids) -> list:
        """The words of `ids`."""
        return [self.words[int(index)] for index in np.asarray(ids).reshape(-1)]

    def to_json(self) -> str:
        """`{"schema_version": 1, "words": [...]}`: what an exported model's `vocab.json` holds."""
        return json.dumps({"schema_version": SCHEMA_VERSION, "words": list(self.words)})

    @classmethod
    def from_json(cls, text: str) -> "Vocabulary":
        data = json.loads(text)
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"Unknown vocabulary schema_version {data.get('schema_version')!r}")
        return cls(data["words"])

    def save(self, path: str) -> None:
        """Write `to_json()` to `path` (atomic replace)."""
        files.write_text(path, self.to_json())

    @classmethod
    def load(cls, path: str) -> "Vocabulary":
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read())


def batchify(ids, batch_size: int, bptt: int):
    """A token stream as truncated-BPTT windows: `(inputs, targets)` int32 `(windows,
    batch_size, bptt)`, or `(None, None)` when the stream is too short for one window.

    The stream is trimmed to a multiple of `batch_size` and cut into `batch_size` contiguous
    rows; window k holds tokens `[k * bptt, (k + 1) * bptt)` of every row, its targets the next
    token of each. A last window shorter than `bptt` is dropped (fixed shapes: one trace).

    Example:

    >>> inputs, targets = batchify(np.arange(10), batch_size=2, bptt=2)
    >>> inputs.tolist(), targets.tolist()
    ([[[0, 1], [5, 6]], [[2, 3], [7, 8]]], [[[1, 2], [6, 7]], [[3, 4], [8, 9]]])
    """
    ids = np.asarray(ids, "int32")
    rows = ids[: len(ids) // batch_size * batch_size].reshape(batch_size, -1)
    windows = max(0, (rows.shape[1] - 1) // bptt)
    if not windows:
        return None, None
    starts = range(0, windows * bptt, bptt)
    inputs = np.stack([rows[:, t : t + bptt] for t in starts])
    return inputs, np.stack([rows[:, t + 1 : t + 1 + bptt] for t in starts])


@dataclasses.dataclass(frozen=True)
class TextData:
    """A language model's data: `(inputs, targets)` batches per split, and their vocabulary.

    Attributes:
        train, validation: `tf.data.Dataset`s of int32 `(batch_size, bptt)` pairs, in order.
        test: the same, or None when the directory has no test file.
        vocabulary: the training file's `Vocabulary`.
        batch_size, bptt: the batches' shape.
        num_tokens: `{"train": n, "validation": n, "test": n}`, `<eos>` included.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset | None
    vocabulary: Vocabulary
    batch_size: int
    bptt: int
    num_tokens: dict


def load_text(directory=None, *, batch_size: int = 20, bptt: int = 35) -> TextData:
    """Read a Penn Treebank-format directory into batched truncated-BPTT pipelines.

    Args:
        directory: a directory with `ptb.train.txt`, `ptb.valid.txt` and (optionally)
            `ptb.test.txt`, or None for the embedded PTB text. Defaults to None.
        batch_size: int >= 1, rows per batch (the authors' ENAS scripts: 20). Defaults to 20.
        bptt: int >= 1, tokens per window (their scripts: 35). Defaults to 35.

    Returns:
        A `TextData`.

    Example:

    >>> data = load_text(batch_size=20, bptt=35)  # the embedded PTB text
    >>> len(data.vocabulary), tuple(data.train.element_spec[0].shape)
    (6043, (20, 35))

    Raises:
        FileNotFoundError: the directory or one of its training / validation files is missing.
        ValueError: a bad `batch_size` or `bptt`, an empty file, or a split too short for one
            window.
    """
    batch_size = check_int("batch_size", batch_size, 1)
    bptt = check_int("bptt", bptt, 1)
    directory = default_text_directory() if directory is None else os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"`directory` must be a directory with {', '.join(SPLIT_FILES.values())} (the test "
            f"file optional). Received: directory={directory!r}, which is not a directory"
        )
    paths = {split: os.path.join(directory, name) for split, name in SPLIT_FILES.items()}
    for split in ("train", "validation"):
        if not os.path.isfile(paths[split]):
            raise FileNotFoundError(
                f"{paths[split]} is missing: `directory` must hold {SPLIT_FILES['train']} and "
                f"{SPLIT_FILES['validation']} (and optionally {SPLIT_FILES['test']})."
            )
    words = {split: read_words(path) for split, path in paths.items()
             if split != "test" or os.path.isfile(path)}
    vocabulary = Vocabulary.from_words(words["train"])
    datasets = {}
    for split, stream in words.items():
        inputs, targets = batchify(vocabulary.encode(stream), batch_size, bptt)
        if inputs is None:
            raise ValueError(
                f"The {split} text ({len(stream)} tokens) is too short for one window of "
                f"batch_size={batch_size} x bptt={bptt} (it needs more than "
                f"{batch_size * (bptt + 1)} tokens): lower `batch_size` or `bptt`."
            )
        datasets[split] = tf.data.Dataset.from_tensor_slices((inputs, targets)).prefetch(
            tf.data.AUTOTUNE
        )
    return TextData(
        train=datasets["train"], validation=datasets["validation"], test=datasets.get("test"),
        vocabulary=vocabulary, batch_size=batch_size, bptt=bptt,
        num_tokens={split: len(stream) for split, stream in words.items()},
    )
