"""The command line's flags: definitions, which algorithm reads which, and the `--help` text.

The flags carry the Python API's argument names; a flag left unset takes the algorithm's short
CPU value or, with `--paper_defaults`, the paper's, both from the algorithm's presets module
(`keras_nash/tuners/<algorithm>/presets.py`, the Python API's presets too). The command line
itself (what a run does) is `keras_nash/__main__.py`.
"""

import os
import re
import sys
import textwrap

from absl import app, flags

from keras_nash.tuners.darts import presets as darts
from keras_nash.tuners.egnas import presets as egnas
from keras_nash.tuners.enas import presets as enas
from keras_nash.tuners.nash import presets as nash

ALGORITHMS = ("nash", "darts", "egnas", "enas")
VALIDATION_SPLIT = {"short": 0.1, "paper": {"nash": 0.2, "darts": 0.0, "egnas": 0.0}}
"""--validation_split when not given: 0.1; with --paper_defaults NASH's paper's 10k of 50k, and
none for DARTS and EG-NAS (their search halves all 50k training images, their final network
trains on all of them and is reported on the test split)."""

# -- common ----------------------------------------------------------------------------------
flags.DEFINE_enum("algorithm", "nash", ALGORITHMS, "The search algorithm.")
flags.DEFINE_string(
    "dataset",
    "default",
    "'default' (embedded CIFAR-10 subset), a tensorflow-datasets name (e.g. cifar10) or an .npz "
    "file with x and y.",
)
flags.DEFINE_string(
    "data_dir",
    None,
    "tensorflow-datasets data directory (prepared data; no download is needed when it is there).",
)
flags.DEFINE_string(
    "output_dir",
    "runs/keras_nash",
    "Where the search keeps its project directory, summary.json and search.png.",
)
flags.DEFINE_string(
    "export_dir",
    None,
    "If set, export the best model there, taking raw images (0-255) with the search's "
    "standardisation built in (.keras, SavedModel, TFLite, architecture JSON).",
)
flags.DEFINE_list(
    "export_formats",
    ["keras", "saved_model", "tflite", "json"],
    "With --export_dir: the formats to write (keras, saved_model, tflite, json).",
)
flags.DEFINE_bool(
    "replace_export",
    False,
    "Let --export_dir be a directory that already holds files (the export replaces those of the "
    "same names); without it a non-empty --export_dir is refused before the search.",
)
flags.DEFINE_integer(
    "verbose",
    1,
    "Progress: 0 one line per trial (its start and its result), 1 also one line per epoch with "
    "its metrics and the time budget left, 2 also Keras's progress bar within each epoch.",
)
flags.DEFINE_integer("seed", 1, "Random seed of the data split and the search.")
flags.DEFINE_integer(
    "batch_size",
    None,
    f"Training batch size (short: {nash.BATCH_SIZE['short']}, enas recurrent "
    f"{enas.BATCH_SIZE['short']['recurrent']}; paper: nash {nash.BATCH_SIZE['paper']}, darts "
    f"{darts.BATCH_SIZE['paper']}, egnas {egnas.BATCH_SIZE['paper']}; enas: the authors' scripts' "
    f"macro {enas.BATCH_SIZE['authors']['macro']}, micro {enas.BATCH_SIZE['authors']['micro']}, "
    f"recurrent {enas.BATCH_SIZE['authors']['recurrent']}, with --paper_defaults recurrent "
    f"{enas.BATCH_SIZE['paper']['recurrent']}, the paper's).",
)
flags.DEFINE_enum(
    "precision",
    "float32",
    ["float32", "mixed_bfloat16", "mixed_float16"],
    "Dtype policy of every network of the search (mixed_bfloat16: TPUs and recent GPUs; "
    "mixed_float16 with loss scaling: GPUs).",
)
flags.DEFINE_bool(
    "augment",
    True,
    "Standard CIFAR augmentation (pad-4 crop, horizontal flip) on the training split.",
)
flags.DEFINE_float(
    "validation_split",
    None,
    "Fraction held out for validation (selection): of the training split when the dataset has a "
    "test split of its own (CIFAR-10), else of the whole set (default: "
    f"{VALIDATION_SPLIT['short']}; with --paper_defaults nash "
    f"{VALIDATION_SPLIT['paper']['nash']}, NASH's paper's 40k / 10k of CIFAR-10's 50k training "
    f"images; darts/egnas {VALIDATION_SPLIT['paper']['darts']}, the papers' search on 25k / 25k "
    "halves of all 50k, then the final network on all 50k, validated and reported on the "
    "untouched test split).",
)
flags.DEFINE_float(
    "test_split",
    0.1,
    "Fraction held out for testing, when the dataset has no test split of its own.",
)
flags.DEFINE_integer("max_examples", None, "Use at most this many training examples.")
flags.DEFINE_bool(
    "overwrite", False, "Start afresh instead of resuming the search found in --output_dir."
)
flags.DEFINE_bool(
    "authors_defaults",
    False,
    "Like --paper_defaults, but the authors' code's (scripts') value where it differs from the "
    "paper's: enas controller learning rate 1e-3 / 3.5e-3, tanh constant 1.5 / 1.1, lr_min "
    "0.0005, PTB lr 0.25, clip 10, batch 20, 100 epochs (the enas tuner's own defaults); egnas "
    "sigma 1.0 throughout (the authors' script's bug).",
)
flags.DEFINE_bool(
    "paper_defaults",
    False,
    "Use the paper's value for every flag of the algorithm that is not given, data splits "
    "included (--validation_split); darts/egnas also take the papers' data protocol (search on "
    "halves of the training split, final training on all of it).",
)

