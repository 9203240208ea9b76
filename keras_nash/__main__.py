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
    python -m keras_nash --dataset=cifar10 --data_dir=~/tensorflow_datasets --paper_defaults
    python -m keras_nash --dataset=my_images.npz --export_dir=exported/
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from absl import app, flags, logging  # noqa: E402

ALGORITHMS = ("nash", "darts", "egnas", "enas")

# -- common ----------------------------------------------------------------------------------
flags.DEFINE_enum("algorithm", "nash", ALGORITHMS, "The search algorithm.")
flags.DEFINE_string("dataset", "default", "'default' (embedded CIFAR-10 subset), a tensorflow-datasets name (e.g. cifar10) or an .npz file with x and y.")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory (prepared data; no download is needed when it is there).")
flags.DEFINE_string("output_dir", "runs/keras_nash", "Where the search keeps its project directory, summary.json and search.png.")
flags.DEFINE_string("export_dir", None, "If set, export the best model there (.keras, SavedModel, TFLite, architecture JSON).")
flags.DEFINE_integer("seed", 1, "Random seed of the data split and the search.")
flags.DEFINE_integer("batch_size", 64, "Training batch size (with --paper_defaults: 64, but 256 for egnas and 128 for enas).")
flags.DEFINE_bool("augment", True, "Standard CIFAR augmentation (pad-4 crop, horizontal flip) on the training split.")
flags.DEFINE_float("validation_split", 0.1, "Fraction held out for validation (selection).")
flags.DEFINE_float("test_split", 0.1, "Fraction held out for testing, when the dataset has no test split of its own.")
flags.DEFINE_integer("max_examples", None, "Use at most this many training examples.")
flags.DEFINE_bool("overwrite", False, "Start afresh instead of resuming the search found in --output_dir.")
flags.DEFINE_bool("paper_defaults", False, "Use the paper's value for every flag of the algorithm that is not given.")

# -- NASH ------------------------------------------------------------------------------------
flags.DEFINE_integer("n_steps", 3, "Hill-climbing steps (paper: 5).")
flags.DEFINE_integer("n_neighbors", 4, "Neighbours per step, incumbent included; 1 = random-network baseline (paper: 8).")
flags.DEFINE_integer("n_morphisms", 3, "Morphisms per child (paper: 5).")
flags.DEFINE_integer("epochs_per_neighbor", 3, "Training epochs per neighbour (paper: 17).")
flags.DEFINE_integer("final_epochs", 10, "Epochs of the final training (NASH; paper: 100). Also darts/egnas/enas, whose short defaults are in --helpfull's list below.")
flags.DEFINE_integer("pretrain_epochs", 8, "Epochs of the seed's pre-training (paper: 20).")
flags.DEFINE_list("seed_filters", ["16", "32", "64"], "Filters of the seed network's three conv blocks (paper re-implementations: 64,128,256).")
flags.DEFINE_float("lr_start", 0.05, "Start of each neighbour's cosine schedule.")
flags.DEFINE_float("lr_end", 0.0, "End of each neighbour's cosine schedule.")
flags.DEFINE_float("momentum", 0.9, "SGD momentum (all algorithms).")
flags.DEFINE_float("weight_decay", 5e-4, "SGD weight decay (NASH; darts/egnas: paper 3e-4 unless given).")
flags.DEFINE_list("morphism_probabilities", ["1", "1", "1"], "Weights of deeper, wider, skip.")
flags.DEFINE_list("kernel_sizes", ["3", "5"], "Kernel sizes of the deeper operator.")
flags.DEFINE_list("widening_factors", ["2", "4"], "Factors of the wider operator.")
flags.DEFINE_list("skip_modes", ["add", "concat"], "Kinds of skip connection.")
flags.DEFINE_float("preservation_tolerance", 1e-4, "A child whose output differs from its parent's by more fails.")
flags.DEFINE_float("time_budget", None, "Seconds of wall time for pre-training and hill climbing; then the final training.")

