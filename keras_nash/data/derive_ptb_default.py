"""Derives `ptb_default/`, the small Penn Treebank text embedded in keras_nash (language models).

Source: the offline PTB files of the project's shared data (the Mikolov preprocessing):
`ptb.train.partial.txt` (the first 66,083 bytes of the official training file) and
`ptb.valid.txt` (the complete official validation file, 3,370 lines). The official test file is
not at hand, so the split is this one, fixed (no randomness): train = the partial training
file (less a last line cut mid-way, if any) + the first 80% of the validation file's lines;
valid = its next 10%; test = its last 10%. Written as `ptb.train.txt`, `ptb.valid.txt`,
`ptb.test.txt`, the three files `keras_nash.datasets.load_text` reads.

The partial training file ends at a line end (544 whole lines, nothing dropped), so the result
is: train 3,240 lines (544 + 2,696), 71,278 tokens with `<eos>`; valid 337 lines, 7,174
tokens; test 337 lines, 7,279 tokens; 465,865 bytes in all. The training file's vocabulary
(what `load_text` builds) has 6,043 words, `<unk>` and `<eos>` included.

Usage: python keras_nash/data/derive_ptb_default.py [/path/to/shared/data/ptb]
"""

import os
import sys

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ptb_default")


def derive(source_dir, output_dir=OUTPUT):
    """Writes the three split files of the embedded default into `output_dir`."""
    with open(os.path.join(source_dir, "ptb.train.partial.txt"), encoding="utf-8") as f:
        text = f.read()
    train = text.splitlines(keepends=True)
    if train and not train[-1].endswith("\n"):
        train = train[:-1]  # cut mid-line by the partial copy
    with open(os.path.join(source_dir, "ptb.valid.txt"), encoding="utf-8") as f:
        valid = f.readlines()
    first, second = int(len(valid) * 0.8), int(len(valid) * 0.9)
    os.makedirs(output_dir, exist_ok=True)
    for name, lines in (("ptb.train.txt", train + valid[:first]),
                        ("ptb.valid.txt", valid[first:second]), ("ptb.test.txt", valid[second:])):
        with open(os.path.join(output_dir, name), "w", encoding="utf-8") as f:
            f.writelines(lines)


# The project's sibling folder shared/data/ptb (the source the embedded text was derived from).
SHARED_PTB = os.path.join(os.path.dirname(os.path.abspath(__file__)), *[os.pardir] * 3, "shared",
                          "data", "ptb")


if __name__ == "__main__":
    derive(sys.argv[1] if len(sys.argv) > 1 else SHARED_PTB)
    for name in sorted(os.listdir(OUTPUT)):
        print(os.path.join(OUTPUT, name), os.path.getsize(os.path.join(OUTPUT, name)), "bytes")
