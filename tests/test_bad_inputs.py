"""Bad inputs through the command line and the Python API: each stops before any training, with a
message that names the flag or argument and says what to do, and changes no file of an earlier run
in the same directories (their hashes before and after).

Training is made impossible in every case (`keras.Model.fit` and a supernet's search epoch
raise `_Trained`), so a case that reached training fails with that error instead of the one
expected. The command-line cases run `keras_nash.__main__.main` in-process, as tests/test_cli.py
does: a usage error there is the one line the real entry point prints (`_main_or_usage_error`),
a flag that absl refuses is absl's one-line error.
"""

import hashlib
import logging
import pathlib
import re

import keras
import keras_tuner
import numpy as np
import pytest
from absl import app, flags

from keras_nash import __main__ as cli
from keras_nash import datasets, seed_models
from keras_nash.cli_flags import FLAGS
from keras_nash.tuners.darts.tuner import DartsTuner
from keras_nash.tuners.enas.tuner import EnasTuner
from keras_nash.tuners.nash.tuner import NashTuner
from keras_nash.tuners.supernet.tuner import SupernetTuner

TINY_NASH = dict(
    n_steps=1,
    n_neighbors=2,
    n_morphisms=1,
    epochs_per_neighbor=1,
    final_epochs=1,
    pretrain_epochs=1,
    seed=3,
)
TINY_FLAGS = [
    "--n_steps=1",
    "--n_neighbors=2",
    "--n_morphisms=1",
    "--epochs_per_neighbor=1",
    "--final_epochs=1",
    "--pretrain_epochs=1",
    "--max_examples=128",
    "--seed_filters=4,8,8",
    "--batch_size=64",
    "--noaugment",
]


class _Trained(AssertionError):
    """Raised where training would start: the case did not stop before training."""


def _hashes(directory):
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in pathlib.Path(directory).rglob("*")
        if p.is_file()
    }


def _images(n=48, size=8, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, size, size, 3)).astype("float32"), (np.arange(n) % classes).astype(
        "int32"
    )


def _nash(directory, project="other", **overrides):
    seed = overrides.pop("seed_model", None) or seed_models.simple_cnn(
        (8, 8, 3), 4, filters=(4, 4, 4)
    )
    return NashTuner(
        seed, directory=str(directory), project_name=project, **{**TINY_NASH, **overrides}
    )


@pytest.fixture(scope="module")
def earlier_api(tmp_path_factory):
    """A finished tiny NASH search (project "nash") whose files no bad input may change."""
    directory = tmp_path_factory.mktemp("earlier_api")
    x, y = _images()
    _nash(directory, project="nash").search(
        x, y, validation_data=(x[:16], y[:16]), batch_size=16, verbose=0
    )
    return directory


@pytest.fixture
def no_training(monkeypatch):
    def trained(*args, **kwargs):
        raise _Trained("training started")

    monkeypatch.setattr(keras.Model, "fit", trained)
    monkeypatch.setattr(SupernetTuner, "_run_epoch_trial", trained)


# -- the Python API -----------------------------------------------------------------------------
def _two_inputs():
    a, b = keras.Input((8, 8, 3)), keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(keras.layers.Add()([a, b]))
    return keras.Model([a, b], keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(x)))


def _two_outputs():
    a = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, padding="same")(a))
    return keras.Model(a, [keras.layers.Dense(4)(x), keras.layers.Dense(2)(x)])


def _nan(x, index=5):
    x = x.copy()
    x[index, 1, 2, 0] = np.nan
    return x


