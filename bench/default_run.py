"""Benchmark: the README's main command, `python -m keras_nash` with no flags, timed.

Runs the command in a subprocess (the short NASH search on the embedded CIFAR-10 subset, every
flag at its default), measures its wall time from outside (interpreter start-up and imports
included) and the longest time between two lines of its output, and copies the key fields of
the run's summary_nash.json (test and validation accuracy, the best trial, its parameter count,
the trials' count, the command's own wall time).

    python bench/default_run.py [--output_dir /tmp/default_run]

Writes bench/results/default_run.json and prints it. About 5 minutes: the command's default time
budget (300 s, start-up included).
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
    # The command's output, line by line (echoed), with when each line came: the longest
    # silence is what a user waits without news.
    stamps = [0.0]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        for line in process.stdout:
            stamps.append(time.perf_counter() - start)
            print(line, end="", flush=True)
    if process.returncode:
        raise SystemExit(f"the command failed with exit status {process.returncode}")
    wall = time.perf_counter() - start
    stamps.append(wall)
    summary = json.loads(pathlib.Path(output_dir, "summary_nash.json").read_text())
    result = {
        "command": "python -m keras_nash --output_dir=" + output_dir,
        "what": "the README's main command with every flag at its default, timed from outside",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores (shared with other jobs)",
        "wall_seconds": round(wall, 1),
        "time_budget_seconds": 300.0,  # the command's default --time_budget (start-up included)
        "wall_over_budget": round(wall / 300.0, 3),
        "output_lines": len(stamps) - 2,
        "longest_silence_seconds": round(float(max(b - a for a, b in zip(stamps, stamps[1:]))), 1),
        "load_average_1min": round(os.getloadavg()[0], 1),  # other jobs on the machine at the end
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
