"""The one supernet training loop of DARTS, EG-NAS and ENAS: the weight step, an epoch.

Every supernet search trains its shared weights the same way, so it is written once here (its
data, `SearchData`, in `keras_nash.tuners.search_data`):

- `weight_step` is the body of every compiled weight step: cross-entropy on the logits, the
  gradients of the weights, `optimizer.apply`. With `keras_nash.optimizers.CoupledSGD` the
  update is, in this order and the same for every search: (1) the loss gradients clipped to
  their global norm (`global_clipnorm`), (2) the papers' coupled L2 `weight_decay * w` added,
  (3) the momentum update (DARTS's and PyTorch's order: `clip_grad_norm_` then `SGD.step`).
- `EpochMetrics` accumulates loss and accuracy in `keras.metrics` inside the compiled steps:
  no device-to-host copy per batch; the epoch's figures are read once at its end.
- `EpochLoop` runs one search epoch over a dataset: the user's callbacks (`on_train_begin`,
  `on_epoch_begin`, `on_train_batch_*`, `on_epoch_end` with the epoch's metrics, so
  `TensorBoard` logs every search epoch), and a `keras.utils.Progbar` within the epoch when
  `verbose=1`.
- `SearchState` holds what a search keeps from epoch to epoch (network, optimisers, compiled
  steps) and writes / restores it with its checkpoint (`CHECKPOINT`).

Under a distribution strategy (keras-tuner's `distribution_strategy`, e.g.
`tf.distribute.MirroredStrategy`) the tuner builds the search in the strategy's scope; a step
made by `compile_step` there runs on every replica (`strategy.run`), `EpochLoop` splits each
batch between them (`strategy.experimental_distribute_dataset`), `weight_step` weights each
replica's loss by its share of the global batch (`global_share`) so that the replicas' summed
gradients are the global batch's, and `keras_nash.optimizers` clips that sum. Metrics are
summed over the replicas when read.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from keras_nash import files

CHECKPOINT = "supernet.npz"
"""An epoch trial's checkpoint: the supernet's weights and its optimisers' state, one numpy
archive (Keras's `save_weights` took 1.7 s to write the 1,268 variables of a 3-cell DARTS
supernet to `.weights.h5`, and 2.7 s to read them; this, 0.1 s)."""


def reseed(model: keras.Model, seed: int) -> None:
    """Set every random-number generator of `model` (its layers' `keras.random.SeedGenerator`s:
    dropout, drop-path) to a state drawn from `seed`.

    A search epoch's randomness then depends on the epoch's seed alone, not on what ran
    before in the process: a resumed search (fresh generators) and an uninterrupted one
    (generators advanced by the earlier epochs) draw the same masks.
    """
    states = [v for v in model.variables if v.name == "seed_generator_state"]
    draws = np.random.default_rng(int(seed)).integers(0, 2**31 - 1, size=len(states))
    for state, draw in zip(states, draws):
        state.assign(keras.ops.convert_to_tensor([int(draw), 0], dtype=state.dtype))


def labels(y):
    """Integer class ids `(n,)` from `(batch,)` or `(batch, 1)` labels of any int dtype (or a
    language model's `(batch, bptt)` next tokens, flattened)."""
    return tf.reshape(tf.cast(y, "int32"), (-1,))


def flat_logits(logits):
    """Logits `(..., classes)` as float32 `(n, classes)`: one row per label of `labels(y)`
    (a language model's `(batch, bptt, vocab)` becomes one row per token)."""
    return tf.reshape(tf.cast(logits, "float32"), (-1, tf.shape(logits)[-1]))


def cross_entropy(y, logits):
    """Mean sparse categorical cross-entropy of logits (computed in float32), over every label
    (0 for an empty batch: a replica's share of a last batch smaller than the replicas)."""
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels(y), logits=flat_logits(logits)
    )
    return tf.math.divide_no_nan(tf.reduce_sum(losses), tf.cast(tf.size(losses), losses.dtype))


def _replica_sum(values):
    """`values` summed over the replicas, inside a replica's step (one device: unchanged)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return values
    return context.all_reduce(tf.distribute.ReduceOp.SUM, values)


def global_share(loss, y):
    """A replica's mean `loss` over its labels `y`, weighted by its share of the global batch:
    the loss to differentiate when the optimizer sums the replicas' gradients (their sum is
    then the global batch's mean gradient). One device: `loss` itself."""
    count = tf.cast(tf.size(labels(y)), loss.dtype)
    return tf.math.divide_no_nan(loss * count, _replica_sum(count))


def global_mean(value, y):
    """A replica's mean `value` over its labels `y` as the mean over the global batch (every
    replica returns the same). One device: `value` itself."""
    count = tf.cast(tf.size(labels(y)), value.dtype)
    total, count = _replica_sum([value * count, count])
    return tf.math.divide_no_nan(total, count)


