"""DARTS's presets, for `DartsTuner` and the command line: the paper's search and a short one.

`DartsTuner(**SHORT, ...)` runs the short search; its defaults are `PAPER`.
"""

PAPER = dict(
    epochs=50,
    arch_learning_rate=3e-4,
    arch_beta_1=0.5,
    arch_beta_2=0.999,
    arch_weight_decay=1e-3,
    batch_size=64,
    learning_rate=0.025,
    learning_rate_min=0.001,
    momentum=0.9,
    weight_decay=3e-4,
    grad_clip=5.0,
    final_epochs=600,
    final_batch_size=96,
    final_cells=20,
    final_channels=36,
    final_learning_rate=0.025,
    final_weight_decay=3e-4,
    auxiliary_weight=0.4,
    drop_path_prob=0.2,
    cutout_length=16,
)
"""Liu et al. 2019 (first order), sections 3.1-3.2 and A.1: the search of 50 epochs on 8 cells
of 16 channels (`DartsSpace`'s defaults), the final network of 20 cells and 36 channels for
600 epochs."""

SHORT = dict(
    epochs=3,
    cells=5,
    channels=8,
    final_epochs=10,
    final_cells=8,
    final_channels=16,
    arch_learning_rate="auto",
)
"""The project's short CPU search (minutes on 2 cores with the embedded data), not the paper's:
`arch_learning_rate="auto"` scales the paper's rate to the run's alpha steps
(`tuners.darts.tuner.scaled_arch_learning_rate`), so that alpha moves within a short run."""

BATCH_SIZE = {"paper": PAPER["batch_size"], "short": 64}