# -- DARTS, EG-NAS, ENAS (supernet searches) -------------------------------------------------
# None means: the algorithm's short CPU value (_SHORT below) or, with --paper_defaults, the
# tuner's own default, which is the paper's.
flags.DEFINE_integer("epochs", None, "Search epochs (short: 3 darts, 4 egnas, 3 enas; paper: 50, 50, 150).")
flags.DEFINE_float("learning_rate", None, "The shared weights' initial learning rate (paper: 0.025 darts, 0.1 egnas, 0.05 enas).")
flags.DEFINE_float("learning_rate_min", None, "The weights' final learning rate (paper: 0.001 darts, 0 egnas, 0.0005 enas).")
flags.DEFINE_float("grad_clip", None, "Gradient global-norm clip of the weights (paper: 5).")
flags.DEFINE_float("final_learning_rate", None, "Initial learning rate of the final from-scratch training, cosine to 0 (paper: 0.025; enas 0.05).")
flags.DEFINE_bool("jit_compile", None, "Compile the search and final steps with XLA (darts, egnas).")
# the DARTS cell space (darts, egnas)
flags.DEFINE_integer("cells", None, "Cells of the search supernet (short: 5; paper: 8).")
flags.DEFINE_integer("channels", None, "Initial channels of the search supernet (short: 8; paper: 16).")
flags.DEFINE_integer("steps", None, "Intermediate nodes per cell (paper: 4).")
flags.DEFINE_integer("multiplier", None, "Nodes concatenated per cell (paper: 4).")
flags.DEFINE_list("primitives", None, "Candidate operations (names in keras_nash.layers.OPS; paper: DARTS's 8, EG-NAS's 7 without 'none').")
flags.DEFINE_integer("partial_channels", None, "PC-DARTS's k: 1/k of the channels go through the ops (paper: 1 darts, 4 egnas).")
flags.DEFINE_integer("final_cells", None, "Cells of the final network (short: 8; paper: 20).")
flags.DEFINE_integer("final_channels", None, "Initial channels of the final network (short: 16; paper: 36).")
flags.DEFINE_float("final_weight_decay", None, "Weight decay of the final training (paper: 3e-4).")
flags.DEFINE_float("auxiliary_weight", None, "Weight of the final network's auxiliary head (paper: 0.4).")
flags.DEFINE_float("drop_path_prob", None, "Drop-path probability of the final network (paper: 0.2).")
# DARTS
flags.DEFINE_float("arch_learning_rate", None, "darts: alpha's Adam learning rate (paper: 3e-4).")
flags.DEFINE_float("arch_beta_1", None, "darts: alpha's Adam beta 1 (paper: 0.5).")
flags.DEFINE_float("arch_beta_2", None, "darts: alpha's Adam beta 2 (paper: 0.999).")
flags.DEFINE_float("arch_weight_decay", None, "darts: L2 on alpha (paper: 1e-3).")
# EG-NAS
flags.DEFINE_integer("warmup_epochs", None, "egnas: epochs of weight training before the evolution starts (short: 1; paper: 15).")
flags.DEFINE_integer("population_size", None, "egnas: candidates per generation (paper: 50).")
flags.DEFINE_float("sigma_initial", None, "egnas: sigma = max(sigma_initial / (epoch + 1), sigma_min) (paper: 1.0).")
flags.DEFINE_float("sigma_min", None, "egnas: the floor of sigma (paper: 0.02).")
flags.DEFINE_float("zeta", None, "egnas: weight of the cross-entropy term of the fitness (paper: 1.0).")
flags.DEFINE_float("eta", None, "egnas: weight of the cosine-similarity term of the fitness (paper: 0.4).")
flags.DEFINE_float("step", None, "egnas: alpha <- alpha + step * softmax(z_best) (paper: 0.1).")
flags.DEFINE_float("alpha_momentum", None, "egnas: momentum of the alpha update (paper: 0).")
flags.DEFINE_bool("population_batch_stats", None, "egnas: candidates use the validation batch's batch-norm statistics (paper: true).")
# ENAS
flags.DEFINE_enum("enas_space", "macro", ("macro", "micro"), "enas: the search space.")
flags.DEFINE_integer("num_layers", None, "enas macro: searched layers (short: 6; paper: 12).")
flags.DEFINE_integer("num_cells", None, "enas micro: cells (short: 3; paper: 8).")
flags.DEFINE_integer("num_blocks", None, "enas micro: blocks per cell (paper: 5).")
flags.DEFINE_integer("filters", None, "enas: channels of the layers / first cells (short: 16 macro, 8 micro; paper: 36, 20).")
flags.DEFINE_integer("lr_t0", None, "enas: epochs of the first cosine cycle (paper: 10).")
flags.DEFINE_float("lr_t_mul", None, "enas: growth of the cosine cycles (paper: 2).")
flags.DEFINE_float("l2_reg", None, "enas: L2 on the shared weights (paper: 1e-4).")
flags.DEFINE_integer("controller_lstm_size", None, "enas: LSTM units of the controller (paper: 64).")
flags.DEFINE_float("controller_tanh_constant", None, "enas: logit scale C*tanh(l/C) (paper: 1.5 macro, 1.1 micro).")
flags.DEFINE_float("controller_op_tanh_reduce", None, "enas: divisor of the op logits (paper: 2.5).")
flags.DEFINE_float("controller_temperature", None, "enas: sampling temperature (paper: none for macro, 5 for micro).")
flags.DEFINE_float("controller_entropy_weight", None, "enas: entropy bonus in the reward (paper: 1e-4).")
flags.DEFINE_float("controller_baseline_decay", None, "enas: decay of the moving-average baseline (paper: 0.99).")
flags.DEFINE_float("controller_skip_target", None, "enas macro: skip-connection density target (paper: 0.4).")
flags.DEFINE_float("controller_skip_weight", None, "enas macro: weight of the skip KL penalty (paper: 0.8).")
flags.DEFINE_float("controller_learning_rate", None, "enas: controller Adam learning rate (paper: 1e-3 macro, 3.5e-3 micro).")
flags.DEFINE_integer("controller_train_steps", None, "enas: REINFORCE steps per epoch (short: 10; paper: 50 macro, 30 micro).")
flags.DEFINE_integer("controller_num_aggregate", None, "enas: sampled architectures per REINFORCE step (short: 5; paper: 20 macro, 10 micro).")
flags.DEFINE_integer("final_candidates", None, "enas: sampled architectures among which the final one is chosen (paper: 10).")
flags.DEFINE_integer("final_filters", None, "enas: channels of the final network (default: the searched --filters).")

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


