"""Search spaces: ENAS's macro and micro spaces and the DARTS cell space, architectures as data."""

from keras_nash.spaces.darts import (
    DARTS_V2,
    DartsEvalNetwork,
    DartsSearchNetwork,
    DartsSpace,
    Genotype,
    derive_genotype,
)
from keras_nash.spaces.enas import (
    MacroArchitecture,
    MacroSpace,
    MicroArchitecture,
    MicroSpace,
    architecture_from_json,
)