# -- NASH ------------------------------------------------------------------------------------
flags.DEFINE_integer(
    "n_steps",
    None,
    f"Hill-climbing steps (short: {nash.SHORT['n_steps']}; paper: {nash.PAPER['n_steps']}).",
)
flags.DEFINE_integer(
    "n_neighbors",
    None,
    "Neighbours per step, incumbent included; 1 = random-network baseline (short: "
    f"{nash.SHORT['n_neighbors']}; paper: {nash.PAPER['n_neighbors']}).",
)
flags.DEFINE_integer(
    "n_morphisms",
    None,
    f"Morphisms per child (short: {nash.SHORT['n_morphisms']}; paper: "
    f"{nash.PAPER['n_morphisms']}).",
)
flags.DEFINE_integer(
    "epochs_per_neighbor",
    None,
    f"Training epochs per neighbour (short: {nash.SHORT['epochs_per_neighbor']}; paper: "
    f"{nash.PAPER['epochs_per_neighbor']}).",
)
flags.DEFINE_integer(
    "final_epochs",
    None,
    "Epochs of the final training of the found network, every algorithm (short: "
    f"{nash.SHORT['final_epochs']}; paper: nash {nash.PAPER['final_epochs']}, darts "
    f"{darts.PAPER['final_epochs']}, egnas {egnas.PAPER['final_epochs']} (its authors' code); "
    "enas: the authors' scripts' 310 macro, 630 micro, 100 recurrent).",
)
flags.DEFINE_integer(
    "pretrain_epochs",
    None,
    f"Epochs of the seed's pre-training (short: {nash.SHORT['pretrain_epochs']}; paper: "
    f"{nash.PAPER['pretrain_epochs']}).",
)
flags.DEFINE_list(
    "seed_filters",
    None,
    "Filters of the seed network's three conv blocks (short: "
    f"{','.join(map(str, nash.SEED_FILTERS['short']))}; paper re-implementations: "
    f"{','.join(map(str, nash.SEED_FILTERS['paper']))}).",
)
flags.DEFINE_float("lr_start", 0.05, "Start of each neighbour's cosine schedule.")
flags.DEFINE_float("lr_end", 0.0, "End of each neighbour's cosine schedule.")
flags.DEFINE_float("momentum", 0.9, "SGD momentum (all algorithms).")
flags.DEFINE_float(
    "weight_decay",
    5e-4,
    "Coupled L2 of every algorithm's SGD (gradient + weight_decay * w, as the papers' code). "
    "nash: 5e-4 (re-implementations); darts/egnas: 3e-4 (the papers' code); enas: the authors' "
    "scripts' l2_reg as a gradient term, 5e-4 macro, 2e-4 micro, 2e-7 recurrent, unless given.",
)
flags.DEFINE_list("morphism_probabilities", ["1", "1", "1"], "Weights of deeper, wider, skip.")
flags.DEFINE_list("kernel_sizes", ["3", "5"], "Kernel sizes of the deeper operator.")
flags.DEFINE_list("widening_factors", ["2", "4"], "Factors of the wider operator.")
flags.DEFINE_list("skip_modes", ["add", "concat"], "Kinds of skip connection.")
flags.DEFINE_float(
    "preservation_tolerance",
    None,
    "A child whose output differs from its parent's by more fails (default: the tuner's, by "
    "--precision: 1e-4 in float32, 1e-1 in mixed precision; morphisms.PRESERVATION_TOLERANCES).",
)
flags.DEFINE_float(
    "time_budget",
    None,
    "Seconds of wall time for the whole nash run, from the command's start to its summary, the "
    "search and the final training included (the final training gets the epochs that fit, at most "
    "--final_epochs); a fresh run. Default: 300 (--paper_defaults: none); inf for none.",
)
flags.DEFINE_float(
    "final_share", None, "nash: share of --time_budget kept for the final training (default 0.25)."
)
flags.DEFINE_enum(
    "cost",
    None,
    ["params", "flops", "seconds"],
    "nash: the cost recorded for every trial and used by --pareto and --max_cost_growth (default "
    "params).",
)
flags.DEFINE_bool(
    "pareto",
    None,
    "nash: LEMONADE's climb over the Pareto front of (objective, --cost) instead of the paper's "
    "hill climb.",
)
flags.DEFINE_float(
    "max_cost_growth",
    None,
    "nash: the largest cost of a child over its parent's (default: no bound).",
)

