"""keras-tuner Oracles and Tuners: one module per search method, pairing its Oracle and Tuner."""

from keras_nash.tuners.controller import Controller
from keras_nash.tuners.darts import DartsOracle, DartsTuner
from keras_nash.tuners.enas import EnasOracle, EnasTuner
from keras_nash.tuners.evolution import EvolutionOracle, EvolutionTuner
from keras_nash.tuners.nash import NashOracle, NashTuner
from keras_nash.tuners.supernet import SupernetOracle, SupernetTuner
