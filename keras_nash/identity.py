"""A search directory's identity: what search it holds, so that another search never resumes it.

keras-tuner resumes whatever is in a project directory when `overwrite=False`: the saved oracle
state wins over the constructor's arguments, so a run with other settings, another seed
network or other data silently continues the old search (and reports it under the new
settings). Here the first `search()` into a project directory records the search's identity in
`<project_dir>/search_identity.json`:

- the algorithm (the tuner's class),
- its settings that change what is searched: the public attributes of the oracle, of the
  tuner and of its hypermodel (the search space, the seed network, the numbers of steps,
  neighbours, epochs, learning rates, the batch size, the objective, the seed, ...), each as
  JSON (an `Architecture` or an array as a short summary and a hash),
- a fingerprint of the data: the shapes and dtypes of the training and validation inputs and
  labels, their sizes, the classes of array labels, and a hash of a sample (the first 64
  examples of arrays; the first batch of a validation dataset: a training dataset is not
  read, so that its shuffling order stays the one an uninterrupted search has).

Every later `search()` into the directory compares its own identity with the recorded one
before any training, and a difference stops it with a `SearchIdentityError` that lists each
difference and the two ways out: `overwrite=True` (`--overwrite`), or another directory.

Settings that may change on resume (`ALLOWED`), not compared:
- `time_budget`: a longer (or shorter) budget, counted from the first trial;
- `final_epochs`: more (or fewer) epochs for the final training, which has not started;
- `verbose`, `callbacks` and the rest of `search()`'s `fit` arguments except the data and
  `batch_size`; `max_retries_per_trial`, `max_consecutive_failed_trials`;
- how the search runs, not what it searches: `distribution_strategy`, `executions_per_trial`,
  the workers (`tuner_id`, NASH's `heartbeat_timeout`), `jit_compile`, `logger`;
- `seed=None` on resume (the recorded seed goes on: keras-tuner's saved state keeps it).

A directory written before identities were recorded gets one at its next `search()`. A setting
that only one of the two identities has (another keras_nash version's) is not compared.
"""

import dataclasses
import hashlib
import json
import os

import numpy as np

from keras_nash import files

IDENTITY_FILE = "search_identity.json"
"""The identity's file in the project directory."""

ALLOWED = frozenset(
    {
        "time_budget",
        "final_epochs",
        "verbose",
        "callbacks",
        "max_retries_per_trial",
        "max_consecutive_failed_trials",
        "distribution_strategy",
        "executions_per_trial",
        "tuner_id",
        "heartbeat_timeout",
        "jit_compile",
        "logger",
    }
)
"""Settings a resumed search may change (see the module's docstring)."""

_BOOKKEEPING = frozenset(
    {
        # keras-tuner's own attributes: where and how, not what.
        "oracle",
        "hypermodel",
        "directory",
        "project_name",
        "max_model_size",
        "tuner",
        "seed",
        # The search's state, not its settings (set by the search, saved by the oracle).
        "epoch",
        "parent_trial_id",
        "final_trial_id",
        "alpha_normal",
        "alpha_reduce",
        "beta",
        "history",
        "alpha",
        "velocity",
        "generation",
        "sigma",
        "controller_file",
        "controller_state",
        "best_arch",
        "input_shape",
        "trace_counts",
        "decisiveness_history",
    }
)
_SAMPLE = 64


class SearchIdentityError(ValueError):
    """A search into a directory that holds another search."""


