"""A distributed NASH worker that falls silent: its trial is re-issued (tuners/nash/workers.py).

The oracle is driven here as keras-tuner's chief drives it for its workers (`create_trial`,
`update_trial`, `end_trial` by tuner id), in one process; tests/test_nash_robustness.py kills a
real worker process.
"""

import copy
import time

import pytest

from keras_nash.graph import Architecture
from keras_nash.internals import TrialStatus
from keras_nash.seed_models import simple_cnn
from keras_nash.tuners import NashOracle
from keras_nash.tuners.nash import workers


def _oracle(tmp_path, **kwargs):
    seed = Architecture.from_model(simple_cnn((8, 8, 3), 3, filters=(4, 4, 4)))
    oracle = NashOracle(seed, n_steps=1, n_neighbors=2, seed=1, **kwargs)
    oracle._set_project_dir(str(tmp_path), "nash")
    return oracle


def _complete(oracle, trial, accuracy=0.5):
    oracle.update_trial(trial.trial_id, {"val_accuracy": accuracy})
    trial.status = TrialStatus.COMPLETED
    oracle.end_trial(trial)


def test_a_silent_workers_trial_goes_to_the_next_worker_that_asks(tmp_path):
    oracle = _oracle(tmp_path, heartbeat_timeout=0.2)
    pretraining = oracle.create_trial("tuner0")
    assert pretraining.status == TrialStatus.RUNNING
    # tuner1 waits for the pre-training while tuner0 reports epochs.
    assert oracle.create_trial("tuner1").status == TrialStatus.IDLE
    time.sleep(0.15)
    oracle.update_trial(pretraining.trial_id, {}, step=0)  # an epoch ended: alive
    time.sleep(0.15)
    assert oracle.create_trial("tuner1").status == TrialStatus.IDLE
    # tuner0 falls silent: after the timeout, tuner1 gets its trial, history kept.
    time.sleep(0.25)
    taken = oracle.create_trial("tuner1")
    assert taken.trial_id == pretraining.trial_id and taken.status == TrialStatus.RUNNING
    assert oracle.tuner_of(taken.trial_id) == "tuner1"
    assert "tuner0" not in oracle.tuner_ids  # keras-tuner's chief no longer waits for it
    assert [(r["trial_id"], r["from"], r["to"]) for r in oracle.get_state()["nash_reissued"]] == [
        (pretraining.trial_id, "tuner0", "tuner1")
    ]
    _complete(oracle, taken, 0.6)
    # The slow worker's late epoch learns the trial has ended; its late end is ignored.
    assert oracle.update_trial(pretraining.trial_id, {}, step=1).status == TrialStatus.COMPLETED
    late = copy.deepcopy(oracle.trials[pretraining.trial_id])  # as the worker sends it
    late.status = TrialStatus.FAILED
    oracle.end_trial(late)
    assert oracle.trials[pretraining.trial_id].status == TrialStatus.COMPLETED
    assert oracle.trials[pretraining.trial_id].score == pytest.approx(0.6)
    # The search goes on: the step's children go to the workers that ask.
    assert oracle.create_trial("tuner1").status == TrialStatus.RUNNING


def test_a_worker_that_comes_back_in_time_gets_its_own_trial(tmp_path):
    oracle = _oracle(tmp_path, heartbeat_timeout=60)
    first = oracle.create_trial("tuner0")
    assert oracle.create_trial("tuner1").status == TrialStatus.IDLE
    assert oracle.create_trial("tuner0").trial_id == first.trial_id  # keras-tuner's restart
    assert oracle.get_state()["nash_reissued"] == []


def test_the_default_timeout_follows_the_trials_expected_time(tmp_path):
    oracle = _oracle(tmp_path)
    first = oracle.create_trial("tuner0")
    assert workers.timeout(oracle, first) == workers.UNMEASURED_TIMEOUT  # nothing measured
    with pytest.raises(ValueError, match="heartbeat_timeout"):
        _oracle(tmp_path, heartbeat_timeout=0)


def test_a_resume_may_change_the_heartbeat_timeout(tmp_path):
    # How the workers run, not what is searched: not part of the search's identity.
    from keras_nash.tuners import NashTuner

    seed = simple_cnn((8, 8, 3), 3, filters=(4, 4, 4))
    settings = [
        NashTuner(
            seed, heartbeat_timeout=t, directory=str(tmp_path), project_name=f"p{i}", seed=1
        ).identity_settings()
        for i, t in enumerate((None, 30.0))
    ]
    assert settings[0] == settings[1]


def test_a_worker_dead_between_trials_is_not_waited_for_once_the_search_ends(tmp_path):
    oracle = _oracle(tmp_path, heartbeat_timeout=1.0, final_epochs=0)
    trial = oracle.create_trial("tuner0")
    assert oracle.create_trial("tuner1").status == TrialStatus.IDLE  # tuner1 then dies
    _complete(oracle, trial)
    while (trial := oracle.create_trial("tuner0")).status == TrialStatus.RUNNING:
        _complete(oracle, trial)
    assert trial.status == TrialStatus.STOPPED and oracle.ongoing_trials == {}
    assert oracle.tuner_ids == {"tuner1"}  # keras-tuner's chief waits for it ...
    time.sleep(1.05)
    assert oracle.tuner_ids == set()  # ... until it has been silent for the timeout
    # A live worker that asks again is stopped as keras-tuner stops it.
    assert oracle.create_trial("tuner1").status == TrialStatus.STOPPED
