"""ENAS through keras-tuner: macro and micro searches end to end, resume after SIGKILL, export."""

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

from keras_nash.tuners.enas import EnasTuner
from keras_nash.spaces.enas import MacroSpace, MicroSpace

SHAPE = (8, 8, 3)
SMALL = dict(num_classes=3, final_epochs=1, controller_train_steps=2, controller_num_aggregate=2,
             controller_lstm_size=8, final_candidates=2, batch_size=8, seed=1)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((40,) + SHAPE).astype("float32")
    y = rng.integers(0, 3, 40).astype("int32")
    train = tf.data.Dataset.from_tensor_slices((x[:24], y[:24])).batch(8)
    val = tf.data.Dataset.from_tensor_slices((x[24:], y[24:])).batch(8)
    return x, train, val


def _macro_tuner(directory, epochs=2, overwrite=True):
    return EnasTuner(MacroSpace(num_layers=3, filters=4), epochs=epochs, directory=str(directory),
                     project_name="macro", overwrite=overwrite, **SMALL)


@pytest.fixture(scope="module")
def macro_search(tmp_path_factory):
    directory = tmp_path_factory.mktemp("enas")
    _, train, val = _data()
    tuner = _macro_tuner(directory)
    tuner.search(train, validation_data=val, verbose=0)
    return tuner


def test_macro_search_end_to_end(macro_search):
    tuner = macro_search
    trials = [tuner.oracle.trials[i] for i in sorted(tuner.oracle.trials)]
    assert [t.hyperparameters.values["enas/role"] for t in trials] == ["epoch", "epoch", "final"]
    assert all(t.status == "COMPLETED" for t in trials)
    assert tuner.trace_counts == {"train_step": 1, "eval_step": 1}
    history = tuner.oracle.history
    assert [h["epoch"] for h in history] == [0, 1]
    assert tuner.oracle.controller().step == 4  # 2 epochs x 2 REINFORCE steps
    assert history[1]["baseline"] == tuner.oracle.controller().baseline
    # The rewards and architectures of each epoch are in its trial directory.
    with open(os.path.join(tuner.get_trial_dir(trials[0].trial_id), "supernet_result.json")) as f:
        result = json.load(f)
    assert len(result["decisions"]) == 4 and len(result["rewards"]) == 4
    assert all(0.0 <= r <= 1.0 for r in result["rewards"])
    arch = tuner.get_best_architecture()
    assert arch is not None and arch.num_layers == 3
    assert trials[-1].hyperparameters.values["enas/arch"] == arch.to_json()
    # The oracle's state is plain JSON.
    json.dumps(tuner.oracle.get_state())


def test_export_reloads_and_predicts_the_same(macro_search, tmp_path):
    x, _, _ = _data()
    model = macro_search.get_best_models(1)[0]
    assert model.name == "enas_macro_child"
    path = str(tmp_path / "best.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6, rtol=0)


def test_micro_search_end_to_end(tmp_path):
    _, train, val = _data()
    space = MicroSpace(num_cells=3, num_blocks=2, filters=4, stem_multiplier=1,
                       operations=("skip_connect", "sep_conv_3x3", "max_pool_3x3"))
    tuner = EnasTuner(space, epochs=2, directory=str(tmp_path), project_name="micro", **SMALL)
    tuner.search(train, validation_data=val, verbose=0)
    assert tuner.trace_counts == {"train_step": 1, "eval_step": 1}
    arch = tuner.get_best_architecture()
    assert arch.num_blocks == 2
    model = tuner.get_best_models(1)[0]
    assert model.name == "enas_micro_child" and model.output_shape == (None, 3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(search_space="meso"), "search_space='meso'"),
        (dict(search_space=MacroSpace(num_layers=2), controller_lstm_size=0), "controller_lstm_size=0"),
        (dict(search_space="macro", epochs=0), "epochs=0"),
        (dict(search_space="macro", num_classes=1), "num_classes=1"),
        (dict(search_space="macro", controller_train_steps=0), "controller_train_steps=0"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        EnasTuner(directory=str(tmp_path), project_name="bad", **kwargs)


def test_bad_space_size():
    with pytest.raises(ValueError, match="num_layers=0"):
        EnasTuner(MacroSpace(num_layers=0))


def test_resume_after_sigkill(tmp_path):
    log = tmp_path / "epochs.log"
    env = {**os.environ, "ENAS_TEST_LOG": str(log), "ENAS_TEST_SLOW": "1"}
    command = [sys.executable, __file__, str(tmp_path)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Wait until the first epoch trial has finished (its end is in the oracle's state).
        oracle_file = tmp_path / "macro" / "oracle.json"
        deadline = time.time() + 400  # slow on a loaded machine
        while time.time() < deadline:
            if oracle_file.exists():
                try:
                    if json.loads(oracle_file.read_text())["enas"]["history"]:
                        break
                except (ValueError, KeyError):
                    pass
            assert process.poll() is None, "the search ended before it was killed"
            time.sleep(0.2)
        else:
            pytest.fail("the first epoch did not finish in time")
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    first_run = log.read_text().split()
    assert first_run[0] == "0"
    snapshot = json.loads(oracle_file.read_text())["enas"]

    env["ENAS_TEST_SLOW"] = "0"
    subprocess.run(command, env=env, check=True, timeout=120, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    second_run = log.read_text().split()[len(first_run):]
    # It went on from the second epoch (an epoch killed mid-way runs again), then the final trial.
    assert second_run[0] == "1" and second_run[-1] == "final"
    assert "0" not in second_run
    state = json.loads(oracle_file.read_text())["enas"]
    assert state["history"][0] == snapshot["history"][0]
    assert [h["epoch"] for h in state["history"]] == [0, 1, 2]
    assert state["best_arch"] is not None


class _LoggingTuner(EnasTuner):
    """Appends each epoch (and "final") to a log; slow epochs after the first when asked."""

    def run_search_epoch(self, state, trial, data, loop):
        epoch = int(trial.hyperparameters.values["enas/epoch"])
        with open(os.environ["ENAS_TEST_LOG"], "a") as f:
            f.write(f"{epoch}\n")
        if epoch >= 1 and os.environ.get("ENAS_TEST_SLOW") == "1":
            time.sleep(600)
        return super().run_search_epoch(state, trial, data, loop)

    def build_final_model(self, hp):
        with open(os.environ["ENAS_TEST_LOG"], "a") as f:
            f.write("final\n")
        return super().build_final_model(hp)


def _resume_main(directory):
    _, train, val = _data()
    tuner = _LoggingTuner(MacroSpace(num_layers=3, filters=4), epochs=3, directory=directory,
                          project_name="macro", overwrite=False, **SMALL)
    tuner.search(train, validation_data=val, verbose=0)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _resume_main(sys.argv[1])
