"""The command line's labels and presets (issue 31): what a flag's help calls the paper's or the
authors' value is the value the flag resolves to, for the flags issue 31 touched; the NASH
paper's split; EG-NAS's update and the final batch size reach the tuners. The tuners are built
as the command line builds them and stopped at `search` (no training)."""

import re

import pytest

from keras_nash import __main__ as cli
from keras_nash import cli_flags
from keras_nash.cli_flags import FLAGS
from keras_nash.tuners.darts.tuner import DartsTuner
from keras_nash.tuners.egnas.tuner import EgnasTuner
from keras_nash.tuners.enas.tuner import EnasTuner
from keras_nash.tuners.nash.tuner import NashTuner


class _Built(Exception):
    pass


@pytest.fixture
def built(monkeypatch, tmp_path):
    """`built(*argv)`: the tuner the command line builds for `argv`."""

    def search(tuner, *args, **kwargs):
        raise _Built(tuner)

    for tuner_class in (DartsTuner, EgnasTuner, EnasTuner, NashTuner):
        monkeypatch.setattr(tuner_class, "search", search)

    def build(*argv):
        FLAGS.unparse_flags()
        FLAGS(["keras_nash", *argv, "--max_examples=64", f"--output_dir={tmp_path}", "--overwrite"])
        with pytest.raises(_Built) as stopped:
            cli.main(["keras_nash"])
        return stopped.value.args[0]

    yield build
    FLAGS.unparse_flags()


def _number(help_text, pattern):
    """The number the help text gives after `pattern` (a regex with one group)."""
    found = re.search(pattern, help_text)
    assert found, (pattern, help_text)
    return float(found.group(1))


