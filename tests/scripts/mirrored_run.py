"""Tiny searches under `tf.distribute.MirroredStrategy` over two logical CPUs, as a script:
logical devices can only be made before TensorFlow starts, so tests run it in a fresh process.

Usage: python -m tests.scripts.mirrored_run ALGORITHM DIRECTORY, ALGORITHM one of nash, darts,
egnas,
enas, supernets (the three, then `weight_steps` and the recurrent space's `lm_steps` on two
replicas against one device, and a recurrent ENAS search). Prints one JSON line: every trial's
status, the replicas each training (or search epoch) ran on, and (NASH) the children's
preservation errors.
"""

import contextlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

_CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_CPU, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_nash import seed_models  # noqa: E402
from keras_nash.spaces import MicroSpace  # noqa: E402
from keras_nash.tuners import DartsTuner, EgnasTuner, EnasTuner, NashTuner  # noqa: E402
from tests.helpers import real_images  # noqa: E402


class _Replicas(keras.callbacks.Callback):
    """Records the replicas of each training (`fit`, or a search epoch) the tuner runs: the
    model's strategy, and the copies its first weight has (2 for a mirrored variable)."""

    seen = []
    copies = []
    losses = []

    def on_train_begin(self, logs=None):
        self.seen.append(self.model.distribute_strategy.num_replicas_in_sync)
        self.copies.append(len(getattr(self.model.trainable_variables[0].value, "values", [0])))

    def on_epoch_end(self, epoch, logs=None):
        self.losses.append(float(logs["loss"]))


def weight_steps(strategy):
    """A few clipped `weight_step`s of a dense network (no batch norm: the same function on
    any split), on `strategy` or one device (None), with keras_nash's `CoupledSGD` and with
    Keras's `SGD`; the last batch (1 example) leaves one replica empty. Returns the weights."""
    from keras_nash.optimizers import CoupledSGD
    from keras_nash.tuners.supernet.loop import EpochLoop, EpochMetrics, compile_step, weight_step

    x, y = real_images(49, 8, seed=2)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    weights = {}
    for name, make in (("coupled", CoupledSGD), ("keras", keras.optimizers.SGD)):
        scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
        with scope:
            keras.utils.set_random_seed(3)
            model = keras.Sequential(
                [
                    keras.Input((8, 8, 3)),
                    keras.layers.Flatten(),
                    keras.layers.Dense(16, activation="relu"),
                    keras.layers.Dense(10),
                ]
            )
            optimizer = make(learning_rate=0.5, momentum=0.9, global_clipnorm=0.05)
            optimizer.build(model.trainable_variables)
            metrics = EpochMetrics()

            def step(x, y):
                weight_step(
                    lambda inputs: model(inputs, training=True),
                    optimizer,
                    model.trainable_variables,
                    x,
                    y,
                    metrics,
                )

            signature = (tf.TensorSpec((None, 8, 8, 3)), tf.TensorSpec((None,), "int32"))
            loop = EpochLoop(0, [], model, verbose=0, strategy=strategy)
            result = loop.train(compile_step(step, signature, jit_compile=False), dataset, metrics)
        weights[name] = [np.asarray(v).tolist() for v in model.trainable_variables]
        weights[name + "_loss"] = result["loss"]
    return weights


def main(argv):
    algorithm, directory = argv[1], argv[2]
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    x, y = real_images(128, 16, seed=0)
    x_val, y_val = real_images(64, 16, seed=1)
    keras.utils.set_random_seed(0)
    if algorithm == "supernets":  # the three supernet searches and the weight step, one process
        results = {
            name: search(name, strategy, os.path.join(directory, name), x, y, x_val, y_val)
            for name in ("darts", "egnas", "enas")
        }
        two, one = weight_steps(strategy), weight_steps(None)
        results["weight_step"] = _largest_differences(two, one, ("coupled", "keras")) | {
            "losses": [two["coupled_loss"], one["coupled_loss"]]
        }
        two, one = lm_steps(strategy), lm_steps(None)
        results["lm_step"] = _largest_differences(two, one, ("weights", "state")) | {
            "losses": [two["loss"], one["loss"]],
            "state_shapes": two["state_shapes"],
        }
        results["recurrent"] = _recurrent_search(strategy, os.path.join(directory, "recurrent"))
        print(json.dumps(results))
        return
    print(json.dumps(search(algorithm, strategy, directory, x, y, x_val, y_val)))


def _largest_differences(two: dict, one: dict, names) -> dict:
    """For each name, the largest absolute difference between the arrays of the two runs."""
    return {
        name: float(max(np.max(np.abs(np.subtract(a, b))) for a, b in zip(two[name], one[name])))
        for name in names
    }


