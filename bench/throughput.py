"""Benchmark: keras_nash's training throughput against plain Keras / TensorFlow (issue 16).

Four measurements, each of keras_nash's own path against the plainest code that does the same
work (same network, same optimiser, same data pipeline):

- nash: NASH's seed network at each `--filters`; plain `model.fit` (SGD momentum 0.9, coupled
  L2 5e-4, validation each epoch; the mean of a run before and one after the tuner's, after a
  warm-up run) against a `NashTuner` search whose first trial is that network's pre-training for
  the same epochs (then one child of 2 morphisms for 1 epoch and a 1-epoch final training).
  Reported: training images per second of each (the trial's `fit_seconds`, first epoch's trace
  included in both), their ratio, and the search's own overhead: the share of `search()`'s wall
  time outside the trials' `model.fit` (building, morphing and checking children, checkpoints,
  the oracle). With one epoch per trial this is an upper bound of the overhead of the paper's
  protocol (17 epochs a child).
- pipeline: one pass of the training pipeline alone (decode, standardise, augment, batch),
  images per second, against the images per second the plain training consumes.
- darts, egnas, enas: a search epoch through the tuner (the fastest `trial_seconds` of the
  search epochs after the first, which traces the steps: train pass, validation, policy step,
  checkpoint) against a hand-written `tf.function` loop of the same supernet doing the same
  passes (the fastest of 3 epochs after a tracing one; the fastest of several, as this
  machine's timings vary by up to 40% from run to run) (for EG-NAS the population
  is 51 forward passes called one by one; for ENAS one sampled architecture per batch, one
  reward batch and one validation pass, without the controller's update). `--sizes cpu`:
  DARTS/EG-NAS 3 cells x 4 channels, ENAS a 4-layer macro network of 8 filters, on
  `--supernet_images` of the embedded images at 16x16 (half train, half validation);
  `--sizes paper` (for a GPU): the papers' search networks, DARTS/EG-NAS 8 cells x 16
  channels and ENAS's 12-layer macro network of 36 filters, at 32x32, batch 64.

Each NASH row also projects the paper's protocol (5 steps x 8 neighbours x 17 epochs and 100
final epochs, each over the training images) at the rate measured through the tuner: a lower
bound on its time, as NASH's children grow beyond the seed.

`--tile N` repeats the embedded 3,500 images N times for the nash and pipeline parts (15:
52,500 images, 47,250 for training, CIFAR-10's scale; timing only: the copies are augmented
with pad-crop-flip, and validation, carved from the tiles, holds copies of training images).

    python bench/throughput.py [--parts nash,pipeline,darts,egnas,enas] [--tile 1]
        [--filters 16,32,64 --filters 32,64,128] [--epochs 5] [--precision float32] [--jit_compile]
        [--sizes cpu]

Writes bench/results/throughput[_x<tile>][_<parts>][_<precision>][_xla][_paper].json
(`_<parts>`, the parts joined by "-", when not all are run) and prints a table.
About 10 minutes on 2 CPU cores at `--tile 1`; `--tile 15 --epochs 1 --parts nash,pipeline`
about 8.
"""


import common  # bench/common.py: TensorFlow's log level, the repository importable

import json  # noqa: E402
import pathlib  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
from keras_nash import datasets, seed_models  # noqa: E402
from keras_nash.optimizers import CoupledAdam, CoupledSGD  # noqa: E402
from keras_nash.spaces import MacroSpace  # noqa: E402
from keras_nash.tuners import DartsTuner, EnasTuner, EgnasTuner, NashTuner  # noqa: E402
from keras_nash.tuners.enas.controller import Controller

