"""Every public layer of keras_nash.layers survives a `.keras` round trip in a functional model.

Each case places one layer (or one `OPS` entry) in a small functional `keras.Model` on 8x8
images with 4 channels, gives every weight a random non-trivial value (so a weight that is not
restored shows), saves to `.keras`, reloads with plain `keras.saving.load_model(path)` (safe
mode, no `custom_objects`) and compares the inference outputs on the same inputs. No warning
about unbuilt state (or a `build()` that is missing) may be raised on the way.
"""

import inspect
import warnings

import keras
import numpy as np
import pytest

import keras_nash.layers
from keras_nash.layers import (
    OPS,
    AuxiliaryHead,
    ConvBNReLU,
    Cutout,
    DilConv,
    DiracInitializer,
    DropPath,
    FactorizedReduce,
    FixedCell,
    FusedBatchNorm,
    Identity,
    LambdaSum,
    MixedOp,
    PoolBN,
    ReLUConvBN,
    SearchCell,
    SepConv,
    Zero,
)
from keras_nash.layers.cells import n_edges

SIZE, CHANNELS, BATCH = 8, 4, 2
ATOL = RTOL = 1e-6
SMALL_OPS = ("none", "max_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3")
CELL_OPS = ("none", "avg_pool_3x3", "skip_connect", "dil_conv_3x3")  # fewer: 5 edges each
BUILD_WARNINGS = ("unbuilt state", "build()")


def _image(channels=CHANNELS, size=SIZE, name=None):
    return keras.Input((size, size, channels), name=name)


def _single(layer_fn):
    def build():
        inputs = _image()
        return [inputs], layer_fn()(inputs)

    return build


def _mixed_op():
    inputs = _image()
    weights = keras.Input(batch_shape=(len(SMALL_OPS),), name="weights")
    return [inputs, weights], MixedOp(CHANNELS, 2, primitives=SMALL_OPS, partial_channels=2)(
        inputs, weights
    )


def _search_cell():
    s0 = _image(channels=3, size=2 * SIZE, name="s0")
    s1 = _image(name="s1")
    weights = keras.Input(batch_shape=(n_edges(2), len(CELL_OPS)), name="weights")
    cell = SearchCell(
        CHANNELS, reduction=True, reduction_prev=True, steps=2, multiplier=2, primitives=CELL_OPS
    )
    return [s0, s1, weights], cell(s0, s1, weights)


def _fixed_cell():
    s0, s1 = _image(channels=3, name="s0"), _image(name="s1")
    drop_prob = keras.Input(batch_shape=(1,), name="drop_prob")
    cell = FixedCell(
        CHANNELS,
        [["skip_connect", 0], ["sep_conv_3x3", 1], ["dil_conv_3x3", 2], ["max_pool_3x3", 0]],
        concat=[2, 3],
        reduction=True,
        seed=0,
    )
    return [s0, s1, drop_prob], cell(s0, s1, drop_prob)


def _lambda_sum():
    f, h = _image(name="f"), _image(name="h")
    return [f, h], LambdaSum(0.7)([f, h])


def _dirac_conv():
    inputs = _image()
    conv = keras.layers.Conv2D(
        CHANNELS, 3, padding="same", kernel_initializer=DiracInitializer(), name="dirac_conv"
    )
    return [inputs], conv(inputs)


# One case per class exported by keras_nash.layers (checked below).
CASES = {
    "AuxiliaryHead": _single(lambda: AuxiliaryHead(3)),
    "FixedCell": _fixed_cell,
    "SearchCell": _search_cell,
    "MixedOp": _mixed_op,
    "ConvBNReLU": _single(lambda: ConvBNReLU(CHANNELS, 3, identity_init=True)),
    "Cutout": _single(lambda: Cutout(4, seed=3)),
    "DropPath": _single(lambda: DropPath(0.3, seed=3)),
    "DiracInitializer": _dirac_conv,
    "LambdaSum": _lambda_sum,
    "DilConv": _single(lambda: DilConv(CHANNELS, 3, strides=2)),
    "FactorizedReduce": _single(lambda: FactorizedReduce(6, affine=False)),
    "FusedBatchNorm": _single(lambda: FusedBatchNorm(momentum=0.9, epsilon=1e-5)),
    "Identity": _single(Identity),
    "PoolBN": _single(lambda: PoolBN("avg", strides=2, affine=False)),
    "ReLUConvBN": _single(lambda: ReLUConvBN(6, 3, strides=2)),
    "SepConv": _single(lambda: SepConv(CHANNELS, 5)),
    "Zero": _single(lambda: Zero(2)),
}
for _name in sorted(OPS):
    for _strides in (1, 2):
        CASES[f"OPS[{_name}]@{_strides}"] = _single(
            lambda name=_name, strides=_strides: OPS[name](CHANNELS, strides, False)
        )


def test_every_exported_class_has_a_case():
    exported = {
        name
        for name, value in vars(keras_nash.layers).items()
        if inspect.isclass(value) and not name.startswith("_")
    }
    assert exported == {name for name in CASES if not name.startswith("OPS[")}


def _randomise(model, seed=0):
    """Every weight uniform in [0.5, 1.5]: positive variances, nothing left at its initial value."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype(variable.dtype))


def _feed(inputs, seed=1):
    """Random inputs: image inputs get a batch of `BATCH`, fixed-shape inputs their own shape."""
    rng = np.random.default_rng(seed)
    shapes = [
        (BATCH,) + tuple(i.shape[1:]) if i.shape[0] is None else tuple(i.shape) for i in inputs
    ]
    return [rng.uniform(0.0, 1.0, shape).astype("float32") for shape in shapes]


@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip_in_a_functional_model(case, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inputs, outputs = CASES[case]()
        model = keras.Model(inputs, outputs)
        _randomise(model)
        feed = _feed(inputs)
        if case == "FixedCell":
            feed[2] = np.full((1,), 0.3, "float32")
        expected = keras.ops.convert_to_numpy(model(feed, training=False))
        path = str(tmp_path / "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        actual = keras.ops.convert_to_numpy(loaded(feed, training=False))
    build_warnings = [
        str(w.message) for w in caught if any(text in str(w.message) for text in BUILD_WARNINGS)
    ]
    assert not build_warnings, build_warnings
    assert len(loaded.weights) == len(model.weights)
    if case == "DiracInitializer":
        assert isinstance(loaded.get_layer("dirac_conv").kernel_initializer, DiracInitializer)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, atol=ATOL, rtol=RTOL)
