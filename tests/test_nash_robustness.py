"""Tests for NASH under stress: failed (NaN) children, memory over 30 trials, distributed
workers, the time budget, and the random-network baseline. The long ones (memory,
distributed) are marked `long`; CI runs them all the same."""

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_nash import seed_models
from keras_nash.tuners.nash.tuner import NashTuner
from tests.scripts import nash_run

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data():
    return nash_run.data()


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
        poisoned = [
            t
            for t in sorted(self.oracle.trials)
            if self.oracle.trials[t].hyperparameters.values["nash/role"] == "child"
        ]
        if values["nash/role"] == "child" and (
            values["nash/step"] == 1
            or trial.trial_id
            == [
                t
                for t in poisoned
                if self.oracle.trials[t].hyperparameters.values["nash/step"] == 2
            ][0]
        ):
            kwargs["callbacks"] = list(kwargs.get("callbacks", [])) + [_PoisonWeights()]
        return super()._build_and_fit_model(trial, *args, **kwargs)


def test_nan_children_fail_and_the_search_goes_on(tmp_path, data):
    x, y, x_val, y_val = data
    seed = seed_models.simple_cnn((16, 16, 3), 10, filters=(4, 8, 16))
    tuner = _NaNChildren(seed, directory=str(tmp_path), project_name="nan", **nash_run.SEARCH)
    tuner.search(x, y, validation_data=(x_val, y_val), batch_size=32, verbose=0)
    trials = tuner.oracle.trials
    status = {
        t: (
            trials[t].hyperparameters.values["nash/step"],
            trials[t].hyperparameters.values["nash/role"],
            trials[t].status,
        )
        for t in sorted(trials)
    }
    assert [s for s in status.values() if s[0] == 1 and s[1] == "child"] == [
        (1, "child", "FAILED")
    ] * 2
    assert sorted(s[2] for s in status.values() if s[0] == 2 and s[1] == "child") == [
        "COMPLETED",
        "FAILED",
    ]
    history = tuner.oracle.history
    assert history[1]["incumbent"] in (
        history[0]["incumbent"],
        [t for t, s in status.items() if s[:2] == (1, "incumbent")][0],
    )
    assert status[max(status)][1:] == ("final", "COMPLETED")


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


@pytest.mark.long
def test_memory_stays_bounded_across_14_trials(tmp_path, data):
    x, y, x_val, y_val = data
    seed = seed_models.simple_cnn((16, 16, 3), 10, filters=(4, 8, 8))
    settings = {**nash_run.SEARCH, "n_steps": 3, "n_neighbors": 4, "n_morphisms": 1}
    tuner = _MemoryProbe(seed, directory=str(tmp_path), project_name="memory", **settings)
    tuner.search(x[:64], y[:64], validation_data=(x_val[:32], y_val[:32]), batch_size=32, verbose=0)
    assert len(tuner.rss) == 14
    # Measured: about 11 MB a trial from trial 4 on (with or without gc.collect() or
    # clear_session(free_memory=True) between trials: TensorFlow's side, not Python objects);
    # the bound fails at about twice that.
    assert tuner.rss[-1] - tuner.rss[4] < 200, tuner.rss


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _running_trial_of(project, tuner_id):
    """A trial the oracle gave `tuner_id` that has not completed yet, or None."""
    try:
        tuner_of = json.loads((project / "oracle.json").read_text()).get("nash_tuner_of", {})
    except (OSError, ValueError):
        return None
    for trial_id, owner in tuner_of.items():
        path = project / f"trial_{trial_id}" / "trial.json"
        if (
            owner == tuner_id
            and path.exists()
            and json.loads(path.read_text())["status"] == "RUNNING"
        ):
            return trial_id
    return None


@pytest.mark.long
def test_distributed_chief_and_two_workers_one_killed_mid_trial_and_never_restarted(tmp_path, data):
    port = str(_free_port())
    base = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": port,
    }
    # The chief re-issues a trial whose worker has reported no epoch for 15 s.
    command = [sys.executable, "-m", "tests.scripts.nash_run", str(tmp_path)]
    command.append("--heartbeat_timeout=15")
    project = tmp_path / "nash"
    chief = subprocess.Popen(
        command + ["--overwrite"], cwd=ROOT, env={**base, "KERASTUNER_TUNER_ID": "chief"}
    )
    time.sleep(3)

    def worker(index, *flags):
        # Workers must not overwrite: keras-tuner would delete the chief's project directory.
        return subprocess.Popen(
            command + list(flags), cwd=ROOT, env={**base, "KERASTUNER_TUNER_ID": f"tuner{index}"}
        )

    workers = [worker(0, "--hang"), worker(1)]
    try:
        # Kill worker 0 in the middle of a trial (it hangs at its first epoch's end) and never
        # start it again: the chief gives its trial to worker 1 and the search completes.
        deadline = time.time() + 400
        while not (tmp_path / "hanging").exists():
            assert time.time() < deadline and workers[0].poll() is None, "worker 0 ran no trial"
            time.sleep(0.2)
        killed = _running_trial_of(project, "tuner0")
        assert killed is not None
        workers[0].kill()
        workers[0].wait()
        for process in (workers[1], chief):
            assert process.wait(timeout=600) == 0
    finally:
        for process in workers + [chief]:
            process.kill()
    state = json.loads((project / "oracle.json").read_text())
    tuner_of = state["nash_tuner_of"]
    assert len(tuner_of) == 8 and tuner_of[killed] == "tuner1"
    reissued = state["nash_reissued"]
    assert [(r["trial_id"], r["from"], r["to"]) for r in reissued] == [(killed, "tuner0", "tuner1")]
    assert reissued[0]["silent_s"] > 15
    trials = {
        p.parent.name[len("trial_") :]: json.loads(p.read_text())
        for p in project.glob("trial_*/trial.json")
    }
    assert all(t["status"] == "COMPLETED" for t in trials.values()) and killed in trials
    # The same architectures, trial by trial, as one process searching alone.
    x, y, x_val, y_val = data
    keras.utils.set_random_seed(0)
    alone = nash_run.tuner(str(tmp_path / "alone"), overwrite=True)
    alone.search(x, y, validation_data=(x_val, y_val), batch_size=32, verbose=0)
    expected = {
        t: alone.oracle.trials[t].hyperparameters.values["nash/arch"] for t in alone.oracle.trials
    }
    assert {t: v["hyperparameters"]["values"]["nash/arch"] for t, v in trials.items()} == expected


