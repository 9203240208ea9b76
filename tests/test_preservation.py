"""morphisms.preservation: deeper children close to their parent in training mode too, and a
preservation check on logits that rejects broken children and accepts bf16 ones."""

import keras
import pytest

from keras_nash import graph, morphisms, seed_models
from tests.helpers import randomise_batch_norm, real_images

TWO_DEEPER = [
    {"op": "deeper", "after": "relu_1", "kernel_size": 3},
    {"op": "deeper", "after": "relu_3", "kernel_size": 3},
]


def _parent(seed=0):
    arch = seed_models.simple_cnn_architecture((16, 16, 3), 10, filters=(8, 16, 32), softmax=False)
    model = graph.build_model(arch)
    randomise_batch_norm(model, arch, seed)
    return arch, model


def _child(arch, model, ms):
    child_arch, weights = morphisms.apply_with_weights(arch, graph.get_weights(model, arch), ms)
    child = graph.build_model(child_arch)
    graph.set_weights(child, weights)
    return child_arch, child


def test_calibrated_deeper_child_is_close_in_training_mode_and_exact_in_inference():
    x = [real_images(64, 16, seed=s)[0] for s in (0, 1)]
    arch, parent = _parent()
    child_arch, child = _child(arch, parent, TWO_DEEPER)
    layer = morphisms.logits_layer(arch)
    before = morphisms.logit_difference(parent, child, x, layer, training=True, reduction="mean")
    new = morphisms.new_batch_norms(arch, child_arch)
    assert len(new) == 2
    morphisms.calibrate_batch_norms(child, new, x)
    after = morphisms.logit_difference(parent, child, x, layer, training=True, reduction="mean")
    held_out = [real_images(64, 16, seed=2)[0]]
    assert morphisms.logit_difference(parent, child, held_out, layer) <= 1e-4  # inference
    assert after <= 0.03 < before, (before, after)  # training mode (batch statistics)


def test_check_rejects_a_child_whose_logits_differ():
    x = [real_images(32, 16, seed=s)[0] for s in (0, 1)]
    arch, parent = _parent()
    _, child = _child(arch, parent, [{"op": "wider", "conv": "conv_2", "factor": 2, "seed": 1}])
    assert morphisms.check_preservation(parent, child, x, layer="logits") <= 1e-4
    kernel = child.get_layer("conv_2").kernel
    kernel.assign(kernel * 1.5)  # a broken weight transfer
    with pytest.raises(
        morphisms.PreservationError, match=r"logits differ by .* > the tolerance 0\.0001"
    ):
        morphisms.check_preservation(parent, child, x, layer="logits")


def test_bf16_children_pass_with_the_precisions_tolerance():
    x = [real_images(32, 16, seed=s)[0] for s in (0, 1)]
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        arch, parent = _parent()
        ms = [{"op": "wider", "conv": "conv_2", "factor": 2, "seed": 1}] + TWO_DEEPER
        _, child = _child(arch, parent, ms)
        assert morphisms.default_tolerance() == 0.1
        difference = morphisms.check_preservation(parent, child, x, layer="logits")
        assert 0 <= difference <= 0.1
    finally:
        keras.config.set_dtype_policy("float32")
    assert morphisms.default_tolerance() == 1e-4


# ----- every operator in training mode (batch statistics), issue 31 -----
# Type II morphisms (wider, skip add, skip concat) give the new channels zero outgoing weights,
# so the child is its parent in training mode too, up to rounding: measured exactly 0 on CPU
# in float32. TRAINING_TOLERANCE is the bound asserted: max |child - parent| / mean |parent|
# over the logits of two batches of 64 images, batch statistics, float32.
TRAINING_TOLERANCE = 1e-5
DEEPER = {"op": "deeper", "after": "relu_2", "kernel_size": 3}
SKIP_ADD = {"op": "skip", "from": "relu_2", "to": "relu_4", "mode": "add"}
SKIP_CONCAT = {"op": "skip", "from": "relu_2", "to": "relu_4", "mode": "concat", "seed": 4}


@pytest.fixture(scope="module")
def deeper_parent():
    """The parent with DEEPER applied and its new batch norm calibrated: the parent of the
    skip morphisms (relu_4 exists), so each case measures its operator alone."""
    x = [real_images(64, 16, seed=s)[0] for s in (0, 1)]
    arch, parent = _parent()
    child_arch, child = _child(arch, parent, [DEEPER])
    morphisms.calibrate_batch_norms(child, morphisms.new_batch_norms(arch, child_arch), x)
    return child_arch, child, x


@pytest.mark.parametrize(
    "on_deeper, ms",
    [
        (False, [{"op": "wider", "conv": "conv_1", "factor": 2, "seed": 1}]),
        (False, [{"op": "wider", "conv": "conv_2", "factor": 3, "seed": 1}]),
        (True, [{"op": "wider", "conv": "conv_4", "factor": 2, "seed": 3}]),
        (True, [SKIP_ADD]),  # lambda_sum
        (True, [{"op": "wider", "conv": "conv_4", "factor": 2, "seed": 3}, SKIP_ADD]),  # projection
        (True, [SKIP_CONCAT]),
    ],
    ids=["wider2", "wider3", "wider_deeper", "skip_add", "skip_add_projection", "skip_concat"],
)
def test_every_operator_is_close_in_training_mode(on_deeper, ms, deeper_parent):
    arch, parent, x = deeper_parent
    if not on_deeper:
        arch, parent = _parent()
    child_arch, child = _child(arch, parent, ms)
    assert child_arch.count_params() > arch.count_params()
    assert morphisms.new_batch_norms(arch, child_arch) == []  # nothing to calibrate
    layer = morphisms.logits_layer(arch)
    difference = morphisms.logit_difference(parent, child, x, layer, training=True)
    assert difference <= TRAINING_TOLERANCE, difference
    assert morphisms.logit_difference(parent, child, x, layer) <= TRAINING_TOLERANCE


def test_training_mode_catches_what_inference_mode_cannot(deeper_parent):
    """A child whose batch norm computes its parent's function in inference mode only (gamma
    doubled, moving variance quadrupled: gamma / sqrt(variance) unchanged) passes the inference
    check and fails the training-mode one."""
    arch, parent, x = deeper_parent
    child_arch, child = _child(arch, parent, [SKIP_CONCAT])
    bn = child.get_layer("bn_2")
    bn.gamma.assign(bn.gamma * 2.0)
    bn.moving_variance.assign((bn.moving_variance + bn.epsilon) * 4.0 - bn.epsilon)
    layer = morphisms.logits_layer(arch)
    assert morphisms.logit_difference(parent, child, x, layer) <= 1e-4  # inference: passes
    assert morphisms.logit_difference(parent, child, x, layer, training=True) > 0.1
