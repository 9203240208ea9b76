"""Every `>>>` example in keras_nash's docstrings runs (doctest), so the documentation stays
true."""

import doctest
import importlib
import pkgutil

import pytest

import keras_nash

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(keras_nash.__path__, prefix="keras_nash.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