# -- DARTS, EG-NAS, ENAS (supernet searches) -------------------------------------------------
# None means: the algorithm's short CPU value (SHORT below) or, with --paper_defaults, the
# tuner's own default, which is the paper's.
flags.DEFINE_integer(
    "epochs",
    None,
    f"Search epochs (short: {darts.SHORT['epochs']} darts, {egnas.SHORT['epochs']} egnas, "
    f"{enas.SHORT['macro']['epochs']} enas; paper: darts {darts.PAPER['epochs']}, egnas "
    f"{egnas.PAPER['epochs']}; enas: the authors' scripts' {enas.SEARCH_EPOCHS['macro']} macro "
    f"and {enas.SEARCH_EPOCHS['micro']} micro (also the paper's), "
    f"{enas.SEARCH_EPOCHS['recurrent']} recurrent (--authors_defaults; --paper_defaults: the "
    f"paper's {enas.PAPER['recurrent']['epochs']})).",
)
flags.DEFINE_float(
    "learning_rate",
    None,
    f"The shared weights' initial learning rate (paper: {darts.PAPER['learning_rate']} darts, "
    f"{egnas.PAPER['learning_rate']} egnas, {enas.TRAINING['macro']['learning_rate']} enas macro "
    "and micro; enas recurrent: the authors' search script's "
    f"{enas.TRAINING['recurrent']['learning_rate']} (--authors_defaults), the paper's "
    f"{enas.PAPER['recurrent']['learning_rate']} (--paper_defaults)).",
)
flags.DEFINE_float(
    "learning_rate_min",
    None,
    f"The weights' final learning rate (paper: darts {darts.PAPER['learning_rate_min']}; egnas "
    f"{egnas.PAPER['learning_rate_min']}, its authors' code; enas: the authors' search scripts' "
    f"{enas.TRAINING['macro']['learning_rate_min']} (the tuner's default, --authors_defaults), "
    f"the paper's {enas.PAPER['macro']['learning_rate_min']} (--paper_defaults)).",
)
flags.DEFINE_float(
    "grad_clip",
    None,
    f"Gradient global-norm clip of the weights (darts/egnas: {darts.PAPER['grad_clip']}, the "
    f"papers' code; enas: {enas.TRAINING['macro']['grad_clip']} on CIFAR, the project's (the "
    f"authors' CIFAR clip is a no-op), {enas.TRAINING['recurrent']['grad_clip']} recurrent, the "
    "authors' search script (--authors_defaults), the paper's "
    f"{enas.PAPER['recurrent']['grad_clip']} (--paper_defaults)).",
)
flags.DEFINE_float(
    "final_learning_rate",
    None,
    "Initial learning rate of the final from-scratch training (paper: darts "
    f"{darts.PAPER['final_learning_rate']}, egnas {egnas.PAPER['final_learning_rate']}, cosine to "
    f"0; enas: the authors' final scripts' {enas.TRAINING['macro']['final_learning_rate']} macro "
    f"and micro; recurrent {enas.TRAINING['recurrent']['final_learning_rate']}, the search "
    "script's, where their ptb_final.sh uses 20).",
)
flags.DEFINE_bool(
    "jit_compile",
    False,
    "Compile the training steps with XLA (every algorithm: the search steps, except ENAS's shared "
    "steps, each NASH child, the final training).",
)
# the DARTS cell space (darts, egnas)
flags.DEFINE_integer(
    "cells", None, f"Cells of the search supernet (short: {darts.SHORT['cells']}; paper: 8)."
)
flags.DEFINE_integer(
    "channels",
    None,
    f"Initial channels of the search supernet (short: {darts.SHORT['channels']}; paper: 16).",
)
flags.DEFINE_integer("steps", None, "Intermediate nodes per cell (paper: 4).")
flags.DEFINE_integer("multiplier", None, "Nodes concatenated per cell (paper: 4).")
flags.DEFINE_list(
    "primitives",
    None,
    "Candidate operations (names in keras_nash.layers.OPS; paper: DARTS's 8, EG-NAS's 7 without "
    "'none').",
)
flags.DEFINE_integer(
    "partial_channels",
    None,
    "PC-DARTS's k: 1/k of the channels go through the ops (paper: 1 darts, 4 egnas).",
)
flags.DEFINE_integer(
    "final_cells",
    None,
    f"Cells of the final network (darts/egnas short: {darts.SHORT['final_cells']}, paper: "
    f"{darts.PAPER['final_cells']}; enas micro: the searched --num_cells, with --paper_defaults "
    "17, the authors' final script's 15 normal cells + 2 reduction cells).",
)
flags.DEFINE_integer(
    "final_channels",
    None,
    f"Initial channels of the final network (short: {darts.SHORT['final_channels']}; paper: "
    f"{darts.PAPER['final_channels']}).",
)
flags.DEFINE_integer(
    "final_batch_size",
    None,
    "Batch size of the final training, whether it trains on the search's data or "
    "(--paper_defaults darts/egnas) on the whole training split (default: the tuner's: darts "
    f"{darts.PAPER['final_batch_size']} and egnas {egnas.PAPER['final_batch_size']}, the papers'; "
    f"enas: the authors' final scripts' {enas.TRAINING['macro']['final_batch_size']} macro, "
    f"{enas.TRAINING['micro']['final_batch_size']} micro; the recurrent final training keeps "
    "--batch_size).",
)
flags.DEFINE_float(
    "final_weight_decay",
    None,
    "darts/egnas/enas: coupled L2 of the final training (paper: 3e-4 darts/egnas; enas: 4e-4, the "
    "authors' final scripts' l2_reg 2e-4 as a gradient term).",
)
flags.DEFINE_float(
    "auxiliary_weight",
    None,
    "Weight of the final network's auxiliary head (paper: 0.4; enas micro: the authors' code's "
    "0.4; enas macro: none).",
)
flags.DEFINE_float(
    "drop_path_prob",
    None,
    "Drop-path probability of the final network (paper: darts 0.2, egnas 0.3; enas micro: the "
    "authors' final script's 1 - 0.6 = 0.4; enas macro: none).",
)
flags.DEFINE_integer(
    "cutout_length",
    None,
    "darts/egnas/enas: side of the cutout hole in the final training's images, 0 for none (paper: "
    "16; enas: 0, the paper's 2.89% micro result used 16).",
)
# DARTS
flags.DEFINE_float(
    "arch_learning_rate",
    None,
    "darts: alpha's Adam learning rate (short: scaled to the run's alpha steps, 3e-4 x 19,550 / "
    "(epochs x batches); paper: 3e-4).",
)
flags.DEFINE_float("arch_beta_1", None, "darts: alpha's Adam beta 1 (paper: 0.5).")
flags.DEFINE_float("arch_beta_2", None, "darts: alpha's Adam beta 2 (paper: 0.999).")
flags.DEFINE_float("arch_weight_decay", None, "darts: coupled L2 on alpha, Adam (paper: 1e-3).")
flags.DEFINE_bool(
    "edge_normalization",
    None,
    "darts: PC-DARTS's edge normalisation, a searched weight per edge (off: DARTS; PC-DARTS turns "
    "it on).",
)
# EG-NAS
flags.DEFINE_integer(
    "warmup_epochs",
    None,
    "egnas: epochs of weight training before the evolution starts (short: "
    f"{egnas.SHORT['warmup_epochs']}; paper: {egnas.PAPER['warmup_epochs']}).",
)
flags.DEFINE_integer("population_size", None, "egnas: candidates per generation (paper: 50).")
flags.DEFINE_float(
    "sigma_initial",
    None,
    "egnas: sigma = max(sigma_initial / (epoch + 1), sigma_min) (paper: 1.0).",
)
flags.DEFINE_float(
    "sigma_min",
    None,
    f"egnas: the floor of sigma (paper: {egnas.PAPER['sigma_min']}; --authors_defaults: "
    f"{egnas.AUTHORS['sigma_min']}, sigma 1.0 throughout as the authors' script runs it).",
)
flags.DEFINE_float(
    "zeta", None, "egnas: weight of the cross-entropy term of the fitness (paper: 1.0)."
)
flags.DEFINE_float(
    "eta", None, "egnas: weight of the cosine-similarity term of the fitness (paper: 0.4)."
)
flags.DEFINE_enum(
    "update",
    None,
    ("paper", "es"),
    "egnas: the alpha update: 'paper', the published single-best additive update as the authors' "
    "code computes it (alpha += step * softmax(q_best); the default, short and paper: "
    f"{egnas.PAPER['update']}), or 'es', the project's evolution strategy (opt-in; "
    "tuners/egnas/strategy.py).",
)
flags.DEFINE_float(
    "step",
    None,
    "egnas: under --update=paper the alpha step (alpha += step * softmax(q_best)); under es the "
    "learning rate of the mixture's move toward the better half (the authors' code: "
    f"{egnas.PAPER['step']}).",
)
flags.DEFINE_float(
    "alpha_momentum",
    None,
    f"egnas: momentum of the alpha update (the authors' code: {egnas.PAPER['alpha_momentum']}).",
)
flags.DEFINE_bool(
    "population_batch_stats",
    None,
    "egnas: candidates use the validation batch's batch-norm statistics rather than the moving "
    "ones (default: false under --update=paper, the authors' eval mode; true under es, the "
    "project's).",
)
# ENAS
flags.DEFINE_enum(
    "enas_space",
    "macro",
    ("macro", "micro", "recurrent"),
    "enas: the search space (recurrent: a language model's cell on Penn Treebank text; --dataset "
    "a directory with ptb.train.txt, ptb.valid.txt, ptb.test.txt, or 'default', the embedded PTB "
    "subset).",
)
flags.DEFINE_integer(
    "num_nodes",
    None,
    f"enas recurrent: nodes of the cell (short: {enas.SPACE_SHORT['recurrent']['num_nodes']}; "
    "paper: 12).",
)
flags.DEFINE_integer(
    "hidden_size",
    None,
    "enas recurrent: the cell's and the embedding's width (short: "
    f"{enas.SPACE_SHORT['recurrent']['hidden_size']}; the authors' search script: 720).",
)
flags.DEFINE_integer(
    "bptt", 35, "enas recurrent: tokens per training window (the authors' scripts: 35)."
)
flags.DEFINE_integer(
    "num_layers",
    None,
    f"enas macro: searched layers (short: {enas.SPACE_SHORT['macro']['num_layers']}; paper: 12).",
)
flags.DEFINE_integer(
    "num_cells",
    None,
    f"enas micro: cells (short: {enas.SPACE_SHORT['micro']['num_cells']}; paper: 8).",
)
flags.DEFINE_integer("num_blocks", None, "enas micro: blocks per cell (paper: 5).")
flags.DEFINE_integer(
    "filters",
    None,
    f"enas: channels of the layers / first cells (short: {enas.SPACE_SHORT['macro']['filters']} "
    f"macro, {enas.SPACE_SHORT['micro']['filters']} micro; paper: 36, 20).",
)
flags.DEFINE_integer("lr_t0", None, "enas: epochs of the first cosine cycle (paper: 10).")
flags.DEFINE_float("lr_t_mul", None, "enas: growth of the cosine cycles (paper: 2).")
flags.DEFINE_integer(
    "controller_lstm_size",
    None,
    "enas: LSTM units of the controller (the authors' scripts: 64 macro and micro, 100 recurrent).",
)
flags.DEFINE_float(
    "controller_tanh_constant",
    None,
    "enas: logit scale C*tanh(l/C) (the authors' scripts, the tuner's default and "
    "--authors_defaults: 1.5 macro, 1.1 micro, 2.5 recurrent; --paper_defaults: the paper's "
    f"{enas.PAPER['macro']['controller_tanh_constant']}).",
)
flags.DEFINE_float(
    "controller_op_tanh_reduce",
    None,
    "enas: divisor of the op logits (the authors' micro controller: 2.5; their macro and "
    "recurrent controllers have none).",
)
flags.DEFINE_float(
    "controller_temperature",
    None,
    "enas: sampling temperature (the authors' scripts: none for macro and micro, 5 for recurrent).",
)
flags.DEFINE_float(
    "controller_entropy_weight",
    None,
    "enas: entropy bonus in the reward (the authors' scripts: 1e-4 macro and micro, 1e-3 "
    "recurrent).",
)
flags.DEFINE_float(
    "controller_baseline_decay",
    None,
    "enas: decay of the moving-average baseline (the authors' scripts: 0.99).",
)
flags.DEFINE_float(
    "controller_skip_target",
    None,
    "enas macro: skip-connection density target (the authors' script: 0.4).",
)
flags.DEFINE_float(
    "controller_skip_weight",
    None,
    "enas macro: weight of the skip KL penalty (the authors' script: 0.8).",
)
flags.DEFINE_float(
    "controller_learning_rate",
    None,
    "enas: controller Adam learning rate (short: 'auto', the authors' rate x their controller "
    "steps / the run's, epochs x controller_train_steps; the authors' scripts, the tuner's "
    "default and --authors_defaults: 1e-3 macro, 3.5e-3 micro, 1e-3 recurrent; --paper_defaults: "
    f"the paper's {enas.PAPER['macro']['controller_learning_rate']}).",
)
flags.DEFINE_integer(
    "controller_train_steps",
    None,
    f"enas: REINFORCE steps per epoch (short: {enas.SHORT['macro']['controller_train_steps']}; "
    "the authors' scripts: 50 macro, 30 micro, 100 recurrent).",
)
flags.DEFINE_integer(
    "controller_num_aggregate",
    None,
    "enas: sampled architectures per REINFORCE step (short: "
    f"{enas.SHORT['macro']['controller_num_aggregate']}; the authors' scripts: 20 macro, 10 "
    "micro, 10 recurrent).",
)
flags.DEFINE_integer(
    "final_candidates",
    None,
    "enas: sampled architectures among which the final one is chosen (the authors' scripts: 10).",
)
flags.DEFINE_integer(
    "final_filters",
    None,
    "enas: channels of the final network (default: the searched --filters; with --paper_defaults "
    "the authors' final scripts': 96 macro, 36 micro).",
)

