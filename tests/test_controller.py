"""The ENAS controller: valid seeded samples, log-probabilities, REINFORCE, bad input."""

import types

import numpy as np
import pytest

from keras_nash.spaces.enas import MacroSpace, MicroSpace
from keras_nash.tuners.enas.controller import Controller, num_decisions

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
    controller = Controller(
        "macro",
        num_layers=4,
        num_ops=6,
        lstm_size=16,
        tanh_constant=0.0,
        learning_rate=0.01,
        seed=0,
    )
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
    # The authors' baseline starts at 0.
    controller = Controller(
        "macro", num_layers=2, num_ops=3, lstm_size=4, entropy_weight=0.0, initial_baseline=0.0
    )
    decisions = controller.sample(2, seed=0)[0]
    controller.update(decisions, [1.0, 0.0])
    expected = 0.0 - 0.01 * (0.0 - 1.0)
    expected = expected - 0.01 * (expected - 0.0)
    assert controller.baseline == pytest.approx(expected)


def test_baseline_starts_at_the_first_steps_mean_reward():
    controller = Controller("macro", num_layers=2, num_ops=3, lstm_size=4, entropy_weight=0.0)
    decisions = controller.sample(2, seed=0)[0]
    controller.update(decisions, [0.6, 0.2])
    expected = 0.4 - 0.01 * (0.4 - 0.6)
    expected = expected - 0.01 * (expected - 0.2)
    assert controller.baseline == pytest.approx(expected)
    controller.update(decisions, [0.6, 0.2])  # then it moves as the authors'
    expected = expected - 0.01 * (expected - 0.6)
    expected = expected - 0.01 * (expected - 0.2)
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
        (dict(space="micro", num_layers=2, num_ops=3, operations=("a", "b")), "operations="),
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


# The recurrent (PTB cell) program --------------------------------------------------------------

RECURRENT = types.SimpleNamespace(
    name="recurrent", controller_layers=6, operations=("tanh", "relu", "identity", "sigmoid")
)


@pytest.fixture(scope="module")
def recurrent():
    return Controller.for_space(RECURRENT, lstm_size=16)


def _recurrent_columns(num_nodes):
    """Columns of i_j and f_j (j = 2..N) in `[f_1, i_2, f_2, ..., i_N, f_N]`."""
    nodes = np.arange(2, num_nodes + 1)
    return nodes, 2 * nodes - 3, 2 * nodes - 2


def test_recurrent_samples_are_valid_and_seeded(recurrent):
    assert num_decisions("recurrent", 12) == 23
    assert recurrent.num_decisions == 11 and recurrent.lstm_size == 16
    assert recurrent.tanh_constant == 2.5 and recurrent.temperature == 5.0  # the ptb defaults
    decisions, log_probs, entropies = recurrent.sample(256, seed=3)
    assert decisions.shape == (256, 11) and decisions.dtype == np.int32
    nodes, inputs, funcs = _recurrent_columns(6)
    assert np.all(decisions[:, inputs] >= 0) and np.all(decisions[:, inputs] <= nodes - 2)
    assert np.all((decisions[:, [0, *funcs]] >= 0) & (decisions[:, [0, *funcs]] < 4))
    assert np.all(np.isin(np.arange(4), decisions[:, funcs]))  # all activations occur
    assert np.all(np.isin([0, 1], decisions[:, inputs[1]]))  # node 3 reads node 1 or node 2
    # The authors' distance penalty (j - k)^2 / 6 favours recent nodes: node 6 reads node 5 most.
    counts = np.bincount(decisions[:, inputs[-1]], minlength=5)
    assert counts.argmax() == 4 and counts[0] < counts[3]
    assert np.all(log_probs < 0) and np.all(entropies > 0)
    np.testing.assert_array_equal(recurrent.sample(256, seed=3)[0], decisions)
    assert not np.array_equal(recurrent.sample(256, seed=4)[0], decisions)


def test_recurrent_log_probs_match_sampling(recurrent):
    decisions, log_probs, entropies = recurrent.sample(32, seed=11)
    recomputed, recomputed_entropies, penalties = recurrent.log_prob(decisions)
    np.testing.assert_allclose(recomputed, log_probs, atol=1e-5)
    np.testing.assert_allclose(recomputed_entropies, entropies, atol=1e-5)
    np.testing.assert_array_equal(penalties, np.zeros(32))


