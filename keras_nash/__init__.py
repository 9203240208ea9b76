"""keras_nash: neural architecture search for Keras and TensorFlow.

NASH (hill climbing over network morphisms), ENAS (REINFORCE controller with shared
weights), EG-NAS (evolution strategy over DARTS architecture weights) and DARTS, as
keras-tuner Oracles and Tuners, with the Keras layers they are built from.

Public API:
    NashTuner, NashOracle             NASH as a drop-in keras-tuner tuner
    EnasTuner, EnasOracle             ENAS: REINFORCE controller, shared weights
    (spaces.MacroSpace/MicroSpace)
    DartsTuner, DartsOracle           first-order DARTS on the cell supernet (spaces.DartsSpace)
    EgnasTuner, EgnasOracle           EG-NAS: evolution strategy over DARTS's alpha
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

import os

# TensorFlow's C++ start-up notices (oneDNN, CPU features) are INFO lines; keep its warnings and
# errors. A value the user set wins, and nothing changes once TensorFlow is loaded.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

# Importing the package registers every `.keras`-serialisable class (layers, networks,
# optimizers), so that after `import keras_nash` a plain `keras.saving.load_model(path)` loads an
# exported model, wherever keras_nash is imported from (the command line included).
from keras_nash import (  # noqa: E402
    datasets,
    export,
    graph,
    layers,
    morphisms,
    optimizers,
    precision,
    schedules,
    seed_models,
    spaces,
    tuners,
)
from keras_nash.graph import Architecture, Node, build_model  # noqa: E402
from keras_nash.spaces.darts import DARTS_V2, Genotype  # noqa: E402
from keras_nash.tuners import (  # noqa: E402
    DartsOracle,
    DartsTuner,
    EgnasOracle,
    EgnasTuner,
    EnasOracle,
    EnasTuner,
    NashOracle,
    NashTuner,
    SupernetOracle,
    SupernetTuner,
)
from keras_nash.tuners.egnas import EvolutionOracle, EvolutionTuner  # noqa: E402,F401  (deprecated)

__all__ = [
    "DARTS_V2",
    "Architecture",
    "DartsOracle",
    "DartsTuner",
    "EgnasOracle",
    "EgnasTuner",
    "EnasOracle",
    "EnasTuner",
    "Genotype",
    "NashOracle",
    "NashTuner",
    "Node",
    "SupernetOracle",
    "SupernetTuner",
    "build_model",
    "datasets",
    "export",
    "graph",
    "layers",
    "morphisms",
    "optimizers",
    "precision",
    "schedules",
    "seed_models",
    "spaces",
    "tuners",
]
