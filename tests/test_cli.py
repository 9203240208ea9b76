"""Tests for the command line: `python -m keras_nash` (or `keras-nash`) with absl flags.

The runs are in-process (`main` after the flags are parsed, as `absl.app.run` would), so each
test pays no TensorFlow start-up; one subprocess smoke test checks the real entry point.
"""

import json
import logging
import pathlib
import re
import runpy
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from absl import app

from keras_nash import __main__ as cli
from keras_nash import cli_flags, cli_help, logs, report
from keras_nash.cli_flags import FLAGS

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY = [
    "--n_steps=1",
    "--n_neighbors=2",
    "--n_morphisms=1",
    "--epochs_per_neighbor=1",
    "--final_epochs=1",
    "--pretrain_epochs=1",
    "--max_examples=256",
    "--seed_filters=4,8,8",
    "--batch_size=64",
]
CELL_TINY = [
    "--epochs=2",
    "--final_epochs=1",
    "--cells=3",
    "--channels=4",
    "--steps=2",
    "--multiplier=2",
    "--primitives=none,skip_connect,max_pool_3x3",  # cheap to trace
    "--final_cells=3",
    "--final_channels=4",
    "--max_examples=128",
    "--batch_size=32",
]


@pytest.fixture
def parse():
    """Parse a command line into FLAGS (the program name is added); FLAGS are reset afterwards."""
    level = logs.logger.level

    def parse(*argv):
        FLAGS.unparse_flags()
        FLAGS(["keras_nash", *argv])

    yield parse
    FLAGS.unparse_flags()
    logs.logger.setLevel(level)  # main hands keras_nash's level to --verbosity


@pytest.fixture
def run_cli(parse, caplog, capsys):
    """Run the command line in-process; returns (stdout, the log lines)."""
    caplog.set_level(logging.INFO)

    def run_cli(*argv):
        parse(*argv)
        cli.main(["keras_nash"])
        return capsys.readouterr().out, caplog.text

    return run_cli


