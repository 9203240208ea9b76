"""EG-NAS's presets, for `EgnasTuner` and the command line: the paper's search and a short one.

`EgnasTuner(**SHORT, ...)` runs the short search; its defaults are `PAPER`.
"""

PAPER = dict(
    epochs=50,
    warmup_epochs=15,
    population_size=50,
    sigma_initial=1.0,
    sigma_min=0.02,
    zeta=1.0,
    eta=0.4,
    update="paper",
    step=0.1,
    alpha_momentum=0.0,
    batch_size=256,
    learning_rate=0.1,
    learning_rate_min=0.0,
    momentum=0.9,
    weight_decay=3e-4,
    grad_clip=5.0,
    final_epochs=800,
    final_batch_size=96,
    final_cells=20,
    final_channels=36,
    final_learning_rate=0.025,
    final_weight_decay=3e-4,
    auxiliary_weight=0.4,
    drop_path_prob=0.3,
    cutout_length=16,
)
"""Cai et al., AAAI 2024, and its authors' code (caicaicheng/EG-NAS): the search's 50 epochs
(15 of warm-up), populations of 50, batch 256; the final training's batch 96 (the paper, as
DARTS's, and the authors' `train.py`); its 800 epochs and drop-path 0.3 are the authors' code's
defaults."""

SHORT = dict(
    epochs=4,
    warmup_epochs=1,
    cells=5,
    channels=8,
    final_epochs=10,
    final_cells=8,
    final_channels=16,
)
"""The project's short CPU search (minutes on 2 cores with the embedded data), not the paper's."""

AUTHORS = dict(PAPER, sigma_min=1.0)
"""What `--authors_defaults` passes: the paper's values, with sigma 1.0 throughout (the
authors' `train_search.py` computes sigma from an epoch counter that stays 0)."""

BATCH_SIZE = {"paper": PAPER["batch_size"], "authors": PAPER["batch_size"], "short": 64}
