"""Benchmark: known-answer (teacher-student) tasks. Does each search find an architecture planted
in advance?

A task: real images (the shipped CIFAR-10 images, ../shared/data/cifar10_5k.npz, average-pooled
to `--image_size`), labelled by a *teacher*: a network built from a planted architecture of the
method's search space with seeded random weights; its label is the argmax of the teacher's
logits, each class's logit centred over the images (so every class occurs). Then per method
(DARTS and EG-NAS on a small DARTS cell space; ENAS micro and macro on small spaces of theirs):

- planted check: the planted architecture and `--neighbours` architectures that differ from it
  in one decision, each trained from scratch on the teacher's labels (`fit_score`): is the
  planted one really better than its neighbours?
- the search (the tuner with its short-run settings: `arch_learning_rate="auto"` /
  `controller_learning_rate="auto"`) on the same labels;
- match rate: the fraction of the planted architecture's decisions the found one repeats
  (DARTS/EG-NAS: the planted (operation, input) pairs found at the same node; ENAS: equal
  entries of the decision vectors), against chance: the mean match rate of `--chance_draws`
  uniformly random architectures of the space;
- found against random: the found architecture and `--random` uniformly random architectures
  trained from scratch by the same `fit_score` (test accuracy on the teacher's labels);
- ENAS: the controller's log-probability of the planted architecture before the search and
  after each epoch.

NASH (method `nash`) plants a network rather than a decision: the teacher is a seed-like
network deeper and wider than the seed NASH starts from (`NASH_TEACHER` against `NASH_SEED`
filters). Three arms of `--nash_seconds` each, on the same training images, scored on the
test quarter: the seed from scratch and the teacher's architecture from scratch (one cosine
schedule over the epochs that fit: is the bigger architecture really better on the teacher's
labels in that time?), and NASH from the seed (its short settings, climbing until the budget
stops it, the final training in its reserved share; chosen on the validation quarter).

    nice -n 10 python bench/known_answer.py [--methods darts,egnas,enas_micro,enas_macro,nash]
        [--seeds 1,2,3] [--search_epochs 4] [--fit_epochs 4] [--random 4] [--neighbours 3]

Writes bench/results/known_answer.json (`--output`) after every method and seed, and prints
a table; `--summarise FILE` prints a results file's summary (the DARTS / EG-NAS found cells'
share of convolutions among it, what the DARTS task's labels separate) and runs nothing. The
default scale is small (8x8 images, 3-cell networks of 8 channels): see the result file's
`settings` for what was measured.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from keras_nash import schedules, seed_models  # noqa: E402
from keras_nash.spaces.darts import DartsEvalNetwork, DartsSpace, Genotype  # noqa: E402
from keras_nash.spaces.enas import MacroSpace, MicroSpace  # noqa: E402
from keras_nash.tuners.darts.tuner import DartsTuner  # noqa: E402
from keras_nash.tuners.egnas.tuner import EgnasTuner  # noqa: E402
from keras_nash.tuners.enas.controller import Controller  # noqa: E402
from keras_nash.tuners.enas.tuner import EnasTuner  # noqa: E402
from keras_nash.tuners.nash import presets as nash_presets  # noqa: E402
from keras_nash.tuners.nash.tuner import NashTuner  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data" / "cifar10_5k.npz"
if not DATA.exists():  # a worktree beside the main checkout
    DATA = pathlib.Path("/work/shared/data/cifar10_5k.npz")
PRIMITIVES = ("skip_connect", "max_pool_3x3", "sep_conv_3x3", "dil_conv_3x3")
# The planted cell: convolutions where a parameter-free operation would do otherwise.
PLANTED_CELL = [("sep_conv_3x3", 0), ("dil_conv_3x3", 1), ("sep_conv_3x3", 1), ("dil_conv_3x3", 2)]
# NASH's task: the teacher is deeper and wider than the seed NASH starts from.
NASH_SEED = (4, 8)
NASH_TEACHER = (32, 32, 64)


# -- the task ----------------------------------------------------------------------------------
def load_images(count: int, size: int, seed: int, path=DATA) -> np.ndarray:
    """`count` real images, average-pooled to `size` x `size`, standardised, shuffled by `seed`."""
    with np.load(path) as data:
        x = data["x"].astype("float32")
    x = x[np.random.default_rng(seed).permutation(len(x))[:count]]
    factor = x.shape[1] // size
    x = x.reshape(len(x), size, factor, size, factor, 3).mean(axis=(2, 4))
    return ((x - x.mean(axis=(0, 1, 2))) / x.std(axis=(0, 1, 2))).astype("float32")


def teacher_labels(teacher: keras.Model, x: np.ndarray) -> np.ndarray:
    """The teacher's labels: the argmax of its logits, each class's logit centred and scaled
    over the images (so that every class occurs)."""
    logits = np.asarray(teacher.predict(x, batch_size=256, verbose=0), "float64")
    logits = (logits - logits.mean(axis=0)) / (logits.std(axis=0) + 1e-9)
    return np.argmax(logits, axis=1).astype("int32")


def fit_score(
    model: keras.Model, x, y, x_test, y_test, epochs: int, seed: int, batch_size: int = 64
) -> float:
    """Train `model` from scratch (SGD momentum 0.9, cosine 0.05 -> 0) on `(x, y)`; return its
    accuracy on `(x_test, y_test)`. Every arm of the benchmark goes through this."""
    keras.utils.set_random_seed(seed)
    steps = epochs * int(np.ceil(len(x) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(0.05, steps)
    model.compile(
        optimizer=keras.optimizers.SGD(schedule, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True)
    return float(model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"])


# -- spaces: build, match, random, neighbours ---------------------------------------------------
def conv_share(cell: dict) -> float:
    """The fraction of a genotype's operations (its `to_dict()`, both cells) that are
    convolutions: what the DARTS task's labels do separate (bench/label_probe.py)."""
    ops = [op for op, _ in cell["normal"] + cell["reduce"]]
    return sum("conv" in op for op in ops) / len(ops)


