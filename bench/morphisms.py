"""Benchmark: function preservation of random morphism compositions, and their speed.

1. 200 random compositions of 1 to 20 morphisms over random seed networks (seeded): the child's
   logits against the parent's in inference mode on real CIFAR-10 images (32x32), with randomised
   batch-norm statistics so the identity initialisations are really exercised. Reports the worst
   max-abs difference (must be <= 1e-4) and the time per morphism (architecture and weights).
   Repeated 4x widening compounds (a 20-morphism child can need tens of GB), so a composition
   whose child would exceed --max_params is redrawn; the number redrawn is reported.
2. Applying 5 morphisms to the weights of a ~5M-parameter network on one CPU core (model build
   excluded): must take under 1 second.
3. Training mode, per operator: a seed network (16/32/64) trained 3 epochs on 3,000 real images,
   then --draws random children per operator (one deeper, two deepers, one wider, one skip of
   each mode), the new batch norms calibrated on two training batches as NASH does. Reports the
   relative logit difference on a held-out batch of 64 images, in inference mode (max |child -
   parent| / mean |parent|, must be <= 1e-4) and in training mode (batch statistics; mean |child
   - parent| / mean |parent|, target <= 0.03), and for the deepers the training-mode difference
   the uncalibrated batch norm (moving mean 0, variance 1) would give.

    python bench/morphisms.py [--compositions 200] [--seed 0] [--max_params 5000000] [--draws 10]
        [--parts compositions,large_network,training_mode]

Writes bench/results/morphisms.json and prints a summary.
"""

import os

import common  # bench/common.py: TensorFlow's log level, the repository importable
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import json  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_nash import graph, morphisms, seed_models  # noqa: E402
from tests.helpers import randomise_batch_norm, real_images  # noqa: E402

FLAGS = flags.DEFINE_integer("compositions", 200, "Number of random compositions.")
SEED = flags.DEFINE_integer("seed", 0, "Random seed.")
MAX_PARAMS = flags.DEFINE_integer("max_params", 5_000_000, "Redraw a composition whose child has more parameters.")
DRAWS = flags.DEFINE_integer("draws", 10, "Random children per operator in the training-mode part.")
PARTS = flags.DEFINE_list("parts", ["compositions", "large_network", "training_mode"], "Parts to run.")
RESULTS = common.RESULTS


def compositions(n, seed, max_params):
    rng = np.random.default_rng(seed)
    x, _ = real_images(32, 32, seed=seed)
    worst, total_morphs, morph_seconds, ops, redrawn = 0.0, 0, 0.0, {}, 0
    for trial in range(n):
        filters = tuple(int(f) for f in rng.choice([8, 16, 24, 32], 3))
        arch = seed_models.simple_cnn_architecture((32, 32, 3), 10, filters=filters)
        parent = graph.build_model(arch)
        randomise_batch_norm(parent, arch, trial)
        length = int(rng.integers(1, 21))
        ms = morphisms.random_morphisms(arch, length, rng)
        while morphisms.apply(arch, ms).count_params() > max_params:
            redrawn += 1
            ms = morphisms.random_morphisms(arch, length, rng)
        weights = graph.get_weights(parent, arch)
        start = time.perf_counter()
        child_arch, child_weights = morphisms.apply_with_weights(arch, weights, ms)
        morph_seconds += time.perf_counter() - start
        total_morphs += len(ms)
        child = graph.build_model(child_arch)
        graph.set_weights(child, child_weights)
        difference = morphisms.max_output_difference(parent, child, x, output="logits")
        worst = max(worst, difference)
        for m in ms:
            key = m["op"] + ("_" + m["mode"] if m["op"] == "skip" else "")
            ops[key] = ops.get(key, 0) + 1
        keras.backend.clear_session()
        if (trial + 1) % 25 == 0:
            print(f"  {trial + 1}/{n} compositions, worst difference so far {worst:.2e}", flush=True)
    return {
        "compositions": n,
        "morphisms": total_morphs,
        "redrawn_over_max_params": redrawn,
        "max_params": max_params,
        "operators": ops,
        "worst_max_abs_difference": worst,
        "tolerance": 1e-4,
        "ms_per_morphism_with_weights": 1000 * morph_seconds / total_morphs,
    }


def large_network(seed):
    arch = seed_models.simple_cnn_architecture((32, 32, 3), 10, filters=(240, 480, 960))
    model = graph.build_model(arch)
    weights = graph.get_weights(model, arch)
    ms = morphisms.random_morphisms(arch, 5, seed, probabilities={"deeper": 1, "wider": 1, "skip": 1})
    times = []
    for _ in range(3):
        start = time.perf_counter()
        morphisms.apply_with_weights(arch, weights, ms)
        times.append(time.perf_counter() - start)
    return {"params": arch.count_params(), "morphisms": ms, "seconds_best_of_3": min(times), "limit_seconds": 1.0}


