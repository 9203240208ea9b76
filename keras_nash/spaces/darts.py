"""The DARTS cell search space: genotypes, their derivation from alpha, and the two networks.

- `Genotype`: an architecture as plain data (DARTS's namedtuple): the normal and the reduction
  cell, each a list of `(op_name, input_index)` pairs (two per intermediate node) and the nodes
  concatenated as output; JSON round trip with a schema version.
- `derive_genotype(alpha_normal, alpha_reduce, ...)`: DARTS's `genotype()`: per node, the two
  incoming edges whose strongest non-'none' operation is strongest, with that operation.
- `DARTS_V2`: the published second-order DARTS CIFAR-10 cell (Liu et al. 2019).
- `DartsSearchNetwork`: the supernet (stem, search cells, reduction cells at 1/3 and 2/3 of
  the depth, classifier) with its architecture weights `alpha_normal` and `alpha_reduce` kept
  apart from the network weights (`arch_variables` vs `weight_variables`).
- `DartsEvalNetwork`: the network of a genotype, trained from scratch (auxiliary head,
  drop-path), serialisable as `.keras`.
- `DartsSpace`: the search space's settings in one place (what EG-NAS and DARTS tuners share).
"""

import dataclasses
import json

import keras
import numpy as np
from keras import ops

from keras_nash.layers.cells import AuxiliaryHead, FixedCell, SearchCell, n_edges
from keras_nash.layers.ops import PRIMITIVES, batch_norm, check_op_names

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

    >>> g = Genotype.from_json(DARTS_V2.to_json())
    >>> g == DARTS_V2
    True
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
        ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1), ("skip_connect", 0),
        ("skip_connect", 0), ("dil_conv_3x3", 2),
    ],
    normal_concat=[2, 3, 4, 5],
    reduce=[
        ("max_pool_3x3", 0), ("max_pool_3x3", 1),
        ("skip_connect", 2), ("max_pool_3x3", 1),
        ("max_pool_3x3", 0), ("skip_connect", 2),
        ("skip_connect", 2), ("max_pool_3x3", 1),
    ],
    reduce_concat=[2, 3, 4, 5],
)


