"""Evaluate a population of DARTS mixtures on one minibatch in one compiled call."""

import numpy as np
import tensorflow as tf


class PopulationEvaluator:
    """Evaluate many candidate mixtures of a `DartsSearchNetwork` on one minibatch, traced once.

    The mixtures are one float32 tensor `(population, 2, n_edges, n_ops)` fed to ONE compiled
    `tf.function` with a fixed input signature, which loops over them with `tf.map_fn` (one
    forward pass per candidate, no retracing, no Python between candidates). With
    `batch_stats=True` the batch norms use the minibatch's statistics (as DARTS's alpha step
    does) and their moving statistics are restored afterwards, so the evaluation leaves the
    network as it was; with `batch_stats=False` they use the moving statistics.

    Args:
        network: a built `DartsSearchNetwork` (or any model whose `call` takes
            `mixture=(w_normal, w_reduce)`).
        input_signature: `(x spec, y spec)` of the minibatches (`SearchData.input_signature`).
        alpha_shape: `(n_edges, n_ops)`. Defaults to `network.alpha_shape`.
        batch_stats: bool. Defaults to True.
        jit_compile: bool, compile with XLA. Defaults to False.

    Call arguments:
        x, y: one minibatch (integer labels).
        mixtures: array `(population, 2, n_edges, n_ops)`.

    Returns:
        `(cross_entropy, accuracy)`, two numpy arrays `(population,)`.

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> from keras_nash.spaces import DartsSearchNetwork, DartsSpace
    >>> space = DartsSpace(cells=3, channels=4, steps=2, multiplier=2,
    ...                    primitives=("skip_connect", "sep_conv_3x3"))
    >>> net = DartsSearchNetwork(space, num_classes=3, seed=0)
    >>> x, y = np.zeros((4, 8, 8, 3), "float32"), np.zeros((4,), "int32")
    >>> _ = net(x)
    >>> spec = (tf.TensorSpec((None, 8, 8, 3)), tf.TensorSpec((None,), "int32"))
    >>> evaluator = PopulationEvaluator(net, spec)
    >>> mixtures = np.full((5, 2) + space.alpha_shape, 0.5)
    >>> ce, acc = evaluator(x, y, mixtures)
    >>> ce.shape, acc.shape
    ((5,), (5,))
    """

    def __init__(
        self, network, input_signature, alpha_shape=None, batch_stats=True, jit_compile=False
    ):
        self.network = network
        self.alpha_shape = tuple(alpha_shape or network.alpha_shape)
        self.batch_stats = bool(batch_stats)
        self.trace_count = 0
        x_spec, y_spec = input_signature
        mixture_spec = tf.TensorSpec((None, 2) + self.alpha_shape, "float32")
        self._function = tf.function(
            self._evaluate,
            input_signature=[x_spec, y_spec, mixture_spec],
            jit_compile=jit_compile,
            autograph=False,
        )

    def _evaluate(self, x, y, mixtures):
        self.trace_count += 1  # runs only while tracing
        network = self.network
        y = tf.reshape(tf.cast(y, "int32"), (-1,))
        arch = {id(v) for v in getattr(network, "arch_variables", [])}
        moving = [v for v in network.non_trainable_variables if id(v) not in arch]
        saved = [tf.identity(v.value) for v in moving] if self.batch_stats else []

        def one(mixture):
            logits = network(x, training=self.batch_stats, mixture=(mixture[0], mixture[1]))
            logits = tf.cast(logits, "float32")
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            )
            correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type="int32"), y), "float32")
            return tf.stack([loss, tf.reduce_mean(correct)])

        out = tf.map_fn(one, mixtures, fn_output_signature=tf.TensorSpec((2,), "float32"))
        with tf.control_dependencies([out]):
            for variable, value in zip(moving, saved):
                variable.assign(value)
            out = tf.identity(out)
        return out

    def __call__(self, x, y, mixtures):
        expected = (2,) + self.alpha_shape
        mixtures = np.asarray(mixtures, "float32")
        if mixtures.ndim != 4 or mixtures.shape[1:] != expected:
            raise ValueError(
                f"`mixtures` must have shape (population,) + {expected}. "
                f"Received: mixtures.shape={mixtures.shape}"
            )
        out = self._function(x, y, tf.constant(mixtures)).numpy()
        return out[:, 0], out[:, 1]
