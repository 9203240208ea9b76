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

import importlib
import os
import sys

# Public names, loaded on first use (PEP 562), so the command line answers `--help` and usage
# errors before TensorFlow loads.
_SUBMODULES = (
    "checks", "datasets", "export", "graph", "layers", "logs", "morphisms", "optimizers",
    "schedules", "seed_models", "spaces", "tuners",
)
_ATTRIBUTES = {
    "Architecture": "keras_nash.graph", "Node": "keras_nash.graph", "build_model": "keras_nash.graph",
    "DartsOracle": "keras_nash.tuners.darts", "DartsTuner": "keras_nash.tuners.darts",
    "EnasOracle": "keras_nash.tuners.enas", "EnasTuner": "keras_nash.tuners.enas",
    "EvolutionOracle": "keras_nash.tuners.evolution",
    "EvolutionTuner": "keras_nash.tuners.evolution",
    "NashOracle": "keras_nash.tuners.nash", "NashTuner": "keras_nash.tuners.nash",
    "SupernetOracle": "keras_nash.tuners.supernet", "SupernetTuner": "keras_nash.tuners.supernet",
    "DARTS_V2": "keras_nash.spaces.darts", "Genotype": "keras_nash.spaces.darts",
}
__all__ = sorted(_SUBMODULES + tuple(_ATTRIBUTES))


def __getattr__(name):
    if name in _SUBMODULES:
        value = importlib.import_module(f"keras_nash.{name}")
    elif name in _ATTRIBUTES:
        value = getattr(importlib.import_module(_ATTRIBUTES[name]), name)
    else:
        raise AttributeError(f"module 'keras_nash' has no attribute {name!r}")
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


def _imported_by_the_command_line() -> bool:
    """True while `python -m keras_nash` (Python sets `sys.argv[0]` to "-m" while it locates the
    module, i.e. while this package is imported) or the `keras-nash` script imports us."""
    argv0 = sys.argv[0] if sys.argv else ""
    return argv0 == "-m" or os.path.basename(argv0).split(".")[0] == "keras-nash"


if not _imported_by_the_command_line():
    # Register every `.keras`-serialisable class (layers, networks, optimizers), so that after
    # `import keras_nash` a plain `keras.saving.load_model(path)` loads exported models. The
    # command line skips this: it imports what it needs after its flags are checked.
    from keras_nash import layers, optimizers, spaces  # noqa: E402,F401
