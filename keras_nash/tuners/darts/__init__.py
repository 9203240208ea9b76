"""First-order DARTS (Liu et al. 2019): gradient steps on the architecture weights alpha.

- `oracle`: `DartsOracle`, which holds alpha and derives the genotype.
- `tuner`: `DartsTuner`, which alternates alpha and weight steps on the cell supernet.
"""

from keras_nash.tuners.darts.oracle import DartsOracle
from keras_nash.tuners.darts.tuner import DartsTuner

__all__ = ["DartsOracle", "DartsTuner"]
