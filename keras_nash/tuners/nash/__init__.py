"""NASH (Elsken et al. 2017): hill climbing over function-preserving network morphisms.

- `oracle`: `NashOracle`, the hill climb (incumbent, steps, the neighbours it issues).
- `tuner`: `NashTuner`, which applies a child's morphisms to its parent's weights and trains it.
- `data`: the search data's checks and the batches the tuner measures on.
"""

from keras_nash.tuners.nash.oracle import NashOracle
from keras_nash.tuners.nash.tuner import NashTuner

__all__ = ["NashOracle", "NashTuner"]
