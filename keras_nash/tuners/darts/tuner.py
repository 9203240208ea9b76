"""`DartsTuner`: first-order DARTS's alpha and weight steps on the cell supernet, one trial per
search epoch (the oracle, `DartsOracle`, holds alpha; see `darts/oracle.py`)."""

import json

import keras
import numpy as np
import tensorflow as tf

from keras_nash.checks import check_float
from keras_nash.logs import logger
from keras_nash.optimizers import CoupledAdam
from keras_nash.precision import loss_scaled
from keras_nash.tuners.darts.oracle import KEY, DartsOracle, arch_data
from keras_nash.tuners.supernet.cells import CellSearch
from keras_nash.tuners.supernet.loop import (
    SearchState,
    compile_step,
    cross_entropy,
    global_share,
    weight_step,
)


PAPER_ARCH_LEARNING_RATE = 3e-4
"""DARTS's alpha learning rate (Adam), the paper's."""
PAPER_ALPHA_STEPS = 50 * 391
"""The alpha steps of the paper's search: 50 epochs of 391 batches (25,000 images, batch 64)."""
SHORT_ARCH_LEARNING_RATE = "auto"
"""keras_nash's short-run setting (not the paper's): `arch_learning_rate="auto"`, see
`scaled_arch_learning_rate`."""


def scaled_arch_learning_rate(alpha_steps: int) -> float:
    """The alpha learning rate that moves alpha as far in `alpha_steps` Adam steps as the
    paper's 3e-4 does in its 19,550 (an Adam step moves a weight by about its learning rate):
    `3e-4 * 19,550 / alpha_steps`, never below 3e-4. keras_nash's choice for short searches,
    not the paper's: at 3e-4, 150 steps leave softmax(alpha) within 1e-4 of uniform."""
    return PAPER_ARCH_LEARNING_RATE * max(1.0, PAPER_ALPHA_STEPS / max(1, int(alpha_steps)))