class CellTask:
    """The DARTS cell space of the DARTS and EG-NAS arms (3 cells, 2 nodes, `PRIMITIVES`)."""

    def __init__(self, channels: int = 8, cell=PLANTED_CELL):
        self.space = DartsSpace(
            cells=3,
            channels=channels,
            steps=2,
            multiplier=2,
            primitives=PRIMITIVES,
            partial_channels=1,
        )
        concat = [2, 3]
        self.planted = Genotype(
            normal=list(cell), normal_concat=concat, reduce=list(cell), reduce_concat=concat
        )

    def build(self, genotype, num_classes, seed):
        keras.utils.set_random_seed(seed)
        model = DartsEvalNetwork(
            genotype,
            num_classes,
            cells=3,
            channels=self.space.channels,
            auxiliary_weight=0.0,
            drop_path_prob=0.0,
            seed=seed,
        )
        return model

    @staticmethod
    def match(found, planted) -> float:
        """The fraction of planted (operation, input) pairs found at the same node."""
        hits = total = 0
        for found_cell, planted_cell in (
            (found.normal, planted.normal),
            (found.reduce, planted.reduce),
        ):
            for node in range(len(planted_cell) // 2):
                found_pairs = [tuple(p) for p in found_cell[2 * node : 2 * node + 2]]
                for pair in planted_cell[2 * node : 2 * node + 2]:
                    hits += tuple(pair) in found_pairs
                    total += 1
        return hits / total

    def random(self, rng):
        return self.space.random_genotype(rng)

    def neighbour(self, rng):
        """The planted genotype with one (operation, input) pair's operation changed."""
        normal, reduce = list(self.planted.normal), list(self.planted.reduce)
        cell = normal if rng.random() < 0.5 else reduce
        index = int(rng.integers(len(cell)))
        op, node_input = cell[index]
        cell[index] = (str(rng.choice([p for p in PRIMITIVES if p != op])), node_input)
        return Genotype(
            normal=normal,
            normal_concat=self.planted.normal_concat,
            reduce=reduce,
            reduce_concat=self.planted.reduce_concat,
        )

    def describe(self, genotype):
        return genotype.to_dict()


class EnasTask:
    """An ENAS space (micro: 3 cells of 2 blocks; macro: 4 layers) and a planted architecture."""

    def __init__(self, kind: str, filters: int = 8):
        self.kind = kind
        if kind == "micro":
            self.space = MicroSpace(num_cells=3, num_blocks=2, filters=filters)
            # Per cell, per block [input_1, input_2, op_1, op_2]: separable convolutions.
            ops = self.space.operations
            conv3, conv5 = ops.index("sep_conv_3x3"), ops.index("sep_conv_5x5")
            vector = [0, 1, conv3, conv5, 2, 0, conv5, conv3] * 2
        else:
            self.space = MacroSpace(num_layers=4, filters=filters)
            ops = self.space.operations
            # layer ops: conv_3x3, conv_5x5, sep_conv_3x3, conv_3x3; skips 1_0; 2_0, 2_1; 3_0..3_2
            vector = [
                ops.index("conv_3x3"),
                ops.index("conv_5x5"),
                0,
                ops.index("sep_conv_3x3"),
                1,
                0,
                ops.index("conv_3x3"),
                0,
                1,
                0,
            ]
        self.planted_vector = np.asarray(vector, "int32")
        self.planted = self.space.decode(self.planted_vector)

    def build(self, arch, num_classes, seed, input_shape=None):
        keras.utils.set_random_seed(seed)
        return self.space.build_child_model(arch, self.input_shape, num_classes, seed=seed)

    def match(self, found, planted) -> float:
        return float(np.mean(self.space.encode(found) == self.space.encode(planted)))

    def random(self, rng):
        return self.space.random_architecture(rng)

    def neighbour(self, rng):
        """The planted architecture with one decision changed (re-decoded, so valid)."""
        while True:
            vector = self.planted_vector.copy()
            other = self.space.encode(self.space.random_architecture(rng))
            index = int(rng.integers(len(vector)))
            if other[index] != vector[index]:
                vector[index] = other[index]
                return self.space.decode(vector)

    def describe(self, arch):
        return arch.to_dict()


# -- one method, one seed -----------------------------------------------------------------------
def search(method, task, data, settings, seed, directory):
    """Run the method's search on the task's training halves; returns (found, extras)."""
    (x_w, y_w), (x_a, y_a) = data["search_weights"], data["search_arch"]
    classes = settings["classes"]
    common = dict(
        num_classes=classes,
        epochs=settings["search_epochs"],
        final_epochs=1,
        seed=seed,
        directory=directory,
        project_name=method,
        overwrite=True,
    )
    extras = {}
    if method in ("darts", "egnas"):
        cell = dict(
            search_space=task.space,
            final_cells=3,
            final_channels=task.space.channels,
            batch_size=32,
        )
        if method == "darts":
            tuner = DartsTuner(arch_learning_rate="auto", **cell, **common)
        else:
            tuner = EgnasTuner(
                warmup_epochs=1, population_size=settings["population"], **cell, **common
            )
        tuner.search(x_w, y_w, validation_data=(x_a, y_a), verbose=0)
        found = tuner.get_best_genotype()
    else:
        tuner = EnasTuner(
            task.space,
            controller_learning_rate="auto",
            controller_tanh_constant=settings.get("controller_tanh_constant"),
            controller_op_tanh_reduce=settings.get("controller_op_tanh_reduce"),
            batch_size=32,
            controller_train_steps=settings["controller_steps"],
            controller_num_aggregate=settings["controller_aggregate"],
            final_candidates=settings["controller_aggregate"],
            **common,
        )
        tuner.search(x_w, y_w, validation_data=(x_a, y_a), verbose=0)
        found = tuner.get_best_architecture()
        extras["planted_log_prob"] = planted_log_probs(tuner, task)
    extras["decisiveness"] = tuner.decisiveness()
    return found, extras


def planted_log_probs(tuner, task) -> list:
    """The controller's log-probability of the planted architecture: initially, then after
    each search epoch (from the controller files the epochs wrote)."""
    controller = Controller(**tuner.controller_kwargs)
    paths = [os.path.join(tuner.project_dir, "enas", "controller_0000.npz")]
    for record in tuner.oracle.history:
        paths.append(os.path.join(tuner.get_trial_dir(record["trial_id"]), "controller.npz"))
    values = []
    for path in paths:
        controller.load(path)
        values.append(float(controller.log_prob(task.planted_vector)[0][0]))
    return values


def run_one(method, settings, seed, images):
    task = CellTask() if method in ("darts", "egnas") else EnasTask(method.split("_")[1])
    task.input_shape = images.shape[1:]
    classes, epochs = settings["classes"], settings["fit_epochs"]
    teacher = task.build(task.planted, classes, seed=1000 + seed)
    labels = teacher_labels(teacher, images)
    n = len(images) // 4  # quarters: search weights, search architecture, fit, test
    data = {
        "search_weights": (images[:n], labels[:n]),
        "search_arch": (images[n : 2 * n], labels[n : 2 * n]),
    }
    x_fit, y_fit = images[: 3 * n], labels[: 3 * n]
    x_test, y_test = images[3 * n :], labels[3 * n :]

    def score(arch, index):
        return fit_score(
            task.build(arch, classes, seed=seed * 100 + index),
            x_fit,
            y_fit,
            x_test,
            y_test,
            epochs,
            seed=seed * 100 + index,
        )

    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    result = {
        "method": method,
        "seed": seed,
        "label_counts": np.bincount(labels, minlength=classes).tolist(),
        "planted": task.describe(task.planted),
    }
    result["planted_score"] = score(task.planted, 0)
    result["neighbour_scores"] = [
        score(task.neighbour(rng), 1 + i) for i in range(settings["neighbours"])
    ]
    randoms = [task.random(rng) for _ in range(settings["random"])]
    result["random_scores"] = [score(arch, 10 + i) for i, arch in enumerate(randoms)]
    chance_rng = np.random.default_rng(10_000 + seed)
    result["chance_match"] = float(
        np.mean(
            [
                task.match(task.random(chance_rng), task.planted)
                for _ in range(settings["chance_draws"])
            ]
        )
    )
    result["random_match"] = [task.match(arch, task.planted) for arch in randoms]
    search_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        found, extras = search(method, task, data, settings, seed, directory)
    result["search_seconds"] = time.perf_counter() - search_start
    result.update(extras)
    result["found"] = task.describe(found)
    result["found_match"] = task.match(found, task.planted)
    result["found_score"] = score(found, 99)
    result["seconds"] = time.perf_counter() - start
    return result


def time_boxed_fit(model, x, y, seconds: float, seed: int, batch_size: int = 64) -> int:
    """Train `model` from scratch for about `seconds`: one cosine schedule (0.05 -> 0) over the
    epochs that fit, measured on two probe epochs of a throw-away copy. Returns the epochs."""
    start = time.perf_counter()
    ends = []
    probe = keras.models.clone_model(model)
    compile_fn(probe, 0.05)
    clock = keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: ends.append(time.time()))
    probe.fit(x, y, batch_size=batch_size, epochs=3, verbose=0, callbacks=[clock])
    epoch_seconds = (ends[2] - ends[0]) / 2  # the first epoch traces
    epochs = max(1, int(0.98 * (seconds - (time.perf_counter() - start)) // epoch_seconds))
    keras.utils.set_random_seed(seed)
    steps = int(np.ceil(len(x) / batch_size))
    compile_fn(model, schedules.cosine_annealing(0.05, 0.0, epochs * steps))
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True)
    return epochs


def compile_fn(model, learning_rate):
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False),
        metrics=["accuracy"],
    )


