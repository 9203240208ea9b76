"""Benchmark: a NASH network trained through the tuner against plain `model.fit` (issue 16, item 6).

For NASH's seed network at `--filters` (CPU sizes; the issue's GPU sizes are 64/128/256), on
the embedded CIFAR-10 subset (2,800 training images, 32x32, batch `--batch_size`):

- plain: `model.fit` of the seed network with the tuner's optimiser (SGD momentum 0.9, coupled
  L2 5e-4) for `--epochs` epochs, validation each epoch (the mean of a run before and a run
  after the tuner's, after one warm-up run);
- keras_nash: a short `NashTuner` search whose first trial is that network's pre-training for
  the same epochs (then one step of one child, 2 morphisms, 1 epoch, and a 1-epoch final
  training): the pre-training's `fit` time (the trial's `fit_seconds`) and the whole `search()`.

Reported per size: training images per second of each (training epochs x images / seconds,
first epoch's trace included in both), their ratio, and the search's own overhead (the share
of `search()`'s wall time outside the trials' `model.fit`: building, morphing and checking
children, checkpoints, the oracle).

    python bench/throughput.py [--filters 16,32,64 32,64,128] [--epochs 5] [--precision float32]

Writes bench/results/throughput.json and prints a table. Several minutes on 2 CPU cores.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402
import keras  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from keras_nash import datasets, seed_models  # noqa: E402
from keras_nash.optimizers import CoupledSGD  # noqa: E402
from keras_nash.tuners.nash import NashTuner  # noqa: E402

FILTERS = flags.DEFINE_multi_string("filters", ["16,32,64", "32,64,128"], "Seed filters, one size per flag.")
EPOCHS = flags.DEFINE_integer("epochs", 5, "Training epochs of each run.")
BATCH = flags.DEFINE_integer("batch_size", 64, "Batch size.")
PRECISION = flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"],
                              "Dtype policy of both runs.")
RESULTS = HERE / "results"


def plain_seconds(filters, data) -> float:
    keras.utils.clear_session()
    keras.config.set_dtype_policy(PRECISION.value)
    keras.utils.set_random_seed(0)
    model = seed_models.simple_cnn(data.input_shape, data.num_classes, filters=filters)
    model.compile(optimizer=CoupledSGD(0.05, momentum=0.9, weight_decay=5e-4),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(data.train, validation_data=data.validation, epochs=EPOCHS.value, verbose=0)
    return time.perf_counter() - start


def tuner_seconds(filters, data) -> tuple:
    keras.config.set_dtype_policy("float32")
    seed = seed_models.simple_cnn(data.input_shape, data.num_classes, filters=filters)
    tuner = NashTuner(seed, precision=PRECISION.value, pretrain_epochs=EPOCHS.value, n_steps=1,
                      n_neighbors=1, n_morphisms=2, epochs_per_neighbor=1, final_epochs=1, seed=0,
                      directory=tempfile.mkdtemp(), project_name="throughput")
    start = time.perf_counter()
    tuner.search(data.train, validation_data=data.validation, verbose=0)
    wall = time.perf_counter() - start
    fits = {t: tuner.oracle.trials[t].metrics.get_last_value("fit_seconds") for t in sorted(tuner.oracle.trials)}
    return fits[min(fits)], sum(fits.values()), wall


def main(argv):
    del argv
    data = datasets.load("default", batch_size=BATCH.value)
    images = EPOCHS.value * data.num_examples["train"]
    rows = []
    plain_seconds((8, 8, 8), data)  # warm-up: TensorFlow's one-time start-up costs, not measured
    for text in FILTERS.value:
        filters = tuple(int(f) for f in text.split(","))
        before = plain_seconds(filters, data)
        fit, fits, wall = tuner_seconds(filters, data)
        plain = (before + plain_seconds(filters, data)) / 2  # plain runs on both sides of the tuner's
        rows.append({"filters": list(filters), "plain_images_per_s": images / plain,
                     "tuner_images_per_s": images / fit, "ratio": plain / fit,
                     "overhead": (wall - fits) / wall, "plain_s": plain, "tuner_fit_s": fit,
                     "search_fit_s": fits, "search_s": wall})
        print(json.dumps(rows[-1]), flush=True)
    settings = {"epochs": EPOCHS.value, "batch_size": BATCH.value, "precision": PRECISION.value,
                "train_images": data.num_examples["train"]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "throughput.json" if PRECISION.value == "float32" else f"throughput_{PRECISION.value}.json"
    (RESULTS / name).write_text(json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n")
    print(f"{'filters':<14}{'plain img/s':>12}{'tuner img/s':>12}{'ratio':>7}{'overhead':>9}")
    for r in rows:
        print(f"{','.join(map(str, r['filters'])):<14}{r['plain_images_per_s']:>12.1f}"
              f"{r['tuner_images_per_s']:>12.1f}{r['ratio']:>7.3f}{r['overhead']:>9.1%}")


if __name__ == "__main__":
    app.run(main)
