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
