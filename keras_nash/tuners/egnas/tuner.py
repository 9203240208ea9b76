"""`EgnasTuner`: SGD on the supernet's weights and the population scored for the evolution
strategy over alpha, one trial per search epoch (the oracle, `EgnasOracle`, is
`egnas/oracle.py`)."""

import json

import numpy as np

from keras_nash.tuners.egnas.oracle import EGNAS_SPACE, KEY, EgnasOracle
from keras_nash.tuners.egnas.population import PopulationEvaluator
from keras_nash.tuners.egnas.strategy import (
    edge_softmax,
    population_candidates,
    validation_batch,
)
from keras_nash.tuners.supernet.cells import CellSearch, cell_space
from keras_nash.tuners.supernet.loop import SearchState, compile_step, weight_step


class EgnasTuner(CellSearch):
    """EG-NAS: SGD on the supernet's weights, evolution on alpha, one trial per epoch.

    Builds its `EgnasOracle` from the same arguments, as keras-tuner's `Hyperband` builds its
    own. The defaults are EG-NAS's (`keras_nash.tuners.egnas.presets.PAPER`; the final
    training's 800 epochs and drop-path 0.3 are its authors' code's).

    Args:
        num_classes: int, the number of classes. Defaults to 10.
        epochs: int, search epochs (warm-up included). Defaults to 50.
        update: "paper" (the published single-best additive update, as the authors' code
            computes it) or "es" (the project's evolution strategy); see `EgnasOracle`.
            Defaults to "paper".
        population_batch_stats: bool or None, candidates use the minibatch's batch-norm
            statistics (moving statistics restored afterwards) rather than the moving ones.
            None: False under `update="paper"` (the authors score the population in eval
            mode, after `infer()`), True under "es" (the project's choice). Defaults to None.
        warmup_epochs, population_size, sigma_initial, sigma_min, zeta, eta, step,
        alpha_momentum, initial_alpha: the evolution's arguments, passed to `EgnasOracle`
            (see there). Default to 15, 50, 1.0, 0.02, 1.0, 0.4, 0.1, 0.0, None.
        search_space: a `DartsSpace`, instead of the six space arguments that follow.
        cells, channels, steps, multiplier, primitives, partial_channels: the supernet's
            space (`DartsSpace`'s arguments; None: EG-NAS's, `EGNAS_SPACE`: 8 cells x 16
            channels, `EGNAS_PRIMITIVES` (7 operations, no 'none'), `partial_channels=4`).
        batch_size: int, the batch size of array inputs. Defaults to 256.
        learning_rate, learning_rate_min: the weights' SGD learning rate, cosine per epoch.
            Default to 0.1 and 0.0.
        momentum, weight_decay, grad_clip: the weights' SGD (search and final training).
            Default to 0.9, 3e-4 and 5.0.
        final_epochs, final_cells, final_channels, final_learning_rate, final_weight_decay,
        auxiliary_weight, drop_path_prob, cutout_length: the final network and its
            training (see `CellSearch`). Default to 800, 20, 36, 0.025, 3e-4, 0.4, 0.3, 16.
        final_batch_size: int, the final training's batch size, whether its data is the
            search's or `search(final_fit=...)`'s (a dataset is rebatched; a `batch_size` in
            `final_fit` wins). Defaults to 96 (the paper's 96, as DARTS's; the authors' `train.py`
            too).
        jit_compile: bool, XLA for the steps (see `CellSearch`). Defaults to False.
        objective: str or `keras_tuner.Objective`. Defaults to "val_accuracy".
        max_trials: int or None. Defaults to None (stop after the final trial).
        seed: int or None (0 included), seeds alpha and every generation's sampling.
        max_retries_per_trial, max_consecutive_failed_trials: `keras_tuner.Oracle`'s.
        precision: the networks' dtype policy (`keras_nash.precision`). None: the global one.
        **kwargs: `keras_tuner.Tuner` arguments (`directory`, `project_name`, `overwrite`,
            `distribution_strategy`, `logger`, `tuner_id`).

    Example:

    >>> tuner = EgnasTuner(num_classes=10, epochs=3, warmup_epochs=1, population_size=8,
    ...                    final_epochs=1, cells=3, channels=4, partial_channels=2,
    ...                    directory="runs", project_name="egnas_doc", overwrite=True)
    """

    key_prefix = KEY

    def __init__(
        self,
        num_classes: int = 10,
        epochs: int = 50,
        update: str = "paper",
        population_batch_stats=None,
        *,
        warmup_epochs: int = 15,
        population_size: int = 50,
        sigma_initial: float = 1.0,
        sigma_min: float = 0.02,
        zeta: float = 1.0,
        eta: float = 0.4,
        step: float = 0.1,
        alpha_momentum: float = 0.0,
        initial_alpha=None,
        search_space=None,
        cells=None,
        channels=None,
        steps=None,
        multiplier=None,
        primitives=None,
        partial_channels=None,
        batch_size: int = 256,
        learning_rate: float = 0.1,
        learning_rate_min: float = 0.0,
        momentum: float = 0.9,
        weight_decay: float = 3e-4,
        grad_clip: float = 5.0,
        final_epochs: int = 800,
        final_batch_size: int = 96,
        final_cells: int = 20,
        final_channels: int = 36,
        final_learning_rate: float = 0.025,
        final_weight_decay: float = 3e-4,
        auxiliary_weight: float = 0.4,
        drop_path_prob: float = 0.3,
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
        self.population_batch_stats = (
            None if population_batch_stats is None else bool(population_batch_stats)
        )
        self.trace_counts = {"train_step": 0, "eval_step": 0, "population": 0}
        space = cell_space(
            search_space,
            EGNAS_SPACE,
            cells=cells,
            channels=channels,
            steps=steps,
            multiplier=multiplier,
            primitives=primitives,
            partial_channels=partial_channels,
        )
        oracle = EgnasOracle(
            epochs=epochs,
            warmup_epochs=warmup_epochs,
            population_size=population_size,
            sigma_initial=sigma_initial,
            sigma_min=sigma_min,
            zeta=zeta,
            eta=eta,
            step=step,
            alpha_momentum=alpha_momentum,
            update=update,
            search_space=space,
            initial_alpha=initial_alpha,
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
        optimizer = self.weight_optimizer()
        optimizer.build(network.weight_variables)
        state = SearchState(network, {"weights": optimizer})

        def train_step(x, y):
            self.trace_counts["train_step"] += 1  # runs only while tracing
            weight_step(
                lambda inputs: network(inputs, training=True),
                optimizer,
                network.weight_variables,
                x,
                y,
                state.metrics,
            )

        state.train_step = compile_step(train_step, data.input_signature(), self.jit_compile)
        state.eval_step = self.make_eval_step(network, data, state.val_metrics)
        batch_stats = self.population_batch_stats
        if batch_stats is None:  # the authors' eval mode under "paper"
            batch_stats = trial.hyperparameters.values.get(self.key("update"), "es") == "es"
        state.population = PopulationEvaluator(
            network,
            data.input_signature(),
            batch_stats=batch_stats,
            jit_compile=self.jit_compile,
        )
        return state

    def evaluate_population(
        self, state, x, y, alpha, sigma, seed, population_size, update="es"
    ) -> dict:
        """Sample the generation's population and evaluate it, with the current mixture, on
        one minibatch: `population_size + 1` forward passes in one compiled call. The
        candidates' mixtures are `update`'s (`population_candidates`)."""
        mean = edge_softmax(alpha)
        _, candidates = population_candidates(alpha, sigma, seed, population_size, update)
        mixtures = np.concatenate([mean[None], candidates])
        cross_entropy, accuracy = state.population(x, y, mixtures)
        return {
            "cross_entropy": cross_entropy[1:].astype("float64").tolist(),
            "accuracy": accuracy[1:].astype("float64").tolist(),
            "reference_cross_entropy": float(cross_entropy[0]),
            "reference_accuracy": float(accuracy[0]),
        }

    def run_search_epoch(self, state, trial, data, loop):
        values = trial.hyperparameters.values
        epoch = int(values[self.key("epoch")])
        sent = json.loads(values[self.key("alpha")])
        alpha = np.stack([np.asarray(sent["normal"]), np.asarray(sent["reduce"])])
        state.network.set_alpha(alpha[0], alpha[1])
        state.optimizers["weights"].learning_rate = self.epoch_learning_rate(epoch)
        metrics = loop.train(state.train_step, data.train, state.metrics)
        metrics.update(self.validate(state, data, loop))
        result = {"epoch": epoch, "metrics": metrics}
        if values.get(self.key("evolve")):
            seed = int(values[self.key("population_seed")])
            batches = int(data.policy_batches(repeat=False).cardinality())
            if batches < 1:  # unknown cardinality: counted once per search (at least one)
                if not getattr(state, "validation_batches", 0):
                    state.validation_batches = max(
                        1, sum(1 for _ in data.policy_batches(repeat=False))
                    )
                batches = state.validation_batches
            index = validation_batch(seed, batches)  # a fresh batch per generation
            x, y = next(iter(data.policy_batches().skip(index)))
            result["population"] = self.evaluate_population(
                state,
                x,
                y,
                alpha,
                float(values[self.key("sigma")]),
                seed,
                int(values[self.key("population_size")]),
                values.get(self.key("update"), "es"),  # trials before the key ran "es"
            )
            result["population"].update(validation_batch=index, validation_batches=batches)
            metrics["reference_accuracy"] = result["population"]["reference_accuracy"]
            self.trace_counts["population"] = state.population.trace_count
        return metrics, result