FLAGS = flags.FLAGS

# -- which algorithm reads which flag ----------------------------------------------------------
COMMON_FLAGS = (
    "algorithm",
    "dataset",
    "data_dir",
    "output_dir",
    "export_dir",
    "export_formats",
    "replace_export",
    "verbose",
    "seed",
    "precision",
    "jit_compile",
    "batch_size",
    "augment",
    "validation_split",
    "test_split",
    "max_examples",
    "overwrite",
    "paper_defaults",
    "authors_defaults",
)
NASH_FLAGS = (
    "n_steps",
    "n_neighbors",
    "n_morphisms",
    "epochs_per_neighbor",
    "final_epochs",
    "pretrain_epochs",
    "seed_filters",
    "lr_start",
    "lr_end",
    "momentum",
    "weight_decay",
    "morphism_probabilities",
    "kernel_sizes",
    "widening_factors",
    "skip_modes",
    "preservation_tolerance",
    "time_budget",
    "final_share",
    "cost",
    "pareto",
    "max_cost_growth",
)
# The supernet tuners' flags carry the same names as their arguments; a flag is passed on only
# when given, so the tuner's own default (the paper's) applies otherwise, or the short CPU value.
SUPERNET_FLAGS = (
    "epochs",
    "final_epochs",
    "learning_rate",
    "learning_rate_min",
    "momentum",
    "weight_decay",
    "grad_clip",
    "final_learning_rate",
)
CELL_FLAGS = (
    "cells",
    "channels",
    "steps",
    "multiplier",
    "primitives",
    "partial_channels",
    "final_cells",
    "final_channels",
    "final_weight_decay",
    "auxiliary_weight",
    "drop_path_prob",
    "cutout_length",
    "final_batch_size",
)
DARTS_FLAGS = (
    "arch_learning_rate",
    "arch_beta_1",
    "arch_beta_2",
    "arch_weight_decay",
    "edge_normalization",
)
EGNAS_FLAGS = (
    "warmup_epochs",
    "population_size",
    "sigma_initial",
    "sigma_min",
    "zeta",
    "eta",
    "update",
    "step",
    "alpha_momentum",
    "population_batch_stats",
)
ENAS_FLAGS = (
    "lr_t0",
    "lr_t_mul",
    "final_candidates",
    "final_filters",
    "final_cells",
    "final_weight_decay",
    "cutout_length",
    "final_batch_size",
    "auxiliary_weight",
    "drop_path_prob",
    "controller_lstm_size",
    "controller_tanh_constant",
    "controller_op_tanh_reduce",
    "controller_temperature",
    "controller_entropy_weight",
    "controller_baseline_decay",
    "controller_skip_target",
    "controller_skip_weight",
    "controller_learning_rate",
    "controller_train_steps",
    "controller_num_aggregate",
)
TUNER_FLAGS = {
    "nash": tuple(name for name in NASH_FLAGS if name != "seed_filters"),
    "darts": SUPERNET_FLAGS + CELL_FLAGS + DARTS_FLAGS,
    "egnas": SUPERNET_FLAGS + CELL_FLAGS + EGNAS_FLAGS,
    "enas": SUPERNET_FLAGS + ENAS_FLAGS,
}
SPACE_FLAGS = {
    "macro": ("num_layers", "filters"),
    "micro": ("num_cells", "num_blocks", "filters"),
    "recurrent": ("num_nodes", "hidden_size", "bptt"),
}


