"""Tests for keras_nash.tuners.darts (and the supernet machinery of tuners/supernet/).

Tiny on purpose: 8x8 images, 3 cells of 2 nodes, 4 channels, 4 candidate operations.
"""

import json
import os

import keras
import numpy as np
import pytest

from keras_nash.spaces.darts import DartsEvalNetwork, DartsSpace, Genotype
from keras_nash.tuners.darts.oracle import DartsOracle
from keras_nash.tuners.darts.tuner import DartsTuner
from keras_nash.tuners.egnas.oracle import EGNAS_PRIMITIVES, EgnasOracle
from keras_nash.tuners.egnas.tuner import EgnasTuner

CONFIG = dict(
    num_classes=3,
    epochs=2,
    final_epochs=1,
    cells=3,
    channels=4,
    steps=2,
    multiplier=2,
    primitives=["none", "max_pool_3x3", "skip_connect", "avg_pool_3x3"],  # cheap to trace
    final_cells=3,
    final_channels=4,
    auxiliary_weight=0.4,
    batch_size=8,
    seed=1,
    arch_learning_rate=0.01,
    partial_channels=2,
    edge_normalization=True,  # PC-DARTS
)

DATA = """
import numpy as np, tensorflow as tf
rng = np.random.default_rng(0)
images = rng.random((32, 8, 8, 3)).astype("float32")
labels = rng.integers(0, 3, 32)
train = tf.data.Dataset.from_tensor_slices((images[:16], labels[:16])).batch(8)
val = tf.data.Dataset.from_tensor_slices((images[16:], labels[16:])).batch(8)
"""


def _data():
    scope = {}
    exec(DATA, scope)
    return scope["train"], scope["val"]


class Recorder(keras.callbacks.Callback):
    """Records what it is told in a list shared by its deep copies (one per trial)."""

    events = []

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch, None))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("batch", batch, None))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, dict(logs or {})))


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("darts"))
    keras.utils.set_random_seed(0)
    train, val = _data()
    # Arrays, so that search()'s batch_size decides the batches (4 per epoch of 16 images).
    x, y = np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train])
    x_val, y_val = np.concatenate([b[0] for b in val]), np.concatenate([b[1] for b in val])
    tuner = DartsTuner(**CONFIG, directory=directory, project_name="search", overwrite=True)
    alpha_before = (tuner.oracle.alpha_normal.copy(), tuner.oracle.alpha_reduce.copy())
    Recorder.events.clear()
    board = keras.callbacks.TensorBoard(
        log_dir=os.path.join(directory, "logs"), write_graph=False, profile_batch=0
    )
    # The papers' protocol: the final network trains on all 32 images (search: 16 + 16).
    final_fit = {
        "x": np.concatenate([x, x_val]),
        "y": np.concatenate([y, y_val]),
        "validation_data": (x_val, y_val),
        "batch_size": 8,
    }
    tuner.search(
        x,
        y,
        validation_data=(x_val, y_val),
        batch_size=4,
        verbose=0,
        callbacks=[Recorder(), board],
        final_fit=final_fit,
    )
    return tuner, alpha_before, directory


def test_callbacks_see_every_search_epoch_and_the_final_training(searched):
    tuner, _, directory = searched
    ends = [(epoch, logs) for kind, epoch, logs in Recorder.events if kind == "epoch_end"]
    # Two search epochs (numbered as the search counts them), then the final training's epoch.
    assert [epoch for epoch, _ in ends] == [0, 1, 0]
    for _, logs in ends[:2]:
        assert {"loss", "accuracy", "val_loss", "val_accuracy", "arch_loss"} <= set(logs)
        assert 0.0 <= logs["val_accuracy"] <= 1.0
    # search(batch_size=4) is honoured in the search epochs: 16 images -> 4 batches each.
    batches, epoch_batches = [], 0
    for kind, _, _ in Recorder.events:
        if kind == "epoch_begin":
            epoch_batches = 0
        elif kind == "batch":
            epoch_batches += 1
        else:
            batches.append(epoch_batches)
    assert batches[:2] == [4, 4]
    # final_fit's data and batch size in the final training, the search's callbacks kept.
    assert batches[2:] == [4]
    # TensorBoard: one log directory per trial, search epochs included.
    trial_ids = sorted(tuner.oracle.trials)
    for trial_id in trial_ids:
        events = [
            f
            for _, _, files in os.walk(os.path.join(directory, "logs", trial_id))
            for f in files
            if f.startswith("events.")
        ]
        assert events, f"no TensorBoard events for trial {trial_id}"


