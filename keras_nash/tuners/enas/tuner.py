"""`EnasTuner`: ENAS's shared weights trained on controller-sampled architectures and the
controller's REINFORCE steps, one trial per search epoch (`EnasOracle`: `enas/oracle.py`).

This module is the image spaces' tuner (macro and micro); the recurrent space's language model
is `EnasLanguageModelTuner` (`enas/language_model.py`), which overrides the hooks where a
language model differs (its data, steps, learning rate, reward and final network).
`EnasTuner(RecurrentSpace(...))` makes one, so that every ENAS space has one public name.
"""

import inspect
import json
import os

import keras
import numpy as np
import tensorflow as tf

from keras_nash.checks import check_float, check_fraction, check_int, check_range
from keras_nash.layers.augment import DropPathSchedule
from keras_nash.optimizers import CoupledSGD
from keras_nash.precision import loss_scaled
from keras_nash.spaces.enas import architecture_from_json, get_space
from keras_nash.tuners.enas.controller import DEFAULTS as CONTROLLER_DEFAULTS
from keras_nash.tuners.enas.controller import Controller, controller_kwargs
from keras_nash.tuners.enas.oracle import CONTROLLER_FILE, KEY, EnasOracle
from keras_nash.tuners.enas.presets import (
    FINAL_WEIGHT_DECAY,
    SEARCH_EPOCHS,
    TRAIN_STEPS,
    TRAINING,
    default_objective,
)
from keras_nash.tuners.enas.steps import make_steps
from keras_nash.tuners.supernet.decisiveness import controller_decisiveness, policy_advantage
from keras_nash.tuners.supernet.loop import SearchState
from keras_nash.tuners.supernet.tuner import SupernetTuner

PAPER_SEARCH_EPOCHS = 150
"""The authors' search epochs (their CIFAR-10 scripts)."""


def scaled_controller_learning_rate(space: str, controller_steps: int) -> float:
    """The controller learning rate that moves the controller about as far in
    `controller_steps` REINFORCE steps as the authors' rate does in their search (150 epochs
    of `TRAIN_STEPS` steps: 7,500 macro, 4,500 micro, 15,000 recurrent): their rate times
    their steps over `controller_steps`, never below theirs. keras_nash's choice for short
    searches, not the authors': at their rate a few dozen steps leave the policy where it
    started (its gradients sit below Adam's epsilon of 1e-3, so a step moves a weight by about
    `learning_rate * gradient / 1e-3`)."""
    paper_steps = PAPER_SEARCH_EPOCHS * TRAIN_STEPS[space][0]
    rate = CONTROLLER_DEFAULTS[space]["learning_rate"]
    return rate * max(1.0, paper_steps / max(1, int(controller_steps)))


