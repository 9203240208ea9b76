"""ENAS's recurrent cell (Pham et al. 2018, section 2.1) and its language-model layers.

The cell has `num_nodes` nodes. Node 1 reads the input `x_t` and the state `h_{t-1}`:
`c = sigmoid(x_t W_xc + h_{t-1} W_hc)`, `h_1 = h_{t-1} + c * (f_1(x_t W_xh + h_{t-1} W_hh) -
h_{t-1})`; node `j >= 2` reads one earlier node `i`: `c = sigmoid(h_i W^c_{j,i})`,
`h_j = h_i + c * (f_j(h_i W^h_{j,i}) - h_i)`, `f` one of `RECURRENT_ACTIVATIONS`. The cell's
output, which is also its next state, is the mean of the loose ends (the nodes no later node
reads). There are no biases. The highway form `prev + c * (f(.) - prev)` and the rest follow
the authors' code, melodyguan/enas `src/ptb/ptb_enas_child.py` (`_rhn_enas`, `_model`,
`_build_params`): the `[h, c]` column order of each node's kernel, variational dropout masks
drawn once per call (on `x_t` before node 1, the same mask on every node's state input), and a
batch norm (decay 0.999, epsilon 1.0, `ptb_ops.batch_norm`) on each node's pre-activations and
on the cell's output, as in the authors' shared-weight (search) cell; their fixed-architecture
cell `_rhn_fixed` has none (`batch_norm=False`).

- `EnasRecurrent`: the cell run over a sequence. Without `decisions` it is the shared-weight
  cell: every node's kernels stacked in one variable, the architecture an int32 tensor
  argument of `call`, so one trace serves every architecture. With `decisions` it is a fixed
  child holding only that architecture's kernels (`copy_from` takes them from a shared cell).
- `TiedEmbedding`: a token embedding whose transpose is also the softmax layer (weight tying,
  as the authors' `_get_log_probs`).
- `WordDropout`: the authors' embedding dropout, which drops whole words.

The decision vector is `[f_1, i_2, f_2, ..., i_N, f_N]`: `f_j` an index into
`RECURRENT_ACTIVATIONS`, `i_j` in `[0, j - 2]` the 0-based index of node `j`'s input node.
"""

import keras
from keras import ops

from keras_nash.checks import check_float, check_int
from keras_nash.layers.base import ConfigLayer

# The authors' order (`_rhn_enas`: func_idx 0 tanh, 1 relu, 2 identity, 3 sigmoid).
RECURRENT_ACTIVATIONS = ("tanh", "relu", "identity", "sigmoid")
_FUNCTIONS = (ops.tanh, ops.relu, lambda x: x, ops.sigmoid)
BN_DECAY = 0.999  # the authors' `ptb_ops.batch_norm`: decay 0.999, epsilon 1.0
BN_EPSILON = 1.0


def default_init_range(hidden_size: int) -> float:
    """The authors' uniform initialisation range for a hidden size (`_build_params`).

    Example:

    >>> from keras_nash.layers.enas_rnn import default_init_range
    >>> default_init_range(64), default_init_range(400), default_init_range(720)
    (0.1, 0.05, 0.04)
    """
    hidden_size = check_int("hidden_size", hidden_size, minimum=1)
    return 0.1 if hidden_size <= 300 else 0.05 if hidden_size <= 400 else 0.04


def check_decisions(decisions, num_nodes: int) -> list:
    """`decisions` as a list of `2 * num_nodes - 1` valid ints, or a ValueError naming the slot.

    Example:

    >>> from keras_nash.layers.enas_rnn import check_decisions
    >>> check_decisions([1, 0, 3], num_nodes=2)
    [1, 0, 3]
    """
    decisions = [int(d) for d in decisions]
    if len(decisions) != 2 * num_nodes - 1:
        raise ValueError(
            f"`decisions` must hold 2 * num_nodes - 1 = {2 * num_nodes - 1} ints. "
            f"Received: decisions={decisions}"
        )
    for k, value in enumerate(decisions):
        choices = len(RECURRENT_ACTIVATIONS) if k % 2 == 0 else (k + 1) // 2
        if not 0 <= value < choices:
            raise ValueError(
                f"`decisions[{k}]` must be in [0, {choices - 1}]. Received: decisions={decisions}"
            )
    return decisions


def _uniform(init_range):
    return keras.initializers.RandomUniform(-init_range, init_range)


