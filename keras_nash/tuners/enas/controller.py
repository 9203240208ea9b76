"""The ENAS controller: an LSTM that samples architectures decision by decision (Pham et al. 2018).

The controller knows nothing of keras-tuner: it samples batches of architectures as int32
decision vectors, recomputes the log-probability of given decisions, and takes REINFORCE steps
from rewards. `EnasOracle` owns one and keeps its weights in a file.

Three decision programs (`tuners/enas/programs.py`), as in the authors' TensorFlow code
(melodyguan/enas, `src/cifar10/general_controller.py`, `src/cifar10/micro_controller.py`,
`src/ptb/ptb_enas_controller.py`):

- "macro": for each layer i, one LSTM step picks the operation (softmax over `num_ops`), a second
  LSTM step picks the skip mask over the i earlier layers with attention over their anchors
  (one binary decision per earlier layer, logits `[-q, q]`); the next input is the mean of the
  chosen anchors. A KL penalty pulls the skip rate towards `skip_target`. Decision vector:
  `[op_0, op_1, skip_1_0, op_2, skip_2_0, skip_2_1, ...]`, length `L + L(L-1)/2`.
- "micro": a normal cell then a reduction cell (the reduction continues the LSTM state), each of
  `num_blocks` blocks: two input indices chosen by attention over the anchors of the earlier nodes
  (the two cell inputs have zero anchors), then two operations. Decision vector: per cell, per
  block `[input_1, input_2, op_1, op_2]`, length `8 * num_blocks`.
- "recurrent" (ENAS's PTB cell, N nodes): per node j an LSTM step gives node j's anchor; for
  j > 1 the input node is chosen by attention over the anchors of nodes 1..j-1, minus
  `(j - k)^2 / 6`, and the chosen anchor divided by `0.1 + j - k` is the next input; a second
  LSTM step picks the activation (softmax over `w_soft`, 4 in the paper: tanh, relu, identity,
  sigmoid). Decision vector `[f_1, i_2, f_2, ..., i_N, f_N]`, length `2N - 1`, `i_j <= j - 2`.
  Rewards for "recurrent" are `c / valid_perplexity` with c = 80 (`ptb_enas_controller.py`
  line 181), computed by the tuner, not here.

Logits: operation logits are `h @ w_soft + b_soft` (micro only: a learned bias, as the authors);
all are divided by `temperature` (if set), then bounded by `tanh_constant * tanh(logits)` for
input and skip decisions and `tanh_constant / op_tanh_reduce * tanh(logits)` for operations. The
authors' micro controller reduces op logits by 2.5; their macro and ptb controllers have no such
divisor (1.0: `general_controller.py` takes `op_tanh_reduce` from its flags and ignores it).
Micro favours separable convolutions at initialisation as the authors' `micro_controller.py`
(lines 100-109, 178-185) does, when `operations` names them: `b_soft` starts at 10 for
`sep_conv*` and 0 for the others (inside the tanh), and a constant +0.25 / -0.25 is added after
the tanh in the normal cell only (their `b_soft_no_learn`, `use_bias=True` for the first cell).

REINFORCE: the reward of a sample is `reward + entropy_weight * entropy` (exact entropy of the
sampled decisions' distributions), the baseline moves first, `b <- b - (1 - decay)(b - R)`
(from `initial_baseline`; by default the first step's mean reward), then
the loss is `-log pi(a) * (R - b)` averaged over the batch (+ `skip_weight * KL` for macro).
Adam with beta_1 = 0 and epsilon = 1e-3 as the authors' `get_train_ops` (`src/utils.py`), no
L2, no gradient clipping, no learning-rate decay (their `lr_dec_every=1000000`). All weights
start independently uniform in `(-init_range, init_range)`; the LSTM is one layer without bias.

Where we differ from the authors, knowingly:

- Entropy: their micro controller adds the exact entropy; their macro and ptb controllers add
  only the sampled decision's term `-p(a) log p(a)`. We use the exact entropy for all spaces.
- Their ptb controller is built without `num_funcs` (`src/ptb/main.py`), so it samples only
  among the first 2 activations (tanh, relu) of the child's 4; we sample among all `num_ops`.
- Their baseline starts at 0, so that at decay 0.99 every advantage stays positive for the
  first hundred or so steps (all sampled decisions reinforced, the good and the bad); ours
  starts by default at the first step's mean reward (`initial_baseline=None`; 0.0 is theirs).
- Their batch is `num_aggregate` single samples through `SyncReplicasOptimizer` (the mean of
  the gradients); ours is one batched pass, the same mean.

Sampling is deterministic given `(seed, num)`: stateless random ops, one seed per decision.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_nash import files
from keras_nash.tuners.enas.programs import PROGRAMS, Run, num_decisions

SPACES = tuple(PROGRAMS)
# Controller files: format 2 added micro's `b_soft` (last of the weights) and this key.
FILE_FORMAT = 2

# The authors' defaults for each space. macro / micro: their CIFAR-10 scripts
# (scripts/cifar10_{macro,micro}_search.sh). recurrent: the authors' ptb script values,
# scripts/ptb_search.sh lines 32 (lr 1e-3), 36 (tanh constant 2.5), 37 (temperature 5.0),
# 38 (entropy weight 1e-3); LSTM size 100 from src/ptb/main.py line 145; the baseline decay is
# their flag default 0.99 (src/ptb/main.py line 72), as for CIFAR-10.
DEFAULTS = {
    "macro": dict(tanh_constant=1.5, op_tanh_reduce=1.0, learning_rate=1e-3, skip_weight=0.8),
    "micro": dict(tanh_constant=1.1, op_tanh_reduce=2.5, learning_rate=3.5e-3, skip_weight=0.0),
    "recurrent": dict(tanh_constant=2.5, op_tanh_reduce=1.0, temperature=5.0, entropy_weight=1e-3,
                      baseline_decay=0.99, learning_rate=1e-3, skip_weight=0.0, lstm_size=100),
}
# micro_controller.py lines 100-109: `b_soft` starts at 10 for the separable convolutions (0 for
# the rest); the normal cell adds a fixed +0.25 to them and -0.25 to the rest after the tanh.
SEP_CONV_PREFIX = "sep_conv"
B_SOFT_INIT = 10.0
B_SOFT_FIXED = 0.25


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={value!r}")


def authors_op_biases(space: str, operations) -> tuple:
    """The authors' initial `b_soft` and fixed normal-cell op bias for `operations` (names).

    Args:
        space: str, the decision program.
        operations: sequence of operation names, or None (unknown: no bias).

    Returns:
        A tuple `(b_soft_init, fixed)` of float32 arrays `(num_ops,)`: 10 / +0.25 for `sep_conv*`
        and 0 / -0.25 for the rest; `(None, None)` where the authors have no op bias (macro,
        recurrent) or without names (a micro `Controller` then starts `b_soft` at 0).
    """
    if space != "micro":
        return None, None
    if operations is None:
        return None, None
    favoured = np.array([str(op).startswith(SEP_CONV_PREFIX) for op in operations])
    b_soft = np.where(favoured, B_SOFT_INIT, 0.0).astype("float32")
    fixed = np.where(favoured, B_SOFT_FIXED, -B_SOFT_FIXED).astype("float32")
    return b_soft, fixed


def _check_arguments(space, num_layers, num_ops, lstm_size, baseline_decay, skip_target,
                     op_tanh_reduce, learning_rate, init_range, operations) -> None:
    """`Controller`'s argument checks: a ValueError naming the argument and its value."""
    if space not in SPACES:
        raise ValueError(f"`space` must be one of {SPACES}. Received: space={space!r}")
    _check_positive_int("num_layers", num_layers)
    _check_positive_int("lstm_size", lstm_size)
    if isinstance(num_ops, bool) or not isinstance(num_ops, (int, np.integer)) or num_ops < 2:
        raise ValueError(f"`num_ops` must be an int >= 2. Received: num_ops={num_ops!r}")
    if not 0.0 <= baseline_decay < 1.0:
        raise ValueError(
            f"`baseline_decay` must be in [0, 1). Received: baseline_decay={baseline_decay}")
    if not 0.0 < skip_target < 1.0:
        raise ValueError(
            f"`skip_target` must be in (0, 1). Received: skip_target={skip_target}")
    if op_tanh_reduce <= 0:
        raise ValueError(
            f"`op_tanh_reduce` must be > 0. Received: op_tanh_reduce={op_tanh_reduce}")
    if learning_rate <= 0:
        raise ValueError(
            f"`learning_rate` must be > 0. Received: learning_rate={learning_rate}")
    if init_range < 0:
        raise ValueError(f"`init_range` must be >= 0. Received: init_range={init_range}")
    if operations is not None and len(operations) != num_ops:
        raise ValueError(
            f"`operations` must name the {num_ops} operations. "
            f"Received: operations={operations!r}")


