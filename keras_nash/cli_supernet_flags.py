"""The command line's flags of the supernet searches (DARTS, EG-NAS, ENAS), with their help.

Defined when `keras_nash.cli_flags` is imported; which algorithm reads which flag, and the
checks, are there.
"""

from absl import flags

from keras_nash.tuners.darts import presets as darts
from keras_nash.tuners.egnas import presets as egnas
from keras_nash.tuners.enas import presets as enas

# -- DARTS, EG-NAS, ENAS (supernet searches) -------------------------------------------------
# None means: the algorithm's short CPU value (SHORT below) or, with --paper_defaults, the
# tuner's own default, which is the paper's.
flags.DEFINE_integer(
    "epochs",
    None,
    f"Search epochs (short: {darts.SHORT['epochs']} darts, {egnas.SHORT['epochs']} egnas, "
    f"{enas.SHORT['macro']['epochs']} enas macro and recurrent, {enas.SHORT['micro']['epochs']} "
    f"enas micro; paper: darts {darts.PAPER['epochs']}, egnas "
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
    "steps / the run's, epochs x controller_train_steps; micro: "
    f"{enas.SHORT['micro']['controller_learning_rate']}, measured; the authors' scripts, the "
    "tuner's default and --authors_defaults: 1e-3 macro, 3.5e-3 micro, 1e-3 recurrent; "
    f"--paper_defaults: the paper's {enas.PAPER['macro']['controller_learning_rate']}).",
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