class EnasTuner(SupernetTuner):
    """ENAS: shared weights trained on controller-sampled architectures, one trial per epoch.

    Builds its `EnasOracle` from the same arguments (as keras-tuner's `Hyperband` does). Labels
    are integer class ids; models return logits.

    Args:
        search_space: `MacroSpace`, `MicroSpace`, `RecurrentSpace`, or one's name. Defaults to
            "macro".
        num_classes: int >= 2, the classes (the recurrent space: the vocabulary's size).
            Defaults to 10.
        epochs: int >= 1, search epochs. None: the authors' search scripts' 310 macro (also
            the paper's), 150 micro (also the paper's), 100 recurrent (the paper: 150).
        final_epochs: int >= 1, epochs of the final from-scratch training. None: the authors'
            final scripts', 310 (macro) or 630 (micro); recurrent: their search script's 100.
        batch_size: int, batch size for array inputs. None: 128 macro, 160 micro (the authors'
        search
            scripts; the recurrent space takes batched windows, `load_text(batch_size=)`).
        final_batch_size: int, the final training's batch size, whether its data is the
            search's or `search(final_fit=...)`'s (a dataset is rebatched). None: 100 macro,
            144 micro (the authors' final scripts); the recurrent space's final training keeps
            its windows' batches (give `final_fit` data of `load_text(batch_size=)`; the
            authors' `ptb_final.sh` uses 64), and refuses an int.
        learning_rate: float, the shared weights' maximum learning rate. None: 0.05
            (recurrent: 0.25 on the loss summed over time).
        learning_rate_min: float, the minimum. Defaults to 0.0005.
        lr_t0: int, epochs of the first cosine cycle. Defaults to 10.
        lr_t_mul: float, cycle growth. Defaults to 2.
        momentum: float, Nesterov momentum. None: 0.9 (recurrent: 0, plain SGD).
        weight_decay: float, coupled L2 on the shared weights (see `keras_nash.optimizers`;
            the authors add it to the loss, so their clip sees it). None: the authors' scripts'
            `l2_reg` as a gradient term, 5e-4 macro, 2e-4 micro, 2e-7 recurrent (`TRAINING`).
        grad_clip: float, global gradient norm bound, before the L2 term. None: 5.0
            (recurrent: 10).
        controller_lstm_size, controller_tanh_constant, controller_op_tanh_reduce,
        controller_temperature, controller_entropy_weight, controller_baseline_decay,
        controller_skip_target, controller_skip_weight, controller_learning_rate: the
            `Controller` arguments; None keeps the space's default (the authors').
            `controller_learning_rate="auto"` scales the authors' rate to this search's
            controller steps (`epochs * controller_train_steps`) so that the controller moves
            about as far as in their 150-epoch search (`scaled_controller_learning_rate`;
            keras_nash's setting for short searches, the command line's without
            `--paper_defaults`).
        controller_train_steps, controller_num_aggregate, final_candidates: see `EnasOracle`.
        final_filters: int, channels of the final network; None: the space's.
        final_learning_rate: float, the final training's maximum learning rate (cosine with
            warm restarts, `lr_t0` and `lr_t_mul` as the search; recurrent: the search's decay,
            `enas.lm.lm_learning_rate`). None: 0.05 (recurrent: 0.25).
        final_learning_rate_min: float, its minimum. None: the authors' final scripts', 0.001
            (macro) or 0.0001 (micro) (recurrent: their search script's 0.0005).
        final_weight_decay: float, coupled L2 of the final training (images). Defaults to 4e-4,
            the authors' final scripts' `l2_reg` 2e-4 as a gradient term (see `TRAINING`).
        final_dropout: float in [0, 1), dropout before the final network's classifier. None:
            the authors' final scripts' 1 - keep_prob, 0.5 (macro) or 0.2 (micro).
        final_cells: int >= 3, cells of the final micro network; None: the space's. (The authors'
            final network: 17, `enas.presets.FINAL_SIZE`, with `final_filters=36`.)
        auxiliary_weight, drop_path_prob: the final micro network's auxiliary head weight and
            drop-path probability (`MicroSpace.build_child_model`, ramped per epoch). None: the
            authors' (0.4 in their code, switched on by their final script; drop-path 1 - 0.6 =
            0.4 in the script; macro: none, as theirs).
        cutout_length: int, a `Cutout` hole of this side in the final network's training images
            (the paper's 2.89% micro result uses 16; the authors' scripts none). Defaults to 0.
        precision: the dtype policy of every network (`keras_nash.precision`). Defaults to None.
        jit_compile: bool, train the final network with XLA. The shared steps are not
            XLA-compiled: XLA fails on the gradient of their `tf.switch_case` (TF 2.21, CPU).
            Defaults to False.
        The recurrent space's training (`learning_rate`, `momentum`, `weight_decay`, `grad_clip`,
            `batch_size` None) is the authors' Penn Treebank search script's (`TRAINING`); its
            final training is the found cell's language model with the same SGD.
        objective, seed, max_trials, max_retries_per_trial, max_consecutive_failed_trials:
            keras-tuner's.
        **kwargs: `keras_tuner.Tuner` arguments (`directory`, `project_name`, `overwrite`, ...).

    Example:

    >>> from keras_nash.spaces import MacroSpace
    >>> tuner = EnasTuner(MacroSpace(num_layers=3, filters=4), num_classes=10, epochs=2,
    ...                   final_epochs=1, controller_train_steps=2, controller_num_aggregate=2,
    ...                   directory="runs", project_name="enas_doc", overwrite=True)
    """

    key_prefix = KEY

    def __new__(cls, search_space="macro", *args, **kwargs):
        # One public name for every ENAS space: the recurrent one's tuner is the language model's.
        if cls is EnasTuner and get_space(search_space).name == "recurrent":
            from keras_nash.tuners.enas.language_model import EnasLanguageModelTuner

            cls = EnasLanguageModelTuner
        return super().__new__(cls)

    def __init__(
        self,
        search_space="macro",
        num_classes: int = 10,
        epochs=None,
        final_epochs=None,
        batch_size=None,
        final_batch_size=None,
        learning_rate=None,
        learning_rate_min=None,
        lr_t0: int = 10,
        lr_t_mul: float = 2.0,
        momentum=None,
        weight_decay=None,
        grad_clip=None,
        controller_lstm_size=None,
        controller_tanh_constant=None,
        controller_op_tanh_reduce=None,
        controller_temperature=None,
        controller_entropy_weight=None,
        controller_baseline_decay=None,
        controller_skip_target=None,
        controller_skip_weight=None,
        controller_learning_rate=None,
        controller_train_steps=None,
        controller_num_aggregate=None,
        final_candidates: int = 10,
        final_filters=None,
        final_learning_rate=None,
        final_learning_rate_min=None,
        final_weight_decay: float = FINAL_WEIGHT_DECAY,
        final_dropout=None,
        cutout_length: int = 0,
        final_cells=None,
        auxiliary_weight=None,
        drop_path_prob=None,
        jit_compile=False,
        objective=None,
        seed=None,
        max_trials=None,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        **kwargs,
    ):
        self.space = get_space(search_space)
        given = dict(
            learning_rate=learning_rate,
            learning_rate_min=learning_rate_min,
            momentum=momentum,
            weight_decay=weight_decay,
            grad_clip=grad_clip,
            final_learning_rate=final_learning_rate,
            batch_size=batch_size,
            final_learning_rate_min=final_learning_rate_min,
            final_dropout=final_dropout,
            auxiliary_weight=auxiliary_weight,
            drop_path_prob=drop_path_prob,
            final_epochs=final_epochs,
            final_batch_size=final_batch_size,
        )
        defaults = TRAINING[self.space.name]
        if epochs is None:
            epochs = SEARCH_EPOCHS[self.space.name]
        given = {name: defaults[name] if value is None else value for name, value in given.items()}
        learning_rate, learning_rate_min, final_learning_rate = (
            given["learning_rate"],
            given["learning_rate_min"],
            given["final_learning_rate"],
        )
        momentum, weight_decay, grad_clip = (
            given["momentum"],
            given["weight_decay"],
            given["grad_clip"],
        )
        self.final_learning_rate_min, _ = check_range(
            "final_learning_rate_min",
            given["final_learning_rate_min"],
            "final_learning_rate",
            final_learning_rate,
        )
        self.final_dropout = check_fraction("final_dropout", given["final_dropout"])
        self.final_cells, self.auxiliary_weight, self.drop_path_prob = (
            self.space.check_child_options(
                final_cells, given["auxiliary_weight"], given["drop_path_prob"], prefix="final_"
            )
        )
        self.final_weight_decay = check_float("final_weight_decay", final_weight_decay, 0)
        self.cutout_length = check_int("cutout_length", cutout_length, 0)
        if objective is None:
            objective = default_objective(self.space)
        self.num_classes = check_int("num_classes", num_classes, 2)
        self.learning_rate_min, self.learning_rate = check_range(
            "learning_rate_min", learning_rate_min, "learning_rate", learning_rate
        )
        check_float("learning_rate", learning_rate, 0, exclusive=True)
        self.final_learning_rate = check_float(
            "final_learning_rate", final_learning_rate, 0, exclusive=True
        )
        self.lr_t0 = check_int("lr_t0", lr_t0, 1)
        self.lr_t_mul = check_float("lr_t_mul", lr_t_mul, 0, exclusive=True)
        self.momentum = check_float("momentum", momentum, 0, 1)
        self.weight_decay = check_float("weight_decay", weight_decay, 0)
        self.grad_clip = check_float("grad_clip", grad_clip, 0, exclusive=True)
        self.final_filters = (
            None if final_filters is None else check_int("final_filters", final_filters, 2)
        )
        self.seed = seed
        self.jit_compile = bool(jit_compile)
        if controller_learning_rate == "auto":
            steps = (
                TRAIN_STEPS[self.space.name][0]
                if controller_train_steps is None
                else controller_train_steps
            )
            controller_learning_rate = scaled_controller_learning_rate(
                self.space.name,
                check_int("epochs", epochs, 1) * check_int("controller_train_steps", steps, 1),
            )
        self.controller_kwargs = controller_kwargs(
            self.space,
            lstm_size=controller_lstm_size,
            tanh_constant=controller_tanh_constant,
            op_tanh_reduce=controller_op_tanh_reduce,
            temperature=controller_temperature,
            entropy_weight=controller_entropy_weight,
            baseline_decay=controller_baseline_decay,
            skip_target=controller_skip_target,
            skip_weight=controller_skip_weight,
            learning_rate=controller_learning_rate,
        )
        self.trace_counts = {"train_step": 0, "eval_step": 0}
        self._controller = None
        oracle = EnasOracle(
            self.space,
            epochs=epochs,
            controller_kwargs=self.controller_kwargs,
            controller_train_steps=controller_train_steps,
            controller_num_aggregate=controller_num_aggregate,
            final_candidates=final_candidates,
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        self.controller_kwargs["seed"] = int(oracle.seed)
        if self.space.name == "recurrent" and final_batch_size is not None:
            raise ValueError(
                "The recurrent space's final training takes batched token windows: give "
                "`search(final_fit=...)` data of `load_text(batch_size=...)` instead of "
                f"`final_batch_size`. Received: final_batch_size={final_batch_size}"
            )
        super().__init__(
            oracle=oracle,
            final_epochs=given["final_epochs"],
            batch_size=given["batch_size"],
            final_batch_size=given["final_batch_size"],
            **kwargs,
        )

    # ----- search -----
    def build_supernet(self, hp=None, input_shape=None):
        return self.space.build_shared_model(input_shape, self.num_classes)

    def search(self, *fit_args, **fit_kwargs):
        # Made here, outside the distribution strategy's scope: the controller trains on one
        # device (each epoch loads its weights from the oracle's snapshot).
        self._controller = self._controller or Controller(**self.controller_kwargs)
        return super().search(*fit_args, **fit_kwargs)

    def create_search(self, trial, data):
        network = self.build_supernet(input_shape=data.input_shape)
        optimizer = loss_scaled(
            CoupledSGD(
                momentum=self.momentum,
                nesterov=self.momentum > 0,
                **self._sgd_arguments(data.input_shape),
            ),
            self.precision,
        )
        optimizer.build(network.trainable_variables)
        self._controller = self._controller or Controller(**self.controller_kwargs)
        state = SearchState(network, {"weights": optimizer}, controller=self._controller)
        self.make_search_steps(state, data, tf.TensorSpec([self.space.num_decisions], tf.int32))
        return state

    def make_search_steps(self, state, data, arch_spec) -> None:
        """The compiled shared steps into `state`: `train_step` and `eval_step`, each taking
        the architecture as an int32 input (traced once whatever the architecture)."""
        x_spec, y_spec = data.input_signature()
        state.train_step, state.eval_step = make_steps(
            state.network,
            state.optimizers["weights"],
            x_spec,
            y_spec,
            arch_spec,
            self.trace_counts,
            metrics=state.metrics,
            val_metrics=state.val_metrics,
        )

    def _sgd_arguments(self, input_shape, learning_rate=None) -> dict:
        """The weights' SGD arguments (learning rate, coupled L2, global-norm clip)."""
        return dict(
            learning_rate=learning_rate or self.learning_rate,
            weight_decay=self.weight_decay or None,
            global_clipnorm=self.grad_clip,
        )

    def epoch_learning_rate(self, epoch: int) -> float:
        """The shared weights' learning rate of epoch `epoch`: cosine with warm restarts."""
        schedule = keras.optimizers.schedules.CosineDecayRestarts(
            self.learning_rate,
            first_decay_steps=self.lr_t0,
            t_mul=self.lr_t_mul,
            m_mul=1.0,
            alpha=self.learning_rate_min / self.learning_rate,
        )
        return float(schedule(epoch))

    def run_search_epoch(self, state, trial, data, loop):
        values = trial.hyperparameters.values
        epoch = int(values[self.key("epoch")])
        controller = state.controller
        controller.load(os.path.join(self.project_dir, values[self.key("controller")]))
        controller.set_state(json.loads(values[self.key("controller_state")]))
        state.optimizers["weights"].learning_rate = self._sgd_arguments(
            data.input_shape, self.epoch_learning_rate(epoch)
        )["learning_rate"]

        # 1. Shared weights: one fresh architecture per minibatch.
        train_seed = int(values[self.key("train_seed")])
        chunk, archs = 256, {}

        def architecture(batch):
            if batch // chunk not in archs:
                archs.clear()
                archs[batch // chunk] = controller.sample(chunk, seed=train_seed + batch // chunk)[
                    0
                ]
            return (tf.constant(archs[batch // chunk][batch % chunk]),)

        self.begin_epoch(state)
        metrics = loop.train(state.train_step, data.train, state.metrics, batch_args=architecture)

        # 2. The controller, on-policy: each step samples from the controller the previous
        # step left; a step's samples are rewarded on one validation minibatch, the next of a
        # stream shuffled per epoch (seeded) that goes on where the previous epoch's stopped
        # (the language model's windows stay in order: its state runs through them).
        sample_seed = int(values[self.key("sample_seed")])
        steps = int(values[self.key("controller_train_steps")])
        validation = iter(loop.distribute(self.policy_stream(data, values, epoch * steps)))
        decisions, rewards, losses = [], [], []
        for step in range(steps):
            sampled = controller.sample(
                int(values[self.key("controller_num_aggregate")]), seed=sample_seed + step
            )[0]
            batch = next(validation)
            step_rewards = [self.reward(state, *batch, vector) for vector in sampled]
            losses.append(controller.update(sampled, np.asarray(step_rewards))["loss"])
            decisions.append(sampled.tolist())
            rewards.append(step_rewards)
        directory = self.get_trial_dir(trial.trial_id)
        controller.save(os.path.join(directory, CONTROLLER_FILE))
        metrics = {**metrics, **self.reward_metrics(rewards)}
        result = {
            "epoch": epoch,
            "decisions": decisions,
            "rewards": rewards,
            "controller_losses": [float(loss) for loss in losses],
            "controller_file": os.path.relpath(
                os.path.join(directory, CONTROLLER_FILE), self.project_dir
            ),
            "controller_state": controller.get_state(),
            "metrics": metrics,
            # The same samples' seed every epoch: the figures change as the controller does.
            "decisiveness": controller_decisiveness(
                controller, seed=self.controller_kwargs["seed"]
            ),
        }

        # 3. Last epoch: the final candidates, from the trained controller, scored on the whole
        # validation data; as many uniformly random architectures too, whose scores tell whether
        # the controller's samples are better than a random draw (`policy_advantage`).
        num_candidates = int(values.get(self.key("num_candidates"), 0))
        if num_candidates:

            def score(vector):
                arch = tf.constant(vector)
                scored = loop.evaluate(
                    state.eval_step,
                    data.validation,
                    state.val_metrics,
                    batch_args=lambda batch: (arch,),
                )
                return self.candidate_score(scored)

            candidates = controller.sample(num_candidates, seed=sample_seed - 1)[0]
            rng = np.random.default_rng([sample_seed % 2**31, 1])
            uniform = [
                self.space.encode(self.space.random_architecture(rng))
                for _ in range(num_candidates)
            ]
            result["candidates"] = [self.space.decode(v).to_dict() for v in candidates]
            result["candidate_rewards"] = [score(v) for v in candidates]
            result["uniform_rewards"] = [score(v) for v in uniform]
            if num_candidates > 1:
                result["decisiveness"].update(
                    policy_advantage(result["candidate_rewards"], result["uniform_rewards"])
                )
        return metrics, result

    def begin_epoch(self, state) -> None:
        """Before an epoch's shared-weight training (a language model resets its state)."""

    def policy_stream(self, data, values, start: int):
        """The validation batches of the controller's steps: a stream shuffled per epoch
        (seeded by the trial's data seed), from its `start`-th batch on."""
        return data.policy_batches(seed=int(values[self.key("data_seed")]), start=start)

    def reward(self, state, x, y, vector) -> float:
        """The reward of one sampled architecture on the minibatch `(x, y)`: its accuracy."""
        return float(state.eval_step(x, y, tf.constant(vector))[1])

    def reward_metrics(self, rewards) -> dict:
        """The epoch's objective from its controller steps' rewards: their mean accuracy."""
        return {"val_accuracy": float(np.mean(rewards))}

    def candidate_score(self, scored: dict) -> float:
        """A final candidate's score from its evaluation on the validation data."""
        return scored["val_accuracy"]

    # ----- final network -----
    def build_final_model(self, hp):
        values = hp.values
        arch = architecture_from_json(values[self.key("arch")])
        input_shape = tuple(json.loads(values[self.key("input_shape")]))
        model, optimizer = self.final_network(arch, input_shape)
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            jit_compile=self.jit_compile,
        )
        return model

    def final_network(self, arch, input_shape):
        """The found architecture as a standalone network, and its training's optimizer."""
        model = self.space.build_child_model(
            arch,
            input_shape,
            self.num_classes,
            filters=self.final_filters,
            dropout=self.final_dropout,
            cutout_length=self.cutout_length,
            seed=self.seed,
            cells=self.final_cells,
            auxiliary_weight=self.auxiliary_weight,
            drop_path_prob=self.drop_path_prob,
        )
        optimizer = CoupledSGD(
            self.final_learning_rate,
            momentum=self.momentum,
            nesterov=True,
            weight_decay=self.final_weight_decay or None,
            global_clipnorm=self.grad_clip,
        )
        return model, optimizer

    def final_callbacks(self, hp):
        schedule = keras.optimizers.schedules.CosineDecayRestarts(  # SGDR, as the search
            self.final_learning_rate,
            first_decay_steps=self.lr_t0,
            t_mul=self.lr_t_mul,
            m_mul=1.0,
            alpha=self.final_learning_rate_min / self.final_learning_rate,
        )
        drop_path = [DropPathSchedule(self.final_epochs)] if self.drop_path_prob else []
        return [
            keras.callbacks.LearningRateScheduler(lambda epoch: float(schedule(epoch)))
        ] + drop_path

    def get_best_architecture(self):
        """The final architecture (a `MacroArchitecture`/`MicroArchitecture`): the final
        trial's, or after the search epochs the best of the final candidates (a search stopped
        by `max_trials` before its final training); None before the last search epoch."""
        for trial in self.oracle.get_best_trials(1):
            text = trial.hyperparameters.values.get(self.key("arch"))
            if text:
                return architecture_from_json(text)
        chosen = getattr(self.oracle, "best_arch", None)  # a worker's OracleClient has none
        return architecture_from_json(chosen) if chosen else None


# `inspect.signature(EnasTuner)` (help, IDEs' call tips) shows `__init__`'s arguments, not the
# pass-through of the `__new__` that picks the language model's tuner.
_INIT = inspect.signature(EnasTuner.__init__)
EnasTuner.__signature__ = _INIT.replace(parameters=list(_INIT.parameters.values())[1:])
