"""EG-NAS's two alpha updates (issue 31): "paper", the published single-best additive update as
the authors' code computes it, against a transcription of that code in numpy; "es", the
project's; the compound fitness wired through the oracle; resume across the state versions.
No training: seconds."""

import json
import types

import numpy as np
import pytest

from keras_nash.spaces import DartsSpace
from keras_nash.tuners.egnas.oracle import EgnasOracle
from keras_nash.tuners.egnas.strategy import population_candidates
from keras_nash.tuners.egnas.tuner import EgnasTuner

SPACE = DartsSpace(
    steps=2, multiplier=2, primitives=("max_pool_3x3", "skip_connect", "sep_conv_3x3")
)  # alpha (2, 5, 3)


def _oracle(**overrides):
    arguments = dict(epochs=10, warmup_epochs=0, population_size=8, search_space=SPACE, seed=3)
    return EgnasOracle(**{**arguments, **overrides})


# ----- the authors' train_search.py, transcribed line by line in numpy -----
def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _authors_cff(alpha, pop_sample, ce, acc, ori_pre, mon):
    """CFF(): the per-edge normalised weights, the cosine against softmax(alpha), the fitness,
    and the mixture `softmax(w / |w|)` the candidate is scored with."""
    normal, reduce = _softmax(alpha[0]), _softmax(alpha[1])  # get_projected_weights
    normal_weights = pop_sample[0] / np.linalg.norm(pop_sample[0], axis=-1, keepdims=True)
    reduce_weights = pop_sample[1] / np.linalg.norm(pop_sample[1], axis=-1, keepdims=True)

    def cos(a, b):  # nn.CosineSimilarity(dim=-1)
        return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))

    similar_nor = (cos(normal, normal_weights) + 1) / 2
    similar_red = (cos(reduce, reduce_weights) + 1) / 2
    similar_loss = (similar_nor.mean() + similar_red.mean()) / 2
    loss = ce + similar_loss * mon if ori_pre <= acc else ce - similar_loss * mon
    return loss, _softmax(normal_weights), _softmax(reduce_weights)


def _authors_generation(alpha, accumulated, population, ce, acc, ori_pre, mon, momentum, step):
    """explore_architecture() then updated_alpha(): the best by `<=`, alpha += step * v."""
    all_acc = None
    for i, pop_sample in enumerate(population):
        pop_value, normal, reduce = _authors_cff(alpha, pop_sample, ce[i], acc[i], ori_pre, mon)
        if i == 0 or pop_value <= all_acc:
            all_acc, now_normal, now_reduce = pop_value, normal, reduce
    shap = [_softmax(now_normal), _softmax(now_reduce)]  # softmax of the best's mixture
    updated = [accumulated[i] * momentum + shap[i] * (1.0 - momentum) for i in range(2)]
    return alpha + step * np.stack(updated), np.stack(updated)


