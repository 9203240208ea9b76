"""What the DARTS-cell searches share (`DartsTuner`, `EgnasTuner`): `CellSearch`.

Both searches train the weights of the same supernet (`spaces.DartsSpace`) and end the same
way: the derived genotype's `DartsEvalNetwork` trained from scratch with DARTS's evaluation
recipe (auxiliary head, drop-path, cutout, SGD with a cosine schedule to 0, coupled L2).
`CellSearch` holds those shared arguments, their validation, the weights' optimiser and
per-epoch learning rate, the validation pass and the final trial; each tuner adds its policy.
"""

import keras

from keras_nash.checks import check_float, check_int, check_range
from keras_nash.optimizers import CoupledSGD
from keras_nash.precision import loss_scaled
from keras_nash.spaces.darts import (
    DartsEvalNetwork,
    DartsSearchNetwork,
    DartsSpace,
    DropPathSchedule,
    Genotype,
)
from keras_nash.tuners.arguments import oracle_arguments
from keras_nash.tuners.supernet.loop import EpochLoop, compile_step
from keras_nash.tuners.supernet.tuner import SupernetTuner


def cell_space(search_space, defaults: dict, **arguments) -> DartsSpace:
    """A cell tuner's `DartsSpace`: `search_space` as given, or one made of the flat space
    arguments (`cells`, `channels`, ...; None = not given) over the tuner's `defaults`."""
    given = {name: value for name, value in arguments.items() if value is not None}
    if search_space is None:
        return DartsSpace(**{**defaults, **given})
    search_space = DartsSpace.of(search_space)
    if given:
        names = ", ".join(f"`{name}`" for name in given)
        raise ValueError(
            f"Give the space either as `search_space` or as {names}, not both. Received: "
            f"search_space={search_space}, " + ", ".join(f"{k}={v}" for k, v in given.items())
        )
    return search_space