# (flag, the phrase of its help naming a value (one number group), the command line that
#  resolves it, how to read the resolved value off the built tuner)
TABLE = [
    (
        "final_batch_size",
        r"darts (\d+) and egnas \d+, the papers'",
        ("--algorithm=darts",),
        lambda t: t.final_batch_size,
    ),
    (
        "final_batch_size",
        r"egnas (\d+), the papers'",
        ("--algorithm=egnas",),
        lambda t: t.final_batch_size,
    ),
    (
        "final_batch_size",
        r"final scripts' (\d+) macro",
        ("--algorithm=enas", "--enas_space=macro", "--paper_defaults"),
        lambda t: t.final_batch_size,
    ),
    (
        "final_batch_size",
        r"(\d+) micro; the recurrent",
        ("--algorithm=enas", "--enas_space=micro", "--paper_defaults"),
        lambda t: t.final_batch_size,
    ),
    (
        "epochs",
        r"paper: darts (\d+)",
        ("--algorithm=darts", "--paper_defaults"),
        lambda t: t.oracle.epochs,
    ),
    (
        "epochs",
        r"egnas (\d+);",
        ("--algorithm=egnas", "--paper_defaults"),
        lambda t: t.oracle.epochs,
    ),
    (
        "epochs",
        r"scripts' (\d+) macro",
        ("--algorithm=enas", "--enas_space=macro", "--paper_defaults"),
        lambda t: t.oracle.epochs,
    ),
    (
        "epochs",
        r"and (\d+) micro",
        ("--algorithm=enas", "--enas_space=micro", "--paper_defaults"),
        lambda t: t.oracle.epochs,
    ),
    (
        "epochs",
        r"(\d+) enas micro;",
        ("--algorithm=enas", "--enas_space=micro"),
        lambda t: t.oracle.epochs,
    ),
    (
        "epochs",
        r"(\d+) enas macro and recurrent",
        ("--algorithm=enas", "--enas_space=macro"),
        lambda t: t.oracle.epochs,
    ),
    (
        "learning_rate_min",
        r"paper: darts ([\d.e-]+);",
        ("--algorithm=darts", "--paper_defaults"),
        lambda t: t.learning_rate_min,
    ),
    (
        "learning_rate_min",
        r"egnas ([\d.e-]+), its authors' code",
        ("--algorithm=egnas", "--paper_defaults"),
        lambda t: t.learning_rate_min,
    ),
    (
        "learning_rate_min",
        r"search scripts' ([\d.e-]+) \(the tuner",
        ("--algorithm=enas", "--enas_space=macro", "--authors_defaults"),
        lambda t: t.learning_rate_min,
    ),
    (
        "learning_rate_min",
        r"the paper's ([\d.e-]+) \(--paper_defaults",
        ("--algorithm=enas", "--enas_space=macro", "--paper_defaults"),
        lambda t: t.learning_rate_min,
    ),
    (
        "controller_learning_rate",
        r"the paper's ([\d.e-]+)\)",
        ("--algorithm=enas", "--enas_space=macro", "--paper_defaults"),
        lambda t: t.controller_kwargs["learning_rate"],
    ),
    (
        "controller_learning_rate",
        r"--authors_defaults: ([\d.e-]+) macro",
        ("--algorithm=enas", "--enas_space=macro", "--authors_defaults"),
        lambda t: t.controller_kwargs["learning_rate"],
    ),
    (
        "controller_learning_rate",
        r"([\d.e-]+) micro",
        ("--algorithm=enas", "--enas_space=micro", "--authors_defaults"),
        lambda t: t.controller_kwargs["learning_rate"],
    ),
    (
        "controller_tanh_constant",
        r"the paper's ([\d.]+)\)",
        ("--algorithm=enas", "--enas_space=micro", "--paper_defaults"),
        lambda t: t.controller_kwargs["tanh_constant"],
    ),
    (
        "controller_tanh_constant",
        r"--authors_defaults: ([\d.]+) macro",
        ("--algorithm=enas", "--enas_space=macro", "--authors_defaults"),
        lambda t: t.controller_kwargs["tanh_constant"],
    ),
    (
        "epochs",
        r"the paper's (\d+)\)\)",
        ("--algorithm=enas", "--enas_space=recurrent", "--paper_defaults"),
        lambda t: t.oracle.epochs,
    ),
    (
        "epochs",
        r"(\d+) recurrent \(--authors_defaults",
        ("--algorithm=enas", "--enas_space=recurrent", "--authors_defaults"),
        lambda t: t.oracle.epochs,
    ),
    (
        "grad_clip",
        r"([\d.]+) recurrent, the authors' search script",
        ("--algorithm=enas", "--enas_space=recurrent", "--authors_defaults"),
        lambda t: t.grad_clip,
    ),
    (
        "grad_clip",
        r"the paper's ([\d.]+) \(--paper_defaults",
        ("--algorithm=enas", "--enas_space=recurrent", "--paper_defaults"),
        lambda t: t.grad_clip,
    ),
    (
        "sigma_min",
        r"paper: ([\d.]+);",
        ("--algorithm=egnas", "--paper_defaults"),
        lambda t: t.oracle.sigma_min,
    ),
    (
        "sigma_min",
        r"--authors_defaults: ([\d.]+),",
        ("--algorithm=egnas", "--authors_defaults"),
        lambda t: t.oracle.sigma_min,
    ),
    (
        "grad_clip",
        r"darts/egnas: ([\d.]+), the papers' code",
        ("--algorithm=darts", "--paper_defaults"),
        lambda t: t.grad_clip,
    ),
    (
        "grad_clip",
        r"enas: ([\d.]+) on CIFAR",
        ("--algorithm=enas", "--enas_space=macro", "--paper_defaults"),
        lambda t: t.grad_clip,
    ),
    (
        "final_learning_rate",
        r"paper: darts ([\d.]+)",
        ("--algorithm=darts", "--paper_defaults"),
        lambda t: t.final_learning_rate,
    ),
    (
        "final_learning_rate",
        r"egnas ([\d.]+), cosine",
        ("--algorithm=egnas", "--paper_defaults"),
        lambda t: t.final_learning_rate,
    ),
    (
        "final_learning_rate",
        r"final scripts' ([\d.]+) macro",
        ("--algorithm=enas", "--enas_space=macro", "--paper_defaults"),
        lambda t: t.final_learning_rate,
    ),
    (
        "step",
        r"the authors' code: ([\d.]+)",
        ("--algorithm=egnas", "--paper_defaults"),
        lambda t: t.oracle.step,
    ),
    (
        "alpha_momentum",
        r"the authors' code: ([\d.]+)",
        ("--algorithm=egnas", "--paper_defaults"),
        lambda t: t.oracle.alpha_momentum,
    ),
]


