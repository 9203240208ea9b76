"""Checking the morphisms' promise on data: the child computes its parent's function.

The operators (`operators.py`) are data-free: a morphed child computes its parent's function
in inference mode by construction. Two things need data, and live here:

- Calibrating the batch norms a deeper morphism inserts (`calibrate_batch_norms`, Elsken et
  al.'s type I): the new batch norm is set from the statistics of what it sees, so the block is
  the identity in inference mode *and* close to it in training mode (batch statistics), where
  fixed statistics (mean 0, variance 1) would standardise its input.
- Measuring how far a child is from its parent (`logit_difference`), and failing one that is too
  far (`check_preservation`), relative to the scale of the parent's logits, with a tolerance per
  numerical precision (`PRESERVATION_TOLERANCES`, `default_tolerance`).

Example:

>>> import numpy as np
>>> from keras_nash import graph, morphisms, seed_models
>>> arch = seed_models.simple_cnn_architecture((8, 8, 3), 10, filters=(4, 8))
>>> parent = graph.build_model(arch)
>>> m = [{"op": "deeper", "after": "relu_1", "kernel_size": 3}]
>>> child_arch, w = morphisms.apply_with_weights(arch, graph.get_weights(parent, arch), m)
>>> child = graph.build_model(child_arch)
>>> graph.set_weights(child, w)
>>> morphisms.new_batch_norms(arch, child_arch)
['bn_3']
>>> x = [np.random.default_rng(i).random((16, 8, 8, 3), dtype="float32") for i in range(2)]
>>> morphisms.calibrate_batch_norms(child, ["bn_3"], x)
>>> logits = morphisms.logits_layer(arch)
>>> morphisms.logit_difference(parent, child, x, logits) < 1e-5
True
"""

import contextlib

import keras
import numpy as np

from keras_nash.checks import check_choice

PRESERVATION_TOLERANCES = {
    "float32": 1e-4,
    "tensorfloat32": 3e-2,
    "float16": 3e-2,
    "bfloat16": 1e-1,
}
"""Default tolerances of `check_preservation`, by the precision the convolutions run in.

The measure is relative: max |child - parent| / mean |parent| over the logits of a few batches,
in inference mode. Every operator is exact in real arithmetic; what is left is rounding, and it
grows with the unit roundoff of the precision (float32 2^-24; TF32, the default of float32
convolutions and matmuls on NVIDIA GPUs since Ampere, and float16 2^-11; bfloat16 2^-8): a
wider conv sums its zero-weighted new channels in a different order, a rounding that flips the
last bit of an activation is carried to the logits. Measured (bench/morphisms.py, random
compositions of 1 to 20 morphisms on CIFAR images): float32 at most about 2e-6, `mixed_bfloat16`
at most about 3e-2; TF32 and float16 are set between the two from their unit roundoff. A child
whose weights are wrong differs by 0.3 and more.
"""

_SCALE_FLOOR = 1e-6  # logits whose mean magnitude is below this are compared as if it were this
_REDUCTIONS = {"max": np.max, "mean": np.mean}


class PreservationError(ValueError):
    """A child does not compute its parent's function (beyond the tolerance)."""


def default_tolerance(dtype_policy=None) -> float:
    """The preservation tolerance for a dtype policy's compute precision.

    Args:
        dtype_policy: a `keras.DTypePolicy`, a policy name (e.g. "mixed_bfloat16") or None.
            Defaults to the global policy, `keras.config.dtype_policy()`.

    Returns:
        float, `PRESERVATION_TOLERANCES` of the policy's compute dtype; for float32, the TF32
        value when TensorFlow runs float32 convolutions in TF32 (a GPU is visible and
        `tf.config.experimental.tensor_float_32_execution_enabled()`).

    Example:

    >>> from keras_nash import morphisms
    >>> morphisms.default_tolerance("mixed_bfloat16")
    0.1
    """
    if dtype_policy is None:
        dtype_policy = keras.config.dtype_policy()
    elif isinstance(dtype_policy, str):
        dtype_policy = keras.DTypePolicy(dtype_policy)
    compute = dtype_policy.compute_dtype
    if compute == "float32" and _tf32_enabled():
        compute = "tensorfloat32"
    if compute not in PRESERVATION_TOLERANCES:
        raise ValueError(
            f"No default preservation tolerance for the compute dtype {compute!r} (known: "
            f"{sorted(PRESERVATION_TOLERANCES)}); pass `preservation_tolerance` explicitly."
        )
    return PRESERVATION_TOLERANCES[compute]


def _tf32_enabled() -> bool:
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return (
        bool(tf.config.list_physical_devices("GPU"))
        and tf.config.experimental.tensor_float_32_execution_enabled()
    )


