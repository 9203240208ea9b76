"""Optimizers whose `weight_decay` is the papers' coupled L2, the same everywhere in keras_nash.

In keras_nash `weight_decay` always means coupled L2, as PyTorch's `SGD(weight_decay=)` and the
NAS papers' code (DARTS, PC-DARTS, EG-NAS) use it: the decay is added to the gradient,
`g <- g + weight_decay * w`, and goes through momentum with it. Keras's own
`keras.optimizers.SGD(weight_decay=)` is decoupled (`w <- w - lr * weight_decay * w`, outside
momentum), about 10x weaker at momentum 0.9 for the same number.

One order for every update (the DARTS / PyTorch order):
1. the loss gradient is clipped to `global_clipnorm` (or `clipnorm` / `clipvalue`) when set;
   under a distribution strategy, the global batch's gradient (the replicas' gradients summed
   first, as on one device and in PyTorch's `DistributedDataParallel`; Keras's own optimizers
   clip each replica's gradient before the sum: a bound up to `replicas` times looser);
2. the coupled L2 term `weight_decay * w` is added to it, for every variable the optimizer
   updates except those excluded with `exclude_from_weight_decay(...)`;
3. the optimizer's update (momentum, Nesterov, Adam moments) runs on the sum.

They are ordinary Keras optimizers (registered for `.keras` serialisation), so `model.compile`,
`model.fit` and hand-written steps (`optimizer.apply(grads, variables)`) all use the same
order.

Example:

>>> import numpy as np, keras
>>> w = keras.Variable(np.array([1.0], "float32"))
>>> opt = CoupledSGD(learning_rate=0.1, momentum=0.9, weight_decay=0.5)
>>> opt.apply([keras.ops.convert_to_tensor(np.array([2.0], "float32"))], [w])
>>> float(w.numpy()[0])  # 1 - 0.1 * (2 + 0.5 * 1)
0.75
"""

import keras
import tensorflow as tf
from keras import ops

from keras_nash import internals


class _CoupledWeightDecay:
    """Mixin: `weight_decay` as coupled L2 added to the (clipped) gradient in `update_step`."""

    def _apply_weight_decay(self, variables):
        # Keras's decoupled decay is replaced by the coupled term in `update_step`.
        return

    def update_step(self, gradient, variable, learning_rate):
        return super().update_step(self._coupled(gradient, variable), variable, learning_rate)

    def _coupled(self, gradient, variable):
        """`gradient + weight_decay * variable` (the gradient as it is without decay)."""
        if self.weight_decay and internals.uses_weight_decay(self, variable):
            gradient = ops.add(
                ops.cast(gradient, variable.dtype),
                ops.multiply(ops.cast(self.weight_decay, variable.dtype), variable),
            )
        return gradient

    def _clip_gradients(self, grads):
        context = tf.distribute.get_replica_context()  # None in a cross-replica context
        clips = self.clipnorm or self.global_clipnorm or self.clipvalue
        if not clips or context is None or context.num_replicas_in_sync == 1:
            return super()._clip_gradients(grads)
        # Clip the sum of the replicas' gradients; each replica then hands Keras's all-reduce
        # (which sums them again) its share. One more all-reduce a step, only when clipping.
        replicas = context.num_replicas_in_sync
        clipped = super()._clip_gradients(
            context.all_reduce(tf.distribute.ReduceOp.SUM, list(grads))
        )
        return [g / replicas for g in clipped]


def _handle(variable):
    """The resource handle of a Keras or TensorFlow variable (inside a distribution strategy's
    update, the current device's copy)."""
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle


@keras.saving.register_keras_serializable(package="keras_nash")
class CoupledSGD(_CoupledWeightDecay, keras.optimizers.SGD):
    """SGD (momentum, Nesterov) with coupled L2 `weight_decay`, as PyTorch's `SGD`.

    Args:
        learning_rate: float or schedule. Defaults to 0.01.
        momentum: float >= 0. Defaults to 0.0.
        nesterov: bool. Defaults to False.
        weight_decay: float or None, coupled L2: `weight_decay * w` is added to each
            gradient after clipping. Defaults to None (no decay).
        **kwargs: other `keras.optimizers.SGD` arguments (`global_clipnorm`, ...).

    With momentum on TensorFlow, each variable's update is one fused kernel
    (`ResourceApplyKerasMomentum`: Keras's SGD formulas, `m <- momentum * m - lr * g`, then
    `w <- w + m`, or with Nesterov `w <- w + momentum * m - lr * g`) instead of Keras's dozen
    small operations: a supernet's traced step is a fifth smaller and traces faster.

    Example:

    >>> opt = CoupledSGD(learning_rate=0.025, momentum=0.9, weight_decay=3e-4, global_clipnorm=5.0)
    """

    def update_step(self, gradient, variable, learning_rate):
        if not self.momentum or keras.backend.backend() != "tensorflow":
            return super().update_step(gradient, variable, learning_rate)
        gradient = tf.convert_to_tensor(self._coupled(gradient, variable))  # dense, as Keras's
        momentum = self.momentums[self._get_variable_index(variable)]
        tf.raw_ops.ResourceApplyKerasMomentum(
            var=_handle(variable),
            accum=_handle(momentum),
            lr=tf.cast(learning_rate, variable.dtype),
            grad=tf.cast(gradient, variable.dtype),
            momentum=tf.cast(self.momentum, variable.dtype),
            use_nesterov=self.nesterov,
        )


@keras.saving.register_keras_serializable(package="keras_nash")
class CoupledAdam(_CoupledWeightDecay, keras.optimizers.Adam):
    """Adam with coupled L2 `weight_decay`, as PyTorch's `Adam(weight_decay=)` (DARTS's alpha).

    Example:

    >>> opt = CoupledAdam(learning_rate=3e-4, beta_1=0.5, beta_2=0.999, weight_decay=1e-3)
    """