class CellSearch(SupernetTuner):
    """The base of the DARTS-cell tuners: shared arguments, weight optimiser, validation, final.

    A subclass names its oracle (`oracle_class`, built from the same keyword arguments) and
    its own defaults (`cell_search_defaults`), and adds the search step; the final trial's
    `<prefix>genotype` value names the genotype to train. The oracle is built from the
    tuner's keyword arguments, as keras-tuner's `Hyperband` builds its own. Labels are integer
    class ids; the loss is sparse categorical cross-entropy on logits.

    Args:
        num_classes: int >= 2, the number of classes. Defaults to 10.
        epochs: int >= 1, search epochs. Defaults to 50.
        objective: str or `keras_tuner.Objective`. Defaults to "val_accuracy".
        seed: int or None.
        max_trials: int or None. Defaults to None (stop after the final trial).
        search_space: a `DartsSpace`, instead of the seven space arguments below.
        cells, channels, steps, multiplier, primitives, partial_channels,
        edge_normalization: the supernet's space (`DartsSpace`'s arguments;
            `partial_channels` is PC-DARTS's `k`, 1 = plain DARTS; `edge_normalization` adds
            PC-DARTS's betas, DARTS only). None: the tuner's default, else `DartsSpace`'s.
        batch_size: int, the batch size of array inputs. None: the tuner's default (DARTS's
            64).
        learning_rate, learning_rate_min: float, the weights' SGD learning rate, annealed
            by a cosine per epoch from the first to the second. None: the tuner's defaults
            (DARTS's 0.025 and 0.001).
        momentum: float in [0, 1], SGD momentum (search and final training). Defaults to 0.9.
        weight_decay: float >= 0, coupled L2 on the supernet's weights, added to the clipped
            gradient (`keras_nash.optimizers`). Defaults to 3e-4.
        grad_clip: float > 0, gradients' global-norm clip. Defaults to 5.0.
        final_epochs: int >= 1, epochs of the final network's training. None: the tuner's
            default (DARTS's paper: 600).
        final_batch_size: int >= 1, the batch size of the final training, whether its data is
            the search's or `search(final_fit=...)`'s (a dataset is rebatched; see
            `SupernetTuner`). None: the tuner's default (the DARTS and EG-NAS papers' 96).
        final_cells: int >= 3, cells of the final network (paper: 20).
        final_channels: int, its initial channels (paper: 36).
        final_learning_rate: float > 0, SGD learning rate of the final training, cosine
            to 0 over `final_epochs` (paper: 0.025).
        final_weight_decay: float >= 0, the final training's coupled L2 (paper: 3e-4).
        auxiliary_weight: float >= 0, the auxiliary head's loss weight (paper: 0.4).
        drop_path_prob: float in [0, 1], drop-path probability, raised linearly over the
            final training. None: the tuner's default (DARTS's paper: 0.2).
        cutout_length: int >= 0, side of the square hole `Cutout` cuts from each training
            image of the final training; 0 for none (paper: 16, DARTS's `--cutout`).
        jit_compile: bool, compile the steps with XLA; every training batch and every
            validation batch of the policy then holds `batch_size` examples, so each step
            compiles once (`SearchData.full_batches`: each epoch's last partial training batch
            is dropped). Defaults to False.
        **kwargs: the oracle's own arguments (those `oracle_class` takes), then
            `SupernetTuner`'s `precision` (the networks' dtype policy, `keras_nash.precision`),
            `keras_tuner.Oracle` ones (`max_retries_per_trial`, ...) and `keras_tuner.Tuner`
            ones (`directory`, `project_name`, `overwrite`, `logger`, `tuner_id`, ...).
    """

    oracle_class = None
    """The `SupernetOracle` subclass, built with `epochs`, `search_space` (the tuner's space),
    `objective`, `max_trials`, `seed` and the oracle's arguments in kwargs."""

    cell_search_defaults = {
        "batch_size": 64, "learning_rate": 0.025, "learning_rate_min": 0.001,
        "final_batch_size": 96,
        "final_epochs": 600, "drop_path_prob": 0.2,
    }
    """The defaults of the arguments given as None (DARTS's; a subclass's own entries, the
    space arguments among them, override these)."""

    def __init__(
        self, num_classes=10, epochs=50, objective="val_accuracy", seed=None, max_trials=None,
        *, search_space=None, cells=None, channels=None, steps=None, multiplier=None,
        primitives=None, partial_channels=None, edge_normalization=None, batch_size=None,
        learning_rate=None, learning_rate_min=None, momentum=0.9, weight_decay=3e-4, grad_clip=5.0,
        final_epochs=None, final_batch_size=None, final_cells=20, final_channels=36,
        final_learning_rate=0.025, final_weight_decay=3e-4, auxiliary_weight=0.4, drop_path_prob=None, cutout_length=16,
        jit_compile=False, **kwargs,
    ):
        defaults = {**CellSearch.cell_search_defaults, **self.cell_search_defaults}
        space_arguments = dict(
            cells=cells, channels=channels, steps=steps, multiplier=multiplier,
            primitives=primitives, partial_channels=partial_channels,
            edge_normalization=edge_normalization,
        )
        self.space = cell_space(
            search_space, {k: v for k, v in defaults.items() if k in space_arguments},
            **space_arguments,
        )

        def default(name, value):
            return defaults[name] if value is None else value

        learning_rate = default("learning_rate", learning_rate)
        self.num_classes = check_int("num_classes", num_classes, 2)
        self.epochs = check_int("epochs", epochs, 1)
        self.learning_rate_min, self.learning_rate = check_range(
            "learning_rate_min", default("learning_rate_min", learning_rate_min),
            "learning_rate", learning_rate,
        )
        check_float("learning_rate", learning_rate, 0, exclusive=True)
        self.momentum = check_float("momentum", momentum, 0, 1)
        self.weight_decay = check_float("weight_decay", weight_decay, 0)
        self.grad_clip = check_float("grad_clip", grad_clip, 0, exclusive=True)
        self.final_cells = check_int("final_cells", final_cells, 3)
        self.final_channels = check_int("final_channels", final_channels, 1)
        self.final_learning_rate = check_float(
            "final_learning_rate", final_learning_rate, 0, exclusive=True
        )
        self.final_weight_decay = check_float("final_weight_decay", final_weight_decay, 0)
        self.auxiliary_weight = check_float("auxiliary_weight", auxiliary_weight, 0)
        self.drop_path_prob = check_float(
            "drop_path_prob", default("drop_path_prob", drop_path_prob), 0, 1
        )
        self.cutout_length = check_int("cutout_length", cutout_length, 0)
        self.jit_compile = bool(jit_compile)
        self.seed = seed
        oracle = self.oracle_class(
            epochs=epochs, search_space=self.space, objective=objective, max_trials=max_trials,
            seed=seed, **oracle_arguments(self.oracle_class, kwargs),
        )
        super().__init__(
            oracle=oracle, final_epochs=default("final_epochs", final_epochs),
            final_batch_size=default("final_batch_size", final_batch_size),
            batch_size=default("batch_size", batch_size), **kwargs
        )

    # ----- search -----
    def build_supernet(self, hp=None, input_shape=None):
        return DartsSearchNetwork(self.space, self.num_classes, seed=self.seed)

    def weight_optimizer(self) -> keras.optimizers.Optimizer:
        """The supernet weights' SGD: momentum, coupled L2 `weight_decay`, clip `grad_clip`
        (in a `LossScaleOptimizer` under "mixed_float16")."""
        return loss_scaled(CoupledSGD(
            learning_rate=self.learning_rate, momentum=self.momentum,
            weight_decay=self.weight_decay or None, global_clipnorm=self.grad_clip,
        ), self.precision)

    def search_data(self, fit_args, fit_kwargs, batch_size, shuffle_seed):
        # Under XLA every batch a search step sees has one shape (`SearchData.full_batches`).
        data = super().search_data(fit_args, fit_kwargs, batch_size, shuffle_seed)
        return data.full_batches(batch_size) if self.jit_compile else data

    def make_eval_step(self, network, data, metrics):
        """The compiled validation step: the supernet with the current alpha, adding each
        batch to `metrics` (an `EpochMetrics`)."""

        def eval_step(x, y):
            self.trace_counts["eval_step"] += 1  # runs only while tracing
            logits = network(x, training=False)
            metrics.score(y, logits)

        return compile_step(eval_step, data.input_signature(), self.jit_compile)

    def epoch_learning_rate(self, epoch: int) -> float:
        """The weights' learning rate of search epoch `epoch`: cosine from `learning_rate` to
        `learning_rate_min` over `epochs` (DARTS steps its scheduler per epoch)."""
        schedule = keras.optimizers.schedules.CosineDecay(
            self.learning_rate, decay_steps=self.epochs,
            alpha=self.learning_rate_min / self.learning_rate,
        )
        return float(schedule(epoch))

    def validate(self, state, data, loop: EpochLoop) -> dict:
        """The supernet's validation loss and accuracy with the current alpha."""
        return loop.evaluate(state.eval_step, data.validation, state.val_metrics)

    # ----- the final network -----
    def build_final_model(self, hp):
        genotype = Genotype.from_json(hp.values[self.key("genotype")])
        model = DartsEvalNetwork(
            genotype, num_classes=self.num_classes, cells=self.final_cells,
            channels=self.final_channels, auxiliary_weight=self.auxiliary_weight,
            drop_path_prob=self.drop_path_prob, cutout_length=self.cutout_length, seed=self.seed,
        )
        model.compile(
            optimizer=CoupledSGD(
                learning_rate=self.final_learning_rate, momentum=self.momentum,
                weight_decay=self.final_weight_decay or None, global_clipnorm=self.grad_clip,
            ),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            jit_compile=self.jit_compile,
        )
        return model

    def final_callbacks(self, hp):
        schedule = keras.optimizers.schedules.CosineDecay(
            self.final_learning_rate, decay_steps=self.final_epochs
        )
        return [
            keras.callbacks.LearningRateScheduler(lambda epoch: float(schedule(epoch))),
            DropPathSchedule(self.final_epochs),
        ]

    def get_best_genotype(self) -> Genotype:
        """The genotype of the final trial (or, before it, of the oracle's current alpha)."""
        for trial in self.oracle.get_best_trials(1):
            text = trial.hyperparameters.values.get(self.key("genotype"))
            if text:
                return Genotype.from_json(text)
        return self.oracle.genotype()

