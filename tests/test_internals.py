"""keras-tuner's and Keras's private API behind one door (keras_nash/internals.py).

When an upgrade removes a private symbol keras_nash relies on, these tests fail with a message
that names it, instead of a search failing (or silently changing) somewhere deep inside.
"""

import ast
import pathlib

import keras
import keras_tuner
import numpy as np
import pytest

from keras_nash import internals

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_nash"


def _upgrade_message(owner, name):
    return (
        f"{owner.__module__}.{owner.__qualname__}.{name} is gone (keras-tuner "
        f"{keras_tuner.__version__}, Keras {keras.__version__}); keras_nash relies on it through "
        "keras_nash/internals.py: update that module, or install the versions setup.py names."
    )


@pytest.mark.parametrize(
    "owner, name",
    [
        (owner, name)
        for table in (internals.OVERRIDDEN, internals.CALLED)
        for owner, names in table.items()
        for name in names
    ],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_private_methods_still_exist(owner, name):
    assert callable(getattr(owner, name, None)), _upgrade_message(owner, name)


def test_private_instance_attributes_still_exist(tmp_path):
    oracle = keras_tuner.RandomSearch(
        hypermodel=lambda hp: keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]),
        objective="loss",
        max_trials=1,
        directory=str(tmp_path),
        project_name="p",
    ).oracle
    for owner, names in internals.INSTANCE_ATTRIBUTES.items():
        for name in names:
            assert hasattr(oracle, name), _upgrade_message(owner, name)
    assert internals.project_dir(oracle) == str(tmp_path / "p")


def test_keras_tuner_still_writes_the_layout_we_read(tmp_path):
    tuner = keras_tuner.RandomSearch(
        hypermodel=lambda hp: keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]),
        objective="loss",
        max_trials=1,
        directory=str(tmp_path),
        project_name="p",
    )
    path = internals.checkpoint_path(tuner, "7")
    assert path == internals.trial_dir(tmp_path / "p", "7") + "/" + internals.CHECKPOINT_FILE
    assert issubclass(internals.Display, object) and hasattr(
        internals.Display, "show_hyperparameter_table"
    )


def test_trial_callbacks_copies_and_moves_tensorboard_under_the_trial(tmp_path):
    tuner = keras_tuner.RandomSearch(
        hypermodel=lambda hp: keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]),
        objective="loss",
        max_trials=1,
        directory=str(tmp_path),
        project_name="p",
    )
    board = keras.callbacks.TensorBoard(log_dir=str(tmp_path / "logs"))
    trial = keras_tuner.engine.trial.Trial(keras_tuner.HyperParameters(), trial_id="3")
    callbacks = internals.trial_callbacks(tuner, [board], trial)
    assert callbacks[0] is not board and board.log_dir == str(tmp_path / "logs")
    assert str(callbacks[0].log_dir).startswith(str(tmp_path / "logs" / "3"))


# Private names of keras-tuner and Keras objects a module could be tempted to reach.
_KNOWN_PRIVATE = {
    "_display",
    "_project_dir",
    "_try_build",
    "_get_checkpoint_fname",
    "_deepcopy_callbacks",
    "_configure_tensorboard_dir",
    "_inbound_nodes",
    "_keras_history",
    "_flatten_layers",
    "_use_weight_decay",
    "_populate_space",
    "_score_trial",
    "_get_build_config_fname",
}


def _private_uses(path):
    """`keras_tuner.src` / `keras.src` imports and known private attributes used in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            modules = []
        found += [m for m in modules if m.startswith(("keras_tuner.src", "keras.src"))]
        if isinstance(node, ast.Attribute) and node.attr in _KNOWN_PRIVATE:
            found.append(node.attr)
    return found


def test_no_module_but_internals_reaches_into_keras_tuner_or_keras():
    offenders = {
        str(path.relative_to(PACKAGE)): _private_uses(path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "internals.py" and _private_uses(path)
    }
    assert not offenders, (
        f"private keras-tuner/Keras API outside keras_nash/internals.py: {offenders}"
    )


def test_seed_zero_stays_zero_in_every_oracle():
    # keras-tuner's Oracle takes `seed or random.randint(1, 10000)`: keras_nash's oracles keep 0.
    from keras_nash.graph import Architecture
    from keras_nash.seed_models import simple_cnn
    from keras_nash.spaces import MacroSpace
    from keras_nash.tuners import DartsOracle, EgnasOracle, EnasOracle, NashOracle

    seed = Architecture.from_model(simple_cnn((8, 8, 3), 3, filters=(4, 4, 4)))
    oracles = [
        DartsOracle(epochs=1, seed=0),
        EgnasOracle(epochs=2, warmup_epochs=1, seed=0),
        EnasOracle(MacroSpace(num_layers=2, filters=4), epochs=1, seed=0),
        NashOracle(seed, seed=0),
    ]
    for oracle in oracles:
        assert (oracle.seed, oracle.get_state()["seed_state"]) == (0, 0), type(oracle).__name__
    assert DartsOracle(epochs=1, seed=None).seed > 0  # None: keras-tuner's random seed
    np.testing.assert_array_equal(
        DartsOracle(epochs=1, seed=0).alpha_normal, DartsOracle(epochs=1, seed=0).alpha_normal
    )
