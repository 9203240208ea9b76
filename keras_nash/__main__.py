"""Command line: `python -m keras_nash` (or `keras-nash`), driven by absl flags.

With no flags it runs a short NASH search on the embedded CIFAR-10 subset within a time budget
of 5 minutes, start-up and final training included (`--time_budget`, printed at the start),
prints progress and the test accuracy, and writes `summary_<algorithm>.json` and
`search_<algorithm>.png` into `--output_dir`. `--algorithm` picks NASH, DARTS, EG-NAS or ENAS.

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

Progress goes through the "keras_nash" logger to stderr: a line when each trial starts (trial i
of the planned n, what it trains, its epochs, the budget left), one per epoch (`--verbose=1`,
the default; 0: per trial only; 2: Keras's progress bar too) and one per result; --verbosity=-1
keeps warnings only. Every flag is checked before anything trains: a bad value is a one-line
usage error naming the flag. A run into an --output_dir that holds another search of the same
algorithm (other settings or data) is refused with the differences; --overwrite starts afresh.
"""

import logging
import os
import sys
import time

from absl import app
from absl import logging as absl_logging

from keras_nash import cli_flags, cli_help, logs
from keras_nash.cli_flags import FLAGS
from keras_nash.logs import logger

_RESERVE = 0.1  # the share of the run's time budget kept for what follows the search (loading the
# found network, its evaluation, the summary and the plot: 30-50 s of a 300 s run on a busy 2-core
# CPU)


def _process_start() -> float:
    """When this process started (`time.time()` scale), Python's and TensorFlow's start-up
    included: Linux's /proc, else now."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        started = boot + ticks / os.sysconf("SC_CLK_TCK")
        return started if 0 <= time.time() - started < 3600 else time.time()
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


_RUN = {
    "entry": None,
    "start": None,
}  # the run's start: the process's (`run`, the entry point), or main's


# -- the tuner's arguments -----------------------------------------------------------------
def _ints(values, name):
    try:
        return tuple(int(v) for v in values)
    except ValueError:
        raise app.UsageError(
            f"--{name} takes comma-separated integers. Received: {','.join(values)}"
        ) from None


def _settings(names, preset: dict) -> dict:
    """The given flags among `names`, over the chosen preset's values (`cli_flags.preset()`); a
    flag neither given nor in the preset is left to the tuner's default."""
    values = {k: v for k, v in preset.items() if k in names}
    values.update({name: FLAGS[name].value for name in names if FLAGS[name].present})
    if values.get("n_steps") == 0:  # climb until the time budget stops it
        values["n_steps"] = None
    if "morphism_probabilities" in values:
        weights = [float(p) for p in values["morphism_probabilities"]]
        if len(weights) != 3:
            raise app.UsageError(
                "--morphism_probabilities takes 3 weights (deeper, wider, skip). Received: "
                f"{weights}"
            )
        values["morphism_probabilities"] = dict(zip(("deeper", "wider", "skip"), weights))
    for name in ("kernel_sizes", "widening_factors"):
        if name in values:
            values[name] = _ints(values[name], name)
    for name in ("skip_modes", "primitives"):
        if name in values:
            values[name] = tuple(values[name])
    return values


def _seed_model(data):
    from keras_nash import seed_models
    from keras_nash.tuners.nash import presets

    filters = (
        FLAGS.seed_filters
        if FLAGS["seed_filters"].present
        else presets.SEED_FILTERS.get(cli_flags.preset(), presets.SEED_FILTERS["paper"])
    )
    return seed_models.simple_cnn(
        data.input_shape, data.num_classes, filters=_ints(filters, "seed_filters")
    )


def _search_space():
    """ENAS's space from --enas_space and its flags (over the short preset's sizes)."""
    from keras_nash.spaces.enas import MacroSpace, MicroSpace, RecurrentSpace
    from keras_nash.tuners.enas import presets

    space = FLAGS.enas_space
    names = [name for name in cli_flags.SPACE_FLAGS[space] if name != "bptt"]
    # The spaces' own defaults are the paper's; the short run's sizes are the presets'.
    short = cli_flags.preset() == "short"
    values = _settings(names, presets.SPACE_SHORT[space] if short else {})
    if space == "recurrent":
        values["seed"] = FLAGS.seed
    return {"macro": MacroSpace, "micro": MicroSpace, "recurrent": RecurrentSpace}[space](**values)