def _api_cases():
    x, y = _images()
    xv, yv = x[:16], y[:16]
    fit = dict(validation_data=(xv, yv), batch_size=16, verbose=0)
    return {
        "nash objective=loss without validation_data": (
            lambda d: _nash(d, objective="loss").search(x, y, batch_size=16),
            r"validation_data.*pass validation_data=",
        ),
        "nash objective not recorded": (
            lambda d: _nash(d, objective=keras_tuner.Objective("val_f1", "max")).search(
                x, y, **fit
            ),
            r"`objective`.*Add its metric to `metrics`",
        ),
        "nash two-input seed": (
            lambda d: _nash(d, seed_model=_two_inputs()),
            r"`seed_model` must have one input.*Merge the inputs",
        ),
        "nash two-output seed": (
            lambda d: _nash(d, seed_model=_two_outputs()),
            r"`seed_model` must have one input.*keep one output head",
        ),
        "nash NaN pixel in x": (
            lambda d: _nash(d).search(_nan(x), y, **fit),
            r"`x` must hold finite numbers; example 5.*Fix or drop",
        ),
        "nash NaN pixel in validation": (
            lambda d: _nash(d).search(x, y, **{**fit, "validation_data": (_nan(xv, 2), yv)}),
            r"`validation_data\[0\]`.*example 2.*Fix or drop",
        ),
        "nash label 1000": (
            lambda d: _nash(d).search(x, np.where(np.arange(len(y)) == 7, 1000, y), **fit),
            r"labels in \[0, 1000\].*labels must be in \[0, 3\]",
        ),
        "nash x without y": (lambda d: _nash(d).search(x, **fit), r"`x` without `y`.*pass labels"),
        "nash images of another shape": (
            lambda d: _nash(d).search(x[:, :4, :4], y, **fit),
            r"inputs of shape \(4, 4, 3\).*expects \(8, 8, 3\)",
        ),
        "nash validation_data of 3 items": (
            lambda d: _nash(d).search(x, y, validation_data=(xv, yv, yv), batch_size=16),
            r"`validation_data` must be `\(x_val, y_val\)`",
        ),
        "nash n_neighbors=0": (
            lambda d: _nash(d, n_neighbors=0),
            r"`n_neighbors` must be an int >= 1",
        ),
        "nash heartbeat_timeout=0": (
            lambda d: _nash(d, heartbeat_timeout=0),
            r"`heartbeat_timeout` must be > 0 seconds or None",
        ),
        "nash time_budget=0": (
            lambda d: _nash(d, time_budget=0),
            r"`time_budget` must be > 0 seconds or None",
        ),
        "nash seed_model=42": (
            lambda d: _nash(d, seed_model=42),
            r"`seed_model` must be a Keras functional model",
        ),
        "nash preservation_tolerance=-1": (
            lambda d: _nash(d, preservation_tolerance=-1),
            r"`preservation_tolerance` must be >= 0 or None",
        ),
        "nash resume with other n_neighbors": (
            lambda d: _nash(d, project="nash", n_neighbors=3).search(x, y, **fit),
            r"n_neighbors: 2 in the directory, 3 now.*overwrite=True.*another directory",
        ),
        "nash resume on other images": (
            lambda d: _nash(d, project="nash").search(*_images(seed=1), **fit),
            r"data.train.sample_sha256.*overwrite=True",
        ),
        "darts into a nash directory": (
            lambda d: DartsTuner(
                num_classes=4,
                epochs=1,
                final_epochs=1,
                cells=3,
                channels=4,
                directory=str(d),
                project_name="nash",
            ),
            r"algorithm: \"NashTuner\" in the directory, \"DartsTuner\" now.*overwrite=True",
        ),
        "darts 1x1 images": (
            lambda d: DartsTuner(
                num_classes=4,
                epochs=1,
                final_epochs=1,
                cells=3,
                channels=4,
                directory=str(d),
                project_name="darts",
            ).search(x[:, :1, :1], y, validation_data=(xv[:, :1, :1], yv)),
            r"images \(1x1\) are too small.*at least 4x4 pixels. Resize the images",
        ),
        "enas macro 2x2 images": (
            lambda d: EnasTuner(
                keras_nash_macro(),
                num_classes=4,
                epochs=1,
                final_epochs=1,
                directory=str(d),
                project_name="enas",
            ).search(x[:, :2, :2], y, validation_data=(xv[:, :2, :2], yv)),
            r"too small.*Resize the images",
        ),
        "darts NaN pixel": (
            lambda d: DartsTuner(
                num_classes=4,
                epochs=1,
                final_epochs=1,
                cells=3,
                channels=4,
                directory=str(d),
                project_name="darts",
            ).search(_nan(x), y, validation_data=(xv, yv)),
            r"`x` must hold finite numbers; example 5",
        ),
        "darts without validation_data": (
            lambda d: DartsTuner(
                num_classes=4,
                epochs=1,
                final_epochs=1,
                cells=3,
                channels=4,
                directory=str(d),
                project_name="darts",
            ).search(x, y),
            r"needs `validation_data`",
        ),
        "datasets label 1000": (
            lambda d: datasets.from_arrays(
                (x * 255).astype("uint8"), np.where(np.arange(len(y)) == 7, 1000, y)
            ),
            r"`y` has a label far above the others.*pass `class_names`",
        ),
        "datasets NaN pixel": (
            lambda d: datasets.from_arrays(_nan(x), y),
            r"`x` must hold finite numbers; example 5",
        ),
        "datasets data_dir for arrays": (
            lambda d: datasets.load("default", data_dir=str(d)),
            r"`data_dir` is the directory of a tensorflow-datasets",
        ),
        "datasets missing data_dir": (
            lambda d: datasets.load("cifar10", data_dir=str(d / "missing")),
            r"`data_dir` must be an existing directory",
        ),
        "datasets missing npz": (
            lambda d: datasets.load(str(d / "missing.npz")),
            r"`source` file not found",
        ),
    }