def test_search_changes_alpha_and_derives_a_genotype(searched):
    tuner, (normal_before, reduce_before), _ = searched
    oracle = tuner.oracle
    assert oracle.epoch == 2 and oracle.final_trial_id is not None
    assert np.abs(oracle.alpha_normal - normal_before).max() > 1e-4
    assert np.abs(oracle.alpha_reduce - reduce_before).max() > 1e-4
    assert [entry["epoch"] for entry in oracle.history] == [0, 1]
    trials = [oracle.trials[trial_id] for trial_id in sorted(oracle.trials)]
    assert [t.hyperparameters.values["darts/role"] for t in trials] == ["epoch", "epoch", "final"]
    assert all(t.status == "COMPLETED" for t in trials)
    # Each epoch inherits the previous one's weights; alpha travels as JSON.
    assert trials[1].hyperparameters.values["darts/parent"] == trials[0].trial_id
    sent = json.loads(trials[1].hyperparameters.values["darts/alpha"])
    assert np.asarray(sent["normal"]).shape == (5, 4)
    # PC-DARTS's betas are searched with alpha and travel with it.
    assert np.asarray(sent["beta_normal"]).shape == (5,)
    space = DartsSpace(
        steps=2, multiplier=2, primitives=CONFIG["primitives"], edge_normalization=True
    )
    initial = DartsOracle(epochs=2, search_space=space, seed=CONFIG["seed"]).beta
    assert all(np.abs(b - b0).max() > 1e-4 for b, b0 in zip(oracle.beta, initial))
    genotype = tuner.get_best_genotype()
    assert genotype == oracle.genotype()
    assert genotype == Genotype.from_json(trials[2].hyperparameters.values["darts/genotype"])
    assert len(genotype.normal) == 4
    assert 0.0 <= trials[0].metrics.get_last_value("val_accuracy") <= 1.0
    # The oracle's state is JSON.
    json.dumps(oracle.get_state())


def test_search_step_traced_once_per_search(searched):
    tuner, _, _ = searched
    assert tuner.trace_counts == {"search_step": 1, "eval_step": 1}


def test_final_network_loads_and_exports(searched, tmp_path):
    tuner, _, _ = searched
    model = tuner.get_best_models(1)[0]
    assert isinstance(model, DartsEvalNetwork)
    assert model.genotype == tuner.get_best_genotype()
    train, _ = _data()
    images = next(iter(train))[0]
    path = str(tmp_path / "final.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        model.predict(images, verbose=0), loaded.predict(images, verbose=0), atol=1e-5
    )


def test_oracle_bad_input():
    with pytest.raises(ValueError, match="epochs=0"):
        DartsOracle(epochs=0)
    with pytest.raises(ValueError, match="`search_space` must be a `keras_nash.spaces.DartsSpace`"):
        DartsOracle(search_space={"steps": 2})
    with pytest.raises(ValueError, match="EG-NAS evolves alpha only"):
        EgnasOracle(search_space=DartsSpace(edge_normalization=True))
    with pytest.raises(ValueError, match="steps=0"):
        DartsTuner(steps=0, directory="/tmp", project_name="never")
    with pytest.raises(ValueError, match="conv_9x9"):
        DartsTuner(primitives=["none", "conv_9x9"], directory="/tmp", project_name="never")
    with pytest.raises(ValueError, match="primitives"):
        DartsTuner(primitives=["none"], directory="/tmp", project_name="never")
    oracle = DartsOracle(
        epochs=1, search_space=DartsSpace(steps=2, multiplier=2, primitives=CONFIG["primitives"])
    )
    with pytest.raises(ValueError, match=r"alpha_normal.shape=\(14, 8\)"):
        oracle.update_policy(
            None,
            {"alpha": {"normal": np.zeros((14, 8)).tolist(), "reduce": np.zeros((5, 4)).tolist()}},
        )


