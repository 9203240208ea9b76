"""Benchmark: does a short ENAS micro search's controller learn, and does its entropy say so?

After a micro search on the shipped CIFAR-10 images pooled to 16x16 (2,800 to train the shared
weights, 350 for the controller's rewards, 350 held out), `--samples` architectures sampled from
the final controller, as many from the initial controller and as many uniformly random ones are
scored on the last epoch's shared weights, on the held-out images. Reported per search: the
controller's entropy ratio per epoch (`tuner.decisiveness()`), the three groups' mean and
standard deviation, and the tuner's own `policy_advantage` (its final candidates against
uniform architectures on the validation images).

    python bench/enas_policy.py [--epochs 10] [--filters 8] [--controller_train_steps 10]
        [--controller_num_aggregate 5] [--controller_learning_rate auto] [--samples 40]
        [--seeds 1,2,3] [--output enas_policy.json]

Writes bench/results/<output> and prints a summary line.
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402  (bench/common.py)

from keras_nash.datasets.arrays import read_source  # noqa: E402
from keras_nash.spaces.enas.micro import MicroSpace  # noqa: E402
from keras_nash.tuners.enas.controller import Controller  # noqa: E402
from keras_nash.tuners.enas.tuner import EnasTuner  # noqa: E402


def images_16(seed: int = 0):
    """The shipped images pooled 2x2 to 16x16, standardised per channel, shuffled once, split
    2,800 / 350 / 350."""
    x, y = read_source("default")[:2]
    x = x.astype("float32").reshape(-1, 16, 2, 16, 2, 3).mean(axis=(2, 4))
    x = (x - x.mean(axis=(0, 1, 2))) / x.std(axis=(0, 1, 2))  # per channel, as the pipelines
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order].astype("int32")
    return (x[:2800], y[:2800]), (x[2800:3150], y[2800:3150]), (x[3150:], y[3150:])


def run_seed(args, seed: int, data) -> dict:
    """One search and the held-out scores of its three groups of architectures."""
    train, validation, (x_held, y_held) = data
    space = MicroSpace(num_cells=args.num_cells, filters=args.filters)
    start = time.time()
    with tempfile.TemporaryDirectory() as directory:
        tuner = EnasTuner(
            space,
            num_classes=10,
            epochs=args.epochs,
            final_epochs=1,
            max_trials=args.epochs,  # the search epochs only
            batch_size=64,
            seed=seed,
            controller_learning_rate=(
                "auto"
                if args.controller_learning_rate == "auto"
                else float(args.controller_learning_rate)
            ),
            controller_train_steps=args.controller_train_steps,
            controller_num_aggregate=args.controller_num_aggregate,
            directory=directory,
            project_name="enas",
        )
        tuner.search(*train, validation_data=validation, verbose=0)
        seconds = time.time() - start
        last = tuner.oracle.history[-1]["trial_id"]
        model = tuner.load_model(tuner.oracle.trials[last])
        controllers = {}
        for name, path in (
            ("final", os.path.join(tuner.get_trial_dir(last), "controller.npz")),
            ("initial", os.path.join(tuner.project_dir, "enas", "controller_0000.npz")),
        ):
            controllers[name] = Controller(**tuner.controller_kwargs)
            controllers[name].load(path)
        rng = np.random.default_rng(seed)
        groups = {
            name: controller.sample(args.samples, seed=seed + 999)[0]
            for name, controller in controllers.items()
        }
        groups["uniform"] = [
            space.encode(space.random_architecture(rng)) for _ in range(args.samples)
        ]
        x, y = tf.constant(x_held), tf.constant(y_held)

        @tf.function
        def accuracy(arch):
            predicted = tf.argmax(model((x, arch), training=False), -1, output_type=tf.int32)
            return tf.reduce_mean(tf.cast(tf.equal(predicted, y), tf.float32))

        scores = {
            name: [float(accuracy(tf.constant(v))) for v in vectors]
            for name, vectors in groups.items()
        }
        records = tuner.decisiveness()
    held_out = {
        name: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1))}
        for name, v in scores.items()
    }
    entropy = [round(r["entropy_ratio"], 4) for r in records]
    print(
        f"seed {seed}: entropy {entropy[0]} -> {entropy[-1]} (least {min(entropy)}); held-out "
        "accuracy: "
        + ", ".join(f"{k} {v['mean']:.3f} ± {v['sd']:.3f}" for k, v in held_out.items())
        + f"; the tuner's policy_advantage {records[-1]['policy_advantage']:+.4f} ± "
        f"{records[-1]['policy_advantage_se']:.4f}; {seconds:.0f} s",
        flush=True,
    )
    return {
        "seed": seed,
        "search_seconds": seconds,
        "decisiveness": records,
        "held_out": held_out,
        "scores": scores,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--filters", type=int, default=8)
    parser.add_argument("--num_cells", type=int, default=3)
    parser.add_argument("--controller_train_steps", type=int, default=10)
    parser.add_argument("--controller_num_aggregate", type=int, default=5)
    parser.add_argument("--controller_learning_rate", default="auto")
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--output", default="enas_policy.json")
    args = parser.parse_args()
    data = images_16()
    runs = [run_seed(args, int(seed), data) for seed in args.seeds.split(",")]
    gaps = [r["held_out"]["final"]["mean"] - r["held_out"]["uniform"]["mean"] for r in runs]
    print(f"final - uniform on held-out images, per seed: {', '.join(f'{g:+.3f}' for g in gaps)}")
    common.write_results(args.output, {"settings": vars(args), "runs": runs})


if __name__ == "__main__":
    main()