def build_tuner(data, output_dir):
    """The chosen algorithm's tuner over `data`, with the flags' (or the preset's) arguments;
    returns (tuner, the arguments given to it)."""
    from keras_nash import tuners

    algorithm = FLAGS.algorithm
    preset = cli_flags.preset_values(algorithm, FLAGS.enas_space)
    arguments = _settings(cli_flags.TUNER_FLAGS[algorithm], preset)
    if algorithm == "nash":
        arguments.update(_search_budget())
    common = dict(
        seed=FLAGS.seed,
        precision=FLAGS.precision,
        jit_compile=FLAGS.jit_compile,
        directory=output_dir,
        project_name=project_name(),
        overwrite=FLAGS.overwrite,
    )
    try:
        if algorithm == "nash":
            tuner = tuners.NashTuner(_seed_model(data), **arguments, **common)
        elif algorithm == "enas":
            tuner = tuners.EnasTuner(
                _search_space(), num_classes=data.num_classes, **arguments, **common
            )
        else:
            tuner_class = {"darts": tuners.DartsTuner, "egnas": tuners.EgnasTuner}[algorithm]
            tuner = tuner_class(num_classes=data.num_classes, **arguments, **common)
    except ValueError as error:
        raise app.UsageError(cli_flags.flag_message(str(error))) from None
    logger.info(
        "%s search: %s", algorithm, ", ".join(f"{k}={v}" for k, v in sorted(arguments.items()))
    )
    return tuner, arguments


def _search_budget() -> dict:
    """NASH's `time_budget`: what is left of the run's (--time_budget, or the default without
    --paper_defaults) after the start-up, less a reserve for the evaluation and the summary."""
    budget = cli_flags.time_budget()
    if budget is None:
        return {"time_budget": None}
    left = budget * (1 - _RESERVE) - (time.time() - _RUN["start"])
    logger.info(
        "time budget: %.0f s for the whole run (%.0f s left for the search and the final "
        "training); "
        "--time_budget to change it, --time_budget=inf for none",
        budget,
        left,
    )
    if left <= 0:
        raise app.UsageError(
            f"--time_budget={budget:g} s is spent before the search starts (loading took "
            f"{time.time() - _RUN['start']:.0f} s): give a larger --time_budget."
        )
    return {"time_budget": left}


def summary_paths(output_dir: str) -> tuple:
    """The run's summary and plot in --output_dir, named by the search's project (each
    algorithm its own: one never replaces another's)."""
    name = project_name()
    return os.path.join(output_dir, f"summary_{name}.json"), os.path.join(
        output_dir, f"search_{name}.png"
    )


def project_name() -> str:
    """The search's project directory under --output_dir: the algorithm's name (ENAS's
    language model: enas_recurrent)."""
    if FLAGS.algorithm == "enas" and FLAGS.enas_space == "recurrent":
        return "enas_recurrent"
    return FLAGS.algorithm


# -- the data --------------------------------------------------------------------------------
def language_model() -> bool:
    return FLAGS.algorithm == "enas" and FLAGS.enas_space == "recurrent"


def load_data():
    """Images (`datasets.load`) or, for ENAS's recurrent space, Penn Treebank-format text."""
    from keras_nash import datasets

    try:
        if language_model():
            directory = None if FLAGS.dataset == "default" else FLAGS.dataset
            data = datasets.load_text(directory, batch_size=cli_flags.batch_size(), bptt=FLAGS.bptt)
            logger.info(
                "text %s: %s tokens, vocabulary %d",
                FLAGS.dataset,
                data.num_tokens,
                data.num_classes,
            )
            return data
        data = datasets.load(
            FLAGS.dataset,
            data_dir=FLAGS.data_dir,
            batch_size=cli_flags.batch_size(),
            validation_split=cli_flags.validation_split(),
            test_split=FLAGS.test_split,
            augment=FLAGS.augment,
            seed=FLAGS.seed,
            max_examples=FLAGS.max_examples,
        )
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(
            f"--dataset={FLAGS.dataset}: {cli_flags.flag_message(str(error))}"
        ) from None
    logger.info(
        "data %s: %s, input %s, %d classes",
        FLAGS.dataset,
        data.num_examples,
        data.input_shape,
        data.num_classes,
    )
    return data


def search_and_final_data(data):
    """The search's data and the final training's `fit` arguments (None: the search's data).

    With --paper_defaults, DARTS and EG-NAS follow their papers' protocol: the search trains the
    weights on one half of the training split and steps alpha (or scores the population) on the
    other half; the final network then trains on the whole training split, with the validation
    split as its validation data, and the test split is reported. Without a --validation_split
    the training split is all the training images (CIFAR-10: 25k / 25k halves, then all 50k),
    and the final network's validation data is the test split, as the papers' `train.py`.
    """
    if not (cli_flags.preset() != "short" and FLAGS.algorithm in ("darts", "egnas")):
        return data, None
    from keras_nash import datasets

    arrays = datasets.load_arrays(
        FLAGS.dataset,
        data_dir=FLAGS.data_dir,
        validation_split=cli_flags.validation_split(),
        test_split=FLAGS.test_split,
        seed=FLAGS.seed,
        max_examples=FLAGS.max_examples,
    )
    halves = datasets.from_arrays(
        *arrays.train,
        class_names=arrays.class_names,
        batch_size=cli_flags.batch_size(),
        validation_split=0.5,
        test_split=0.0,
        augment=FLAGS.augment,
        seed=FLAGS.seed,
    )
    logger.info(
        "the papers' protocol: search on %d + %d training images, final training on all %d",
        halves.num_examples["train"],
        halves.num_examples["validation"],
        data.num_examples["train"],
    )
    held_out = data.validation if data.num_examples.get("validation") else data.test
    return halves, {"x": data.train, "validation_data": held_out}


