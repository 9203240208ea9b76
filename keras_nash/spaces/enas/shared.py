"""What the ENAS macro and micro spaces share: the space base class and the model pieces.

A space (`EnasSpace`'s subclasses `MacroSpace`, `MicroSpace`) builds two kinds of Keras models
from the operations of `keras_nash.layers.ops`:

- the shared-weight model (`build_shared_model`, a `_SharedModel`): every candidate operation
  of every edge, one set of weights for all architectures. Its call takes `(images, arch)`,
  `arch` an int32 decision vector tensor, and runs only the chosen operation on each edge
  (`tf.switch_case`), so one compiled train step serves every architecture.
- a fixed child (`build_child_model`): a functional Keras model with only the chosen
  operations, serialisable as `.keras`. Its layers carry the shared model's layer names, so
  `copy_shared_weights` makes it compute what the shared model computes on that architecture.

Both return logits. Both start with the same stem (3x3 convolution, batch norm) and end with
the same head (ReLU, global average pooling, dense), built here once.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_nash.checks import check_float, check_fraction, check_int
from keras_nash.layers.augment import Cutout
from keras_nash.layers.cells import AuxiliaryHead, AuxiliaryLossMixin
from keras_nash.layers.ops import OPS, batch_norm


def check_operations(operations, argument: str = "operations") -> tuple:
    """Return `operations` as a tuple of 2 or more distinct names of `OPS` (not 'none').

    Example:

    >>> from keras_nash.spaces.enas.shared import check_operations
    >>> check_operations(["conv_3x3", "max_pool_3x3"])
    ('conv_3x3', 'max_pool_3x3')
    """
    operations = tuple(operations)
    unknown = [op for op in operations if op not in OPS or op == "none"]
    if unknown or len(operations) < 2 or len(set(operations)) != len(operations):
        raise ValueError(
            f"`{argument}` must be 2 or more distinct names of keras_nash.layers.ops.OPS "
            f"(not 'none'). Received: {argument}={list(operations)}"
        )
    return operations


class EnasSpace:
    """Base of the ENAS spaces: the checks and model entry points both spaces share.

    A subclass sets `name` ("macro" or "micro"), `architecture_class`, `shared_model_class`
    and `arguments`, and defines `validate`, `encode`, `decode`, `random_architecture`,
    `copy_shared_weights` and `_child_features` (the child's layers from its images to the
    head: the head's input, and the auxiliary head's or None).
    """

    name = None
    architecture_class = None
    shared_model_class = None
    arguments = ()  # the constructor's argument names, as `get_config` writes them
    cells_options = False  # whether child models take `cells`, `auxiliary_weight`, `drop_path_prob`

    def get_config(self) -> dict:
        """The constructor's arguments, with `name`, as `get_space` reads them."""
        config = {"name": self.name}
        for argument in self.arguments:
            value = getattr(self, argument)
            config[argument] = list(value) if isinstance(value, tuple) else value
        return config

    @property
    def num_decisions(self) -> int:
        """The length of an architecture's decision vector."""
        raise NotImplementedError

    def _check_type(self, arch):
        if not isinstance(arch, self.architecture_class):
            raise ValueError(
                f"`arch` must be a {self.architecture_class.__name__}. "
                f"Received: {type(arch).__name__}"
            )

    def _decisions(self, vector) -> list:
        """`vector` as a list of `num_decisions` ints, or a ValueError."""
        vector = [int(v) for v in np.asarray(vector).reshape(-1)]
        if len(vector) != self.num_decisions:
            raise ValueError(
                f"`vector` must have {self.num_decisions} decisions. Received: {len(vector)}"
            )
        return vector

    def _operation(self, index: int, what: str) -> str:
        """The operation of decision `index`, or a ValueError naming `what` it decides."""
        if not 0 <= index < len(self.operations):
            raise ValueError(
                f"{what} must be in [0, {len(self.operations) - 1}]. Received: {index}"
            )
        return self.operations[index]

    def build_shared_model(self, input_shape, num_classes: int) -> keras.Model:
        """The shared-weight model: call it on `(images, arch)` with `arch` an int32 vector."""
        return self.shared_model_class(
            self, tuple(input_shape), check_int("num_classes", num_classes, minimum=2)
        )

    def check_child_options(
        self,
        cells=None,
        auxiliary_weight: float = 0.0,
        drop_path_prob: float = 0.0,
        prefix: str = "",
    ) -> tuple:
        """Check `build_child_model`'s `cells`, `auxiliary_weight` and `drop_path_prob` (their
        names in errors after `prefix`, e.g. "final_"); returns them."""
        if cells is not None:
            cells = check_int(prefix + "cells", cells, minimum=3)
        auxiliary_weight = check_float("auxiliary_weight", auxiliary_weight, minimum=0.0)
        drop_path_prob = check_fraction("drop_path_prob", drop_path_prob)
        if not self.cells_options and (cells is not None or auxiliary_weight or drop_path_prob):
            raise ValueError(
                f"The {self.name} space's networks take no `{prefix}cells`, `auxiliary_weight` "
                "or `drop_path_prob` (only the micro space's do, as the authors' code: their "
                "macro child has neither, and its depth is its architecture's): leave them "
                "unset. Received: "
                f"{prefix}cells={cells}, auxiliary_weight={auxiliary_weight}, "
                f"drop_path_prob={drop_path_prob}"
            )
        return cells, auxiliary_weight, drop_path_prob

    def build_child_model(
        self,
        arch,
        input_shape,
        num_classes: int,
        filters=None,
        dropout: float = 0.0,
        cutout_length: int = 0,
        seed=None,
        cells=None,
        auxiliary_weight: float = 0.0,
        drop_path_prob: float = 0.0,
    ) -> keras.Model:
        """A functional Keras model with only `arch`'s operations (logits out).

        The micro space's final networks also take the authors' final-training extras
        (spaces with `cells_options`; the authors' macro child has neither an auxiliary head nor
        drop-path, and its depth is its architecture's): `cells`, `auxiliary_weight` (then the
        model is an `AuxiliaryNetwork` around the functional one) and `drop_path_prob`.

        Args:
            arch: an architecture of this space.
            input_shape: tuple `(height, width, channels)`.
            num_classes: int >= 2.
            filters: int >= 2, the first layers' channels (defaults to the space's; another
                value builds a wider net that cannot take the shared weights).
            dropout: float in [0, 1), dropout before the classifier (the authors' final
                training: 1 - keep_prob, 0.5 macro, 0.2 micro). Defaults to 0.
            cutout_length: int >= 0, a `Cutout` hole of this side in training images (0: none).
                Defaults to 0.
            seed: int or None, seeds the dropout, the cutout and the drop-path.
            cells: int >= 3, the network's cells (micro; None: the space's). The architecture's
                two cells are repeated, reductions at `cells // 3` and `2 * cells // 3`.
            auxiliary_weight: float >= 0, an `AuxiliaryHead` after the cell that follows the
                second reduction, its cross-entropy times this added to the training loss
                (micro; the authors' code: 0.4). Defaults to 0 (no head).
            drop_path_prob: float in [0, 1), drop-path on every operation that is not the
                identity, at `drop_path_prob * (cell + 1) / cells` once `DropPathSchedule` has
                ramped it up (micro; the authors' final script: 1 - 0.6). Defaults to 0.

        Returns:
            A `keras.Model` named "enas_<space name>_child".
        """
        self.validate(arch)
        filters = self.filters if filters is None else check_int("filters", filters, minimum=2)
        num_classes = check_int("num_classes", num_classes, minimum=2)
        cutout_length = check_int("cutout_length", cutout_length, minimum=0)
        dropout = check_fraction("dropout", dropout)
        cells, auxiliary_weight, drop_path_prob = self.check_child_options(
            cells, auxiliary_weight, drop_path_prob
        )
        extras = {}
        if self.cells_options:
            extras = dict(cells=cells, drop_path_prob=drop_path_prob, seed=seed)
        images = keras.Input(tuple(input_shape), name="images")
        x = Cutout(cutout_length, seed=seed, name="cutout")(images) if cutout_length else images
        features, auxiliary_input = self._child_features(arch, x, filters, **extras)
        logits = _head(features, num_classes, dropout, seed)
        name = f"enas_{self.name}_child"
        if not auxiliary_weight:
            return keras.Model(images, logits, name=name)
        auxiliary = AuxiliaryHead(num_classes, name="auxiliary_head")(auxiliary_input)
        body = keras.Model(images, [logits, auxiliary], name=f"{name}_body")
        return AuxiliaryNetwork(body, auxiliary_weight, name=name)