def _softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def check_alpha(alpha, steps: int, n_ops: int, argument: str) -> np.ndarray:
    """Return `alpha` as a float numpy array of shape `(n_edges(steps), n_ops)` or raise.

    Example:

    >>> check_alpha(np.zeros((14, 8)), 4, 8, "alpha_normal").shape
    (14, 8)
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


def _parse_cell(weights, primitives, steps):
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


def derive_genotype(
    alpha_normal,
    alpha_reduce,
    primitives=PRIMITIVES,
    steps: int = 4,
    multiplier: int = 4,
) -> Genotype:
    """Derive the discrete architecture from alpha, as DARTS's `Network.genotype()` does.

    For each intermediate node, the incoming edges are ranked by their strongest operation other
    than 'none' (after a softmax over each edge's operations); the top two are kept, each with
    that operation. The output concatenates the last `multiplier` nodes.

    Args:
        alpha_normal: array `(n_edges(steps), len(primitives))`, the normal cell's alpha.
        alpha_reduce: array of the same shape, the reduction cell's alpha.
        primitives: sequence of str, the operation of each alpha column. Defaults to
            `PRIMITIVES`.
        steps: int, the number of intermediate nodes. Defaults to 4.
        multiplier: int, the number of last nodes concatenated. Defaults to 4.

    Returns:
        A `Genotype`.

    Example:

    >>> g = derive_genotype(np.zeros((14, 8)), np.zeros((14, 8)))
    >>> len(g.normal)
    8
    """
    if steps < 1:
        raise ValueError(f"`steps` must be >= 1. Received: steps={steps}")
    primitives = check_op_names(primitives)
    if len(primitives) < 2:
        raise ValueError(
            f"`primitives` must hold at least 2 operations. Received: primitives={list(primitives)}"
        )
    if not 1 <= multiplier <= steps:
        raise ValueError(
            f"`multiplier` must be in [1, steps]. Received: multiplier={multiplier}, steps={steps}"
        )
    normal = _softmax(check_alpha(alpha_normal, steps, len(primitives), "alpha_normal"))
    reduce = _softmax(check_alpha(alpha_reduce, steps, len(primitives), "alpha_reduce"))
    concat = list(range(2 + steps - multiplier, 2 + steps))
    return Genotype(
        normal=_parse_cell(normal, primitives, steps),
        normal_concat=concat,
        reduce=_parse_cell(reduce, primitives, steps),
        reduce_concat=concat,
    )


def _reduction_indices(cells: int):
    return (cells // 3, 2 * cells // 3)


def _check_int(name, value, minimum):
    if int(value) != value or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value}")
    return int(value)


@keras.saving.register_keras_serializable(package="keras_nash")
class DartsSearchNetwork(keras.Model):
    """The DARTS supernet: stem, search cells, global pooling and a classifier.

    The stem is a 3x3 convolution with `stem_multiplier * channels` channels and a batch norm;
    the cells at 1/3 and 2/3 of the depth are reduction cells and double the channels. The
    architecture weights `alpha_normal` and `alpha_reduce` (shape `(n_edges(steps), n_ops)`,
    initialised to `1e-3 * N(0, 1)`) are non-trainable variables: the weight optimiser, which
    takes `weight_variables` (= `trainable_variables`), never updates them; an architecture
    optimiser takes `arch_variables`.

    Args:
        num_classes: int, the number of classes. Defaults to 10.
        cells: int, the number of cells (>= 3 so that both reductions exist). Defaults to 8.
        channels: int, the channels of the first cells' nodes. Defaults to 16.
        steps: int, intermediate nodes per cell. Defaults to 4.
        multiplier: int, nodes concatenated per cell output. Defaults to 4.
        stem_multiplier: int, the stem has `stem_multiplier * channels` channels. Defaults to 3.
        primitives: sequence of str, the candidate operations. Defaults to `PRIMITIVES`.
        partial_channels: int, PC-DARTS's `k`. Defaults to 1.
        seed: int or None, the seed of alpha's initialisation. Defaults to None.
        **kwargs: base `Model` arguments.

    Call arguments:
        inputs: images `(batch, height, width, channels)`.
        training: bool, whether batch norms use batch statistics.
        mixture: None (use `softmax(alpha)`), or a pair `(w_normal, w_reduce)` of tensors
            `(n_edges, n_ops)` to evaluate that mixture instead (alpha untouched). Feed
            tensors of a fixed shape so a compiled function is traced once for all mixtures.

    Returns:
        Logits `(batch, num_classes)`.

    Example:

    >>> net = DartsSearchNetwork(num_classes=10, cells=3, channels=4, steps=2, multiplier=2)
    >>> net(keras.ops.ones((2, 16, 16, 3))).shape
    (2, 10)
    >>> [v.shape for v in net.arch_variables]
    [(5, 8), (5, 8)]
    """

    def __init__(
        self,
        num_classes: int = 10,
        cells: int = 8,
        channels: int = 16,
        steps: int = 4,
        multiplier: int = 4,
        stem_multiplier: int = 3,
        primitives=PRIMITIVES,
        partial_channels: int = 1,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = _check_int("num_classes", num_classes, 2)
        self.cells = _check_int("cells", cells, 3)
        self.channels = _check_int("channels", channels, 1)
        self.steps = _check_int("steps", steps, 1)
        self.multiplier = _check_int("multiplier", multiplier, 1)
        self.stem_multiplier = _check_int("stem_multiplier", stem_multiplier, 1)
        self.primitives = check_op_names(primitives)
        if len(self.primitives) < 2:
            raise ValueError(
                "`primitives` must hold at least 2 operations. "
                f"Received: primitives={list(self.primitives)}"
            )
        self.partial_channels = _check_int("partial_channels", partial_channels, 1)
        self.seed = seed
        self.stem_conv = keras.layers.Conv2D(
            self.stem_multiplier * self.channels, 3, padding="same", use_bias=False
        )
        self.stem_bn = batch_norm(True)
        self.search_cells = []
        self.reductions = []
        current = self.channels
        reduction_prev = False
        for index in range(self.cells):
            reduction = index in _reduction_indices(self.cells)
            if reduction:
                current *= 2
            self.search_cells.append(
                SearchCell(
                    current, reduction, reduction_prev, self.steps, self.multiplier,
                    self.primitives, self.partial_channels, name=f"cell_{index}",
                )
            )
            self.reductions.append(reduction)
            reduction_prev = reduction
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.classifier = keras.layers.Dense(self.num_classes)
        shape = (n_edges(self.steps), len(self.primitives))
        init = keras.initializers.RandomNormal(stddev=1e-3, seed=seed)
        self.alpha_normal = self.add_weight(
            shape=shape, initializer=init, trainable=False, name="alpha_normal"
        )
        self.alpha_reduce = self.add_weight(
            shape=shape, initializer=init, trainable=False, name="alpha_reduce"
        )

    @property
    def alpha_shape(self) -> tuple:
        """`(n_edges(steps), len(primitives))`."""
        return (n_edges(self.steps), len(self.primitives))

    @property
    def arch_variables(self) -> list:
        """The architecture weights `[alpha_normal, alpha_reduce]`."""
        return [self.alpha_normal, self.alpha_reduce]

    @property
    def weight_variables(self) -> list:
        """The network weights the weight optimiser trains (alpha excluded)."""
        return list(self.trainable_variables)

    def set_alpha(self, alpha_normal, alpha_reduce):
        """Assign both alphas (checked: shape `alpha_shape`, finite)."""
        self.alpha_normal.assign(
            check_alpha(alpha_normal, self.steps, len(self.primitives), "alpha_normal")
        )
        self.alpha_reduce.assign(
            check_alpha(alpha_reduce, self.steps, len(self.primitives), "alpha_reduce")
        )

    def genotype(self) -> Genotype:
        """The genotype derived from the current alpha (`derive_genotype`)."""
        return derive_genotype(
            np.asarray(self.alpha_normal), np.asarray(self.alpha_reduce), self.primitives,
            self.steps, self.multiplier,
        )

    def build(self, input_shape):
        # Create every weight by a symbolic call, so `build_from_config` (keras-tuner's
        # `load_model`, `.keras` loading) leaves the model built.
        self.compute_output_spec(keras.KerasTensor(tuple(input_shape)))

    def call(self, inputs, training=None, mixture=None):
        if mixture is None:
            w_normal = ops.softmax(self.alpha_normal, axis=-1)
            w_reduce = ops.softmax(self.alpha_reduce, axis=-1)
        else:
            w_normal, w_reduce = mixture
        s0 = s1 = self.stem_bn(self.stem_conv(inputs), training=training)
        for cell, reduction in zip(self.search_cells, self.reductions):
            weights = w_reduce if reduction else w_normal
            s0, s1 = s1, cell(s0, s1, weights, training=training)
        return self.classifier(self.pool(s1))

    def get_config(self):
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "cells": self.cells,
            "channels": self.channels,
            "steps": self.steps,
            "multiplier": self.multiplier,
            "stem_multiplier": self.stem_multiplier,
            "primitives": list(self.primitives),
            "partial_channels": self.partial_channels,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="keras_nash")
class DartsEvalNetwork(keras.Model):
    """The network of a genotype, trained from scratch (DARTS's `NetworkCIFAR`).

    Stem conv3x3 (`stem_multiplier * channels`) + BN, `cells` fixed cells with reduction
    cells at 1/3 and 2/3 of the depth (channels doubled), global pooling and a classifier.
    With `auxiliary_weight > 0` an `AuxiliaryHead` reads the output of the cell at 2/3 of the
    depth in training and its cross-entropy, times `auxiliary_weight`, is added to the loss
    (`compute_loss`); inference returns the main logits only. Drop-path's probability is the
    non-trainable variable `drop_path_rate` (0 at first), which `DropPathSchedule` raises
    linearly to `drop_path_prob` over training, as DARTS does.

    Args:
        genotype: a `Genotype` (or its `to_dict()`).
        num_classes: int, the number of classes. Defaults to 10.
        cells: int, the number of cells (>= 3). Defaults to 20.
        channels: int, the initial channels. Defaults to 36.
        auxiliary_weight: float, the auxiliary loss weight, 0 for no head. Defaults to 0.4.
        drop_path_prob: float in [0, 1), the final drop-path probability. Defaults to 0.2.
        stem_multiplier: int. Defaults to 3.
        seed: int or None, the drop-path seed. Defaults to None.
        **kwargs: base `Model` arguments.

    Call arguments:
        inputs: images `(batch, height, width, channels)`.
        training: bool.

    Returns:
        Logits `(batch, num_classes)`.

    Example:

    >>> net = DartsEvalNetwork(DARTS_V2, num_classes=10, cells=3, channels=4)
    >>> net(keras.ops.ones((2, 32, 32, 3))).shape
    (2, 10)
    """

    def __init__(
        self,
        genotype,
        num_classes: int = 10,
        cells: int = 20,
        channels: int = 36,
        auxiliary_weight: float = 0.4,
        drop_path_prob: float = 0.2,
        stem_multiplier: int = 3,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(genotype, dict):
            genotype = Genotype.from_dict(genotype)
        if not isinstance(genotype, Genotype):
            raise ValueError(
                f"`genotype` must be a Genotype or its dict. Received: genotype={genotype!r}"
            )
        if not 0.0 <= drop_path_prob < 1.0:
            raise ValueError(
                f"`drop_path_prob` must be in [0, 1). Received: drop_path_prob={drop_path_prob}"
            )
        if auxiliary_weight < 0:
            raise ValueError(
                f"`auxiliary_weight` must be >= 0. Received: auxiliary_weight={auxiliary_weight}"
            )
        self.genotype = genotype
        self.num_classes = _check_int("num_classes", num_classes, 2)
        self.cells = _check_int("cells", cells, 3)
        self.channels = _check_int("channels", channels, 1)
        self.auxiliary_weight = float(auxiliary_weight)
        self.drop_path_prob = float(drop_path_prob)
        self.stem_multiplier = _check_int("stem_multiplier", stem_multiplier, 1)
        self.seed = seed
        self.stem_conv = keras.layers.Conv2D(
            self.stem_multiplier * self.channels, 3, padding="same", use_bias=False
        )
        self.stem_bn = batch_norm(True)
        self.fixed_cells = []
        current = self.channels
        reduction_prev = False
        for index in range(self.cells):
            reduction = index in _reduction_indices(self.cells)
            if reduction:
                current *= 2
            cell_ops = genotype.reduce if reduction else genotype.normal
            concat = genotype.reduce_concat if reduction else genotype.normal_concat
            cell_seed = None if seed is None else seed + index
            self.fixed_cells.append(
                FixedCell(
                    current, cell_ops, concat, reduction, reduction_prev, seed=cell_seed,
                    name=f"cell_{index}",
                )
            )
            reduction_prev = reduction
        self.auxiliary_index = 2 * self.cells // 3
        self.auxiliary_head = (
            AuxiliaryHead(self.num_classes, name="auxiliary_head")
            if self.auxiliary_weight > 0
            else None
        )
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.classifier = keras.layers.Dense(self.num_classes)
        self.drop_path_rate = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="drop_path_rate"
        )
        self._auxiliary_logits = None

    def build(self, input_shape):
        # Create every weight by a symbolic call, so `build_from_config` (keras-tuner's
        # `load_model`, `.keras` loading) leaves the model built.
        self.compute_output_spec(keras.KerasTensor(tuple(input_shape)))

    def call(self, inputs, training=None):
        s0 = s1 = self.stem_bn(self.stem_conv(inputs), training=training)
        auxiliary = None
        for index, cell in enumerate(self.fixed_cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_rate, training=training)
            if index == self.auxiliary_index and self.auxiliary_head is not None:
                if training or not self.auxiliary_head.built:
                    auxiliary = self.auxiliary_head(s1, training=training)
        # Read by `compute_loss` in the same (traced) training step.
        object.__setattr__(self, "_auxiliary_logits", auxiliary if training else None)
        return self.classifier(self.pool(s1))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x, y, y_pred, sample_weight, training=training)
        auxiliary = self._auxiliary_logits
        object.__setattr__(self, "_auxiliary_logits", None)
        if training and auxiliary is not None:
            auxiliary_loss = keras.losses.sparse_categorical_crossentropy(
                ops.reshape(y, (-1,)), auxiliary, from_logits=True
            )
            if sample_weight is not None:
                auxiliary_loss = auxiliary_loss * ops.reshape(sample_weight, (-1,))
            loss = loss + self.auxiliary_weight * ops.mean(auxiliary_loss)
        return loss

    def count_params_without_auxiliary(self) -> int:
        """Trainable parameters without the auxiliary head (the size DARTS reports)."""
        head = set()
        if self.auxiliary_head is not None:
            head = {id(v) for v in self.auxiliary_head.trainable_variables}
        return int(
            sum(np.prod(v.shape) for v in self.trainable_variables if id(v) not in head)
        )

    def get_config(self):
        return {
            "name": self.name,
            "genotype": self.genotype.to_dict(),
            "num_classes": self.num_classes,
            "cells": self.cells,
            "channels": self.channels,
            "auxiliary_weight": self.auxiliary_weight,
            "drop_path_prob": self.drop_path_prob,
            "stem_multiplier": self.stem_multiplier,
            "seed": self.seed,
        }


class DropPathSchedule(keras.callbacks.Callback):
    """Raise a `DartsEvalNetwork`'s drop-path rate linearly: `drop_path_prob * epoch / epochs`.

    Args:
        epochs: int, the number of training epochs.

    Example:

    >>> callback = DropPathSchedule(epochs=600)
    """

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = _check_int("epochs", epochs, 1)

    def on_epoch_begin(self, epoch, logs=None):
        rate = getattr(self.model, "drop_path_prob", 0.0) * epoch / self.epochs
        if hasattr(self.model, "drop_path_rate"):
            self.model.drop_path_rate.assign(rate)


@dataclasses.dataclass(frozen=True)
class DartsSpace:
    """The DARTS cell search space's settings, shared by the DARTS and EG-NAS tuners.

    Args:
        cells: int, supernet cells. Defaults to 8.
        channels: int, supernet initial channels. Defaults to 16.
        steps: int, intermediate nodes per cell. Defaults to 4.
        multiplier: int, nodes concatenated per cell. Defaults to 4.
        stem_multiplier: int. Defaults to 3.
        primitives: tuple of str. Defaults to `PRIMITIVES`.
        partial_channels: int, PC-DARTS's `k`. Defaults to 1.

    Example:

    >>> DartsSpace(cells=5, channels=8).alpha_shape
    (14, 8)
    """

    cells: int = 8
    channels: int = 16
    steps: int = 4
    multiplier: int = 4
    stem_multiplier: int = 3
    primitives: tuple = PRIMITIVES
    partial_channels: int = 1

    def __post_init__(self):
        object.__setattr__(self, "primitives", check_op_names(self.primitives))
        if len(self.primitives) < 2:
            raise ValueError(
                "`primitives` must hold at least 2 operations. "
                f"Received: primitives={list(self.primitives)}"
            )
        _check_int("cells", self.cells, 3)
        _check_int("steps", self.steps, 1)
        _check_int("channels", self.channels, 1)
        if not 1 <= self.multiplier <= self.steps:
            raise ValueError(
                f"`multiplier` must be in [1, steps]. Received: multiplier={self.multiplier}, "
                f"steps={self.steps}"
            )
        if self.partial_channels < 1 or self.channels % self.partial_channels:
            raise ValueError(
                "`partial_channels` must be >= 1 and divide `channels`. "
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

    def build_supernet(self, num_classes: int, seed=None) -> DartsSearchNetwork:
        """The search network of this space."""
        return DartsSearchNetwork(
            num_classes=num_classes, cells=self.cells, channels=self.channels, steps=self.steps,
            multiplier=self.multiplier, stem_multiplier=self.stem_multiplier,
            primitives=self.primitives, partial_channels=self.partial_channels, seed=seed,
        )

    def derive(self, alpha_normal, alpha_reduce) -> Genotype:
        """The genotype of `(alpha_normal, alpha_reduce)` (`derive_genotype`)."""
        return derive_genotype(
            alpha_normal, alpha_reduce, self.primitives, self.steps, self.multiplier
        )

    def to_dict(self) -> dict:
        """JSON-ready settings."""
        data = dataclasses.asdict(self)
        data["primitives"] = list(self.primitives)
        return data
