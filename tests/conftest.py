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
