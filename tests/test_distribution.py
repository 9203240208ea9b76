"""Tuners under a `tf.distribute.MirroredStrategy` (keras-tuner's `distribution_strategy`),
over two logical CPUs in a fresh process (`tests/mirrored_run.py`)."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.long
def test_nash_trains_every_child_on_both_replicas(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "tests.mirrored_run", "nash", str(tmp_path)], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["status"] == ["COMPLETED"] * 4  # seed, 2 children, final
    assert result["replicas"] == [2, 2, 2, 2]
    # Morphed into mirrored variables, each child still computes its parent's function.
    assert len(result["preservation_errors"]) == 3 and max(result["preservation_errors"]) <= 1e-4
