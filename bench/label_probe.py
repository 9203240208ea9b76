"""Probe for known-answer task design: do cells of the DARTS task's space fit a labelling
differently? A task can score a search only if its planted answer fits clearly better than
other architectures; this measures the spread before any search runs.

Images as bench/known_answer.py's (the shipped CIFAR-10 images average-pooled to 8x8, 1,200 to
fit and 400 to test), 4 classes, labelled by one of:

- `teacher`: known_answer.py's DARTS task (the argmax of the planted network's centred logits);
- `max` / `mean`: the argmax of 4 centred channels of relu(a random 3x3 convolution of the
  image), pooled over space by their maximum or their mean.

Each labelling is fitted by known_answer.py's `fit_score` (SGD, cosine, `--fit_epochs`) with
`--fit_seeds` seeds, for the planted cell, `--neighbours` cells one operation away from it, a
cell of each single operation, and `--random` uniformly random cells of the space.
`--planted sparse` plants (and builds the teacher from) a cell with one convolution among
parameter-free operations instead of known_answer.py's all-convolution cell.

    python bench/label_probe.py [--labels teacher,max,mean] [--planted dense] [--fit_seeds 1,2]

Writes bench/results/label_probe.json (`--output`) and prints each architecture's scores.
"""

import argparse
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402  (bench/common.py)
import known_answer as ka  # noqa: E402

from keras_nash.spaces.darts import Genotype  # noqa: E402

# One convolution (edge 1 of node 0) among parameter-free operations.
SPARSE_CELL = [
    ("max_pool_3x3", 0),
    ("sep_conv_3x3", 1),
    ("skip_connect", 1),
    ("max_pool_3x3", 2),
]


def labels_of(kind, images, task, rng):
    """The 4-class labels of `images` under the labelling `kind` (the module's docstring)."""
    if kind == "teacher":
        return ka.teacher_labels(task.build(task.planted, 4, seed=1001), images)
    import tensorflow as tf

    kernel = rng.normal(size=(3, 3, 3, 4)).astype("float32")
    response = tf.nn.relu(tf.nn.conv2d(images, kernel, 1, "SAME")).numpy()
    pooled = response.max(axis=(1, 2)) if kind == "max" else response.mean(axis=(1, 2))
    pooled = (pooled - pooled.mean(0)) / pooled.std(0)
    return pooled.argmax(1).astype("int32")


def single_operation_cell(op):
    """The planted cell's edges, each one of them `op`."""
    cell = [(op, 0), (op, 1), (op, 1), (op, 2)]
    return Genotype(normal=cell, normal_concat=[2, 3], reduce=cell, reduce_concat=[2, 3])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", default="teacher,max,mean")
    parser.add_argument("--fit_seeds", default="1,2")
    parser.add_argument("--fit_epochs", type=int, default=4)
    parser.add_argument("--random", type=int, default=4)
    parser.add_argument("--neighbours", type=int, default=0)
    parser.add_argument("--planted", default="dense", choices=["dense", "sparse"])
    parser.add_argument("--output", default="label_probe.json")
    args = parser.parse_args()
    images = ka.load_images(1600, 8, seed=0)
    task = ka.CellTask(cell=SPARSE_CELL if args.planted == "sparse" else ka.PLANTED_CELL)
    rng = np.random.default_rng(3)
    archs = [("planted", task.planted)]
    archs += [(f"neighbour {i}", task.neighbour(rng)) for i in range(args.neighbours)]
    archs += [(f"all {op}", single_operation_cell(op)) for op in ka.PRIMITIVES]
    archs += [(f"random {i}", task.random(rng)) for i in range(args.random)]
    seeds = [int(s) for s in args.fit_seeds.split(",")]
    results = {}
    for kind in args.labels.split(","):
        labels = labels_of(kind, images, task, np.random.default_rng(3))
        x_fit, y_fit, x_test, y_test = images[:1200], labels[:1200], images[1200:], labels[1200:]
        scores = {}
        for name, arch in archs:
            scores[name] = [
                ka.fit_score(
                    task.build(arch, 4, seed=s), x_fit, y_fit, x_test, y_test, args.fit_epochs, s
                )
                for s in seeds
            ]
            print(kind, name, [round(v, 3) for v in scores[name]], flush=True)
        means = [float(np.mean(v)) for v in scores.values()]
        noise = float(np.mean([np.std(v) for v in scores.values()]))
        results[kind] = {
            "label_counts": np.bincount(labels, minlength=4).tolist(),
            "scores": scores,
            "spread_between_architectures": float(max(means) - min(means)),
            "mean_sd_between_fit_seeds": noise,
        }
        print(f"{kind}: range of means {max(means) - min(means):.3f}, fit-seed sd {noise:.3f}")
    common.write_results(args.output, {"settings": vars(args), "results": results})


if __name__ == "__main__":
    main()
