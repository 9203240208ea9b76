"""Benchmark: where a supernet search's start-up goes (issue 16, item 5), on this machine.

A supernet search pays, before its first step: building the supernet, tracing the compiled
search step (Python builds the graph: two forward and two backward passes through every mixed
operation) and the first call, in which TensorFlow's graph optimiser (grappler) rewrites that
graph before it runs. Measured on random images for one search step (first-order DARTS unless
`--algorithm` says otherwise), in a fresh process each: with grappler as it is, and with its
meta optimiser disabled for the whole process
(`tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})`),
then the time of a step once started; a row with Keras's own batch norm computation in place of
`FusedBatchNorm`'s fused kernel (the library before it; `--nokeras_batch_norm` leaves it out);
each `--experiment` adds a row with those grappler passes turned off
(`set_experimental_options({pass: False})`) for the whole process. Each row also counts the
operations of the traced step's graph.

    python bench/startup.py [--algorithm darts] [--cells 3] [--channels 4] [--image_size 16]
        [--batch_size 32] [--experiment constant_folding --experiment ...]

`--algorithm egnas` measures EG-NAS's weight step (the supernet with PC-DARTS's k = 4 and
EG-NAS's 7 operations) and its first population of 50 (one compiled call, traced at its first);
`--algorithm enas` ENAS's micro shared-weight step (`--cells` cells of 5 blocks, `--channels`
filters), on an architecture of all zeros.

Writes bench/results/startup.json (other algorithms and sizes:
startup_<algorithm>_<cells>x<channels>_<image>px_b<batch>.json)
and prints a table. A few minutes on 2 CPU cores.
"""


import common  # bench/common.py: TensorFlow's log level, the repository importable

import json  # noqa: E402
import pathlib  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = common.RESULTS
ALGORITHM = flags.DEFINE_enum("algorithm", "darts", ["darts", "egnas", "enas"], "The search.")
CELLS = flags.DEFINE_integer("cells", 3, "Supernet cells.")
CHANNELS = flags.DEFINE_integer("channels", 4, "Supernet initial channels.")
IMAGE_SIZE = flags.DEFINE_integer("image_size", 16, "Image side.")
BATCH = flags.DEFINE_integer("batch_size", 32, "Batch size.")
STEPS = flags.DEFINE_integer("steps", 10, "Steps timed once started.")
CHILD = flags.DEFINE_bool("child", False, "Internal: run one measurement in this process.")
NO_GRAPPLER = flags.DEFINE_bool("no_grappler", False, "Internal: disable grappler's meta optimiser.")
KERAS_BN = flags.DEFINE_bool("keras_batch_norm", True, "Add the row with Keras's batch norm computation.")
UNFUSED = flags.DEFINE_bool("unfused", False, "Internal: Keras's batch norm computation in the supernet.")
PASSES_OFF = flags.DEFINE_list("passes_off", [], "Internal: grappler passes turned off (e.g. constant_folding).")
EXPERIMENTS = flags.DEFINE_multi_string(
    "experiment", [], "Grappler passes to turn off together in one more row (comma-separated); "
    "one flag a row.")