class Controller:
    """An LSTM policy over architectures, trained with REINFORCE.

    Args:
        space: str, "macro", "micro" or "recurrent": the decision program.
        num_layers: int >= 1, layers (macro), blocks per cell (micro, 5 in ENAS) or nodes
            (recurrent, 12 in ENAS).
        num_ops: int >= 2, candidate operations (activations for recurrent) per decision.
        lstm_size: int >= 1, LSTM units. Defaults to 64 (the authors' ptb controller: 100).
        tanh_constant: float, logit bound `c * tanh(logits)`; 0 disables. Defaults to 1.5.
        op_tanh_reduce: float > 0, divides `tanh_constant` for operation logits. Defaults to 1.0
            (macro and recurrent; the authors use 2.5 in micro).
        temperature: float, logits are divided by it first; 0 disables. Defaults to 0.
        entropy_weight: float, entropy bonus added to the reward. Defaults to 1e-4.
        baseline_decay: float in [0, 1), the moving-average baseline's decay. Defaults to 0.99.
        skip_target: float in (0, 1), macro target skip rate. Defaults to 0.4.
        skip_weight: float, weight of the skip KL penalty (macro only). Defaults to 0.8.
        learning_rate: float, Adam learning rate. Defaults to 1e-3 (3.5e-3 in micro).
        adam_beta_1: float, Adam beta_1. Defaults to 0.0 (the authors' code).
        adam_epsilon: float, Adam epsilon. Defaults to 1e-3 (the authors' code).
        init_range: float, weights start uniform in `(-init_range, init_range)`. Defaults to 0.1.
        seed: int, seed of the weight initialisation. Defaults to 0.
        initial_baseline: float, the baseline before the first step, or None: the first
            step's mean reward (ours; the authors' is 0.0). Defaults to None.
        operations: sequence of `num_ops` operation names, or None. Micro only: places the
            authors' op-logit biases favouring `sep_conv*` (without names `b_soft` starts at 0).
            Defaults to None; `for_space` passes the space's.

    Example:

    >>> controller = Controller("macro", num_layers=4, num_ops=6)
    >>> decisions, log_probs, entropies = controller.sample(8, seed=1)
    >>> decisions.shape
    (8, 10)
    >>> controller.update(decisions, rewards=np.random.rand(8))["baseline"] > 0
    True
    """

    def __init__(
        self,
        space: str,
        num_layers: int,
        num_ops: int,
        lstm_size: int = 64,
        tanh_constant: float = 1.5,
        op_tanh_reduce: float = 1.0,
        temperature: float = 0.0,
        entropy_weight: float = 1e-4,
        baseline_decay: float = 0.99,
        skip_target: float = 0.4,
        skip_weight: float = 0.8,
        learning_rate: float = 1e-3,
        adam_beta_1: float = 0.0,
        adam_epsilon: float = 1e-3,
        init_range: float = 0.1,
        seed: int = 0,
        operations=None,
        initial_baseline=None,
    ):
        _check_arguments(space, num_layers, num_ops, lstm_size, baseline_decay, skip_target,
                         op_tanh_reduce, learning_rate, init_range, operations)
        self.space = space
        self.num_layers = int(num_layers)
        self.num_ops = int(num_ops)
        self.lstm_size = int(lstm_size)
        self.tanh_constant = float(tanh_constant or 0.0)
        self.op_tanh_reduce = float(op_tanh_reduce)
        self.temperature = float(temperature or 0.0)
        self.entropy_weight = float(entropy_weight)
        self.baseline_decay = float(baseline_decay)
        self.skip_target = float(skip_target)
        self.skip_weight = float(skip_weight)
        self.learning_rate = float(learning_rate)
        self.num_decisions = num_decisions(space, self.num_layers)
        self.initial_baseline = None if initial_baseline is None else float(initial_baseline)
        self.baseline = self.initial_baseline or 0.0
        self.step = 0

        self._make_weights(np.random.default_rng(seed), init_range, operations)
        self.optimizer = keras.optimizers.Adam(
            self.learning_rate, beta_1=adam_beta_1, epsilon=adam_epsilon)
        self.optimizer.build(self.variables)

        spec = tf.TensorSpec([None, self.num_decisions], tf.int32)
        scalar = tf.TensorSpec([], tf.int32)
        self._sample_fn = tf.function(self._sample, input_signature=[scalar, scalar])
        self._log_prob_fn = tf.function(self._log_prob, input_signature=[spec])
        self._apply_fn = tf.function(
            self._apply, input_signature=[spec, tf.TensorSpec([None], tf.float32)])

    def _make_weights(self, rng, init_range: float, operations) -> None:
        """The LSTM and the embeddings, each weight its own uniform draw from `rng` (a seeded
        Keras initializer repeats its values), and micro's op-logit bias (`b_soft`)."""

        def uniform(shape):
            return rng.uniform(-init_range, init_range, shape).astype("float32")

        size = self.lstm_size
        # float32 whatever the search's precision (keras_nash.precision)
        self.lstm = keras.layers.LSTMCell(size, use_bias=False, dtype="float32", name="controller_lstm")
        self.lstm.build((None, size))
        for weight in self.lstm.trainable_weights:
            weight.assign(uniform(weight.shape))
        self.g_emb = keras.Variable(uniform((1, size)), name="g_emb")
        self.w_emb = keras.Variable(uniform((self.num_ops, size)), name="w_emb")
        self.w_soft = keras.Variable(uniform((size, self.num_ops)), name="w_soft")
        self.w_attn_1 = keras.Variable(uniform((size, size)), name="w_attn_1")
        self.w_attn_2 = keras.Variable(uniform((size, size)), name="w_attn_2")
        self.v_attn = keras.Variable(uniform((size, 1)), name="v_attn")
        self.variables = list(self.lstm.trainable_weights) + [
            self.g_emb, self.w_emb, self.w_soft, self.w_attn_1, self.w_attn_2, self.v_attn
        ]
        # Micro's learned op-logit bias comes last, so the other weights keep their positions.
        b_soft, self.op_bias_fixed = authors_op_biases(self.space, operations)
        self.b_soft = None
        if self.space == "micro":
            initial = np.zeros(self.num_ops, "float32") if b_soft is None else b_soft
            self.b_soft = keras.Variable(initial, name="b_soft")
            self.variables.append(self.b_soft)

    @classmethod
    def for_space(cls, search_space, **overrides) -> "Controller":
        """A controller with the authors' defaults for `search_space`.

        Args:
            search_space: a search space with `name` (one of `SPACES`), `controller_layers` and
                `operations` (its operation names).
            **overrides: any constructor argument; `None` values keep the space default.

        Returns:
            A `Controller`.
        """
        return cls(**controller_kwargs(search_space, **overrides))

    # The decision programs (tuners/enas/programs.py) ---------------------------------

    def _run(self, batch, decisions=None, seed=None):
        """Run the program; sample (decisions None) or teacher-force. Returns 4 tensors."""
        run = Run(self, batch, decisions=decisions, seed=seed)
        PROGRAMS[self.space](run)
        return run.results()

    def _sample(self, num, seed):
        decisions, log_prob, entropy, _ = self._run(num, seed=seed)
        return decisions, log_prob, entropy

    def _log_prob(self, decisions):
        _, log_prob, entropy, penalty = self._run(tf.shape(decisions)[0], decisions=decisions)
        return log_prob, entropy, penalty

    def _apply(self, decisions, advantages):
        with tf.GradientTape() as tape:
            log_prob, _, penalty = self._log_prob(decisions)
            loss = tf.reduce_mean(-log_prob * advantages)
            if self.space == "macro" and self.skip_weight:
                loss += self.skip_weight * tf.reduce_mean(penalty)
        grads = tape.gradient(loss, self.variables)
        self.optimizer.apply(grads, self.variables)
        return loss

    # The public API ----------------------------------------------------------------------------

    def sample(self, num: int, seed: int):
        """Sample `num` architectures, deterministically given `(num, seed)`.

        Args:
            num: int >= 1, how many architectures.
            seed: int, the sampling seed.

        Returns:
            A tuple `(decisions, log_probs, entropies)` of numpy arrays: int32 `(num, D)`, the sum
            of the log-probabilities of each sample's decisions `(num,)`, and the sum of the
            entropies of the distributions they were drawn from `(num,)`.
        """
        _check_positive_int("num", num)
        decisions, log_prob, entropy = self._sample_fn(
            tf.constant(num, tf.int32), tf.constant(seed % 2**31, tf.int32))
        return decisions.numpy(), log_prob.numpy(), entropy.numpy()

    def log_prob(self, decisions):
        """Recompute the log-probabilities of given decision vectors (teacher forcing).

        Args:
            decisions: int array `(num, D)` (or `(D,)`), decision vectors of this controller.

        Returns:
            A tuple `(log_probs, entropies, skip_penalties)` of float numpy arrays `(num,)`.
        """
        decisions = self._check_decisions(decisions)
        log_prob, entropy, penalty = self._log_prob_fn(tf.constant(decisions))
        return log_prob.numpy(), entropy.numpy(), penalty.numpy()

    def update(self, decisions, rewards) -> dict:
        """One REINFORCE step on a batch of sampled architectures and their rewards.

        The baseline moves once per sample, in order, before that sample's advantage is taken
        (as the authors' code does), from the first step's mean reward unless an
        `initial_baseline` was given; the gradient is the batch mean (their `num_aggregate`).

        Args:
            decisions: int array `(num, D)`, the sampled decision vectors.
            rewards: float array `(num,)`, e.g. validation accuracies of the samples.

        Returns:
            A dict of floats: `loss`, `baseline`, `reward` (mean, with entropy bonus), `entropy`.
        """
        decisions = self._check_decisions(decisions)
        rewards = np.asarray(rewards, dtype="float64").reshape(-1)
        if len(rewards) != len(decisions) or not np.all(np.isfinite(rewards)):
            raise ValueError(
                f"`rewards` must hold one finite value per architecture ({len(decisions)}). "
                f"Received: rewards={rewards.tolist()}"
            )
        _, entropy, _ = self.log_prob(decisions)
        rewards = rewards + self.entropy_weight * entropy
        if self.step == 0 and self.initial_baseline is None:
            self.baseline = float(rewards.mean())
        advantages = np.empty_like(rewards)
        for k, reward in enumerate(rewards):
            decay = 1.0 - self.baseline_decay
            self.baseline = float(self.baseline - decay * (self.baseline - reward))
            advantages[k] = reward - self.baseline
        loss = self._apply_fn(tf.constant(decisions), tf.constant(advantages, tf.float32))
        self.step += 1
        return {
            "loss": float(loss),
            "baseline": float(self.baseline),
            "reward": float(rewards.mean()),
            "entropy": float(entropy.mean()),
        }

    def _check_decisions(self, decisions):
        decisions = np.asarray(decisions, dtype="int32")
        if decisions.ndim == 1:
            decisions = decisions[None]
        if decisions.ndim != 2 or decisions.shape[1] != self.num_decisions:
            raise ValueError(
                f"`decisions` must have shape (num, {self.num_decisions}). "
                f"Received: shape={decisions.shape}"
            )
        return decisions

    def save(self, path: str):
        """Write the weights and the Adam state to `path` (a `.npz` file, format `FILE_FORMAT`);
        baseline and step are the caller's state (`get_state`)."""
        arrays = {f"w{i}": np.asarray(v) for i, v in enumerate(self.variables)}
        arrays.update({f"o{i}": np.asarray(v) for i, v in enumerate(self.optimizer.variables)})
        arrays["format"] = np.asarray(FILE_FORMAT)
        files.replace_atomically(path, lambda temporary: np.savez(temporary, **arrays))

    def load(self, path: str):
        """Read what `save` wrote.

        Raises:
            ValueError: if the file is of another format or holds other weights (another space,
                size, or a micro controller saved before `b_soft` existed); nothing is assigned.
        """
        with np.load(path) as data:
            file_format = int(data["format"]) if "format" in data.files else 1
            pairs = [(v, f"w{i}") for i, v in enumerate(self.variables)]
            pairs += [(v, f"o{i}") for i, v in enumerate(self.optimizer.variables)]
            keys = {k for k in data.files if k != "format"}
            problem = None
            if file_format > FILE_FORMAT:
                problem = f"its format {file_format} is newer than this code's {FILE_FORMAT}"
            elif keys != {key for _, key in pairs}:
                problem = (f"it holds {len(keys)} arrays, this {self.space} controller needs "
                           f"{len(pairs)} (micro controller files before format 2 lack b_soft)")
            else:
                shapes = [(key, data[key].shape, tuple(v.shape)) for v, key in pairs
                          if data[key].shape != tuple(v.shape)]
                if shapes:
                    problem = f"shapes differ (array, file, controller): {shapes[:3]}"
            if problem:
                raise ValueError(f"Cannot load the controller file {path} (format {file_format}): "
                                 f"{problem}.")
            for v, key in pairs:
                v.assign(data[key])

    def get_state(self) -> dict:
        """The JSON part of the controller's state: `{"baseline": float, "step": int}`."""
        return {"baseline": float(self.baseline), "step": int(self.step)}

    def set_state(self, state: dict):
        """Restore what `get_state` returned."""
        self.baseline = float(state.get("baseline", 0.0))
        self.step = int(state.get("step", 0))


def controller_kwargs(search_space, **overrides) -> dict:
    """The `Controller` arguments of a space: its defaults, overridden by non-None values.

    Args:
        search_space: a `MacroSpace`, `MicroSpace` or `RecurrentSpace`.
        **overrides: `Controller` arguments (`lstm_size`, `tanh_constant`, `learning_rate`,
            `seed`, ...); None keeps the space's default (`controller.DEFAULTS`, else
            `Controller`'s own).

    Returns:
        dict of `Controller` keyword arguments (space, num_layers, num_ops and the operations'
        names included: the micro controller's initial op bias favours separable convolutions
        by name, as the authors' does).
    """
    if overrides.get("lstm_size") is not None:
        _check_positive_int("controller_lstm_size", overrides["lstm_size"])
    kwargs = dict(DEFAULTS[search_space.name], seed=0)
    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    return dict(space=search_space.name, num_layers=search_space.controller_layers,
                num_ops=len(search_space.operations), operations=list(search_space.operations),
                **kwargs)