def used_flags() -> tuple:
    """The flags the chosen algorithm reads (common flags first)."""
    if FLAGS.algorithm == "nash":
        used = NASH_FLAGS
    elif FLAGS.algorithm == "enas":
        used = TUNER_FLAGS["enas"] + ("enas_space",) + SPACE_FLAGS[FLAGS.enas_space]
    else:
        used = TUNER_FLAGS[FLAGS.algorithm]
    return COMMON_FLAGS + used


def check_flags_used() -> None:
    """Raise `app.UsageError` for given flags that the chosen algorithm would silently ignore."""
    ours = [flag.name for flag in FLAGS.get_flags_for_module(__name__)]
    unused = [name for name in ours if FLAGS[name].present and name not in used_flags()]
    if unused:
        where = f"--algorithm={FLAGS.algorithm}" + (
            f" --enas_space={FLAGS.enas_space}" if FLAGS.algorithm == "enas" else ""
        )
        raise app.UsageError(
            f"{where} does not use {', '.join('--' + name for name in unused)}: drop them, or "
            "choose the "
            "algorithm they belong to (see --help)."
        )


DEFAULT_TIME_BUDGET = 300.0
"""NASH's --time_budget unless given (and without --paper_defaults): the default command's run
of about 5 minutes, the final training included."""
EXPORT_FORMATS = ("keras", "saved_model", "tflite", "json")
"""What --export_formats takes (`keras_nash.export.FORMATS`)."""


