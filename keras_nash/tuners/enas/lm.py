"""ENAS's language-model side: the recurrent space's data, compiled steps and final network.

`EnasTuner` with a `RecurrentSpace` (Penn Treebank) trains a language model, not a classifier:

- data: `search(train, validation_data=valid)` with `(inputs, targets)` batches of token ids,
  int32 `(batch_size, bptt)`, windows in order (`keras_nash.datasets.load_text`);
  `as_text_search_data` checks them;
- steps (`make_lm_steps`): the shared model on `((tokens, arch), state)`; the training state is
  carried from one window to the next in a variable (as the authors' stateful training, the
  gradient stopped at the window's start) and reset at each epoch's start, through the
  library's one weight step; an eval step scores an architecture on one window from a zero
  state: the controller's reward is `REWARD_CONSTANT / perplexity` (paper: 80);
- the authors' SGD on the loss summed over time (averaged over the batch) is, exactly, SGD on
  the per-token mean loss with the learning rate times `bptt` and the clip norm and L2 divided
  by it (`summed_loss_sgd`);
- the final network (`StatefulLanguageModel`): the found cell's child model with its state
  carried across windows in `fit`/`evaluate` (reset at each epoch and evaluation by
  `ResetState`), so `val_loss` is the per-token cross-entropy and `exp(val_loss)` the
  validation perplexity.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_nash.tuners.supernet.data import SearchData
from keras_nash.tuners.supernet.loop import EpochMetrics, compile_step, weight_step

REWARD_CONSTANT = 80.0  # the paper's c in the reward c / valid_ppl
LM_DECAY_START, LM_DECAY_RATE = 12, 0.95  # the authors' ptb_search.sh: lr_dec_start, lr_dec_rate


def lm_learning_rate(learning_rate: float, epoch: int, minimum: float) -> float:
    """The authors' Penn Treebank learning rate of epoch `epoch` (counted from 0): constant
    through epoch 12, then times 0.95 a epoch (epoch 13: one factor), not below `minimum`
    (their staircase `exponential_decay` of `max(step - 12 epochs, 0)`, `lr_dec_min`).

    >>> lm_learning_rate(0.25, 12, 0.0005), round(lm_learning_rate(0.25, 14, 0.0005), 6)
    (0.25, 0.225625)
    """
    return max(minimum, learning_rate * LM_DECAY_RATE ** max(0, epoch - LM_DECAY_START))


def as_text_search_data(fit_args, fit_kwargs) -> SearchData:
    """Read `search(train, validation_data=valid)` of token-id datasets into `SearchData`.

    Raises:
        ValueError: the data are not datasets of `(inputs, targets)` int batches of one fixed
            shape `(batch_size, bptt)` (what `keras_nash.datasets.load_text` gives).
    """
    train = fit_args[0] if fit_args else fit_kwargs.get("x")
    validation = fit_kwargs.get("validation_data")
    for name, dataset in (("x", train), ("validation_data", validation)):
        spec = getattr(dataset, "element_spec", None)
        if (
            not isinstance(dataset, tf.data.Dataset)
            or not isinstance(spec, tuple)
            or len(spec) < 2
            or spec[0].shape.rank != 2
            or not all(spec[0].shape)
            or not all(s.dtype.is_integer and s.shape == spec[0].shape for s in spec[:2])
        ):
            raise ValueError(
                f"The recurrent space needs `{name}` as a tf.data.Dataset of `(inputs, targets)` "
                "token-id batches of one fixed shape `(batch_size, bptt)` (see "
                f"keras_nash.datasets.load_text). Received: {name}={spec or type(dataset).__name__}"
            )
    if train.element_spec[0].shape != validation.element_spec[0].shape:
        raise ValueError(
            "`x` and `validation_data` must have batches of the same shape (the carried state "
            f"has the batch size). Received: {train.element_spec[0].shape} and "
            f"{validation.element_spec[0].shape}"
        )
    return SearchData(  # input_shape: the batches' `(batch_size, bptt)`
        train.map(lambda *batch: batch[:2]).prefetch(tf.data.AUTOTUNE),
        validation.map(lambda *batch: batch[:2]).prefetch(tf.data.AUTOTUNE),
        tuple(train.element_spec[0].shape),
    )


def check_token_ids(data: SearchData, num_classes: int) -> None:
    """Fail, naming `num_classes`, when a token id of the data is outside [0, num_classes)
    (an embedding lookup would fail on a CPU, and give zeros and a NaN loss on a GPU). One pass
    over the data, before the search."""

    def bounds(acc, inputs, targets):
        ids = tf.cast(tf.concat([tf.reshape(inputs, [-1]), tf.reshape(targets, [-1])], 0), tf.int64)
        return tf.minimum(acc[0], tf.reduce_min(ids)), tf.maximum(acc[1], tf.reduce_max(ids))

    start = (tf.constant(2**62, tf.int64), tf.constant(-1, tf.int64))
    low, high = data.train.concatenate(data.validation).reduce(
        start, lambda acc, b: bounds(acc, *b)
    )
    if int(low) < 0 or int(high) >= num_classes:
        raise ValueError(
            f"`num_classes` must exceed every token id: it is the language model's vocabulary "
            f"size (`len(text.vocabulary)`). Received: num_classes={num_classes}, token ids in "
            f"[{int(low)}, {int(high)}]"
        )


def replica_batch_size(batch_size: int, strategy=None) -> int:
    """The token streams each replica carries: `batch_size` split evenly between the replicas
    of `strategy` (keras-tuner's `distribution_strategy`; None: the current one).

    Each replica takes the same rows of every batch (`experimental_distribute_dataset` splits
    a batch in order), so it carries those streams' hidden state in its own copy of the state
    variable (`tf.VariableSynchronization.ON_READ`).

    Raises:
        ValueError: the replicas do not divide `batch_size`.
    """
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(
            "The recurrent space's batch size must be a multiple of the replicas: each replica "
            "carries the hidden state of an equal share of the token streams. Received: "
            f"batch_size={batch_size} for {replicas} replicas (load the text with a "
            f"batch_size that {replicas} divides)"
        )
    return batch_size // replicas


def carried_state(batch_size: int, hidden_size: int, name: str) -> keras.Variable:
    """The carried state `(batch_size / replicas, hidden_size)`, zeros, one copy per replica of
    the current distribution strategy (reading it outside a replica gives the first's)."""
    return keras.Variable(
        np.zeros((replica_batch_size(batch_size), hidden_size), "float32"),
        trainable=False,
        synchronization="on_read",
        aggregation="only_first_replica",
        name=name,
    )


def summed_loss_sgd(learning_rate, weight_decay, grad_clip, bptt: int) -> dict:
    """`CoupledSGD` arguments (no momentum) that step as SGD on the loss summed over `bptt`
    time steps does, when the gradients are those of the per-token mean loss (the authors'
    learning rate and clip are for the summed loss; `weight_decay` is the coupled L2 of that
    summed loss, twice the authors' `l2_reg`, see `tuners/enas/presets.py`)."""
    return dict(
        learning_rate=learning_rate * bptt,
        weight_decay=(weight_decay / bptt) or None,
        global_clipnorm=grad_clip / bptt,
    )


def make_lm_steps(
    network,
    optimizer,
    data: SearchData,
    hidden_size: int,
    arch_spec,
    trace_counts: dict,
    metrics: EpochMetrics,
    val_metrics: EpochMetrics,
):
    """The compiled shared-weight language-model steps, and the carried state's variable.

    Returns:
        `(train_step, eval_step, state)`: `train_step(x, y, arch)` (one weight step from the
        carried state, which it then advances), `eval_step(x, y, arch) -> (loss, perplexity)`
        on one window from a zero state, and `state`, the `carried_state` variable (assign
        zeros to reset it).
    """
    x_spec, y_spec = data.train.element_spec
    state = carried_state(x_spec.shape[0], hidden_size, "lm_state")
    variables = network.trainable_variables

    def train_step(x, y, arch):
        trace_counts["train_step"] += 1  # runs only while tracing

        def forward(tokens):
            logits, final = network(((tokens, arch), tf.stop_gradient(state.value)), training=True)
            state.assign(tf.cast(final, state.dtype))  # float32 in every precision
            return logits

        return weight_step(forward, optimizer, variables, x, y, metrics)

    def eval_step(x, y, arch):
        trace_counts["eval_step"] += 1
        logits, _ = network(((x, arch), tf.zeros((tf.shape(x)[0], hidden_size))), training=False)
        loss = val_metrics.score(y, logits)
        return loss, tf.exp(loss)

    signature = [
        tf.TensorSpec(x_spec.shape, x_spec.dtype),
        tf.TensorSpec(y_spec.shape, y_spec.dtype),
        arch_spec,
    ]
    return (
        compile_step(train_step, signature, jit_compile=False),
        compile_step(eval_step, signature, jit_compile=False),
        state,
    )


@keras.saving.register_keras_serializable(package="keras_nash")
class StatefulLanguageModel(keras.Model):
    """A language model `(tokens, state) -> (logits, state)` trained with its state carried.

    `fit` and `evaluate` see a model of `tokens -> logits` whose state (a `carried_state`
    variable: under a distribution strategy each replica carries its share of the batch's
    streams) carries from one window to the next, with the gradient stopped at the window's
    start; `ResetState` zeroes it at each epoch's and each evaluation's start. The
    wrapped `language_model` (e.g. `RecurrentSpace.build_child_model`) is what export writes:
    it takes the state as an input, so perplexity can be computed from the export alone.

    Args:
        language_model: a Keras model called on `(tokens, state)` returning `(logits, state)`.
        batch_size: int, the batch size of every batch it is called on.
    """

    def __init__(self, language_model, batch_size: int, **kwargs):
        super().__init__(**kwargs)
        self.language_model = language_model
        self.batch_size = int(batch_size)
        self.hidden_size = int(language_model.inputs[1].shape[-1])
        self.state = carried_state(self.batch_size, self.hidden_size, "state")
        # Built (so checkpoints load into it) on one replica's batch.
        self(np.zeros((self.state.shape[0], 1), "int32"))
        self.reset_state()

    def call(self, tokens, training=None):
        logits, final = self.language_model(
            (tokens, keras.ops.stop_gradient(keras.ops.convert_to_tensor(self.state))),
            training=training,
        )
        self.state.assign(tf.cast(final, self.state.dtype))
        return logits

    def reset_state(self):
        self.state.assign(np.zeros(self.state.shape, "float32"))

    def get_config(self):
        return {
            **super().get_config(),
            "batch_size": self.batch_size,
            "language_model": keras.saving.serialize_keras_object(self.language_model),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        model = keras.saving.deserialize_keras_object(config.pop("language_model"))
        return cls(model, **config)


class ResetState(keras.callbacks.Callback):
    """Zero a `StatefulLanguageModel`'s state at each epoch's and each evaluation's start."""

    def on_epoch_begin(self, epoch, logs=None):
        self.model.reset_state()

    def on_test_begin(self, logs=None):
        self.model.reset_state()