N = ("--paper_defaults",)  # nash
D = ("--algorithm=darts", "--paper_defaults")
G = ("--algorithm=egnas", "--paper_defaults")
M = ("--algorithm=enas", "--enas_space=macro", "--paper_defaults")
U = ("--algorithm=enas", "--enas_space=micro", "--paper_defaults")
R = ("--algorithm=enas", "--enas_space=recurrent", "--paper_defaults")
TABLE += [
    ("n_steps", r"paper: (\d+)", N, lambda t: t.oracle.n_steps),
    ("n_neighbors", r"paper: (\d+)", N, lambda t: t.oracle.n_neighbors),
    ("n_morphisms", r"paper: (\d+)", N, lambda t: t.oracle.n_morphisms),
    ("epochs_per_neighbor", r"paper: (\d+)", N, lambda t: t.oracle.epochs_per_neighbor),
    ("pretrain_epochs", r"paper: (\d+)", N, lambda t: t.oracle.pretrain_epochs),
    ("final_epochs", r"paper: nash (\d+)", N, lambda t: t.oracle.final_epochs),
    ("final_epochs", r"darts (\d+)", D, lambda t: t.final_epochs),
    ("final_epochs", r"egnas (\d+) \(its authors' code\)", G, lambda t: t.final_epochs),
    ("final_epochs", r"scripts' (\d+) macro", M, lambda t: t.final_epochs),
    ("final_epochs", r"(\d+) micro", U, lambda t: t.final_epochs),
    ("final_epochs", r"(\d+) recurrent", R, lambda t: t.final_epochs),
    ("learning_rate", r"paper: ([\d.]+) darts", D, lambda t: t.learning_rate),
    ("learning_rate", r"([\d.]+) egnas", G, lambda t: t.learning_rate),
    ("learning_rate", r"([\d.]+) enas macro", M, lambda t: t.learning_rate),
    ("learning_rate", r"the paper's ([\d.]+) \(--paper_defaults", R, lambda t: t.learning_rate),
    (
        "learning_rate",
        r"search script's ([\d.]+) \(--authors",
        ("--algorithm=enas", "--enas_space=recurrent", "--authors_defaults"),
        lambda t: t.learning_rate,
    ),
    ("cells", r"paper: (\d+)", D, lambda t: t.space.cells),
    ("channels", r"paper: (\d+)", G, lambda t: t.space.channels),
    ("steps", r"paper: (\d+)", D, lambda t: t.space.steps),
    ("multiplier", r"paper: (\d+)", G, lambda t: t.space.multiplier),
    ("partial_channels", r"paper: (\d+) darts", D, lambda t: t.space.partial_channels),
    ("partial_channels", r"(\d+) egnas", G, lambda t: t.space.partial_channels),
    ("final_cells", r"paper: (\d+);", D, lambda t: t.final_cells),
    ("final_cells", r"--paper_defaults (\d+), the authors'", U, lambda t: t.final_cells),
    ("final_channels", r"paper: (\d+)", G, lambda t: t.final_channels),
    ("final_weight_decay", r"paper: ([\d.e-]+) darts/egnas", D, lambda t: t.final_weight_decay),
    ("final_weight_decay", r"enas: ([\d.e-]+), the authors'", M, lambda t: t.final_weight_decay),
    ("auxiliary_weight", r"paper: ([\d.]+);", G, lambda t: t.auxiliary_weight),
    ("auxiliary_weight", r"authors' code's ([\d.]+)", U, lambda t: t.auxiliary_weight),
    ("drop_path_prob", r"paper: darts ([\d.]+)", D, lambda t: t.drop_path_prob),
    ("drop_path_prob", r"egnas ([\d.]+);", G, lambda t: t.drop_path_prob),
    ("drop_path_prob", r"= ([\d.]+)\)?;", U, lambda t: t.drop_path_prob),
    ("cutout_length", r"paper: (\d+);", D, lambda t: t.cutout_length),
    ("cutout_length", r"enas: (\d+),", M, lambda t: t.cutout_length),
    ("warmup_epochs", r"paper: (\d+)", G, lambda t: t.oracle.warmup_epochs),
    ("population_size", r"paper: (\d+)", G, lambda t: t.oracle.population_size),
    ("sigma_initial", r"paper: ([\d.]+)", G, lambda t: t.oracle.sigma_initial),
    ("zeta", r"paper: ([\d.]+)", G, lambda t: t.oracle.zeta),
    ("eta", r"paper: ([\d.]+)", G, lambda t: t.oracle.eta),
    ("lr_t0", r"paper: (\d+)", M, lambda t: t.lr_t0),
    ("lr_t_mul", r"paper: ([\d.]+)", U, lambda t: t.lr_t_mul),
    (
        "controller_train_steps",
        r"scripts: (\d+) macro",
        M,
        lambda t: t.oracle.controller_train_steps,
    ),
    ("controller_train_steps", r"(\d+) micro", U, lambda t: t.oracle.controller_train_steps),
    (
        "controller_num_aggregate",
        r"scripts: (\d+) macro",
        M,
        lambda t: t.oracle.controller_num_aggregate,
    ),
    ("final_candidates", r"scripts: (\d+)", M, lambda t: t.oracle.final_candidates),
    ("final_filters", r"(\d+) macro", M, lambda t: t.final_filters),
    ("final_filters", r"(\d+) micro", U, lambda t: t.final_filters),
    ("num_layers", r"paper: (\d+)", M, lambda t: t.space.num_layers),
]


