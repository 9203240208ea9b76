"""keras_nash.files: a write that fails (or is killed) before its move leaves the old file whole."""

import json
import os

import keras_tuner
import pytest

from keras_nash import files
from keras_nash.spaces import DartsSpace
from keras_nash.tuners.darts.oracle import DartsOracle


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "state.json"
    files.write_json(str(path), {"epoch": 1})

    def torn(temporary):
        with open(temporary, "w") as f:
            f.write('{"epoch": 2, "half')  # a writer that dies half way
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.replace_atomically(str(path), torn)
    assert json.loads(path.read_text()) == {"epoch": 1}
    assert os.listdir(tmp_path) == ["state.json"]
    files.write_json(str(path), {"epoch": 2})
    assert json.loads(path.read_text()) == {"epoch": 2}


def test_oracle_state_and_trial_files_go_through_atomic_replace(tmp_path, monkeypatch):
    written = []
    original = files.replace_atomically

    def record(path, write):
        written.append(os.path.basename(path))
        original(path, write)

    monkeypatch.setattr(files, "replace_atomically", record)
    oracle = DartsOracle(
        epochs=2,
        search_space=DartsSpace(steps=2, multiplier=2, primitives=("none", "skip_connect")),
        seed=1,
    )
    oracle._set_project_dir(str(tmp_path), "p")
    trial = oracle.create_trial("tuner0")
    assert trial.status == keras_tuner.engine.trial.TrialStatus.RUNNING
    oracle.save()
    assert set(written) == {"trial.json", "oracle.json"}
    assert json.loads((tmp_path / "p" / "oracle.json").read_text())["darts"]["arch"]["normal"]