@keras.saving.register_keras_serializable(package="keras_nash")
class TiedEmbedding(ConfigLayer):
    """A token embedding that is also, transposed, the output softmax layer (tied weights).

    The authors' language model has no separate softmax weights and no output bias: the logits
    are `h @ embeddings^T` (`ptb_enas_child.py`, `_get_log_probs`).

    Args:
        vocab_size: int >= 1, the number of tokens.
        output_dim: int >= 1, the embedding size (the cell's hidden size, to tie).
        init_range: float > 0, the uniform initialisation range. Defaults to 0.1.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: int tokens `(batch, ...)`, or with `reverse=True` vectors `(..., output_dim)`.
        reverse: bool, return the logits `inputs @ embeddings^T`. Defaults to False.

    Returns:
        `(batch, ..., output_dim)` embeddings, or `(..., vocab_size)` logits when reversed.

    Example:

    >>> import numpy as np
    >>> from keras_nash.layers.enas_rnn import TiedEmbedding
    >>> embedding = TiedEmbedding(10, 4)
    >>> vectors = embedding(np.array([[1, 2, 3]]))
    >>> tuple(vectors.shape), tuple(embedding(vectors, reverse=True).shape)
    ((1, 3, 4), (1, 3, 10))
    """

    config_keys = ("vocab_size", "output_dim", "init_range")

    def __init__(self, vocab_size: int, output_dim: int, init_range: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = check_int("vocab_size", vocab_size, minimum=1)
        self.output_dim = check_int("output_dim", output_dim, minimum=1)
        self.init_range = check_float("init_range", init_range, minimum=0, exclusive=True)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.vocab_size, self.output_dim),
            initializer=_uniform(self.init_range),
            name="embeddings",
        )

    def call(self, inputs, reverse=False):
        if reverse:
            return ops.matmul(inputs, ops.transpose(self.embeddings))
        return ops.take(self.embeddings, ops.cast(inputs, "int32"), axis=0)


@keras.saving.register_keras_serializable(package="keras_nash")
class WordDropout(ConfigLayer):
    """The authors' embedding dropout: drop words, and later copies of a dropped word.

    Each `(sequence, position)` is dropped with probability `rate` (the kept ones scaled by
    `1 / (1 - rate)`); a word is also dropped where the same token was dropped earlier in its
    sequence (`ptb_enas_child.py`, `_model`, the `e_mask` loop). Training only.

    Args:
        rate: float in [0, 1), the drop probability. Defaults to 0.
        seed: int or None, seeds the masks. Defaults to None.
        **kwargs: base `Layer` arguments.

    Call arguments:
        embeddings: `(batch, time, dim)` embedded tokens.
        tokens: int `(batch, time)`, the tokens they embed.
        training: bool; without it (or False) the embeddings pass unchanged.

    Returns:
        The embeddings, some words zeroed when training.

    Example:

    >>> import numpy as np
    >>> from keras_nash.layers.enas_rnn import WordDropout
    >>> tokens = np.array([[5, 5, 5, 5, 5, 5]])
    >>> out = WordDropout(0.5, seed=0)(np.ones((1, 6, 2), "float32"), tokens, training=True)
    >>> kept = out[0, :, 0].numpy().tolist()  # after the first drop of 5, every 5 is dropped
    >>> kept == sorted(kept, reverse=True) and set(kept) <= {0.0, 2.0}
    True
    """

    config_keys = ("rate", "seed")

    def __init__(self, rate: float = 0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_float("rate", rate, minimum=0, maximum=0.999)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, embeddings, tokens, training=None):
        if not training or self.rate == 0:
            return embeddings
        tokens = ops.cast(tokens, "int32")
        mask = keras.random.dropout(
            ops.ones(ops.shape(tokens), embeddings.dtype), self.rate, seed=self.seed_generator
        )
        same = ops.equal(tokens[:, :, None], tokens[:, None, :])  # [b, later s, earlier t]
        steps = ops.arange(ops.shape(tokens)[1])
        earlier = steps[None, :, None] > steps[None, None, :]
        dropped = ops.equal(mask, 0)[:, None, :]
        follows_a_drop = ops.any(same & earlier & dropped, axis=2)
        mask = ops.where(follows_a_drop, ops.zeros_like(mask), mask)
        return embeddings * mask[:, :, None]

    def compute_output_shape(self, embeddings_shape):
        return embeddings_shape


