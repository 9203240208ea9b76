"""NASH's presets, for `NashTuner` and the command line: the paper's search and a short one.

`NashTuner(seed_model, **SHORT, ...)` runs the short search; its defaults are `PAPER`.
"""

PAPER = dict(
    n_steps=5,
    n_neighbors=8,
    n_morphisms=5,
    epochs_per_neighbor=17,
    final_epochs=100,
    pretrain_epochs=20,
)
"""Elsken et al. 2017, section 5.1 (CIFAR-10): 5 steps of 8 neighbours (the incumbent one of
them), 5 morphisms per child, 17 epochs each, the final network 100 epochs; the seed's
pre-training of 20 epochs."""

SHORT = dict(
    n_steps=3,
    n_neighbors=4,
    n_morphisms=3,
    epochs_per_neighbor=3,
    final_epochs=10,
    pretrain_epochs=8,
)
"""The project's short CPU search (the command line's default), not the paper's."""

SEED_FILTERS = {"paper": (64, 128, 256), "short": (16, 32, 64)}
"""The seed network's three conv blocks (`seed_models.simple_cnn`): the paper
re-implementations' 64/128/256, and the short search's."""

BATCH_SIZE = {"paper": 64, "short": 64}
"""Training batch size (the re-implementations' 64)."""
