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

    A subclass builds its oracle and its space from its own signature (which lists every
    argument, as keras-tuner's `Hyperband` does) and adds the search step; the final trial's
    `<prefix>genotype` value names the genotype to train. Labels are integer class ids; the
    loss is sparse categorical cross-entropy on logits.

    Args (given by the subclass, each with its paper's default):
        oracle: the subclass's `SupernetOracle`.
        space: the supernet's `DartsSpace` (`cell_space`).
        num_classes: int >= 2, the number of classes.
        epochs: int >= 1, search epochs.
        batch_size: int, the batch size of array inputs.
        learning_rate, learning_rate_min: float, the weights' SGD learning rate, annealed
            by a cosine per epoch from the first to the second.
        momentum: float in [0, 1], SGD momentum (search and final training).
        weight_decay: float >= 0, coupled L2 on the supernet's weights, added to the clipped
            gradient (`keras_nash.optimizers`).
        grad_clip: float > 0, gradients' global-norm clip.
        final_epochs: int >= 1, epochs of the final network's training.
        final_batch_size: int >= 1 or None, the batch size of the final training, whether its
            data is the search's or `search(final_fit=...)`'s (a dataset is rebatched; see
            `SupernetTuner`).
        final_cells: int >= 3, cells of the final network.
        final_channels: int, its initial channels.
        final_learning_rate: float > 0, SGD learning rate of the final training, cosine
            to 0 over `final_epochs`.
        final_weight_decay: float >= 0, the final training's coupled L2.
        auxiliary_weight: float >= 0, the auxiliary head's loss weight.
        drop_path_prob: float in [0, 1], drop-path probability, raised linearly over the
            final training.
        cutout_length: int >= 0, side of the square hole `Cutout` cuts from each training
            image of the final training; 0 for none.
        jit_compile: bool, compile the steps with XLA; every training batch and every
            validation batch of the policy then holds `batch_size` examples, so each step
            compiles once (`SearchData.full_batches`: each epoch's last partial training batch
            is dropped).
        seed: int or None.
        precision: the networks' dtype policy (`keras_nash.precision`).
        **kwargs: `keras_tuner.Tuner` arguments (`directory`, `project_name`, `overwrite`,
            `logger`, `tuner_id`, `distribution_strategy`, ...).
    """

    def __init__(
        self,
        oracle,
        space,
        *,
        num_classes,
        epochs,
        batch_size,
        learning_rate,
        learning_rate_min,
        momentum,
        weight_decay,
        grad_clip,
        final_epochs,
        final_batch_size,
        final_cells,
        final_channels,
        final_learning_rate,
        final_weight_decay,
        auxiliary_weight,
        drop_path_prob,
        cutout_length,
        jit_compile,
        seed,
        precision,
        **kwargs,
    ):
        self.space = space
        self.num_classes = check_int("num_classes", num_classes, 2)
        self.epochs = check_int("epochs", epochs, 1)
        self.learning_rate_min, self.learning_rate = check_range(
            "learning_rate_min",
            learning_rate_min,
            "learning_rate",
            learning_rate,
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
        self.drop_path_prob = check_float("drop_path_prob", drop_path_prob, 0, 1)
        self.cutout_length = check_int("cutout_length", cutout_length, 0)
        self.jit_compile = bool(jit_compile)
        self.seed = seed
        super().__init__(
            oracle=oracle,
            final_epochs=final_epochs,
            batch_size=batch_size,
            final_batch_size=final_batch_size,
            precision=precision,
            **kwargs,
        )

    # ----- search -----
    def build_supernet(self, hp=None, input_shape=None):
        return DartsSearchNetwork(self.space, self.num_classes, seed=self.seed)

    def weight_optimizer(self) -> keras.optimizers.Optimizer:
        """The supernet weights' SGD: momentum, coupled L2 `weight_decay`, clip `grad_clip`
        (in a `LossScaleOptimizer` under "mixed_float16")."""
        return loss_scaled(
            CoupledSGD(
                learning_rate=self.learning_rate,
                momentum=self.momentum,
                weight_decay=self.weight_decay or None,
                global_clipnorm=self.grad_clip,
            ),
            self.precision,
        )

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
            self.learning_rate,
            decay_steps=self.epochs,
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
            genotype,
            num_classes=self.num_classes,
            cells=self.final_cells,
            channels=self.final_channels,
            auxiliary_weight=self.auxiliary_weight,
            drop_path_prob=self.drop_path_prob,
            cutout_length=self.cutout_length,
            seed=self.seed,
        )
        model.compile(
            optimizer=CoupledSGD(
                learning_rate=self.final_learning_rate,
                momentum=self.momentum,
                weight_decay=self.final_weight_decay or None,
                global_clipnorm=self.grad_clip,
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

    def get_best_architecture(self) -> Genotype:
        """The found genotype (`get_best_genotype`)."""
        return self.get_best_genotype()

    def get_best_genotype(self) -> Genotype:
        """The genotype of the final trial (or, before it, of the oracle's current alpha)."""
        for trial in self.oracle.get_best_trials(1):
            text = trial.hyperparameters.values.get(self.key("genotype"))
            if text:
                return Genotype.from_json(text)
        return self.oracle.genotype()