def check_arguments() -> None:
    """Raise a one-line `app.UsageError` naming the flag for a value no run can use, before
    anything is loaded or written: the export's formats and directory, the output directory,
    the time budget, the validation split, --verbose."""
    if FLAGS["export_formats"].present and not FLAGS.export_dir:
        raise app.UsageError(
            "--export_formats needs --export_dir (where to write the exported model): give "
            "--export_dir, or drop --export_formats."
        )
    unknown = [name for name in FLAGS.export_formats if name not in EXPORT_FORMATS]
    if unknown or not FLAGS.export_formats:
        raise app.UsageError(
            f"--export_formats takes a non-empty list of {', '.join(EXPORT_FORMATS)}. "
            f"Received: {','.join(FLAGS.export_formats)}"
        )
    if FLAGS.data_dir is not None and (
        FLAGS.dataset == "default" or FLAGS.dataset.lower().endswith(".npz")
    ):
        raise app.UsageError(
            f"--data_dir is the directory of a tensorflow-datasets --dataset (e.g. "
            f"--dataset=cifar10); --dataset={FLAGS.dataset} does not read it. Drop --data_dir."
        )
    for name in ("output_dir", "export_dir"):
        path = FLAGS[name].value
        if path is None:
            continue
        path = os.path.abspath(os.path.expanduser(path))
        if os.path.exists(path) and not os.path.isdir(path):
            raise app.UsageError(
                f"--{name} must be a directory, and {path} is a file. Give another --{name}."
            )
        existing = path
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if not os.access(existing, os.W_OK | os.X_OK):
            raise app.UsageError(f"--{name}: {existing} is not writable. Give another --{name}.")
    if FLAGS.export_dir and not FLAGS.replace_export:
        path = os.path.abspath(os.path.expanduser(FLAGS.export_dir))
        if os.path.isdir(path) and os.listdir(path):
            raise app.UsageError(
                f"--export_dir {path} already holds files, which the export would replace: give "
                "an empty or new --export_dir, or --replace_export to replace them."
            )
    if FLAGS.time_budget is not None and not FLAGS.time_budget > 0:
        raise app.UsageError(
            f"--time_budget must be > 0 seconds (inf for none). Received: {FLAGS.time_budget}"
        )
    if FLAGS.validation_split is not None and not 0 < FLAGS.validation_split < 1:
        raise app.UsageError(
            "--validation_split must be in (0, 1): every search selects its networks on the "
            f"validation split. Received: {FLAGS.validation_split}"
        )
    if FLAGS.verbose not in (0, 1, 2):
        raise app.UsageError(f"--verbose must be 0, 1 or 2. Received: {FLAGS.verbose}")