PARTS = flags.DEFINE_list("parts", ["nash", "pipeline", "darts", "egnas", "enas"], "What to measure.")
FILTERS = flags.DEFINE_multi_string("filters", ["16,32,64", "32,64,128"], "NASH seed filters, one size per flag.")
EPOCHS = flags.DEFINE_integer("epochs", 5, "NASH: training epochs of each run.")
BATCH = flags.DEFINE_integer("batch_size", 64, "NASH and pipeline batch size.")
TILE = flags.DEFINE_integer("tile", 1, "NASH and pipeline: the embedded images repeated this many times (1: the 2,800-image training split).")
PRECISION = flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"],
                              "Dtype policy of every run.")
JIT = flags.DEFINE_bool("jit_compile", False, "Compile every step with XLA, on both sides.")
SUPERNET_IMAGES = flags.DEFINE_integer("supernet_images", 1024, "Supernets: embedded images used (16x16; 32x32 with --sizes paper), half for validation.")
SUPERNET_BATCH = flags.DEFINE_integer("supernet_batch_size", 32, "Supernets: batch size with --sizes cpu.")
POPULATION = flags.DEFINE_integer("population_size", 50, "EG-NAS candidates per generation (the paper's 50).")
SIZES = flags.DEFINE_enum("sizes", "cpu", ["cpu", "paper"],
                          "Supernets: cpu (3 cells x 4 channels, 4-layer macro, 16x16, --supernet_batch_size) "
                          "or paper (8 cells x 16 channels, 12-layer macro of 36 filters, 32x32, batch 64).")
RESULTS = common.RESULTS
PAPER_EPOCHS = 5 * 8 * 17 + 100  # NASH's CIFAR-10 protocol: steps x neighbours x epochs + final
SUPERNET_SIZES = {  # cells, channels, macro layers, macro filters, image stride, batch size
    "cpu": dict(cells=3, channels=4, layers=4, filters=8, stride=2, batch_size=None),
    "paper": dict(cells=8, channels=16, layers=12, filters=36, stride=1, batch_size=64),
}


def supernet_size(name):
    size = SUPERNET_SIZES[SIZES.value][name]
    return SUPERNET_BATCH.value if name == "batch_size" and size is None else size


def cross_entropy(y, logits):
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.reshape(tf.cast(y, tf.int32), (-1,)), logits=tf.cast(logits, tf.float32)))


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


# ------------------------------------------------------------------------------ NASH, pipeline

def nash_data():
    if TILE.value == 1:
        return datasets.load("default", batch_size=BATCH.value, augment=True)
    x, y = datasets.load_arrays("default", validation_split=0.0, test_split=0.0).train
    tiles = (TILE.value,) + (1,) * (x.ndim - 1)
    return datasets.from_arrays(np.tile(x, tiles), np.tile(y, TILE.value), x_test=x, y_test=y,
                                batch_size=BATCH.value, augment=True)


