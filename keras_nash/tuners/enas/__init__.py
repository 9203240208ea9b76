"""ENAS (Pham et al. 2018): an LSTM controller trained by REINFORCE over a shared-weight model.

- `controller`: the controller (`Controller`); `programs`: its sampling programs per space.
- `oracle`: `EnasOracle`, which holds the controller's snapshot and picks the final architecture.
- `tuner`: `EnasTuner`, which trains the shared weights and the controller each search epoch.
- `steps`: the image spaces' compiled steps; `lm`: the language model's (the recurrent space).
- `settings`: the authors' training settings per space.
"""

from keras_nash.tuners.enas.controller import Controller
from keras_nash.tuners.enas.oracle import EnasOracle
from keras_nash.tuners.enas.tuner import EnasTuner

__all__ = ["Controller", "EnasOracle", "EnasTuner"]
