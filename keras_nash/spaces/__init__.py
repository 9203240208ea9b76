"""Search spaces: ENAS's macro, micro and recurrent spaces and the DARTS cell space, as data.

Modules, one concept each:

- `genotypes`: DARTS architectures as plain data (`Genotype`, `DARTS_V2`, `derive_genotype`).
- `darts_networks`: the DARTS Keras networks (`DartsSearchNetwork`, `DartsEvalNetwork`).
- `darts`: the DARTS space's settings (`DartsSpace`) and the address of every DARTS name.
- `enas_architectures`: ENAS architectures as plain data (`MacroArchitecture`,
  `MicroArchitecture`, `RecurrentArchitecture`).
- `enas_shared`, `enas_macro`, `enas_micro`, `enas_recurrent`: the ENAS spaces and their
  shared-weight models (the recurrent one a language model).
- `enas`: the address of every ENAS name, and `get_space`.

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
    "DARTS_V2", "DartsEvalNetwork", "DartsSearchNetwork", "DartsSpace", "DropPathSchedule",
    "Genotype", "check_alpha", "derive_genotype",
    # ENAS: the macro, micro and recurrent spaces and their architectures.
    "EnasSpace", "MacroSpace", "MicroSpace", "RecurrentSpace", "MacroArchitecture",
    "MicroArchitecture", "RecurrentArchitecture", "MACRO_OPERATIONS", "MICRO_OPERATIONS",
    "architecture_from_json", "get_space",
]