OPERATORS = {  # name -> (number of morphisms, random_morphisms keyword arguments)
    "deeper": (1, {"probabilities": {"deeper": 1}}),
    "deeper_x2": (2, {"probabilities": {"deeper": 1}}),
    "wider": (1, {"probabilities": {"wider": 1}}),
    "skip_add": (1, {"probabilities": {"skip": 1}, "skip_modes": ("add",)}),
    "skip_concat": (1, {"probabilities": {"skip": 1}, "skip_modes": ("concat",)}),
}


def training_mode(seed, draws):
    keras.utils.set_random_seed(seed)
    x, y = real_images(3128, 32, seed=seed)
    train, calibration, held_out = (x[:3000], y[:3000]), [x[:64], x[64:128]], [x[3000:3064]]
    arch = seed_models.simple_cnn_architecture((32, 32, 3), 10, filters=(16, 32, 64))
    parent = graph.build_model(arch)
    parent.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = parent.fit(*train, batch_size=64, epochs=3, verbose=0)
    layer = morphisms.logits_layer(arch)
    weights = graph.get_weights(parent, arch)
    rng = np.random.default_rng(seed)
    rows = {}
    for name, (n, kwargs) in OPERATORS.items():
        inference, training, uncalibrated = [], [], []
        for _ in range(draws):
            ms = morphisms.random_morphisms(arch, n, rng, **kwargs)
            child_arch, child_weights = morphisms.apply_with_weights(arch, weights, ms)
            child = graph.build_model(child_arch)
            graph.set_weights(child, child_weights)
            new = morphisms.new_batch_norms(arch, child_arch)
            if new:
                uncalibrated.append(morphisms.logit_difference(parent, child, held_out, layer, training=True, reduction="mean"))
                morphisms.calibrate_batch_norms(child, new, calibration)
            inference.append(morphisms.logit_difference(parent, child, held_out, layer))
            training.append(morphisms.logit_difference(parent, child, held_out, layer, training=True, reduction="mean"))
            del child
        rows[name] = {
            "inference_max": max(inference),
            "training_mean_of_draws": float(np.mean(training)),
            "training_max": max(training),
            "uncalibrated_training_max": max(uncalibrated) if uncalibrated else None,
            "uncalibrated_training_mean_of_draws": float(np.mean(uncalibrated)) if uncalibrated else None,
        }
        print(f"  {name}: training-mode difference max {max(training):.4f}", flush=True)
    keras.backend.clear_session()
    return {
        "parent": "simple_cnn 16/32/64, 3 epochs on 3,000 real images", "parent_train_accuracy": history.history["accuracy"][-1],
        "draws": draws, "batch": 64, "inference_tolerance": 1e-4, "training_target": 0.03, "operators": rows,
    }


def main(_):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one CPU core
    path = RESULTS / "morphisms.json"
    result = json.loads(path.read_text()) if path.exists() else {}
    if "compositions" in PARTS.value:
        result["compositions"] = compositions(FLAGS.value, SEED.value, MAX_PARAMS.value)
    if "large_network" in PARTS.value:
        result["large_network"] = large_network(SEED.value)
    if "training_mode" in PARTS.value:
        result["training_mode"] = training_mode(SEED.value, DRAWS.value)
    common.write_results("morphisms.json", result)
    if "compositions" in result:
        c = result["compositions"]
        print(f"compositions: {c['compositions']} ({c['morphisms']} morphisms: {c['operators']}; "
              f"{c['redrawn_over_max_params']} redrawn over {c['max_params']:,} params)")
        print(f"worst max |child - parent| logits: {c['worst_max_abs_difference']:.2e} (tolerance 1e-4)")
        print(f"time per morphism (arch + weights): {c['ms_per_morphism_with_weights']:.2f} ms")
    if "large_network" in result:
        big = result["large_network"]
        print(f"5 morphisms on a {big['params'] / 1e6:.1f}M-parameter network, one core: {big['seconds_best_of_3']:.3f} s (limit 1 s)")
    if "training_mode" in result:
        t = result["training_mode"]
        print(f"training mode ({t['parent']}, {t['draws']} children each, batch {t['batch']}; relative logit difference):")
        print(f"{'operator':<13}{'inference max':>15}{'training mean':>15}{'training max':>14}{'uncalibrated max':>18}")
        for name, row in t["operators"].items():
            uncalibrated = "-" if row["uncalibrated_training_max"] is None else f"{row['uncalibrated_training_max']:.4f}"
            print(f"{name:<13}{row['inference_max']:>15.2e}{row['training_mean_of_draws']:>15.4f}{row['training_max']:>14.4f}{uncalibrated:>18}")
    print(f"results: {path}")


if __name__ == "__main__":
    app.run(main)
