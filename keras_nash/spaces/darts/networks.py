"""The Keras networks of the DARTS cell space: the supernet and the network of a genotype.

- `DartsSearchNetwork`: the supernet (stem, search cells, reduction cells at 1/3 and 2/3 of
  the depth, classifier) with its architecture weights `alpha_normal` and `alpha_reduce` kept
  apart from the network weights (`arch_variables` vs `weight_variables`).
- `DartsEvalNetwork`: the network of a genotype, trained from scratch (auxiliary head,
  drop-path), serialisable as `.keras`.
- `DropPathSchedule` (from `keras_nash.layers`): the callback that raises the evaluation
  network's drop-path rate.

Both networks share their stem, their classifier and where their reduction cells stand
(`_DartsNetwork`, `_cell_plan`).
"""

import keras
import numpy as np
from keras import ops

from keras_nash.checks import check_float, check_fraction, check_int
from keras_nash.layers.augment import Cutout, DropPathSchedule  # noqa: F401  (re-exported)
from keras_nash.layers.cells import (
    AuxiliaryHead,
    AuxiliaryLossMixin,
    FixedCell,
    SearchCell,
    n_edges,
)
from keras_nash.layers.ops import batch_norm
from keras_nash.spaces.darts.genotypes import DartsSpace, Genotype, check_alpha, edge_weights


