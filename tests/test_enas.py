"""ENAS through keras-tuner: macro and micro searches end to end, export (resume: test_resume.py)."""

import json
import os

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
