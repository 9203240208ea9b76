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


class _Built(Exception):
    pass


@pytest.fixture
def built(monkeypatch, tmp_path):
    """`built(*argv)`: the tuner the command line builds for `argv`."""
    def search(tuner, *args, **kwargs):
        raise _Built(tuner)

    for tuner_class in (DartsTuner, EgnasTuner, EnasTuner):
        monkeypatch.setattr(tuner_class, "search", search)

    def build(*argv):
        FLAGS.unparse_flags()
        FLAGS(["keras_nash", *argv, "--max_examples=64", f"--output_dir={tmp_path}",
               "--overwrite"])
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
    ("final_batch_size", r"darts (\d+) and egnas \d+, the papers'", ("--algorithm=darts",),
     lambda t: t.final_batch_size),
    ("final_batch_size", r"egnas (\d+), the papers'", ("--algorithm=egnas",),
     lambda t: t.final_batch_size),
    ("final_batch_size", r"final scripts' (\d+) macro",
     ("--algorithm=enas", "--enas_space=macro", "--paper_defaults"), lambda t: t.final_batch_size),
    ("final_batch_size", r"(\d+) micro; the recurrent",
     ("--algorithm=enas", "--enas_space=micro", "--paper_defaults"), lambda t: t.final_batch_size),
    ("epochs", r"paper: darts (\d+)", ("--algorithm=darts", "--paper_defaults"),
     lambda t: t.oracle.epochs),
    ("epochs", r"egnas (\d+);", ("--algorithm=egnas", "--paper_defaults"),
     lambda t: t.oracle.epochs),
    ("epochs", r"scripts' (\d+) macro", ("--algorithm=enas", "--enas_space=macro", "--paper_defaults"),
     lambda t: t.oracle.epochs),
    ("epochs", r"and (\d+) micro", ("--algorithm=enas", "--enas_space=micro", "--paper_defaults"),
     lambda t: t.oracle.epochs),
    ("learning_rate_min", r"paper: darts ([\d.e-]+);", ("--algorithm=darts", "--paper_defaults"),
     lambda t: t.learning_rate_min),
    ("learning_rate_min", r"egnas ([\d.e-]+), its authors' code", ("--algorithm=egnas", "--paper_defaults"),
     lambda t: t.learning_rate_min),
    ("learning_rate_min", r"search scripts' ([\d.e-]+) \(the tuner",
     ("--algorithm=enas", "--enas_space=macro", "--authors_defaults"), lambda t: t.learning_rate_min),
    ("learning_rate_min", r"the paper's ([\d.e-]+) \(--paper_defaults",
     ("--algorithm=enas", "--enas_space=macro", "--paper_defaults"), lambda t: t.learning_rate_min),
    ("controller_learning_rate", r"the paper's ([\d.e-]+)\)",
     ("--algorithm=enas", "--enas_space=macro", "--paper_defaults"),
     lambda t: t.controller_kwargs["learning_rate"]),
    ("controller_learning_rate", r"--authors_defaults: ([\d.e-]+) macro",
     ("--algorithm=enas", "--enas_space=macro", "--authors_defaults"),
     lambda t: t.controller_kwargs["learning_rate"]),
    ("controller_learning_rate", r"([\d.e-]+) micro",
     ("--algorithm=enas", "--enas_space=micro", "--authors_defaults"),
     lambda t: t.controller_kwargs["learning_rate"]),
    ("controller_tanh_constant", r"the paper's ([\d.]+)\)",
     ("--algorithm=enas", "--enas_space=micro", "--paper_defaults"),
     lambda t: t.controller_kwargs["tanh_constant"]),
    ("controller_tanh_constant", r"--authors_defaults: ([\d.]+) macro",
     ("--algorithm=enas", "--enas_space=macro", "--authors_defaults"),
     lambda t: t.controller_kwargs["tanh_constant"]),
    ("epochs", r"the paper's (\d+)\)\)",
     ("--algorithm=enas", "--enas_space=recurrent", "--paper_defaults"), lambda t: t.oracle.epochs),
    ("epochs", r"(\d+) recurrent \(--authors_defaults",
     ("--algorithm=enas", "--enas_space=recurrent", "--authors_defaults"), lambda t: t.oracle.epochs),
    ("grad_clip", r"([\d.]+) recurrent, the authors' search script",
     ("--algorithm=enas", "--enas_space=recurrent", "--authors_defaults"), lambda t: t.grad_clip),
    ("grad_clip", r"the paper's ([\d.]+) \(--paper_defaults",
     ("--algorithm=enas", "--enas_space=recurrent", "--paper_defaults"), lambda t: t.grad_clip),
    ("sigma_min", r"paper: ([\d.]+);", ("--algorithm=egnas", "--paper_defaults"),
     lambda t: t.oracle.sigma_min),
    ("sigma_min", r"--authors_defaults: ([\d.]+),", ("--algorithm=egnas", "--authors_defaults"),
     lambda t: t.oracle.sigma_min),
    ("grad_clip", r"darts/egnas: ([\d.]+), the papers' code", ("--algorithm=darts", "--paper_defaults"),
     lambda t: t.grad_clip),
    ("grad_clip", r"enas: ([\d.]+) on CIFAR", ("--algorithm=enas", "--enas_space=macro", "--paper_defaults"),
     lambda t: t.grad_clip),
    ("final_learning_rate", r"paper: darts ([\d.]+)", ("--algorithm=darts", "--paper_defaults"),
     lambda t: t.final_learning_rate),
    ("final_learning_rate", r"egnas ([\d.]+), cosine", ("--algorithm=egnas", "--paper_defaults"),
     lambda t: t.final_learning_rate),
    ("final_learning_rate", r"final scripts' ([\d.]+) macro",
     ("--algorithm=enas", "--enas_space=macro", "--paper_defaults"), lambda t: t.final_learning_rate),
    ("step", r"the authors' code: ([\d.]+)", ("--algorithm=egnas", "--paper_defaults"),
     lambda t: t.oracle.step),
    ("alpha_momentum", r"the authors' code: ([\d.]+)", ("--algorithm=egnas", "--paper_defaults"),
     lambda t: t.oracle.alpha_momentum),
]


@pytest.mark.parametrize("flag, pattern, argv, read", TABLE,
                         ids=[f"{row[0]}-{'-'.join(row[2])}" for row in TABLE])
def test_a_help_texts_paper_or_authors_value_is_what_the_flag_resolves_to(
        flag, pattern, argv, read, built):
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
        seen.update(search=(_examples(x), _examples(validation_data)),
                    final=(_examples(final_fit["x"]), _examples(final_fit["validation_data"])))
        raise _Built(tuner)

    tuner_class = {"darts": DartsTuner, "egnas": EgnasTuner}[algorithm]
    monkeypatch.setattr(tuner_class, "search", search)
    FLAGS.unparse_flags()
    try:
        FLAGS(["keras_nash", f"--algorithm={algorithm}", "--paper_defaults",
               f"--output_dir={tmp_path}", "--overwrite"])
        assert cli_flags.validation_split() == 0.0
        with pytest.raises(_Built):
            cli.main(["keras_nash"])
        full = cli_flags.batch_size()  # training pipelines keep full batches only
        assert seen == {"search": (1575 // full * full, 1575), "final": (3150 // full * full, 350)}
    finally:
        FLAGS.unparse_flags()
