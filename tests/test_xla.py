"""`jit_compile` reaches NASH's children and ENAS's final networks. ENAS's shared steps stay
without XLA: XLA fails on the gradient of their `tf.switch_case` (TF 2.21 on CPU)."""

import keras_tuner
import numpy as np

from keras_nash import seed_models
from keras_nash.spaces import MacroSpace
from keras_nash.tuners.enas import EnasTuner
from keras_nash.tuners.nash import NashTuner

SPACE = MacroSpace(num_layers=2, filters=4, operations=("conv_3x3", "max_pool_3x3"))


def test_jit_compile_reaches_nash_children_and_enas_final_networks(tmp_path):
    seed = seed_models.simple_cnn((8, 8, 3), 3, filters=(4, 4, 4))
    nash = NashTuner(seed, jit_compile=True, directory=str(tmp_path), project_name="nash")
    assert nash.hypermodel.build(keras_tuner.HyperParameters()).jit_compile is True
    enas = EnasTuner(SPACE, num_classes=3, jit_compile=True, directory=str(tmp_path), project_name="enas")
    hp = keras_tuner.HyperParameters()
    hp.values[enas.key("arch")] = SPACE.random_architecture(np.random.default_rng(0)).to_json()
    hp.values[enas.key("input_shape")] = "[8, 8, 3]"
    assert enas.build_final_model(hp).jit_compile is True
    assert NashTuner(seed, directory=str(tmp_path), project_name="off").hypermodel.build(
        keras_tuner.HyperParameters()).jit_compile is False
