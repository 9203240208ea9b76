"""Tests for the NASH oracle and tuner: a small search end to end, its guarantees, resume,
failed children, bad input, memory, and distributed workers."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_nash import graph, seed_models
from keras_nash.tuners.nash import NashTuner
from tests import nash_run

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _archs(tuner):
    trials = tuner.oracle.trials
    return [trials[t].hyperparameters.values["nash/arch"] for t in sorted(trials)]


@pytest.fixture(scope="module")
def data():
    return nash_run.data()


@pytest.fixture(scope="module")
def searched(tmp_path_factory, data):
    """One uninterrupted small search (2 steps x 3 neighbours x 1 epoch), shared by tests."""
    x, y, x_val, y_val = data
    directory = tmp_path_factory.mktemp("nash")
    keras.utils.set_random_seed(0)
    tuner = nash_run.tuner(str(directory), overwrite=True)
    tuner.search(x, y, validation_data=(x_val, y_val), batch_size=32, verbose=0)
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


def test_incumbent_never_gets_worse(searched):
    tuner, _ = searched
    scores = [record["incumbent_score"] for record in tuner.oracle.history]
    assert len(scores) == 4  # pre-training, 2 steps, final
    assert all(b >= a for a, b in zip(scores[:3], scores[1:3]))


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
    paths = export.export(best, tmp_path / "exported", architecture=tuner.get_best_architectures(1)[0])
    expected = best.predict(x_val[:16], verbose=0)
    reloaded = keras.saving.load_model(paths["keras"])
    np.testing.assert_allclose(reloaded.predict(x_val[:16], verbose=0), expected, atol=1e-5)
    import tensorflow as tf

    saved_model = tf.saved_model.load(paths["saved_model"])  # keep a reference: its variables must outlive .serve
    served = saved_model.serve(x_val[:16])
    np.testing.assert_allclose(np.asarray(served), expected, atol=1e-5)
    interpreter = tf.lite.Interpreter(model_path=paths["tflite"])
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], x_val[:16].shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x_val[:16])
    interpreter.invoke()
    np.testing.assert_allclose(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), expected, atol=1e-3)
    assert graph.Architecture.from_json(pathlib.Path(paths["json"]).read_text()).count_params() == best.count_params()


def test_resume_after_sigkill_keeps_trials_and_ends_the_same(searched, tmp_path):
    tuner, _ = searched
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "tests.nash_run", str(tmp_path), "--overwrite", "--slow"], cwd=ROOT, env=env)
    project = tmp_path / "nash"
    deadline = time.time() + 240
    while time.time() < deadline and len(list(project.glob("trial_*/checkpoint.weights.h5"))) < 3:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    completed_before = {p.parent.name for p in project.glob("trial_*/checkpoint.weights.h5")}
    assert 3 <= len(completed_before) < 8, "the search must be killed in the middle"
    subprocess.run([sys.executable, "-m", "tests.nash_run", str(tmp_path)], cwd=ROOT, env=env, check=True, timeout=600)
    resumed = nash_run.tuner(str(tmp_path), overwrite=False)
    assert _archs(resumed) == _archs(tuner)
    assert all(t.status == "COMPLETED" for t in resumed.oracle.trials.values())
    assert completed_before <= {p.parent.name for p in project.glob("trial_*/checkpoint.weights.h5")}


class _PoisonWeights(keras.callbacks.Callback):
    """Turns the first conv kernel into NaN on the second batch: the loss becomes NaN."""

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 1:
            layer = self.model.get_layer("conv_1")
            layer.kernel.assign(np.full(layer.kernel.shape, np.nan, "float32"))


class _NaNChildren(NashTuner):
    """Children of step 1 all diverge; in step 2 only the first child does."""

    def _build_and_fit_model(self, trial, *args, **kwargs):
        values = trial.hyperparameters.values
        poisoned = [t for t in sorted(self.oracle.trials) if self.oracle.trials[t].hyperparameters.values["nash/role"] == "child"]
        if values["nash/role"] == "child" and (values["nash/step"] == 1 or trial.trial_id == [t for t in poisoned if self.oracle.trials[t].hyperparameters.values["nash/step"] == 2][0]):
            kwargs["callbacks"] = list(kwargs.get("callbacks", [])) + [_PoisonWeights()]
        return super()._build_and_fit_model(trial, *args, **kwargs)


def test_nan_children_fail_and_the_search_goes_on(tmp_path, data):
    x, y, x_val, y_val = data
    seed = seed_models.simple_cnn((16, 16, 3), 10, filters=(4, 8, 16))
    tuner = _NaNChildren(seed, directory=str(tmp_path), project_name="nan", **nash_run.SEARCH)
    tuner.search(x, y, validation_data=(x_val, y_val), batch_size=32, verbose=0)
    trials = tuner.oracle.trials
    status = {t: (trials[t].hyperparameters.values["nash/step"], trials[t].hyperparameters.values["nash/role"], trials[t].status) for t in sorted(trials)}
    assert [s for s in status.values() if s[0] == 1 and s[1] == "child"] == [(1, "child", "FAILED")] * 2
    assert sorted(s[2] for s in status.values() if s[0] == 2 and s[1] == "child") == ["COMPLETED", "FAILED"]
    history = tuner.oracle.history
    assert history[1]["incumbent"] in (history[0]["incumbent"], [t for t, s in status.items() if s[:2] == (1, "incumbent")][0])
    assert status[max(status)][1:] == ("final", "COMPLETED")


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


def test_random_network_baseline_applies_morphisms_without_selection(tmp_path, data):
    x, y, x_val, y_val = data
    tuner = nash_run.tuner(str(tmp_path), overwrite=True, n_neighbors=1, n_steps=2, final_epochs=0)
    tuner.search(x, y, validation_data=(x_val, y_val), batch_size=32, verbose=0)
    trials = tuner.oracle.trials
    roles = [trials[t].hyperparameters.values["nash/role"] for t in sorted(trials)]
    assert roles == ["seed", "child", "child"]
    # Every child is kept, whatever its score: the second child's parent is the first child.
    assert trials["0002"].hyperparameters.values["nash/parent"] == "0001"
    assert tuner.oracle.incumbent == "0002"


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class _MemoryProbe(NashTuner):
    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.rss = getattr(self, "rss", []) + [_rss_mb()]


def test_memory_does_not_grow_across_30_trials(tmp_path, data):
    x, y, x_val, y_val = data
    seed = seed_models.simple_cnn((16, 16, 3), 10, filters=(4, 8, 8))
    settings = {**nash_run.SEARCH, "n_steps": 7, "n_neighbors": 4, "n_morphisms": 1}
    tuner = _MemoryProbe(seed, directory=str(tmp_path), project_name="memory", **settings)
    tuner.search(x[:64], y[:64], validation_data=(x_val[:32], y_val[:32]), batch_size=32, verbose=0)
    assert len(tuner.rss) == 30
    assert tuner.rss[-1] - tuner.rss[4] < 300, tuner.rss


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_distributed_chief_and_two_workers(tmp_path):
    port = str(_free_port())
    base = {**os.environ, "PYTHONPATH": str(ROOT), "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": port}
    command = [sys.executable, "-m", "tests.nash_run", str(tmp_path)]
    chief = subprocess.Popen(command + ["--overwrite"], cwd=ROOT, env={**base, "KERASTUNER_TUNER_ID": "chief"})
    time.sleep(3)
    # Workers must not overwrite: keras-tuner would delete the chief's project directory.
    workers = [subprocess.Popen(command, cwd=ROOT, env={**base, "KERASTUNER_TUNER_ID": f"tuner{i}"}) for i in range(2)]
    try:
        for process in workers + [chief]:
            assert process.wait(timeout=600) == 0
    finally:
        for process in workers + [chief]:
            process.kill()
    state = json.loads((tmp_path / "nash" / "oracle.json").read_text())
    tuner_of = state["nash_tuner_of"]
    assert set(tuner_of.values()) == {"tuner0", "tuner1"} and len(tuner_of) == 8
    trials = {p.parent.name[len("trial_"):]: json.loads(p.read_text()) for p in (tmp_path / "nash").glob("trial_*/trial.json")}
    assert all(t["status"] == "COMPLETED" for t in trials.values())
    children = [t for t, v in trials.items() if v["hyperparameters"]["values"]["nash/role"] == "child"]
    assert any(tuner_of[c] != tuner_of[trials[c]["hyperparameters"]["values"]["nash/parent"]] for c in children)


def test_time_budget_ends_hill_climbing_early(tmp_path, data):
    x, y, x_val, y_val = data
    tuner = nash_run.tuner(str(tmp_path), overwrite=True, n_steps=50, time_budget=1e-3)
    tuner.search(x, y, validation_data=(x_val, y_val), batch_size=32, verbose=0)
    roles = [tuner.oracle.trials[t].hyperparameters.values["nash/role"] for t in sorted(tuner.oracle.trials)]
    assert roles == ["seed", "final"]
    with pytest.raises(ValueError, match="`time_budget` must be > 0 seconds or None. Received: time_budget=0"):
        nash_run.tuner(str(tmp_path), overwrite=True, time_budget=0)


class _SpendBudgetDuringFirstChild(keras.callbacks.Callback):
    def __init__(self, oracle):
        super().__init__()
        # keras-tuner deep-copies callbacks per trial; a function is copied by reference, so
        # it reaches the tuner's own oracle.
        def spend_during_first_child():
            if len(oracle.trials) == 2:  # the seed and the first child
                oracle.time_budget = 1e-3

        self.spend = spend_during_first_child

    def on_train_end(self, logs=None):
        self.spend()


def test_time_budget_spent_mid_step_starts_no_further_child(tmp_path, data):
    x, y, x_val, y_val = data
    tuner = nash_run.tuner(str(tmp_path), overwrite=True, n_steps=50)
    tuner.search(x, y, validation_data=(x_val, y_val), batch_size=32, verbose=0,
                 callbacks=[_SpendBudgetDuringFirstChild(tuner.oracle)])
    trials = [tuner.oracle.trials[t] for t in sorted(tuner.oracle.trials)]
    assert [t.hyperparameters.values["nash/role"] for t in trials] == ["seed", "child", "final"]
    seed, child, final = trials
    step = tuner.oracle.history[1]
    assert list(step["trials"]) == [child.trial_id]
    # the pre-trained seed stays a candidate: the better of the two (a tie: the child) is final
    best = seed if seed.score > child.score else child
    assert step["incumbent"] == best.trial_id
    assert final.hyperparameters.values["nash/arch"] == best.hyperparameters.values["nash/arch"]
