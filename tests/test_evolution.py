"""Tests for keras_nash.tuners.evolution (EG-NAS).

Tiny on purpose: 8x8 images, 3 cells of 2 nodes, 4 channels (2 through the ops), 4 operations,
populations of 6 to 50.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_nash
from keras_nash.spaces.darts import DartsEvalNetwork, DartsSearchNetwork, DartsSpace
from keras_nash.tuners.egnas.oracle import EgnasOracle
from keras_nash.tuners.egnas.population import PopulationEvaluator
from keras_nash.tuners.egnas.strategy import (
    compound_fitness,
    cosine_term,
    edge_softmax,
    mixture_spread,
    normalise_candidates,
    recombination_weights,
    sample_population,
    sigma_schedule,
    validation_batch,
)
from tests.scripts import evolution_run

PRIMS = evolution_run.CONFIG["primitives"]
SPACE = DartsSpace(steps=2, multiplier=2, primitives=PRIMS)


# ----- pure functions -----
def test_compound_fitness_both_branches():
    ce = np.array([1.5, 0.7, 2.0])
    similarity = np.array([0.25, 0.9, 0.5])
    accuracy = np.array([0.5, 0.75, 0.25])
    fitness = compound_fitness(ce, similarity, accuracy, reference_accuracy=0.5, zeta=2.0, eta=0.4)
    # >= reference: zeta * L1 + eta * L2; below: zeta * L1 - eta * L2.
    np.testing.assert_allclose(fitness, [3.0 + 0.1, 1.4 + 0.36, 4.0 - 0.2], atol=1e-12)
    np.testing.assert_allclose(compound_fitness([2.0], [1.0], [0.0], 0.0), [2.4], atol=1e-12)
    np.testing.assert_allclose(compound_fitness([2.0], [1.0], [0.0], 0.1), [1.6], atol=1e-12)


def test_cosine_term_lies_in_unit_interval():
    rng = np.random.default_rng(0)
    reference = rng.random((2, 5, 4))
    candidates = rng.normal(size=(200, 2, 5, 4))
    term = cosine_term(reference, candidates)
    assert term.shape == (200,) and term.min() >= 0.0 and term.max() <= 1.0
    assert cosine_term(reference, reference) == pytest.approx(1.0)
    assert cosine_term(reference, -reference) == pytest.approx(0.0)
    assert cosine_term(reference, np.zeros_like(reference)) == pytest.approx(0.5)
    mixtures = normalise_candidates(candidates)
    assert cosine_term(reference, mixtures).min() >= 0.5  # non-negative vectors


def test_sigma_schedule_values():
    assert sigma_schedule(0) == 1.0
    assert sigma_schedule(1) == 0.5
    assert sigma_schedule(15) == pytest.approx(1 / 16)
    assert sigma_schedule(49) == pytest.approx(0.02)
    assert sigma_schedule(80) == 0.02
    assert sigma_schedule(3, sigma_initial=2.0, sigma_min=0.1) == 0.5
    with pytest.raises(ValueError, match="epoch=-1"):
        sigma_schedule(-1)


def test_normalise_and_sample_population():
    mixtures = normalise_candidates([[0.5, -0.2, 1.5], [-1.0, -2.0, -0.5]])
    np.testing.assert_allclose(mixtures, [[0.25, 0, 0.75], [1 / 3, 1 / 3, 1 / 3]])
    mean = edge_softmax(np.zeros((2, 5, 4)))
    z = sample_population(mean, 0.3, 50, seed=4)
    assert z.shape == (50, 2, 5, 4)
    np.testing.assert_array_equal(z, sample_population(mean, 0.3, 50, seed=4))
    assert abs(z.std() - 0.3) < 0.05
    np.testing.assert_allclose(normalise_candidates(z).sum(-1), 1.0)


def test_alpha_update_moves_the_mean_toward_the_weighted_better_half():
    oracle = EgnasOracle(
        epochs=2,
        warmup_epochs=0,
        population_size=4,
        search_space=SPACE,
        seed=1,
        step=0.1,
        update="es",
    )
    mean = edge_softmax(oracle.alpha)
    q = normalise_candidates(sample_population(mean, 0.5, 4, seed=9))
    info = oracle.evolve([2.0, 1.0, 3.0, 2.5], [0.5, 0.5, 0.5, 0.5], 0.5, sigma=0.5, seed=9)
    assert info["best"]["index"] == 1 and oracle.generation == 1
    assert [e["index"] for e in info["elite"]] == [1, 0]  # the better half, best first
    w = recombination_weights(2)  # log-rank weights (0.80, 0.20)
    assert [e["weight"] for e in info["elite"]] == pytest.approx(w.tolist(), abs=1e-12)
    # softmax(alpha') = 0.9 m + 0.1 (w_1 q_1 + w_2 q_0): the scored mixtures, not softmax(z).
    expected = 0.9 * mean + 0.1 * (w[0] * q[1] + w[1] * q[0])
    np.testing.assert_allclose(edge_softmax(oracle.alpha), expected, atol=1e-12)
    np.testing.assert_allclose(oracle.alpha.sum(-1), 0.0, atol=1e-12)  # centred per edge
    assert info["shift"] == pytest.approx(np.abs(expected - mean).mean())


# ----- evolution on a stub whose best operation is known -----
TARGET = 2  # "sep_conv_3x3": the only operation that makes the stub's logits confident


class _StubSupernet(keras.Model):
    """Logits proportional to the true class times the mixture's weight on operation TARGET."""

    alpha_shape = (2, 4)  # a 1-node cell: 2 edges, 4 operations

    def call(self, x, training=None, mixture=None):
        w_normal, w_reduce = mixture
        strength = tf.reduce_mean(tf.concat([w_normal[:, TARGET], w_reduce[:, TARGET]], 0))
        return x * 8.0 * strength


