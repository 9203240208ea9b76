"""Tests for the NASH oracle and tuner: a small search end to end, its guarantees, resume,
failed children, bad input, memory, and distributed workers."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import keras
import keras_tuner
import numpy as np
import pytest

from keras_nash import graph, seed_models
from keras_nash.tuners.nash.tuner import NashTuner
from tests.scripts import nash_run

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _last_values(tuner, name):
    trials = tuner.oracle.trials
    return [trials[t].metrics.get_last_value(name) for t in sorted(trials)]


def _archs(tuner):
    trials = tuner.oracle.trials
    return [trials[t].hyperparameters.values["nash/arch"] for t in sorted(trials)]


@pytest.fixture(scope="module")
def data():
    return nash_run.data()


class _EpochScores(keras.callbacks.Callback):
    """Each training's per-epoch val_accuracy, in a list its deep copies (one per trial) share,
    and the traces of its model's train and test steps so far at each epoch's end (`traces`)."""

    runs = []
    traces = []
    counts = {}  # step name -> traces of the model in training

    def on_train_begin(self, logs=None):
        self.runs.append([])
        self.traces.append([])
        self.counts.clear()

    def on_epoch_end(self, epoch, logs=None):
        self.runs[-1].append(logs["val_accuracy"])
        self.traces[-1].append((self.counts.get("train_step", 0), self.counts.get("test_step", 0)))


def _counting(name):
    """`keras.Model.<name>` counting its calls, which happen only while Keras traces it."""
    original = getattr(keras.Model, name)

    def step(self, data):
        _EpochScores.counts[name] = _EpochScores.counts.get(name, 0) + 1
        return original(self, data)

    return step


@pytest.fixture(scope="module")
def searched(tmp_path_factory, data):
    """One uninterrupted small search (2 steps x 3 neighbours x 2 epochs), shared by tests."""
    x, y, x_val, y_val = data
    directory = tmp_path_factory.mktemp("nash")
    keras.utils.set_random_seed(0)
    tuner = nash_run.tuner(str(directory), overwrite=True)
    _EpochScores.runs.clear()
    _EpochScores.traces.clear()
    with pytest.MonkeyPatch.context() as patch:
        for name in ("train_step", "test_step"):
            patch.setattr(keras.Model, name, _counting(name))
        tuner.search(x, y, validation_data=(x_val, y_val), batch_size=32, verbose=0,
                     callbacks=[_EpochScores()])
    return tuner, directory


def test_small_search_completes_with_the_expected_trials(searched):
    tuner, _ = searched
    trials = tuner.oracle.trials
    roles = [trials[t].hyperparameters.values["nash/role"] for t in sorted(trials)]
    assert roles == ["seed", "child", "child", "incumbent", "child", "child", "incumbent", "final"]
    assert all(t.status == "COMPLETED" for t in trials.values())
    # Each child is its parent with the recorded morphisms applied.
    from keras_nash import morphisms

    for t in trials.values():
        values = t.hyperparameters.values
        if values["nash/role"] == "child":
            parent = tuner.oracle.architecture(values["nash/parent"])
            assert morphisms.apply(parent, json.loads(values["nash/morphs"])).to_json() == values["nash/arch"]
            assert len(json.loads(values["nash/morphs"])) == 2


def test_every_child_preserves_its_parents_function(searched):
    tuner, _ = searched
    errors = [t.metrics.get_last_value("preservation_error") for t in tuner.oracle.trials.values() if t.hyperparameters.values["nash/parent"]]
    assert len(errors) == 7 and max(errors) <= 1e-4


def test_scores_are_end_of_cycle_and_the_incumbent_is_the_best_fresh_neighbour(searched, data):
    tuner, _ = searched
    oracle = tuner.oracle
    trials = [oracle.trials[t] for t in sorted(oracle.trials)]
    assert [len(run) for run in _EpochScores.runs] == [1, 2, 2, 2, 2, 2, 2, 1]
    for trial, run in zip(trials, _EpochScores.runs):
        assert trial.score == pytest.approx(run[-1])  # its last epoch, not its best
    assert len(oracle.history) == 4  # pre-training, 2 steps, final
    for record in oracle.history[1:3]:
        fresh = {t: r["score"] for t, r in record["trials"].items() if r["status"] == "COMPLETED"}
        assert record["incumbent"] == max(fresh, key=fresh.get)  # the old score is no candidate
    # The checkpoint a child leaves (and the next step inherits) is its end-of-cycle network.
    _, _, x_val, y_val = data
    child = next(t for t in oracle.trials.values() if t.hyperparameters.values["nash/role"] == "child")
    model = tuner.load_model(child)
    accuracy = np.mean(np.argmax(model.predict(x_val, verbose=0), axis=-1) == y_val)
    assert accuracy == pytest.approx(child.score, abs=1e-6)


def test_each_child_traces_its_steps_once_and_no_epoch_retraces(searched):
    """A child is a new network, so Keras traces its train and test steps once (XLA: one
    compile each, the batch shape being fixed); its later epochs reuse them."""
    assert [len(run) for run in _EpochScores.traces] == [1, 2, 2, 2, 2, 2, 2, 1]
    for run in _EpochScores.traces:
        assert run == [(1, 1)] * len(run)


def test_a_trial_reports_the_end_of_its_cycle_not_its_best_epoch(monkeypatch, tmp_path):
    history = keras.callbacks.History()
    history.history = {"val_accuracy": [0.9, 0.4], "loss": [1.0, 0.5]}
    monkeypatch.setattr(keras_tuner.Tuner, "run_trial", lambda self, trial, *a, **k: [history])
    tuner = nash_run.tuner(str(tmp_path), overwrite=True)
    assert tuner.run_trial(None) == [{"val_accuracy": 0.4, "loss": 0.5}]


def test_same_seed_gives_the_same_architectures(searched, tmp_path, data):
    tuner, _ = searched
    x, y, x_val, y_val = data
    keras.utils.set_random_seed(0)
    again = nash_run.tuner(str(tmp_path), overwrite=True)
    again.search(x, y, validation_data=(x_val, y_val), batch_size=32, verbose=0)
    assert _archs(again) == _archs(tuner)


def test_best_models_summary_and_snapshot_ensemble(searched, data, capsys):
    tuner, _ = searched
    _, _, x_val, _ = data
    best = tuner.get_best_models(1)[0]
    assert best.predict(x_val[:4], verbose=0).shape == (4, 10)
    # The search's result is the final network, whatever an earlier trial scored.
    first = tuner.oracle.get_best_trials(2)[0]
    assert first.trial_id == tuner.oracle.incumbent and first.hyperparameters.values["nash/role"] == "final"
    assert tuner.get_best_hyperparameters(1)[0].values["nash/arch"]
    tuner.results_summary(3)
    assert "Score:" in capsys.readouterr().out
    ensemble = tuner.snapshot_ensemble()
    probabilities = ensemble.predict(x_val[:8], verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert len(tuner.step_best_trials()) >= 2


def test_exported_best_model_predicts_the_same(searched, data, tmp_path):
    from keras_nash import export

    tuner, _ = searched
    _, _, x_val, _ = data
    best = tuner.get_best_models(1)[0]
    # TFLite is converted in tests/test_export.py only (slow); here .keras and SavedModel.
    paths = export.export(best, tmp_path / "exported", architecture=tuner.get_best_architectures(1)[0],
                          formats=("keras", "saved_model", "json"))
    expected = best.predict(x_val[:16], verbose=0)
    reloaded = keras.saving.load_model(paths["keras"])
    np.testing.assert_allclose(reloaded.predict(x_val[:16], verbose=0), expected, atol=1e-5)
    import tensorflow as tf

    saved_model = tf.saved_model.load(paths["saved_model"])  # keep a reference: its variables must outlive .serve
    served = saved_model.serve(x_val[:16])
    np.testing.assert_allclose(np.asarray(served), expected, atol=1e-5)
    assert graph.Architecture.from_json(pathlib.Path(paths["json"]).read_text()).count_params() == best.count_params()


def test_resume_after_sigkill_keeps_trials_and_ends_the_same(searched, tmp_path):
    tuner, _ = searched
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "tests.scripts.nash_run", str(tmp_path), "--overwrite", "--slow"], cwd=ROOT, env=env)
    project = tmp_path / "nash"
    deadline = time.time() + 240
    while time.time() < deadline and len(list(project.glob("trial_*/checkpoint.weights.h5"))) < 3:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    completed_before = {p.parent.name for p in project.glob("trial_*/checkpoint.weights.h5")}
    assert 3 <= len(completed_before) < 8, "the search must be killed in the middle"
    subprocess.run([sys.executable, "-m", "tests.scripts.nash_run", str(tmp_path)], cwd=ROOT, env=env, check=True, timeout=600)
    resumed = nash_run.tuner(str(tmp_path), overwrite=False)
    assert _archs(resumed) == _archs(tuner)
    assert all(t.status == "COMPLETED" for t in resumed.oracle.trials.values())
    # Each trial's end-of-cycle loss and score, as the uninterrupted search's (two processes).
    for name in ("loss", "val_accuracy"):
        np.testing.assert_allclose(_last_values(resumed, name), _last_values(tuner, name), rtol=1e-5, atol=1e-6)
    assert completed_before <= {p.parent.name for p in project.glob("trial_*/checkpoint.weights.h5")}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_steps": 0}, "`n_steps` must be an int >= 1. Received: n_steps=0"),
        ({"n_neighbors": 0}, "`n_neighbors` must be an int >= 1. Received: n_neighbors=0"),
        ({"n_morphisms": 0}, "`n_morphisms` must be an int >= 1"),
        ({"lr_start": 0.0}, "`lr_start` must be > 0"),
        ({"widening_factors": (1,)}, "`widening_factors` must be ints >= 2"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, message, tmp_path):
    seed = seed_models.simple_cnn((16, 16, 3), 10, filters=(4, 8, 16))
    with pytest.raises(ValueError, match=message):
        NashTuner(seed, directory=str(tmp_path), **kwargs)


def test_unsupported_seed_model_is_named(tmp_path):
    inputs = keras.Input((16, 16, 3))
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(keras.layers.LayerNormalization(name="norm")(inputs)))
    with pytest.raises(ValueError, match="'norm' \\(LayerNormalization\\)"):
        NashTuner(keras.Model(inputs, outputs), directory=str(tmp_path))
    with pytest.raises(ValueError, match="`seed_model` must be a Keras functional model or an Architecture"):
        NashTuner(42, directory=str(tmp_path))


@pytest.mark.parametrize(
    "case, message",
    [
        ("shape", "inputs of shape \\(8, 8, 3\\), but the seed network expects \\(16, 16, 3\\)"),
        ("labels", "labels in \\[1, 12\\].*labels must be in \\[0, 9\\]"),
        ("empty", "The training data is empty"),
        ("empty_dataset", "The validation_data is empty"),
        ("no_validation", "needs `validation_data`"),
    ],
)
def test_bad_data_fails_before_any_training(case, message, tmp_path, data):
    import tensorflow as tf

    x, y, x_val, y_val = data
    args, kwargs = (x, y), {"validation_data": (x_val, y_val)}
    if case == "shape":
        args = (x[:, :8, :8], y)
    elif case == "labels":
        args = (x, np.where(y == 0, 12, y))
    elif case == "empty":
        args = (x[:0], y[:0])
    elif case == "empty_dataset":
        kwargs = {"validation_data": tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(8).take(0)}
    else:
        kwargs = {}
    tuner = nash_run.tuner(str(tmp_path), overwrite=True)
    with pytest.raises(ValueError, match=message):
        tuner.search(*args, **kwargs)
    assert not list((tmp_path / "nash").glob("trial_*"))
