"""Command line: `python -m keras_nash` (or `keras-nash`), driven by absl flags.

With no flags it runs a short NASH search on the embedded CIFAR-10 subset (about 10 minutes on
2 CPU cores), prints progress and the test accuracy, and writes `summary.json` and
`search.png` into `--output_dir`. Flags carry the Python API's argument names; the NASH flags
default to a short CPU search, and `--paper_defaults` switches every one you do not set to
the paper's values (5 steps x 8 neighbours x 5 morphisms, 17 epochs each, 100 final epochs).

    python -m keras_nash                                   # short NASH search, default data
    python -m keras_nash --dataset=cifar10 --data_dir=~/tensorflow_datasets --paper_defaults
    python -m keras_nash --dataset=my_images.npz --export_dir=exported/
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sys  # noqa: E402
import time  # noqa: E402

from absl import app, flags, logging  # noqa: E402

ALGORITHMS = ("nash",)

# -- common ----------------------------------------------------------------------------------
flags.DEFINE_enum("algorithm", "nash", ALGORITHMS, "The search algorithm.")
flags.DEFINE_string("dataset", "default", "'default' (embedded CIFAR-10 subset), a tensorflow-datasets name (e.g. cifar10) or an .npz file with x and y.")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory (prepared data; no download is needed when it is there).")
flags.DEFINE_string("output_dir", "runs/keras_nash", "Where the search keeps its project directory, summary.json and search.png.")
flags.DEFINE_string("export_dir", None, "If set, export the best model there (.keras, SavedModel, TFLite, architecture JSON).")
flags.DEFINE_integer("seed", 1, "Random seed of the data split and the search.")
flags.DEFINE_integer("batch_size", 64, "Training batch size.")
flags.DEFINE_bool("augment", True, "Standard CIFAR augmentation (pad-4 crop, horizontal flip) on the training split.")
flags.DEFINE_float("validation_split", 0.1, "Fraction held out for validation (selection).")
flags.DEFINE_float("test_split", 0.1, "Fraction held out for testing, when the dataset has no test split of its own.")
flags.DEFINE_integer("max_examples", None, "Use at most this many training examples.")
flags.DEFINE_bool("overwrite", False, "Start afresh instead of resuming the search found in --output_dir.")

# -- NASH ------------------------------------------------------------------------------------
flags.DEFINE_bool("paper_defaults", False, "Use the NASH paper's values for every NASH flag not given.")
flags.DEFINE_integer("n_steps", 3, "Hill-climbing steps (paper: 5).")
flags.DEFINE_integer("n_neighbors", 4, "Neighbours per step, incumbent included; 1 = random-network baseline (paper: 8).")
flags.DEFINE_integer("n_morphisms", 3, "Morphisms per child (paper: 5).")
flags.DEFINE_integer("epochs_per_neighbor", 3, "Training epochs per neighbour (paper: 17).")
flags.DEFINE_integer("final_epochs", 10, "Epochs of the final training (paper: 100).")
flags.DEFINE_integer("pretrain_epochs", 8, "Epochs of the seed's pre-training (paper: 20).")
flags.DEFINE_list("seed_filters", ["16", "32", "64"], "Filters of the seed network's three conv blocks (paper re-implementations: 64,128,256).")
flags.DEFINE_float("lr_start", 0.05, "Start of each neighbour's cosine schedule.")
flags.DEFINE_float("lr_end", 0.0, "End of each neighbour's cosine schedule.")
flags.DEFINE_float("momentum", 0.9, "SGD momentum.")
flags.DEFINE_float("weight_decay", 5e-4, "SGD weight decay.")
flags.DEFINE_list("morphism_probabilities", ["1", "1", "1"], "Weights of deeper, wider, skip.")
flags.DEFINE_list("kernel_sizes", ["3", "5"], "Kernel sizes of the deeper operator.")
flags.DEFINE_list("widening_factors", ["2", "4"], "Factors of the wider operator.")
flags.DEFINE_list("skip_modes", ["add", "concat"], "Kinds of skip connection.")
flags.DEFINE_float("preservation_tolerance", 1e-4, "A child whose output differs from its parent's by more fails.")
flags.DEFINE_float("time_budget", None, "Seconds of wall time for pre-training and hill climbing; then the final training.")

FLAGS = flags.FLAGS

_NASH_PAPER = {
    "n_steps": 5,
    "n_neighbors": 8,
    "n_morphisms": 5,
    "epochs_per_neighbor": 17,
    "final_epochs": 100,
    "pretrain_epochs": 20,
    "seed_filters": ["64", "128", "256"],
}


def _nash_settings() -> dict:
    settings = {name: FLAGS[name].value for name in _NASH_PAPER}
    if FLAGS.paper_defaults:
        settings.update({k: v for k, v in _NASH_PAPER.items() if not FLAGS[k].present})
    return settings


def _ints(values, name):
    try:
        return tuple(int(v) for v in values)
    except ValueError:
        raise app.UsageError(f"--{name} takes comma-separated integers. Received: {','.join(values)}") from None


def run_nash(data, project_dir):
    """The NASH search on `data`; returns (tuner, best model, architecture, trial records)."""
    from keras_nash import seed_models
    from keras_nash.oracles.nash import NashTuner

    s = _nash_settings()
    probabilities = [float(p) for p in FLAGS.morphism_probabilities]
    if len(probabilities) != 3:
        raise app.UsageError(f"--morphism_probabilities takes 3 weights (deeper, wider, skip). Received: {probabilities}")
    seed = seed_models.simple_cnn(data.input_shape, data.num_classes, filters=_ints(s["seed_filters"], "seed_filters"))
    tuner = NashTuner(
        seed,
        n_steps=s["n_steps"],
        n_neighbors=s["n_neighbors"],
        n_morphisms=s["n_morphisms"],
        epochs_per_neighbor=s["epochs_per_neighbor"],
        final_epochs=s["final_epochs"],
        pretrain_epochs=s["pretrain_epochs"],
        lr_start=FLAGS.lr_start,
        lr_end=FLAGS.lr_end,
        momentum=FLAGS.momentum,
        weight_decay=FLAGS.weight_decay,
        morphism_probabilities=dict(zip(("deeper", "wider", "skip"), probabilities)),
        kernel_sizes=_ints(FLAGS.kernel_sizes, "kernel_sizes"),
        widening_factors=_ints(FLAGS.widening_factors, "widening_factors"),
        skip_modes=tuple(FLAGS.skip_modes),
        preservation_tolerance=FLAGS.preservation_tolerance,
        time_budget=FLAGS.time_budget,
        seed=FLAGS.seed,
        directory=project_dir,
        project_name="nash",
        overwrite=FLAGS.overwrite,
    )
    tuner.search(data.train, validation_data=data.validation, verbose=0)
    best_trial = tuner.oracle.get_best_trials(1)[0]
    records = []
    for trial_id in sorted(tuner.oracle.trials):
        trial = tuner.oracle.trials[trial_id]
        values = trial.hyperparameters.values
        metric = lambda name: trial.metrics.get_last_value(name) if trial.metrics.exists(name) else None  # noqa: E731
        records.append({
            "trial_id": trial_id,
            "step": values["nash/step"],
            "role": values["nash/role"],
            "parent": values["nash/parent"] or None,
            "morphisms": values["nash/morphs"],
            "status": trial.status,
            "score": trial.score,
            "params": tuner.oracle.architecture(trial_id).count_params(),
            "preservation_error": metric("preservation_error"),
            "seconds": metric("trial_seconds"),
        })
    return tuner, tuner.load_model(best_trial), tuner.oracle.architecture(best_trial.trial_id), records


RUNNERS = {"nash": run_nash}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    import keras

    from keras_nash import datasets, report

    start = time.perf_counter()
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.INFO)
    keras.utils.set_random_seed(FLAGS.seed)
    try:
        data = datasets.load(
            FLAGS.dataset,
            data_dir=FLAGS.data_dir,
            batch_size=FLAGS.batch_size,
            validation_split=FLAGS.validation_split,
            test_split=FLAGS.test_split,
            augment=FLAGS.augment,
            seed=FLAGS.seed,
            max_examples=FLAGS.max_examples,
        )
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    logging.info("data %s: %s, input %s, %d classes", FLAGS.dataset, data.num_examples, data.input_shape, data.num_classes)
    output_dir = os.path.abspath(os.path.expanduser(FLAGS.output_dir))
    tuner, model, architecture, records = RUNNERS[FLAGS.algorithm](data, output_dir)

    summary = {
        "algorithm": FLAGS.algorithm,
        "dataset": FLAGS.dataset,
        "num_examples": data.num_examples,
        "flags": {name: FLAGS[name].value for name in _our_flags()},
        "trials": records,
        "best_trial": tuner.oracle.get_best_trials(1)[0].trial_id,
        "best_params": model.count_params(),
    }
    if not model.compiled:
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    evaluation = model.evaluate(data.validation, verbose=0, return_dict=True)
    summary["validation_accuracy"] = evaluation.get("accuracy")
    if data.test is not None:
        summary["test_accuracy"] = model.evaluate(data.test, verbose=0, return_dict=True).get("accuracy")
    if FLAGS.export_dir:
        from keras_nash import export

        summary["exported"] = export.export(model, FLAGS.export_dir, architecture=architecture)
    summary["wall_seconds"] = time.perf_counter() - start
    summary_path = report.write_summary(os.path.join(output_dir, "summary.json"), summary)
    plot_path = report.plot_search(records, os.path.join(output_dir, "search.png"), tuner.oracle.objective.name, f"keras_nash {FLAGS.algorithm} on {FLAGS.dataset}")
    print(f"best trial {summary['best_trial']}: {summary['best_params']:,} params, validation accuracy {summary['validation_accuracy']:.4f}")
    if "test_accuracy" in summary:
        print(f"test accuracy: {summary['test_accuracy']:.4f}")
    print(f"summary: {summary_path}\nplot: {plot_path}")
    if FLAGS.export_dir:
        print(f"exported: {FLAGS.export_dir}")
    print(f"wall time: {summary['wall_seconds'] / 60:.1f} min")


def _our_flags():
    return [flag.name for flag in FLAGS.get_flags_for_module(sys.modules[__name__])]


def run():
    """Console-script entry point (`keras-nash`)."""
    app.run(main)


if __name__ == "__main__":
    run()
