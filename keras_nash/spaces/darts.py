"""The DARTS cell search space (Liu et al. 2019): its settings, networks and architectures.

- `DartsSpace`: the search space's settings in one place (what the EG-NAS and DARTS tuners
  share): it builds the supernet and derives genotypes from alpha.
- From `keras_nash.spaces.darts_networks`: `DartsSearchNetwork` (the supernet with its
  architecture weights `alpha_normal`, `alpha_reduce`), `DartsEvalNetwork` (the network of a
  genotype, trained from scratch) and `DropPathSchedule`.
- From `keras_nash.spaces.genotypes`: `Genotype` (architectures as plain data), `DARTS_V2`,
  `check_alpha`, `derive_genotype`.

Every name is importable from here, the DARTS space's one address.
"""

import dataclasses

import numpy as np

from keras_nash.checks import check_int
from keras_nash.layers.cells import n_edges
from keras_nash.layers.ops import PRIMITIVES
from keras_nash.spaces.darts_networks import (  # noqa: F401  (re-exported)
    DartsEvalNetwork,
    DartsSearchNetwork,
    DropPathSchedule,
)
from keras_nash.spaces.genotypes import (  # noqa: F401  (re-exported)
    DARTS_V2,
    GENOTYPE_SCHEMA_VERSION,
    Genotype,
    _parse_cell,
    _softmax,
    check_alpha,
    check_cell_settings,
    derive_genotype,
    edge_weights,
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


@dataclasses.dataclass(frozen=True)
class DartsSpace:
    """The DARTS cell search space's settings, shared by the DARTS and EG-NAS tuners.

    Args:
        cells: int >= 3, supernet cells. Defaults to 8.
        channels: int >= 1, supernet initial channels. Defaults to 16.
        steps: int >= 1, intermediate nodes per cell. Defaults to 4.
        multiplier: int in `[1, steps]`, nodes concatenated per cell. Defaults to 4.
        stem_multiplier: int >= 1. Defaults to 3.
        primitives: tuple of str. Defaults to `PRIMITIVES`.
        partial_channels: int, PC-DARTS's `k`, dividing `channels`. Defaults to 1.
        edge_normalization: bool, PC-DARTS's edge normalisation (betas per edge; see
            `DartsSearchNetwork`). Defaults to False (DARTS; EG-NAS as its authors run it).

    Example:

    >>> import numpy as np
    >>> from keras_nash.spaces import DartsSpace
    >>> space = DartsSpace(cells=5, channels=8)
    >>> space.alpha_shape
    (14, 8)
    >>> alpha_normal, alpha_reduce = space.initial_alpha(np.random.default_rng(0))
    >>> len(space.derive(alpha_normal, alpha_reduce).normal)
    8
    """

    cells: int = 8
    channels: int = 16
    steps: int = 4
    multiplier: int = 4
    stem_multiplier: int = 3
    primitives: tuple = PRIMITIVES
    partial_channels: int = 1
    edge_normalization: bool = False

    def __post_init__(self):
        primitives, steps, multiplier = check_cell_settings(
            self.primitives, self.steps, self.multiplier
        )
        checked = {
            "primitives": primitives,
            "steps": steps,
            "multiplier": multiplier,
            "cells": check_int("cells", self.cells, minimum=3),
            "channels": check_int("channels", self.channels, minimum=1),
            "stem_multiplier": check_int("stem_multiplier", self.stem_multiplier, minimum=1),
            "partial_channels": check_int("partial_channels", self.partial_channels, minimum=1),
            "edge_normalization": bool(self.edge_normalization),
        }
        for field, value in checked.items():
            object.__setattr__(self, field, value)
        if self.channels % self.partial_channels:
            raise ValueError(
                "`partial_channels` must divide `channels`. "
                f"Received: channels={self.channels}, partial_channels={self.partial_channels}"
            )

    @property
    def alpha_shape(self) -> tuple:
        """`(n_edges(steps), len(primitives))`."""
        return (n_edges(self.steps), len(self.primitives))

    def initial_alpha(self, rng: np.random.Generator) -> tuple:
        """`(alpha_normal, alpha_reduce)`, each `1e-3 * N(0, 1)` drawn from `rng`."""
        return (
            1e-3 * rng.standard_normal(self.alpha_shape),
            1e-3 * rng.standard_normal(self.alpha_shape),
        )

    def initial_beta(self, rng: np.random.Generator) -> tuple:
        """`(beta_normal, beta_reduce)`, each `1e-3 * N(0, 1)` over the edges, from `rng`."""
        return tuple(1e-3 * rng.standard_normal(n_edges(self.steps)) for _ in range(2))

    def build_supernet(self, num_classes: int, seed=None) -> DartsSearchNetwork:
        """The search network of this space."""
        return DartsSearchNetwork(
            num_classes=num_classes, cells=self.cells, channels=self.channels, steps=self.steps,
            multiplier=self.multiplier, stem_multiplier=self.stem_multiplier,
            primitives=self.primitives, partial_channels=self.partial_channels,
            edge_normalization=self.edge_normalization, seed=seed,
        )

    def derive(self, alpha_normal, alpha_reduce, beta_normal=None, beta_reduce=None) -> Genotype:
        """The genotype of `(alpha_normal, alpha_reduce)` and, with edge normalisation, the
        betas (`derive_genotype`)."""
        return derive_genotype(
            alpha_normal, alpha_reduce, self.primitives, self.steps, self.multiplier,
            beta_normal, beta_reduce,
        )

    def random_genotype(self, rng: np.random.Generator) -> Genotype:
        """A uniformly random genotype of this space: the control a search is measured against.

        Each intermediate node of each cell takes two distinct earlier nodes (as DARTS's
        derivation keeps two), each through an operation drawn uniformly from `primitives`
        other than "none"; the last `multiplier` nodes are concatenated.

        Example:

        >>> space = DartsSpace(steps=2, multiplier=2)
        >>> genotype = space.random_genotype(np.random.default_rng(0))
        >>> len(genotype.normal), genotype.normal_concat
        (4, (2, 3))
        """
        operations = [name for name in self.primitives if name != "none"]
        concat = list(range(2 + self.steps - self.multiplier, 2 + self.steps))

        def cell():
            pairs = []
            for node in range(self.steps):
                for index in sorted(rng.choice(node + 2, size=2, replace=False)):
                    pairs.append((operations[rng.integers(len(operations))], int(index)))
            return pairs

        normal = cell()
        return Genotype(normal=normal, normal_concat=concat, reduce=cell(), reduce_concat=concat)

    @classmethod
    def from_dict(cls, data: dict) -> "DartsSpace":
        """The space `to_dict` described (JSON lists back to tuples)."""
        return cls(**{**data, "primitives": tuple(data["primitives"])})

    def to_dict(self) -> dict:
        """JSON-ready settings."""
        data = dataclasses.asdict(self)
        data["primitives"] = list(self.primitives)
        return data