@pytest.mark.parametrize(
    "flag, pattern, argv, read", TABLE, ids=[f"{row[0]}-{'-'.join(row[2])}" for row in TABLE]
)
def test_a_help_texts_paper_or_authors_value_is_what_the_flag_resolves_to(
    flag, pattern, argv, read, built
):
    assert _number(FLAGS[flag].help, pattern) == pytest.approx(read(built(*argv)))


def test_egnas_update_flag(built):
    assert "'paper'" in FLAGS["update"].help and "'es'" in FLAGS["update"].help
    tuner = built("--algorithm=egnas")
    assert tuner.oracle.update == "paper" and tuner.population_batch_stats is None
    assert built("--algorithm=egnas", "--paper_defaults").oracle.update == "paper"
    assert built("--algorithm=egnas", "--update=es").oracle.update == "es"
    assert built("--algorithm=egnas", "--final_batch_size=32").final_batch_size == 32


def test_nash_paper_split_is_40k_10k():
    FLAGS.unparse_flags()
    try:
        FLAGS(["keras_nash", "--paper_defaults"])
        assert cli_flags.validation_split() == 0.2  # of CIFAR-10's 50k training images: 10k
        FLAGS.unparse_flags()
        FLAGS(["keras_nash"])
        assert cli_flags.validation_split() == 0.1
        FLAGS.unparse_flags()
        FLAGS(["keras_nash", "--paper_defaults", "--validation_split=0.3"])
        assert cli_flags.validation_split() == 0.3
        FLAGS.unparse_flags()
        FLAGS(["keras_nash", "--algorithm=darts"])
        assert cli_flags.validation_split() == 0.1
    finally:
        FLAGS.unparse_flags()


def _examples(dataset):
    return sum(int(x.shape[0]) for x, _ in dataset)


