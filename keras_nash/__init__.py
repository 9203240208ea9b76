"""keras_nash: neural architecture search for Keras and TensorFlow.

NASH (hill climbing over network morphisms), ENAS (REINFORCE controller with shared
weights), EG-NAS (evolution strategy over DARTS architecture weights) and DARTS, as
keras-tuner Oracles and Tuners, with the Keras layers they are built from.

Public API:
    NashTuner, NashOracle             NASH as a drop-in keras-tuner tuner
    EnasTuner, EnasOracle             ENAS: REINFORCE controller, shared weights (spaces.MacroSpace/MicroSpace)
    DartsTuner, DartsOracle           first-order DARTS on the cell supernet (spaces.DartsSpace)
    EvolutionTuner, EvolutionOracle   EG-NAS: evolution strategy over DARTS's alpha
    Genotype, DARTS_V2                DARTS cells as data, the published DARTS_V2 genotype
    SupernetTuner, SupernetOracle     base classes: one trial per search epoch on a shared supernet
    Architecture, Node, build_model   networks as data (keras_nash.graph)
    morphisms, seed_models            function-preserving morphisms, the NASH seed network
    layers                            the Keras layer library
    datasets                          tf.data pipelines from tfds, .npz, arrays or the embedded data
    export                            export(model, directory): .keras, SavedModel, TFLite, JSON
    schedules                         cosine annealing per child (SGDR) and warm restarts
"""

__version__ = "0.1.0"

from keras_nash import datasets, layers, morphisms, schedules, seed_models  # noqa: E402
from keras_nash import export  # noqa: E402  (the module is callable: keras_nash.export(model, dir))
from keras_nash.graph import Architecture, Node, build_model  # noqa: E402
from keras_nash import spaces  # noqa: E402
from keras_nash.tuners.darts import DartsOracle, DartsTuner  # noqa: E402
from keras_nash.tuners.enas import EnasOracle, EnasTuner  # noqa: E402
from keras_nash.tuners.evolution import EvolutionOracle, EvolutionTuner  # noqa: E402
from keras_nash.tuners.nash import NashOracle, NashTuner  # noqa: E402
from keras_nash.tuners.supernet import SupernetOracle, SupernetTuner  # noqa: E402
from keras_nash.spaces.darts import DARTS_V2, Genotype  # noqa: E402