# -- DARTS, EG-NAS, ENAS -----------------------------------------------------------------------
# The flags each tuner takes (the same names as its arguments); a flag is passed on only when
# given, so the tuner's own default (the paper's) applies otherwise, or the short CPU value below.
_SUPERNET_FLAGS = ("epochs", "final_epochs", "learning_rate", "learning_rate_min", "momentum", "grad_clip",
                   "final_learning_rate")
_CELL_FLAGS = ("cells", "channels", "steps", "multiplier", "primitives", "partial_channels", "weight_decay",
               "final_cells", "final_channels", "final_weight_decay", "auxiliary_weight", "drop_path_prob",
               "jit_compile")
_TUNER_FLAGS = {
    "darts": _SUPERNET_FLAGS + _CELL_FLAGS + ("arch_learning_rate", "arch_beta_1", "arch_beta_2",
                                              "arch_weight_decay"),
    "egnas": _SUPERNET_FLAGS + _CELL_FLAGS + ("warmup_epochs", "population_size", "sigma_initial", "sigma_min",
                                              "zeta", "eta", "step", "alpha_momentum", "population_batch_stats"),
    "enas": _SUPERNET_FLAGS + ("lr_t0", "lr_t_mul", "l2_reg", "final_candidates", "final_filters",
                               "controller_lstm_size", "controller_tanh_constant", "controller_op_tanh_reduce",
                               "controller_temperature", "controller_entropy_weight", "controller_baseline_decay",
                               "controller_skip_target", "controller_skip_weight", "controller_learning_rate",
                               "controller_train_steps", "controller_num_aggregate"),
}
_SPACE_FLAGS = {"macro": ("num_layers", "filters"), "micro": ("num_cells", "num_blocks", "filters")}
_CELL_SHORT = {"final_epochs": 10, "cells": 5, "channels": 8, "final_cells": 8, "final_channels": 16}
_SHORT = {
    "darts": {"epochs": 3, **_CELL_SHORT},
    "egnas": {"epochs": 4, "warmup_epochs": 1, **_CELL_SHORT},
    "enas": {"epochs": 3, "final_epochs": 10, "controller_train_steps": 10, "controller_num_aggregate": 5},
    "macro": {"num_layers": 6, "filters": 16},
    "micro": {"num_cells": 3, "filters": 8},
}
_PAPER_BATCH_SIZE = {"nash": 64, "darts": 64, "egnas": 256, "enas": 128}


def _flag_values(names, short) -> dict:
    """The given flags among `names`, over the short CPU values (none with --paper_defaults)."""
    values = {} if FLAGS.paper_defaults else dict(short)
    values.update({name: FLAGS[name].value for name in names if FLAGS[name].present})
    if "primitives" in values:
        values["primitives"] = tuple(values["primitives"])
    return values


