"""What every bench shares: the repository on the import path, the results folder, and one way
to write a result (with the code version and the machine it was measured on).

A bench imports it first (`python bench/NAME.py` puts bench/ on the import path):

    import common  # noqa: F401  (sets TensorFlow's log level; the repository importable)
    ...
    common.write_results("NAME.json", payload)
"""

import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SHARED_DATA = ROOT.parent / "shared" / "data"
EMBEDDED_DATA = ROOT / "keras_nash" / "data" / "cifar10_default.npz"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def code_version() -> str:
    """The git commit the bench runs (with "+changes" when the work tree differs from it)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if dirty.strip() else "")


def provenance() -> dict:
    """Where and when a figure was measured: code version, date, machine, CPU count."""
    import tensorflow as tf

    return {
        "code_version": code_version(),
        "date": datetime.date.today().isoformat(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "tensorflow": tf.__version__,
    }


def write_results(name: str, payload: dict) -> pathlib.Path:
    """Write `payload` with its `provenance` to bench/results/NAME and return the path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / name
    path.write_text(
        json.dumps({**payload, "provenance": provenance()}, indent=2, default=float) + "\n"
    )
    return path
