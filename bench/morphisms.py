"""Benchmark: function preservation of random morphism compositions, and their speed.

1. 200 random compositions of 1 to 20 morphisms over random seed networks (seeded): the child's
   logits against the parent's in inference mode on real CIFAR-10 images (32x32), with randomised
   batch-norm statistics so the identity initialisations are really exercised. Reports the worst
   max-abs difference (must be <= 1e-4) and the time per morphism (architecture and weights).
   Repeated 4x widening compounds (a 20-morphism child can need tens of GB), so a composition
   whose child would exceed --max_params is redrawn; the number redrawn is reported.
2. Applying 5 morphisms to the weights of a ~5M-parameter network on one CPU core (model build
   excluded): must take under 1 second.

    python bench/morphisms.py [--compositions 200] [--seed 0] [--max_params 5000000]

Writes bench/results/morphisms.json and prints a summary.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import json  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from keras_nash import graph, morphisms, seed_models  # noqa: E402
from tests.helpers import randomise_batch_norm, real_images  # noqa: E402

FLAGS = flags.DEFINE_integer("compositions", 200, "Number of random compositions.")
SEED = flags.DEFINE_integer("seed", 0, "Random seed.")
MAX_PARAMS = flags.DEFINE_integer("max_params", 5_000_000, "Redraw a composition whose child has more parameters.")
RESULTS = pathlib.Path(__file__).resolve().parent / "results"


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


def main(_):
    RESULTS.mkdir(exist_ok=True)
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one CPU core
    result = {"compositions": compositions(FLAGS.value, SEED.value, MAX_PARAMS.value), "large_network": large_network(SEED.value)}
    (RESULTS / "morphisms.json").write_text(json.dumps(result, indent=2))
    c, big = result["compositions"], result["large_network"]
    print(f"compositions: {c['compositions']} ({c['morphisms']} morphisms: {c['operators']}; "
          f"{c['redrawn_over_max_params']} redrawn over {c['max_params']:,} params)")
    print(f"worst max |child - parent| logits: {c['worst_max_abs_difference']:.2e} (tolerance 1e-4)")
    print(f"time per morphism (arch + weights): {c['ms_per_morphism_with_weights']:.2f} ms")
    print(f"5 morphisms on a {big['params'] / 1e6:.1f}M-parameter network, one core: {big['seconds_best_of_3']:.3f} s (limit 1 s)")
    print(f"results: {RESULTS / 'morphisms.json'}")


if __name__ == "__main__":
    app.run(main)