def _token_windows(batch_size, windows=4, bptt=5, vocab=20, seed=0):
    """`windows` batches of `(inputs, targets)` token ids `(batch_size, bptt)`, in order."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, vocab, (batch_size, windows * bptt + 1)).astype("int32")
    inputs = np.stack([tokens[:, w * bptt : (w + 1) * bptt] for w in range(windows)])
    targets = np.stack([tokens[:, w * bptt + 1 : (w + 1) * bptt + 1] for w in range(windows)])
    return tf.data.Dataset.from_tensor_slices((inputs, targets))


def lm_steps(strategy):
    """The recurrent space's search steps (`make_lm_steps`) over 4 windows of 4 token streams,
    the state carried from window to window, on `strategy` or one device (None). No batch
    norm and no dropout: the same function on any split. Returns the weights, the carried
    state (the replicas' copies stacked: each carries its two streams), the mean loss and
    the state variable's per-replica shape."""
    from keras_nash.optimizers import CoupledSGD
    from keras_nash.spaces.enas import RecurrentSpace
    from keras_nash.tuners.enas.lm import as_text_search_data, make_lm_steps
    from keras_nash.tuners.supernet.loop import EpochLoop, EpochMetrics

    space = RecurrentSpace(
        num_nodes=3,
        hidden_size=8,
        embedding_dropout=0,
        input_dropout=0,
        state_dropout=0,
        output_dropout=0,
        batch_norm=False,
        seed=0,
    )
    data = as_text_search_data((_token_windows(4),), {"validation_data": _token_windows(4, 1)})
    arch = tf.constant(space.encode(space.random_architecture(np.random.default_rng(1))))
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        keras.utils.set_random_seed(3)
        network = space.build_shared_model(20)
        optimizer = CoupledSGD(learning_rate=0.5, momentum=0.9, global_clipnorm=0.05)
        optimizer.build(network.trainable_variables)
        metrics = EpochMetrics()
        train_step, _, state = make_lm_steps(
            network,
            optimizer,
            data,
            space.hidden_size,
            tf.TensorSpec([space.num_decisions], tf.int32),
            {"train_step": 0, "eval_step": 0},
            metrics,
            EpochMetrics("val_"),
        )
        loop = EpochLoop(0, [], network, verbose=0, strategy=strategy)
        result = loop.train(train_step, data.train, metrics, batch_args=lambda batch: (arch,))
    copies = getattr(state.value, "values", [state.value])
    return {
        "weights": [np.asarray(v).tolist() for v in network.trainable_variables],
        "state": [np.concatenate([np.asarray(c) for c in copies]).tolist()],
        "loss": result["loss"],
        "state_shapes": [list(c.shape) for c in copies],
    }


def _recurrent_search(strategy, directory) -> dict:
    """A recurrent ENAS search (one epoch and the final training) under `strategy`, and the
    error a batch size the replicas do not divide gets (before any trial)."""
    from keras_nash.spaces.enas import RecurrentSpace

    _Replicas.seen, _Replicas.copies, _Replicas.losses = [], [], []
    space = RecurrentSpace(num_nodes=3, hidden_size=8, seed=0)
    tuner = EnasTuner(
        space,
        num_classes=20,
        epochs=1,
        final_epochs=1,
        controller_train_steps=2,
        controller_num_aggregate=2,
        controller_lstm_size=8,
        final_candidates=2,
        seed=7,
        distribution_strategy=strategy,
        directory=directory,
        project_name="recurrent",
    )
    tuner.search(
        _token_windows(4),
        validation_data=_token_windows(4, 2, seed=1),
        verbose=0,
        callbacks=[_Replicas()],
    )
    trials = [tuner.oracle.trials[t] for t in sorted(tuner.oracle.trials)]
    final = tuner.load_model(trials[-1])  # rebuilt in the strategy's scope, its weights loaded
    try:
        tuner.search(_token_windows(3), validation_data=_token_windows(3, 2, seed=1))
        error = ""
    except ValueError as exception:
        error = str(exception)
    return {
        "status": [t.status for t in trials],
        "replicas": list(_Replicas.seen),
        "final_model": type(final).__name__,
        "final_state": list(final.state.shape),
        "trace_counts": tuner.trace_counts,
        "batch_error": error,
    }


def search(algorithm, strategy, directory, x, y, x_val, y_val) -> dict:
    """A tiny search of `algorithm` under `strategy`: what each trial and training showed."""
    _Replicas.seen, _Replicas.copies, _Replicas.losses = [], [], []
    common = dict(
        seed=7, distribution_strategy=strategy, directory=directory, project_name="mirrored"
    )
    # Two search epochs, not the final training (a `fit`, as NASH's).
    supernet = dict(epochs=2, final_epochs=1, max_trials=2, batch_size=32, **common)
    cells = dict(
        cells=3,
        channels=4,
        steps=1,
        multiplier=1,
        final_cells=3,
        final_channels=4,
        primitives=("skip_connect", "max_pool_3x3", "avg_pool_3x3"),
        **supernet,
    )
    if algorithm == "nash":
        seed = seed_models.simple_cnn((16, 16, 3), 10, filters=(4, 8, 16))
        tuner = NashTuner(
            seed,
            n_steps=1,
            n_neighbors=2,
            n_morphisms=2,
            epochs_per_neighbor=1,
            final_epochs=1,
            pretrain_epochs=1,
            **common,
        )
    elif algorithm == "darts":
        tuner = DartsTuner(**cells)
    elif algorithm == "egnas":
        tuner = EgnasTuner(warmup_epochs=1, population_size=4, **cells)
    elif algorithm == "enas":
        space = MicroSpace(
            num_cells=1,
            num_blocks=1,
            filters=4,
            stem_multiplier=1,
            operations=("skip_connect", "avg_pool_3x3", "max_pool_3x3"),
        )
        tuner = EnasTuner(
            space,
            controller_train_steps=2,
            controller_num_aggregate=2,
            controller_lstm_size=8,
            final_candidates=2,
            **supernet,
        )
    else:
        raise SystemExit(f"unknown algorithm {algorithm!r}")
    tuner.search(
        x, y, validation_data=(x_val, y_val), batch_size=32, verbose=0, callbacks=[_Replicas()]
    )
    trials = [tuner.oracle.trials[t] for t in sorted(tuner.oracle.trials)]
    return {
        "status": [t.status for t in trials],
        "replicas": list(_Replicas.seen),
        "copies": list(_Replicas.copies),
        "losses": list(_Replicas.losses),
        "trace_counts": getattr(tuner, "trace_counts", None),
        "preservation_errors": [
            t.metrics.get_last_value("preservation_error")
            for t in trials
            if t.hyperparameters.values.get("nash/parent")
        ],
        "scores": [t.score for t in trials],
    }


if __name__ == "__main__":
    main(sys.argv)
