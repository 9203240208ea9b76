"""The ENAS recurrent-cell search space (Pham et al. 2018, section 2.1; Penn Treebank).

A language model: tied token embedding, one searched recurrent cell of `num_nodes` nodes
(`keras_nash.layers.enas_rnn.EnasRecurrent`), the embedding's transpose as softmax. The cell's
node 1 reads the token and the previous state, each later node reads one earlier node, each
node applies one of `RECURRENT_ACTIVATIONS` inside a highway gate, and the cell's output (and
next state) is the mean of the loose ends.

Decision vector (int32, length `2 * num_nodes - 1`, the authors' `sample_arc` order,
melodyguan/enas `src/ptb/ptb_enas_controller.py`):

    [f_1, i_2, f_2, i_3, f_3, ..., i_N, f_N]

`f_j` is an index into `RECURRENT_ACTIVATIONS = ("tanh", "relu", "identity", "sigmoid")`;
`i_j` in `[0, j - 2]` is the 0-based index of the node that node `j` reads (node 1 is 0).
`RecurrentSpace.decision_sizes()` lists each slot's number of choices,
`[4, 1, 4, 2, 4, ..., N - 1, 4]`, so a controller can mask its logits.

- `RecurrentArchitecture` (plain data, JSON schema version 1; defined with the other ENAS
  architectures in `enas.architectures`, re-exported here).
- `RecurrentSpace`: decisions, random architectures, the shared-weight model and fixed
  children, `copy_shared_weights`.
- `ENAS_PTB_DECISIONS`: the authors' final cell (`scripts/ptb_final.sh`, `fixed_arc`).

Both models are called on `(inputs, state)` and return `(logits (batch, bptt, vocab),
final_state (batch, hidden_size))`; the shared model's `inputs` is `(tokens, arch)`, a fixed
child's just `tokens`. Carrying the final state into the next batch (the authors' stateful
training, with `stop_gradient`) is the caller's.

For whoever trains it, the authors' search values (`scripts/ptb_search.sh`, nothing here uses
them): batch 20, bptt 35, SGD learning rate 0.25 decayed by 0.95 per epoch from epoch 12 down
to 5e-4, global gradient-norm bound 10, L2 1e-7, loss summed over time and averaged over the
batch; controller reward `80 / validation perplexity` (`ptb_enas_controller.py`).
"""

import keras
import numpy as np

from keras_nash.checks import check_float, check_int
from keras_nash.layers.enas_rnn import (
    RECURRENT_ACTIVATIONS,
    EnasRecurrent,
    TiedEmbedding,
    WordDropout,
    default_init_range,
)
from keras_nash.spaces.enas.architectures import RecurrentArchitecture
from keras_nash.spaces.enas.shared import EnasSpace

__all__ = [
    "ENAS_PTB_DECISIONS",
    "RECURRENT_ACTIVATIONS",
    "RecurrentArchitecture",
    "RecurrentSpace",
]

# The authors' searched cell, `scripts/ptb_final.sh` (`--child_fixed_arc`), 12 nodes.
ENAS_PTB_DECISIONS = (0, 0, 0, 1, 1, 2, 1, 2, 0, 2, 0, 5, 1, 1, 0, 6, 1, 8, 1, 8, 1, 8, 1)


class _SharedRecurrentModel(keras.Model):
    """The shared-weight language model: called on `((tokens, arch), state)`."""

    def __init__(self, space, vocab_size):
        super().__init__(name="enas_recurrent_shared")
        self.space = space
        self.vocab_size = vocab_size
        self.embedding, self.word_dropout, self.cell, self.output_dropout = space._layers(
            vocab_size, decisions=None
        )
        self._by_name = {
            layer.name: layer
            for layer in (self.embedding, self.word_dropout, self.cell, self.output_dropout)
        }
        tokens = np.zeros((1, 1), "int32")
        arch = np.zeros((space.num_decisions,), "int32")
        self(((tokens, arch), np.zeros((1, space.hidden_size), "float32")), training=False)

    def call(self, inputs, training=None):
        (tokens, arch), state = inputs
        x = self.embedding(tokens)
        x = self.word_dropout(x, tokens, training=training)
        outputs, final_state = self.cell(x, state, arch, training=training)
        outputs = self.output_dropout(outputs, training=training)
        return self.embedding(outputs, reverse=True), final_state

    def shared_layer(self, name: str) -> keras.layers.Layer:
        """The layer called `name` (a child's layers carry the same names)."""
        return self._by_name[name]