def flag_message(message: str) -> str:
    """An API error's message in the command line's words: each `name` of a flag as --name."""
    aliases = {"source": "dataset"}  # `datasets.load`'s argument
    return re.sub(
        r"`(\w+)`",
        lambda m: (
            f"--{aliases.get(m.group(1), m.group(1))}"
            if aliases.get(m.group(1), m.group(1)) in FLAGS
            else m.group(0)
        ),
        message,
    )


def preset() -> str:
    """The preset the unset flags take: "authors" with --authors_defaults, "paper" with
    --paper_defaults, else "short"."""
    if FLAGS.authors_defaults:
        return "authors"
    return "paper" if FLAGS.paper_defaults else "short"


def preset_values(algorithm: str, space: str = None) -> dict:
    """The tuner arguments of the preset the unset flags take (`preset()`)."""
    short, paper = presets_of(algorithm, space)
    chosen = preset()
    if chosen == "short":
        return short
    if chosen == "paper":
        return paper
    authors = getattr(
        {"nash": nash, "darts": darts, "egnas": egnas, "enas": enas}[algorithm], "AUTHORS", paper
    )
    return authors[space] if algorithm == "enas" else authors


def presets_of(algorithm: str, space: str = None):
    """The (short, paper) tuner arguments of an algorithm (of an ENAS space)."""
    module = {"nash": nash, "darts": darts, "egnas": egnas, "enas": enas}[algorithm]
    if algorithm == "enas":
        return module.SHORT[space], module.PAPER[space]
    return module.SHORT, module.PAPER


