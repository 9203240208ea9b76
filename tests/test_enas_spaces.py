"""ENAS spaces: architecture data, one trace for every architecture, children equal to the shared
model."""

import ast
import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nash.spaces import enas
from keras_nash.spaces.enas import (
    MACRO_OPERATIONS,
    MICRO_OPERATIONS,
    MacroArchitecture,
    MacroSpace,
    MicroArchitecture,
    MicroSpace,
    architecture_from_json,
    get_space,
)
from keras_nash.tuners.enas.steps import make_steps

SHAPE = (8, 8, 3)
MACRO = MacroSpace(num_layers=4, filters=4)
MICRO = MicroSpace(num_cells=3, num_blocks=2, filters=4, stem_multiplier=1)


def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n,) + SHAPE).astype("float32"), rng.integers(0, 3, n).astype("int32")


@pytest.mark.parametrize("space", [MACRO, MICRO], ids=["macro", "micro"])
def test_json_and_encoding_round_trip(space):
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.random_architecture(rng)
        text = arch.to_json()
        assert json.loads(text)["schema_version"] == 1
        assert architecture_from_json(text) == arch
        assert type(arch).from_json(text) == arch
        assert space.decode(space.encode(arch)) == arch


def test_validation_names_the_field():
    with pytest.raises(ValueError, match=r"skips\[2\]"):
        MacroArchitecture(("conv_3x3",) * 3, ((), (1,), (1,)))
    with pytest.raises(ValueError, match="skips"):
        MacroArchitecture(("conv_3x3",) * 2, ((),))
    with pytest.raises(ValueError, match=r"normal\[1\]` input 1"):
        MicroArchitecture(
            ((0, 1, "skip_connect", "skip_connect"), (3, 0, "skip_connect", "skip_connect")),
            ((0, 1, "skip_connect", "skip_connect"),) * 2,
        )
    # A block that is not a 4-tuple (a number, or 3 values) is named, not a TypeError.
    for bad in (7, (0, 1, "skip_connect")):
        with pytest.raises(
            ValueError, match=r"`reduce\[0\]` must be \(input_1, input_2, op_1, op_2\)"
        ):
            MicroArchitecture(((0, 1, "skip_connect", "skip_connect"),), (bad,))
    with pytest.raises(ValueError, match="schema_version"):
        architecture_from_json(
            json.dumps({"space": "macro", "schema_version": 7, "ops": [], "skips": []})
        )
    with pytest.raises(ValueError, match="space="):
        architecture_from_json(json.dumps({"space": "meso"}))
    with pytest.raises(ValueError, match="ops"):
        MACRO.validate(MacroArchitecture(("dil_conv_3x3",) * 4, ((), (0,), (0, 0), (0, 0, 0))))
    with pytest.raises(ValueError, match="4 layers"):
        MACRO.validate(MacroArchitecture(("conv_3x3",), ((),)))
    with pytest.raises(ValueError, match=r"normal\[0\]"):
        MICRO.validate(
            MicroArchitecture(
                ((0, 1, "conv_3x3", "skip_connect"),) * 2,
                ((0, 1, "skip_connect", "skip_connect"),) * 2,
            )
        )


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: MacroSpace(num_layers=0), "num_layers=0"),
        (lambda: MacroSpace(filters=1), "filters=1"),
        (lambda: MicroSpace(num_blocks=0), "num_blocks=0"),
        (lambda: MacroSpace(operations=("conv_3x3", "bogus")), "operations="),
        (lambda: get_space("meso"), "search_space='meso'"),
        (lambda: get_space(["macro"]), r"search_space=\['macro'\]"),
        (
            lambda: MACRO.build_child_model(
                MACRO.random_architecture(np.random.default_rng(0)), SHAPE, 1
            ),
            "num_classes=1",
        ),
        (lambda: MICRO.decode([0, 0, 0, 9] + [0] * 12), r"`vector\[3\]` \(an operation\)"),
        (lambda: MACRO.decode([0] * 3), "10 decisions"),
    ],
)
def test_bad_space_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("space", [MACRO, MICRO], ids=["macro", "micro"])
def test_one_trace_for_100_architectures_and_children_match(space, tmp_path):
    x, y = _data()
    shared = space.build_shared_model(SHAPE, 3)
    optimizer = keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True)
    optimizer.build(shared.trainable_variables)
    counts = {"train_step": 0, "eval_step": 0}
    train_step, eval_step = make_steps(
        shared,
        optimizer,
        tf.TensorSpec((None,) + SHAPE),
        tf.TensorSpec((None,), tf.int32),
        tf.TensorSpec([space.num_decisions], tf.int32),
        trace_counts=counts,
    )
    rng = np.random.default_rng(1)
    archs = [space.random_architecture(rng) for _ in range(100)]
    assert len({a.to_json() for a in archs}) > 90
    for i, arch in enumerate(archs):
        batch = slice(8 * (i % 2), 8 * (i % 2) + 8)
        loss, _ = train_step(x[batch], y[batch], tf.constant(space.encode(arch)))
        eval_step(x[:4], y[:4], tf.constant(space.encode(arch)))
    assert counts == {"train_step": 1, "eval_step": 1}
    assert np.isfinite(float(loss))

    # The trained shared weights (batch norm statistics included) copied into fixed children.
    for arch in archs[:3]:
        child = space.build_child_model(arch, SHAPE, 3)
        space.copy_shared_weights(shared, child, arch)
        expected = shared((x, tf.constant(space.encode(arch))), training=False).numpy()
        np.testing.assert_allclose(child(x, training=False).numpy(), expected, atol=1e-5, rtol=0)
        assert len(child.trainable_weights) < len(shared.trainable_weights)
    path = str(tmp_path / "child.keras")
    child.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, atol=1e-5, rtol=0)


def test_macro_reduces_at_fixed_layers():
    space = MacroSpace(num_layers=12, filters=4)
    assert space.pool_layers == (3, 7)
    assert MicroSpace(num_cells=8).reduction_cells == (2, 5)
    model = MacroSpace(num_layers=3, filters=4).build_child_model(
        MacroArchitecture(("conv_3x3",) * 3, ((), (1,), (1, 1))), (16, 16, 3), 10
    )
    assert model.output_shape == (None, 10)
    assert any(layer.name.startswith("pool0_reduce") for layer in model.layers)


@pytest.mark.parametrize("space", [MACRO, MICRO], ids=["macro", "micro"])
def test_config_round_trip(space):
    config = space.get_config()
    assert json.loads(json.dumps(config)) == config
    again = get_space(config)
    assert type(again) is type(space) and again.get_config() == config
    assert get_space(space) is space
    assert get_space(space.name).operations == (
        MACRO_OPERATIONS if space is MACRO else MICRO_OPERATIONS
    )


def test_enas_module_still_exports_every_name():
    for name in (
        "MacroArchitecture",
        "MicroArchitecture",
        "MacroSpace",
        "MicroSpace",
        "architecture_from_json",
        "get_space",
        "MACRO_OPERATIONS",
        "MICRO_OPERATIONS",
        "SCHEMA_VERSION",
    ):
        assert hasattr(enas, name), name


def test_spaces_import_only_layers_checks_and_each_other():
    allowed = ("keras_nash.layers", "keras_nash.checks", "keras_nash.spaces")
    package = pathlib.Path(enas.__file__).parent
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("keras_nash"):
                    assert name.startswith(allowed), f"{path.name} imports {name}"
