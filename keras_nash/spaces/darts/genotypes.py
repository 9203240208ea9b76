"""The DARTS space as plain data: its settings, genotypes, alpha checks, derivation from alpha.

- `Genotype`: an architecture as plain data (DARTS's namedtuple): the normal and the reduction
  cell, each a list of `(op_name, input_index)` pairs (two per intermediate node) and the nodes
  concatenated as output; JSON round trip with a schema version.
- `DARTS_V2`: the published second-order DARTS CIFAR-10 cell (Liu et al. 2019).
- `check_alpha`: an architecture weight array of the right shape, or a ValueError.
- `check_cell_settings`: the cell settings every DARTS piece shares (operations, nodes,
  concatenated nodes), checked once.
- `derive_genotype(alpha_normal, alpha_reduce, ...)`: DARTS's `genotype()`: per node, the two
  incoming edges whose strongest non-'none' operation is strongest, with that operation.
- `DartsSpace`: the search space's settings (cells, channels, nodes, operations, PC-DARTS's
  options), checked once; what the supernet (`DartsSearchNetwork(search_space)`) and the
  DARTS and EG-NAS tuners and oracles share.

Nothing here builds a Keras network: this module is numbers and names (the networks live in
`keras_nash.spaces.darts.networks`).
"""

import dataclasses
import json

import numpy as np

from keras_nash.checks import check_int
from keras_nash.layers.cells import n_edges
from keras_nash.layers.ops import PRIMITIVES, check_op_names