class RecurrentSpace(EnasSpace):
    """The ENAS recurrent-cell search space for word-level language modelling.

    Defaults: `num_nodes=12` is the paper's; the rest are the authors' search script,
    melodyguan/enas `scripts/ptb_search.sh` (`child_lstm_hidden_size=720`, keep probabilities
    `e_keep=0.75`, `x_keep=0.25`, `h_keep=0.75`, `o_keep=0.25`, here as drop rates), and
    their code, `src/ptb/ptb_enas_child.py` (batch norms in the shared cell, uniform
    initialisation in +-0.1 / 0.05 / 0.04 for hidden sizes <= 300 / <= 400 / larger, tied
    embedding and softmax, embedding size = hidden size). Their final retraining
    (`ptb_final.sh`) uses hidden size 748, `e_keep=0.79`, `o_keep=0.24` and no batch norm.

    Args:
        num_nodes: int >= 1, the cell's nodes. Defaults to 12 (paper; `child_rhn_depth=12`).
        hidden_size: int >= 1, the state and embedding size. Defaults to 720 (search script).
        embedding_dropout: float in [0, 1), `WordDropout`'s rate. Defaults to 0.25.
        input_dropout: float in [0, 1), the variational dropout on the embedded token entering
            node 1. Defaults to 0.75.
        state_dropout: float in [0, 1), the variational dropout on every node's state input.
            Defaults to 0.25.
        output_dropout: float in [0, 1), the variational dropout on the cell's outputs before
            the softmax (one mask per sequence). Defaults to 0.75.
        batch_norm: bool, batch norms on every node and on the cell's output (authors' search
            cell). Defaults to True.
        weights_per_activation: bool, one kernel per (node, input node, activation) as the
            authors' code, instead of the paper's one per (node, input node). Defaults to False.
        init_range: float > 0 or None, the uniform initialisation range. Defaults to None (the
            authors' rule above).
        seed: int or None, seeds the dropout masks. Defaults to None.

    Example:

    >>> from keras_nash.spaces.enas.recurrent import RecurrentArchitecture, RecurrentSpace
    >>> space = RecurrentSpace(num_nodes=4, hidden_size=8)
    >>> space.num_decisions, space.decision_sizes()
    (7, [4, 1, 4, 2, 4, 3, 4])
    >>> arch = RecurrentArchitecture("tanh", ((0, "relu"), (0, "identity"), (2, "sigmoid")))
    >>> space.encode(arch).tolist()
    [0, 0, 1, 0, 2, 2, 3]
    >>> child = space.build_child_model(arch, vocab_size=20)
    >>> [tuple(shape) for shape in child.output_shape]
    [(None, None, 20), (None, 8)]
    """

    name = "recurrent"
    architecture_class = RecurrentArchitecture
    shared_model_class = _SharedRecurrentModel
    arguments = (
        "num_nodes",
        "hidden_size",
        "embedding_dropout",
        "input_dropout",
        "state_dropout",
        "output_dropout",
        "batch_norm",
        "weights_per_activation",
        "init_range",
        "seed",
    )
    operations = RECURRENT_ACTIVATIONS

    def __init__(
        self,
        num_nodes: int = 12,
        hidden_size: int = 720,
        embedding_dropout: float = 0.25,
        input_dropout: float = 0.75,
        state_dropout: float = 0.25,
        output_dropout: float = 0.75,
        batch_norm: bool = True,
        weights_per_activation: bool = False,
        init_range=None,
        seed=None,
    ):
        self.num_nodes = check_int("num_nodes", num_nodes, minimum=1)
        self.hidden_size = check_int("hidden_size", hidden_size, minimum=1)
        for argument, value in (
            ("embedding_dropout", embedding_dropout),
            ("input_dropout", input_dropout),
            ("state_dropout", state_dropout),
            ("output_dropout", output_dropout),
        ):
            setattr(self, argument, check_float(argument, value, minimum=0, maximum=0.999))
        self.batch_norm = bool(batch_norm)
        self.weights_per_activation = bool(weights_per_activation)
        if init_range is not None:
            init_range = check_float("init_range", init_range, minimum=0, exclusive=True)
        self.init_range = init_range
        if seed is not None:
            seed = check_int("seed", seed, minimum=0)
        self.seed = seed

    @property
    def controller_layers(self) -> int:
        """The controller's steps: one per node."""
        return self.num_nodes

    @property
    def num_decisions(self) -> int:
        """`2 * num_nodes - 1`: an activation per node and an input node per later node."""
        return 2 * self.num_nodes - 1

    def decision_sizes(self) -> list:
        """The number of choices of each decision slot: `[4, 1, 4, 2, 4, ..., N - 1, 4]`."""
        sizes = [len(RECURRENT_ACTIVATIONS)]
        for node in range(1, self.num_nodes):
            sizes += [node, len(RECURRENT_ACTIVATIONS)]
        return sizes

    def validate(self, arch: RecurrentArchitecture) -> RecurrentArchitecture:
        """Raise ValueError unless `arch` belongs to this space; return it."""
        self._check_type(arch)
        if arch.num_nodes != self.num_nodes:
            raise ValueError(
                f"`nodes` must describe {self.num_nodes} nodes (first included). "
                f"Received: {arch.num_nodes} nodes"
            )
        return arch

    def encode(self, arch: RecurrentArchitecture) -> np.ndarray:
        """The int32 decision vector `[f_1, i_2, f_2, ..., i_N, f_N]`."""
        self.validate(arch)
        vector = [RECURRENT_ACTIVATIONS.index(arch.first_activation)]
        for previous, activation in arch.nodes:
            vector += [previous, RECURRENT_ACTIVATIONS.index(activation)]
        return np.asarray(vector, dtype="int32")

    def decode(self, vector) -> RecurrentArchitecture:
        """The architecture of an int decision vector (inverse of `encode`)."""
        vector = self._decisions(vector)
        for k, (value, size) in enumerate(zip(vector, self.decision_sizes())):
            if not 0 <= value < size:
                what = (
                    f"node {k // 2 + 1}'s activation"
                    if k % 2 == 0
                    else f"node {k // 2 + 2}'s input node"
                )
                raise ValueError(
                    f"`vector[{k}]` ({what}) must be in [0, {size - 1}]. Received: {value}"
                )
        nodes = tuple(
            (vector[k], RECURRENT_ACTIVATIONS[vector[k + 1]])
            for k in range(1, self.num_decisions, 2)
        )
        return RecurrentArchitecture(RECURRENT_ACTIVATIONS[vector[0]], nodes)

    def random_architecture(self, rng: np.random.Generator) -> RecurrentArchitecture:
        """A uniformly random architecture drawn from `rng`."""
        vector = [int(rng.integers(0, size)) for size in self.decision_sizes()]
        return self.decode(vector)

    def _seed(self, offset):
        return None if self.seed is None else self.seed + offset

    def _layers(self, vocab_size, decisions):
        """The named layers both models share: embedding, word dropout, cell, output dropout."""
        init_range = self.init_range or default_init_range(self.hidden_size)
        embedding = TiedEmbedding(vocab_size, self.hidden_size, init_range, name="embedding")
        word_dropout = WordDropout(self.embedding_dropout, self._seed(0), name="word_dropout")
        cell = EnasRecurrent(
            self.num_nodes,
            self.hidden_size,
            decisions=decisions,
            input_dropout=self.input_dropout,
            state_dropout=self.state_dropout,
            batch_norm=self.batch_norm,
            weights_per_activation=self.weights_per_activation,
            init_range=init_range,
            seed=self._seed(1),
            name="cell",
        )
        output_dropout = keras.layers.Dropout(
            self.output_dropout,
            noise_shape=(None, 1, self.hidden_size),
            seed=self._seed(2),
            name="output_dropout",
        )
        return embedding, word_dropout, cell, output_dropout

    def build_shared_model(self, vocab_size: int) -> keras.Model:
        """The shared-weight model, called on `((tokens, arch), state)`.

        Args:
            vocab_size: int >= 2, the number of tokens.

        Returns:
            A `keras.Model` (built) returning `(logits (batch, bptt, vocab_size),
            final_state (batch, hidden_size))`; `tokens` int32 `(batch, bptt)`, `arch` the int32
            decision vector `(num_decisions,)`, `state` `(batch, hidden_size)`.
        """
        return _SharedRecurrentModel(self, check_int("vocab_size", vocab_size, minimum=2))

    def build_child_model(self, arch: RecurrentArchitecture, vocab_size: int) -> keras.Model:
        """A functional Keras model of `arch` alone, called on `(tokens, state)`.

        Args:
            arch: a `RecurrentArchitecture` of this space.
            vocab_size: int >= 2, the number of tokens.

        Returns:
            A `keras.Model` named "enas_recurrent_child" returning `(logits, final_state)`,
            serialisable as `.keras`; its layers carry the shared model's names.
        """
        decisions = self.encode(arch).tolist()
        vocab_size = check_int("vocab_size", vocab_size, minimum=2)
        tokens = keras.Input((None,), dtype="int32", name="tokens")
        state = keras.Input((self.hidden_size,), name="state")
        embedding, word_dropout, cell, output_dropout = self._layers(vocab_size, decisions)
        x = word_dropout(embedding(tokens), tokens)
        outputs, final_state = cell(x, state)
        logits = embedding(output_dropout(outputs), reverse=True)
        return keras.Model((tokens, state), (logits, final_state), name="enas_recurrent_child")

    def copy_shared_weights(self, shared: keras.Model, child: keras.Model, arch=None):
        """Give `child` the shared model's embedding, and its cell the kernels `arch` selects.

        Args:
            shared: the model of `build_shared_model`.
            child: a model of `build_child_model`.
            arch: the child's architecture, or None (the child's cell knows its decisions).
        """
        cell = child.get_layer("cell")
        if arch is not None and self.encode(arch).tolist() != cell.decisions:
            raise ValueError(
                f"`arch` is not the child's architecture. Received: {self.encode(arch).tolist()},"
                f" the child's: {cell.decisions}"
            )
        child.get_layer("embedding").set_weights(shared.shared_layer("embedding").get_weights())
        cell.copy_from(shared.shared_layer("cell"))