def describe(value, depth: int = 0):
    """`value` as JSON: numbers, strings and containers as they are; an `Architecture` or a
    genotype as its size and a hash of its JSON; an array as its shape and a hash; a
    dataclass or an object with `get_config` as its fields; anything else by its class."""
    if isinstance(value, str) and len(value) > 200:  # a network's JSON
        return {"chars": len(value), "sha256": _hash(value.encode())}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [describe(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {
            str(k): describe(v, depth + 1)
            for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
        }
    if isinstance(value, np.ndarray):
        return {"shape": list(value.shape), "sha256": _hash(np.ascontiguousarray(value).tobytes())}
    if hasattr(value, "to_json") and hasattr(value, "nodes"):  # graph.Architecture
        return {
            "nodes": len(value.nodes),
            "params": int(value.count_params()),
            "sha256": _hash(value.to_json().encode()),
        }
    if hasattr(value, "name") and hasattr(value, "direction"):  # keras-tuner's Objective
        return f"{value.name} ({value.direction})"
    if depth < 3:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return {"class": type(value).__name__, **describe(fields, depth + 1)}
        if hasattr(value, "get_config"):
            try:
                return {"class": type(value).__name__, **describe(value.get_config(), depth + 1)}
            except (NotImplementedError, TypeError):
                pass
        if hasattr(value, "__dict__"):
            public = {k: v for k, v in vars(value).items() if not k.startswith("_")}
            return {"class": type(value).__name__, **describe(public, depth + 1)}
    return type(value).__name__


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _public_settings(obj, skip=frozenset()) -> dict:
    return {
        name: describe(value)
        for name, value in vars(obj).items()
        if not name.startswith("_")
        and name not in ALLOWED | _BOOKKEEPING | skip
        and not callable(value)
    }


def tuner_settings(tuner, oracle_base_attributes=frozenset()) -> dict:
    """The settings of `tuner`, its oracle and its hypermodel that change what is searched."""
    oracle = getattr(tuner.oracle, "_oracle", tuner.oracle)  # a worker's OracleClient wraps it
    settings = {"algorithm": type(tuner).__name__}
    settings.update(
        {f"oracle.{k}": v for k, v in _public_settings(oracle, oracle_base_attributes).items()}
    )
    settings["objective"] = describe(oracle.objective)
    settings["seed"] = getattr(oracle, "_given_seed", None)
    settings.update(_public_settings(tuner))
    hypermodel = getattr(tuner, "hypermodel", None)
    if hypermodel is not None:
        settings.update({f"hypermodel.{k}": v for k, v in _public_settings(hypermodel).items()})
    return json.loads(json.dumps(settings, default=str))  # tuples as lists, as the file has them


def data_fingerprint(fit_args, fit_kwargs) -> dict:
    """Shapes, dtypes, sizes, classes and a sample hash of `search()`'s training and validation
    data (arrays or `tf.data` datasets of `(x, y)` batches)."""
    x = fit_args[0] if fit_args else fit_kwargs.get("x")
    y = fit_args[1] if len(fit_args) > 1 else fit_kwargs.get("y")
    fingerprint = {"train": _fingerprint(x, y, read_dataset=False)}
    validation = fit_kwargs.get("validation_data")
    if validation is not None:
        if isinstance(validation, (tuple, list)):
            fingerprint["validation"] = _fingerprint(
                validation[0], validation[1] if len(validation) > 1 else None, True
            )
        else:
            fingerprint["validation"] = _fingerprint(validation, None, read_dataset=True)
    return fingerprint


def _fingerprint(x, y, read_dataset: bool) -> dict:
    if x is None:
        return {}
    if hasattr(x, "element_spec"):  # a tf.data.Dataset
        spec = x.element_spec
        specs = spec if isinstance(spec, tuple) else (spec,)
        found = {"inputs": [_spec_text(s) for s in specs], "batches": int(x.cardinality())}
        if read_dataset:
            for batch in x.take(1):
                arrays = batch if isinstance(batch, tuple) else (batch,)
                found["sample_sha256"] = _hash(b"".join(np.asarray(a).tobytes() for a in arrays))
        return found
    x = np.asarray(x)
    found = {
        "inputs": [f"{x.dtype}{list(x.shape[1:])}"],
        "examples": int(len(x)),
        "sample_sha256": _hash(np.ascontiguousarray(x[:_SAMPLE]).tobytes()),
    }
    if y is not None:
        y = np.asarray(y)
        found["labels"] = f"{y.dtype}{list(y.shape[1:])}"
        if np.issubdtype(y.dtype, np.integer) and y.size:
            found["classes"] = int(np.unique(y).size)
            found["max_label"] = int(y.max())
        found["sample_sha256"] = _hash(
            bytes.fromhex(found["sample_sha256"]) + np.ascontiguousarray(y[:_SAMPLE]).tobytes()
        )
    return found


def _spec_text(spec) -> str:
    shape = getattr(spec, "shape", None)
    dims = (
        [None if d is None else int(d) for d in shape[1:]]
        if shape is not None and shape.rank
        else []
    )
    return f"{getattr(getattr(spec, 'dtype', None), 'name', spec)}{dims}"


def differences(recorded: dict, current: dict, prefix: str = "") -> list:
    """One line per setting that differs between two identities (`ALLOWED` ones left out)."""
    lines = []
    for key in sorted(set(recorded) | set(current)):
        name = f"{prefix}{key}"
        if key in ALLOWED:
            continue
        old, new = recorded.get(key, "(not recorded)"), current.get(key, "(not set)")
        if key == "seed" and not prefix and new is None:
            continue  # seed=None on resume: the recorded seed goes on
        if not prefix and key != "data" and (key not in recorded or key not in current):
            continue  # a setting another keras_nash version has and this one has not, or reverse
        if isinstance(old, dict) and isinstance(new, dict) and "sha256" not in old:
            lines.extend(differences(old, new, prefix=f"{name}."))
        elif old != new:
            lines.append(f"{name}: {_short(old)} in the directory, {_short(new)} now")
    return lines


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 120 else text[:117] + "..."


def check(project_dir: str, identity: dict, record: bool = True) -> None:
    """Record `identity` in `project_dir` (when `record`), or compare it with the recorded one:
    every key of `identity` (`_compare` leaves the others out).

    Raises:
        SearchIdentityError: the directory holds a search of another identity; the message
            lists each difference and the two ways out.
    """
    path = os.path.join(project_dir, IDENTITY_FILE)
    if not os.path.exists(path):
        if record:
            files.write_json(path, identity)
        return
    with open(path) as f:
        recorded = json.load(f)
    found = differences({k: v for k, v in recorded.items() if k in identity}, identity)
    if found:
        raise SearchIdentityError(
            f"The directory {project_dir} holds another search, and resuming it with these "
            f"settings would mix two searches. Differences:\n  - "
            + "\n  - ".join(found)
            + "\nEither start this search afresh with `overwrite=True` (--overwrite on the command "
            "line: the old search is deleted), or give it another directory (`directory` / "
            "`project_name`, --output_dir). Settings a resumed search may change: "
            + ", ".join(sorted(ALLOWED))
            + "."
        )


class SearchIdentity:
    """Tuner mixin: `search()` records the search's identity in a new project directory and
    refuses an existing one of another identity, before any training. Put it before
    `keras_tuner.Tuner`; it captures the settings before keras-tuner's `reload` replaces the
    oracle's with the saved ones."""

    def reload(self):
        # Before the saved state replaces the constructor's settings (and before a state of
        # another algorithm is read into this oracle): the settings compared now, the data
        # and `search()`'s batch size in `search`.
        self._identity_settings = self.identity_settings()
        settings = {k: v for k, v in self._identity_settings.items() if k != "batch_size"}
        check(self.project_dir, settings, record=False)
        super().reload()

    def identity_settings(self) -> dict:
        """The settings of this tuner that change what it searches (`tuner_settings`)."""
        import keras_tuner

        base = getattr(SearchIdentity, "_oracle_base", None)
        if base is None:
            base = SearchIdentity._oracle_base = frozenset(
                vars(keras_tuner.Oracle(objective="loss"))
            )
        return tuner_settings(self, base)

    def check_identity(self, fit_args, fit_kwargs) -> None:
        """Record or compare the identity of a search on these `search()` arguments."""
        settings = getattr(self, "_identity_settings", None)
        if settings is None:
            settings = self._identity_settings = self.identity_settings()
        settings = {
            **settings,
            "batch_size": fit_kwargs.get("batch_size", settings.get("batch_size")),
        }
        check(self.project_dir, {**settings, "data": data_fingerprint(fit_args, fit_kwargs)})

    def search(self, *fit_args, **fit_kwargs):
        self.check_identity(fit_args, fit_kwargs)
        return super().search(*fit_args, **fit_kwargs)
