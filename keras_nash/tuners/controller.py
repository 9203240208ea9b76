"""The ENAS controller: an LSTM that samples architectures decision by decision (Pham et al. 2018).

The controller knows nothing of keras-tuner: it samples batches of architectures as int32
decision vectors, recomputes the log-probability of given decisions, and takes REINFORCE steps
from rewards. `EnasOracle` owns one and keeps its weights in a file.

Two decision programs, as in the authors' TensorFlow code (`general_controller.py`,
`micro_controller.py`):

- "macro": for each layer i, one LSTM step picks the operation (softmax over `num_ops`), a second
  LSTM step picks the skip mask over the i earlier layers with attention over their anchors
  (one binary decision per earlier layer, logits `[-q, q]`); the next input is the mean of the
  chosen anchors. A KL penalty pulls the skip rate towards `skip_target`. Decision vector:
  `[op_0, op_1, skip_1_0, op_2, skip_2_0, skip_2_1, ...]`, length `L + L(L-1)/2`.
- "micro": a normal cell then a reduction cell (the reduction continues the LSTM state), each of
  `num_blocks` blocks: two input indices chosen by attention over the anchors of the earlier nodes
  (the two cell inputs have zero anchors), then two operations. Decision vector: per cell, per
  block `[input_1, input_2, op_1, op_2]`, length `8 * num_blocks`.

Logits: divided by `temperature` (if set), then `tanh_constant * tanh(logits)` for input and
skip decisions and `tanh_constant / op_tanh_reduce * tanh(logits)` for operations. The authors'
micro controller reduces op logits by 2.5; their macro controller has no such divisor (1.0).

REINFORCE: the reward of a sample is `reward + entropy_weight * entropy` (exact entropy of the
sampled decisions' distributions), the baseline moves first, `b <- b - (1 - decay)(b - R)`, then
the loss is `-log pi(a) * (R - b)` averaged over the batch (+ `skip_weight * KL` for macro).
Adam with beta_1 = 0 and epsilon = 1e-3 as the authors' `get_train_ops`.

Sampling is deterministic given `(seed, num)`: stateless random ops, one seed per decision.
"""

import numpy as np
import keras
import tensorflow as tf

from keras_nash import files

SPACES = ("macro", "micro")

# The authors' CIFAR-10 defaults for each space.
DEFAULTS = {
    "macro": dict(tanh_constant=1.5, op_tanh_reduce=1.0, learning_rate=1e-3, skip_weight=0.8),
    "micro": dict(tanh_constant=1.1, op_tanh_reduce=2.5, learning_rate=3.5e-3, skip_weight=0.0),
}


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={value!r}")


def num_decisions(space: str, num_layers: int) -> int:
    """The length of the decision vector of a space.

    Args:
        space: str, "macro" or "micro".
        num_layers: int, layers (macro) or blocks per cell (micro).

    Returns:
        int, `L + L(L-1)/2` for macro, `8 * L` for micro.
    """
    if space == "macro":
        return num_layers + num_layers * (num_layers - 1) // 2
    return 8 * num_layers