def plain_seconds(filters, data) -> float:
    keras.utils.clear_session()
    keras.config.set_dtype_policy(PRECISION.value)
    keras.utils.set_random_seed(0)
    model = seed_models.simple_cnn(data.input_shape, data.num_classes, filters=filters)
    model.compile(optimizer=CoupledSGD(0.05, momentum=0.9, weight_decay=5e-4), jit_compile=JIT.value,
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return timed(lambda: model.fit(data.train, validation_data=data.validation, epochs=EPOCHS.value, verbose=0))


def tuner_seconds(filters, data) -> tuple:
    keras.config.set_dtype_policy("float32")
    seed = seed_models.simple_cnn(data.input_shape, data.num_classes, filters=filters)
    tuner = NashTuner(seed, precision=PRECISION.value, jit_compile=JIT.value, pretrain_epochs=EPOCHS.value,
                      n_steps=1, n_neighbors=1, n_morphisms=2, epochs_per_neighbor=1, final_epochs=1, seed=0,
                      directory=tempfile.mkdtemp(), project_name="throughput")
    wall = timed(lambda: tuner.search(data.train, validation_data=data.validation, verbose=0))
    fits = {t: tuner.oracle.trials[t].metrics.get_last_value("fit_seconds") for t in sorted(tuner.oracle.trials)}
    return fits[min(fits)], sum(fits.values()), wall


def measure_nash(data) -> list:
    images = EPOCHS.value * data.num_examples["train"]
    rows = []
    plain_seconds((8, 8, 8), data)  # warm-up: TensorFlow's one-time start-up costs, not measured
    for text in FILTERS.value:
        filters = tuple(int(f) for f in text.split(","))
        before = plain_seconds(filters, data)
        fit, fits, wall = tuner_seconds(filters, data)
        plain = (before + plain_seconds(filters, data)) / 2  # plain runs on both sides of the tuner's
        rate = images / fit
        rows.append({"part": "nash", "filters": list(filters), "plain_images_per_s": images / plain,
                     "keras_nash_images_per_s": rate, "ratio": plain / fit,
                     "overhead": (wall - fits) / wall, "plain_s": plain, "tuner_fit_s": fit,
                     "search_fit_s": fits, "search_s": wall,
                     "paper_protocol_hours_at_this_rate":
                         PAPER_EPOCHS * data.num_examples["train"] / rate / 3600})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def measure_pipeline(data, nash_rows) -> list:
    count = lambda: sum(int(x.shape[0]) for x, _ in data.train)  # noqa: E731
    count()  # warm-up pass
    start = time.perf_counter()
    images = count()
    rate = images / (time.perf_counter() - start)
    row = {"part": "pipeline", "images_per_s": rate, "images": images}
    if nash_rows:  # the fastest training rate measured: the pipeline's hardest target
        row["training_images_per_s"] = max(r["plain_images_per_s"] for r in nash_rows)
        row["ratio"] = rate / row["training_images_per_s"]
    print(json.dumps(row), flush=True)
    return [row]


# ----------------------------------------------------------------------------------- supernets

def supernet_data():
    x, y = datasets.load_arrays("default", validation_split=0.0, test_split=0.0).train
    n, stride = SUPERNET_IMAGES.value, supernet_size("stride")
    return datasets.from_arrays(x[:n, ::stride, ::stride], y[:n], batch_size=supernet_size("batch_size"),
                                validation_split=0.5, test_split=0.0)


def tuner_epoch_seconds(tuner, data) -> float:
    """The fastest search epoch's `trial_seconds` after the first (which traces the steps;
    EG-NAS's first evolving epoch traces its population's)."""
    tuner.search(data.train, validation_data=data.validation, verbose=0)
    epochs = [t for t in tuner.oracle.trials.values()
              if tuner.role(t) == "epoch" and int(t.hyperparameters.values[tuner.key("epoch")]) > 0]
    return min(t.metrics.get_last_value("trial_seconds") for t in epochs)


def cell_tuner(tuner_class, epochs=4, **kwargs):
    cells, channels = supernet_size("cells"), supernet_size("channels")
    return tuner_class(num_classes=10, epochs=epochs, cells=cells, channels=channels, final_cells=3, final_channels=4,
                       final_epochs=1, precision=PRECISION.value, jit_compile=JIT.value, seed=0,
                       directory=tempfile.mkdtemp(), project_name="throughput", **kwargs)


def sgd(tuner):
    return CoupledSGD(learning_rate=tuner.learning_rate, momentum=tuner.momentum,
                      weight_decay=tuner.weight_decay or None, global_clipnorm=tuner.grad_clip)


def compiled(function):
    return tf.function(function, jit_compile=JIT.value)


def hand_epoch_seconds(epoch) -> float:
    """`epoch()` once to trace, then the fastest of 3 timed runs."""
    epoch()
    return min(timed(epoch) for _ in range(3))


def darts_hand(tuner, data) -> float:
    keras.config.set_dtype_policy(PRECISION.value)
    network = tuner.build_supernet()
    network(np.zeros((1,) + data.input_shape, "float32"))
    weights, alphas = network.weight_variables, network.arch_variables
    optimizer = sgd(tuner)
    arch_optimizer = CoupledAdam(tuner.arch_learning_rate, beta_1=tuner.arch_beta_1, beta_2=tuner.arch_beta_2,
                                 epsilon=1e-8, weight_decay=tuner.arch_weight_decay or None)
    optimizer.build(weights)
    arch_optimizer.build(alphas)

    @compiled
    def step(x, y, x_val, y_val):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([a.value for a in alphas])
            arch_loss = cross_entropy(y_val, network(x_val, training=True))
        arch_optimizer.apply(tape.gradient(arch_loss, [a.value for a in alphas]), alphas)
        with tf.GradientTape() as tape:
            loss = cross_entropy(y, network(x, training=True))
        optimizer.apply(tape.gradient(loss, weights), weights)

    evaluate = compiled(lambda x, y: cross_entropy(y, network(x, training=False)))

    def epoch():
        for (x, y), (x_val, y_val) in zip(data.train, data.validation.repeat()):
            step(x, y, x_val, y_val)
        for x, y in data.validation:
            evaluate(x, y)

    return hand_epoch_seconds(epoch)


def egnas_hand(tuner, data) -> float:
    keras.config.set_dtype_policy(PRECISION.value)
    network = tuner.build_supernet()
    network(np.zeros((1,) + data.input_shape, "float32"))
    weights, optimizer = network.weight_variables, sgd(tuner)
    optimizer.build(weights)

    @compiled
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = cross_entropy(y, network(x, training=True))
        optimizer.apply(tape.gradient(loss, weights), weights)

    evaluate = compiled(lambda x, y: cross_entropy(y, network(x, training=False)))
    candidate = compiled(lambda x, y, normal, reduce: cross_entropy(
        y, network(x, training=True, mixture=(normal, reduce))))
    rng = np.random.default_rng(0)
    shape = (2,) + tuple(network.alpha_shape)

    def epoch():
        for x, y in data.train:
            step(x, y)
        for x, y in data.validation:
            evaluate(x, y)
        x, y = next(iter(data.validation))
        for _ in range(POPULATION.value + 1):
            mixture = tf.nn.softmax(rng.normal(size=shape).astype("float32"), axis=-1)
            float(candidate(x, y, mixture[0], mixture[1]))

    return hand_epoch_seconds(epoch)


def enas_space():
    return MacroSpace(num_layers=supernet_size("layers"), filters=supernet_size("filters"))


def enas_tuner():
    return EnasTuner(enas_space(), num_classes=10, epochs=4, controller_train_steps=1,
                     controller_num_aggregate=1, final_candidates=1, final_epochs=1,
                     precision=PRECISION.value, seed=0, directory=tempfile.mkdtemp(),
                     project_name="throughput")


def enas_hand(tuner, data) -> float:
    keras.config.set_dtype_policy(PRECISION.value)
    space = enas_space()
    network = space.build_shared_model(data.input_shape, 10)
    optimizer = CoupledSGD(learning_rate=tuner.learning_rate, momentum=tuner.momentum, nesterov=True,
                           weight_decay=tuner.weight_decay or None, global_clipnorm=tuner.grad_clip)
    optimizer.build(network.trainable_variables)
    signature = [tf.TensorSpec((None,) + data.input_shape), tf.TensorSpec((None,), tf.int32),
                 tf.TensorSpec([space.num_decisions], tf.int32)]

    @tf.function(input_signature=signature)
    def step(x, y, arch):
        with tf.GradientTape() as tape:
            loss = cross_entropy(y, network((x, arch), training=True))
        optimizer.apply(tape.gradient(loss, network.trainable_variables), network.trainable_variables)

    evaluate = tf.function(lambda x, y, arch: cross_entropy(y, network((x, arch), training=False)),
                           input_signature=signature)
    archs = Controller(**tuner.controller_kwargs).sample(int(data.train.cardinality()), seed=0)[0]

    def epoch():
        for (x, y), arch in zip(data.train, archs):
            step(x, tf.cast(y, tf.int32), arch)
        x, y = next(iter(data.validation))
        float(evaluate(x, tf.cast(y, tf.int32), archs[0]))  # the controller's one reward batch
        for x, y in data.validation:
            evaluate(x, tf.cast(y, tf.int32), archs[0])  # the final candidate's validation pass

    return hand_epoch_seconds(epoch)


SUPERNETS = {
    "darts": (lambda: cell_tuner(DartsTuner), darts_hand),
    "egnas": (lambda: cell_tuner(EgnasTuner, epochs=5, warmup_epochs=1, population_size=POPULATION.value), egnas_hand),
    "enas": (enas_tuner, enas_hand),
}


def measure_supernet(name, data) -> list:
    make_tuner, hand = SUPERNETS[name]
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    tuner = make_tuner()
    through = tuner_epoch_seconds(tuner, data)
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    plain = hand(tuner, data)
    images = data.num_examples["train"]
    row = {"part": name, "plain_images_per_s": images / plain, "keras_nash_images_per_s": images / through,
           "ratio": plain / through, "plain_epoch_s": plain, "tuner_epoch_s": through}
    print(json.dumps(row), flush=True)
    return [row]


def main(argv):
    del argv
    rows = []
    if {"nash", "pipeline"} & set(PARTS.value):
        data = nash_data()
        nash_rows = measure_nash(data) if "nash" in PARTS.value else []
        rows += nash_rows
        if "pipeline" in PARTS.value:
            rows += measure_pipeline(data, nash_rows)
    supernets = [name for name in PARTS.value if name in SUPERNETS]
    if supernets:
        data = supernet_data()
        for name in supernets:
            rows += measure_supernet(name, data)
    settings = {"parts": PARTS.value, "epochs": EPOCHS.value, "batch_size": BATCH.value, "tile": TILE.value,
                "precision": PRECISION.value, "jit_compile": JIT.value,
                "supernet_images": SUPERNET_IMAGES.value, "supernet_batch_size": supernet_size("batch_size"),
                "population_size": POPULATION.value, "sizes": SIZES.value,
                "supernet_sizes": SUPERNET_SIZES[SIZES.value],
                "devices": [d.device_type for d in tf.config.list_physical_devices() if d.device_type != "CPU"]
                or ["CPU"]}
    name = "throughput" + (f"_x{TILE.value}" if TILE.value != 1 else "")
    name += "" if set(PARTS.value) == set(PARTS.default) else "_" + "-".join(PARTS.value)
    name += (f"_{PRECISION.value}" if PRECISION.value != "float32" else "") + ("_xla" if JIT.value else "")
    name += "_paper" if SIZES.value == "paper" and supernets else ""
    common.write_results(f"{name}.json", {"settings": settings, "rows": rows})
    print(f"{'part':<20}{'plain img/s':>12}{'keras_nash img/s':>17}{'ratio':>7}{'overhead':>9}")
    for r in rows:
        label = r["part"] + (" " + ",".join(map(str, r["filters"])) if "filters" in r else "")
        if r["part"] == "pipeline":
            print(f"{label:<20}{'':>12}{r['images_per_s']:>17.1f}{r.get('ratio', float('nan')):>7.1f}  (x training)")
            continue
        overhead = f"{r['overhead']:>9.1%}" if "overhead" in r else ""
        projection = (f"  paper's protocol >= {r['paper_protocol_hours_at_this_rate']:.1f} h"
                      if "paper_protocol_hours_at_this_rate" in r else "")
        print(f"{label:<20}{r['plain_images_per_s']:>12.1f}{r['keras_nash_images_per_s']:>17.1f}"
              f"{r['ratio']:>7.3f}{overhead}{projection}")


if __name__ == "__main__":
    app.run(main)
