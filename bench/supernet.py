"""Benchmark: DARTS search step time and peak memory, full vs partial channels (PC-DARTS k=4).

The 8-cell, 16-channel DARTS supernet (4 nodes, 8 operations) at batch 64 on 32x32x3 inputs,
10 classes; one first-order DARTS search step (alpha step on a validation batch, then weight
step on a training batch), the same compiled step `DartsTuner` uses. Each variant runs in its
own subprocess so peak memory is its own: peak GPU memory when a GPU is visible, else the
process's peak resident memory (max RSS) minus its RSS before the network was built.

    python bench/supernet.py [--steps 5] [--batch_size 64] [--jit_compile]

Writes bench/results/supernet.json and prints a table.
"""

import os

import common  # bench/common.py: TensorFlow's log level, the repository importable

import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

STEPS = flags.DEFINE_integer("steps", 5, "Timed search steps per variant (after a warm-up).")
BATCH = flags.DEFINE_integer("batch_size", 64, "Batch size.")
JIT = flags.DEFINE_boolean("jit_compile", False, "Compile the step with XLA.")
VARIANT = flags.DEFINE_integer("partial_channels", 0, "Internal: run one variant (k) and print JSON.")
RESULTS = common.RESULTS


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_variant(partial_channels, steps, batch_size, jit_compile):
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_nash.tuners.darts.tuner import DartsTuner
    from keras_nash.tuners.supernet.data import SearchData

    keras.utils.set_random_seed(0)
    gpu = bool(tf.config.list_physical_devices("GPU"))
    rss_before = _rss_mb()
    rng = np.random.default_rng(0)
    images = rng.random((batch_size, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, batch_size)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    data = SearchData(dataset, dataset, (32, 32, 3))
    tuner = DartsTuner(
        num_classes=10, epochs=50, cells=8, channels=16, partial_channels=partial_channels,
        jit_compile=jit_compile, directory="/tmp/keras_nash_bench", project_name="supernet",
        overwrite=True,
    )
    start = time.perf_counter()
    state = tuner.create_search(None, data)
    build_s = time.perf_counter() - start
    x = tf.constant(images)
    y = tf.constant(labels)
    start = time.perf_counter()
    loss = state.search_step(x, y, x, y)  # the training batch's loss
    float(loss)
    first_step_s = time.perf_counter() - start
    if gpu:
        tf.config.experimental.reset_memory_stats("GPU:0")
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = state.search_step(x, y, x, y)  # the training batch's loss
        float(loss)
        times.append(time.perf_counter() - start)
    result = {
        "partial_channels": partial_channels,
        "params": int(sum(np.prod(v.shape) for v in state.network.weight_variables)),
        "build_s": round(build_s, 2),
        "trace_and_first_step_s": round(first_step_s, 2),
        "step_s_median": round(float(np.median(times)), 4),
        "step_s_min": round(float(np.min(times)), 4),
        "images_per_s": round(batch_size / float(np.median(times)), 1),
        "traces": dict(tuner.trace_counts),
        "device": "GPU" if gpu else "CPU",
    }
    if gpu:
        result["peak_memory_mb"] = round(
            tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20, 1
        )
        result["memory_kind"] = "GPU peak"
    else:
        result["peak_memory_mb"] = round(_rss_mb() - rss_before, 1)
        result["memory_kind"] = "CPU max RSS growth"
    return result


def main(argv):
    del argv
    if VARIANT.value:
        print("RESULT " + json.dumps(run_variant(VARIANT.value, STEPS.value, BATCH.value, JIT.value)))
        return
    rows = []
    for k in (1, 4):
        command = [
            sys.executable, __file__, f"--partial_channels={k}", f"--steps={STEPS.value}",
            f"--batch_size={BATCH.value}", f"--jit_compile={JIT.value}",
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(output.split("RESULT ", 1)[1]))
    report = {
        "setup": {
            "cells": 8, "channels": 16, "nodes": 4, "ops": 8, "batch_size": BATCH.value,
            "input": [32, 32, 3], "steps": STEPS.value, "jit_compile": JIT.value,
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "note": "one first-order DARTS search step = alpha step + weight step",
        },
        "variants": rows,
    }
    common.write_results("supernet.json", report)
    print(f"{'variant':<14}{'params':>10}{'trace+1st s':>13}{'step s':>9}{'img/s':>8}"
          f"{'peak MB':>10}  memory")
    for row in rows:
        name = "full" if row["partial_channels"] == 1 else f"partial k={row['partial_channels']}"
        print(f"{name:<14}{row['params']:>10,}{row['trace_and_first_step_s']:>13}"
              f"{row['step_s_median']:>9}{row['images_per_s']:>8}{row['peak_memory_mb']:>10}"
              f"  {row['memory_kind']} ({row['device']})")


if __name__ == "__main__":
    app.run(main)