def test_evolution_moves_alpha_toward_the_best_operation():
    stub = _StubSupernet()
    labels = (np.arange(24) % 3).astype("int32")
    images = np.eye(3, dtype="float32")[labels]
    signature = (tf.TensorSpec((None, 3)), tf.TensorSpec((None,), tf.int32))
    evaluator = PopulationEvaluator(stub, signature, batch_stats=False)
    oracle = EgnasOracle(
        epochs=20,
        warmup_epochs=0,
        population_size=50,
        seed=2,
        update="es",
        search_space=DartsSpace(steps=1, multiplier=1, primitives=PRIMS),
    )
    start = edge_softmax(oracle.alpha)[..., TARGET]
    for _ in range(8):
        values = oracle.epoch_values()
        sigma, seed = values["egnas/sigma"], values["egnas/population_seed"]
        mean = edge_softmax(oracle.alpha)
        z = sample_population(mean, sigma, 50, seed)
        ce, acc = evaluator(images, labels, np.concatenate([mean[None], normalise_candidates(z)]))
        oracle.evolve(ce[1:], acc[1:], acc[0], sigma, seed)
        oracle.epoch += 1
    assert evaluator.trace_count == 1
    assert np.all(edge_softmax(oracle.alpha)[..., TARGET] > start)
    assert np.all(np.argmax(oracle.alpha, -1) == TARGET)
    genotype = oracle.genotype()
    assert {op for op, _ in genotype.normal + genotype.reduce} == {PRIMS[TARGET]}


# ----- the population evaluation on a real supernet -----
def test_population_evaluation_traces_once_and_matches_single_passes():
    space = DartsSpace(
        cells=3, channels=4, steps=2, multiplier=2, primitives=PRIMS, partial_channels=2
    )
    network = DartsSearchNetwork(space, 3, seed=1)
    network(np.zeros((1, 8, 8, 3), "float32"))
    signature = (tf.TensorSpec((None, 8, 8, 3)), tf.TensorSpec((None,), tf.int32))
    evaluator = PopulationEvaluator(network, signature, batch_stats=False)
    rng = np.random.default_rng(0)
    x = rng.random((8, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 3, 8).astype("int32")
    mean = edge_softmax(np.zeros((2, 5, 4)))
    for size, seed in ((50, 1), (7, 2), (50, 3)):
        mixtures = normalise_candidates(sample_population(mean, 0.5, size, seed)).astype("float32")
        ce, acc = evaluator(x, y, mixtures)
        assert ce.shape == acc.shape == (size,)
    assert evaluator.trace_count == 1
    for i in (0, 6):
        logits = network(x, training=False, mixture=(mixtures[i, 0], mixtures[i, 1]))
        expected = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        assert ce[i] == pytest.approx(float(np.mean(expected)), abs=1e-5)
    with pytest.raises(ValueError, match=r"mixtures.shape=\(3, 2, 5, 7\)"):
        evaluator(x, y, np.zeros((3, 2, 5, 7)))


def test_batch_statistics_mode_leaves_the_moving_statistics_untouched():
    space = DartsSpace(
        cells=3, channels=4, steps=2, multiplier=2, primitives=PRIMS, partial_channels=2
    )
    network = DartsSearchNetwork(space, 3, seed=1)
    network(np.zeros((1, 8, 8, 3), "float32"))
    signature = (tf.TensorSpec((None, 8, 8, 3)), tf.TensorSpec((None,), tf.int32))
    evaluator = PopulationEvaluator(network, signature, batch_stats=True)
    before = [np.array(v) for v in network.non_trainable_variables]
    x = np.random.default_rng(0).random((8, 8, 8, 3)).astype("float32") * 5 + 2
    mixtures = normalise_candidates(sample_population(edge_softmax(np.zeros((2, 5, 4))), 0.5, 5, 1))
    evaluator(x, np.zeros(8, "int32"), mixtures)
    for old, variable in zip(before, network.non_trainable_variables):
        np.testing.assert_array_equal(old, np.array(variable))


# ----- the search through the tuner -----
@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("egnas"))
    keras.utils.set_random_seed(0)
    train, val = evolution_run.data()
    tuner = evolution_run.tuner(directory, overwrite=True)
    alpha_before = tuner.oracle.alpha.copy()
    tuner.search(train, validation_data=val, verbose=0)
    return tuner, alpha_before


