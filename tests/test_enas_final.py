"""ENAS's final micro network as the authors train it: more cells, an auxiliary head weighted
0.4 after the cell that follows the second reduction, and drop-path on every operation but the
identity, scaled by the cell's depth and ramped over training (`DropPath`, `DropPathSchedule`)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nash import export
from keras_nash.layers import DropPath
from keras_nash.spaces import MacroSpace, MicroArchitecture, MicroSpace
from keras_nash.spaces.darts import DropPathSchedule
from keras_nash.spaces.enas.shared import AuxiliaryNetwork
from keras_nash.tuners.enas.tuner import EnasTuner

SPACE = MicroSpace(num_cells=3, num_blocks=2, filters=4, stem_multiplier=1)
CELL = ((0, 1, "sep_conv_3x3", "skip_connect"), (2, 0, "max_pool_3x3", "skip_connect"))
ARCH = MicroArchitecture(normal=CELL, reduce=CELL)
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _images(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, 16, 16, 3)).astype("float32"), np.arange(n) % 3


def test_drop_path_drops_whole_examples_at_the_scheduled_rate():
    x = np.ones((4000, 2, 2, 1), "float32")
    layer = DropPath(0.3, seed=7)
    out = keras.ops.convert_to_numpy(layer(x, training=True))
    kept = out[:, 0, 0, 0] > 0
    assert np.all(out == out[:, :1, :1, :1])  # a whole example is kept or dropped
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    assert abs(1 - kept.mean() - 0.3) < 0.03  # 4000 draws: 3 standard deviations is 0.022
    np.testing.assert_array_equal(layer(x), x)  # inference: unchanged
    model = keras.Sequential([keras.Input((2, 2, 1)), layer])
    schedule = DropPathSchedule(epochs=4)
    schedule.set_model(model)
    schedule.on_epoch_begin(1)
    assert float(layer.progress) == 0.25
    out = keras.ops.convert_to_numpy(layer(x, training=True))
    np.testing.assert_allclose(out[out > 0], 1 / (1 - 0.3 * 0.25), rtol=1e-6)
    with pytest.raises(ValueError, match=r"`rate` must be in \[0, 1\)"):
        DropPath(1.0)


def test_micro_final_network_has_more_cells_drop_path_and_the_auxiliary_head():
    model = SPACE.build_child_model(
        ARCH, (16, 16, 3), 3, cells=5, auxiliary_weight=0.4, drop_path_prob=0.5, seed=1
    )
    assert isinstance(model, AuxiliaryNetwork) and model.name == "enas_micro_child"
    body = model.body
    names = [layer.name for layer in body.layers]
    assert "cell4_out_bn" in names and "cell5_out_bn" not in names  # 5 cells
    shapes = [tuple(body.get_layer(f"cell{c}_out_bn").output.shape[1:]) for c in range(5)]
    assert shapes == [(16, 16, 4), (8, 8, 8), (8, 8, 8), (4, 4, 16), (4, 4, 16)]  # reductions
    # at 5 // 3 and 2 * 5 // 3
    drops = {layer.name: layer.rate for layer in body.layers if isinstance(layer, DropPath)}
    # per cell: sep_conv_3x3 and max_pool_3x3 are dropped, the two skip_connect slots are not
    assert len(drops) == 2 * 5
    assert set(drops) == {f"cell{c}_b{b}_s0_drop_path" for c in range(5) for b in range(2)}
    for c in range(5):
        assert drops[f"cell{c}_b0_s0_drop_path"] == pytest.approx(0.5 * (c + 1) / 5)
    # the auxiliary head reads the cell after the second reduction (cells 1 and 3: cell 4)
    head = body.get_layer("auxiliary_head")
    assert head.input is body.get_layer("cell4_out_bn").output


def test_auxiliary_loss_is_added_in_training_only_and_exports_skip_the_head(tmp_path):
    model = SPACE.build_child_model(ARCH, (16, 16, 3), 3, auxiliary_weight=0.4, seed=1)
    x, y = _images()
    model.compile(optimizer="sgd", loss=LOSS)
    logits = model(x, training=True)
    loss = model.compute_loss(x, y, logits, training=True)
    main, auxiliary = model.body(x, training=True)
    np.testing.assert_allclose(main, logits, rtol=1e-5, atol=1e-6)
    expected = float(LOSS(y, main)) + 0.4 * float(LOSS(y, auxiliary))
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    model(x, training=False)
    assert float(model.compute_loss(x, y, model(x), training=False)) == pytest.approx(
        float(LOSS(y, model(x))), rel=1e-6
    )
    np.testing.assert_allclose(model(x), model.body(x)[0], rtol=1e-5, atol=1e-6)
    path = tmp_path / "final.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded, AuxiliaryNetwork) and reloaded.auxiliary_weight == 0.4
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    # raw images in, the standardisation built in (as the command line exports)
    preprocessing = {"dtype": "uint8", "scale": 1 / 255, "mean": [0.5] * 3, "std": [0.25] * 3}
    export.export(
        model, tmp_path / "exported", formats=["keras", "saved_model"], preprocessing=preprocessing
    )
    raw = np.round((x * 0.25 + 0.5) * 255)
    loaded = tf.saved_model.load(str(tmp_path / "exported" / "saved_model"))  # kept alive
    served = loaded.serve(raw.astype("uint8"))
    np.testing.assert_allclose(
        served, model.predict((raw / 255 - 0.5) / 0.25, verbose=0), rtol=1e-4, atol=1e-4
    )


def test_macro_networks_refuse_the_micro_extras():
    space = MacroSpace(num_layers=2, filters=4)
    arch = space.random_architecture(np.random.default_rng(0))
    with pytest.raises(ValueError, match="macro space's networks take no `cells`"):
        space.build_child_model(arch, (8, 8, 3), 3, auxiliary_weight=0.4)
    with pytest.raises(
        ValueError, match="macro space's networks take no `final_cells`.*final_cells=17"
    ):
        EnasTuner(space, final_cells=17)
    with pytest.raises(ValueError, match=r"`drop_path_prob` must be in \[0, 1\)"):
        EnasTuner(SPACE, drop_path_prob=1.0)
    with pytest.raises(
        ValueError, match="`final_cells` must be an int >= 3. Received: final_cells=2"
    ):
        EnasTuner(SPACE, final_cells=2)


def test_the_tuner_trains_the_authors_micro_final_network(tmp_path):
    tuner = EnasTuner(
        SPACE,
        num_classes=3,
        final_epochs=2,
        final_cells=4,
        final_filters=6,
        directory=str(tmp_path),
        project_name="final",
        seed=1,
    )
    assert (tuner.auxiliary_weight, tuner.drop_path_prob) == (0.4, 0.4)  # the authors' values
    macro = EnasTuner(
        MacroSpace(num_layers=2, filters=4), directory=str(tmp_path), project_name="m"
    )
    assert (macro.auxiliary_weight, macro.drop_path_prob, macro.final_cells) == (0.0, 0.0, None)
    hp = keras_tuner_hp(tuner, ARCH)
    model = tuner.build_final_model(hp)
    assert isinstance(model, AuxiliaryNetwork)
    assert "cell3_out_bn" in [layer.name for layer in model.body.layers]
    schedules = [c for c in tuner.final_callbacks(hp) if isinstance(c, DropPathSchedule)]
    assert [s.epochs for s in schedules] == [2]
    x, y = _images(16)
    history = model.fit(
        x, y, epochs=2, batch_size=8, callbacks=tuner.final_callbacks(hp), verbose=0
    )
    assert np.isfinite(history.history["loss"]).all()
    drops = [layer for layer in model.body.layers if isinstance(layer, DropPath)]
    assert drops and all(float(layer.progress) == 0.5 for layer in drops)  # epoch 1 of 2


def keras_tuner_hp(tuner, arch):
    """The hyperparameters of a final trial of `arch` on 16x16x3 images."""
    import json

    import keras_tuner

    hp = keras_tuner.HyperParameters()
    hp.values[tuner.key("arch")] = arch.to_json()
    hp.values[tuner.key("input_shape")] = json.dumps([16, 16, 3])
    return hp
