"""The ENAS controller's decision programs: the order in which each space's decisions are taken.

`Controller` (`tuners/enas/controller.py`) owns the weights and the training; this module holds what
one pass over a batch does, one function per space, written after the authors' TensorFlow code
(melodyguan/enas: `src/cifar10/general_controller.py`, `src/cifar10/micro_controller.py`,
`src/ptb/ptb_enas_controller.py`). A program drives a `Run`, which steps the LSTM, scales logits
and takes (samples or teacher-forces) each decision, keeping its log-probability and entropy.

Decision vectors (int32):

- "macro": `[op_0, op_1, skip_1_0, op_2, skip_2_0, skip_2_1, ...]`, length `L + L(L-1)/2`.
- "micro": per cell (normal, reduction), per block `[input_1, input_2, op_1, op_2]`, `8 * L`.
- "recurrent": `[f_1, i_2, f_2, i_3, f_3, ..., i_N, f_N]`, length `2N - 1`: `f_j` the activation
  of node j, `i_j` in `[0, j - 2]` the node (0-based) that node j reads.
"""

import tensorflow as tf

# ptb_enas_controller.py, lines 126-127 and 143: the logit of node k as the input of node j loses
# (j - k)^2 / 6, and the chosen anchor is divided by (0.1 + j - k) before the next LSTM step.
DISTANCE_DIVISOR = 6.0
DISTANCE_OFFSET = 0.1


def num_decisions(space: str, num_layers: int) -> int:
    """The length of the decision vector of a space.

    Args:
        space: str, "macro", "micro" or "recurrent".
        num_layers: int, layers (macro), blocks per cell (micro) or nodes (recurrent).

    Returns:
        int, `L + L(L-1)/2` for macro, `8 * L` for micro, `2L - 1` for recurrent.
    """
    if space == "macro":
        return num_layers + num_layers * (num_layers - 1) // 2
    if space == "recurrent":
        return 2 * num_layers - 1
    return 8 * num_layers


class Run:
    """One pass of a program over a batch of `batch` architectures.

    Samples when `decisions` is None (with stateless ops seeded by `[seed, k]` for the k-th
    decision group), otherwise teacher-forces `decisions` (int32 `(batch, D)`).
    """

    def __init__(self, controller, batch, decisions=None, seed=None):
        self.controller = controller
        self.decisions = decisions
        self.seed = seed
        self.columns, self.log_probs, self.entropies, self.penalties = [], [], [], []
        self.h = self.c = tf.zeros([batch, controller.lstm_size])
        self.g_emb = tf.tile(tf.convert_to_tensor(controller.g_emb), [batch, 1])

    def step(self, inputs):
        """One LSTM step; returns the new hidden state `(B, size)`."""
        _, (self.h, self.c) = self.controller.lstm(inputs, [self.h, self.c])
        return self.h

    def scale(self, logits, op):
        """Temperature, then `c * tanh` (`c / op_tanh_reduce` for operation logits)."""
        controller = self.controller
        if controller.temperature > 0:
            logits = logits / controller.temperature
        if controller.tanh_constant > 0:
            constant = controller.tanh_constant
            if op:
                constant = constant / controller.op_tanh_reduce
            logits = constant * tf.tanh(logits)
        return logits

    def attention(self, anchors_w_1):
        """Attention logits `(B, n)` of the current state over n anchors (their `h @ w_attn_1`)."""
        controller = self.controller
        query = tf.stack(anchors_w_1, axis=1) + tf.matmul(self.h, controller.w_attn_2)[:, None]
        return tf.squeeze(tf.matmul(tf.tanh(query), controller.v_attn), -1)

    def op_logits(self, fixed_bias=None):
        """Operation logits `(B, num_ops)`: `h @ w_soft (+ b_soft)`, scaled, `+ fixed_bias`."""
        controller = self.controller
        logits = tf.matmul(self.h, controller.w_soft)
        if controller.b_soft is not None:
            logits = logits + controller.b_soft
        logits = self.scale(logits, op=True)
        if fixed_bias is not None:
            logits = logits + fixed_bias
        return logits

    def choose(self, logits):
        """Take n decisions at once from logits `(B, n, K)`; returns them, int32 `(B, n)`."""
        n, k = logits.shape[1], logits.shape[2]
        if self.decisions is None:
            seed = tf.stack([self.seed, tf.constant(len(self.log_probs), tf.int32)])
            flat = tf.reshape(logits, [-1, k])
            chosen = tf.random.stateless_categorical(flat, 1, seed=seed, dtype=tf.int32)
            chosen = tf.reshape(chosen, [-1, n])
        else:
            start = len(self.columns)
            chosen = self.decisions[:, start : start + n]
        self.columns.extend(tf.unstack(chosen, axis=1))
        log_softmax = tf.nn.log_softmax(logits)
        self.log_probs.append(tf.reduce_sum(tf.gather(log_softmax, chosen, batch_dims=2), axis=1))
        entropy = -tf.reduce_sum(tf.exp(log_softmax) * log_softmax, axis=[1, 2])
        self.entropies.append(tf.stop_gradient(entropy))
        return chosen

    def choose_one(self, logits):
        """One decision from logits `(B, K)`; returns it, int32 `(B,)`."""
        return self.choose(logits[:, None])[:, 0]

    def results(self):
        """`(decisions (B, D), log_prob (B,), entropy (B,), penalty (B,))`."""
        if self.penalties:
            penalty = tf.reduce_mean(tf.stack(self.penalties), axis=0)
        else:
            penalty = tf.zeros_like(self.log_probs[0])
        columns = tf.stack(self.columns, axis=1)
        return columns, tf.add_n(self.log_probs), tf.add_n(self.entropies), penalty


