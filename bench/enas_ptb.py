"""Benchmark: ENAS's recurrent-cell search on Penn Treebank text against random cells.

On the PTB text embedded in the package (`keras_nash/data/ptb_default`: 71,278 training, 7,174
validation and 7,279 test tokens, vocabulary 6,043; see `derive_ptb_default.py`), at CPU scale
(`--num_nodes` nodes, `--hidden_size` units, batch 20 x bptt 35):

1. per seed (`--seeds`), the search: `EnasTuner` with a `RecurrentSpace` and the short runs'
   `controller_learning_rate="auto"`, `--epochs` search epochs (shared weights, then
   `--controller_steps` on-policy REINFORCE steps of 5 samples rewarded 80 / perplexity on a
   validation window), the best of `--candidates` sampled cells on the validation text;
2. the searched cell and the control, `--random_cells` cells drawn uniformly from the same
   space, each trained from scratch for `--final_epochs` by one code path (`final_training`:
   the tuner's `build_final_model` and callbacks, the last epoch's weights);
3. the shared step's time (a fresh random cell every step, one trace) against a fixed cell's
   compiled step, on the same batches.

Reported: validation and test perplexity of each cell (selection on validation only), seconds,
the controller's decisiveness per epoch; over seeds, the searched cells' test perplexity against
the random cells' (mean and deviation).

    python bench/enas_ptb.py [--seeds 1,2,3] [--epochs 6] [--final_epochs 6] [--random_cells 3]

Writes bench/results/enas_ptb.json (after every seed) and prints a table.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from common import write_results  # noqa: E402  (bench/common.py: with provenance)

from keras_nash.datasets import load_text  # noqa: E402
from keras_nash.optimizers import CoupledSGD  # noqa: E402
from keras_nash.spaces.enas.recurrent import RecurrentSpace  # noqa: E402
from keras_nash.tuners.enas.tuner import EnasTuner
from keras_nash.tuners.supernet.loop import cross_entropy

EPOCHS = flags.DEFINE_integer("epochs", 6, "Search epochs.")
FINAL_EPOCHS = flags.DEFINE_integer("final_epochs", 6, "Epochs of every final training.")
RANDOM_CELLS = flags.DEFINE_integer("random_cells", 3, "Random cells (the control).")
NUM_NODES = flags.DEFINE_integer("num_nodes", 8, "Nodes of the cell (paper: 12).")
HIDDEN = flags.DEFINE_integer("hidden_size", 64, "Hidden units (the authors' search: 720).")
CONTROLLER_STEPS = flags.DEFINE_integer("controller_steps", 20, "REINFORCE steps per epoch.")
CANDIDATES = flags.DEFINE_integer("candidates", 5, "Sampled cells the final one is chosen from.")
TIMED_STEPS = flags.DEFINE_integer("timed_steps", 20, "Steps timed (after a warm-up).")
SEEDS = flags.DEFINE_list("seeds", ["1", "2", "3"], "Seeds: one search and its controls each.")
RESULTS = HERE / "results"


def perplexity(model, dataset) -> float:
    model.reset_state()  # windows in order, the state carried from a zero start
    return float(np.exp(model.evaluate(dataset, verbose=0, return_dict=True)["loss"]))


def final_training(tuner, arch, text) -> dict:
    """Train `arch` from scratch with the tuner's final recipe; its perplexities."""
    hp = keras_tuner.HyperParameters()
    hp.values[tuner.key("arch")] = arch.to_json()
    hp.values[tuner.key("input_shape")] = json.dumps([text.batch_size, text.bptt])
    model = tuner.build_final_model(hp)
    start = time.perf_counter()
    model.fit(
        text.train,
        validation_data=text.validation,
        epochs=FINAL_EPOCHS.value,
        callbacks=tuner.final_callbacks(hp),
        verbose=0,
        shuffle=False,  # a dataset orders itself (Keras warns otherwise)
    )
    return {
        "seconds": round(time.perf_counter() - start, 1),
        "val_perplexity": perplexity(model, text.validation),
        "test_perplexity": perplexity(model, text.test),
        "arch": arch.to_dict(),
    }


def step_times(space, text) -> dict:
    """Median seconds of the shared step (a random cell each step) and of a fixed cell's."""
    rng = np.random.default_rng(1)
    vocab, hidden = len(text.vocabulary), space.hidden_size
    batches = list(text.train.take(TIMED_STEPS.value + 2))
    state = tf.zeros((text.batch_size, hidden))

    def timed(step, args_of):
        step(*args_of(0))  # trace
        times = []
        for index in range(1, len(batches)):
            start = time.perf_counter()
            step(*args_of(index))[0].numpy()
            times.append(time.perf_counter() - start)
        return float(np.median(times)), step.experimental_get_tracing_count()

    def train_step(model, call):
        optimizer = CoupledSGD(learning_rate=1.0)
        optimizer.build(model.trainable_variables)

        def step(x, y, *arch):
            with tf.GradientTape() as tape:
                loss = cross_entropy(y, call(x, *arch)[0])
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(
                [
                    tf.zeros_like(v) if g is None else g
                    for g, v in zip(grads, model.trainable_variables)
                ],
                model.trainable_variables,
            )
            return (loss,)

        return tf.function(step)

    shared = space.build_shared_model(vocab)
    archs = [tf.constant(space.encode(space.random_architecture(rng))) for _ in batches]
    shared_step = train_step(shared, lambda x, arch: shared(((x, arch), state), training=True))
    shared_s, shared_traces = timed(shared_step, lambda i: (*batches[i], archs[i]))
    child = space.build_child_model(space.random_architecture(rng), vocab)
    child_step = train_step(child, lambda x: child((x, state), training=True))
    child_s, _ = timed(child_step, lambda i: batches[i])
    return {
        "shared_step_s": shared_s,
        "fixed_step_s": child_s,
        "ratio": shared_s / child_s,
        "shared_traces": shared_traces,
    }