# -- the found network -------------------------------------------------------------------------
def evaluate(model, data) -> dict:
    """The found network's figures: accuracy on the validation (and test) split, or a language
    model's perplexity (windows in order, the state carried from a zero start)."""
    splits = {"validation": data.validation, "test": data.test}
    figures = {}
    sizes = getattr(data, "num_examples", None) or {}
    for split, dataset in splits.items():
        if dataset is None or sizes.get(split, 1) == 0:
            continue
        if language_model():
            import numpy as np

            model.reset_state()
            loss = model.evaluate(dataset, verbose=0, return_dict=True)["loss"]
            figures[f"{split}_perplexity"] = float(np.exp(loss))
        else:
            if not model.compiled:
                model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            figures[f"{split}_accuracy"] = model.evaluate(dataset, verbose=0, return_dict=True).get(
                "accuracy"
            )
    return figures


def export(model, data, architecture) -> dict:
    """--export_dir: the found network in --export_formats (a language model: its Keras and
    SavedModel forms with the vocabulary; images: taking raw pixels, standardisation built in)."""
    from keras_nash import export as exporting

    if language_model():
        formats = [name for name in FLAGS.export_formats if name in ("keras", "saved_model")]
        return exporting.export(
            model.language_model, FLAGS.export_dir, formats=formats, vocabulary=data.vocabulary
        )
    return exporting.export(
        model,
        FLAGS.export_dir,
        architecture=architecture,
        formats=FLAGS.export_formats,
        preprocessing=data,
    )


def main(argv):
    """Run the search the flags describe (FLAGS must be parsed); prints the results."""
    _RUN["start"], _RUN["entry"] = _RUN["entry"] or time.time(), None  # in-process: from now
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    cli_flags.check_flags_used()
    cli_flags.check_arguments()
    import keras

    from keras_nash import report

    if not FLAGS["verbosity"].present:
        absl_logging.set_verbosity(absl_logging.INFO)
    logs.set_verbosity(
        logging.NOTSET
    )  # keras_nash's lines follow --verbosity, through absl's handler
    keras.utils.set_random_seed(FLAGS.seed)
    output_dir = os.path.abspath(os.path.expanduser(FLAGS.output_dir))
    data = load_data()
    tuner, arguments = build_tuner(data, output_dir)
    search_data, final_fit = search_and_final_data(data)
    extra = {"final_fit": final_fit} if final_fit else {}
    if FLAGS.verbose >= 1:
        from keras_nash.progress import EpochProgress

        extra["callbacks"] = [EpochProgress()]
    try:  # what escapes the search as a ValueError is a check before training (a trial's is caught)
        tuner.search(
            search_data.train,
            validation_data=search_data.validation,
            verbose=int(FLAGS.verbose == 2),
            **extra,
        )
    except ValueError as error:
        raise app.UsageError(cli_flags.flag_message(str(error))) from None

    model = tuner.get_best_models(1)[0]
    architecture = tuner.get_best_architecture()
    summary = {
        "algorithm": FLAGS.algorithm,
        "dataset": FLAGS.dataset,
        "flags": {name: FLAGS[name].value for name in cli_flags.used_flags()},
        "settings": arguments,
        "best_params": model.count_params(),
        **tuner.search_summary(),
    }
    if language_model():
        summary.update(
            enas_space="recurrent", num_tokens=data.num_tokens, vocabulary=data.num_classes
        )
    else:
        summary["num_examples"] = data.num_examples
    summary.update(evaluate(model, data))
    if FLAGS.export_dir:
        summary["exported"] = export(model, data, architecture)
    summary["wall_seconds"] = (
        time.time() - _RUN["start"]
    )  # Python's and TensorFlow's start-up included
    summary_path, plot_path = summary_paths(output_dir)
    summary_path = report.write_summary(summary_path, summary)
    plot_path = report.plot_search(
        summary["trials"],
        plot_path,
        tuner.oracle.objective.name,
        title=f"keras_nash {FLAGS.algorithm} on {FLAGS.dataset}",
        step_label=tuner.step_label,
        decisiveness=summary.get("decisiveness"),
        front=summary.get("pareto_front"),
    )  # None without matplotlib (report.plot_search logs how to install it)

    print(f"best trial {summary['best_trial']}: {summary['best_params']:,} params")
    for name in (
        "validation_accuracy",
        "test_accuracy",
        "validation_perplexity",
        "test_perplexity",
    ):
        if name in summary:
            print(f"{name.replace('_', ' ')}: {summary[name]:.4f}")
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
        sys.stderr.write(
            f"FATAL Usage error: {error}\nPass --help for the main flags, --helpfull for all of "
            "them.\n"
        )
        return error.exitcode


def run():
    """Entry point of `keras-nash` and `python -m keras_nash`: --help is keras_nash's, the rest
    absl's."""
    _RUN["entry"] = _process_start()
    app.run(_main_or_usage_error, flags_parser=lambda argv: cli_help.parse_flags(argv, __doc__))


if __name__ == "__main__":
    run()
