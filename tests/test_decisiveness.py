"""Tests for keras_nash.tuners.supernet.decisiveness and its records in the supernet searches."""

import logging

import numpy as np
import pytest

from keras_nash.spaces.enas import MacroSpace
from keras_nash.tuners.darts.oracle import DartsOracle
from keras_nash.tuners.darts.tuner import DartsTuner
from keras_nash.tuners.enas.controller import Controller
from keras_nash.tuners.enas.tuner import EnasTuner
from keras_nash.tuners.supernet import decisiveness

CHEAP_MACRO = ("conv_3x3", "max_pool_3x3", "avg_pool_3x3")  # quick to trace

PRIMITIVES = ["none", "max_pool_3x3", "skip_connect", "sep_conv_3x3"]
DARTS = dict(
    num_classes=3,
    epochs=2,
    final_epochs=1,
    cells=3,
    channels=4,
    steps=2,
    multiplier=2,
    primitives=PRIMITIVES,
    final_cells=3,
    final_channels=4,
    batch_size=8,
    seed=1,
)


def _arrays(seed=0, n=32, size=8):
    rng = np.random.default_rng(seed)
    x = rng.random((n, size, size, 3)).astype("float32")
    y = rng.integers(0, 3, n)
    return (x[: n // 2], y[: n // 2]), (x[n // 2 :], y[n // 2 :])


def test_alpha_measures():
    uniform = decisiveness.alpha_decisiveness(np.zeros((5, 4)), np.zeros((5, 4)))
    assert uniform["entropy_ratio"] == pytest.approx(1.0)
    assert uniform["chosen_probability"] == pytest.approx(0.25)
    decided = np.full((5, 4), -20.0)
    decided[:, 0] = 20.0  # "none" certain
    decided[:, 2] = 10.0
    record = decisiveness.alpha_decisiveness(decided, decided, PRIMITIVES)
    assert record["entropy_ratio"] < 0.01
    assert record["choice"] == [2] * 10  # the strongest op other than "none", as the genotype
    assert record["chosen_probability"] < 1e-3
    assert decisiveness.alpha_decisiveness(decided, decided)["choice"] == [0] * 10


def test_stability():
    assert decisiveness.stability([[1, 2, 3]]) is None
    assert decisiveness.stability([[1, 2, 3], [1, 2, 0], [1, 5, 0]]) == pytest.approx(1 / 3)
    assert decisiveness.stability([[1, 2], [1, 2]]) == 1.0


@pytest.mark.parametrize("space, layers", [("macro", 4), ("micro", 3)])
def test_controller_uniform_entropy_is_a_uniform_controllers(space, layers):
    # All weights 0: every logit 0, every decision uniform (micro without operation names: no
    # op bias), so the sampled entropy is the formula's.
    controller = Controller(space, num_layers=layers, num_ops=5, init_range=0.0)
    record = decisiveness.controller_decisiveness(controller, num=8, seed=3)
    assert record["entropy_ratio"] == pytest.approx(1.0, abs=1e-5)
    assert record["chosen_probability"] == pytest.approx(record["uniform_probability"], rel=1e-4)
    assert len(record["choice"]) == controller.num_decisions


def test_the_entropy_floor_is_the_most_decided_policy_the_logit_bounds_allow():
    # One binary decision with logits in [-b, b]: at best p = sigmoid(2b).
    p = 1 / (1 + np.exp(-2 * 1.5))
    binary = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    assert decisiveness._least_entropy(1.5, np.zeros(2)) == pytest.approx(binary)
    assert decisiveness._least_entropy(None, np.zeros(5)) == 0.0
    # The authors' micro bounds (1.1, operations 1.1 / 2.5) keep the most decided policy near
    # 0.8 of uniform; macro's 1.5 near 0.37; no bound, 0.
    micro = Controller("micro", num_layers=2, num_ops=5, tanh_constant=1.1, op_tanh_reduce=2.5)
    macro = Controller("macro", num_layers=6, num_ops=6, tanh_constant=1.5)
    free = Controller("macro", num_layers=6, num_ops=6, tanh_constant=0.0)
    floors = [decisiveness.controller_entropy_floor(c) for c in (micro, macro, free)]
    assert 0.75 < floors[0] < 0.85 and 0.3 < floors[1] < 0.45 and floors[2] == 0.0
    # Even a controller with saturated logits stays at or above its floor.
    record = decisiveness.controller_decisiveness(micro, num=16)
    assert record["entropy_floor"] == pytest.approx(floors[0])
    for variable in micro.variables:
        variable.assign(np.sign(np.asarray(variable)) * 50.0 + 1e-3)
    saturated = decisiveness.controller_decisiveness(micro, num=16)
    assert floors[0] - 1e-6 <= saturated["entropy_ratio"] < record["entropy_ratio"]


def _darts_search(tmp_path, arch_learning_rate):
    (x, y), validation = _arrays()
    tuner = DartsTuner(
        **DARTS,
        arch_learning_rate=arch_learning_rate,
        directory=str(tmp_path),
        project_name=f"lr{arch_learning_rate}",
        overwrite=True,
        max_trials=2,  # the search epochs: the warning comes at the last one's end
    )
    tuner.search(x, y, validation_data=validation, batch_size=4, verbose=0)
    return tuner


def test_a_search_that_did_not_move_warns(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="keras_nash"):
        tuner = _darts_search(tmp_path, 1e-7)
    records = tuner.decisiveness()
    assert [r["epoch"] for r in records] == [0, 1]
    assert records[-1]["entropy_ratio"] > 0.999
    assert records[0]["stability"] is None and records[1]["stability"] == 1.0
    assert {"chosen_probability", "uniform_probability"} <= set(records[0])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("close to a random draw" in m and "arch_learning_rate" in m for m in warnings)
    logged = [r.getMessage() for r in caplog.records if "policy | entropy" in r.getMessage()]
    assert len(logged) == 2
    # Kept in the oracle's state: a resumed search has them.
    oracle = DartsOracle(epochs=2, search_space=tuner.oracle.space, seed=1)
    oracle.set_state(tuner.oracle.get_state())
    assert oracle.decisiveness_records() == records


def test_a_search_that_moved_does_not_warn(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="keras_nash"):
        tuner = _darts_search(tmp_path, 0.5)
    assert tuner.decisiveness()[-1]["entropy_ratio"] < 0.9
    assert not [r for r in caplog.records if "close to a random draw" in r.getMessage()]


def test_enas_records_its_controller(tmp_path):
    (x, y), validation = _arrays(size=8)
    tuner = EnasTuner(
        MacroSpace(num_layers=3, filters=4, operations=CHEAP_MACRO),
        num_classes=3,
        epochs=2,
        final_epochs=1,
        controller_train_steps=2,
        controller_num_aggregate=2,
        final_candidates=2,
        batch_size=8,
        seed=1,
        directory=str(tmp_path),
        project_name="enas",
        overwrite=True,
        max_trials=2,  # the search epochs, no final training
    )
    tuner.search(x, y, validation_data=validation, verbose=0)
    records = tuner.decisiveness()
    assert [r["epoch"] for r in records] == [0, 1]
    for record in records:
        assert record["entropy_floor"] < record["entropy_ratio"] <= 1.0
        assert record["chosen_probability"] >= record["uniform_probability"] * 0.5
    # Before any final training, the found architecture is the best final candidate.
    assert tuner.get_best_architecture().to_json() == tuner.oracle.best_arch
    # The last epoch compares the final candidates with as many uniform architectures, on the
    # same shared weights and validation data.
    assert "policy_advantage" not in records[0]
    last = tuner.oracle.read_result(tuner.oracle.history[-1]["trial_id"])
    assert len(last["uniform_rewards"]) == len(last["candidate_rewards"]) == 2
    expected = decisiveness.policy_advantage(last["candidate_rewards"], last["uniform_rewards"])
    assert records[-1]["policy_advantage"] == pytest.approx(expected["policy_advantage"])
    assert records[-1]["policy_advantage_se"] == pytest.approx(expected["policy_advantage_se"])


def test_a_measured_policy_advantage_decides_the_warning():
    record = dict(entropy_ratio=0.999)
    assert decisiveness.is_undecided([record])
    # Samples clearly better than uniform ones: decided, whatever the entropy says (the authors'
    # micro controller's entropy rises as it undoes its separable-convolution start) ...
    assert not decisiveness.is_undecided(
        [{**record, "policy_advantage": 0.05, "policy_advantage_se": 0.01}]
    )
    # ... and a low entropy whose samples are no better than uniform ones is a random draw.
    low = dict(entropy_ratio=0.5, policy_advantage=0.015, policy_advantage_se=0.01)
    assert decisiveness.is_undecided([low])
    assert not decisiveness.is_undecided([])
    assert "+0.0150 ± 0.0100 against uniform" in decisiveness.describe(
        {**low, "chosen_probability": 0.3, "uniform_probability": 0.25}
    )
    same = decisiveness.policy_advantage([0.2, 0.4], [0.3, 0.3])
    assert same["policy_advantage"] == pytest.approx(0.0)
    assert same["policy_advantage_se"] == pytest.approx(0.1)