def test_search_runs_end_to_end(searched):
    tuner, alpha_before = searched
    oracle = tuner.oracle
    trials = [oracle.trials[t] for t in sorted(oracle.trials)]
    roles = [
        (t.hyperparameters.values["egnas/role"], t.hyperparameters.values["egnas/epoch"])
        for t in trials
    ]
    assert roles == [("epoch", 0), ("epoch", 1), ("epoch", 2), ("final", 3)]
    assert all(t.status == "COMPLETED" for t in trials)
    assert [t.hyperparameters.values.get("egnas/evolve") for t in trials[:3]] == [False, True, True]
    assert trials[1].hyperparameters.values["egnas/parent"] == trials[0].trial_id
    assert oracle.generation == 2 and oracle.final_trial_id == trials[3].trial_id
    assert np.abs(oracle.alpha - alpha_before).max() > 1e-3
    assert [entry["epoch"] for entry in oracle.history] == [0, 1, 2]
    assert "elite" not in oracle.history[0]
    assert len(oracle.history[1]["elite"]) == 3  # the better half of 6
    assert oracle.history[2]["sigma"] == pytest.approx(1 / 3)
    # Each generation is scored on the validation batch its seed draws (2 batches here).
    for entry in oracle.history[1:]:
        assert entry["validation_batches"] == 2
        assert entry["validation_batch"] == validation_batch(entry["population_seed"], 2)
    # 2 generations (sigma 1/2, 1/3, 6 candidates) moved softmax(alpha) to a spread of 0.061;
    # the update before issue 13 gave 0.0064 on this same search.
    assert mixture_spread(oracle.alpha) > 5 * 0.0064
    assert tuner.get_best_genotype() == oracle.genotype()
    assert tuner.trace_counts == {"train_step": 1, "eval_step": 1, "population": 1}
    json.dumps(oracle.get_state())


def test_final_network_exports_and_reloads(searched, tmp_path):
    tuner, _ = searched
    model = tuner.get_best_models(1)[0]
    assert isinstance(model, DartsEvalNetwork)
    assert model.genotype == tuner.get_best_genotype()
    images = next(iter(evolution_run.data()[1]))[0]
    keras_nash.export(model, str(tmp_path), formats=("keras",))
    loaded = keras.saving.load_model(str(tmp_path / "model.keras"))
    np.testing.assert_allclose(
        model.predict(images, verbose=0), loaded.predict(images, verbose=0), atol=1e-5
    )


# ----- bad input -----
@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(population_size=1), "population_size=1"),
        (dict(eta=-0.1), "eta=-0.1"),
        (dict(zeta=float("nan")), "zeta=nan"),
        (dict(warmup_epochs=3, epochs=3), "warmup_epochs=3, epochs=3"),
        (dict(step=0.0), "step=0.0"),
        (dict(alpha_momentum=1.0), "alpha_momentum=1.0"),
        (dict(sigma_initial=0.0), "sigma_initial=0.0"),
        (dict(initial_alpha=(np.zeros((14, 7)), np.zeros((14, 7)))), r"shape=\(14, 7\)"),
        (dict(channels=6, partial_channels=4), "partial_channels=4"),
    ],
)
def test_bad_input_fails_at_construction(overrides, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        evolution_run.tuner(str(tmp_path), overwrite=True, **overrides)
    assert not os.path.exists(tmp_path / "egnas" / "trial_0000")


def test_bad_population_result_is_named():
    oracle = EgnasOracle(epochs=2, warmup_epochs=0, population_size=4, search_space=SPACE, seed=1)
    with pytest.raises(ValueError, match=r"cross_entropy.shape=\(3,\)"):
        oracle.evolve([1.0, 2.0, 3.0], [0.5] * 4, 0.5, sigma=0.5, seed=1)
    with pytest.raises(ValueError, match="initial_alpha"):
        EgnasOracle(epochs=2, warmup_epochs=0, initial_alpha=[np.zeros((14, 7))])