def measure() -> dict:
    import numpy as np
    import tensorflow as tf
    from keras_nash.spaces import MicroSpace
    from keras_nash.tuners.darts.tuner import DartsTuner
    from keras_nash.tuners.enas.tuner import EnasTuner
    from keras_nash.tuners.egnas.tuner import EgnasTuner
    from keras_nash.tuners.supernet.data import as_search_data

    if UNFUSED.value:
        import keras
        from keras_nash.layers.base import FusedBatchNorm
        FusedBatchNorm.call = keras.layers.BatchNormalization.call
    if NO_GRAPPLER.value:
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    if PASSES_OFF.value:
        tf.config.optimizer.set_experimental_options(dict.fromkeys(PASSES_OFF.value, False))
    common = dict(num_classes=10, epochs=2, directory=tempfile.mkdtemp(), project_name="startup")
    if ALGORITHM.value == "enas":
        tuner = EnasTuner(MicroSpace(num_cells=CELLS.value, num_blocks=5, filters=CHANNELS.value), **common)
    else:
        tuner_class = DartsTuner if ALGORITHM.value == "darts" else EgnasTuner
        extra = {"warmup_epochs": 1} if ALGORITHM.value == "egnas" else {}
        tuner = tuner_class(cells=CELLS.value, channels=CHANNELS.value, **common, **extra)
    rng = np.random.default_rng(0)
    size, batch = IMAGE_SIZE.value, BATCH.value
    x = rng.random((batch, size, size, 3)).astype("float32")
    y = rng.integers(0, 10, batch).astype("int32")
    data = as_search_data((x, y), {"validation_data": (x, y)}, batch)

    class Trial:
        trial_id, hyperparameters = "0", None

    start = time.perf_counter()
    state = tuner.create_search(Trial, data)
    built = time.perf_counter()
    signature = list(data.input_signature())
    if ALGORITHM.value == "darts":
        step, arguments, signature = state.search_step, (x, y, x, y), signature * 2
    elif ALGORITHM.value == "egnas":
        step, arguments = state.train_step, (x, y)
    else:
        arch = np.zeros(tuner.space.num_decisions, "int32")
        step, arguments = state.train_step, (x, y, arch)
        signature.append(tf.TensorSpec(arch.shape, tf.int32))
    graph = step.get_concrete_function(*signature).graph
    traced = time.perf_counter()
    step(*arguments)
    first = time.perf_counter()
    for _ in range(STEPS.value):
        step(*arguments)
    done = time.perf_counter()
    population = {}
    if ALGORITHM.value == "egnas":
        mixtures = np.full((51, 2) + tuner.space.alpha_shape, 1.0 / tuner.space.alpha_shape[1], "float32")
        began = time.perf_counter()
        state.population(x, y, mixtures)
        population["population_first_s"] = time.perf_counter() - began
        began = time.perf_counter()
        state.population(x, y, mixtures)
        population["population_s"] = time.perf_counter() - began
    return {"algorithm": ALGORITHM.value, "grappler": not NO_GRAPPLER.value, "passes_off": PASSES_OFF.value,
            "batch_norm": "keras" if UNFUSED.value else "fused", "graph_ops": len(graph.get_operations()),
            "build_s": built - start, "trace_s": traced - built,
            "first_call_s": first - traced, "step_s": (done - first) / STEPS.value, **population}


def main(argv):
    del argv
    if CHILD.value:
        print(json.dumps(measure()))
        return
    common = [f"--algorithm={ALGORITHM.value}", f"--cells={CELLS.value}", f"--channels={CHANNELS.value}",
              f"--image_size={IMAGE_SIZE.value}", f"--batch_size={BATCH.value}", f"--steps={STEPS.value}",
              "--child"]
    rows = []
    keras_bn = [["--unfused"]] if KERAS_BN.value else []
    for extra in [[], ["--no_grappler"]] + keras_bn + [[f"--passes_off={e}"] for e in EXPERIMENTS.value]:
        out = subprocess.run([sys.executable, __file__, *common, *extra], check=True,
                             capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    settings = {"algorithm": ALGORITHM.value, "cells": CELLS.value, "channels": CHANNELS.value,
                "image_size": IMAGE_SIZE.value, "batch_size": BATCH.value}
    default = all(flag.value == flag.default for flag in (ALGORITHM, CELLS, CHANNELS, IMAGE_SIZE, BATCH))
    name = "startup.json" if default else (
        f"startup_{ALGORITHM.value}_{CELLS.value}x{CHANNELS.value}_{IMAGE_SIZE.value}px_b{BATCH.value}.json")
    common.write_results(name, {"settings": settings, "rows": rows})
    print(f"{'grappler':<40}{'batch norm':>11}{'ops':>8}{'build':>8}{'trace':>8}{'first':>8}{'step':>8}"
          "  (seconds)")
    for r in rows:
        label = "off" if not r["grappler"] else "-" + ",-".join(r["passes_off"]) if r["passes_off"] else "on"
        print(f"{label:<40}{r['batch_norm']:>11}{r['graph_ops']:>8}{r['build_s']:>8.1f}{r['trace_s']:>8.1f}"
              f"{r['first_call_s']:>8.1f}{r['step_s']:>8.2f}")
        if "population_s" in r:
            print(f"{'':<40}population of 50: first call {r['population_first_s']:.1f} s, "
                  f"then {r['population_s']:.2f} s")


if __name__ == "__main__":
    app.run(main)