class EpochMetrics:
    """Loss and accuracy of one pass, accumulated in `keras.metrics` inside compiled steps.

    Args:
        prefix: str, put before the names ("val_" for validation). Defaults to "".

    Example:

    >>> import numpy as np
    >>> metrics = EpochMetrics()
    >>> metrics.update(np.array([0, 1]), np.array([[2.0, 0.0], [0.0, 2.0]]), 0.5)
    >>> metrics.result()
    {'loss': 0.5, 'accuracy': 1.0}
    """

    def __init__(self, prefix: str = ""):
        self.prefix = prefix
        self.loss = keras.metrics.Mean(name=prefix + "loss")
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name=prefix + "accuracy")

    def update(self, y, logits, loss) -> None:
        """Add one batch: its mean `loss` (weighted by the batch size) and its predictions."""
        y = labels(y)
        self.loss.update_state(loss, sample_weight=tf.cast(tf.shape(y)[0], "float32"))
        self.accuracy.update_state(y, flat_logits(logits))

    def score(self, y, logits):
        """Add one batch of `logits` for labels `y` (an evaluation step); return its mean loss."""
        loss = cross_entropy(y, logits)
        self.update(y, logits, loss)
        return loss

    def tensors(self) -> dict:
        """The running figures as tensors (no copy to the host)."""
        return {self.loss.name: self.loss.result(), self.accuracy.name: self.accuracy.result()}

    def result(self) -> dict:
        """The figures as Python floats (one copy to the host)."""
        return {name: float(value) for name, value in self.tensors().items()}

    def reset(self) -> None:
        self.loss.reset_state()
        self.accuracy.reset_state()


def weight_step(forward, optimizer, variables, x, y, metrics: EpochMetrics):
    """One weight update inside a compiled step: `forward(x)` logits, cross-entropy, gradients,
    `optimizer.apply` (clip, coupled L2, momentum: see the module docstring), metrics.

    Variables the architecture did not use get a zero gradient (their momentum and L2 still
    apply, as PyTorch's SGD does for parameters with a zero gradient).

    Returns:
        The batch's mean loss (a scalar tensor).
    """
    with tf.GradientTape() as tape:
        logits = forward(x)
        loss = cross_entropy(y, logits)
        # The loss itself on one device in float32 and bfloat16 (see `global_share`; scaled
        # under "mixed_float16").
        scaled = optimizer.scale_loss(global_share(loss, y))
    grads = tape.gradient(scaled, variables)
    grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
    optimizer.apply(grads, variables)
    metrics.update(y, logits, loss)
    return loss


def compile_step(function, signature, jit_compile: bool):
    """`tf.function` with a fixed input signature (one trace per search), no autograph.

    Made in a distribution strategy's scope, the step runs `function` on every replica (its
    batches split by `EpochLoop.distribute`, other arguments given to all) and returns its
    outputs averaged over them (scalars; `global_mean` makes them the global batch's).
    """
    if not tf.distribute.has_strategy():
        return tf.function(
            function, input_signature=list(signature), jit_compile=jit_compile, autograph=False
        )
    strategy = tf.distribute.get_strategy()
    # A replica's step as Keras's `fit` compiles it (`strategy.run` cannot feed its per-replica
    # batches to a function with an input signature).
    step = (
        tf.function(function, jit_compile=True, reduce_retracing=True) if jit_compile else function
    )

    def replicated(*args):
        outputs = strategy.run(step, args=args)
        return tf.nest.map_structure(
            lambda value: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None), outputs
        )

    return tf.function(replicated, autograph=False, reduce_retracing=True)