GENOTYPE_SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Genotype:
    """A DARTS architecture as plain data.

    Args:
        normal: tuple of `(op_name, input_index)` pairs, two per intermediate node of the
            normal cell; index 0 and 1 are the cell inputs, `2 + i` is node `i`.
        normal_concat: tuple of int, the nodes concatenated as the normal cell's output.
        reduce: the pairs of the reduction cell.
        reduce_concat: the nodes concatenated as the reduction cell's output.

    Example:

    >>> from keras_nash.spaces import DARTS_V2, Genotype
    >>> Genotype.from_json(DARTS_V2.to_json()) == DARTS_V2
    True
    >>> Genotype(normal=[("skip_connect", 0)], normal_concat=[2],
    ...          reduce=[("max_pool_3x3", 1)], reduce_concat=[2]).normal
    (('skip_connect', 0),)
    """

    normal: tuple
    normal_concat: tuple
    reduce: tuple
    reduce_concat: tuple

    def __post_init__(self):
        for field in ("normal", "reduce"):
            pairs = tuple((str(name), int(index)) for name, index in getattr(self, field))
            object.__setattr__(self, field, pairs)
        for field in ("normal_concat", "reduce_concat"):
            object.__setattr__(self, field, tuple(int(n) for n in getattr(self, field)))

    def to_dict(self) -> dict:
        """The genotype as a JSON-ready dict with `schema_version`."""
        return {
            "schema_version": GENOTYPE_SCHEMA_VERSION,
            "normal": [list(pair) for pair in self.normal],
            "normal_concat": list(self.normal_concat),
            "reduce": [list(pair) for pair in self.reduce],
            "reduce_concat": list(self.reduce_concat),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Genotype":
        """Rebuild a genotype from `to_dict()`'s output (checks the schema version)."""
        version = data.get("schema_version", GENOTYPE_SCHEMA_VERSION)
        if version != GENOTYPE_SCHEMA_VERSION:
            raise ValueError(
                f"Unsupported genotype `schema_version`. Expected {GENOTYPE_SCHEMA_VERSION}. "
                f"Received: schema_version={version}"
            )
        return cls(
            normal=data["normal"],
            normal_concat=data["normal_concat"],
            reduce=data["reduce"],
            reduce_concat=data["reduce_concat"],
        )

    def to_json(self) -> str:
        """The genotype as a JSON string."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "Genotype":
        """Rebuild a genotype from `to_json()`'s output."""
        return cls.from_dict(json.loads(text))


DARTS_V2 = Genotype(
    normal=[
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("skip_connect", 0),
        ("dil_conv_3x3", 2),
    ],
    normal_concat=[2, 3, 4, 5],
    reduce=[
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
        ("max_pool_3x3", 0),
        ("skip_connect", 2),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
    ],
    reduce_concat=[2, 3, 4, 5],
)
"""The second-order DARTS CIFAR-10 cell (Liu et al. 2019, `genotypes.py`'s `DARTS_V2`)."""


def check_cell_settings(primitives, steps, multiplier) -> tuple:
    """Check the settings of a DARTS cell; return `(primitives, steps, multiplier)`.

    Args:
        primitives: sequence of str, 2 or more names of `keras_nash.layers.ops.OPS`.
        steps: int >= 1, the intermediate nodes per cell.
        multiplier: int in `[1, steps]`, the last nodes concatenated as the cell output.

    Returns:
        `(tuple of str, int, int)`.

    Example:

    >>> from keras_nash.spaces.darts.genotypes import check_cell_settings
    >>> check_cell_settings(["skip_connect", "sep_conv_3x3"], 2, 2)
    (('skip_connect', 'sep_conv_3x3'), 2, 2)
    >>> check_cell_settings(["none"], 4, 4)
    Traceback (most recent call last):
    ...
    ValueError: `primitives` must hold at least 2 operations. Received: primitives=['none']
    """
    primitives = check_op_names(primitives)
    if len(primitives) < 2:
        raise ValueError(
            f"`primitives` must hold at least 2 operations. Received: primitives={list(primitives)}"
        )
    steps = check_int("steps", steps, minimum=1)
    multiplier = check_int("multiplier", multiplier, minimum=1, maximum=steps)
    return primitives, steps, multiplier


def check_alpha(alpha, steps: int, n_ops: int, argument: str) -> np.ndarray:
    """Return `alpha` as a float numpy array of shape `(n_edges(steps), n_ops)` or raise.

    Args:
        alpha: array-like, one row per edge of a `steps`-node cell, one column per operation.
        steps: int, the intermediate nodes of the cell.
        n_ops: int, the number of candidate operations.
        argument: str, the argument's name for the error message.

    Returns:
        A float64 `np.ndarray`.

    Example:

    >>> import numpy as np
    >>> from keras_nash.spaces.darts.genotypes import check_alpha
    >>> check_alpha(np.zeros((14, 8)), 4, 8, "alpha_normal").shape
    (14, 8)
    >>> check_alpha(np.zeros((5, 8)), 4, 8, "alpha_normal")
    Traceback (most recent call last):
    ...
    ValueError: `alpha_normal` must have shape (14, 8) (edges of a 4-node cell, operations).
    Received: alpha_normal.shape=(5, 8)
    """
    array = np.asarray(alpha, dtype="float64")
    expected = (n_edges(steps), n_ops)
    if array.shape != expected:
        raise ValueError(
            f"`{argument}` must have shape {expected} (edges of a {steps}-node cell, "
            f"operations). Received: {argument}.shape={array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{argument}` must be finite. Received: {argument}={array.tolist()}")
    return array


def _softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def _parse_cell(weights, primitives, steps):
    """DARTS's `_parse`: per node, the two strongest edges and their strongest operation.

    'none' never counts; ties go to the first edge and the first operation.
    """
    none = primitives.index("none") if "none" in primitives else None
    candidates = [k for k in range(len(primitives)) if k != none]
    pairs = []
    start = 0
    for i in range(steps):
        rows = weights[start : start + 2 + i]
        strength = [max(row[k] for k in candidates) for row in rows]
        chosen = sorted(range(2 + i), key=lambda j: -strength[j])[:2]
        for j in chosen:
            best = max(candidates, key=lambda k: rows[j][k])
            pairs.append((primitives[best], j))
        start += 2 + i
    return pairs


def edge_weights(beta, steps: int) -> np.ndarray:
    """PC-DARTS's edge normalisation: the softmax of `beta` over each node's incoming edges.

    Args:
        beta: array `(n_edges(steps),)`, one value per edge, the edges of node `i` (inputs:
            the two cell inputs and the `i` earlier nodes) following those of node `i - 1`.
        steps: int, the intermediate nodes of the cell.

    Returns:
        A float64 array of the same shape whose entries for each node sum to 1.

    Example:

    >>> import numpy as np
    >>> from keras_nash.spaces.darts.genotypes import edge_weights
    >>> edge_weights(np.zeros(5), steps=2).round(3).tolist()
    [0.5, 0.5, 0.333, 0.333, 0.333]
    """
    beta = np.asarray(beta, dtype="float64")
    if beta.shape != (n_edges(steps),) or not np.all(np.isfinite(beta)):
        raise ValueError(
            f"`beta` must be {n_edges(steps)} finite values (edges of a {steps}-node cell). "
            f"Received: beta of shape {beta.shape}"
        )
    weights, start = [], 0
    for i in range(steps):
        weights.append(_softmax(beta[start : start + 2 + i]))
        start += 2 + i
    return np.concatenate(weights)


def derive_genotype(
    alpha_normal,
    alpha_reduce,
    primitives=PRIMITIVES,
    steps: int = 4,
    multiplier: int = 4,
    beta_normal=None,
    beta_reduce=None,
) -> Genotype:
    """Derive the discrete architecture from alpha, as DARTS's `Network.genotype()` does.

    For each intermediate node, the incoming edges are ranked by their strongest operation other
    than 'none' (after a softmax over each edge's operations); the top two are kept, each with
    that operation. The output concatenates the last `multiplier` nodes. With PC-DARTS's edge
    normalisation, each edge's operation weights are first scaled by its `edge_weights(beta)`.

    Args:
        alpha_normal: array `(n_edges(steps), len(primitives))`, the normal cell's alpha.
        alpha_reduce: array of the same shape, the reduction cell's alpha.
        primitives: sequence of str, the operation of each alpha column. Defaults to
            `PRIMITIVES`.
        steps: int, the number of intermediate nodes. Defaults to 4.
        multiplier: int, the number of last nodes concatenated. Defaults to 4.
        beta_normal, beta_reduce: None, or arrays `(n_edges(steps),)`: PC-DARTS's edge
            weights of each cell (given together). Defaults to None.

    Returns:
        A `Genotype`.

    Example:

    >>> import numpy as np
    >>> from keras_nash.spaces import derive_genotype
    >>> alpha = np.zeros((5, 2))
    >>> alpha[:, 1] = 1.0
    >>> g = derive_genotype(alpha, alpha, ("skip_connect", "sep_conv_3x3"), steps=2, multiplier=2)
    >>> g.normal
    (('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1))
    >>> g.normal_concat
    (2, 3)
    """
    primitives, steps, multiplier = check_cell_settings(primitives, steps, multiplier)
    normal = _softmax(check_alpha(alpha_normal, steps, len(primitives), "alpha_normal"))
    reduce = _softmax(check_alpha(alpha_reduce, steps, len(primitives), "alpha_reduce"))
    if (beta_normal is None) != (beta_reduce is None):
        raise ValueError("Give `beta_normal` and `beta_reduce` together, or neither.")
    if beta_normal is not None:
        normal = normal * edge_weights(beta_normal, steps)[:, None]
        reduce = reduce * edge_weights(beta_reduce, steps)[:, None]
    concat = list(range(2 + steps - multiplier, 2 + steps))
    return Genotype(
        normal=_parse_cell(normal, primitives, steps),
        normal_concat=concat,
        reduce=_parse_cell(reduce, primitives, steps),
        reduce_concat=concat,
    )


@dataclasses.dataclass(frozen=True)
class DartsSpace:
    """The DARTS cell search space's settings, shared by the supernet and the DARTS and EG-NAS
    tuners and oracles.

    Args:
        cells: int >= 3, supernet cells; those at 1/3 and 2/3 of the depth are reduction cells
            (so both exist). Defaults to 8.
        channels: int >= 1, the channels of the first cells' nodes. Defaults to 16.
        steps: int >= 1, intermediate nodes per cell. Defaults to 4.
        multiplier: int in `[1, steps]`, nodes concatenated per cell output. Defaults to 4.
        stem_multiplier: int >= 1, the stem has `stem_multiplier * channels` channels.
            Defaults to 3.
        primitives: tuple of str, the candidate operations. Defaults to `PRIMITIVES`.
        partial_channels: int, PC-DARTS's `k`, dividing `channels`: `channels / k` channels
            go through the operations. Defaults to 1 (all, DARTS).
        edge_normalization: bool, PC-DARTS's edge normalisation: architecture weights
            `beta_normal` and `beta_reduce` (one per edge), each node sums its edges weighted
            by the softmax of its edges' betas, and the genotype ranks edges by
            `softmax(alpha) * edge weight`. Defaults to False (DARTS; EG-NAS as its authors
            run it).

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

    def derive(self, alpha_normal, alpha_reduce, beta_normal=None, beta_reduce=None) -> Genotype:
        """The genotype of `(alpha_normal, alpha_reduce)` and, with edge normalisation, the
        betas (`derive_genotype`)."""
        return derive_genotype(
            alpha_normal,
            alpha_reduce,
            self.primitives,
            self.steps,
            self.multiplier,
            beta_normal,
            beta_reduce,
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
    def of(cls, search_space) -> "DartsSpace":
        """`search_space` itself, checked to be a `DartsSpace`, or None's `DartsSpace()`.

        Raises:
            ValueError: anything else, naming `search_space`.
        """
        if search_space is None:
            return cls()
        if not isinstance(search_space, cls):
            raise ValueError(
                "`search_space` must be a `keras_nash.spaces.DartsSpace`. "
                f"Received: search_space={search_space!r}"
            )
        return search_space

    @classmethod
    def from_dict(cls, data: dict) -> "DartsSpace":
        """The space `to_dict` described (JSON lists back to tuples)."""
        return cls(**{**data, "primitives": tuple(data["primitives"])})

    def to_dict(self) -> dict:
        """JSON-ready settings."""
        data = dataclasses.asdict(self)
        data["primitives"] = list(self.primitives)
        return data
