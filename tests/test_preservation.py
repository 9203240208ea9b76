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
    with pytest.raises(morphisms.PreservationError, match=r"logits differ by .* > the tolerance 0\.0001"):
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