def keras_nash_macro():
    from keras_nash.spaces.enas import MacroSpace

    return MacroSpace(num_layers=6, filters=4)


API_CASES = _api_cases()


@pytest.mark.parametrize("name", sorted(API_CASES))
def test_python_api_bad_input_stops_before_training(name, earlier_api, no_training):
    run, message = API_CASES[name]
    before = _hashes(earlier_api / "nash")
    with pytest.raises(ValueError) as error:
        run(earlier_api)
    assert re.search(message, str(error.value), re.S), str(error.value)
    assert _hashes(earlier_api / "nash") == before
    assert not [p for p in earlier_api.glob("*/trial_*/*") if p.parts[-3] != "nash"]


def test_a_callback_that_stops_early_scores_the_trial_as_it_stands(tmp_path):
    """keras's EarlyStopping (and any callback setting `model.stop_training`) no longer fails a
    NASH trial as "NaN": every trial completes with a finite score."""
    x, y = _images()
    stop = keras.callbacks.EarlyStopping(
        monitor="loss", patience=0, min_delta=10.0
    )  # stops after epoch 2
    tuner = _nash(tmp_path, epochs_per_neighbor=4, pretrain_epochs=3, final_epochs=0)
    tuner.search(x, y, validation_data=(x[:16], y[:16]), batch_size=16, verbose=0, callbacks=[stop])
    trials = tuner.oracle.trials.values()
    assert all(t.status == "COMPLETED" for t in trials), [
        (t.trial_id, t.status, t.message) for t in trials
    ]
    assert all(np.isfinite(t.score) for t in trials)
    assert len(trials) == 1 + TINY_NASH["n_neighbors"]


class _FailAfterFirst(keras.callbacks.Callback):
    trainings = 0

    def on_train_begin(self, logs=None):
        _FailAfterFirst.trainings += 1
        if _FailAfterFirst.trainings > 1:
            raise ValueError("the cause: this data pipeline broke")


def test_a_search_whose_every_trial_after_the_first_fails_raises_with_the_cause(tmp_path):
    from keras_nash.internals import FailedSearchError

    x, y = _images()
    _FailAfterFirst.trainings = 0
    tuner = _nash(tmp_path, n_neighbors=1)
    with pytest.raises(
        FailedSearchError,
        match=r"Every trial after the first failed.*the cause: this data pipeline broke",
    ):
        tuner.search(
            x,
            y,
            validation_data=(x[:16], y[:16]),
            batch_size=16,
            verbose=0,
            callbacks=[_FailAfterFirst()],
        )


