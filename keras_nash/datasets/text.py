"""Text for language models: Penn Treebank-format files, a vocabulary, truncated-BPTT batches.

A directory holds `ptb.train.txt`, `ptb.valid.txt` and, optionally, `ptb.test.txt`: one
sentence a line, words separated by spaces (the Mikolov preprocessing: 10,000 words, `<unk>`,
numbers as `N`). Every line ends with `<eos>`. The vocabulary comes from the training file alone
(ids by decreasing frequency, ties in alphabetical order; `<unk>` always in it, appended last
when the file lacks it); words of the other files that it lacks read as `<unk>`.

`load_text` gives each split as a `tf.data.Dataset` of `(inputs, targets)` int32 batches of
`(batch_size, bptt)`: the split's token stream cut into `batch_size` contiguous rows, read in
windows of `bptt` tokens, the targets the inputs shifted by one token (`batchify`). The windows
stay in order (a language model carries its state from one window to the next): the datasets
are not shuffled. `directory=None` reads the small PTB text embedded in the package
(`keras_nash/data/ptb_default`, derived by `keras_nash/data/derive_ptb_default.py`).
"""

import collections
import dataclasses
import importlib.resources
import json
import os

import numpy as np
import tensorflow as tf

from keras_nash import files
from keras_nash.checks import check_int

EOS, UNK = "<eos>", "<unk>"
SPLIT_FILES = {"train": "ptb.train.txt", "validation": "ptb.valid.txt", "test": "ptb.test.txt"}
DEFAULT_TEXT_DIRECTORY = "ptb_default"
SCHEMA_VERSION = 1
_EXPECTED = (
    f"{SPLIT_FILES['train']} and {SPLIT_FILES['validation']} (and optionally "
    f"{SPLIT_FILES['test']}); on the command line `--dataset` must point at it"
)


def default_text_directory() -> str:
    """Path of the PTB text embedded in the package (`keras_nash/data/ptb_default`)."""
    return str(importlib.resources.files("keras_nash") / "data" / DEFAULT_TEXT_DIRECTORY)


def read_words(path: str) -> list:
    """The words of a text file, `<eos>` after every line (ValueError: no words, not UTF-8)."""
    try:
        with open(path, encoding="utf-8") as f:
            words = [word for line in f for word in line.split() + [EOS]]
    except UnicodeDecodeError as error:
        raise ValueError(f"The text file {path} is not UTF-8 text ({error}).") from None
    if not any(word != EOS for word in words):
        raise ValueError(f"The text file {path} is empty: it needs one sentence a line.")
    return words


class Vocabulary:
    """Words and their integer ids, as a language model reads and writes them.

    Build one from a word stream with `Vocabulary.from_words` (what `load_text` does with the
    training file); an exported language model keeps it beside itself as `vocab.json`
    (`save` / `load`, or `to_json` / `from_json`: `{"schema_version": 1, "words": [...]}`,
    the word of id i at index i).

    Args:
        words: sequence of distinct str, the word of each id; `<unk>` must be among them.

    Example:

    >>> vocabulary = Vocabulary.from_words("the cat the <eos>".split())
    >>> vocabulary.words
    ('the', '<eos>', 'cat', '<unk>')
    >>> vocabulary.encode(["the", "dog"]).tolist(), vocabulary.decode([2, 1])
    ([0, 3], ['cat', '<eos>'])
    >>> Vocabulary.from_json(vocabulary.to_json()).words == vocabulary.words
    True
    """

    def __init__(self, words):
        self.words = () if isinstance(words, str) else tuple(words)
        if isinstance(words, str) or not all(isinstance(word, str) for word in self.words):
            raise ValueError(f"`words` must be a sequence of str. Received: words={words!r:.80}")
        self.ids = {word: index for index, word in enumerate(self.words)}
        if len(self.ids) != len(self.words) or UNK not in self.ids:
            raise ValueError(
                f"`words` must be distinct and contain {UNK!r}. Received: {len(self.words)} words, "
                f"{len(self.ids)} distinct, {UNK!r} {'in' if UNK in self.ids else 'missing'}"
            )

    @classmethod
    def from_words(cls, words) -> "Vocabulary":
        """The vocabulary of a word stream: ids by decreasing count, ties in alphabetical order;
        `<unk>` appended last when absent."""
        counts = collections.Counter(words)
        ordered = sorted(counts, key=lambda word: (-counts[word], word))
        return cls(ordered if UNK in counts else ordered + [UNK])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, words) -> np.ndarray:
        """int32 ids of `words` (a sequence of str); unknown words get `<unk>`'s id."""
        unknown = self.ids[UNK]
        return np.asarray([self.ids.get(word, unknown) for word in words], "int32").reshape(-1)

    def decode(self, ids) -> list:
        """The words of `ids` (any integer array, flattened)."""
        ids = np.asarray(ids).reshape(-1)
        low, high = (ids.min(), ids.max()) if ids.size else (0, 0)
        if low < 0 or high >= len(self):
            raise ValueError(f"`ids` must be in [0, {len(self)}). Received: ids in [{low}, {high}]")
        return [self.words[int(index)] for index in ids]

    def to_json(self) -> str:
        """`{"schema_version": 1, "words": [...]}` as JSON text: what `vocab.json` holds."""
        return json.dumps({"schema_version": SCHEMA_VERSION, "words": list(self.words)})

    @classmethod
    def from_json(cls, text: str) -> "Vocabulary":
        """The vocabulary of `to_json()`'s text.

        Raises:
            ValueError: `text` is not such JSON, or of another schema version.
        """
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            data = None
        if (
            not isinstance(data, dict)
            or data.get("schema_version") != SCHEMA_VERSION
            or not isinstance(data.get("words"), list)
        ):
            raise ValueError(
                f'`text` must be JSON {{"schema_version": {SCHEMA_VERSION}, "words": [...]}}. '
                f"Received: text={str(text)[:80]!r}"
            )
        return cls(data["words"])

    def save(self, path: str) -> None:
        """Write `to_json()` to `path` by atomic replace (e.g. `vocab.json` beside a model)."""
        files.write_text(os.fspath(path), self.to_json())

    @classmethod
    def load(cls, path: str) -> "Vocabulary":
        """The vocabulary `save` wrote to `path`."""
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read())


