"""keras_nash: neural architecture search for Keras and TensorFlow.

NASH (hill climbing over network morphisms), ENAS (REINFORCE controller with shared
weights), EG-NAS (evolution strategy over DARTS architecture weights) and DARTS, as
keras-tuner Oracles and Tuners, with the Keras layers they are built from.
"""

__version__ = "0.1.0"