def validation_split() -> float:
    """--validation_split, or its default: 0.1, with --paper_defaults for nash 0.2 (40k / 10k)."""
    if FLAGS.validation_split is not None:
        return FLAGS.validation_split
    if preset() == "short":
        return VALIDATION_SPLIT["short"]
    return VALIDATION_SPLIT["paper"].get(FLAGS.algorithm, VALIDATION_SPLIT["short"])


def batch_size() -> int:
    """--batch_size, or the preset's batch size for the algorithm (and ENAS space)."""
    if FLAGS["batch_size"].present:
        return FLAGS.batch_size
    table = {"nash": nash, "darts": darts, "egnas": egnas, "enas": enas}[FLAGS.algorithm].BATCH_SIZE
    sizes = table.get(preset(), table["paper"])
    return sizes[FLAGS.enas_space] if FLAGS.algorithm == "enas" else sizes


# -- --help ---------------------------------------------------------------------------------------
# Each section of --help: a title, its flags, and those shown with their help (the rest by name).
_HELP_SECTIONS = (
    ("common flags", COMMON_FLAGS, COMMON_FLAGS),
    (
        "--algorithm=nash (hill climbing over network morphisms)",
        NASH_FLAGS,
        (
            "n_steps",
            "n_neighbors",
            "n_morphisms",
            "epochs_per_neighbor",
            "pretrain_epochs",
            "final_epochs",
            "seed_filters",
            "time_budget",
        ),
    ),
    (
        "--algorithm=darts, egnas or enas (unset: a short CPU value; with --paper_defaults the "
        "paper's)",
        SUPERNET_FLAGS,
        ("epochs", "final_epochs", "learning_rate"),
    ),
    (
        "--algorithm=darts or egnas: the DARTS cell space",
        CELL_FLAGS,
        ("cells", "channels", "primitives", "partial_channels", "final_cells", "final_channels"),
    ),
    ("--algorithm=darts", DARTS_FLAGS, ("arch_learning_rate",)),
    ("--algorithm=egnas", EGNAS_FLAGS, ("warmup_epochs", "population_size")),
    (
        "--algorithm=enas",
        (
            "enas_space",
            "num_layers",
            "num_cells",
            "num_blocks",
            "filters",
            "num_nodes",
            "hidden_size",
            "bptt",
        )
        + ENAS_FLAGS,
        (
            "enas_space",
            "num_layers",
            "num_cells",
            "filters",
            "controller_train_steps",
            "controller_num_aggregate",
        ),
    ),
)
_HELP_ARGS = {"-?", "--?", "-help", "--help", "-helpshort", "--helpshort"}
_WIDTH, _COLUMN = 100, 32


def asks_for_help(argv) -> bool:
    """Whether the command line (`argv[0]` is the program) asks for --help (or --helpshort, -?)."""
    for arg in argv[1:]:
        if arg == "--":
            return False
        if arg in _HELP_ARGS:
            return True
    return False


def help_text(doc: str) -> str:
    """`doc` (the command's description) and the main flags of each algorithm, grouped."""
    lines = [textwrap.dedent(doc).strip(), ""]
    for title, names, shown in _HELP_SECTIONS:
        lines.append(title + ":")
        for name in names:
            if name in shown:
                lines.extend(_describe(FLAGS[name]))
        more = [f"--{name}" for name in names if name not in shown]
        if more:
            lines.extend(
                textwrap.wrap(
                    "more: " + ", ".join(more),
                    _WIDTH,
                    initial_indent="  ",
                    subsequent_indent="    ",
                )
            )
        lines.append("")
    lines.append(
        "Every flag with its help, absl's included (--verbosity, --flagfile, ...): --helpfull."
    )
    return "\n".join(lines)


def _describe(flag) -> list:
    """One flag for --help: `--name=default` then its help, wrapped at a column."""
    if isinstance(flag, flags.BooleanFlag) and flag.default is None:
        usage = f"  --[no]{flag.name}"
    elif flag.default is None:
        usage = f"  --{flag.name}"
    else:
        default = flag.default
        if isinstance(default, bool):
            default = str(default).lower()
        elif isinstance(default, (list, tuple)):
            default = ",".join(map(str, default))
        usage = f"  --{flag.name}={default}"
    text = flag.help  # absl starts an enum's help with its values: "<nash|darts|egnas|enas>: ..."
    indent = " " * _COLUMN
    if len(usage) < _COLUMN - 1:
        return textwrap.wrap(
            text, _WIDTH, initial_indent=usage.ljust(_COLUMN), subsequent_indent=indent
        )
    return [usage] + textwrap.wrap(text, _WIDTH, initial_indent=indent, subsequent_indent=indent)


def parse_flags(argv, doc: str) -> list:
    """Parse `argv` into FLAGS (absl's usage errors), or print `help_text(doc)` and exit 0 on
    --help."""
    if asks_for_help(argv):
        sys.stdout.write(help_text(doc) + "\n")
        sys.exit(0)
    return app.parse_flags_with_usage(argv)