# ----- "paper" -----
def test_paper_update_reproduces_the_authors_generation():
    """Two generations (momentum 0.5, so the accumulation shows) from a known alpha, population
    and fitness measurements, candidates on both sides of the reference accuracy: the oracle's
    alpha and accumulated update equal the authors' code's, to 1e-12."""
    oracle = _oracle(step=0.1, alpha_momentum=0.5, eta=0.4)
    rng = np.random.default_rng(0)
    alpha, accumulated = oracle.alpha.copy(), np.zeros_like(oracle.alpha)
    for sigma, seed in ((0.5, 11), (0.25, 12)):
        population = population_candidates(alpha, sigma, seed, 8, "paper")[0]  # the known z
        ce = rng.uniform(1.0, 1.2, 8)
        acc = rng.choice([0.25, 0.5, 0.75], 8)
        info = oracle.evolve(ce, acc, 0.5, sigma, seed)
        expected, accumulated = _authors_generation(
            alpha, accumulated, population, ce, acc, ori_pre=0.5, mon=0.4, momentum=0.5, step=0.1
        )
        assert np.abs(expected - alpha).max() > 1e-3  # the generation moved alpha
        np.testing.assert_allclose(oracle.alpha, expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(oracle.velocity, accumulated, rtol=0, atol=1e-12)
        assert info["update"] == "paper" and info["elite"][0]["weight"] == 1.0
        assert sum(record["weight"] for record in info["elite"]) == 1.0
        alpha = expected


def test_ties_go_to_the_later_candidate_as_the_authors_less_or_equal():
    from keras_nash.tuners.egnas.published import best_candidate, paper_order

    assert best_candidate([1.0, 0.5, 2.0, 0.5, 0.7]) == 3
    assert paper_order([1.0, 0.5, 2.0, 0.5, np.nan]).tolist() == [3, 1, 0, 2, 4]


def test_paper_candidates_are_the_authors_mixtures_around_a_jittered_mean():
    alpha = _oracle().alpha
    z, mixtures = population_candidates(alpha, 0.5, 7, 200, "paper")
    w = z / np.linalg.norm(z, axis=-1, keepdims=True)
    np.testing.assert_allclose(mixtures, _softmax(w), atol=1e-14)
    # sampled around softmax(alpha) + 1e-2 N(0, 1): the population's mean is within
    # 0.5 / sqrt(200) * 4 of it, and not softmax(alpha) itself (the jitter is drawn).
    mean = _softmax(alpha)
    assert np.abs(z.mean(0) - mean).max() < 4 * 0.5 / np.sqrt(200) + 0.05
    z_again, _ = population_candidates(alpha, 0.5, 7, 200, "paper")
    np.testing.assert_array_equal(z, z_again)  # from the seed
    es_z, es_mixtures = population_candidates(alpha, 0.5, 7, 200, "es")
    assert not np.allclose(es_z, z)  # the jitter moves the paper's population
    assert not np.allclose(
        es_mixtures, _softmax(es_z / np.linalg.norm(es_z, axis=-1, keepdims=True))
    )


def test_the_tuner_scores_the_updates_own_mixtures():
    """`evaluate_population` feeds the supernet the mixtures of the trial's update."""
    fed = []

    def population(x, y, mixtures):
        fed.append(np.array(mixtures))
        return np.zeros(len(mixtures)), np.zeros(len(mixtures))

    state = types.SimpleNamespace(population=population)
    alpha = _oracle().alpha
    for update in ("paper", "es"):
        EgnasTuner.evaluate_population(None, state, None, None, alpha, 0.5, 4, 6, update)
        np.testing.assert_allclose(fed[-1][1:], population_candidates(alpha, 0.5, 4, 6, update)[1])
        np.testing.assert_allclose(fed[-1][0], _softmax(alpha))
    assert not np.allclose(fed[0], fed[1])


# ----- the compound fitness through the oracle -----
def test_eta_and_the_reference_accuracy_change_which_candidate_moves_alpha():
    """A population whose cross-entropies differ by 1e-3 and whose similarities differ by
    about 0.1: with eta 0 the lowest cross-entropy wins; with eta 0.4 and every candidate at
    least as accurate as alpha the least similar wins; below the reference, the most similar."""
    size, sigma, seed = 8, 0.5, 21
    base = _oracle(population_size=size)
    z, _ = population_candidates(base.alpha, sigma, seed, size, "paper")
    m = _softmax(base.alpha)
    cos = (m * z).sum(-1) / (np.linalg.norm(m, axis=-1) * np.linalg.norm(z, axis=-1))
    similarity = ((cos + 1) / 2).mean((1, 2))
    ce = 1.0 + 1e-3 * np.arange(size)
    acc = np.full(size, 0.5)
    expected = {
        (0.0, 0.4): 0,
        (0.4, 0.4): int(np.argmin(similarity)),
        (0.4, 0.6): int(np.argmax(similarity)),
    }
    assert len(set(expected.values())) == 3  # the population shows all three rankings
    assert np.ptp(similarity) > 0.05
    alphas = {}
    for (eta, reference), best in expected.items():
        for update in ("paper", "es"):
            oracle = _oracle(population_size=size, eta=eta, update=update)
            info = oracle.evolve(ce, acc, reference, sigma, seed)
            if update == "paper":
                assert info["best"]["index"] == best, (eta, reference)
                alphas[eta, reference] = oracle.alpha
            else:  # the same ranking rule, on the es mixtures' own similarity
                assert [e["fitness"] for e in info["elite"]] == sorted(
                    e["fitness"] for e in info["elite"]
                )
    values = list(alphas.values())
    assert not np.allclose(values[0], values[1]) and not np.allclose(values[1], values[2])


# ----- state and resume -----
def test_paper_state_resumes_and_old_states_are_refused_clearly():
    def run(oracle, seeds):
        for seed in seeds:
            oracle.evolve(np.linspace(1.0, 1.7, 8), np.full(8, 0.5), 0.5, 0.3, seed)

    whole = _oracle(alpha_momentum=0.3)
    run(whole, (1, 2, 3))
    first = _oracle(alpha_momentum=0.3)
    run(first, (1, 2))
    state = json.loads(json.dumps(first.policy_state()))
    assert state["version"] == 3 and state["update"] == "paper"
    resumed = _oracle(alpha_momentum=0.3)
    resumed.set_policy_state(state)
    run(resumed, (3,))
    np.testing.assert_array_equal(resumed.alpha, whole.alpha)
    np.testing.assert_array_equal(resumed.velocity, whole.velocity)
    # a state written before the update was named (version 2) ran "es".
    old = {key: value for key, value in state.items() if key != "update"}
    with pytest.raises(
        ValueError,
        match=r"ran with update='es' \(state version 2\).*"
        r"Pass update='es'",
    ):
        _oracle().set_policy_state({**old, "version": 2})
    es = _oracle(update="es")
    es.set_policy_state({**old, "version": 2})
    assert es.update == "es" and es.generation == 2
    with pytest.raises(ValueError, match="ran with update='paper'"):
        _oracle(update="es").set_policy_state(state)


def test_update_is_validated_and_sent_with_each_trial():
    with pytest.raises(ValueError, match="update='cma'"):
        _oracle(update="cma")
    assert _oracle().epoch_values()["egnas/update"] == "paper"
    assert _oracle(update="es").epoch_values()["egnas/update"] == "es"


@pytest.mark.parametrize(
    "update, given, expected",
    [
        ("paper", None, False),  # the authors score the population in eval mode
        ("es", None, True),
        ("paper", True, True),
    ],
)
def test_population_batch_stats_follows_the_update_unless_given(update, given, expected, tmp_path):
    import tensorflow as tf

    from keras_nash.tuners.supernet.data import SearchData
    from tests.scripts import evolution_run

    tuner = evolution_run.tuner(
        str(tmp_path), overwrite=True, update=update, population_batch_stats=given
    )
    images = np.zeros((4, 8, 8, 3), "float32")
    labels = np.zeros((4,), "int32")
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(2)
    data = SearchData(train=dataset, validation=dataset, input_shape=(8, 8, 3))
    values = tuner.oracle.epoch_values()
    assert values["egnas/update"] == update
    trial = types.SimpleNamespace(hyperparameters=types.SimpleNamespace(values=values))
    assert tuner.create_search(trial, data).population.batch_stats is expected