# -- the command line ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def earlier_cli(tmp_path_factory):
    """A finished tiny command-line run (its output directory) and a non-empty export
    directory, whose files no bad input may change."""
    root = tmp_path_factory.mktemp("earlier_cli")
    output, export = root / "out", root / "exported"
    export.mkdir()
    (export / "model.keras").write_bytes(b"an earlier export")
    FLAGS.unparse_flags()
    FLAGS(["keras_nash", *TINY_FLAGS, f"--output_dir={output}"])
    try:
        cli.main(["keras_nash"])
    finally:
        FLAGS.unparse_flags()
    npz = root / "data"
    npz.mkdir()
    x, y = _images(64, 8)
    np.savez(npz / "nan.npz", x=_nan(x), y=y)
    np.savez(
        npz / "label1000.npz", x=(x * 255).astype("uint8"), y=np.where(np.arange(64) == 3, 1000, y)
    )
    np.savez(npz / "tiny.npz", x=(x[:, :1, :1] * 255).astype("uint8"), y=y)
    return root


def _cli_cases():
    """(extra flags, the flag the message names, what it says to do)."""
    return {
        "export_formats onnx": (
            ["--export_formats=onnx", "--export_dir={root}/new_export"],
            "--export_formats",
            r"takes a non-empty list of keras, saved_model, tflite, json",
        ),
        "export_dir not empty": (
            ["--export_dir={root}/exported"],
            "--export_dir",
            r"--replace_export",
        ),
        "export_formats without export_dir": (
            ["--export_formats=keras"],
            "--export_formats",
            r"give --export_dir",
        ),
        "data_dir with the default dataset": (
            ["--data_dir={root}"],
            "--data_dir",
            r"Drop --data_dir",
        ),
        "data_dir that does not exist": (
            ["--dataset=cifar10", "--data_dir={root}/missing"],
            "--data_dir",
            r"must be an existing directory",
        ),
        "output_dir a file": (
            ["--output_dir={root}/exported/model.keras"],
            "--output_dir",
            r"Give another --output_dir",
        ),
        "time_budget 0": (
            ["--time_budget=0"],
            "--time_budget",
            r"must be > 0 seconds \(inf for none\)",
        ),
        "time_budget negative": (["--time_budget=-5"], "--time_budget", r"must be > 0 seconds"),
        "n_steps negative": (["--n_steps=-1"], "--n_steps", r"or 0 to climb until"),
        "n_steps 0 without a budget": (
            ["--n_steps=0", "--time_budget=inf"],
            "--n_steps=0",
            r"this run has none: give --time_budget",
        ),
        "validation_split 0": (
            ["--validation_split=0"],
            "--validation_split",
            r"must be in \(0, 1\)",
        ),
        "validation_split 1": (
            ["--validation_split=1"],
            "--validation_split",
            r"must be in \(0, 1\)",
        ),
        "kernel_sizes 4": (["--kernel_sizes=4"], "--kernel_sizes", r"must be positive odd ints"),
        "kernel_sizes not a number": (
            ["--kernel_sizes=a"],
            "--kernel_sizes",
            r"takes comma-separated integers",
        ),
        "n_neighbors 0": (["--n_neighbors=0"], "--n_neighbors", r"must be an int >= 1"),
        "n_morphisms 0": (["--n_morphisms=0"], "--n_morphisms", r"must be an int >= 1"),
        "epochs_per_neighbor 0": (
            ["--epochs_per_neighbor=0"],
            "--epochs_per_neighbor",
            r"must be an int >= 1",
        ),
        "pretrain_epochs 0": (["--pretrain_epochs=0"], "--pretrain_epochs", r"must be an int >= 1"),
        "final_epochs negative": (["--final_epochs=-1"], "--final_epochs", r"must be an int >= 0"),
        "batch_size 0": (["--batch_size=0"], "--batch_size", r"must be an int >= 1"),
        "max_examples 0": (["--max_examples=0"], "--max_examples", r"must be an int >= 1"),
        "test_split 1.5": (
            ["--test_split=1.5"],
            "--test_split",
            r"must be a finite number in \[0.0, 1.0\]",
        ),
        "morphism_probabilities of 2": (
            ["--morphism_probabilities=1,1"],
            "--morphism_probabilities",
            r"takes 3 weights",
        ),
        "seed_filters not numbers": (
            ["--seed_filters=a,b,c"],
            "--seed_filters",
            r"takes comma-separated integers",
        ),
        "lr_start negative": (["--lr_start=-1"], "--lr_start", r"must be"),
        "verbose 3": (["--verbose=3"], "--verbose", r"must be 0, 1 or 2"),
        "dataset missing file": (["--dataset={root}/missing.npz"], "--dataset", r"not found"),
        "dataset with a NaN pixel": (
            ["--dataset={root}/data/nan.npz"],
            "--dataset",
            r"`x` must hold finite.*example 5.*Fix or drop",
        ),
        "dataset with label 1000": (
            ["--dataset={root}/data/label1000.npz"],
            "--dataset",
            r"`y` has a label far above the others.*class_names",
        ),
        "an unused flag": (["--epochs=3"], "--epochs", r"drop them, or choose the algorithm"),
        "resume with other n_neighbors": (
            ["--n_neighbors=3"],
            "--overwrite",
            r"n_neighbors: 2 in the directory, 3 now",
        ),
        "resume with other seed_filters": (
            ["--seed_filters=8,8,8"],
            "--overwrite",
            r"seed_architecture",
        ),
        "resume with another max_examples": (["--max_examples=64"], "--overwrite", r"data\.train"),
        "resume with another seed": (
            ["--seed=2"],
            "--overwrite",
            r"seed: 1 in the directory, 2 now",
        ),
        "darts cells 2": (["--algorithm=darts", "--cells=2", "--epochs=1"], "--cells", r"cells"),
        "darts epochs 0": (["--algorithm=darts", "--epochs=0"], "--epochs", r"must be an int >= 1"),
        "darts 1x1 images": (
            ["--algorithm=darts", "--dataset={root}/data/tiny.npz", "--epochs=1"],
            "images",
            r"too small.*Resize the images",
        ),
        "enas num_layers 0": (
            ["--algorithm=enas", "--num_layers=0"],
            "--num_layers",
            r"must be an int >= 1",
        ),
        "precision unknown": (["--precision=float8"], "precision", r"float32"),
        "algorithm unknown": (["--algorithm=bogus"], "algorithm", r"nash"),
        "unexpected argument": (["stray"], "Unexpected arguments", r"stray"),
    }


