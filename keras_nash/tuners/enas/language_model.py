"""`EnasLanguageModelTuner`: ENAS's recurrent space, a language model's cell (Penn Treebank).

The image tuner's search with a language model's pieces (`enas/lm.py`): batched token windows
in order (the hidden state carried across them, from zero each epoch), the authors' SGD on the
loss summed over time with their per-epoch decay, the reward `80 / perplexity` of a validation
window, and the found cell's stateful language model as the final network.
`EnasTuner(RecurrentSpace(...))` makes one.
"""

import json

import keras
import numpy as np

from keras_nash.optimizers import CoupledSGD
from keras_nash.tuners.enas.lm import (
    REWARD_CONSTANT,
    ResetState,
    StatefulLanguageModel,
    as_text_search_data,
    check_token_ids,
    lm_learning_rate,
    make_lm_steps,
    replica_batch_size,
    summed_loss_sgd,
)
from keras_nash.tuners.enas.tuner import EnasTuner


class EnasLanguageModelTuner(EnasTuner):
    """ENAS over `RecurrentSpace`: the arguments of `EnasTuner`, `num_classes` the vocabulary's
    size; data as `(inputs, targets)` windows (`keras_nash.datasets.load_text`)."""

    def build_supernet(self, hp=None, input_shape=None):
        return self.space.build_shared_model(self.num_classes)

    def search(self, *fit_args, **fit_kwargs):
        # The data's format, batch size and token ids, before any trial.
        given = [as_text_search_data(fit_args, fit_kwargs)]
        if isinstance(fit_kwargs.get("final_fit"), dict):
            given.append(as_text_search_data((), fit_kwargs["final_fit"]))
        for data in given:
            replica_batch_size(data.input_shape[0], self.distribution_strategy)
            check_token_ids(data, self.num_classes)
        return super().search(*fit_args, **fit_kwargs)

    def search_data(self, fit_args, fit_kwargs, batch_size, shuffle_seed):
        return as_text_search_data(fit_args, fit_kwargs)

    def make_search_steps(self, state, data, arch_spec) -> None:
        state.train_step, state.eval_step, state.lm_state = make_lm_steps(
            state.network, state.optimizers["weights"], data, self.space.hidden_size, arch_spec,
            self.trace_counts, state.metrics, state.val_metrics,
        )

    def _sgd_arguments(self, input_shape, learning_rate=None) -> dict:
        """The authors' SGD on the loss summed over time, as SGD on the per-token mean
        (`summed_loss_sgd`)."""
        return summed_loss_sgd(learning_rate or self.learning_rate, self.weight_decay,
                               self.grad_clip, bptt=int(input_shape[1]))

    def epoch_learning_rate(self, epoch: int) -> float:
        """`enas.lm.lm_learning_rate`: the authors' Penn Treebank decay, not below
        `learning_rate_min`."""
        return lm_learning_rate(self.learning_rate, epoch, self.learning_rate_min)

    def begin_epoch(self, state) -> None:
        state.lm_state.assign(np.zeros(state.lm_state.shape, "float32"))  # from zero each epoch

    def policy_stream(self, data, values, start: int):
        """The validation windows in order: the language model's state runs through them."""
        return data.policy_batches()

    def reward(self, state, x, y, vector) -> float:
        """`80 / perplexity` of the window (the paper's reward)."""
        return REWARD_CONSTANT / super().reward(state, x, y, vector)

    def reward_metrics(self, rewards) -> dict:
        """The samples' mean log-perplexity (rewards are c / perplexity)."""
        return {"val_loss": float(np.mean(np.log(REWARD_CONSTANT / np.asarray(rewards))))}

    def candidate_score(self, scored: dict) -> float:
        return -scored["val_loss"]

    def final_network(self, arch, input_shape):
        model = StatefulLanguageModel(
            self.space.build_child_model(arch, self.num_classes), batch_size=input_shape[0])
        optimizer = CoupledSGD(momentum=self.momentum, nesterov=self.momentum > 0,
                               **self._sgd_arguments(input_shape, self.final_learning_rate))
        return model, optimizer

    def final_callbacks(self, hp):
        # The carried state starts from zero each epoch and evaluation.
        bptt = int(json.loads(hp.values[self.key("input_shape")])[1])
        return [ResetState(), keras.callbacks.LearningRateScheduler(
            lambda epoch: bptt * lm_learning_rate(self.final_learning_rate, epoch,
                                                  self.final_learning_rate_min))]
