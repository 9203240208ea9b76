"""EG-NAS (Cai et al., AAAI 2024): an evolution strategy over DARTS's alpha, SGD on the weights.

- `oracle`: `EgnasOracle`, which holds alpha, sigma and the generations' history.
- `tuner`: `EgnasTuner`, which trains the supernet and scores each generation's population.
- `strategy`: the evolution strategy's arithmetic (sampling, fitness, the alpha update).
- `population`: scoring a population of alphas on one batch in one compiled call.

`EvolutionTuner` and `EvolutionOracle` are the names before 0.2, kept as deprecated aliases.
"""

from keras_nash.tuners.egnas.oracle import EGNAS_PRIMITIVES, EGNAS_SPACE, EgnasOracle
from keras_nash.tuners.egnas.tuner import EgnasTuner

EvolutionOracle = EgnasOracle  # deprecated alias (before 0.2): use EgnasOracle
EvolutionTuner = EgnasTuner  # deprecated alias (before 0.2): use EgnasTuner

__all__ = ["EGNAS_PRIMITIVES", "EGNAS_SPACE", "EgnasOracle", "EgnasTuner"]
