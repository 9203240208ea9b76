"""ENAS's settings by search space: the authors' scripts' (melodyguan/enas) and the short run's.

`EnasTuner` takes these for the arguments left None; each value says whose it is.
"""

import keras_tuner

# The authors' controller steps x aggregation per epoch.
TRAIN_STEPS = {"macro": (50, 20), "micro": (30, 10), "recurrent": (100, 10)}
# The training by space, for the arguments left None: the authors' CIFAR-10 scripts (search:
# cifar10_{macro,micro}_search.sh, SGDR 0.05 -> 0.0005, batch 128 / 160; final:
# cifar10_{macro,micro}_final.sh, SGDR 0.05 -> lr_min, dropout 1 - keep_prob before the
# classifier, 310 / 630 epochs, batch 100 / 144 (`final_batch_size`); micro: an auxiliary
# head weighted 0.4 and drop-path 1 - 0.6
# (their macro child has neither: `general_child.py` ignores `--child_use_aux_heads`)), and
# their Penn Treebank search script (`scripts/ptb_search.sh`: plain SGD 0.25 on the loss summed
# over time, decayed by 0.95 a epoch after epoch 12 (counted from 0) down to
# 0.0005, clip 10, batch 20, 100 epochs; the found cell's final training here uses the same SGD
# for as many epochs, not their `ptb_final.sh`'s 2,000 epochs at learning rate 20).
# Weight decay: the authors add `l2_reg * sum(w ** 2)` to the loss, a gradient term
# `2 * l2_reg * w`; keras_nash's `weight_decay` is the gradient term's coefficient (coupled L2,
# `keras_nash.optimizers`), so it is twice their `l2_reg`: macro search 2.5e-4 -> 5e-4, micro
# search 1e-4 -> 2e-4, final 2e-4 -> 4e-4 (`FINAL_WEIGHT_DECAY`), PTB 1e-7 -> 2e-7.
FINAL_WEIGHT_DECAY = 4e-4
_IMAGES = dict(
    learning_rate=0.05,
    learning_rate_min=0.0005,
    momentum=0.9,
    grad_clip=5.0,
    final_learning_rate=0.05,
)
TRAINING = {
    "macro": dict(
        _IMAGES,
        weight_decay=5e-4,
        batch_size=128,
        final_learning_rate_min=0.001,
        final_dropout=0.5,
        auxiliary_weight=0.0,
        drop_path_prob=0.0,
        final_epochs=310,
        final_batch_size=100,
    ),
    "micro": dict(
        _IMAGES,
        weight_decay=2e-4,
        batch_size=160,
        final_learning_rate_min=0.0001,
        final_dropout=0.2,
        auxiliary_weight=0.4,
        drop_path_prob=0.4,
        final_epochs=630,
        final_batch_size=144,
    ),
    "recurrent": dict(
        learning_rate=0.25,
        learning_rate_min=0.0005,
        momentum=0.0,
        weight_decay=2e-7,
        grad_clip=10.0,
        final_learning_rate=0.25,
        batch_size=20,
        final_learning_rate_min=0.0005,
        final_dropout=0.0,
        auxiliary_weight=0.0,
        drop_path_prob=0.0,
        final_epochs=100,
        final_batch_size=None,
    ),
}
SEARCH_EPOCHS = {"macro": 310, "micro": 150, "recurrent": 100}
"""Search epochs by space: the authors' scripts (cifar10_macro_search.sh 310, also the paper's;
cifar10_micro_search.sh 150, also the paper's; ptb_search.sh 100, where the paper says 150)."""
# The authors' final networks' size (`--paper_defaults` of the command line; the tuner's
# default is the searched size): macro 96 filters (their final architecture has 24 layers:
# a macro network's depth is its architecture's), micro 36 filters and 17 cells (their
# `child_num_layers=15` normal cells and 2 reduction cells, as the search's 8 are 6 + 2).
FINAL_SIZE = {
    "macro": dict(final_filters=96),
    "micro": dict(final_filters=36, final_cells=17),
    "recurrent": {},
}


def default_objective(space):
    """The objective of a space's search: validation accuracy, or for a language model its
    validation loss (log-perplexity), minimised."""
    return keras_tuner.Objective("val_loss", "min") if space.name == "recurrent" else "val_accuracy"


