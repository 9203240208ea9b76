"""The command line's flags: common and NASH definitions, which algorithm reads which, checks.

The flags carry the Python API's argument names; a flag left unset takes the algorithm's short
CPU value or, with `--paper_defaults`, the paper's, both from the algorithm's presets module
(`keras_nash/tuners/<algorithm>/presets.py`, the Python API's presets too). The command line
itself (what a run does) is `keras_nash/__main__.py`; the supernet searches' flags are defined in
`cli_supernet_flags.py`, `--help` is `cli_help.py`.
"""

import os
import re

from absl import app, flags

from keras_nash import cli_supernet_flags
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
    "Hill-climbing steps; 0: climb until --time_budget stops it, the final training keeping "
    f"--final_share (short: {nash.SHORT['n_steps']}; paper: {nash.PAPER['n_steps']}).",
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


def defined_flags() -> list:
    """Every flag the command line defines (here and in `cli_supernet_flags`), absl's not."""
    modules = (__name__, cli_supernet_flags.__name__)
    return [flag for module in modules for flag in FLAGS.get_flags_for_module(module)]


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
    ours = [flag.name for flag in defined_flags()]
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
    if FLAGS.n_steps is not None and FLAGS.n_steps < 0:
        raise app.UsageError(
            f"--n_steps must be >= 1, or 0 to climb until --time_budget stops it. Received: "
            f"{FLAGS.n_steps}"
        )
    if FLAGS.n_steps == 0 and time_budget() is None:
        raise app.UsageError(
            "--n_steps=0 climbs until the time budget stops it, and this run has none: give "
            "--time_budget (seconds), or --n_steps >= 1."
        )
    if FLAGS.validation_split is not None and not 0 < FLAGS.validation_split < 1:
        raise app.UsageError(
            "--validation_split must be in (0, 1): every search selects its networks on the "
            f"validation split. Received: {FLAGS.validation_split}"
        )
    if FLAGS.verbose not in (0, 1, 2):
        raise app.UsageError(f"--verbose must be 0, 1 or 2. Received: {FLAGS.verbose}")


def time_budget() -> float | None:
    """NASH's whole-run budget in seconds: --time_budget, or `DEFAULT_TIME_BUDGET` for the
    short preset; None for none (--time_budget=inf, or the papers' presets without one)."""
    budget = FLAGS.time_budget
    if budget is None and preset() == "short":
        budget = DEFAULT_TIME_BUDGET
    return None if budget is None or budget == float("inf") else budget


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
    """The tuner arguments of the preset the unset flags take (`preset()`): the algorithm's
    `SHORT`, `PAPER` or `AUTHORS` (the paper's where the authors' code does not differ), per
    space for ENAS."""
    module = {"nash": nash, "darts": darts, "egnas": egnas, "enas": enas}[algorithm]
    chosen = {"short": module.SHORT, "paper": module.PAPER}.get(preset())
    if chosen is None:
        chosen = getattr(module, "AUTHORS", module.PAPER)
    return chosen[space] if algorithm == "enas" else chosen


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