class Controller:
    """An LSTM policy over architectures, trained with REINFORCE.

    Args:
        space: str, "macro" or "micro": the decision program.
        num_layers: int >= 1, layers (macro) or blocks per cell (micro, 5 in ENAS).
        num_ops: int >= 2, candidate operations per decision.
        lstm_size: int >= 1, LSTM units. Defaults to 64.
        tanh_constant: float, logit bound `c * tanh(logits)`; 0 disables. Defaults to 1.5.
        op_tanh_reduce: float > 0, divides `tanh_constant` for operation logits. Defaults to 1.0
            (macro; the authors use 2.5 in micro).
        temperature: float, logits are divided by it first; 0 disables. Defaults to 0.
        entropy_weight: float, entropy bonus added to the reward. Defaults to 1e-4.
        baseline_decay: float in [0, 1), the moving-average baseline's decay. Defaults to 0.99.
        skip_target: float in (0, 1), macro target skip rate. Defaults to 0.4.
        skip_weight: float, weight of the skip KL penalty (macro only). Defaults to 0.8.
        learning_rate: float, Adam learning rate. Defaults to 1e-3 (3.5e-3 in micro).
        adam_beta_1: float, Adam beta_1. Defaults to 0.0 (the authors' code).
        adam_epsilon: float, Adam epsilon. Defaults to 1e-3 (the authors' code).
        init_range: float, weights start uniform in `(-init_range, init_range)`. Defaults to 0.1.
        seed: int, seed of the weight initialisation. Defaults to 0.

    Example:

    >>> controller = Controller("macro", num_layers=4, num_ops=6)
    >>> decisions, log_probs, entropies = controller.sample(8, seed=1)
    >>> decisions.shape
    (8, 10)
    >>> controller.update(decisions, rewards=np.random.rand(8))["baseline"] > 0
    True
    """

    def __init__(
        self,
        space: str,
        num_layers: int,
        num_ops: int,
        lstm_size: int = 64,
        tanh_constant: float = 1.5,
        op_tanh_reduce: float = 1.0,
        temperature: float = 0.0,
        entropy_weight: float = 1e-4,
        baseline_decay: float = 0.99,
        skip_target: float = 0.4,
        skip_weight: float = 0.8,
        learning_rate: float = 1e-3,
        adam_beta_1: float = 0.0,
        adam_epsilon: float = 1e-3,
        init_range: float = 0.1,
        seed: int = 0,
    ):
        if space not in SPACES:
            raise ValueError(f"`space` must be one of {SPACES}. Received: space={space!r}")
        _check_positive_int("num_layers", num_layers)
        _check_positive_int("lstm_size", lstm_size)
        if isinstance(num_ops, bool) or not isinstance(num_ops, (int, np.integer)) or num_ops < 2:
            raise ValueError(f"`num_ops` must be an int >= 2. Received: num_ops={num_ops!r}")
        if not 0.0 <= baseline_decay < 1.0:
            raise ValueError(f"`baseline_decay` must be in [0, 1). Received: baseline_decay={baseline_decay}")
        if not 0.0 < skip_target < 1.0:
            raise ValueError(f"`skip_target` must be in (0, 1). Received: skip_target={skip_target}")
        if op_tanh_reduce <= 0:
            raise ValueError(f"`op_tanh_reduce` must be > 0. Received: op_tanh_reduce={op_tanh_reduce}")
        if learning_rate <= 0:
            raise ValueError(f"`learning_rate` must be > 0. Received: learning_rate={learning_rate}")
        self.space = space
        self.num_layers = int(num_layers)
        self.num_ops = int(num_ops)
        self.lstm_size = int(lstm_size)
        self.tanh_constant = float(tanh_constant or 0.0)
        self.op_tanh_reduce = float(op_tanh_reduce)
        self.temperature = float(temperature or 0.0)
        self.entropy_weight = float(entropy_weight)
        self.baseline_decay = float(baseline_decay)
        self.skip_target = float(skip_target)
        self.skip_weight = float(skip_weight)
        self.learning_rate = float(learning_rate)
        self.num_decisions = num_decisions(space, self.num_layers)
        self.baseline = 0.0
        self.step = 0

        init = keras.initializers.RandomUniform(-init_range, init_range, seed=seed)
        size = self.lstm_size
        self.lstm = keras.layers.LSTMCell(
            size, use_bias=False, kernel_initializer=init, recurrent_initializer=init, name="controller_lstm"
        )
        self.lstm.build((None, size))

        def variable(name, shape):
            return keras.Variable(init(shape), name=name)

        self.g_emb = variable("g_emb", (1, size))
        self.w_emb = variable("w_emb", (self.num_ops, size))
        self.w_soft = variable("w_soft", (size, self.num_ops))
        self.w_attn_1 = variable("w_attn_1", (size, size))
        self.w_attn_2 = variable("w_attn_2", (size, size))
        self.v_attn = variable("v_attn", (size, 1))
        self.variables = list(self.lstm.trainable_weights) + [
            self.g_emb, self.w_emb, self.w_soft, self.w_attn_1, self.w_attn_2, self.v_attn
        ]
        self.optimizer = keras.optimizers.Adam(self.learning_rate, beta_1=adam_beta_1, epsilon=adam_epsilon)
        self.optimizer.build(self.variables)

        spec = tf.TensorSpec([None, self.num_decisions], tf.int32)
        self._sample_fn = tf.function(
            self._sample, input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32)]
        )
        self._log_prob_fn = tf.function(self._log_prob, input_signature=[spec])
        self._apply_fn = tf.function(self._apply, input_signature=[spec, tf.TensorSpec([None], tf.float32)])

    @classmethod
    def for_space(cls, search_space, **overrides) -> "Controller":
        """A controller with the authors' defaults for `search_space` (a `MacroSpace`/`MicroSpace`).

        Args:
            search_space: a search space with `name`, `controller_layers` and `operations`.
            **overrides: any constructor argument; `None` values keep the space default.

        Returns:
            A `Controller`.
        """
        kwargs = dict(DEFAULTS[search_space.name])
        kwargs.update({k: v for k, v in overrides.items() if v is not None})
        return cls(search_space.name, search_space.controller_layers, len(search_space.operations), **kwargs)

    # The decision programs ---------------------------------------------------------------------

    def _scale(self, logits, op):
        if self.temperature > 0:
            logits = logits / self.temperature
        if self.tanh_constant > 0:
            constant = self.tanh_constant / self.op_tanh_reduce if op else self.tanh_constant
            logits = constant * tf.tanh(logits)
        return logits

    def _run(self, batch, decisions=None, seed=None):
        """Run the program; sample (decisions None) or teacher-force. Returns 5 tensors."""
        columns, log_prob, entropy, penalties = [], [], [], []
        counter = [0]

        def choose(logits):
            # logits (B, n, K) -> chosen (B, n): n decisions at once; adds their log-probs and entropies.
            n, k = logits.shape[1], logits.shape[2]
            if decisions is None:
                seed_pair = tf.stack([seed, tf.constant(counter[0], tf.int32)])
                flat = tf.reshape(logits, [-1, k])
                chosen = tf.random.stateless_categorical(flat, 1, seed=seed_pair, dtype=tf.int32)
                chosen = tf.reshape(chosen, [-1, n])
            else:
                chosen = decisions[:, len(columns) : len(columns) + n]
            counter[0] += 1
            columns.extend(tf.unstack(chosen, axis=1))
            log_softmax = tf.nn.log_softmax(logits)
            log_prob.append(tf.reduce_sum(tf.gather(log_softmax, chosen, batch_dims=2), axis=1))
            entropy.append(tf.stop_gradient(-tf.reduce_sum(tf.exp(log_softmax) * log_softmax, axis=[1, 2])))
            return chosen

        h = c = tf.zeros([batch, self.lstm_size])
        g_emb = tf.tile(tf.convert_to_tensor(self.g_emb), [batch, 1])

        def lstm(inputs, h, c):
            out, (h, c) = self.lstm(inputs, [h, c])
            return h, c

        def attention(anchors_w_1, h):
            query = tf.tanh(tf.stack(anchors_w_1, axis=1) + tf.matmul(h, self.w_attn_2)[:, None, :])
            return tf.squeeze(tf.matmul(query, self.v_attn), -1)  # (B, n)

        if self.space == "macro":
            inputs, anchors, anchors_w_1 = g_emb, [], []
            targets = tf.constant([1.0 - self.skip_target, self.skip_target])
            for layer in range(self.num_layers):
                h, c = lstm(inputs, h, c)
                op = choose(self._scale(tf.matmul(h, self.w_soft), op=True)[:, None])[:, 0]
                inputs = tf.gather(self.w_emb, op)
                h, c = lstm(inputs, h, c)
                if layer > 0:
                    query = attention(anchors_w_1, h)
                    logits = self._scale(tf.stack([-query, query], axis=-1), op=False)  # (B, layer, 2)
                    skips = choose(logits)
                    skip_prob = tf.sigmoid(logits)
                    penalties.append(tf.reduce_sum(skip_prob * tf.math.log(skip_prob / targets), axis=[1, 2]))
                    skips = tf.cast(skips, tf.float32)
                    inputs = tf.reduce_sum(skips[:, :, None] * tf.stack(anchors, axis=1), axis=1)
                    inputs = inputs / (1.0 + tf.reduce_sum(skips, axis=1, keepdims=True))
                else:
                    inputs = g_emb
                anchors.append(h)
                anchors_w_1.append(tf.matmul(h, self.w_attn_1))
        else:
            for _cell in range(2):
                anchors, anchors_w_1 = [], []
                for _ in range(2):
                    h, c = lstm(g_emb, h, c)
                    anchors.append(tf.zeros_like(h))
                    anchors_w_1.append(tf.matmul(h, self.w_attn_1))
                inputs = g_emb
                for _block in range(self.num_layers):
                    for _ in range(2):
                        h, c = lstm(inputs, h, c)
                        index = choose(self._scale(attention(anchors_w_1, h), op=False)[:, None])[:, 0]
                        inputs = tf.gather(tf.stack(anchors, axis=1), index, batch_dims=1)
                    for _ in range(2):
                        h, c = lstm(inputs, h, c)
                        op = choose(self._scale(tf.matmul(h, self.w_soft), op=True)[:, None])[:, 0]
                        inputs = tf.gather(self.w_emb, op)
                    h, c = lstm(inputs, h, c)
                    anchors.append(h)
                    anchors_w_1.append(tf.matmul(h, self.w_attn_1))
                    inputs = g_emb
        penalty = tf.reduce_mean(tf.stack(penalties), axis=0) if penalties else tf.zeros([batch])
        return (
            tf.stack(columns, axis=1),
            tf.add_n(log_prob),
            tf.add_n(entropy),
            penalty,
        )

    def _sample(self, num, seed):
        decisions, log_prob, entropy, _ = self._run(num, seed=seed)
        return decisions, log_prob, entropy

    def _log_prob(self, decisions):
        _, log_prob, entropy, penalty = self._run(tf.shape(decisions)[0], decisions=decisions)
        return log_prob, entropy, penalty

    def _apply(self, decisions, advantages):
        with tf.GradientTape() as tape:
            log_prob, _, penalty = self._log_prob(decisions)
            loss = tf.reduce_mean(-log_prob * advantages)
            if self.space == "macro" and self.skip_weight:
                loss += self.skip_weight * tf.reduce_mean(penalty)
        grads = tape.gradient(loss, self.variables)
        self.optimizer.apply(grads, self.variables)
        return loss

    # The public API ----------------------------------------------------------------------------

    def sample(self, num: int, seed: int):
        """Sample `num` architectures, deterministically given `(num, seed)`.

        Args:
            num: int >= 1, how many architectures.
            seed: int, the sampling seed.

        Returns:
            A tuple `(decisions, log_probs, entropies)` of numpy arrays: int32 `(num, D)`, the sum of
            the log-probabilities of each sample's decisions `(num,)`, and the sum of the entropies
            of the distributions they were drawn from `(num,)`.
        """
        _check_positive_int("num", num)
        decisions, log_prob, entropy = self._sample_fn(tf.constant(num, tf.int32), tf.constant(seed % 2**31, tf.int32))
        return decisions.numpy(), log_prob.numpy(), entropy.numpy()

    def log_prob(self, decisions):
        """Recompute the log-probabilities of given decision vectors (teacher forcing).

        Args:
            decisions: int array `(num, D)` (or `(D,)`), decision vectors of this controller.

        Returns:
            A tuple `(log_probs, entropies, skip_penalties)` of float numpy arrays `(num,)`.
        """
        decisions = self._check_decisions(decisions)
        log_prob, entropy, penalty = self._log_prob_fn(tf.constant(decisions))
        return log_prob.numpy(), entropy.numpy(), penalty.numpy()

    def update(self, decisions, rewards) -> dict:
        """One REINFORCE step on a batch of sampled architectures and their rewards.

        The baseline moves once per sample, in order, before that sample's advantage is taken
        (as the authors' code does); the gradient is the batch mean (their `num_aggregate`).

        Args:
            decisions: int array `(num, D)`, the sampled decision vectors.
            rewards: float array `(num,)`, e.g. validation accuracies of the samples.

        Returns:
            A dict of floats: `loss`, `baseline`, `reward` (mean, with entropy bonus), `entropy`.
        """
        decisions = self._check_decisions(decisions)
        rewards = np.asarray(rewards, dtype="float64").reshape(-1)
        if len(rewards) != len(decisions) or not np.all(np.isfinite(rewards)):
            raise ValueError(
                f"`rewards` must hold one finite value per architecture ({len(decisions)}). "
                f"Received: rewards={rewards.tolist()}"
            )
        _, entropy, _ = self.log_prob(decisions)
        rewards = rewards + self.entropy_weight * entropy
        advantages = np.empty_like(rewards)
        for k, reward in enumerate(rewards):
            self.baseline = float(self.baseline - (1.0 - self.baseline_decay) * (self.baseline - reward))
            advantages[k] = reward - self.baseline
        loss = self._apply_fn(tf.constant(decisions), tf.constant(advantages, tf.float32))
        self.step += 1
        return {
            "loss": float(loss),
            "baseline": float(self.baseline),
            "reward": float(rewards.mean()),
            "entropy": float(entropy.mean()),
        }

    def _check_decisions(self, decisions):
        decisions = np.asarray(decisions, dtype="int32")
        if decisions.ndim == 1:
            decisions = decisions[None]
        if decisions.ndim != 2 or decisions.shape[1] != self.num_decisions:
            raise ValueError(
                f"`decisions` must have shape (num, {self.num_decisions}). Received: shape={decisions.shape}"
            )
        return decisions

    def save(self, path: str):
        """Write the weights and the Adam state to `path` (a `.npz` file); baseline and step are
        the caller's state (`get_state`)."""
        arrays = {f"w{i}": np.asarray(v) for i, v in enumerate(self.variables)}
        arrays.update({f"o{i}": np.asarray(v) for i, v in enumerate(self.optimizer.variables)})
        files.replace_atomically(path, lambda temporary: np.savez(temporary, **arrays))

    def load(self, path: str):
        """Read what `save` wrote."""
        with np.load(path) as data:
            for i, v in enumerate(self.variables):
                v.assign(data[f"w{i}"])
            for i, v in enumerate(self.optimizer.variables):
                v.assign(data[f"o{i}"])

    def get_state(self) -> dict:
        """The JSON part of the controller's state: `{"baseline": float, "step": int}`."""
        return {"baseline": float(self.baseline), "step": int(self.step)}

    def set_state(self, state: dict):
        """Restore what `get_state` returned."""
        self.baseline = float(state.get("baseline", 0.0))
        self.step = int(state.get("step", 0))