@keras.saving.register_keras_serializable(package="keras_nash")
class AuxiliaryNetwork(AuxiliaryLossMixin, keras.Model):
    """A network trained with an auxiliary classifier (ENAS's final micro network).

    `body` maps images to `[logits, auxiliary logits]`. In training the model returns the
    logits and adds `auxiliary_weight` times the auxiliary cross-entropy to the loss; out of
    training it runs only the layers that lead to the logits (`body`'s first output), so
    inference and exports do not pay for the head.

    Args:
        body: a functional `keras.Model` with one input and two outputs (logits, auxiliary
            logits), or its serialised config.
        auxiliary_weight: float >= 0, the auxiliary loss's weight. Defaults to 0.4.
        **kwargs: base `keras.Model` arguments.
    """

    def __init__(self, body, auxiliary_weight: float = 0.4, **kwargs):
        super().__init__(**kwargs)
        if isinstance(body, dict):
            body = keras.saving.deserialize_keras_object(body)
        if len(body.outputs) != 2:
            raise ValueError(
                "`body` must have two outputs, logits and auxiliary logits. "
                f"Received: a model with {len(body.outputs)} outputs"
            )
        self.body = body
        self.inference = keras.Model(body.inputs, body.outputs[0], name=f"{body.name}_inference")
        self.auxiliary_weight = check_float("auxiliary_weight", auxiliary_weight, minimum=0.0)

    def build(self, input_shape):
        self.built = True  # `body` is a built functional model

    @property
    def output_shape(self):
        """The logits' shape, `(None, num_classes)`."""
        return self.inference.output_shape

    def call(self, inputs, training=None):
        if not training:
            return self.inference(inputs, training=training)
        logits, auxiliary = self.body(inputs, training=training)
        self.keep_auxiliary_logits(auxiliary, training)
        return logits

    def get_config(self):
        return {
            **super().get_config(),
            "body": keras.saving.serialize_keras_object(self.body),
            "auxiliary_weight": self.auxiliary_weight,
        }