def run_nash(settings, seed, images):
    """NASH's known answer: a seed too small for its teacher. NASH for `nash_seconds` against
    the seed from scratch for as long, and the planted check (teacher vs seed from scratch)."""
    classes = settings["classes"]
    shape = images.shape[1:]

    def network(filters, model_seed, softmax=True):
        keras.utils.set_random_seed(model_seed)
        return seed_models.simple_cnn(shape, classes, filters=filters, softmax=softmax)

    labels = teacher_labels(network(NASH_TEACHER, 1000 + seed, softmax=False), images)
    n = len(images) // 4  # quarters: training (two), validation, test
    x_train = np.concatenate([images[:n], images[2 * n : 3 * n]])
    y_train = np.concatenate([labels[:n], labels[2 * n : 3 * n]])
    x_val, y_val = images[n : 2 * n], labels[n : 2 * n]
    x_test, y_test = images[3 * n :], labels[3 * n :]
    start = time.perf_counter()
    result = {
        "method": "nash",
        "seed": seed,
        "label_counts": np.bincount(labels, minlength=classes).tolist(),
        "seed_filters": list(NASH_SEED),
        "teacher_filters": list(NASH_TEACHER),
    }

    def accuracy(model, x, y):
        return float(model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"])

    seconds = settings["nash_seconds"]
    for name, filters in (("planted", NASH_TEACHER), ("scratch", NASH_SEED)):
        model = network(filters, seed * 100 + 1)
        fit_start = time.perf_counter()
        result[name + "_epochs"] = time_boxed_fit(model, x_train, y_train, seconds, seed)
        result[name + "_seconds"] = time.perf_counter() - fit_start
        result[name + "_score"] = accuracy(model, x_test, y_test)
        result[name + "_params"] = model.count_params()
    search_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        keras.utils.set_random_seed(seed)
        tuner = NashTuner(
            network(NASH_SEED, seed * 100 + 1),
            **{**nash_presets.SHORT, "n_steps": None, "final_epochs": 200},
            time_budget=seconds,
            seed=seed,
            directory=directory,
            project_name="nash",
            overwrite=True,
        )
        tuner.search(x_train, y_train, validation_data=(x_val, y_val), batch_size=64, verbose=0)
        best = tuner.get_best_models(1)[0]
        result["search_seconds"] = time.perf_counter() - search_start
        result["found_score"] = accuracy(best, x_test, y_test)
        result["found_params"] = best.count_params()
        result["trials"] = len(tuner.trial_records())
        result["found"] = tuner.get_best_architecture().to_dict()
    result["seconds"] = time.perf_counter() - start
    return result


def summarise(results) -> dict:
    """Per method: means over seeds of the match rate, chance, found and random scores."""
    summary = {}
    for method in sorted({r["method"] for r in results}):
        rows = [r for r in results if r["method"] == method]
        if method == "nash":
            summary[method] = {"seeds": [r["seed"] for r in rows]}
            for key in ("planted_score", "scratch_score", "found_score"):
                values = [r[key] for r in rows]
                summary[method][key] = float(np.mean(values))
                summary[method][key + "_std"] = float(np.std(values))
            continue
        random_scores = [s for r in rows for s in r["random_scores"]]
        summary[method] = {
            "seeds": [r["seed"] for r in rows],
            "found_match": float(np.mean([r["found_match"] for r in rows])),
            "chance_match": float(np.mean([r["chance_match"] for r in rows])),
            "found_score": float(np.mean([r["found_score"] for r in rows])),
            "random_score_mean": float(np.mean(random_scores)),
            "random_score_std": float(np.std(random_scores)),
            "planted_score": float(np.mean([r["planted_score"] for r in rows])),
            "neighbour_score_mean": float(
                np.mean([s for r in rows for s in r["neighbour_scores"]])
            ),
            "final_entropy_ratio": float(
                np.mean([r["decisiveness"][-1]["entropy_ratio"] for r in rows if r["decisiveness"]])
            ),
        }
        if method in ("darts", "egnas"):
            summary[method].update(
                found_conv_share=[conv_share(r["found"]) for r in rows],
                planted_conv_share=conv_share(rows[0]["planted"]),
                chance_conv_share=sum("conv" in op for op in PRIMITIVES) / len(PRIMITIVES),
            )
    return summary


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", default="darts,egnas,enas_micro,enas_macro,nash")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--images", type=int, default=1600, help="images (4 quarters)")
    parser.add_argument("--image_size", type=int, default=8)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--search_epochs", type=int, default=4)
    parser.add_argument("--fit_epochs", type=int, default=4)
    parser.add_argument("--random", type=int, default=4)
    parser.add_argument("--neighbours", type=int, default=3)
    parser.add_argument("--chance_draws", type=int, default=2000)
    parser.add_argument("--population", type=int, default=10, help="EG-NAS population")
    parser.add_argument("--controller_steps", type=int, default=10)
    parser.add_argument("--controller_aggregate", type=int, default=5)
    parser.add_argument(
        "--controller_tanh_constant",
        type=float,
        default=None,
        help="ENAS's logit bound (default: the authors' per space)",
    )
    parser.add_argument(
        "--controller_op_tanh_reduce",
        type=float,
        default=None,
        help="ENAS's operation-logit divisor (default: the authors' per space)",
    )
    parser.add_argument(
        "--nash_seconds", type=float, default=120, help="NASH's budget, and the scratch seed's"
    )
    parser.add_argument("--output", default=str(HERE / "results" / "known_answer.json"))
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument(
        "--summarise", default=None, help="print the summary of this results file; run nothing"
    )
    args = parser.parse_args(argv)
    if args.summarise:
        results = json.loads(pathlib.Path(args.summarise).read_text())["results"]
        print(json.dumps(summarise(results), indent=2))
        return results
    import common  # bench/common.py, beside this script (the tests load this file without it)

    provenance = common.provenance()
    settings = {k: v for k, v in vars(args).items() if k not in ("output", "data")}
    images = load_images(args.images, args.image_size, seed=0, path=args.data)
    results = []
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    for seed in [int(s) for s in args.seeds.split(",")]:
        for method in args.methods.split(","):
            keras.backend.clear_session()
            if method == "nash":
                result = run_nash(settings, seed, images)
                results.append(result)
                print(
                    f"nash seed {seed}: NASH {result['found_score']:.3f} "
                    f"({result['found_params']:,} params, {result['trials']} trials, "
                    f"{result['search_seconds']:.0f} s) vs seed from scratch "
                    f"{result['scratch_score']:.3f} ({result['scratch_epochs']} epochs, "
                    f"{result['scratch_seconds']:.0f} s) | the teacher's architecture from "
                    f"scratch {result['planted_score']:.3f} ({result['planted_epochs']} epochs)",
                    flush=True,
                )
                write(output, settings, results, provenance)
                continue
            result = run_one(method, settings, seed, images)
            results.append(result)
            print(
                f"{method} seed {seed}: match {result['found_match']:.3f} (chance "
                f"{result['chance_match']:.3f}) | found {result['found_score']:.3f} vs random "
                f"{np.mean(result['random_scores']):.3f} +- {np.std(result['random_scores']):.3f}"
                f" | planted {result['planted_score']:.3f} vs neighbours "
                f"{np.mean(result['neighbour_scores']):.3f} | {result['seconds']:.0f} s",
                flush=True,
            )
            write(output, settings, results, provenance)
    return results


def write(output, settings, results, provenance):
    payload = {"settings": settings, "results": results, "summary": summarise(results)}
    output.write_text(json.dumps({**payload, "provenance": provenance}, indent=2))


if __name__ == "__main__":
    main()