class DartsTuner(CellSearch):
    """First-order DARTS: alternate alpha and weight steps on the supernet, one trial per epoch.

    Its `DartsOracle` is built from the same keyword arguments (see `CellSearch`).

    Args:
        num_classes: int, the number of classes. Defaults to 10.
        epochs: int, search epochs. Defaults to 50.
        arch_learning_rate: float, alpha's Adam learning rate, or "auto": scaled to the
            search's alpha steps (epochs x training batches) so that alpha moves about as far
            as in the paper's 19,550 steps at 3e-4 (`scaled_arch_learning_rate`; keras_nash's
            setting for short searches, the command line's without `--paper_defaults`).
            Defaults to 3e-4 (the paper's).
        arch_beta_1: float. Defaults to 0.5.
        arch_beta_2: float. Defaults to 0.999.
        arch_weight_decay: float, coupled L2 on alpha (Adam). Defaults to 1e-3.
        **kwargs: the arguments of `CellSearch` (`objective`, `seed`, `max_trials`, the space
            as `search_space` or `cells`, `channels`, ...; the weights' training; the final
            network), with DARTS's defaults: 8 cells x 16 channels, 4 steps, multiplier 4,
            `PRIMITIVES`, `partial_channels=1`, `batch_size=64`, `learning_rate=0.025`,
            `learning_rate_min=0.001`; and `keras_tuner.Oracle` / `Tuner` arguments
            (`max_retries_per_trial`, `directory`, `project_name`, `overwrite`, ...).

    Example:

    >>> tuner = DartsTuner(num_classes=10, epochs=2, final_epochs=1, cells=3, channels=4,
    ...                    directory="runs", project_name="darts_doc", overwrite=True)
    """

    key_prefix = KEY
    oracle_class = DartsOracle

    def __init__(
        self,
        num_classes: int = 10,
        epochs: int = 50,
        arch_learning_rate=PAPER_ARCH_LEARNING_RATE,
        arch_beta_1: float = 0.5,
        arch_beta_2: float = 0.999,
        arch_weight_decay: float = 1e-3,
        **kwargs,
    ):
        if arch_learning_rate != "auto":
            arch_learning_rate = check_float(
                "arch_learning_rate", arch_learning_rate, 0, exclusive=True
            )
        self.arch_learning_rate = arch_learning_rate
        self.arch_beta_1 = check_float("arch_beta_1", arch_beta_1, 0, 1)
        self.arch_beta_2 = check_float("arch_beta_2", arch_beta_2, 0, 1)
        self.arch_weight_decay = check_float("arch_weight_decay", arch_weight_decay, 0)
        self.trace_counts = {"search_step": 0, "eval_step": 0}
        super().__init__(num_classes=num_classes, epochs=epochs, **kwargs)

    # ----- search -----
    def create_search(self, trial, data):
        network = self.build_supernet()
        network(np.zeros((1,) + tuple(data.input_shape), "float32"))
        weight_optimizer = self.weight_optimizer()
        # DARTS's alpha optimiser: Adam with coupled L2 (PyTorch's `Adam(weight_decay=)`).
        arch_optimizer = loss_scaled(CoupledAdam(
            learning_rate=self.alpha_learning_rate(trial, data), beta_1=self.arch_beta_1,
            beta_2=self.arch_beta_2, epsilon=1e-8, weight_decay=self.arch_weight_decay or None,
        ), self.precision)
        weight_optimizer.build(network.weight_variables)
        arch_optimizer.build(network.arch_variables)
        state = SearchState(network, {"weights": weight_optimizer, "arch": arch_optimizer})
        arch_variables = network.arch_variables

        def search_step(x, y, x_val, y_val):
            self.trace_counts["search_step"] += 1  # runs only while tracing
            # 1. alpha step (first order) on the validation batch.
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                for variable in arch_variables:
                    tape.watch(variable.value)
                arch_loss = cross_entropy(y_val, network(x_val, training=True))
                scaled = arch_optimizer.scale_loss(global_share(arch_loss, y_val))
            arch_grads = tape.gradient(scaled, [v.value for v in arch_variables])
            arch_optimizer.apply(arch_grads, arch_variables)
            state.arch_loss.update_state(arch_loss)
            # 2. weight step on the training batch.
            return weight_step(lambda inputs: network(inputs, training=True), weight_optimizer,
                               network.weight_variables, x, y, state.metrics)

        x_spec, y_spec = data.input_signature()
        state.arch_loss = keras.metrics.Mean(name="arch_loss")
        state.search_step = compile_step(search_step, (x_spec, y_spec, x_spec, y_spec),
                                         self.jit_compile)
        state.eval_step = self.make_eval_step(network, data, state.val_metrics)
        return state

    def alpha_learning_rate(self, trial, data) -> float:
        """`arch_learning_rate`, or for "auto" `scaled_arch_learning_rate` of the search's alpha
        steps: its epochs times the training batches of an epoch (counted once if the dataset
        does not know its length)."""
        if self.arch_learning_rate != "auto":
            return self.arch_learning_rate
        batches = int(data.train.cardinality())
        if batches < 0:
            batches = sum(1 for _ in data.train)
        epochs = int(trial.hyperparameters.values[self.key("epochs")])
        rate = scaled_arch_learning_rate(epochs * batches)
        logger.info("darts arch_learning_rate='auto': %.4g for %d alpha steps (%d x %d)", rate,
                    epochs * batches, epochs, batches)
        return rate

    def run_search_epoch(self, state, trial, data, loop):
        values = trial.hyperparameters.values
        epoch = int(values[self.key("epoch")])
        alpha = json.loads(values[self.key("alpha")])
        state.network.set_alpha(alpha["normal"], alpha["reduce"])
        if "beta_normal" in alpha:
            state.network.set_beta(alpha["beta_normal"], alpha["beta_reduce"])
        state.optimizers["weights"].learning_rate = self.epoch_learning_rate(epoch)
        # The alpha steps' validation stream: shuffled per epoch (seeded: a resumed search takes
        # the same batches), going on where the previous epoch's stopped.
        batches = max(0, int(data.train.cardinality()))
        validation = iter(loop.distribute(data.policy_batches(
            seed=int(values[self.key("data_seed")]), start=epoch * batches)))
        state.arch_loss.reset_state()
        metrics = loop.train(state.search_step, data.train, state.metrics,
                             batch_args=lambda batch: next(validation))
        metrics["arch_loss"] = float(state.arch_loss.result())
        metrics.update(self.validate(state, data, loop))
        network = state.network
        result = {
            "epoch": epoch,
            "alpha": arch_data(network.alpha_normal, network.alpha_reduce,
                                network.betas or None),
            "metrics": metrics,
        }
        return metrics, result
