"""Each tuner's signature lists every search argument (as keras-tuner's `Hyperband` does), and
its defaults are the paper preset's."""

import inspect

import pytest

import keras_nash
from keras_nash.tuners.darts import presets as darts_presets
from keras_nash.tuners.egnas import presets as egnas_presets
from keras_nash.tuners.nash import presets as nash_presets

# Oracle arguments a tuner computes itself instead of taking them.
COMPUTED = {"self", "kwargs", "seed_architecture", "search_space", "controller_kwargs"}
PAIRS = [
    (keras_nash.NashTuner, keras_nash.NashOracle),
    (keras_nash.DartsTuner, keras_nash.DartsOracle),
    (keras_nash.EgnasTuner, keras_nash.EgnasOracle),
    (keras_nash.EnasTuner, keras_nash.EnasOracle),
]


def _parameters(function) -> dict:
    return dict(inspect.signature(function).parameters)


@pytest.mark.parametrize("tuner, oracle", PAIRS, ids=lambda c: c.__name__)
def test_a_tuner_names_every_argument_of_its_oracle(tuner, oracle):
    tuner_names = set(_parameters(tuner))
    wanted = set(_parameters(oracle.__init__)) - COMPUTED
    wanted |= {"max_retries_per_trial", "max_consecutive_failed_trials", "seed", "objective"}
    missing = sorted(wanted - tuner_names)
    assert not missing, f"{tuner.__name__} routes {missing} through **kwargs: list them"


@pytest.mark.parametrize(
    "tuner, paper",
    [
        (keras_nash.NashTuner, nash_presets.PAPER),
        (keras_nash.DartsTuner, darts_presets.PAPER),
        (keras_nash.EgnasTuner, egnas_presets.PAPER),
    ],
    ids=lambda x: getattr(x, "__name__", "paper"),
)
def test_signature_defaults_are_the_paper_preset(tuner, paper):
    parameters = _parameters(tuner)
    differ = {
        name: (parameters[name].default, value)
        for name, value in paper.items()
        if parameters[name].default != value
    }
    assert not differ, f"{tuner.__name__}: signature default vs presets.PAPER: {differ}"


@pytest.mark.parametrize(
    "tuner, short",
    [
        (keras_nash.NashTuner, nash_presets.SHORT),
        (keras_nash.DartsTuner, darts_presets.SHORT),
        (keras_nash.EgnasTuner, egnas_presets.SHORT),
    ],
    ids=lambda x: getattr(x, "__name__", "short"),
)
def test_short_preset_names_tuner_arguments(tuner, short):
    unknown = sorted(set(short) - set(_parameters(tuner)))
    assert not unknown, f"presets.SHORT names arguments {tuner.__name__} does not take: {unknown}"


def test_enas_presets_name_tuner_and_space_arguments():
    from keras_nash.spaces.enas import MacroSpace, MicroSpace, RecurrentSpace
    from keras_nash.tuners.enas import presets

    tuner = set(_parameters(keras_nash.EnasTuner))
    for space in ("macro", "micro", "recurrent"):
        assert set(presets.SHORT[space]) <= tuner
        assert set(presets.PAPER[space]) <= tuner
    spaces = {"macro": MacroSpace, "micro": MicroSpace, "recurrent": RecurrentSpace}
    for name, space in spaces.items():
        assert set(presets.SPACE_SHORT[name]) <= set(_parameters(space))


def test_an_argument_no_tuner_takes_is_refused(tmp_path):
    """**kwargs go to keras-tuner's Tuner only, which refuses what it does not know."""
    with pytest.raises(ValueError, match="n_neighbours"):
        keras_nash.DartsTuner(n_neighbours=3, directory=str(tmp_path))
