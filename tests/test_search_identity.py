"""A search directory knows what it holds (`keras_nash.identity`): another search into it is
refused before any training with the list of differences; a resume with an allowed change runs."""

import hashlib
import json
import pathlib

import numpy as np
import pytest

from keras_nash import identity, seed_models
from keras_nash.tuners.darts.tuner import DartsTuner
from keras_nash.tuners.nash.tuner import NashTuner

TINY = dict(
    n_steps=1,
    n_neighbors=2,
    n_morphisms=1,
    epochs_per_neighbor=1,
    final_epochs=1,
    pretrain_epochs=1,
    seed=3,
)


def _data(classes=4, seed=0, n=48):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 8, 8, 3)).astype("float32")
    y = (np.arange(n) % classes).astype("int32")
    return x, y, x[:16], y[:16]


def _tuner(directory, filters=(4, 4, 4), classes=4, **overrides):
    seed = seed_models.simple_cnn((8, 8, 3), classes, filters=filters)
    return NashTuner(seed, directory=str(directory), project_name="nash", **{**TINY, **overrides})


def _search(tuner, data, **kwargs):
    x, y, x_val, y_val = data
    tuner.search(x, y, validation_data=(x_val, y_val), batch_size=16, verbose=0, **kwargs)


def _hashes(directory):
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in pathlib.Path(directory).rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny NASH search's directory."""
    directory = tmp_path_factory.mktemp("identity")
    _search(_tuner(directory), _data())
    return directory


def test_the_identity_is_recorded_with_settings_and_data(finished):
    recorded = json.loads((finished / "nash" / identity.IDENTITY_FILE).read_text())
    assert recorded["algorithm"] == "NashTuner"
    assert recorded["oracle.n_neighbors"] == 2 and recorded["seed"] == 3
    assert recorded["oracle.seed_architecture"]["params"] > 0
    assert recorded["data"]["train"]["inputs"] == ["float32[8, 8, 3]"]
    assert (
        recorded["data"]["train"]["classes"] == 4
        and len(recorded["data"]["train"]["sample_sha256"]) == 16
    )
    assert "time_budget" not in json.dumps(recorded) and "final_epochs" not in recorded


@pytest.mark.parametrize(
    "change, expected",
    [
        (dict(filters=(8, 4, 4)), "oracle.seed_architecture"),  # --seed_filters
        (dict(n_steps=2), "oracle.n_steps"),
        (dict(n_neighbors=3), "oracle.n_neighbors"),
        (dict(lr_start=0.1), "lr_start"),
        (dict(seed=4), "seed"),
    ],
)
def test_another_search_into_the_directory_is_refused_with_its_differences(
    finished, change, expected
):
    before = _hashes(finished)
    filters = change.pop("filters", (4, 4, 4))
    with pytest.raises(identity.SearchIdentityError) as error:
        _search(_tuner(finished, filters=filters, **change), _data())
    message = str(error.value)
    assert f"- {expected}: " in message
    assert (
        "overwrite=True" in message and "--overwrite" in message and "another directory" in message
    )
    assert _hashes(finished) == before


def test_another_dataset_of_the_same_shape_is_refused(finished):
    before = _hashes(finished)
    with pytest.raises(identity.SearchIdentityError) as error:
        _search(_tuner(finished), _data(seed=1))  # same shapes and classes, other images
    assert "- data.train.sample_sha256: " in str(error.value)
    with pytest.raises(identity.SearchIdentityError) as error:  # 3 classes: the seed's output too
        _search(_tuner(finished, classes=3), _data(classes=3))
    assert "- oracle.seed_architecture: " in str(error.value)
    x, y, x_val, y_val = _data()
    with pytest.raises(identity.SearchIdentityError) as error:
        _tuner(finished).search(x, y, validation_data=(x_val, y_val), batch_size=32, verbose=0)
    assert "- batch_size: 16 in the directory, 32 now" in str(error.value)
    assert _hashes(finished) == before


def test_another_algorithm_into_the_directory_is_refused_before_its_state_is_read(finished):
    before = _hashes(finished)
    with pytest.raises(
        identity.SearchIdentityError,
        match='- algorithm: "NashTuner" in the directory, "DartsTuner" now',
    ):
        DartsTuner(
            num_classes=4, epochs=1, final_epochs=1, directory=str(finished), project_name="nash"
        )
    assert _hashes(finished) == before


def test_a_longer_time_budget_and_more_verbosity_resume_the_same_search(finished):
    trials = sorted(p.name for p in (finished / "nash").glob("trial_*"))
    tuner = _tuner(finished, time_budget=3600.0)
    _search(tuner, _data(), callbacks=[])
    assert sorted(tuner.oracle.trials) == [t.split("_")[1] for t in trials]  # nothing trained again
    assert tuner.oracle.time_budget == 3600.0


def test_overwrite_starts_afresh_and_records_the_new_identity(tmp_path):
    _search(_tuner(tmp_path, n_steps=1, n_neighbors=1, final_epochs=0), _data())
    tuner = _tuner(tmp_path, n_neighbors=1, final_epochs=0, seed=5, overwrite=True)
    _search(tuner, _data())
    assert json.loads((tmp_path / "nash" / identity.IDENTITY_FILE).read_text())["seed"] == 5


def test_differences_leave_out_the_allowed_settings_and_a_resumed_seed_of_none():
    recorded = {
        "time_budget": 10,
        "final_epochs": 1,
        "seed": 3,
        "n_steps": 1,
        "data": {"train": {"a": 1}},
        "old_setting": 1,
    }
    current = {
        "time_budget": 20,
        "final_epochs": 5,
        "seed": None,
        "n_steps": 2,
        "data": {"train": {"a": 2}},
        "new_setting": 2,
    }
    assert identity.differences(recorded, current) == [
        "data.train.a: 1 in the directory, 2 now",
        "n_steps: 1 in the directory, 2 now",
    ]
