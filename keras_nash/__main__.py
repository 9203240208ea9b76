"""Command line: `python -m keras_nash` (or `keras-nash`), driven by absl flags.

With no flags it runs a short NASH search on the embedded CIFAR-10 subset (about 10 minutes on
2 CPU cores), prints progress and the test accuracy, and writes `summary.json` and
`search.png` into `--output_dir`. `--algorithm` picks NASH, DARTS, EG-NAS or ENAS.

Flags carry the Python API's argument names (`--epochs` is the tuners' `epochs`, ...). Every
algorithm's flags default to a short CPU search; `--paper_defaults` switches every flag you do
not set to the paper's value (the tuners' own defaults: for NASH 5 steps x 8 neighbours x 5
morphisms, 17 epochs each, 100 final epochs; for DARTS 50 search epochs on 8 cells of 16
channels, then 600 epochs of a 20-cell, 36-channel network; and so on).

    python -m keras_nash                                   # short NASH search, default data
    python -m keras_nash --algorithm=egnas --export_dir=exported/
    python -m keras_nash --algorithm=enas --enas_space=micro
    python -m keras_nash --algorithm=enas --enas_space=recurrent    # language model, PTB subset
    python -m keras_nash --dataset=cifar10 --data_dir=~/tensorflow_datasets --paper_defaults
    python -m keras_nash --dataset=my_images.npz --export_dir=exported/
    python -m keras_nash --helpfull                        # every flag, absl's included

Progress (one line per trial) goes through the "keras_nash" logger to stderr; --verbosity=-1
keeps warnings only.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from absl import app  # noqa: E402
from absl import logging as absl_logging  # noqa: E402

# These import only absl and the standard library: --help and usage errors answer before
# TensorFlow loads (main imports the rest once the flags are checked).
from keras_nash import cli_flags, logs  # noqa: E402
from keras_nash.cli_flags import FLAGS  # noqa: E402
from keras_nash.logs import logger  # noqa: E402


def _nash_settings() -> dict:
    settings = {name: FLAGS[name].value for name in cli_flags.NASH_PAPER}
    if FLAGS.paper_defaults:
        settings.update({k: v for k, v in cli_flags.NASH_PAPER.items() if not FLAGS[k].present})
    return settings


def _ints(values, name):
    try:
        return tuple(int(v) for v in values)
    except ValueError:
        raise app.UsageError(f"--{name} takes comma-separated integers. Received: {','.join(values)}") from None


def run_nash(data, project_dir):
    """The NASH search on `data`; returns (tuner, best model, architecture, trial records)."""
    from keras_nash import seed_models
    from keras_nash.tuners.nash.tuner import NashTuner

    s = _nash_settings()
    probabilities = [float(p) for p in FLAGS.morphism_probabilities]
    if len(probabilities) != 3:
        raise app.UsageError(f"--morphism_probabilities takes 3 weights (deeper, wider, skip). Received: {probabilities}")
    seed = seed_models.simple_cnn(data.input_shape, data.num_classes, filters=_ints(s["seed_filters"], "seed_filters"))
    tuner = NashTuner(
        seed,
        precision=FLAGS.precision,
        jit_compile=FLAGS.jit_compile,
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


# -- DARTS, EG-NAS, ENAS -----------------------------------------------------------------------
def _flag_values(names, short) -> dict:
    """The given flags among `names`, over the short CPU values (none with --paper_defaults)."""
    values = {} if FLAGS.paper_defaults else dict(short)
    values.update({name: FLAGS[name].value for name in names if FLAGS[name].present})
    if "primitives" in values:
        values["primitives"] = tuple(values["primitives"])
    return values


def search_and_final_data(data):
    """The search's `Data` and the final training's `fit` arguments (None: the search's data).

    With --paper_defaults, DARTS and EG-NAS follow their papers' protocol: the search trains the
    weights on one half of the training split and steps alpha (or scores the population) on the
    other half; the final network then trains on the whole training split, with the validation
    split as its validation data, and the test split is reported.
    """
    if not (FLAGS.paper_defaults and FLAGS.algorithm in ("darts", "egnas")):
        return data, None
    from keras_nash import datasets

    arrays = datasets.load_arrays(
        FLAGS.dataset, data_dir=FLAGS.data_dir, validation_split=FLAGS.validation_split,
        test_split=FLAGS.test_split, seed=FLAGS.seed, max_examples=FLAGS.max_examples,
    )
    halves = datasets.from_arrays(
        *arrays.train, class_names=arrays.class_names, batch_size=cli_flags.batch_size(),
        validation_split=0.5, test_split=0.0, augment=FLAGS.augment, seed=FLAGS.seed,
    )
    logger.info("the papers' protocol: search on %d + %d training images, final training on all %d",
                halves.num_examples["train"], halves.num_examples["validation"], data.num_examples["train"])
    return halves, {"x": data.train, "validation_data": data.validation}


def run_supernet(data, project_dir):
    """A DARTS, EG-NAS or ENAS search on `data`; returns (tuner, best model, architecture, records)."""
    from keras_nash.tuners.darts.tuner import DartsTuner
    from keras_nash.tuners.enas.tuner import EnasTuner
    from keras_nash.tuners.egnas.tuner import EgnasTuner
    from keras_nash.spaces.enas import MacroSpace, MicroSpace
    from keras_nash.tuners.enas.settings import FINAL_SIZE

    algorithm = FLAGS.algorithm
    kwargs = _flag_values(cli_flags.TUNER_FLAGS[algorithm], cli_flags.SHORT[algorithm])
    if algorithm == "enas":
        space = MacroSpace if FLAGS.enas_space == "macro" else MicroSpace
        kwargs["search_space"] = space(**_flag_values(cli_flags.SPACE_FLAGS[FLAGS.enas_space], cli_flags.SHORT[FLAGS.enas_space]))
        if FLAGS.paper_defaults:  # the authors' final network size (the tuner's default: the searched one)
            kwargs = {**FINAL_SIZE[FLAGS.enas_space], **kwargs}
    tuner_class = {"darts": DartsTuner, "egnas": EgnasTuner, "enas": EnasTuner}[algorithm]
    try:
        tuner = tuner_class(
            num_classes=data.num_classes, seed=FLAGS.seed, precision=FLAGS.precision,
            jit_compile=FLAGS.jit_compile, directory=project_dir, project_name=algorithm,
            overwrite=FLAGS.overwrite, **kwargs,
        )
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    logger.info("%s search: %s", algorithm, ", ".join(f"{k}={v}" for k, v in sorted(kwargs.items())))
    search_data, final_fit = search_and_final_data(data)
    tuner.search(search_data.train, validation_data=search_data.validation, verbose=0, final_fit=final_fit)
    prefix = tuner.key_prefix
    records = []
    for trial_id in sorted(tuner.oracle.trials):
        trial = tuner.oracle.trials[trial_id]
        values = trial.hyperparameters.values
        seconds = trial.metrics.get_last_value("trial_seconds") if trial.metrics.exists("trial_seconds") else None
        records.append({
            "trial_id": trial_id,
            "step": values[prefix + "epoch"],
            "role": values[prefix + "role"],
            "parent": values[prefix + "parent"] or None,
            "status": trial.status,
            "score": trial.score,
            "seconds": seconds,
        })
    best_trial = tuner.oracle.get_best_trials(1)[0]
    if algorithm == "enas":
        architecture = tuner.get_best_architecture()
    else:
        architecture = tuner.get_best_genotype()
    return tuner, tuner.load_model(best_trial), architecture, records


def run_language_model(start):
    """--algorithm=enas --enas_space=recurrent: ENAS's recurrent cell for a language model on
    Penn Treebank-format text; prints validation and test perplexity."""
    import numpy as np

    from keras_nash import datasets, export, report
    from keras_nash.spaces.enas.recurrent import RecurrentSpace
    from keras_nash.tuners.enas.tuner import EnasTuner

    directory = None if FLAGS.dataset == "default" else FLAGS.dataset
    try:
        text = datasets.load_text(directory, batch_size=cli_flags.batch_size(), bptt=FLAGS.bptt)
        space_values = _flag_values(("num_nodes", "hidden_size"), cli_flags.SHORT["recurrent"])
        tuner = EnasTuner(
            RecurrentSpace(**space_values, seed=FLAGS.seed), num_classes=len(text.vocabulary),
            seed=FLAGS.seed, precision=FLAGS.precision, jit_compile=FLAGS.jit_compile,
            directory=os.path.abspath(os.path.expanduser(FLAGS.output_dir)), project_name="enas_recurrent", overwrite=FLAGS.overwrite,
            **_flag_values(cli_flags.TUNER_FLAGS["enas"], cli_flags.SHORT["enas"]),
        )
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(str(error)) from None
    logger.info("text %s: %s tokens, vocabulary %d", FLAGS.dataset, text.num_tokens, len(text.vocabulary))
    tuner.search(text.train, validation_data=text.validation, verbose=0)
    model = tuner.get_best_models(1)[0]
    architecture = tuner.get_best_architecture()

    def perplexity(dataset):
        model.reset_state()  # windows in order, the state carried from a zero start
        return float(np.exp(model.evaluate(dataset, verbose=0, return_dict=True)["loss"]))

    summary = {
        "algorithm": "enas", "enas_space": "recurrent", "dataset": FLAGS.dataset,
        "num_tokens": text.num_tokens, "vocabulary": len(text.vocabulary),
        "flags": {name: FLAGS[name].value for name in cli_flags.used_flags()},
        "best_params": model.count_params(), "architecture": architecture.to_dict(),
        "validation_perplexity": perplexity(text.validation),
        "decisiveness": tuner.decisiveness(),
    }
    if text.test is not None:
        summary["test_perplexity"] = perplexity(text.test)
    if FLAGS.export_dir:
        formats = [name for name in FLAGS.export_formats if name in ("keras", "saved_model")]
        summary["exported"] = export.export(model.language_model, FLAGS.export_dir,
                                            formats=formats, vocabulary=text.vocabulary)
    summary["wall_seconds"] = time.perf_counter() - start
    output_dir = os.path.abspath(os.path.expanduser(FLAGS.output_dir))
    path = report.write_summary(os.path.join(output_dir, "summary.json"), summary)
    print(f"found cell: {architecture.to_json()}")
    print(f"validation perplexity {summary['validation_perplexity']:.2f}")
    if "test_perplexity" in summary:
        print(f"test perplexity {summary['test_perplexity']:.2f}")
    print(f"summary: {path}")
    if FLAGS.export_dir:
        print(f"exported: {FLAGS.export_dir} (model, SavedModel and vocab.json)")
    print(f"wall time: {summary['wall_seconds'] / 60:.1f} min")


RUNNERS = {"nash": run_nash, "darts": run_supernet, "egnas": run_supernet, "enas": run_supernet}
STEP_LABELS = {
    "nash": "hill-climbing step (0: seed pre-training)",
    "supernet": "search epoch (final: the found network trained from scratch)",
}


def main(argv):
    """Run the search the flags describe (FLAGS must be parsed); prints the results."""
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    cli_flags.check_flags_used()
    import keras

    from keras_nash import datasets, report

    start = time.perf_counter()
    if not FLAGS["verbosity"].present:
        absl_logging.set_verbosity(absl_logging.INFO)
    logs.set_verbosity(logging.NOTSET)  # keras_nash's lines follow --verbosity, through absl's handler
    keras.utils.set_random_seed(FLAGS.seed)
    if FLAGS.algorithm == "enas" and FLAGS.enas_space == "recurrent":
        return run_language_model(start)
    try:
        data = datasets.load(
            FLAGS.dataset,
            data_dir=FLAGS.data_dir,
            batch_size=cli_flags.batch_size(),
            validation_split=FLAGS.validation_split,
            test_split=FLAGS.test_split,
            augment=FLAGS.augment,
            seed=FLAGS.seed,
            max_examples=FLAGS.max_examples,
        )
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    logger.info("data %s: %s, input %s, %d classes", FLAGS.dataset, data.num_examples, data.input_shape, data.num_classes)
    output_dir = os.path.abspath(os.path.expanduser(FLAGS.output_dir))
    tuner, model, architecture, records = RUNNERS[FLAGS.algorithm](data, output_dir)

    summary = {
        "algorithm": FLAGS.algorithm,
        "dataset": FLAGS.dataset,
        "num_examples": data.num_examples,
        "flags": {name: FLAGS[name].value for name in cli_flags.used_flags()},
        "trials": records,
        "best_trial": tuner.oracle.get_best_trials(1)[0].trial_id,
        "best_params": model.count_params(),
        "architecture": json.loads(architecture.to_json()),
    }
    if hasattr(tuner, "decisiveness"):  # supernet searches: how decided the policy was, per epoch
        summary["decisiveness"] = tuner.decisiveness()
    if not model.compiled:
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    evaluation = model.evaluate(data.validation, verbose=0, return_dict=True)
    summary["validation_accuracy"] = evaluation.get("accuracy")
    if data.test is not None:
        summary["test_accuracy"] = model.evaluate(data.test, verbose=0, return_dict=True).get("accuracy")
    if FLAGS.export_dir:
        from keras_nash import export

        summary["exported"] = export.export(
            model, FLAGS.export_dir, architecture=architecture, formats=FLAGS.export_formats,
            preprocessing=data,
        )
    summary["wall_seconds"] = time.perf_counter() - start
    summary_path = report.write_summary(os.path.join(output_dir, "summary.json"), summary)
    plot_path = report.plot_search(
        records, os.path.join(output_dir, "search.png"), tuner.oracle.objective.name,
        title=f"keras_nash {FLAGS.algorithm} on {FLAGS.dataset}",
        step_label=STEP_LABELS.get(FLAGS.algorithm, STEP_LABELS["supernet"]),
        decisiveness=summary.get("decisiveness"),
    )  # None without matplotlib (report.plot_search logs how to install it)
    print(f"best trial {summary['best_trial']}: {summary['best_params']:,} params, validation accuracy {summary['validation_accuracy']:.4f}")
    if "test_accuracy" in summary:
        print(f"test accuracy: {summary['test_accuracy']:.4f}")
    print(f"summary: {summary_path}")
    if plot_path:
        print(f"plot: {plot_path}")
    if FLAGS.export_dir:
        print(f"exported: {FLAGS.export_dir}")
    print(f"wall time: {summary['wall_seconds'] / 60:.1f} min")


def _main_or_usage_error(argv):
    """`main`, with a usage error answered in two lines (absl's own would print the whole usage)."""
    try:
        return main(argv)
    except app.UsageError as error:
        sys.stderr.write(f"FATAL Usage error: {error}\nPass --help for the main flags, --helpfull for all of them.\n")
        return error.exitcode


def run():
    """Entry point of `keras-nash` and `python -m keras_nash`: --help is keras_nash's, the rest absl's."""
    app.run(_main_or_usage_error, flags_parser=lambda argv: cli_flags.parse_flags(argv, __doc__))


if __name__ == "__main__":
    run()