def batchify(ids, batch_size: int, bptt: int):
    """A token stream as truncated-BPTT windows: `(inputs, targets)`, int32 numpy arrays of
    shape `(num_windows, batch_size, bptt)`.

    The stream is trimmed to a multiple of `batch_size` and reshaped to `(batch_size, -1)`, so
    row r is a contiguous stretch of the text; window k holds tokens `[k * bptt, (k + 1) * bptt)`
    of every row, in order, and its targets are the tokens one step later (the next window
    continues where this one ends). A last window shorter than `bptt` is dropped, so every batch
    has the same shape (a model traces once). `num_windows` is `(len(ids) // batch_size - 1) //
    bptt`, 0 for a stream shorter than `batch_size * (bptt + 1)` tokens.

    Args:
        ids: 1-D integer sequence, the token ids.
        batch_size: int >= 1, rows per batch.
        bptt: int >= 1, tokens per window.

    Returns:
        `(inputs, targets)`.

    Example:

    >>> inputs, targets = batchify(np.arange(10), batch_size=2, bptt=2)
    >>> inputs.tolist(), targets.tolist()
    ([[[0, 1], [5, 6]], [[2, 3], [7, 8]]], [[[1, 2], [6, 7]], [[3, 4], [8, 9]]])
    """
    batch_size = check_int("batch_size", batch_size, 1)
    bptt = check_int("bptt", bptt, 1)
    ids = np.asarray(ids)
    if ids.ndim != 1 or not (ids.size == 0 or np.issubdtype(ids.dtype, np.integer)):
        raise ValueError(
            f"`ids` must be a 1-D sequence of integers. Received: ids of shape "
            f"{ids.shape} and dtype {ids.dtype}"
        )
    rows = ids.astype("int32")[: len(ids) // batch_size * batch_size].reshape(batch_size, -1)
    windows = max(0, (rows.shape[1] - 1) // bptt)
    length = windows * bptt

    def cut(stream):  # (batch_size, length) -> (windows, batch_size, bptt)
        return np.ascontiguousarray(stream.reshape(batch_size, windows, bptt).transpose(1, 0, 2))

    return cut(rows[:, :length]), cut(rows[:, 1 : length + 1])


@dataclasses.dataclass(frozen=True)
class TextData:
    """A language model's data: `(inputs, targets)` batches per split, and their vocabulary.

    Attributes:
        train: `tf.data.Dataset` of int32 `(batch_size, bptt)` pairs, in order, not shuffled.
        validation: the same with `eval_batch_size` rows.
        test: the same, or None when the directory has no test file.
        vocabulary: the training file's `Vocabulary`.
        batch_size: rows of a training batch.
        bptt: tokens per window.
        num_tokens: `{"train": n, "validation": n, "test": n}`, `<eos>` included (0: no test).
        eval_batch_size: rows of a validation or test batch.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset | None
    vocabulary: Vocabulary
    batch_size: int
    bptt: int
    num_tokens: dict
    eval_batch_size: int

    @property
    def num_classes(self) -> int:
        """The classes a language model predicts: the vocabulary's size."""
        return len(self.vocabulary)


def load_text(
    directory=None, *, batch_size: int = 20, bptt: int = 35, eval_batch_size: int | None = None
) -> TextData:
    """Read a Penn Treebank-format directory into batched truncated-BPTT pipelines.

    Every dataset yields `(inputs, targets)` int32 tensors of shape `(rows, bptt)`, windows
    in order (see `batchify`), prefetched, with a known `cardinality()`.

    Args:
        directory: path of a directory with `ptb.train.txt`, `ptb.valid.txt` and optionally
            `ptb.test.txt` (without it, `test` is None), or None for the PTB text embedded in
            the package (all three files; see `default_text_directory`). Defaults to None.
        batch_size: int >= 1, rows of a training batch (the authors' ENAS scripts: 20).
            Defaults to 20.
        bptt: int >= 1, tokens per window (truncated backpropagation through time; their
            scripts: 35). Defaults to 35.
        eval_batch_size: int >= 1, rows of a validation / test batch, or None for
            `batch_size`. Defaults to None.

    Returns:
        A `TextData`.

    Raises:
        FileNotFoundError: the directory, its training file or its validation file is missing.
        ValueError: a bad `batch_size`, `bptt` or `eval_batch_size`, an empty file, or a split
            too short for one window (the message gives its token count).

    Example:

    >>> data = load_text(batch_size=20, bptt=35)  # the embedded PTB text
    >>> len(data.vocabulary), data.num_tokens
    (6043, {'train': 71278, 'validation': 7174, 'test': 7279})
    >>> tuple(data.train.element_spec[0].shape), int(data.train.cardinality())
    ((20, 35), 101)
    """
    batch_size = check_int("batch_size", batch_size, 1)
    bptt = check_int("bptt", bptt, 1)
    if eval_batch_size is not None:
        eval_batch_size = check_int("eval_batch_size", eval_batch_size, 1)
    directory, paths = _split_paths(directory)
    try:
        words = {split: read_words(path) for split, path in paths.items()}
    except ValueError as error:
        raise ValueError(f"{error} Received: directory={directory!r}") from None
    vocabulary = Vocabulary.from_words(words["train"])
    rows = {"train": batch_size, "validation": eval_batch_size or batch_size}
    rows["test"] = rows["validation"]
    datasets = {}
    for split, stream in words.items():
        inputs, targets = batchify(vocabulary.encode(stream), rows[split], bptt)
        if not len(inputs):
            size_name = "eval_batch_size" if split != "train" and eval_batch_size else "batch_size"
            raise ValueError(
                f"The {split} text ({SPLIT_FILES[split]}, {len(stream)} tokens) is too short for "
                f"one window of {size_name}={rows[split]} rows x bptt={bptt} tokens (it needs at "
                f"least {rows[split] * (bptt + 1)} tokens): lower `{size_name}` or `bptt`."
            )
        dataset = tf.data.Dataset.from_tensor_slices((inputs, targets))
        datasets[split] = dataset.prefetch(tf.data.AUTOTUNE)
    return TextData(
        train=datasets["train"],
        validation=datasets["validation"],
        test=datasets.get("test"),
        vocabulary=vocabulary,
        batch_size=batch_size,
        bptt=bptt,
        num_tokens={split: len(words.get(split, ())) for split in SPLIT_FILES},
        eval_batch_size=rows["validation"],
    )


def _split_paths(directory) -> tuple:
    """The directory and its files by split (test only when present), or a named error."""
    if directory is None:
        directory = default_text_directory()
    if not isinstance(directory, (str, os.PathLike)):
        raise ValueError(f"`directory` must be a path or None. Received: directory={directory!r}")
    directory = os.path.expanduser(os.fspath(directory))
    if not os.path.isdir(directory):
        found = "a file, not a directory" if os.path.exists(directory) else "not found"
        raise FileNotFoundError(
            f"`directory` must be a directory holding {_EXPECTED}. Received: "
            f"directory={directory!r} ({found})"
        )
    paths = {split: os.path.join(directory, name) for split, name in SPLIT_FILES.items()}
    for split in ("train", "validation"):
        if not os.path.isfile(paths[split]):
            raise FileNotFoundError(
                f"`directory` has no {SPLIT_FILES[split]}: it must hold {_EXPECTED}. Received: "
                f"directory={directory!r}"
            )
    if not os.path.isfile(paths["test"]):
        del paths["test"]
    return directory, paths
