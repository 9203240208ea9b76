"""A killed supernet search resumes as the same search (DARTS, EG-NAS, ENAS).

Each search (tests/scripts/resume_run.py: 2 search epochs on a training set reshuffled every pass)
is
run once uninterrupted here, then from scratch in child processes that are SIGKILLed twice:

1. right after epoch 0's end, between keras-tuner's `trial.json` (COMPLETED) and the oracle's
   state (the oracle updates its policy there): the restart must not train epoch 0 again;
2. in the middle of epoch 1 (after its first training batch);

and resumed here to the end. The resumed search must have the uninterrupted one's trials, each
epoch's loss (float tolerance: two processes) and architecture; the ENAS searches (images, and
the recurrent cell's language model) go on through their final training, resumed on the same
pass of the training data.
"""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nash.tuners.supernet.data import as_search_data, skip_passes
from keras_nash.tuners.supernet.loop import SearchState
from tests.scripts import resume_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# max_trials: 2 stops after the search epochs; the ENAS searches' small final trainings (4 s)
# run too, so that they are also resumed through their final trials.
MAX_TRIALS = {"darts": 2, "egnas": 2, "enas": 0, "enas_recurrent": 0}


def _child(algorithm, directory, *flags):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.scripts.resume_run",
            algorithm,
            directory,
            f"--max_trials={MAX_TRIALS[algorithm]}",
            *flags,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _killed_after_epoch_end(algorithm, directory):
    child = _child(algorithm, directory, "--kill_after_end_of=0")
    _, err = child.communicate(timeout=400)
    assert child.returncode == -signal.SIGKILL, err.decode()[-2000:]


def _killed_mid_epoch(algorithm, directory):
    child = _child(algorithm, directory, "--hang_at_epoch=1")
    marker = os.path.join(directory, "hanging")
    try:
        deadline = time.time() + 400  # the first epoch traces the supernet: slow when loaded
        while not os.path.exists(marker):
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "epoch 1 did not start in time"
            time.sleep(0.2)
    finally:
        child.kill()
        child.wait()
        child.stderr.close()


def _project_state(directory, algorithm):
    with open(os.path.join(directory, algorithm, "oracle.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("algorithm", resume_run.ALGORITHMS)
def test_killed_search_resumes_as_the_same_search(algorithm, tmp_path):
    max_trials = MAX_TRIALS[algorithm] or None
    reference = resume_run.summary(
        resume_run.search(algorithm, str(tmp_path / "reference"), True, max_trials)
    )
    directory = str(tmp_path / "killed")
    os.makedirs(directory)

    _killed_after_epoch_end(algorithm, directory)
    state = _project_state(directory, algorithm)
    assert state["supernet"]["epoch"] == 0  # the kill came before the oracle recorded the end
    first_id = reference["trials"][0]["trial_id"]
    first = os.path.join(directory, algorithm, f"trial_{first_id}", "supernet.npz")
    stamp = os.path.getmtime(first)

    _killed_mid_epoch(algorithm, directory)
    assert _project_state(directory, algorithm)["supernet"]["epoch"] == 1  # reconciled
    assert os.path.getmtime(first) == stamp  # epoch 0 was not trained again

    tuner = resume_run.search(algorithm, directory, False, max_trials)
    resumed = resume_run.summary(tuner)
    assert tuner.get_best_models(1)[0].count_params() > 0  # the supernet or the final network
    assert os.path.getmtime(first) == stamp
    strip = [{k: v for k, v in t.items() if k != "loss"} for t in resumed["trials"]]
    assert strip == [{k: v for k, v in t.items() if k != "loss"} for t in reference["trials"]]
    assert all(t["status"] == "COMPLETED" for t in resumed["trials"])
    np.testing.assert_allclose(
        [t["loss"] for t in resumed["trials"]],
        [t["loss"] for t in reference["trials"]],
        rtol=1e-5,
    )
    assert resumed["architecture"] == reference["architecture"]


def test_skip_passes_gives_the_pass_an_uninterrupted_search_makes():
    def make():
        return tf.data.Dataset.range(8).shuffle(8, seed=1, reshuffle_each_iteration=True).batch(8)

    dataset = make()
    passes = [next(iter(dataset)).numpy().tolist() for _ in range(3)]
    assert passes[2] != passes[0]
    resumed = make()
    skip_passes(resumed, 2)
    assert next(iter(resumed)).numpy().tolist() == passes[2]


def test_array_order_is_a_function_of_the_epoch_seed_alone():
    x = np.arange(10, dtype="float32").reshape(10, 1, 1, 1)
    y = np.arange(10)
    orders = []
    for global_seed in (0, 1):  # a resumed process may have set another global seed
        keras.utils.set_random_seed(global_seed)
        data = as_search_data((x, y), {"validation_data": (x, y)}, 4, shuffle_seed=3)
        orders.append(np.concatenate([labels for _, labels in data.train]).tolist())
    assert orders[0] == orders[1]
    assert sorted(orders[0]) == list(range(10)) and orders[0] != list(range(10))


def _state(units, seed):
    keras.utils.set_random_seed(seed)
    network = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(units), keras.layers.BatchNormalization()]
    )
    optimizer = keras.optimizers.SGD(momentum=0.9)
    optimizer.build(network.trainable_variables)
    optimizer.variables[-1].assign(np.full(optimizer.variables[-1].shape, float(seed), "float32"))
    return SearchState(network, {"weights": optimizer})


def test_supernet_checkpoint_restores_weights_and_optimiser_state_or_refuses_another_network(
    tmp_path,
):
    saved = _state(3, seed=1)
    saved.save(str(tmp_path))
    restored = _state(3, seed=2)
    restored.restore(str(tmp_path))
    for a, b in zip(
        saved.network.variables + saved.optimizers["weights"].variables,
        restored.network.variables + restored.optimizers["weights"].variables,
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    other = _state(5, seed=3)
    before = [np.asarray(v) for v in other.network.variables]
    with pytest.raises(
        ValueError,
        match=r"another supernet's \(variable 0 is .*kernel \(4, 3\) there, "
        r".*kernel \(4, 5\) here\): resume a search with the arguments",
    ):
        other.restore(str(tmp_path))
    for a, b in zip(before, other.network.variables):  # nothing assigned
        np.testing.assert_array_equal(a, np.asarray(b))
