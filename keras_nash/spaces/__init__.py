"""Search spaces: the DARTS cell space and ENAS's macro, micro and recurrent spaces, as data.

One package per space family:

- `darts/`: `genotypes` (DARTS architectures as plain data and the space's settings,
  `DartsSpace`, `Genotype`, `DARTS_V2`, `derive_genotype`) and `networks` (the DARTS Keras
  networks, `DartsSearchNetwork`, `DartsEvalNetwork`).
- `enas/`: `architectures` (ENAS architectures as plain data), `shared` (what the spaces
  share, `EnasSpace`), `macro`, `micro` and `recurrent` (the spaces and their shared-weight
  models; the recurrent one a language model); the package itself holds `get_space`.

Spaces import only `keras_nash.layers`, `keras_nash.checks` and each other.
"""

from keras_nash.spaces.darts import (
    DARTS_V2,
    DartsEvalNetwork,
    DartsSearchNetwork,
    DartsSpace,
    DropPathSchedule,
    Genotype,
    check_alpha,
    derive_genotype,
)
from keras_nash.spaces.enas import (
    MACRO_OPERATIONS,
    MICRO_OPERATIONS,
    EnasSpace,
    MacroArchitecture,
    MacroSpace,
    MicroArchitecture,
    MicroSpace,
    RecurrentArchitecture,
    RecurrentSpace,
    architecture_from_json,
    get_space,
)

__all__ = [
    # DARTS (and EG-NAS): the cell space, its genotypes and networks.
    "DARTS_V2",
    "DartsEvalNetwork",
    "DartsSearchNetwork",
    "DartsSpace",
    "DropPathSchedule",
    "Genotype",
    "check_alpha",
    "derive_genotype",
    # ENAS: the macro, micro and recurrent spaces and their architectures.
    "EnasSpace",
    "MacroSpace",
    "MicroSpace",
    "RecurrentSpace",
    "MacroArchitecture",
    "MicroArchitecture",
    "RecurrentArchitecture",
    "MACRO_OPERATIONS",
    "MICRO_OPERATIONS",
    "architecture_from_json",
    "get_space",
]
