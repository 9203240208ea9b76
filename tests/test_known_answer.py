"""A fast version of bench/known_answer.py: the teacher-student tasks, the match rates and one
known-answer run end to end at a tiny scale (random images: offline)."""

import importlib.util
import pathlib

import numpy as np
import pytest

PATH = pathlib.Path(__file__).resolve().parent.parent / "bench" / "known_answer.py"
spec = importlib.util.spec_from_file_location("known_answer", PATH)
known_answer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(known_answer)


def _images(n=64, size=8, seed=0):
    return np.random.default_rng(seed).standard_normal((n, size, size, 3)).astype("float32")


@pytest.mark.parametrize("kind", ["micro", "macro"])
def test_enas_match_rates(kind):
    task = known_answer.EnasTask(kind)
    assert task.match(task.planted, task.planted) == 1.0
    rng = np.random.default_rng(0)
    decisions = len(task.planted_vector)
    for _ in range(5):
        assert task.match(task.neighbour(rng), task.planted) == pytest.approx(1 - 1 / decisions)
    chance = np.mean([task.match(task.random(rng), task.planted) for _ in range(300)])
    assert 0.1 < chance < 0.6


def test_cell_match_rates():
    task = known_answer.CellTask()
    assert task.match(task.planted, task.planted) == 1.0
    rng = np.random.default_rng(0)
    assert task.match(task.neighbour(rng), task.planted) == pytest.approx(7 / 8)
    chance = np.mean([task.match(task.random(rng), task.planted) for _ in range(300)])
    # Two of the node's inputs (2 of 2 or 2 of 3) and one of four operations.
    assert 0.1 < chance < 0.3
    # The share of convolutions: the planted cell's all, a neighbour's 7 of 8 or all (its
    # changed operation may be the other convolution), half of a random cell's on average.
    assert known_answer.conv_share(task.planted.to_dict()) == 1.0
    assert known_answer.conv_share(task.neighbour(rng).to_dict()) in (7 / 8, 1.0)
    shares = [known_answer.conv_share(task.random(rng).to_dict()) for _ in range(300)]
    assert 0.4 < np.mean(shares) < 0.6


def test_teacher_labels_are_the_planted_networks_and_use_every_class():
    task = known_answer.EnasTask("macro")
    task.input_shape = (8, 8, 3)
    images = _images()
    first = known_answer.teacher_labels(task.build(task.planted, 4, seed=3), images)
    again = known_answer.teacher_labels(task.build(task.planted, 4, seed=3), images)
    other = known_answer.teacher_labels(task.build(task.planted, 4, seed=4), images)
    np.testing.assert_array_equal(first, again)
    assert set(first) == {0, 1, 2, 3}
    assert np.mean(first != other) > 0.3  # the labels are the teacher's weights'


def test_a_known_answer_run_end_to_end():
    settings = dict(
        classes=3,
        search_epochs=2,
        fit_epochs=1,
        random=2,
        neighbours=1,
        chance_draws=50,
        population=4,
        controller_steps=3,
        controller_aggregate=2,
    )
    result = known_answer.run_one("enas_macro", settings, seed=1, images=_images(n=64))
    assert 0.0 <= result["found_match"] <= 1.0
    assert len(result["random_scores"]) == 2 and len(result["neighbour_scores"]) == 1
    assert len(result["planted_log_prob"]) == 3  # before the search, after each epoch
    assert len(result["decisiveness"]) == 2
    summary = known_answer.summarise([result])["enas_macro"]
    assert summary["chance_match"] == result["chance_match"]


def test_the_nash_arm_gives_three_arms_the_same_seconds():
    settings = dict(classes=3, nash_seconds=6.0)
    result = known_answer.run_nash(settings, seed=1, images=_images(n=96))
    for arm in ("planted", "scratch"):
        # One cosine schedule over the epochs that fit (probe included), about the budget.
        assert result[arm + "_epochs"] >= 1 and result[arm + "_seconds"] < 3 * 6.0
    assert result["planted_params"] > result["scratch_params"]  # the teacher is the bigger one
    assert result["trials"] >= 1 and result["search_seconds"] < 1.5 * 6.0 + 10
    assert 0.0 <= result["found_score"] <= 1.0
    summary = known_answer.summarise([result])["nash"]
    assert summary["found_score"] == result["found_score"] and summary["seeds"] == [1]