@pytest.mark.parametrize("algorithm", ["darts", "egnas"])
def test_darts_and_egnas_paper_splits_halve_all_training_images(algorithm, monkeypatch, tmp_path):
    """The embedded 3,500 images (no test split of their own: --test_split 0.1 carves 350):
    the search on 1,575 + 1,575, the final network on all 3,150 (the training pipelines in full
    batches), validated on the test split (CIFAR-10: 25k + 25k, then all 50k)."""
    seen = {}

    def search(tuner, x, validation_data=None, final_fit=None, **kwargs):
        seen.update(
            search=(_examples(x), _examples(validation_data)),
            final=(_examples(final_fit["x"]), _examples(final_fit["validation_data"])),
        )
        raise _Built(tuner)

    tuner_class = {"darts": DartsTuner, "egnas": EgnasTuner}[algorithm]
    monkeypatch.setattr(tuner_class, "search", search)
    FLAGS.unparse_flags()
    try:
        FLAGS(
            [
                "keras_nash",
                f"--algorithm={algorithm}",
                "--paper_defaults",
                f"--output_dir={tmp_path}",
                "--overwrite",
            ]
        )
        assert cli_flags.validation_split() == 0.0
        with pytest.raises(_Built):
            cli.main(["keras_nash"])
        full = cli_flags.batch_size()  # training pipelines keep full batches only
        assert seen == {"search": (1575 // full * full, 1575), "final": (3150 // full * full, 350)}
    finally:
        FLAGS.unparse_flags()


# Labelled flags whose values are not read off a built tuner above, and why.
UNCHECKED = {
    "batch_size": "sets the data pipeline's batches, not a tuner argument",
    "validation_split": "test_nash_paper_split_is_40k_10k and the darts/egnas split test",
    "authors_defaults": "a preset switch; its values are rows of TABLE",
    "paper_defaults": "a preset switch; its values are rows of TABLE",
    "update": "test_egnas_update_flag",
    "population_batch_stats": "its default follows --update: test_egnas_update_flag",
    "seed_filters": "a list (nash's presets.SEED_FILTERS), not one number",
    "weight_decay": "a float flag with a non-None default the command line always passes",
    "primitives": "names, not a number (EGNAS_PRIMITIVES / DARTS's PRIMITIVES)",
    "arch_learning_rate": "darts's alpha optimiser lives in the search state (the first trial)",
    "arch_beta_1": "as arch_learning_rate",
    "arch_beta_2": "as arch_learning_rate",
    "arch_weight_decay": "as arch_learning_rate",
    "num_nodes": "the recurrent space's size: the spaces' own defaults",
    "hidden_size": "as num_nodes",
    "bptt": "the text pipeline's window, not a tuner argument",
    "num_cells": "the micro space's size: the spaces' own defaults",
    "num_blocks": "as num_cells",
    "filters": "as num_cells",
    "controller_lstm_size": "the controller's settings resolve inside the Controller",
    "controller_op_tanh_reduce": "as controller_lstm_size",
    "controller_temperature": "as controller_lstm_size",
    "controller_entropy_weight": "as controller_lstm_size",
    "controller_baseline_decay": "as controller_lstm_size",
    "controller_skip_target": "as controller_lstm_size",
    "controller_skip_weight": "as controller_lstm_size",
    "time_budget": "'none' under --paper_defaults: test_nash_paper_defaults_have_no_time_budget",
    "pareto": "a switch whose default (off) is the paper's hill climb",
}


def test_nash_paper_defaults_have_no_time_budget(monkeypatch, tmp_path):
    seen = {}

    def search(tuner, *args, **kwargs):
        seen["time_budget"] = tuner.oracle.time_budget
        raise _Built(tuner)

    monkeypatch.setattr(NashTuner, "search", search)
    FLAGS.unparse_flags()
    try:
        for argv, expected in ((["--paper_defaults"], None), (["--authors_defaults"], None)):
            FLAGS(
                [
                    "keras_nash",
                    *argv,
                    "--max_examples=64",
                    f"--output_dir={tmp_path}",
                    "--overwrite",
                ]
            )
            with pytest.raises(_Built):
                cli.main(["keras_nash"])
            assert seen["time_budget"] is expected
            FLAGS.unparse_flags()
    finally:
        FLAGS.unparse_flags()


def test_every_labelled_flag_is_checked_or_listed_with_a_reason():
    """A flag whose help names a paper's or the authors' value has a row in TABLE or a reason
    in UNCHECKED: a new labelled flag fails here until it has one."""
    labelled = {
        flag.name for flag in cli_flags.defined_flags() if re.search(r"paper|authors", flag.help)
    }
    checked = {row[0] for row in TABLE}
    assert labelled - checked - set(UNCHECKED) == set()
    assert not checked & set(UNCHECKED)


def test_n_steps_0_climbs_until_the_time_budget_stops_it(built):
    tuner = built("--n_steps=0", "--time_budget=120")
    assert tuner.oracle.n_steps is None and tuner.oracle.time_budget > 0
    assert built("--n_steps=2").oracle.n_steps == 2
