"""The epoch-trial machinery shared by DARTS, EG-NAS and ENAS: one trial per search epoch on a
shared supernet, then one final network trained from scratch.

- `oracle`: `SupernetOracle` (issues the epoch trials and the final one; holds the policy).
- `tuner`: `SupernetTuner` (runs them: weight inheritance through checkpoints, the final fit).
- `loop`: the one training loop of a search epoch (`EpochLoop`, `SearchState`, the steps).
- `data`: a search's data (`SearchData`: training and validation streams, batch sizes).
- `cells`: `CellSearch`, the base of the two DARTS-cell searches (DARTS and EG-NAS).
"""

from keras_nash.tuners.supernet.oracle import SupernetOracle
from keras_nash.tuners.supernet.tuner import SupernetTuner

__all__ = ["SupernetOracle", "SupernetTuner"]
