"""keras-tuner Oracles and Tuners: one module per search method, pairing its Oracle and Tuner."""

from keras_nash.oracles.controller import Controller
from keras_nash.oracles.enas import EnasOracle, EnasTuner
from keras_nash.oracles.nash import NashOracle, NashTuner
