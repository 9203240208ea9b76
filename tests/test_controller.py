"""The ENAS controller: valid seeded samples, log-probabilities, REINFORCE, bad input."""

import numpy as np
import pytest

from keras_nash.tuners.controller import Controller
from keras_nash.spaces.enas import MacroSpace, MicroSpace

MACRO = MacroSpace(num_layers=4, filters=4)
MICRO = MicroSpace(num_cells=3, num_blocks=3, filters=4)


@pytest.fixture(scope="module")
def controllers():
    return {
        "macro": Controller.for_space(MACRO, lstm_size=16),
        "micro": Controller.for_space(MICRO, lstm_size=16),
    }


@pytest.mark.parametrize("space", [MACRO, MICRO], ids=["macro", "micro"])
def test_samples_are_valid_and_seeded(controllers, space):
    controller = controllers[space.name]
    decisions, log_probs, entropies = controller.sample(64, seed=3)
    assert decisions.shape == (64, space.num_decisions) and decisions.dtype == np.int32
    for vector in decisions:
        arch = space.validate(space.decode(vector))  # raises if invalid
        np.testing.assert_array_equal(space.encode(arch), vector)
    assert np.all(log_probs < 0) and np.all(entropies > 0)
    again = controller.sample(64, seed=3)[0]
    np.testing.assert_array_equal(decisions, again)
    assert not np.array_equal(decisions, controller.sample(64, seed=4)[0])


@pytest.mark.parametrize("space", [MACRO, MICRO], ids=["macro", "micro"])
def test_log_probs_match_recomputation(controllers, space):
    controller = controllers[space.name]
    decisions, log_probs, entropies = controller.sample(32, seed=11)
    recomputed, recomputed_entropies, penalties = controller.log_prob(decisions)
    np.testing.assert_allclose(recomputed, log_probs, atol=1e-5)
    np.testing.assert_allclose(recomputed_entropies, entropies, atol=1e-5)
    assert penalties.shape == (32,)
    # Other decisions have other log-probabilities.
    other = controller.sample(32, seed=12)[0]
    assert not np.allclose(controller.log_prob(other)[0], log_probs)


def test_reinforce_learns_a_toy_reward():
    # Reward: the fraction of layers choosing operation 2. The default tanh bound (1.5) caps an
    # operation's probability at about 0.80 over 6 choices, so this test lifts it.
    controller = Controller("macro", num_layers=4, num_ops=6, lstm_size=16, tanh_constant=0.0,
                            learning_rate=0.01, seed=0)
    op_columns = [0, 1, 3, 6]  # [op_0, op_1, skip_1_0, op_2, skip_2_0, skip_2_1, op_3, ...]

    def fraction(seed):
        decisions = controller.sample(400, seed=seed)[0]
        return float((decisions[:, op_columns] == 2).mean())

    before = fraction(10**6)
    for step in range(300):
        decisions = controller.sample(8, seed=step)[0]
        controller.update(decisions, (decisions[:, op_columns] == 2).mean(axis=1))
    after = fraction(10**6)
    assert before < 0.3
    assert after > 0.9
    assert controller.step == 300 and 0.0 < controller.baseline <= 1.0


def test_baseline_moves_before_the_advantage():
    controller = Controller("macro", num_layers=2, num_ops=3, lstm_size=4, entropy_weight=0.0)
    decisions = controller.sample(2, seed=0)[0]
    controller.update(decisions, [1.0, 0.0])
    expected = 0.0 - 0.01 * (0.0 - 1.0)
    expected = expected - 0.01 * (expected - 0.0)
    assert controller.baseline == pytest.approx(expected)


def test_save_load_and_state(tmp_path, controllers):
    controller = controllers["macro"]
    controller.update(*_batch(controller))
    path = str(tmp_path / "controller.npz")
    controller.save(path)
    other = Controller.for_space(MACRO, lstm_size=16, seed=99)
    other.load(path)
    other.set_state(controller.get_state())
    np.testing.assert_array_equal(other.sample(16, seed=5)[0], controller.sample(16, seed=5)[0])
    assert other.get_state() == controller.get_state()


def _batch(controller):
    decisions = controller.sample(4, seed=0)[0]
    return decisions, np.linspace(0, 1, 4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(space="mezzo", num_layers=2, num_ops=3), "space='mezzo'"),
        (dict(space="macro", num_layers=0, num_ops=3), "num_layers=0"),
        (dict(space="macro", num_layers=2, num_ops=3, lstm_size=0), "lstm_size=0"),
        (dict(space="macro", num_layers=2, num_ops=1), "num_ops=1"),
        (dict(space="macro", num_layers=2, num_ops=3, baseline_decay=1.0), "baseline_decay=1.0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Controller(**kwargs)


def test_bad_decisions_and_rewards():
    controller = Controller("macro", num_layers=2, num_ops=3, lstm_size=4)
    with pytest.raises(ValueError, match="shape"):
        controller.log_prob(np.zeros((2, 5), "int32"))
    with pytest.raises(ValueError, match="rewards"):
        controller.update(np.zeros((2, 3), "int32"), [0.5])