def macro(run):
    """general_controller.py (`search_whole_channels`): per layer an op, then a skip mask over the
    earlier layers by attention (logits `[-q, q]`), with a KL penalty towards `skip_target`."""
    controller = run.controller
    inputs, anchors, anchors_w_1 = run.g_emb, [], []
    targets = tf.constant([1.0 - controller.skip_target, controller.skip_target])
    for layer in range(controller.num_layers):
        run.step(inputs)
        op = run.choose_one(run.op_logits())
        h = run.step(tf.gather(controller.w_emb, op))
        if layer > 0:
            query = run.attention(anchors_w_1)
            logits = run.scale(tf.stack([-query, query], axis=-1), op=False)  # (B, layer, 2)
            skips = tf.cast(run.choose(logits), tf.float32)
            skip_prob = tf.sigmoid(logits)
            kl = skip_prob * tf.math.log(skip_prob / targets)
            run.penalties.append(tf.reduce_sum(kl, axis=[1, 2]))
            inputs = tf.reduce_sum(skips[:, :, None] * tf.stack(anchors, axis=1), axis=1)
            inputs = inputs / (1.0 + tf.reduce_sum(skips, axis=1, keepdims=True))
        else:
            inputs = run.g_emb
        anchors.append(h)
        anchors_w_1.append(tf.matmul(h, controller.w_attn_1))


def micro(run):
    """micro_controller.py: a normal then a reduction cell (one LSTM state throughout); per block
    two inputs by attention over the earlier nodes (the cell inputs have zero anchors), then two
    operations. `op_bias_fixed` is added to the normal cell's op logits only (their `use_bias`)."""
    controller = run.controller
    for cell in range(2):
        fixed_bias = controller.op_bias_fixed if cell == 0 else None
        anchors, anchors_w_1 = [], []
        for _ in range(2):
            h = run.step(run.g_emb)
            anchors.append(tf.zeros_like(h))
            anchors_w_1.append(tf.matmul(h, controller.w_attn_1))
        inputs = run.g_emb
        for _block in range(controller.num_layers):
            for _ in range(2):
                run.step(inputs)
                index = run.choose_one(run.scale(run.attention(anchors_w_1), op=False))
                inputs = tf.gather(tf.stack(anchors, axis=1), index, batch_dims=1)
            for _ in range(2):
                run.step(inputs)
                op = run.choose_one(run.op_logits(fixed_bias))
                inputs = tf.gather(controller.w_emb, op)
            h = run.step(inputs)
            anchors.append(h)
            anchors_w_1.append(tf.matmul(h, controller.w_attn_1))
            inputs = run.g_emb


def recurrent(run):
    """ptb_enas_controller.py `_build_sampler`: per node j one LSTM step gives its anchor; node
    j > 1 picks its input by attention over the anchors of the earlier nodes, minus the distance
    penalty, and feeds that anchor / (0.1 + distance); a second step picks the activation."""
    controller = run.controller
    inputs, anchors, anchors_w_1 = run.g_emb, [], []
    for node in range(controller.num_layers):
        h = run.step(inputs)
        if node > 0:
            logits = run.scale(run.attention(anchors_w_1), op=False)  # (B, node)
            distance = tf.range(node, 0, -1, dtype=tf.float32)  # node - k for k < node
            index = run.choose_one(logits - distance**2 / DISTANCE_DIVISOR)
            inputs = tf.gather(tf.stack(anchors, axis=1), index, batch_dims=1)
            inputs = inputs / (DISTANCE_OFFSET + tf.cast(node - index, tf.float32))[:, None]
        else:
            inputs = run.g_emb
        anchors.append(h)
        anchors_w_1.append(tf.matmul(h, controller.w_attn_1))
        run.step(inputs)
        func = run.choose_one(run.op_logits())
        inputs = tf.gather(controller.w_emb, func)


PROGRAMS = {"macro": macro, "micro": micro, "recurrent": recurrent}