def run_seed(seed, text) -> dict:
    """One seed: the search (its search epochs only), then the searched cell and
    `--random_cells` uniformly random cells, each trained from scratch by `final_training`."""
    keras.utils.set_random_seed(seed)
    space = RecurrentSpace(num_nodes=NUM_NODES.value, hidden_size=HIDDEN.value, seed=seed)
    tuner = EnasTuner(
        space,
        num_classes=len(text.vocabulary),
        epochs=EPOCHS.value,
        final_epochs=FINAL_EPOCHS.value,
        controller_train_steps=CONTROLLER_STEPS.value,
        controller_num_aggregate=5,
        controller_learning_rate="auto",  # the short runs' setting (presets.SHORT)
        final_candidates=CANDIDATES.value,
        seed=seed,
        directory=tempfile.mkdtemp(prefix="enas_ptb_"),
        project_name="search",
        overwrite=True,
        max_trials=EPOCHS.value,  # the search epochs; the final training is `final_training`'s
    )
    start = time.perf_counter()
    tuner.search(text.train, validation_data=text.validation, verbose=0)
    search_seconds = time.perf_counter() - start
    rows = [
        {
            "cell": "searched",
            "search_seconds": round(search_seconds, 1),
            **final_training(tuner, tuner.get_best_architecture(), text),
        }
    ]
    print(json.dumps({"seed": seed, **rows[-1]}), flush=True)
    rng = np.random.default_rng(seed + 1)
    for index in range(RANDOM_CELLS.value):
        rows.append(
            {
                "cell": f"random_{index}",
                **final_training(tuner, space.random_architecture(rng), text),
            }
        )
        print(json.dumps({"seed": seed, **rows[-1]}), flush=True)
    randoms = rows[1:]
    history = tuner.oracle.history
    return {
        "seed": seed,
        "rows": rows,
        "random_best_on_validation": min(randoms, key=lambda r: r["val_perplexity"])["cell"]
        if randoms
        else None,
        "mean_reward_by_epoch": [h["mean_reward"] for h in history],
        "decisiveness": tuner.decisiveness(),
    }


def summarise(runs) -> dict:
    """Over seeds: the searched cell's test perplexity, the random cells' (all of them), and
    the random cell each seed picks on validation."""

    def stats(values):
        return {"mean": float(np.mean(values)), "std": float(np.std(values)), "n": len(values)}

    searched = [r["rows"][0]["test_perplexity"] for r in runs]
    randoms = [row["test_perplexity"] for r in runs for row in r["rows"][1:]]
    picked = [
        next(row for row in r["rows"] if row["cell"] == r["random_best_on_validation"])[
            "test_perplexity"
        ]
        for r in runs
        if r["random_best_on_validation"]
    ]
    return {
        "searched_test_perplexity": stats(searched),
        "random_test_perplexity": stats(randoms),
        "random_picked_on_validation_test_perplexity": stats(picked) if picked else None,
        "final_entropy_ratio": stats([r["decisiveness"][-1]["entropy_ratio"] for r in runs]),
    }


def main(argv):
    del argv
    text = load_text(batch_size=20, bptt=35)
    runs = []
    result = {}
    for seed in (int(s) for s in SEEDS.value):
        runs.append(run_seed(seed, text))
        result = {
            "settings": {
                name: flags.FLAGS[name].value
                for name in (
                    "epochs",
                    "final_epochs",
                    "random_cells",
                    "num_nodes",
                    "hidden_size",
                    "controller_steps",
                    "candidates",
                    "seeds",
                )
            },
            "num_tokens": text.num_tokens,
            "vocabulary": len(text.vocabulary),
            "runs": runs,
            "summary": summarise(runs),
        }
        write_results("enas_ptb.json", result)
    keras.utils.set_random_seed(int(SEEDS.value[0]))
    space = RecurrentSpace(num_nodes=NUM_NODES.value, hidden_size=HIDDEN.value, seed=1)
    result["steps"] = step_times(space, text)
    path = write_results("enas_ptb.json", result)
    print(f"{'seed':<6}{'cell':<10}{'val_ppl':>9}{'test_ppl':>9}{'seconds':>9}")
    for run in runs:
        for r in run["rows"]:
            print(
                f"{run['seed']:<6}{r['cell']:<10}{r['val_perplexity']:>9.1f}"
                f"{r['test_perplexity']:>9.1f}{r['seconds']:>9.1f}"
            )
    summary = result["summary"]
    for name, key in (
        ("searched", "searched_test_perplexity"),
        ("random", "random_test_perplexity"),
        ("random picked on validation", "random_picked_on_validation_test_perplexity"),
    ):
        if summary[key]:
            print(f"{name}: test perplexity {summary[key]['mean']:.1f} ± {summary[key]['std']:.1f}")
    steps = result["steps"]
    print(
        f"shared step {steps['shared_step_s'] * 1000:.0f} ms vs fixed cell "
        f"{steps['fixed_step_s'] * 1000:.0f} ms ({steps['ratio']:.2f}x), "
        f"{steps['shared_traces']} trace(s); results {path}"
    )


if __name__ == "__main__":
    app.run(main)