@keras.saving.register_keras_serializable(package="keras_nash")
class EnasRecurrent(ConfigLayer):
    """ENAS's searched recurrent cell over a sequence: shared-weight, or one fixed architecture.

    Shared (`decisions=None`): node 1 has a kernel per activation if `weights_per_activation`,
    else one; node `j >= 2` a kernel per earlier node `i` (the paper's `W_{j,i}`), or per
    `(i, f_j)` pair if `weights_per_activation` (the authors' `w_skip` layout). Each node's
    kernels are one stacked variable, `node{n}_kernel`, from which `call` gathers by the
    architecture tensor; the activation is gathered from the stacked four, the loose ends are a
    mask computed from the tensor. Fixed (`decisions` a list): only the chosen kernels.

    Args:
        num_nodes: int >= 1, the cell's nodes (paper: 12).
        hidden_size: int >= 1, the state size.
        decisions: list of `2 * num_nodes - 1` ints, or None for the shared cell.
        input_dropout: float in [0, 1), the variational dropout on `x_t`. Defaults to 0.
        state_dropout: float in [0, 1), the variational dropout on every node's state input.
            Defaults to 0.
        batch_norm: bool, the authors' batch norms (search cell). Defaults to True.
        weights_per_activation: bool, the authors' kernel per (node, input, activation) instead
            of the paper's per (node, input). Defaults to False.
        init_range: float > 0 or None, the kernels' uniform range. Defaults to None (the
            authors' rule, `default_init_range(hidden_size)`).
        seed: int or None, seeds the dropout masks. Defaults to None.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: `(batch, time, input_dim)` float inputs.
        state: `(batch, hidden_size)` initial state.
        decisions: int32 `(2 * num_nodes - 1,)` architecture tensor (shared cell only).
        training: bool, dropout and batch statistics.

    Returns:
        `(outputs (batch, time, hidden_size), final_state (batch, hidden_size))`.

    Example:

    >>> import numpy as np
    >>> from keras_nash.layers.enas_rnn import EnasRecurrent
    >>> cell = EnasRecurrent(3, 4)
    >>> out, state = cell(np.ones((2, 5, 4), "float32"), np.zeros((2, 4), "float32"),
    ...                   np.array([0, 0, 1, 1, 2], "int32"))
    >>> tuple(out.shape), tuple(state.shape)
    ((2, 5, 4), (2, 4))
    >>> fixed = EnasRecurrent(3, 4, decisions=[0, 0, 1, 1, 2])
    >>> _ = fixed(np.ones((2, 5, 4), "float32"), np.zeros((2, 4), "float32"))
    >>> fixed.copy_from(cell)
    >>> bool(np.allclose(fixed(np.ones((2, 5, 4), "float32"), np.zeros((2, 4), "float32"))[0],
    ...                  out, atol=1e-6))
    True
    """

    config_keys = (
        "num_nodes",
        "hidden_size",
        "decisions",
        "input_dropout",
        "state_dropout",
        "batch_norm",
        "weights_per_activation",
        "init_range",
        "seed",
    )

    def __init__(
        self,
        num_nodes: int,
        hidden_size: int,
        decisions=None,
        input_dropout: float = 0.0,
        state_dropout: float = 0.0,
        batch_norm: bool = True,
        weights_per_activation: bool = False,
        init_range=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_nodes = check_int("num_nodes", num_nodes, minimum=1)
        self.hidden_size = check_int("hidden_size", hidden_size, minimum=1)
        self.decisions = None if decisions is None else check_decisions(decisions, num_nodes)
        self.input_dropout = check_float("input_dropout", input_dropout, 0, 0.999)
        self.state_dropout = check_float("state_dropout", state_dropout, 0, 0.999)
        self.batch_norm = bool(batch_norm)
        self.weights_per_activation = bool(weights_per_activation)
        if init_range is not None:
            init_range = check_float("init_range", init_range, minimum=0, exclusive=True)
        self.init_range = init_range
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.node_norms, self.output_norm = [], None
        if self.batch_norm:
            self.node_norms = [self._norm(f"node{n}_bn") for n in range(self.num_nodes)]
            self.output_norm = self._norm("output_bn")

    @staticmethod
    def _norm(name):
        return keras.layers.BatchNormalization(momentum=BN_DECAY, epsilon=BN_EPSILON, name=name)

    @property
    def shared(self) -> bool:
        """Whether this is the shared-weight cell (no fixed decisions)."""
        return self.decisions is None

    def kernel_count(self, node: int) -> int:
        """How many kernels the shared cell stacks for 0-based `node`."""
        per_input = len(RECURRENT_ACTIVATIONS) if self.weights_per_activation else 1
        return per_input * max(node, 1)

    def kernel_index(self, node: int, previous, activation):
        """The stacked kernel a node uses, from its decisions (ints or int tensors)."""
        if node == 0:
            return activation if self.weights_per_activation else 0
        if self.weights_per_activation:
            return previous * len(RECURRENT_ACTIVATIONS) + activation
        return previous

    def build(self, inputs_shape):
        input_dim, two_h = inputs_shape[-1], 2 * self.hidden_size
        initializer = _uniform(self.init_range or default_init_range(self.hidden_size))
        self.kernels = []
        for n in range(self.num_nodes):
            rows = (input_dim + self.hidden_size) if n == 0 else self.hidden_size
            shape = (rows, two_h) if not self.shared else (self.kernel_count(n), rows, two_h)
            self.kernels.append(
                self.add_weight(shape=shape, initializer=initializer, name=f"node{n}_kernel")
            )
        for norm in self.node_norms:
            norm.build((None, two_h))
        if self.output_norm is not None:
            self.output_norm.build((None, self.hidden_size))

    def _choices(self, decisions):
        """Per node `(kernel, previous, activation)` and the loose-end mask (N,)."""
        if not self.shared:
            arch = self.decisions
        elif decisions is None:
            raise ValueError("The shared `EnasRecurrent` needs `decisions` in its call.")
        else:
            arch = ops.cast(decisions, "int32")
        chosen, used = [], ops.zeros((self.num_nodes,))
        for n in range(self.num_nodes):
            previous = arch[2 * n - 1] if n else None
            activation = arch[2 * n]
            kernel = self.kernels[n]
            if self.shared:
                kernel = ops.take(kernel, self.kernel_index(n, previous, activation), axis=0)
            if n:
                used = used + ops.one_hot(previous, self.num_nodes)
            chosen.append((kernel, previous, activation))
        loose = ops.cast(ops.equal(used, 0), self.compute_dtype)
        return chosen, loose

    def _activate(self, activation, x):
        if not self.shared:
            return _FUNCTIONS[activation](x)
        return ops.take(ops.stack([f(x) for f in _FUNCTIONS]), activation, axis=0)

    def _node(self, n, previous_state, pre_activations, activation, training):
        if self.batch_norm:
            pre_activations = self.node_norms[n](pre_activations, training=training)
        h, c = pre_activations[:, : self.hidden_size], pre_activations[:, self.hidden_size :]
        gate = ops.sigmoid(c)
        return previous_state + gate * (self._activate(activation, h) - previous_state)

    def _mask(self, like, rate, training):
        if not training or rate == 0:
            return None
        return keras.random.dropout(ops.ones_like(like), rate, seed=self.seed_generator)

    def call(self, inputs, state, decisions=None, training=None):
        chosen, loose = self._choices(decisions)
        x_mask = self._mask(inputs[:, 0, :], self.input_dropout, training)
        h_mask = self._mask(state, self.state_dropout, training)
        if x_mask is not None:
            inputs = inputs * x_mask[:, None, :]
        first_kernel, input_dim = chosen[0][0], inputs.shape[-1]
        # x_t W_x for every step at once; only h_{t-1} W_h stays in the loop.
        projected = ops.matmul(inputs, first_kernel[:input_dim])
        state_kernel = first_kernel[input_dim:]
        count = ops.sum(loose)

        def masked(h):
            return h if h_mask is None else h * h_mask

        def step(h_prev, x_proj):
            pre = x_proj + ops.matmul(masked(h_prev), state_kernel)
            nodes = [self._node(0, h_prev, pre, chosen[0][2], training)]
            for n in range(1, self.num_nodes):
                kernel, previous, activation = chosen[n]
                if self.shared:
                    prev = ops.take(ops.stack(nodes), previous, axis=0)
                else:
                    prev = nodes[previous]
                pre = ops.matmul(masked(prev), kernel)
                nodes.append(self._node(n, prev, pre, activation, training))
            out = ops.sum(ops.stack(nodes) * loose[:, None, None], axis=0) / count
            if self.output_norm is not None:
                out = self.output_norm(out, training=training)
            return out, out

        final, outputs = ops.scan(step, state, ops.transpose(projected, (1, 0, 2)))
        return ops.transpose(outputs, (1, 0, 2)), final

    def compute_output_shape(self, inputs_shape):
        batch, time = inputs_shape[0], inputs_shape[1]
        return (batch, time, self.hidden_size), (batch, self.hidden_size)

    def copy_from(self, shared: "EnasRecurrent"):
        """Give this fixed cell the kernels and batch norms of `shared` for its decisions.

        Args:
            shared: a built shared `EnasRecurrent` of the same sizes and options.
        """
        if self.shared or not shared.shared:
            raise ValueError("`copy_from` copies a shared cell into a fixed one.")
        for key in ("num_nodes", "hidden_size", "batch_norm", "weights_per_activation"):
            if getattr(self, key) != getattr(shared, key):
                raise ValueError(
                    f"`{key}` differs: {getattr(self, key)!r} here, {getattr(shared, key)!r} in "
                    "the shared cell."
                )
        for n, kernel in enumerate(self.kernels):
            previous = self.decisions[2 * n - 1] if n else None
            index = self.kernel_index(n, previous, self.decisions[2 * n])
            kernel.assign(shared.kernels[n][index])
        for mine, theirs in zip(
            self.node_norms + [self.output_norm], shared.node_norms + [shared.output_norm]
        ):
            if mine is not None:
                mine.set_weights(theirs.get_weights())
