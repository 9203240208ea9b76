"""Benchmark: the README's main command, `python -m keras_nash` with no flags, timed.

Runs the command in a subprocess (the short NASH search on the embedded CIFAR-10 subset, every
flag at its default), measures its wall time from outside (interpreter start-up and imports
included) and copies the key fields of the run's summary_nash.json (test and validation accuracy,
the best trial, its parameter count, the trials' count, the command's own wall time).

    python bench/default_run.py [--output_dir /tmp/default_run]

Writes bench/results/default_run.json and prints it. About 5 minutes: the command's default time budget (300 s, start-up included).
"""

import json
import os
import pathlib
import platform
import subprocess
import sys
import time

import common


def main(argv):
    output_dir = "/tmp/default_run"
    for arg in argv:
        if arg.startswith("--output_dir="):
            output_dir = arg.split("=", 1)[1]
    command = [sys.executable, "-m", "keras_nash", f"--output_dir={output_dir}"]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(common.ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    wall = time.perf_counter() - start
    summary = json.loads(pathlib.Path(output_dir, "summary_nash.json").read_text())
    result = {
        "command": "python -m keras_nash --output_dir=" + output_dir,
        "what": "the README's main command with every flag at its default, timed from outside",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores (shared with other jobs)",
        "wall_seconds": round(wall, 1),
        "command_wall_seconds": round(summary["wall_seconds"], 1),
        "algorithm": summary["algorithm"],
        "dataset": summary["dataset"],
        "num_examples": summary["num_examples"],
        "trials": len(summary["trials"]),
        "best_trial": summary["best_trial"],
        "best_params": summary["best_params"],
        "validation_accuracy": summary["validation_accuracy"],
        "test_accuracy": summary.get("test_accuracy"),
        "flags": summary["flags"],
    }
    path = common.write_results("default_run.json", result)
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