def test_time_budget_holds_the_whole_search_final_training_included(tmp_path, data):
    x, y, x_val, y_val = data
    budget = 40.0
    # pretrain_epochs=2: the seed's seconds per epoch are measured apart from its one trace;
    # final_share=0.4: 16 s, room for a child's final training with its ~4 s of overhead, but
    # not for 10,000 epochs on any machine (100 fitted once on an idle one).
    tuner = nash_run.tuner(
        str(tmp_path),
        overwrite=True,
        n_steps=50,
        final_epochs=10_000,
        pretrain_epochs=2,
        time_budget=budget,
        final_share=0.4,
    )
    start = time.perf_counter()
    tuner.search(x, y, validation_data=(x_val, y_val), batch_size=32, verbose=0)
    seconds = time.perf_counter() - start
    trials = [tuner.oracle.trials[t] for t in sorted(tuner.oracle.trials)]
    roles = [t.hyperparameters.values["nash/role"] for t in trials]
    # The final training's epochs are planned at the speed measured so far; the other test
    # worker's load moves that speed by a fifth or more (47.6 s seen once), so this allows
    # 1.25x. The 1.05x promise is measured on an idle machine: bench/default_run.py.
    assert seconds <= 1.25 * budget, (seconds, roles)
    assert roles[0] == "seed" and roles[-1] == "final" and "child" in roles
    assert len(roles) < 2 + 50 * 3  # the budget, not n_steps, ended the hill climb
    # The final training got what was left: some epochs, fewer than final_epochs.
    assert 1 <= trials[-1].hyperparameters.values["nash/epochs"] < 10_000
    with pytest.raises(
        ValueError, match="`time_budget` must be > 0 seconds or None. Received: time_budget=0"
    ):
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
    tuner.search(
        x,
        y,
        validation_data=(x_val, y_val),
        batch_size=32,
        verbose=0,
        callbacks=[_SpendBudgetDuringFirstChild(tuner.oracle)],
    )
    trials = [tuner.oracle.trials[t] for t in sorted(tuner.oracle.trials)]
    # No time left for a final training either: the incumbent is the result.
    assert [t.hyperparameters.values["nash/role"] for t in trials] == ["seed", "child"]
    seed, child = trials
    step = tuner.oracle.history[1]
    assert list(step["trials"]) == [child.trial_id]
    # the pre-trained seed stays a candidate: the better of the two (a tie: the child) is kept
    best = seed if seed.score > child.score else child
    assert step["incumbent"] == best.trial_id == tuner.oracle.incumbent
    # The final training (none fitted) is the step after the one that ran, not n_steps + 1.
    assert tuner.oracle.history[-1]["final"] and tuner.oracle.history[-1]["step"] == 2
    assert tuner.get_best_models(1)


def test_no_child_starts_that_would_end_past_the_budget(tmp_path, data, monkeypatch):
    # final_epochs=0: the climb may use the whole hour, so only the measured speed (monkeypatched:
    # 1e6 s an epoch) stops the first child from starting; the pre-trained seed is the result.
    x, y, x_val, y_val = data
    tuner = nash_run.tuner(
        str(tmp_path), overwrite=True, n_steps=5, final_epochs=0, time_budget=3600
    )
    oracle = tuner.oracle
    monkeypatch.setattr(
        oracle, "_speed", lambda trial_id=None: (1e6, 0.0) if oracle.incumbent else None
    )
    tuner.search(x, y, validation_data=(x_val, y_val), batch_size=32, verbose=0)
    assert [t.hyperparameters.values["nash/role"] for t in oracle.trials.values()] == ["seed"]
    assert oracle.incumbent == "0000" and oracle.climb_budget == 3600
    # At a measured speed that fits, children start as usual.
    monkeypatch.setattr(
        oracle, "_speed", lambda trial_id=None: (1e-3, 0.0) if oracle.incumbent else None
    )
    seed = oracle.architecture("0000").to_json()
    assert oracle._fits({"nash/epochs": 2, "nash/parent": "0000", "nash/arch": seed})


def test_final_training_shorter_than_a_childs_cycle_is_skipped(tmp_path, monkeypatch):
    # SEARCH: epochs_per_neighbor=2. 100 s left at 40 s an epoch: 2 fit (0.95 * 100 // 40);
    # at 60 s an epoch 1 would fit, shorter than a child's cycle: none, the incumbent stands.
    oracle = nash_run.tuner(str(tmp_path), overwrite=True, final_epochs=50, time_budget=100).oracle
    oracle._started = time.time()
    for per_epoch, expected in ((40.0, 2), (60.0, 0), (1e-3, 50)):
        monkeypatch.setattr(oracle, "_speed", lambda trial_id=None: (per_epoch, 0.0))
        assert oracle._final_epochs() == expected, per_epoch