class EpochLoop:
    """Runs the batches of one search epoch through a compiled step, with callbacks and Progbar.

    Args:
        epoch: int, the search epoch (what callbacks are told).
        callbacks: list of `keras.callbacks.Callback`, already copied for the trial.
        model: the supernet, given to the callbacks (`callback.model`).
        verbose: 0 (silent), 1 (a `Progbar` within the epoch) or 2 (one line per epoch: the
            tuner's log). "auto" means 1.
        epochs: int, the number of search epochs (`callback.params["epochs"]`).
        strategy: the `tf.distribute.Strategy` the steps run under, or None (one device).
    """

    def __init__(self, epoch: int, callbacks, model, verbose=1, epochs: int = None, strategy=None):
        self.epoch = int(epoch)
        self.strategy = strategy
        self.verbose = 1 if verbose == "auto" else int(verbose)
        if not hasattr(model, "optimizer"):
            # Keras callbacks (TensorBoard) read `model.optimizer`; a supernet is never compiled
            # (its optimisers live in the `SearchState`).
            model.optimizer = None
        self.callbacks = keras.callbacks.CallbackList(
            list(callbacks or []), model=model, verbose=self.verbose, epochs=epochs
        )
        self._has_callbacks = bool(callbacks)

    def begin(self) -> None:
        """Tell the callbacks the trial's training and its one epoch begin."""
        self.callbacks.on_train_begin()
        self.callbacks.on_epoch_begin(self.epoch)

    def end(self, logs: dict) -> None:
        """Tell the callbacks the epoch ended with `logs` (the trial's metrics)."""
        self.callbacks.on_epoch_end(self.epoch, logs)
        self.callbacks.on_train_end(logs)

    def distribute(self, dataset):
        """`dataset` as the steps take it: each batch split between the replicas under a
        strategy (`experimental_distribute_dataset`), else as it is."""
        if self.strategy is None:
            return dataset
        return self.strategy.experimental_distribute_dataset(dataset)

    def train(self, step, dataset, metrics: EpochMetrics, batch_args=None) -> dict:
        """Run `step(x, y, *batch_args(batch))` on every batch of `dataset`; return the
        metrics of the pass (floats, read once)."""
        metrics.reset()
        steps = int(dataset.cardinality())
        progbar = None
        if self.verbose == 1:
            progbar = keras.utils.Progbar(steps if steps > 0 else None, verbose=1)
        batch = -1
        for batch, (x, y) in enumerate(self.distribute(dataset)):
            self.callbacks.on_train_batch_begin(batch)
            step(x, y, *(batch_args(batch) if batch_args else ()))
            logs = metrics.tensors() if (progbar or self._has_callbacks) else None
            self.callbacks.on_train_batch_end(batch, logs)
            if progbar is not None:
                progbar.update(batch + 1, [(k, float(v)) for k, v in logs.items()])
        if batch < 0:
            raise ValueError(
                "The training data yielded no batch (under jit_compile, a search keeps full "
                "batches only: give at least `batch_size` training examples)."
            )
        return metrics.result()

    def evaluate(self, step, dataset, metrics: EpochMetrics, batch_args=None) -> dict:
        """Run `step(x, y, *batch_args(batch))` on every batch of `dataset` (no update)."""
        metrics.reset()
        batch = -1
        for batch, (x, y) in enumerate(self.distribute(dataset)):
            step(x, y, *(batch_args(batch) if batch_args else ()))
        if batch < 0:
            raise ValueError("The validation data yielded no batch.")
        return metrics.result()


class SearchState:
    """What one supernet search keeps in memory from epoch to epoch.

    Holds the network, the optimisers (their state is checkpointed with the weights) and
    anything else a method needs (compiled steps, metrics) as attributes. `trial_id` names the
    trial whose weights the state holds now.

    Args:
        network: the supernet, built.
        optimizers: dict name -> built `keras.optimizers.Optimizer`.
        **attributes: anything else, set as attributes (e.g. `train_step=...`).
    """

    def __init__(self, network: keras.Model, optimizers: dict, **attributes):
        self.network = network
        self.optimizers = dict(optimizers)
        self.trial_id = None
        self.metrics = EpochMetrics()
        self.val_metrics = EpochMetrics("val_")
        for name, value in attributes.items():
            setattr(self, name, value)

    def save(self, directory: str) -> None:
        """Write the weights and the optimisers' state to `CHECKPOINT` in `directory`."""
        arrays = network_arrays(self.network)
        arrays.update(
            {
                f"optimizer/{name}/{index}": np.asarray(variable)
                for name, optimizer in self.optimizers.items()
                for index, variable in enumerate(optimizer.variables)
            }
        )
        files.replace_atomically(
            os.path.join(directory, CHECKPOINT), lambda path: np.savez(path, **arrays)
        )

    def restore(self, directory: str) -> None:
        """Read what `save` wrote (the optimisers must be built on the same variables)."""
        with np.load(os.path.join(directory, CHECKPOINT)) as arrays:
            load_network(self.network, arrays, directory)
            for name, optimizer in self.optimizers.items():
                for index, variable in enumerate(optimizer.variables):
                    variable.assign(arrays[f"optimizer/{name}/{index}"])


def network_arrays(network: keras.Model) -> dict:
    """The network's variables as arrays `network/<index>` (in `network.variables` order), and
    their paths (`network/paths`, for error messages: auto-named layers differ between builds)."""
    arrays = {f"network/{index}": np.asarray(v) for index, v in enumerate(network.variables)}
    arrays["network/paths"] = np.asarray([v.path for v in network.variables])
    return arrays


def load_network(network: keras.Model, arrays, directory: str) -> None:
    """Assign what `network_arrays` wrote to `network`'s variables, or raise a clear ValueError
    (nothing assigned) when they are another network's."""
    saved = [str(path) for path in arrays["network/paths"]]
    variables = network.variables
    problem = None
    if len(saved) != len(variables):
        problem = f"it holds {len(saved)} variables, this supernet has {len(variables)}"
    else:
        for index, variable in enumerate(variables):
            shape = arrays[f"network/{index}"].shape
            if shape != tuple(variable.shape):
                problem = (
                    f"variable {index} is {saved[index]} {shape} there, "
                    f"{variable.path} {tuple(variable.shape)} here"
                )
                break
    if problem:
        raise ValueError(
            f"The checkpoint in {directory} is another supernet's ({problem}): "
            "resume a search with the arguments it was started with."
        )
    for index, variable in enumerate(variables):
        variable.assign(arrays[f"network/{index}"])
