"""`jit_compile` reaches NASH's children and ENAS's final networks, and the cell searches' steps
see one batch shape under it (so XLA compiles each once). ENAS's shared steps stay without XLA:
XLA fails on the gradient of their `tf.switch_case` (TF 2.21 on CPU)."""

import keras_tuner
import numpy as np

from keras_nash import seed_models
from keras_nash.spaces import MacroSpace
from keras_nash.tuners.darts.tuner import DartsTuner
from keras_nash.tuners.egnas.tuner import EgnasTuner
from keras_nash.tuners.enas.tuner import EnasTuner
from keras_nash.tuners.nash.tuner import NashTuner
from tests.helpers import real_images

SPACE = MacroSpace(num_layers=2, filters=4, operations=("conv_3x3", "max_pool_3x3"))


def test_jit_compile_reaches_nash_children_and_enas_final_networks(tmp_path):
    seed = seed_models.simple_cnn((8, 8, 3), 3, filters=(4, 4, 4))
    nash = NashTuner(seed, jit_compile=True, directory=str(tmp_path), project_name="nash")
    assert nash.hypermodel.build(keras_tuner.HyperParameters()).jit_compile is True
    enas = EnasTuner(
        SPACE, num_classes=3, jit_compile=True, directory=str(tmp_path), project_name="enas"
    )
    hp = keras_tuner.HyperParameters()
    hp.values[enas.key("arch")] = SPACE.random_architecture(np.random.default_rng(0)).to_json()
    hp.values[enas.key("input_shape")] = "[8, 8, 3]"
    assert enas.build_final_model(hp).jit_compile is True
    assert (
        NashTuner(seed, directory=str(tmp_path), project_name="off")
        .hypermodel.build(keras_tuner.HyperParameters())
        .jit_compile
        is False
    )


class _RecordingDarts(DartsTuner):
    """Records the batch sizes each search step is called with."""

    shapes = []

    def create_search(self, trial, data):
        state = super().create_search(trial, data)
        step = state.search_step

        def recorded(x, y, x_val, y_val):
            self.shapes.append((int(x.shape[0]), int(x_val.shape[0])))
            return step(x, y, x_val, y_val)

        state.search_step = recorded
        return state


class _RecordingEvolution(EgnasTuner):
    """Records the batch size each population is scored on."""

    shapes = []

    def evaluate_population(self, state, x, y, *args):
        self.shapes.append(int(x.shape[0]))
        return super().evaluate_population(state, x, y, *args)


def test_cell_search_steps_see_full_batches_only_under_xla(tmp_path):
    # 50 training and 30 validation images in batches of 16 end in partial batches (2 and 14),
    # which XLA would compile the step again for. Under jit_compile every training batch and
    # every validation batch of the alpha step holds 16: 3 steps an epoch (the training order's
    # last 2 images dropped), the validation stream running on across its passes.
    x, y = real_images(50, 8, seed=0)
    x_val, y_val = real_images(30, 8, seed=1)
    cells = dict(
        cells=3,
        channels=4,
        steps=1,
        multiplier=1,
        primitives=("skip_connect", "max_pool_3x3"),
        final_cells=3,
        final_channels=4,
        seed=0,
        directory=str(tmp_path),
    )
    darts = _RecordingDarts(epochs=2, max_trials=2, jit_compile=True, project_name="darts", **cells)
    darts.search(x, y, validation_data=(x_val, y_val), batch_size=16, verbose=0)
    assert darts.shapes == [(16, 16)] * 6
    # EG-NAS's population is scored on a full validation batch (seed 0's first generation
    # draws the second batch: the partial one of 14 without full batches).
    egnas = _RecordingEvolution(
        epochs=2,
        warmup_epochs=1,
        population_size=4,
        max_trials=2,
        jit_compile=True,
        project_name="egnas",
        **cells,
    )
    egnas.search(x, y, validation_data=(x_val, y_val), batch_size=16, verbose=0)
    assert egnas.shapes == [16]
    # Without XLA the training batches are as given (the partial one included); the alpha steps'
    # validation batches come from the policy's stream, shuffled per epoch and regrouped across
    # passes (issue 28), so they are full.
    _RecordingDarts.shapes = []
    plain = _RecordingDarts(epochs=1, max_trials=1, project_name="plain", **cells)
    plain.search(x, y, validation_data=(x_val, y_val), batch_size=16, verbose=0)
    assert plain.shapes == [(16, 16), (16, 16), (16, 16), (2, 16)]
