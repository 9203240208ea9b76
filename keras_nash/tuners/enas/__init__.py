"""ENAS (Pham et al. 2018): an LSTM controller trained by REINFORCE over a shared-weight model.

- `controller`: the controller (`Controller`); `programs`: its sampling programs per space.
- `oracle`: `EnasOracle`, which holds the controller's snapshot and picks the final architecture.
- `tuner`: `EnasTuner`, which trains the shared weights and the controller each search epoch
  (the image spaces); `language_model`: `EnasLanguageModelTuner`, the recurrent space's.
- `steps`: the image spaces' compiled steps; `lm`: the language model's (the recurrent space).
- `presets`: the authors' training settings per space, and the short and paper presets.
"""

from keras_nash.tuners.enas.controller import Controller
from keras_nash.tuners.enas.oracle import EnasOracle
from keras_nash.tuners.enas.language_model import EnasLanguageModelTuner
from keras_nash.tuners.enas.tuner import EnasTuner

__all__ = ["Controller", "EnasLanguageModelTuner", "EnasOracle", "EnasTuner"]