def test_recurrent_update_raises_a_rewarded_architecture():
    # With the ptb temperature (5) the gradients are ~1e-4, below Adam's epsilon (1e-3), so a
    # step moves the weights by about lr * g / 1e-3: a larger rate makes the change measurable.
    controller = Controller.for_space(
        RECURRENT, lstm_size=16, entropy_weight=0.0, learning_rate=0.05, initial_baseline=0.0
    )
    decisions = controller.sample(4, seed=0)[0]
    before = controller.log_prob(decisions)[0]
    controller.update(decisions[:1], [1.0])  # advantage 1 - 0.01 > 0
    after = controller.log_prob(decisions)[0]
    assert after[0] > before[0] + 1e-4  # measured: +4.4e-4
    assert controller.baseline == pytest.approx(0.01)


@pytest.mark.parametrize("space", ["macro", "micro", "recurrent"])
def test_sampling_is_traced_once(space):
    controller = Controller(space, num_layers=3, num_ops=4, lstm_size=4)
    for num in (1, 2, 5, 8):
        assert controller.sample(num, seed=num)[0].shape == (num, controller.num_decisions)
    assert controller._sample_fn.experimental_get_tracing_count() == 1


# Initialisation --------------------------------------------------------------------------------


def test_weights_are_independent_draws(controllers):
    controller = controllers["macro"]
    first = [np.asarray(v).ravel()[:4] for v in controller.variables]
    assert len({tuple(values) for values in first}) == len(first)
    assert np.abs(np.asarray(controller.w_attn_1)).max() <= 0.1


def test_micro_b_soft_favours_separable_convolutions(controllers):
    # The authors' b_soft starts at 10 for sep_conv ops: at initialisation they make 62.5% of the
    # normal cell's and 50.7% of the reduction cell's ops (measured, 2000 samples), 40% without.
    controller = controllers["micro"]
    np.testing.assert_array_equal(np.asarray(controller.b_soft), [0, 10, 10, 0, 0])
    assert controller.b_soft is controller.variables[-1]
    separable = [MICRO.operations.index("sep_conv_3x3"), MICRO.operations.index("sep_conv_5x5")]
    op_columns = np.arange(24).reshape(2, 3, 4)[:, :, 2:].reshape(2, -1)  # cell, (block, op)

    def rates(controller):
        decisions = controller.sample(1000, seed=7)[0]
        return [np.isin(decisions[:, columns], separable).mean() for columns in op_columns]

    normal, reduction = rates(controller)
    assert 0.58 < normal < 0.67 and 0.46 < reduction < 0.56
    unbiased = Controller(
        "micro", num_layers=3, num_ops=5, lstm_size=16, tanh_constant=1.1, op_tanh_reduce=2.5
    )
    np.testing.assert_array_equal(np.asarray(unbiased.b_soft), np.zeros(5))
    assert all(0.35 < rate < 0.45 for rate in rates(unbiased))
    assert Controller("macro", num_layers=2, num_ops=6, operations=MACRO.operations).b_soft is None


def test_micro_b_soft_survives_save_and_load(tmp_path):
    controller = Controller.for_space(MICRO, lstm_size=8, learning_rate=0.05)
    decisions = controller.sample(4, seed=0)[0]
    controller.update(decisions, np.linspace(0, 1, 4))
    path = str(tmp_path / "micro.npz")
    controller.save(path)
    other = Controller("micro", num_layers=3, num_ops=5, lstm_size=8, seed=5)  # b_soft zeros
    other.load(path)
    np.testing.assert_array_equal(np.asarray(other.b_soft), np.asarray(controller.b_soft))
    assert np.asarray(other.b_soft)[1] > 9
    for mine, theirs in zip(other.optimizer.variables, controller.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))


def test_load_refuses_other_files(tmp_path, controllers):
    # A micro controller file written before b_soft (format 1: no "format", one weight fewer).
    controller = Controller("micro", num_layers=2, num_ops=5, lstm_size=4)
    old = {f"w{i}": np.asarray(v) for i, v in enumerate(controller.variables[:-1])}
    old.update({f"o{i}": np.asarray(v) for i, v in enumerate(controller.optimizer.variables)})
    np.savez(tmp_path / "old.npz", **old)
    with pytest.raises(ValueError, match="format 1.*b_soft"):
        controller.load(str(tmp_path / "old.npz"))
    controllers["macro"].save(str(tmp_path / "macro.npz"))
    with pytest.raises(ValueError, match="micro controller"):
        controller.load(str(tmp_path / "macro.npz"))
    np.savez(tmp_path / "new.npz", format=np.asarray(3), **old)
    with pytest.raises(ValueError, match="newer"):
        controller.load(str(tmp_path / "new.npz"))
