"""The DARTS cell search space (Liu et al. 2019): its settings, networks and architectures.

- From `keras_nash.spaces.darts.networks`: `DartsSearchNetwork` (the supernet with its
  architecture weights `alpha_normal`, `alpha_reduce`), `DartsEvalNetwork` (the network of a
  genotype, trained from scratch) and `DropPathSchedule`.
- From `keras_nash.spaces.darts.genotypes`: `DartsSpace` (the search space's settings in one place,
  what the supernet, the EG-NAS and the DARTS tuners share: alpha's shape and initialisation,
  genotypes derived from alpha or drawn at random), `Genotype` (architectures as plain data),
  `DARTS_V2`, `check_alpha`, `derive_genotype`.

Every name is importable from here, the DARTS space's one address.
"""

from keras_nash.spaces.darts.genotypes import (  # noqa: F401  (re-exported)
    DARTS_V2,
    GENOTYPE_SCHEMA_VERSION,
    DartsSpace,
    Genotype,
    check_alpha,
    check_cell_settings,
    derive_genotype,
    edge_weights,
)
from keras_nash.spaces.darts.networks import (  # noqa: F401  (re-exported)
    DartsEvalNetwork,
    DartsSearchNetwork,
    DropPathSchedule,
)

__all__ = [
    "DARTS_V2",
    "GENOTYPE_SCHEMA_VERSION",
    "DartsEvalNetwork",
    "DartsSearchNetwork",
    "DartsSpace",
    "DropPathSchedule",
    "Genotype",
    "check_alpha",
    "check_cell_settings",
    "derive_genotype",
    "edge_weights",
]
