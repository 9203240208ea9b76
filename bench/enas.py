"""Benchmark: ENAS shared-weight step time against a fixed child, and controller sampling time.

For each space (macro, micro): the shared-weight train step with a fresh random architecture
every step, against the train step of a fixed child of the same architecture size (one
architecture, only its operations), both compiled once (`tuners.enas.make_steps`); the ratio
target is at most 1.5x. Then the controller's sampling time per architecture (batched).

    python bench/enas.py [--steps 30] [--batch 32] [--size 32] [--seed 0]

Writes bench/results/enas.json and prints a table.
"""


import common  # bench/common.py: TensorFlow's log level, the repository importable

import time  # noqa: E402

from absl import app, flags  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_nash.tuners.enas.controller import Controller
from keras_nash.tuners.enas.steps import make_steps
from keras_nash.spaces.enas import MacroSpace, MicroSpace  # noqa: E402

STEPS = flags.DEFINE_integer("steps", 30, "Timed train steps per model.")
BATCH = flags.DEFINE_integer("batch", 32, "Batch size.")
SIZE = flags.DEFINE_integer("size", 32, "Image height and width.")
SEED = flags.DEFINE_integer("seed", 0, "Random seed.")
RESULTS = common.RESULTS


def _optimizer(model):
    optimizer = keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True)
    optimizer.build(model.trainable_variables)
    return optimizer


def _time(step, args_per_step, steps):
    step(*args_per_step(0))  # trace and warm up
    step(*args_per_step(1))
    start = time.perf_counter()
    for i in range(steps):
        loss, _ = step(*args_per_step(i))
    float(loss)
    return (time.perf_counter() - start) / steps


def bench_space(space, shape, batch, steps, seed):
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.random((batch,) + shape).astype("float32"))
    y = tf.constant(rng.integers(0, 10, batch).astype("int32"))
    x_spec, y_spec = tf.TensorSpec((None,) + shape), tf.TensorSpec((None,), tf.int32)
    arch_spec = tf.TensorSpec([space.num_decisions], tf.int32)
    archs = [tf.constant(space.encode(space.random_architecture(rng))) for _ in range(steps + 2)]

    shared = space.build_shared_model(shape, 10)
    counts = {"train_step": 0, "eval_step": 0}
    start = time.perf_counter()
    shared_step, _ = make_steps(shared, _optimizer(shared), x_spec, y_spec, arch_spec, trace_counts=counts)
    shared_step.get_concrete_function()
    trace_seconds = time.perf_counter() - start
    shared_time = _time(shared_step, lambda i: (x, y, archs[i]), steps)

    child = space.build_child_model(space.decode(archs[0].numpy()), shape, 10)
    child_step, _ = make_steps(child, _optimizer(child), x_spec, y_spec, None)
    child_time = _time(child_step, lambda i: (x, y), steps)

    controller = Controller.for_space(space)
    controller.sample(8, seed=0)  # trace
    start = time.perf_counter()
    controller.sample(1000, seed=1)
    batched = (time.perf_counter() - start) / 1000
    start = time.perf_counter()
    for i in range(20):
        controller.sample(1, seed=i)
    single = (time.perf_counter() - start) / 20
    return {
        "space": space.get_config(),
        "input": [batch, *shape],
        "shared_params": int(sum(np.prod(v.shape) for v in shared.trainable_variables)),
        "child_params": int(child.count_params()),
        "trace_seconds": trace_seconds,
        "traces": counts["train_step"],
        "shared_step_ms": 1000 * shared_time,
        "child_step_ms": 1000 * child_time,
        "ratio": shared_time / child_time,
        "controller_ms_per_arch_batched_1000": 1000 * batched,
        "controller_ms_per_call_of_1": 1000 * single,
    }


def main(argv):
    del argv
    keras.utils.set_random_seed(SEED.value)
    shape = (SIZE.value, SIZE.value, 3)
    spaces = [MacroSpace(num_layers=12, filters=36), MicroSpace(num_cells=5, num_blocks=5, filters=20)]
    rows = [bench_space(space, shape, BATCH.value, STEPS.value, SEED.value) for space in spaces]
    result = {"device": [d.device_type for d in tf.config.list_physical_devices()], "rows": rows}
    common.write_results("enas.json", result)
    print(f"{'space':6} {'trace s':>8} {'shared ms':>10} {'child ms':>9} {'ratio':>6} "
          f"{'ctrl ms/arch (1000)':>20} {'ctrl ms/call (1)':>17}")
    for row in rows:
        print(f"{row['space']['name']:6} {row['trace_seconds']:8.1f} {row['shared_step_ms']:10.1f} "
              f"{row['child_step_ms']:9.1f} {row['ratio']:6.2f} "
              f"{row['controller_ms_per_arch_batched_1000']:20.3f} {row['controller_ms_per_call_of_1']:17.2f}")


if __name__ == "__main__":
    app.run(main)