def test_help_answers_fast_with_each_algorithms_main_flags():
    """The one subprocess: the real entry point, `python -m keras_nash --help`."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "keras_nash", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = time.perf_counter() - start
    print(f"python -m keras_nash --help: {seconds:.2f} s")
    assert result.returncode == 0, result.stderr[-3000:]
    for flag in (
        "--algorithm=nash",
        "--dataset=default",
        "--output_dir",
        "--n_steps",
        "--epochs",
        "--cells",
        "--arch_learning_rate",
        "--population_size",
        "--enas_space=macro",
        "--helpfull",
    ):
        assert flag in result.stdout
    # `python -m keras_nash` imports the package, which loads TensorFlow (it registers the
    # library's serialisable classes wherever it is imported): about 6 s on an idle 2-core CPU.


def test_help_groups_flags_by_algorithm_and_usage_errors_exit_before_main(capsys):
    for argv in (["keras-nash", "--help"], ["keras-nash", "-?"], ["keras-nash", "--helpshort"]):
        with pytest.raises(SystemExit) as exit_info:
            cli_help.parse_flags(argv, cli.__doc__)
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        assert text.startswith("Command line: `python -m keras_nash`")
        assert "--algorithm=nash (hill climbing" in text and "more: --lr_start" in text
        for flag in cli_flags.defined_flags():  # each flag in --help, by name at least
            assert re.search(rf"--(\[no\])?{flag.name}\b", text), flag.name
    for bad in ("--algorithm=bogus", "--no_such_flag=1"):
        with pytest.raises(SystemExit) as exit_info:
            cli_help.parse_flags(["keras-nash", bad], cli.__doc__)
        assert exit_info.value.code == 1
        assert "FATAL Flags parsing error" in capsys.readouterr().err
    FLAGS.unparse_flags()


def test_nash_run_reports_accuracy_writes_summary_plot_and_exports(run_cli, tmp_path):
    out, log = run_cli(
        *TINY,
        f"--output_dir={tmp_path / 'out'}",
        f"--export_dir={tmp_path / 'exported'}",
        "--export_formats=keras,json",
        "--overwrite",
    )
    assert "test accuracy: " in out and f"plot: {tmp_path / 'out' / 'search_nash.png'}" in out
    assert "NASH trial 0001 | step 1 | child of trial 0000" in log  # readable progress
    summary = json.loads((tmp_path / "out" / "summary_nash.json").read_text())
    assert summary["algorithm"] == "nash" and 0.0 <= summary["test_accuracy"] <= 1.0
    assert [t["role"] for t in summary["trials"]] == ["seed", "child", "incumbent", "final"]
    assert summary["flags"]["n_steps"] == 1
    assert (tmp_path / "out" / "search_nash.png").read_bytes()[:4] == b"\x89PNG"
    model = keras.saving.load_model(tmp_path / "exported" / "model.keras")
    assert model.predict(np.zeros((1, 32, 32, 3), "uint8"), verbose=0).shape == (
        1,
        10,
    )  # raw images
    assert (tmp_path / "exported" / "architecture.json").exists()
    assert json.loads((tmp_path / "exported" / "preprocessing.json").read_text())[
        "scale"
    ] == pytest.approx(1 / 255)
    assert not (tmp_path / "exported" / "model.tflite").exists()  # --export_formats


def test_unknown_dataset_fails_fast_with_a_clear_message(parse, tmp_path):
    parse("--dataset=no_such_dataset_xyz", f"--output_dir={tmp_path}")
    with pytest.raises(app.UsageError, match="no_such_dataset_xyz") as error:
        cli.main(["keras_nash"])
    assert "source" in str(error.value)
    assert not (tmp_path / "nash").exists()


def test_export_example_runs_and_reloads(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["export_and_reload.py", str(tmp_path)])
    runpy.run_path(str(ROOT / "examples" / "export_and_reload.py"), run_name="__main__")
    out = capsys.readouterr().out
    differences = [
        float(line.split()[-1]) for line in out.splitlines() if line.startswith("max |difference|")
    ]
    assert len(differences) == 3 and max(differences[:2]) <= 1e-5 and differences[2] <= 1e-3


def _supernet_summary(out, log, tmp_path, algorithm, epochs=2, plot=True):
    assert "test accuracy: " in out
    assert (
        f"{algorithm} search epoch {epochs - 1} | trial {epochs - 1:04d}" in log
    )  # readable progress
    summary = json.loads((tmp_path / "out" / f"summary_{algorithm}.json").read_text())
    assert summary["algorithm"] == algorithm and 0.0 <= summary["test_accuracy"] <= 1.0
    assert [t["role"] for t in summary["trials"]] == ["epoch"] * epochs + ["final"]
    assert all(t["seconds"] > 0 for t in summary["trials"])
    assert summary["best_trial"] == summary["trials"][-1]["trial_id"]  # the final network
    if plot:
        assert (tmp_path / "out" / f"search_{algorithm}.png").read_bytes()[:4] == b"\x89PNG"
    return summary


def test_darts_run_maps_flags_to_the_tuner_and_exports(run_cli, tmp_path):
    # --paper_defaults with the sizes given: the papers' data protocol on tiny settings.
    out, log = run_cli(
        "--algorithm=darts",
        *CELL_TINY,
        "--epochs=1",
        "--paper_defaults",
        f"--output_dir={tmp_path / 'out'}",
        f"--export_dir={tmp_path / 'exported'}",
        "--export_formats=keras,json",
        "--overwrite",
    )
    assert "search on 64 + 64 training images, final training on all 128" in log
    summary = _supernet_summary(out, log, tmp_path, "darts", epochs=1)
    genotype = summary["architecture"]
    assert len(genotype["normal"]) == 4  # 2 steps x 2 edges
    assert {op for op, _ in genotype["normal"] + genotype["reduce"]} <= {
        "skip_connect",
        "max_pool_3x3",
    }  # never none
    model = keras.saving.load_model(tmp_path / "exported" / "model.keras")
    assert model.predict(np.zeros((1, 32, 32, 3), "float32"), verbose=0).shape == (1, 10)
    assert json.loads((tmp_path / "exported" / "architecture.json").read_text()) == genotype


def test_egnas_run_maps_its_flags_and_runs_without_matplotlib(run_cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails: not installed
    out, log = run_cli(
        "--algorithm=egnas",
        *CELL_TINY,
        "--epochs=1",
        "--warmup_epochs=0",
        "--population_size=4",
        "--primitives=skip_connect,max_pool_3x3,avg_pool_3x3",
        "--partial_channels=2",
        f"--output_dir={tmp_path / 'out'}",
        "--overwrite",
    )
    summary = _supernet_summary(out, log, tmp_path, "egnas", epochs=1, plot=False)
    assert summary["flags"]["population_size"] == 4
    assert "plot:" not in out and not (tmp_path / "out" / "search_egnas.png").exists()
    assert 'pip install "keras-nash[plot]"' in log


def test_enas_macro_run(run_cli, tmp_path):
    # The micro space runs end to end through the tuner in tests/test_enas.py.
    out, log = run_cli(
        "--algorithm=enas",
        "--enas_space=macro",
        "--epochs=1",
        "--final_epochs=1",
        "--controller_train_steps=2",
        "--controller_num_aggregate=2",
        "--final_candidates=2",
        "--max_examples=128",
        "--batch_size=32",
        "--num_layers=3",
        "--filters=4",
        "--weight_decay=2e-4",
        "--precision=mixed_bfloat16",
        f"--output_dir={tmp_path / 'out'}",
        "--overwrite",
    )
    summary = _supernet_summary(out, log, tmp_path, "enas", epochs=1)
    assert summary["architecture"]["space"] == "macro"
    assert summary["flags"]["enas_space"] == "macro" and summary["flags"]["weight_decay"] == 2e-4
    assert keras.config.dtype_policy().name == "mixed_bfloat16"  # the final network's
    keras.config.set_dtype_policy("float32")


def test_enas_recurrent_run_prints_perplexity_and_exports_the_vocabulary(run_cli, tmp_path):
    out, _ = run_cli(
        "--algorithm=enas",
        "--enas_space=recurrent",
        "--epochs=1",
        "--final_epochs=1",
        "--controller_train_steps=1",
        "--controller_num_aggregate=2",
        "--final_candidates=2",
        "--num_nodes=3",
        "--hidden_size=8",
        "--bptt=10",
        "--batch_size=200",  # 36 windows an epoch over the 71,278 tokens, not 20's 356
        f"--output_dir={tmp_path / 'out'}",
        f"--export_dir={tmp_path / 'exported'}",
        "--export_formats=keras",
        "--overwrite",
    )
    summary = json.loads((tmp_path / "out" / "summary_enas_recurrent.json").read_text())
    assert (
        summary["architecture"]["space"] == "recurrent" and summary["num_tokens"]["train"] == 71278
    )
    assert f"validation perplexity: {summary['validation_perplexity']:.4f}" in out
    assert 1.0 < summary["test_perplexity"] < 10 * summary["vocabulary"]
    words = json.loads((tmp_path / "exported" / "vocab.json").read_text())["words"]
    assert len(words) == summary["vocabulary"] and "<unk>" in words
    assert (tmp_path / "exported" / "model.keras").exists()


def test_enas_paper_defaults_give_the_authors_final_network(parse, tmp_path, monkeypatch, capsys):
    from keras_nash.tuners.enas.tuner import EnasTuner

    class Searched(Exception):
        pass

    def search(tuner, *args, **kwargs):  # the tuner as the command line built it; no training
        raise Searched(
            tuner.final_filters, tuner.final_cells, tuner.auxiliary_weight, tuner.drop_path_prob
        )

    monkeypatch.setattr(EnasTuner, "search", search)
    runs = {
        ("micro",): (36, 17, 0.4, 0.4),  # the authors' cifar10_micro_final.sh
        ("macro",): (
            96,
            None,
            0.0,
            0.0,
        ),  # cifar10_macro_final.sh (no auxiliary head, no drop-path)
        ("micro", "--final_cells=5"): (36, 5, 0.4, 0.4),
    }
    for (space, *more), expected in runs.items():
        parse(
            "--algorithm=enas",
            f"--enas_space={space}",
            "--paper_defaults",
            *more,
            "--max_examples=64",
            f"--output_dir={tmp_path / space}",
        )
        with pytest.raises(Searched) as searched:
            cli.main(["keras_nash"])
        assert searched.value.args == expected
    parse(
        "--algorithm=enas",
        "--enas_space=micro",
        "--max_examples=64",
        f"--output_dir={tmp_path / 'short'}",
    )
    with pytest.raises(Searched) as searched:
        cli.main(["keras_nash"])
    assert searched.value.args == (None, None, 0.4, 0.4)  # short runs: the searched size
    parse(
        "--algorithm=enas",
        "--enas_space=macro",
        "--auxiliary_weight=0.4",
        "--max_examples=64",
        f"--output_dir={tmp_path / 'bad'}",
    )
    assert cli._main_or_usage_error(["keras_nash"]) == 1
    assert (
        "macro space's networks take no --final_cells, --auxiliary_weight"
        in capsys.readouterr().err
    )


def test_flags_of_another_algorithm_fail_before_any_work(parse, tmp_path, capsys):
    parse("--algorithm=darts", "--population_size=10", "--n_steps=2", f"--output_dir={tmp_path}")
    assert cli._main_or_usage_error(["keras_nash"]) == 1
    err = capsys.readouterr().err
    assert "FATAL Usage error: --algorithm=darts does not use --n_steps, --population_size" in err
    assert not any(tmp_path.iterdir())
    parse("--algorithm=enas", "--enas_space=macro", "--num_cells=3", f"--output_dir={tmp_path}")
    with pytest.raises(app.UsageError, match="--enas_space=macro does not use --num_cells"):
        cli.main(["keras_nash"])


def test_bad_tuner_argument_is_a_usage_error(parse, tmp_path, capsys):
    parse(
        "--algorithm=egnas", "--population_size=1", "--max_examples=64", f"--output_dir={tmp_path}"
    )
    assert cli._main_or_usage_error(["keras_nash"]) == 1
    err = capsys.readouterr().err
    assert "population_size" in err and "Traceback" not in err


def test_plot_without_matplotlib_warns_and_returns_none(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    records = [{"step": 0, "score": 0.5, "seconds": 1.0, "role": "seed"}]
    with caplog.at_level(logging.WARNING, logger="keras_nash"):
        assert report.plot_search(records, tmp_path / "search.png") is None
    assert caplog.messages == [
        'No search plot: matplotlib is not installed (pip install "keras-nash[plot]").'
    ]
    assert not (tmp_path / "search.png").exists()
