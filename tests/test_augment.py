"""`Cutout`: one square hole per training image, where its seed puts it, as DARTS cuts it."""

import keras
import numpy as np
import pytest

from keras_nash.layers import Cutout
from keras_nash.spaces import DARTS_V2, DartsEvalNetwork


def _expected_holes(seed, batch, size, length):
    """DARTS's `Cutout` (utils.py) with the centres the layer's seed draws: rows then columns."""
    generator = keras.random.SeedGenerator(seed)
    rows = keras.random.uniform((batch, 1), 0.0, 1.0, seed=generator)
    columns = keras.random.uniform((batch, 1), 0.0, 1.0, seed=generator)
    masks = np.ones((batch, size, size), "float32")
    for i in range(batch):
        y = int(np.floor(float(rows[i, 0]) * size))
        x = int(np.floor(float(columns[i, 0]) * size))
        y1, y2 = np.clip([y - length // 2, y + length // 2], 0, size)
        x1, x2 = np.clip([x - length // 2, x + length // 2], 0, size)
        masks[i, y1:y2, x1:x2] = 0.0
    return masks


def test_the_hole_is_where_the_seed_puts_it_and_of_the_right_size():
    images = np.random.default_rng(0).uniform(0.5, 1.0, (6, 32, 32, 3)).astype("float32")
    out = keras.ops.convert_to_numpy(Cutout(16, seed=7)(images, training=True))
    expected = _expected_holes(7, 6, 32, 16)
    np.testing.assert_array_equal(out, images * expected[..., None])
    zeroed = (out == 0).all(axis=-1)
    for i in range(6):
        rows, columns = np.nonzero(zeroed[i])
        # One rectangle, at most 16 x 16 (smaller only where it is clipped at a border).
        height, width = rows.max() - rows.min() + 1, columns.max() - columns.min() + 1
        assert zeroed[i].sum() == height * width
        assert height <= 16 and width <= 16
        assert height == 16 or rows.min() == 0 or rows.max() == 31
        assert width == 16 or columns.min() == 0 or columns.max() == 31


def test_holes_differ_per_image_and_per_call_and_repeat_with_the_seed():
    images = np.ones((4, 16, 16, 1), "float32")
    layer = Cutout(4, seed=3)
    first, second = (keras.ops.convert_to_numpy(layer(images, training=True)) for _ in range(2))
    assert not np.array_equal(first, second)
    assert len({first[i].tobytes() for i in range(4)}) > 1
    again = keras.ops.convert_to_numpy(Cutout(4, seed=3)(images, training=True))
    np.testing.assert_array_equal(first, again)


def test_only_in_training():
    images = np.ones((2, 8, 8, 3), "float32")
    layer = Cutout(16, seed=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images)), images)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images, training=False)), images)
    # A 16-pixel hole on an 8x8 image covers it whatever the centre.
    assert not keras.ops.convert_to_numpy(layer(images, training=True)).any()


def test_bad_length_is_named():
    with pytest.raises(ValueError, match="`length` must be an int >= 1. Received: length=0"):
        Cutout(0)


def test_final_network_cuts_its_training_inputs_only():
    net = DartsEvalNetwork(
        DARTS_V2, cells=3, channels=4, auxiliary_weight=0, cutout_length=8, seed=1
    )
    assert net.get_config()["cutout_length"] == 8
    x = np.random.default_rng(0).uniform(0, 1, (2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(net(x), net(x), atol=0)  # inference: no hole, deterministic
    plain = DartsEvalNetwork(DARTS_V2, cells=3, channels=4, auxiliary_weight=0, seed=1)
    assert plain.cutout is None and net.cutout.length == 8