def _cell_plan(cells: int, channels: int):
    """Yield `(index, channels, reduction, reduction_prev)` for each cell of a DARTS network.

    The cells at 1/3 and 2/3 of the depth are reduction cells and double the channels.
    """
    reductions = (cells // 3, 2 * cells // 3)
    reduction_prev = False
    for index in range(cells):
        reduction = index in reductions
        if reduction:
            channels *= 2
        yield index, channels, reduction, reduction_prev
        reduction_prev = reduction


class _DartsNetwork(keras.Model):
    """What both DARTS networks share: their size arguments, the stem, the classifier, `build`.

    The stem is a 3x3 convolution with `stem_multiplier * channels` channels and a batch norm;
    the classifier is global average pooling and a dense layer. Subclasses create their cells
    between `super().__init__` and `_make_classifier()`.
    """

    def __init__(self, num_classes, cells, channels, stem_multiplier, seed, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = check_int("num_classes", num_classes, minimum=2)
        self.cells = check_int("cells", cells, minimum=3)
        self.channels = check_int("channels", channels, minimum=1)
        self.stem_multiplier = check_int("stem_multiplier", stem_multiplier, minimum=1)
        self.seed = seed
        self.stem_conv = keras.layers.Conv2D(
            self.stem_multiplier * self.channels, 3, padding="same", use_bias=False
        )
        self.stem_bn = batch_norm(True)

    def _make_classifier(self):
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.classifier = keras.layers.Dense(self.num_classes)

    def build(self, input_shape):
        # Create every weight by a symbolic call, so `build_from_config` (keras-tuner's
        # `load_model`, `.keras` loading) leaves the model built.
        self.compute_output_spec(keras.KerasTensor(tuple(input_shape)))


@keras.saving.register_keras_serializable(package="keras_nash")
class DartsSearchNetwork(_DartsNetwork):
    """The DARTS supernet of a `DartsSpace`: stem, search cells, global pooling, a classifier.

    The stem is a 3x3 convolution with `stem_multiplier * channels` channels and a batch norm;
    the cells at 1/3 and 2/3 of the depth are reduction cells and double the channels. The
    architecture weights `alpha_normal` and `alpha_reduce` (shape `(n_edges(steps), n_ops)`,
    initialised to `1e-3 * N(0, 1)`) are non-trainable variables: the weight optimiser, which
    takes `weight_variables` (= `trainable_variables`), never updates them; an architecture
    optimiser takes `arch_variables`. With the space's `edge_normalization`, the betas
    `beta_normal` and `beta_reduce` (one per edge, `1e-3 * N(0, 1)`) join them.

    Args:
        search_space: a `DartsSpace`, the cells, channels, nodes and operations. Defaults
            to None (`DartsSpace()`, DARTS's search network).
        num_classes: int, the number of classes. Defaults to 10.
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

    >>> import keras
    >>> from keras_nash.spaces import DartsSearchNetwork, DartsSpace
    >>> space = DartsSpace(cells=3, channels=4, steps=2, multiplier=2,
    ...                    primitives=("skip_connect", "max_pool_3x3"))
    >>> net = DartsSearchNetwork(space, num_classes=10)
    >>> tuple(net(keras.ops.ones((2, 8, 8, 3))).shape)
    (2, 10)
    >>> [tuple(v.shape) for v in net.arch_variables]  # (edges of a 2-node cell, operations)
    [(5, 2), (5, 2)]
    >>> net.genotype().normal_concat
    (2, 3)
    """

    def __init__(self, search_space=None, num_classes: int = 10, seed=None, **kwargs):
        space = DartsSpace.of(search_space)
        super().__init__(
            num_classes, space.cells, space.channels, space.stem_multiplier, seed, **kwargs
        )
        self.search_space = space
        self.search_cells = []
        self.reductions = []
        for index, current, reduction, reduction_prev in _cell_plan(self.cells, self.channels):
            self.search_cells.append(
                SearchCell(
                    current,
                    reduction,
                    reduction_prev,
                    space.steps,
                    space.multiplier,
                    space.primitives,
                    space.partial_channels,
                    name=f"cell_{index}",
                )
            )
            self.reductions.append(reduction)
        self._make_classifier()
        init = keras.initializers.RandomNormal(stddev=1e-3, seed=seed)
        self.alpha_normal = self.add_weight(
            shape=space.alpha_shape, initializer=init, trainable=False, name="alpha_normal"
        )
        self.alpha_reduce = self.add_weight(
            shape=space.alpha_shape, initializer=init, trainable=False, name="alpha_reduce"
        )
        self.betas = []
        if space.edge_normalization:
            self.betas = [
                self.add_weight(
                    shape=(n_edges(space.steps),), initializer=init, trainable=False, name=name
                )
                for name in ("beta_normal", "beta_reduce")
            ]

    @property
    def alpha_shape(self) -> tuple:
        """`(n_edges(steps), len(primitives))`."""
        return self.search_space.alpha_shape

    @property
    def arch_variables(self) -> list:
        """The architecture weights `[alpha_normal, alpha_reduce]`, then with edge
        normalisation `beta_normal` and `beta_reduce`."""
        return [self.alpha_normal, self.alpha_reduce] + self.betas

    @property
    def weight_variables(self) -> list:
        """The network weights the weight optimiser trains (alpha excluded)."""
        return list(self.trainable_variables)

    def set_alpha(self, alpha_normal, alpha_reduce):
        """Assign both alphas (checked: shape `alpha_shape`, finite)."""
        steps, n_ops = self.search_space.steps, len(self.search_space.primitives)
        self.alpha_normal.assign(check_alpha(alpha_normal, steps, n_ops, "alpha_normal"))
        self.alpha_reduce.assign(check_alpha(alpha_reduce, steps, n_ops, "alpha_reduce"))

    def set_beta(self, beta_normal, beta_reduce):
        """Assign both edge-normalisation betas (only with `edge_normalization`)."""
        if not self.betas:
            raise ValueError(
                "This supernet has no betas: build it from a space with edge_normalization=True."
            )
        for variable, value in zip(self.betas, (beta_normal, beta_reduce)):
            edge_weights(value, self.search_space.steps)  # checks the shape and finiteness
            variable.assign(np.asarray(value, "float32"))

    def genotype(self) -> Genotype:
        """The genotype derived from the current alpha (and betas) (`DartsSpace.derive`)."""
        betas = [np.asarray(beta) for beta in self.betas] or [None, None]
        return self.search_space.derive(
            np.asarray(self.alpha_normal), np.asarray(self.alpha_reduce), *betas
        )

    def _edge_weights(self, beta):
        weights, start = [], 0
        for i in range(self.search_space.steps):
            weights.append(ops.softmax(beta[start : start + 2 + i]))
            start += 2 + i
        return ops.concatenate(weights)

    def call(self, inputs, training=None, mixture=None):
        if mixture is None:
            w_normal = ops.softmax(self.alpha_normal, axis=-1)
            w_reduce = ops.softmax(self.alpha_reduce, axis=-1)
        else:
            w_normal, w_reduce = mixture
        e_normal = e_reduce = None
        if self.betas:
            e_normal, e_reduce = (self._edge_weights(beta) for beta in self.betas)
        s0 = s1 = self.stem_bn(self.stem_conv(inputs), training=training)
        for cell, reduction in zip(self.search_cells, self.reductions):
            weights = w_reduce if reduction else w_normal
            edges = e_reduce if reduction else e_normal
            s0, s1 = s1, cell(s0, s1, weights, edges, training=training)
        return self.classifier(self.pool(s1))

    def get_config(self):
        return {
            "name": self.name,
            "search_space": self.search_space.to_dict(),
            "num_classes": self.num_classes,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, "search_space": DartsSpace.from_dict(config["search_space"])})


@keras.saving.register_keras_serializable(package="keras_nash")
class DartsEvalNetwork(AuxiliaryLossMixin, _DartsNetwork):
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
        cutout_length: int >= 0, side of the square `Cutout` hole cut from each training
            image at the input (DARTS's evaluation: 16); 0 for none. Defaults to 0.
        stem_multiplier: int. Defaults to 3.
        seed: int or None, the drop-path and cutout seed. Defaults to None.
        **kwargs: base `Model` arguments.

    Call arguments:
        inputs: images `(batch, height, width, channels)`.
        training: bool.

    Returns:
        Logits `(batch, num_classes)`.

    Example:

    >>> import keras
    >>> from keras_nash.spaces import DARTS_V2, DartsEvalNetwork
    >>> net = DartsEvalNetwork(DARTS_V2, num_classes=10, cells=3, channels=4)
    >>> tuple(net(keras.ops.ones((2, 32, 32, 3))).shape)
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
        cutout_length: int = 0,
        stem_multiplier: int = 3,
        seed=None,
        **kwargs,
    ):
        super().__init__(num_classes, cells, channels, stem_multiplier, seed, **kwargs)
        self.cutout_length = check_int("cutout_length", cutout_length, 0)
        self.cutout = (
            Cutout(self.cutout_length, seed=seed, name="cutout") if self.cutout_length else None
        )
        if isinstance(genotype, dict):
            genotype = Genotype.from_dict(genotype)
        if not isinstance(genotype, Genotype):
            raise ValueError(
                f"`genotype` must be a Genotype or its dict. Received: genotype={genotype!r}"
            )
        drop_path_prob = check_fraction("drop_path_prob", drop_path_prob)
        self.genotype = genotype
        self.auxiliary_weight = check_float("auxiliary_weight", auxiliary_weight, minimum=0.0)
        self.drop_path_prob = drop_path_prob
        self.fixed_cells = []
        for index, current, reduction, reduction_prev in _cell_plan(self.cells, self.channels):
            self.fixed_cells.append(
                FixedCell(
                    current,
                    genotype.reduce if reduction else genotype.normal,
                    genotype.reduce_concat if reduction else genotype.normal_concat,
                    reduction,
                    reduction_prev,
                    seed=None if seed is None else seed + index,
                    name=f"cell_{index}",
                )
            )
        self.auxiliary_index = 2 * self.cells // 3
        self.auxiliary_head = (
            AuxiliaryHead(self.num_classes, name="auxiliary_head")
            if self.auxiliary_weight > 0
            else None
        )
        self._make_classifier()
        self.drop_path_rate = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="drop_path_rate"
        )

    def call(self, inputs, training=None):
        if self.cutout is not None:
            inputs = self.cutout(inputs, training=training)
        s0 = s1 = self.stem_bn(self.stem_conv(inputs), training=training)
        auxiliary = None
        for index, cell in enumerate(self.fixed_cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_rate, training=training)
            if index == self.auxiliary_index and self.auxiliary_head is not None:
                if training or not self.auxiliary_head.built:
                    auxiliary = self.auxiliary_head(s1, training=training)
        self.keep_auxiliary_logits(auxiliary, training)
        return self.classifier(self.pool(s1))

    def count_params_without_auxiliary(self) -> int:
        """Trainable parameters without the auxiliary head (the size DARTS reports)."""
        head = set()
        if self.auxiliary_head is not None:
            head = {id(v) for v in self.auxiliary_head.trainable_variables}
        return int(sum(np.prod(v.shape) for v in self.trainable_variables if id(v) not in head))

    def get_config(self):
        return {
            "name": self.name,
            "genotype": self.genotype.to_dict(),
            "num_classes": self.num_classes,
            "cells": self.cells,
            "channels": self.channels,
            "auxiliary_weight": self.auxiliary_weight,
            "drop_path_prob": self.drop_path_prob,
            "cutout_length": self.cutout_length,
            "stem_multiplier": self.stem_multiplier,
            "seed": self.seed,
        }
