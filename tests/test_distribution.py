"""Tuners under a `tf.distribute.MirroredStrategy` (keras-tuner's `distribution_strategy`),
over two logical CPUs in a fresh process (`tests/scripts/mirrored_run.py`): NASH's children, the
supernets' search epochs (the recurrent space's included), and the weight step on two replicas
against one device."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _mirrored_run(mode, directory) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "tests.scripts.mirrored_run", mode, str(directory)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.long
def test_nash_trains_every_child_on_both_replicas(tmp_path):
    result = _mirrored_run("nash", tmp_path)
    assert result["status"] == ["COMPLETED"] * 4  # seed, 2 children, final
    assert result["replicas"] == [2, 2, 2, 2]
    # Morphed into mirrored variables, each child still computes its parent's function.
    assert len(result["preservation_errors"]) == 3 and max(result["preservation_errors"]) <= 1e-4


@pytest.fixture(scope="module")
def supernets(tmp_path_factory):
    return _mirrored_run("supernets", tmp_path_factory.mktemp("supernets"))


@pytest.mark.long
def test_supernet_search_epochs_run_on_both_replicas(supernets):
    results = {name: supernets[name] for name in ("darts", "egnas", "enas")}
    steps = {
        "darts": ("search_step", "eval_step"),
        "egnas": ("train_step", "eval_step"),
        "enas": ("train_step", "eval_step"),
    }
    for name, result in results.items():
        assert result["status"] == ["COMPLETED"] * 2, name
        # Every search epoch's supernet holds mirrored weights (one copy per replica).
        assert result["replicas"] == [2, 2] and result["copies"] == [2, 2], name
        assert all(0 < loss < 10 for loss in result["losses"]), (name, result["losses"])
        # The replica step is traced once for each of the 2 replicas, once per search.
        assert {step: result["trace_counts"][step] for step in steps[name]} == dict.fromkeys(
            steps[name], 2
        ), name


@pytest.mark.long
def test_weight_step_on_two_replicas_is_the_one_device_step(supernets):
    result = supernets["weight_step"]
    # Clipped SGD steps (the last batch of 1 example leaves a replica empty): keras_nash's
    # optimiser on 2 replicas ends where one device does; Keras's SGD, which clips each
    # replica's gradient before the sum, does not.
    assert result["coupled"] <= 1e-6
    assert result["keras"] > 1e-3
    assert abs(result["losses"][0] - result["losses"][1]) <= 1e-5


@pytest.mark.long
def test_recurrent_search_carries_each_replicas_streams(supernets):
    # Each replica carries the state of its half of the token streams: over 4 windows of 4
    # streams, 2 replicas end with the weights, the state and the loss of one device.
    result = supernets["lm_step"]
    assert result["state_shapes"] == [[2, 8], [2, 8]]
    assert result["weights"] <= 1e-5 and result["state"] <= 1e-5
    assert abs(result["losses"][0] - result["losses"][1]) <= 1e-5
    # A recurrent ENAS search and its final training run on the two replicas.
    recurrent = supernets["recurrent"]
    assert recurrent["status"] == ["COMPLETED"] * 2, recurrent
    assert recurrent["replicas"] == [2, 2]  # the search epoch and the final `fit`
    assert recurrent["final_model"] == "StatefulLanguageModel"
    assert recurrent["final_state"] == [2, 8]  # reloaded: each replica's 2 streams
    assert recurrent["trace_counts"] == {"train_step": 2, "eval_step": 2}
    assert "batch_size=3 for 2 replicas" in recurrent["batch_error"]
