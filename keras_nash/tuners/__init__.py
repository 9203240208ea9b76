"""keras-tuner Oracles and Tuners: one package per search method, pairing its Oracle and Tuner.

`nash/`, `darts/`, `egnas/` and `enas/`; `supernet/` is the machinery the last three share.
"""

from keras_nash.tuners.darts import DartsOracle, DartsTuner
from keras_nash.tuners.egnas import EgnasOracle, EgnasTuner
from keras_nash.tuners.enas import Controller, EnasOracle, EnasTuner
from keras_nash.tuners.nash import NashOracle, NashTuner
from keras_nash.tuners.supernet import SupernetOracle, SupernetTuner

__all__ = [
    "Controller",
    "DartsOracle",
    "DartsTuner",
    "EgnasOracle",
    "EgnasTuner",
    "EnasOracle",
    "EnasTuner",
    "NashOracle",
    "NashTuner",
    "SupernetOracle",
    "SupernetTuner",
]
