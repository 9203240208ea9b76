"""Shared pytest setup: quiet TensorFlow, deterministic seeds, a CPU-sized thread pool."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)
    np.random.seed(0)
    yield
    # Fresh Keras state (layer names, the default graph) for the next test, without the full
    # gc.collect() of free_memory=True: that costs 1-3 s per test once the session is large.
    keras.backend.clear_session(free_memory=False)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "long: a test of a minute or more (memory, distributed); CI runs it all the same"
    )


# Test files by their measured cost, heaviest first. README's command runs each file in one of
# two xdist workers (`--dist loadfile --no-loadscope-reorder`, which keeps this order); starting
# the longest files first keeps the two workers' ends together (longest job first).
_HEAVY_FIRST = (
    "test_resume.py",
    "test_nash_robustness.py",
    "test_precision.py",
    "test_distribution.py",
    "test_cli.py",
    "test_evolution.py",
    "test_enas.py",
    "test_darts.py",
    "test_nash.py",
    "test_enas_spaces.py",
    "test_cells.py",
    "test_doctests.py",
)


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return _HEAVY_FIRST.index(name) if name in _HEAVY_FIRST else len(_HEAVY_FIRST)

    items.sort(key=rank)  # stable: each file's own order is kept
