"""`EgnasTuner`: SGD on the supernet's weights and the population scored for the evolution
strategy over alpha, one trial per search epoch (the oracle, `EgnasOracle`, is `egnas/oracle.py`)."""

import json

import numpy as np

from keras_nash.tuners.egnas.oracle import EGNAS_SPACE, KEY, EgnasOracle
from keras_nash.tuners.egnas.population import PopulationEvaluator
from keras_nash.tuners.egnas.strategy import (
    edge_softmax,
    population_candidates,
    validation_batch,
)
from keras_nash.tuners.supernet.cells import CellSearch
from keras_nash.tuners.supernet.loop import SearchState, compile_step, weight_step



class EgnasTuner(CellSearch):
    """EG-NAS: SGD on the supernet's weights, evolution on alpha, one trial per epoch.

    Its `EgnasOracle` is built from the same keyword arguments (see `CellSearch`).

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
        **kwargs: the evolution's arguments, passed to `EgnasOracle` (`warmup_epochs`,
            `population_size`, `sigma_initial`, `sigma_min`, `zeta`, `eta`, `step`,
            `alpha_momentum`, `initial_alpha`, with its defaults); the arguments of
            `CellSearch` (`objective`, `seed`, `max_trials`, the space as `search_space` or
            `cells`, `channels`, ...; the weights' training; the final network), with
            EG-NAS's defaults: 8 cells x 16 channels, `EGNAS_PRIMITIVES` (7 operations, no
            'none'), `partial_channels=4` (a given `search_space` keeps its own),
            `batch_size=256`, `learning_rate=0.1`, `learning_rate_min=0.0`, and EG-NAS's
            final training: `final_epochs=800`, `drop_path_prob=0.3`; and
            `keras_tuner.Oracle` / `Tuner` arguments (`max_retries_per_trial`, `directory`,
            `project_name`, `overwrite`, ...).

    Example:

    >>> tuner = EgnasTuner(num_classes=10, epochs=3, warmup_epochs=1, population_size=8,
    ...                        final_epochs=1, cells=3, channels=4, partial_channels=2,
    ...                        directory="runs", project_name="egnas_doc", overwrite=True)
    """

    key_prefix = KEY
    oracle_class = EgnasOracle
    cell_search_defaults = {
        **EGNAS_SPACE,
        "batch_size": 256, "learning_rate": 0.1, "learning_rate_min": 0.0,
        "final_epochs": 800, "drop_path_prob": 0.3,
    }

    def __init__(
        self, num_classes: int = 10, epochs: int = 50, update: str = "paper",
        population_batch_stats=None, **kwargs,
    ):
        self.population_batch_stats = (
            None if population_batch_stats is None else bool(population_batch_stats))
        self.trace_counts = {"train_step": 0, "eval_step": 0, "population": 0}
        super().__init__(num_classes=num_classes, epochs=epochs, update=update, **kwargs)

    # ----- search -----
    def create_search(self, trial, data):
        network = self.build_supernet()
        network(np.zeros((1,) + tuple(data.input_shape), "float32"))
        optimizer = self.weight_optimizer()
        optimizer.build(network.weight_variables)
        state = SearchState(network, {"weights": optimizer})

        def train_step(x, y):
            self.trace_counts["train_step"] += 1  # runs only while tracing
            weight_step(lambda inputs: network(inputs, training=True), optimizer,
                        network.weight_variables, x, y, state.metrics)

        state.train_step = compile_step(train_step, data.input_signature(), self.jit_compile)
        state.eval_step = self.make_eval_step(network, data, state.val_metrics)
        batch_stats = self.population_batch_stats
        if batch_stats is None:  # the authors' eval mode under "paper"
            batch_stats = trial.hyperparameters.values.get(self.key("update"), "es") == "es"
        state.population = PopulationEvaluator(
            network, data.input_signature(), batch_stats=batch_stats,
            jit_compile=self.jit_compile,
        )
        return state

    def evaluate_population(self, state, x, y, alpha, sigma, seed, population_size,
                            update="es") -> dict:
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
                        1, sum(1 for _ in data.policy_batches(repeat=False)))
                batches = state.validation_batches
            index = validation_batch(seed, batches)  # a fresh batch per generation
            x, y = next(iter(data.policy_batches().skip(index)))
            result["population"] = self.evaluate_population(
                state, x, y, alpha, float(values[self.key("sigma")]), seed,
                int(values[self.key("population_size")]),
                values.get(self.key("update"), "es"),  # trials before the key ran "es"
            )
            result["population"].update(validation_batch=index, validation_batches=batches)
            metrics["reference_accuracy"] = result["population"]["reference_accuracy"]
            self.trace_counts["population"] = state.population.trace_count
        return metrics, result