SHORT_EPOCHS = {"micro": 30}
"""Search epochs of the short micro search (3 for the other spaces): after 3 epochs its shared
weights score every architecture near chance and its controller has nothing to learn from. In 8
searches of 30 epochs on the shipped images (at the "auto" rate) its entropy ended below 0.9 of
uniform in 4 and its final candidates beat uniform architectures by two standard errors in 3, on
the validation images; on held-out images see `SHORT_CONTROLLER_LEARNING_RATE`
(docs/benchmarks.md, "ENAS micro: 30 short epochs")."""

SHORT_CONTROLLER_LEARNING_RATE = {"micro": 0.021}
"""The short micro search's controller rate: the authors' 3.5e-3 x 6, where "auto" gives x 15
(0.0525 for 30 epochs x 10 steps) and saturates the controller's bounded logits (its policy
jumps, sometimes back to near uniform). Measured on held-out images (bench/enas_policy.py, 30
epochs): at 0.021 the final policy's samples beat uniform ones by +0.015 on average over 4 seeds
(+0.046, +0.008, +0.009, -0.003) and 3 ended below 0.9 of uniform; at "auto" +0.001 over 3 (1
below 0.9)."""

# -- the command line's presets (and the Python API's: `EnasTuner(space, **SHORT["macro"])`) --
AUTHORS = {space: dict(FINAL_SIZE[space]) for space in TRAINING}
"""What `--authors_defaults` passes beyond the tuner's own defaults (which are the authors'
scripts' values, `TRAINING`, `TRAIN_STEPS`, the controller's): their final networks' size."""

PAPER = {
    "macro": dict(
        AUTHORS["macro"],
        controller_learning_rate=0.00035,
        controller_tanh_constant=2.5,
        learning_rate_min=0.001,
    ),
    "micro": dict(
        AUTHORS["micro"],
        controller_learning_rate=0.00035,
        controller_tanh_constant=2.5,
        learning_rate_min=0.001,
    ),
    "recurrent": dict(
        AUTHORS["recurrent"],
        controller_learning_rate=0.00035,
        controller_tanh_constant=2.5,
        learning_rate=20.0,
        grad_clip=0.25,
        epochs=150,
    ),
}
"""What `--paper_defaults` passes: the authors' final networks' size and, where the paper's
values differ from their scripts', the paper's (Pham et al. 2018, sections 3.1-3.2: the
controller's Adam at 0.00035 and tanh constant 2.5; CIFAR-10's cosine down to 0.001; Penn
Treebank's SGD at 20, clipped at 0.25, batch 64, 150 epochs)."""

SHORT = {
    space: dict(
        epochs=SHORT_EPOCHS.get(space, 3),
        final_epochs=10,
        controller_train_steps=10,
        controller_num_aggregate=5,
        controller_learning_rate=SHORT_CONTROLLER_LEARNING_RATE.get(space, "auto"),
    )
    for space in TRAINING
}
"""The project's short CPU search (minutes on 2 cores with the embedded data), not a paper's:
`controller_learning_rate="auto"` scales the authors' rate to the run's controller steps
(`tuners.enas.tuner.scaled_controller_learning_rate`), so that the controller moves; micro's
30 epochs take a measured rate instead (`SHORT_CONTROLLER_LEARNING_RATE`)."""

SPACE_SHORT = {
    "macro": dict(num_layers=6, filters=16),
    "micro": dict(num_cells=3, filters=8),
    "recurrent": dict(num_nodes=8, hidden_size=64),
}
"""The short search's space sizes (the spaces' own defaults are the paper's)."""

BATCH_SIZE = {
    "authors": {space: training["batch_size"] for space, training in TRAINING.items()},
    "paper": {
        space: 64 if space == "recurrent" else training["batch_size"]
        for space, training in TRAINING.items()
    },
    "short": {"macro": 64, "micro": 64, "recurrent": TRAINING["recurrent"]["batch_size"]},
}
"""Batch size by preset and space: the authors' scripts' (128 macro, 160 micro, 20 PTB), the
paper's (the same, PTB 64), and the short search's (64; PTB keeps its 20)."""
