"""Function-preserving network morphisms: NASH's deeper, wider and skip operators, as data.

A morphism is a plain dict with every random choice already made, e.g.

    {"op": "deeper", "after": "relu_3", "kernel_size": 5}
    {"op": "wider", "conv": "conv_2", "factor": 2, "seed": 17}
    {"op": "skip", "from": "relu_1", "to": "relu_2", "mode": "concat", "seed": 3}

so it can be applied to an `Architecture` alone (what a search coordinator needs: `apply`) or to
an architecture with its weights (what a worker needs: `apply_with_weights`), deterministically
and with the same node ids either way. The child computes the same function as its parent in
inference mode (up to float rounding). Only the batch norms that `deeper` inserts need data to be
close in training mode too: `calibrate_batch_norms` sets them from a few training batches.
`check_preservation` fails a child whose logits differ from its parent's by more than a
tolerance relative to their size, set per numerical precision (`PRESERVATION_TOLERANCES`).

How each operator keeps the function (Elsken et al. 2017, types I-IV):

- deeper: after a conv block's ReLU, insert Conv(k)-BN-ReLU with a Dirac kernel, a batch norm
  that passes its input through, and a ReLU that is idempotent on the non-negative input.
  The batch norm starts with mean 0, variance 1 (exact in inference mode);
  `calibrate_batch_norms` then sets its statistics, gamma and beta from the data it sees
  (moving mean = beta = mean, moving variance = variance, gamma = sqrt(variance + epsilon)), so
  that it also passes its input through in training mode, up to batch-to-batch variation.
- wider: the conv gets `(factor - 1) * filters` new filters (random He-normal values); every
  node downstream carries the new channels (batch norm gets identity parameters for them) until
  a conv or dense layer, whose weights for the new channels are zero. Where the new channels
  reach an add (or lambda_sum) whose other input does not carry them, the conv behind that
  input is widened with them ("widened together"); a target that cannot be widened
  consistently (the channels would reach the output or a softmax, or an add input has no conv
  behind it) is not valid and `valid_targets` leaves it out.
- skip, mode "add": `to` becomes `lambda_sum(to, from)` with lambda = 1 when the shapes agree
  (type IV), else `add(to, conv1x1(from))` with a zero-initialised projection (type II).
- skip, mode "concat": `to` becomes `concat(to, from)`; the appended channels travel downstream
  like a widening and meet zero weights (type II).

New nodes get fresh ids (`conv_<k>`, `bn_<k>`, `relu_<k>`, `add_<k>`, `concat_<k>`).

Modules, by concept (imports point down the list, and only to `keras_nash.graph`,
`keras_nash.checks` and `keras_nash.layers`):

- `growth`: carrying new channels through the network (the plan, and the weight transforms).
- `operators`: checking and applying the three operators; `apply`, `apply_with_weights`.
- `targets`: where each operator applies (`valid_targets`).
- `sampling`: drawing random morphisms (`random_morphisms`).
- `preservation`: what needs data: calibrating new batch norms, measuring and checking that a
  child computes its parent's function.

Example:

>>> from keras_nash import morphisms, seed_models
>>> arch = seed_models.simple_cnn_architecture((8, 8, 3), 10, filters=(4, 8))
>>> child = morphisms.apply(arch, [{"op": "wider", "conv": "conv_2", "factor": 2, "seed": 0}])
>>> child.node("conv_2").config["filters"]
16
"""

from keras_nash.morphisms.operators import OPERATORS, SKIP_MODES, apply, apply_with_weights
from keras_nash.morphisms.preservation import (
    PRESERVATION_TOLERANCES,
    PreservationError,
    calibrate_batch_norms,
    check_preservation,
    default_tolerance,
    logit_difference,
    logits_layer,
    max_output_difference,
    new_batch_norms,
)
from keras_nash.morphisms.sampling import random_morphisms
from keras_nash.morphisms.targets import valid_targets

__all__ = [
    "OPERATORS",
    "PRESERVATION_TOLERANCES",
    "SKIP_MODES",
    "PreservationError",
    "apply",
    "apply_with_weights",
    "calibrate_batch_norms",
    "check_preservation",
    "default_tolerance",
    "logit_difference",
    "logits_layer",
    "max_output_difference",
    "new_batch_norms",
    "random_morphisms",
    "valid_targets",
]