CLI_CASES = _cli_cases()
_NASH_ONLY = (
    "--n_steps",
    "--n_neighbors",
    "--n_morphisms",
    "--epochs_per_neighbor",
    "--pretrain_epochs",
    "--seed_filters",
    "--final_epochs",
)


def _argv(case, root):
    extra = [a.format(root=root) for a in case]
    given = {a.split("=")[0] for a in extra}
    base = [f for f in TINY_FLAGS if f.split("=")[0] not in given]
    if any(a.startswith("--algorithm=") and a != "--algorithm=nash" for a in extra):
        base = [f for f in base if f.split("=")[0] not in _NASH_ONLY]
    output = [] if "--output_dir" in given else [f"--output_dir={root}/out"]
    return base + output + [a for a in extra if a.startswith("--")], [
        a for a in extra if not a.startswith("--")
    ]


@pytest.mark.parametrize("name", sorted(CLI_CASES))
def test_command_line_bad_input_is_a_one_line_usage_error_before_training(
    name, earlier_cli, no_training, caplog
):
    flags_given, message = CLI_CASES[name][0], CLI_CASES[name][1:]
    before = _hashes(earlier_cli)
    argv, stray = _argv(flags_given, earlier_cli)
    FLAGS.unparse_flags()
    level = logging.getLogger("keras_nash").level
    try:
        with pytest.raises((app.UsageError, flags.Error)) as error:
            FLAGS(["keras_nash", *argv])
            cli.main(["keras_nash", *stray])
    finally:
        FLAGS.unparse_flags()
        logging.getLogger("keras_nash").setLevel(level)
    text = str(error.value)
    assert message[0] in text and re.search(message[1], text, re.S), text
    assert _hashes(earlier_cli) == before