def logits_layer(arch) -> str:
    """The id of the node whose output is the network's logits: the output, or the node before a
    final softmax. A dense node with `activation="softmax"` is returned itself: `logit_difference`
    then compares its pre-activation.

    Args:
        arch: the `Architecture` (a child has the same logits node as its parent).

    Returns:
        str, a node id (= the layer name in `graph.build_model(arch)`).

    Example:

    >>> from keras_nash import morphisms, seed_models
    >>> morphisms.logits_layer(seed_models.simple_cnn_architecture((8, 8, 3), 10, filters=(4, 8)))
    'logits'
    """
    node = arch.node(arch.outputs[0])
    if node.op == "softmax":
        node = arch.node(node.inputs[0])
    return node.id


def new_batch_norms(parent_arch, child_arch) -> list:
    """The batch norms of a child that its parent does not have (those a deeper morphism
    inserted), in network order: what `calibrate_batch_norms` sets.

    Args:
        parent_arch, child_arch: the `Architecture`s before and after the morphisms.

    Returns:
        list of node ids.
    """
    old = set(parent_arch.ids())
    return [n.id for n in child_arch.nodes if n.op == "batch_norm" and n.id not in old]


def calibrate_batch_norms(model: keras.Model, names, batches) -> None:
    """Set fresh batch norms from the statistics of the data they see (Elsken et al. type I).

    For each named `BatchNormalization` layer, in network order, the per-channel mean and
    variance of its input are measured in training mode (every batch norm on batch statistics,
    as in training) on each batch and averaged over the batches; then moving mean = beta = the
    mean, moving variance = the variance and gamma = sqrt(variance + epsilon). The layer is then
    exactly the identity in inference mode, and in training mode it is the identity up to how
    far a batch's statistics are from the averages. Layers earlier in the list are set before
    later ones are measured. Nothing else in the model changes (the measurement's updates of
    moving statistics are undone, dropout is off).

    Args:
        model: the child `keras.Model`, with the morphed weights loaded.
        names: the layer names (e.g. `new_batch_norms(parent_arch, child_arch)`).
        batches: a list of input batches (arrays or tensors), e.g. 2 to 4 training batches.

    Returns:
        None; the layers' weights are set in place.
    """
    names = list(names)
    batches = list(batches)
    if names and not batches:
        raise ValueError(
            "`batches` must hold at least one batch of inputs to measure the batch norms on. "
            "Received: batches=[]"
        )
    for name in names:
        layer = model.get_layer(name)
        if not isinstance(layer, keras.layers.BatchNormalization):
            raise ValueError(
                f"`names` must name BatchNormalization layers. Received: {name!r} "
                f"({type(layer).__name__})"
            )
        probe = keras.Model(model.input, layer.input)
        with _no_side_effects(model):
            seen = [_as_float64(probe(x, training=True)) for x in batches]
        axes = tuple(range(seen[0].ndim - 1))
        mean = np.mean([h.mean(axis=axes) for h in seen], axis=0)
        variance = np.mean([h.var(axis=axes) for h in seen], axis=0)
        layer.gamma.assign(np.sqrt(variance + layer.epsilon).astype("float32"))
        layer.beta.assign(mean.astype("float32"))
        layer.moving_mean.assign(mean.astype("float32"))
        layer.moving_variance.assign(variance.astype("float32"))


def logit_difference(
    parent: keras.Model,
    child: keras.Model,
    batches,
    layer: str | None = None,
    training: bool = False,
    reduction: str = "max",
) -> float:
    """How far a child's logits are from its parent's, relative to their size.

    `reduction(|child - parent|) / mean |parent|` over every logit of every batch (the mean
    magnitude has a floor of 1e-6). In training mode the batch norms use batch statistics (and
    their moving statistics are left as they were; dropout is off, being random).

    Args:
        parent, child: `keras.Model`s.
        batches: a list of input batches (arrays or tensors), or one batch.
        layer: str or None, the name of the logits layer in both models (`logits_layer(arch)`);
            a Dense layer with a softmax activation is compared before its activation.
            Defaults to the models' outputs.
        training: bool, run the models in training mode. Defaults to False.
        reduction: "max" or "mean", over the absolute differences. Defaults to "max".

    Returns:
        float, the relative difference.

    Example:

    >>> import numpy as np
    >>> from keras_nash import graph, morphisms, seed_models
    >>> parent = seed_models.simple_cnn((8, 8, 3), 10, filters=(4, 8), softmax=False)
    >>> x = np.random.default_rng(0).random((4, 8, 8, 3), dtype="float32")
    >>> morphisms.logit_difference(parent, parent, [x], "logits")
    0.0
    """
    reduce = _REDUCTIONS[check_choice("reduction", reduction, tuple(_REDUCTIONS))]
    if not isinstance(batches, (list, tuple)):
        batches = [batches]
    differences, magnitudes = [], []
    for x in batches:
        a, b = _logits(parent, layer, x, training), _logits(child, layer, x, training)
        if a.shape != b.shape:
            raise ValueError(f"The models' logits differ in shape: {a.shape} vs {b.shape}.")
        differences.append(np.abs(b - a).ravel())
        magnitudes.append(np.abs(a).ravel())
    if not differences:
        raise ValueError("`batches` must hold at least one batch of inputs. Received: batches=[]")
    scale = max(float(np.mean(np.concatenate(magnitudes))), _SCALE_FLOOR)
    return float(reduce(np.concatenate(differences)) / scale)


