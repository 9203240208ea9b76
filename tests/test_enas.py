"""ENAS through keras-tuner: macro and micro searches end to end, export (resume:
test_resume.py)."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_nash
from keras_nash.spaces.enas import MacroSpace, MicroSpace
from keras_nash.tuners.enas.controller import Controller
from keras_nash.tuners.enas.tuner import EnasTuner
from tests.scripts import resume_run

CHEAP_MACRO = ("conv_3x3", "max_pool_3x3", "avg_pool_3x3")  # quick to trace

SHAPE = (8, 8, 3)
SMALL = dict(
    num_classes=3,
    final_epochs=1,
    controller_train_steps=2,
    controller_num_aggregate=2,
    controller_lstm_size=8,
    final_candidates=2,
    batch_size=8,
    seed=1,
)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((40,) + SHAPE).astype("float32")
    y = rng.integers(0, 3, 40).astype("int32")
    train = tf.data.Dataset.from_tensor_slices((x[:24], y[:24])).batch(8)
    val = tf.data.Dataset.from_tensor_slices((x[24:], y[24:])).batch(8)
    return x, train, val


def _macro_tuner(directory, epochs=2, overwrite=True):
    return EnasTuner(
        MacroSpace(num_layers=3, filters=4, operations=CHEAP_MACRO),
        epochs=epochs,
        directory=str(directory),
        project_name="macro",
        overwrite=overwrite,
        **SMALL,
    )


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
    assert tuner.oracle.controller_state["step"] == 4  # 2 epochs x 2 REINFORCE steps
    assert history[1]["baseline"] == tuner.oracle.controller_state["baseline"]
    # The rewards and architectures of each epoch are in its trial directory, with the
    # controller the epoch trained (the next epoch's snapshot).
    with open(os.path.join(tuner.get_trial_dir(trials[0].trial_id), "supernet_result.json")) as f:
        result = json.load(f)
    assert np.asarray(result["decisions"]).shape == (2, 2, 6)  # steps x aggregate x decisions
    assert all(0.0 <= r <= 1.0 for step in result["rewards"] for r in step)
    assert trials[1].hyperparameters.values["enas/controller"] == result["controller_file"]
    arch = tuner.get_best_architecture()
    assert arch is not None and arch.num_layers == 3
    assert trials[-1].hyperparameters.values["enas/arch"] == arch.to_json()
    # The final network trains with the authors' final regularisation (macro: keep_prob 0.5
    # before the classifier, their l2_reg 2e-4 as coupled L2 4e-4).
    final = tuner.get_best_models(1)[0]
    assert final.get_layer("head_dropout").rate == 0.5 and final.optimizer.weight_decay == 4e-4
    # The oracle's state is plain JSON.
    json.dumps(tuner.oracle.get_state())


def test_controller_is_trained_on_policy(macro_search):
    """Step k + 1's architectures come from the controller after update k: replaying the
    epoch from its controller snapshot (sample, update with the recorded rewards, ...) gives
    the recorded architectures of every step."""
    tuner = macro_search
    trial = tuner.oracle.trials[sorted(tuner.oracle.trials)[1]]
    values = trial.hyperparameters.values
    with open(os.path.join(tuner.get_trial_dir(trial.trial_id), "supernet_result.json")) as f:
        result = json.load(f)
    controller = Controller(**tuner.controller_kwargs)
    controller.load(os.path.join(tuner.project_dir, values["enas/controller"]))
    controller.set_state(json.loads(values["enas/controller_state"]))
    seed = values["enas/sample_seed"]
    for step, (decisions, rewards) in enumerate(zip(result["decisions"], result["rewards"])):
        sampled = controller.sample(len(decisions), seed=seed + step)[0]
        np.testing.assert_array_equal(sampled, decisions)
        controller.update(sampled, np.asarray(rewards))
    assert controller.get_state() == result["controller_state"]


def test_export_reloads_and_predicts_the_same(macro_search, tmp_path):
    x, _, _ = _data()
    model = macro_search.get_best_models(1)[0]
    assert model.name == "enas_macro_child"
    path = str(tmp_path / "best.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6, rtol=0
    )


def test_micro_search_end_to_end(tmp_path):
    _, train, val = _data()
    space = MicroSpace(
        num_cells=3,
        num_blocks=2,
        filters=4,
        stem_multiplier=1,
        operations=("skip_connect", "avg_pool_3x3", "max_pool_3x3"),  # cheap to trace
    )
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
        (
            dict(search_space=MacroSpace(num_layers=2), controller_lstm_size=0),
            "controller_lstm_size=0",
        ),
        (dict(search_space="macro", epochs=0), "epochs=0"),
        (dict(search_space="macro", num_classes=1), "num_classes=1"),
        (dict(search_space="macro", controller_train_steps=0), "controller_train_steps=0"),
        (dict(search_space="macro", final_dropout=1.0), r"`final_dropout` must be in \[0, 1\)"),
        (
            dict(search_space="micro", final_learning_rate=0.01, final_learning_rate_min=0.1),
            "final_learning_rate_min=0.1, final_learning_rate=0.01",
        ),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        EnasTuner(directory=str(tmp_path), project_name="bad", **kwargs)


def test_bad_space_size():
    with pytest.raises(ValueError, match="num_layers=0"):
        EnasTuner(MacroSpace(num_layers=0))


class _Vocabulary:
    """A vocabulary as `export` takes it (what `keras_nash.datasets.Vocabulary` gives)."""

    def to_json(self):
        return json.dumps({"words": [f"w{i}" for i in range(resume_run.VOCABULARY)]})


def test_recurrent_search_exports_a_language_model_that_reloads(tmp_path):
    train, val = resume_run.text_data()
    tuner = resume_run.tuner("enas_recurrent", str(tmp_path), overwrite=True)
    tuner.search(train, validation_data=val, verbose=0)
    trials = [tuner.oracle.trials[i] for i in sorted(tuner.oracle.trials)]
    assert [t.hyperparameters.values["enas/role"] for t in trials] == ["epoch", "epoch", "final"]
    assert all(t.status == "COMPLETED" for t in trials)
    assert tuner.trace_counts == {"train_step": 1, "eval_step": 1}  # every architecture
    # Rewards are 80 / perplexity; the epochs report the samples' mean log-perplexity.
    with open(os.path.join(tuner.get_trial_dir(trials[0].trial_id), "supernet_result.json")) as f:
        rewards = np.asarray(json.load(f)["rewards"])
    np.testing.assert_allclose(
        trials[0].metrics.get_last_value("val_loss"), np.log(80.0 / rewards).mean(), rtol=1e-6
    )
    assert tuner.get_best_architecture().num_nodes == 4

    model = tuner.get_best_models(1)[0]
    paths = keras_nash.export(
        model.language_model,
        str(tmp_path / "export"),
        formats=("keras", "saved_model"),
        vocabulary=_Vocabulary(),
    )
    assert json.loads(open(paths["vocabulary"]).read())["words"][3] == "w3"
    tokens = next(iter(val))[0]
    state = tf.random.normal((4, 8), seed=1)
    expected = [np.asarray(t) for t in model.language_model((tokens, state))]
    reloaded = keras.saving.load_model(paths["keras"], safe_mode=True)
    saved_model = tf.saved_model.load(paths["saved_model"])  # kept: .serve needs its variables
    served = saved_model.serve((tokens, state))
    for outputs in ([np.asarray(t) for t in reloaded((tokens, state))], served):
        for got, want in zip(outputs, expected):  # next-token logits, then the state
            np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)


def test_recurrent_space_needs_token_windows(tmp_path):
    tuner = resume_run.tuner("enas_recurrent", str(tmp_path), overwrite=True)
    x, train, val = _data()
    with pytest.raises(
        ValueError, match=r"needs `x` as a tf.data.Dataset of `\(inputs, targets\)`"
    ):
        tuner.search(train, validation_data=val, verbose=0)
    windows, validation = resume_run.text_data()
    # Targets of another shape than the inputs.
    cut = windows.map(lambda x, y: (x, y[:, :-1]))
    with pytest.raises(ValueError, match=r"needs `x` as a tf.data.Dataset"):
        tuner.search(cut, validation_data=validation, verbose=0)
    # A token id the vocabulary (num_classes=20) does not have, in the validation targets.
    beyond = validation.map(lambda x, y: (x, tf.tensor_scatter_nd_update(y, [[0, 0]], [25])))
    with pytest.raises(ValueError, match=r"Received: num_classes=20, token ids in \[0, 25\]"):
        tuner.search(windows, validation_data=beyond, verbose=0)
    assert not tuner.oracle.trials  # all of it before any trial