def test_cell_tuners_take_a_search_space_or_its_arguments(tmp_path):
    space = DartsSpace(
        cells=3, channels=4, steps=2, multiplier=2, primitives=("skip_connect", "sep_conv_3x3")
    )
    for tuner_class in (DartsTuner, EgnasTuner):
        tuner = tuner_class(
            search_space=space, directory=str(tmp_path), project_name=tuner_class.__name__
        )
        assert tuner.space == space
        assert tuner.oracle.space.alpha_shape == (5, 2)
        with pytest.raises(
            ValueError, match=r"either as `search_space` or as `cells`, not both.*cells=5"
        ):
            tuner_class(search_space=space, cells=5, directory=str(tmp_path), project_name="never")
        with pytest.raises(ValueError, match="must be a `keras_nash.spaces.DartsSpace`"):
            tuner_class(search_space={"cells": 3}, directory=str(tmp_path), project_name="never")
    # the flat arguments fill in each tuner's own defaults
    assert DartsTuner(cells=3, directory=str(tmp_path), project_name="d").space == DartsSpace(
        cells=3
    )
    egnas = EgnasTuner(channels=8, directory=str(tmp_path), project_name="e").space
    assert egnas == DartsSpace(channels=8, primitives=EGNAS_PRIMITIVES, partial_channels=4)


@pytest.mark.parametrize(
    "final_fit, message",
    [
        ([1, 2], r"`final_fit` must be a dict of `model.fit` arguments"),
        (
            {"x": None, "epocs": 3, "validation_data": None},
            r"`model.fit` arguments, `validation_data` among them .*"
            r"Received keys: \['epocs', 'validation_data', 'x'\]",
        ),
        ({"x": "train"}, r"Received keys: \['x'\]"),  # no validation data: nothing to score
        (
            {
                "x": np.zeros((4, 8, 8, 3)),
                "y": np.zeros(5),
                "validation_data": (np.zeros((2, 8, 8, 3)), np.zeros(2)),
            },
            r"`final_fit`: `x` must be images `\(n, height, width, channels\)` with n labels",
        ),
        (
            {
                "x": np.zeros((4, 8, 8, 3)),
                "y": np.zeros(4),
                "batch_size": 0,
                "validation_data": (np.zeros((2, 8, 8, 3)), np.zeros(2)),
            },
            "batch_size=0",
        ),
    ],
)
def test_bad_final_fit_fails_before_any_trial(tmp_path, final_fit, message):
    train, val = _data()
    tuner = DartsTuner(directory=str(tmp_path), project_name="final_fit", **CONFIG)
    with pytest.raises(ValueError, match=message):
        tuner.search(train, validation_data=val, verbose=0, final_fit=final_fit)
    assert not tuner.oracle.trials


def test_final_fit_of_another_shape_fails_before_any_trial(tmp_path):
    train, val = _data()  # 8x8 images
    tuner = DartsTuner(directory=str(tmp_path), project_name="final_shape", **CONFIG)
    bigger = (np.zeros((4, 16, 16, 3)), np.zeros(4))
    with pytest.raises(
        ValueError,
        match=r"`final_fit`'s data must have the search's shape \(8, 8, 3\).*\(16, 16, 3\)",
    ):
        tuner.search(
            train,
            validation_data=val,
            verbose=0,
            final_fit={"x": bigger[0], "y": bigger[1], "validation_data": bigger},
        )
    with pytest.raises(
        ValueError, match=r"not `epochs` .*Received keys: \['epochs', 'validation_data', 'x'\]"
    ):
        tuner.search(
            train,
            validation_data=val,
            verbose=0,
            final_fit={"x": train, "validation_data": val, "epochs": 3},
        )
    assert not tuner.oracle.trials
