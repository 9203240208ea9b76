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
    tuner = NashTuner(seed_models.simple_cnn((8, 8, 3), 4, filters=(4, 4, 4)), n_steps=1, n_neighbors=1,
                      n_morphisms=1, epochs_per_neighbor=2, final_epochs=0, pretrain_epochs=1, seed=1,
                      time_budget=3600, directory=str(tmp_path), project_name="nash")
    tuner.search(x, y, validation_data=(x[:16], y[:16]), batch_size=16, verbose=0,
                 callbacks=[progress.EpochProgress()])
    text = caplog.text
    assert re.search(r"trial 0000 \(1 of 2 planned\) \| NASH step 0, seed \| 1 epochs \| \d+ s of the 3600 s budget left", text)
    assert re.search(r"trial 0001 \(2 of 2 planned\) \| NASH step 1, child of trial 0000 \| 2 epochs", text)
    epochs = re.findall(r"trial 0001 epoch (\d)/2 \| loss [\d.]+ accuracy [\d.]+ val_loss [\d.]+ val_accuracy [\d.]+ "
                        r"\| [\d.]+ s \| \d+ s of the budget left", text)
    assert epochs == ["1", "2"]


def test_planned_trials_of_a_supernet_search(tmp_path):
    from keras_nash.tuners.darts.tuner import DartsTuner

    tuner = DartsTuner(num_classes=4, epochs=3, final_epochs=1, cells=3, channels=4, directory=str(tmp_path),
                       project_name="darts")
    assert tuner.planned_trials() == 4