def check_preservation(
    parent: keras.Model,
    child: keras.Model,
    batches,
    tolerance: float | None = None,
    layer: str | None = None,
) -> float:
    """Fail a child whose logits (inference mode) are not its parent's, up to `tolerance`.

    Args:
        parent, child: `keras.Model`s.
        batches: a list of input batches, e.g. 2 validation batches.
        tolerance: float or None, the largest relative difference allowed
            (`logit_difference(..., reduction="max")`). Defaults to `default_tolerance()`, the
            one of the global dtype policy's precision.
        layer: str or None, the logits layer (see `logit_difference`). Defaults to the outputs.

    Returns:
        float, the relative difference (at most `tolerance`).

    Raises:
        PreservationError (a ValueError): when the difference is above the tolerance.
    """
    policy = keras.config.dtype_policy().name
    if tolerance is None:
        tolerance = default_tolerance()
    difference = logit_difference(parent, child, batches, layer)
    if not difference <= tolerance:
        n = len(batches) if isinstance(batches, (list, tuple)) else 1
        raise PreservationError(
            "The child does not compute its parent's function: its logits differ by "
            f"{difference:.3g} "
            f"(max |child - parent| / mean |parent| over {n} batch(es), inference mode) > the "
            "tolerance "
            f"{tolerance:g} (dtype policy {policy!r}). A correct morphism differs only by "
            "rounding; raise "
            "the tolerance only if the network runs in a lower precision than the policy says."
        )
    return difference


def max_output_difference(
    parent: keras.Model, child: keras.Model, x, output: str | None = None
) -> float:
    """Largest absolute difference between two models' outputs on `x`, in inference mode.

    Args:
        parent, child: `keras.Model`s.
        x: a batch of inputs (numpy array or tensor).
        output: str or None, a layer name (e.g. "logits") to compare instead of the models'
            outputs; both models must have a layer of that name. Defaults to the outputs.

    Returns:
        float, `max |parent(x) - child(x)|`.
    """

    def outputs(model):
        if output is not None:
            model = keras.Model(model.input, model.get_layer(output).output)
        return np.asarray(model(x, training=False))

    a, b = outputs(parent), outputs(child)
    if a.shape != b.shape:
        raise ValueError(f"The models' outputs differ in shape: {a.shape} vs {b.shape}.")
    return float(np.max(np.abs(a - b)))


def _logits(model, layer, x, training):
    with _no_side_effects(model) if training else contextlib.nullcontext():
        if layer is None:
            return _as_float64(model(x, training=training))
        target = model.get_layer(layer)
        if (
            isinstance(target, keras.layers.Dense)
            and target.get_config()["activation"] == "softmax"
        ):
            inputs = _as_float64(keras.Model(model.input, target.input)(x, training=training))
            logits = inputs @ _as_float64(target.kernel)
            return logits + _as_float64(target.bias) if target.use_bias else logits
        return _as_float64(keras.Model(model.input, target.output)(x, training=training))


@contextlib.contextmanager
def _no_side_effects(model):
    """Run `model` in training mode as a measurement: moving statistics (every non-trainable
    variable) are restored afterwards, and dropout is off."""
    saved = [np.array(v) for v in model.non_trainable_variables]
    dropouts = [
        (layer, layer.rate) for layer in model.layers if isinstance(layer, keras.layers.Dropout)
    ]
    for layer, _ in dropouts:
        layer.rate = 0.0
    try:
        yield
    finally:
        for variable, value in zip(model.non_trainable_variables, saved):
            variable.assign(value)
        for layer, rate in dropouts:
            layer.rate = rate


def _as_float64(tensor):
    return np.asarray(
        keras.ops.convert_to_numpy(keras.ops.cast(tensor, "float32")), dtype="float64"
    )