def run_supernet(data, project_dir):
    """A DARTS, EG-NAS or ENAS search on `data`; returns (tuner, best model, architecture, records)."""
    from keras_nash.oracles.darts import DartsTuner
    from keras_nash.oracles.enas import EnasTuner
    from keras_nash.oracles.evolution import EvolutionTuner
    from keras_nash.spaces.enas import MacroSpace, MicroSpace

    algorithm = FLAGS.algorithm
    kwargs = _flag_values(_TUNER_FLAGS[algorithm], _SHORT[algorithm])
    if algorithm == "enas":
        space = MacroSpace if FLAGS.enas_space == "macro" else MicroSpace
        kwargs["search_space"] = space(**_flag_values(_SPACE_FLAGS[FLAGS.enas_space], _SHORT[FLAGS.enas_space]))
    tuner_class = {"darts": DartsTuner, "egnas": EvolutionTuner, "enas": EnasTuner}[algorithm]
    try:
        tuner = tuner_class(
            num_classes=data.num_classes, seed=FLAGS.seed, directory=project_dir, project_name=algorithm,
            overwrite=FLAGS.overwrite, **kwargs,
        )
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    logging.info("%s search: %s", algorithm, ", ".join(f"{k}={v}" for k, v in sorted(kwargs.items())))
    tuner.search(data.train, validation_data=data.validation, verbose=0)
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


RUNNERS = {"nash": run_nash, "darts": run_supernet, "egnas": run_supernet, "enas": run_supernet}
STEP_LABELS = {
    "nash": "hill-climbing step (0: seed pre-training)",
    "supernet": "search epoch (final: the found network trained from scratch)",
}
_COMMON_FLAGS = ("algorithm", "dataset", "data_dir", "output_dir", "export_dir", "seed", "batch_size", "augment",
                 "validation_split", "test_split", "max_examples", "overwrite", "paper_defaults")
_NASH_FLAGS = ("n_steps", "n_neighbors", "n_morphisms", "epochs_per_neighbor", "final_epochs", "pretrain_epochs",
               "seed_filters", "lr_start", "lr_end", "momentum", "weight_decay", "morphism_probabilities",
               "kernel_sizes", "widening_factors", "skip_modes", "preservation_tolerance", "time_budget")


def _used_flags() -> tuple:
    """The flags the chosen algorithm reads."""
    if FLAGS.algorithm == "nash":
        used = _NASH_FLAGS
    elif FLAGS.algorithm == "enas":
        used = _TUNER_FLAGS["enas"] + ("enas_space",) + _SPACE_FLAGS[FLAGS.enas_space]
    else:
        used = _TUNER_FLAGS[FLAGS.algorithm]
    return _COMMON_FLAGS + used


def _check_flags_used():
    """Fail on flags the chosen algorithm would silently ignore."""
    unused = [name for name in _our_flags() if FLAGS[name].present and name not in _used_flags()]
    if unused:
        where = f"--algorithm={FLAGS.algorithm}" + (f" --enas_space={FLAGS.enas_space}" if FLAGS.algorithm == "enas" else "")
        raise app.UsageError(
            f"{where} does not use {', '.join('--' + name for name in unused)}: drop them, or choose the "
            "algorithm they belong to (see --helpfull)."
        )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    _check_flags_used()
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
            batch_size=_batch_size(),
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
        "flags": {name: FLAGS[name].value for name in _used_flags()},
        "trials": records,
        "best_trial": tuner.oracle.get_best_trials(1)[0].trial_id,
        "best_params": model.count_params(),
        "architecture": json.loads(architecture.to_json()),
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
    plot_path = report.plot_search(
        records, os.path.join(output_dir, "search.png"), tuner.oracle.objective.name,
        title=f"keras_nash {FLAGS.algorithm} on {FLAGS.dataset}",
        step_label=STEP_LABELS.get(FLAGS.algorithm, STEP_LABELS["supernet"]),
    )
    print(f"best trial {summary['best_trial']}: {summary['best_params']:,} params, validation accuracy {summary['validation_accuracy']:.4f}")
    if "test_accuracy" in summary:
        print(f"test accuracy: {summary['test_accuracy']:.4f}")
    print(f"summary: {summary_path}\nplot: {plot_path}")
    if FLAGS.export_dir:
        print(f"exported: {FLAGS.export_dir}")
    print(f"wall time: {summary['wall_seconds'] / 60:.1f} min")


def _batch_size() -> int:
    if FLAGS.paper_defaults and not FLAGS["batch_size"].present:
        return _PAPER_BATCH_SIZE[FLAGS.algorithm]
    return FLAGS.batch_size


def _our_flags():
    return [flag.name for flag in FLAGS.get_flags_for_module(sys.modules[__name__])]


def run():
    """Console-script entry point (`keras-nash`)."""
    app.run(main)


if __name__ == "__main__":
    run()
