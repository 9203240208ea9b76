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
from keras_nash.tuners.supernet.cells import CellSearch, cell_space
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


def scaled_arch_learning_rate(alpha_steps: int) -> float:
    """The alpha learning rate that moves alpha as far in `alpha_steps` Adam steps as the
    paper's 3e-4 does in its 19,550 (an Adam step moves a weight by about its learning rate):
    `3e-4 * 19,550 / alpha_steps`, never below 3e-4. keras_nash's choice for short searches,
    not the paper's: at 3e-4, 150 steps leave softmax(alpha) within 1e-4 of uniform."""
    return PAPER_ARCH_LEARNING_RATE * max(1.0, PAPER_ALPHA_STEPS / max(1, int(alpha_steps)))


class DartsTuner(CellSearch):
    """First-order DARTS: alternate alpha and weight steps on the supernet, one trial per epoch.

    Builds its `DartsOracle` from the same arguments, as keras-tuner's `Hyperband` builds its
    own. The defaults are the paper's (`keras_nash.tuners.darts.presets.PAPER`).

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
        search_space: a `DartsSpace`, instead of the seven space arguments that follow.
        cells, channels, steps, multiplier, primitives, partial_channels,
        edge_normalization: the supernet's space (`DartsSpace`'s arguments; None: its
            default, DARTS's 8 cells x 16 channels, 4 steps, multiplier 4, `PRIMITIVES`,
            `partial_channels=1`; `edge_normalization` adds PC-DARTS's betas).
        batch_size: int, the batch size of array inputs. Defaults to 64.
        learning_rate, learning_rate_min: the weights' SGD learning rate, cosine per epoch.
            Default to 0.025 and 0.001.
        momentum, weight_decay, grad_clip: the weights' SGD (search and final training).
            Default to 0.9, 3e-4 and 5.0.
        final_epochs, final_cells, final_channels, final_learning_rate, final_weight_decay,
        auxiliary_weight, drop_path_prob, cutout_length: the final network and its
            training (see `CellSearch`). Default to 600, 20, 36, 0.025, 3e-4, 0.4, 0.2, 16.
        final_batch_size: int, the final training's batch size, whether its data is the
            search's or `search(final_fit=...)`'s (a dataset is rebatched; a `batch_size` in
            `final_fit` wins). Defaults to 96 (the paper's 96).
        jit_compile: bool, XLA for the steps (see `CellSearch`). Defaults to False.
        objective: str or `keras_tuner.Objective`. Defaults to "val_accuracy".
        max_trials: int or None. Defaults to None (stop after the final trial).
        seed: int or None (0 included).
        max_retries_per_trial, max_consecutive_failed_trials: `keras_tuner.Oracle`'s.
        precision: the networks' dtype policy (`keras_nash.precision`). None: the global one.
        **kwargs: `keras_tuner.Tuner` arguments (`directory`, `project_name`, `overwrite`,
            `distribution_strategy`, `logger`, `tuner_id`).

    Example:

    >>> tuner = DartsTuner(num_classes=10, epochs=2, final_epochs=1, cells=3, channels=4,
    ...                    directory="runs", project_name="darts_doc", overwrite=True)
    """

    key_prefix = KEY

    def __init__(
        self,
        num_classes: int = 10,
        epochs: int = 50,
        arch_learning_rate=PAPER_ARCH_LEARNING_RATE,
        arch_beta_1: float = 0.5,
        arch_beta_2: float = 0.999,
        arch_weight_decay: float = 1e-3,
        *,
        search_space=None,
        cells=None,
        channels=None,
        steps=None,
        multiplier=None,
        primitives=None,
        partial_channels=None,
        edge_normalization=None,
        batch_size: int = 64,
        learning_rate: float = 0.025,
        learning_rate_min: float = 0.001,
        momentum: float = 0.9,
        weight_decay: float = 3e-4,
        grad_clip: float = 5.0,
        final_epochs: int = 600,
        final_batch_size: int = 96,
        final_cells: int = 20,
        final_channels: int = 36,
        final_learning_rate: float = 0.025,
        final_weight_decay: float = 3e-4,
        auxiliary_weight: float = 0.4,
        drop_path_prob: float = 0.2,
        cutout_length: int = 16,
        jit_compile: bool = False,
        objective="val_accuracy",
        max_trials=None,
        seed=None,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        precision=None,
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
        space = cell_space(
            search_space,
            {},
            cells=cells,
            channels=channels,
            steps=steps,
            multiplier=multiplier,
            primitives=primitives,
            partial_channels=partial_channels,
            edge_normalization=edge_normalization,
        )
        oracle = DartsOracle(
            epochs=epochs,
            search_space=space,
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        super().__init__(
            oracle,
            space,
            num_classes=num_classes,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_min=learning_rate_min,
            momentum=momentum,
            weight_decay=weight_decay,
            grad_clip=grad_clip,
            final_epochs=final_epochs,
            final_batch_size=final_batch_size,
            final_cells=final_cells,
            final_channels=final_channels,
            final_learning_rate=final_learning_rate,
            final_weight_decay=final_weight_decay,
            auxiliary_weight=auxiliary_weight,
            drop_path_prob=drop_path_prob,
            cutout_length=cutout_length,
            jit_compile=jit_compile,
            seed=seed,
            precision=precision,
            **kwargs,
        )

    # ----- search -----
    def create_search(self, trial, data):
        network = self.build_supernet()
        network(np.zeros((1,) + tuple(data.input_shape), "float32"))
        weight_optimizer = self.weight_optimizer()
        # DARTS's alpha optimiser: Adam with coupled L2 (PyTorch's `Adam(weight_decay=)`).
        arch_optimizer = loss_scaled(
            CoupledAdam(
                learning_rate=self.alpha_learning_rate(trial, data),
                beta_1=self.arch_beta_1,
                beta_2=self.arch_beta_2,
                epsilon=1e-8,
                weight_decay=self.arch_weight_decay or None,
            ),
            self.precision,
        )
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
            return weight_step(
                lambda inputs: network(inputs, training=True),
                weight_optimizer,
                network.weight_variables,
                x,
                y,
                state.metrics,
            )

        x_spec, y_spec = data.input_signature()
        state.arch_loss = keras.metrics.Mean(name="arch_loss")
        state.search_step = compile_step(
            search_step, (x_spec, y_spec, x_spec, y_spec), self.jit_compile
        )
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
        logger.info(
            "darts arch_learning_rate='auto': %.4g for %d alpha steps (%d x %d)",
            rate,
            epochs * batches,
            epochs,
            batches,
        )
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
        validation = iter(
            loop.distribute(
                data.policy_batches(seed=int(values[self.key("data_seed")]), start=epoch * batches)
            )
        )
        state.arch_loss.reset_state()
        metrics = loop.train(
            state.search_step, data.train, state.metrics, batch_args=lambda batch: next(validation)
        )
        metrics["arch_loss"] = float(state.arch_loss.result())
        metrics.update(self.validate(state, data, loop))
        network = state.network
        result = {
            "epoch": epoch,
            "alpha": arch_data(network.alpha_normal, network.alpha_reduce, network.betas or None),
            "metrics": metrics,
        }
        return metrics, result
