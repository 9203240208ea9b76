"""Tests for the command line: `python -m keras_nash` with absl flags."""

import json
import pathlib
import subprocess
import sys

import keras
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY = [
    "--n_steps=1", "--n_neighbors=2", "--n_morphisms=1", "--epochs_per_neighbor=1", "--final_epochs=1",
    "--pretrain_epochs=1", "--max_examples=256", "--seed_filters=4,8,8", "--batch_size=64",
]


def _run(*flags, timeout=600):
    return subprocess.run([sys.executable, "-m", "keras_nash", *flags], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_nash_run_reports_accuracy_writes_summary_plot_and_exports(tmp_path):
    result = _run(*TINY, f"--output_dir={tmp_path / 'out'}", f"--export_dir={tmp_path / 'exported'}", "--overwrite")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test accuracy: " in result.stdout
    assert "NASH trial 0001 | step 1 | child of trial 0000" in result.stderr  # readable progress
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["algorithm"] == "nash" and 0.0 <= summary["test_accuracy"] <= 1.0
    assert [t["role"] for t in summary["trials"]] == ["seed", "child", "incumbent", "final"]
    assert summary["flags"]["n_steps"] == 1
    assert (tmp_path / "out" / "search.png").read_bytes()[:4] == b"\x89PNG"
    model = keras.saving.load_model(tmp_path / "exported" / "model.keras")
    assert model.predict(np.zeros((1, 32, 32, 3), "float32"), verbose=0).shape == (1, 10)
    assert (tmp_path / "exported" / "architecture.json").exists()


def test_unknown_dataset_fails_fast_with_a_clear_message(tmp_path):
    result = _run("--dataset=no_such_dataset_xyz", f"--output_dir={tmp_path}", timeout=120)
    assert result.returncode != 0
    assert "no_such_dataset_xyz" in result.stderr and "source" in result.stderr
    assert not (tmp_path / "nash").exists()


def test_export_example_runs_and_reloads(tmp_path):
    result = subprocess.run([sys.executable, "examples/export_and_reload.py", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    differences = [float(line.split()[-1]) for line in result.stdout.splitlines() if line.startswith("max |difference|")]
    assert len(differences) == 3 and max(differences[:2]) <= 1e-5 and differences[2] <= 1e-3


CELL_TINY = [
    "--epochs=2", "--final_epochs=1", "--cells=3", "--channels=4", "--steps=2", "--multiplier=2",
    "--primitives=none,skip_connect,sep_conv_3x3", "--final_cells=3", "--final_channels=4",
    "--max_examples=128", "--batch_size=32",
]


def _supernet_summary(result, tmp_path, algorithm, epochs=2):
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test accuracy: " in result.stdout
    assert f"{algorithm} search epoch 1 | trial 0001" in result.stderr  # readable progress
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["algorithm"] == algorithm and 0.0 <= summary["test_accuracy"] <= 1.0
    assert [t["role"] for t in summary["trials"]] == ["epoch"] * epochs + ["final"]
    assert all(t["seconds"] > 0 for t in summary["trials"])
    assert summary["best_trial"] == summary["trials"][-1]["trial_id"]  # the final network
    assert (tmp_path / "out" / "search.png").read_bytes()[:4] == b"\x89PNG"
    return summary


def test_darts_run_maps_flags_to_the_tuner_and_exports(tmp_path):
    result = _run("--algorithm=darts", *CELL_TINY, f"--output_dir={tmp_path / 'out'}",
                  f"--export_dir={tmp_path / 'exported'}", "--overwrite")
    summary = _supernet_summary(result, tmp_path, "darts")
    genotype = summary["architecture"]
    assert len(genotype["normal"]) == 4  # 2 steps x 2 edges
    assert {op for op, _ in genotype["normal"] + genotype["reduce"]} <= {"skip_connect", "sep_conv_3x3"}  # never none
    model = keras.saving.load_model(tmp_path / "exported" / "model.keras")
    assert model.predict(np.zeros((1, 32, 32, 3), "float32"), verbose=0).shape == (1, 10)
    assert json.loads((tmp_path / "exported" / "architecture.json").read_text()) == genotype


def test_egnas_run_evolves_after_the_warmup(tmp_path):
    result = _run("--algorithm=egnas", *CELL_TINY, "--warmup_epochs=1", "--population_size=4",
                  "--primitives=skip_connect,sep_conv_3x3,max_pool_3x3", "--partial_channels=2",
                  f"--output_dir={tmp_path / 'out'}", "--overwrite")
    summary = _supernet_summary(result, tmp_path, "egnas")
    assert summary["flags"]["population_size"] == 4


def test_enas_macro_and_micro_runs(tmp_path):
    controller = ["--epochs=2", "--final_epochs=1", "--controller_train_steps=2", "--controller_num_aggregate=2",
                  "--final_candidates=2", "--max_examples=128", "--batch_size=32"]
    for space, size in (("macro", ["--num_layers=3", "--filters=4"]),
                        ("micro", ["--num_cells=3", "--num_blocks=2", "--filters=4"])):
        out = tmp_path / space
        result = _run("--algorithm=enas", f"--enas_space={space}", *controller, *size, f"--output_dir={out / 'out'}",
                      "--overwrite")
        summary = _supernet_summary(result, out, "enas")
        assert summary["architecture"]["space"] == space
        assert summary["flags"]["enas_space"] == space


def test_flags_of_another_algorithm_fail_before_any_work(tmp_path):
    result = _run("--algorithm=darts", "--population_size=10", "--n_steps=2", f"--output_dir={tmp_path}", timeout=120)
    assert result.returncode != 0
    assert "--algorithm=darts does not use --n_steps, --population_size" in result.stderr
    assert not any(tmp_path.iterdir())
    result = _run("--algorithm=enas", "--enas_space=macro", "--num_cells=3", f"--output_dir={tmp_path}", timeout=120)
    assert "--enas_space=macro does not use --num_cells" in result.stderr


def test_bad_tuner_argument_is_a_usage_error(tmp_path):
    result = _run("--algorithm=egnas", "--population_size=1", "--max_examples=64", f"--output_dir={tmp_path}",
                  timeout=300)
    assert result.returncode != 0
    assert "population_size" in result.stderr and "Traceback" not in result.stderr