# Model pieces shared by the child and the shared-weight models ----------------------------


def _named(layer, name):
    layer.name = name
    return layer


def _stem_conv(filters, name):
    return keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name)


def _child_stem(images, channels):
    """The child's stem: a 3x3 convolution to `channels` and a batch norm."""
    return batch_norm(True, name="stem_bn")(_stem_conv(channels, "stem_conv")(images))


def _head(x, num_classes, dropout=0.0, seed=None):
    x = keras.layers.ReLU(name="head_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, seed=seed, name="head_dropout")(x)
    return keras.layers.Dense(num_classes, name="head")(x)


def _apply(layers, x, training=None):
    for layer in layers:
        x = layer(x, training=training) if training is not None else layer(x)
    return x


def _build(layer, shape):
    """Build a layer (and its sublayers) by calling it once eagerly on zeros."""
    layer(tf.zeros((1,) + tuple(shape)), training=False)
    return tuple(layer.compute_output_shape((1,) + tuple(shape))[1:])


class _SharedModel(keras.Model):
    """Base of the shared-weight models: layers by name and a call on `(images, arch)`."""

    def __init__(self, space, input_shape, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.space = space
        self.image_shape = input_shape
        self.num_classes = num_classes
        self._by_name = {}
        self._all = []

    def _add(self, layer):
        self._by_name[layer.name] = len(self._all)
        self._all.append(layer)
        return layer

    def _add_built(self, layers, shape, chained=False):
        """Add `layers` and build them: each on `shape`, or each on the previous one's output
        if `chained`. Returns the last one's output shape."""
        output_shape = shape
        for layer in layers:
            output_shape = _build(self._add(layer), output_shape if chained else shape)
        return output_shape

    def shared_layer(self, name: str) -> keras.layers.Layer:
        """The layer called `name` (the child's layers carry the same names)."""
        return self._all[self._by_name[name]]

    def _stem_and_head(self, stem_channels):
        self.stem_conv = self._add(_stem_conv(stem_channels, "stem_conv"))
        self.stem_bn = self._add(batch_norm(True, name="stem_bn"))
        self.head = self._add(keras.layers.Dense(self.num_classes, name="head"))
        shape = _build(self.stem_conv, self.image_shape)
        _build(self.stem_bn, shape)
        return shape

    def _finish(self, x):
        x = tf.reduce_mean(tf.nn.relu(x), axis=[1, 2])
        return self.head(x)
