"""Progress a user can follow (`keras_nash.progress`): a line when each trial starts (trial i of
the planned n, what it trains, its epochs, the budget left), a line per epoch with its metrics."""

import logging
import re

import numpy as np

from keras_nash import progress, seed_models
from keras_nash.tuners.nash.tuner import NashTuner


def test_trial_and_epoch_lines_with_the_budget_left(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="keras_nash")
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (32, 8, 8, 3)).astype("float32"), (np.arange(32) % 4).astype("int32")
    tuner = NashTuner(
        seed_models.simple_cnn((8, 8, 3), 4, filters=(4, 4, 4)),
        n_steps=1,
        n_neighbors=1,
        n_morphisms=1,
        epochs_per_neighbor=2,
        final_epochs=0,
        pretrain_epochs=1,
        seed=1,
        time_budget=3600,
        directory=str(tmp_path),
        project_name="nash",
    )
    tuner.search(
        x,
        y,
        validation_data=(x[:16], y[:16]),
        batch_size=16,
        verbose=0,
        callbacks=[progress.EpochProgress()],
    )
    text = caplog.text
    assert re.search(
        r"trial 0000 \(1 of 2 planned\) \| NASH step 0, seed \| 1 epochs \| "
        r"\d+ s of the 3600 s budget left",
        text,
    )
    assert re.search(
        r"trial 0001 \(2 of 2 planned\) \| NASH step 1, child of trial 0000 \| 2 epochs", text
    )
    epochs = re.findall(
        r"trial 0001 epoch (\d)/2 \| loss [\d.]+ accuracy [\d.]+ val_loss [\d.]+ "
        r"val_accuracy [\d.]+ "
        r"\| [\d.]+ s \| \d+ s of the budget left",
        text,
    )
    assert epochs == ["1", "2"]


def test_planned_trials_of_a_supernet_search(tmp_path):
    from keras_nash.tuners.darts.tuner import DartsTuner

    tuner = DartsTuner(
        num_classes=4,
        epochs=3,
        final_epochs=1,
        cells=3,
        channels=4,
        directory=str(tmp_path),
        project_name="darts",
    )
    assert tuner.planned_trials() == 4


def test_a_supernet_search_on_datasets_gives_no_keras_warning_of_its_own(tmp_path):
    """A clean log: the final training passes `shuffle=False` for a dataset (Keras warns that it
    ignores `shuffle=True`), and the final network's optimizer is built before its checkpoint
    loads (Keras skips an unbuilt optimizer's variables with a warning)."""
    import warnings

    import tensorflow as tf

    from keras_nash.tuners.darts.tuner import DartsTuner

    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (32, 8, 8, 3)).astype("float32"), (np.arange(32) % 4).astype("int32")
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    tuner = DartsTuner(
        num_classes=4,
        epochs=1,
        final_epochs=1,
        cells=3,
        channels=4,
        steps=2,
        multiplier=2,
        primitives=("none", "skip_connect", "max_pool_3x3"),  # cheap to trace
        final_cells=3,
        final_channels=4,
        directory=str(tmp_path),
        project_name="darts",
        seed=1,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tuner.search(train, validation_data=train.take(1), verbose=0)
        model = tuner.get_best_models(1)[0]
    assert model.predict(x[:2], verbose=0).shape == (2, 4)
    ours = [
        str(w.message)
        for w in caught
        if "shuffle=True" in str(w.message) or "Skipping variable" in str(w.message)
    ]
    assert not ours, ours


def test_a_slow_epoch_gets_a_line_within_the_interval(caplog):
    caplog.set_level(logging.INFO, logger="keras_nash")
    callback = progress.EpochProgress(label="trial 0003", interval=0.0)
    callback.set_params({"epochs": 2, "steps": 4})
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    callback.on_train_batch_end(1, {"loss": 1.25, "accuracy": 0.5})
    callback.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5, "val_accuracy": 0.25})
    assert re.search(
        r"trial 0003 epoch 1/2 \| batch 2/4 \| loss 1.2500 accuracy 0.5000 \| [\d.]+ s", caplog.text
    )
    assert re.search(
        r"trial 0003 epoch 1/2 \| loss 1.0000 accuracy 0.5000 val_accuracy 0.2500 \| [\d.]+ s",
        caplog.text,
    )
