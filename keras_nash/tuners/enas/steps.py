"""ENAS's compiled shared-weight steps for the image spaces (macro, micro).

One `tf.function` each, the architecture an int32 input, traced once per search whatever the
architecture; the language model's are in `tuners/enas/lm.py`.
"""

import tensorflow as tf

from keras_nash.tuners.supernet.loop import (
    EpochMetrics,
    compile_step,
    global_mean,
    labels,
    weight_step,
)


def make_steps(network, optimizer, x_spec, y_spec, arch_spec, trace_counts=None, metrics=None,
               val_metrics=None):
    """The compiled shared-weight train and eval steps, architecture as an int32 input.

    The train step is the library's one weight step (`supernet.loop.weight_step`: clip, coupled
    L2, momentum, all in `optimizer`); each step adds its batch to its `EpochMetrics`.

    Args:
        network: the shared-weight model (called on `(x, arch)`), or any model called on `x`
            when `arch_spec` is None (a fixed child, for comparisons).
        optimizer: a built Keras optimizer over `network.trainable_variables` (e.g.
            `CoupledSGD(..., weight_decay=1e-4, global_clipnorm=5.0)`).
        x_spec, y_spec: `tf.TensorSpec`s of a batch (free batch dimension).
        arch_spec: `tf.TensorSpec` of the decision vector, or None.
        trace_counts: dict with "train_step" and "eval_step" counters, incremented at tracing.
        metrics, val_metrics: `EpochMetrics` of the train and eval steps (new ones if None).

    Returns:
        `(train_step, eval_step)`: `train_step(x, y, arch) -> (batch loss, the epoch's running
        accuracy)` and `eval_step(x, y, arch) -> (batch loss, batch accuracy)` (`arch`
        omitted without `arch_spec`).
    """
    counts = trace_counts if trace_counts is not None else {"train_step": 0, "eval_step": 0}
    metrics = metrics or EpochMetrics()
    val_metrics = val_metrics or EpochMetrics("val_")
    variables = network.trainable_variables

    def forward(x, arch, training):
        return network((x, arch), training=training) if arch_spec is not None else network(x, training=training)

    def batch_accuracy(logits, y):  # over the global batch under a distribution strategy
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels(y)), tf.float32)
        return global_mean(tf.math.divide_no_nan(tf.reduce_sum(correct), tf.cast(tf.size(correct), tf.float32)), y)

    def train_step(x, y, arch=None):
        counts["train_step"] += 1  # runs only while tracing
        loss = weight_step(lambda inputs: forward(inputs, arch, True), optimizer, variables, x, y, metrics)
        return loss, metrics.accuracy.result()

    def eval_step(x, y, arch=None):
        counts["eval_step"] += 1
        logits = forward(x, arch, False)
        loss = val_metrics.score(y, logits)
        return global_mean(loss, y), batch_accuracy(logits, y)

    signature = [x_spec, y_spec] + ([arch_spec] if arch_spec is not None else [])
    return (compile_step(train_step, signature, jit_compile=False),
            compile_step(eval_step, signature, jit_compile=False))
