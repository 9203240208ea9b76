"""keras-tuner Oracles and Tuners: one module per search method, pairing its Oracle and Tuner."""

from keras_nash.oracles.controller import Controller
from keras_nash.oracles.darts import DartsOracle, DartsTuner
from keras_nash.oracles.enas import EnasOracle, EnasTuner
from keras_nash.oracles.evolution import EvolutionOracle, EvolutionTuner
from keras_nash.oracles.nash import NashOracle, NashTuner
from keras_nash.oracles.supernet import SupernetOracle, SupernetTuner
