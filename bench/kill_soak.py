"""Benchmark: searches SIGKILLed at random instants and restarted until done end as the same search.

For each algorithm, the small search of the resume tests (DARTS, EG-NAS, ENAS:
`tests/scripts/resume_run.py`, 2 search epochs and a final training on a training set reshuffled every
pass; NASH: `tests/scripts/nash_run.py`, 2 hill-climbing steps of 3 neighbours and a final training) runs
once uninterrupted (the reference), then again from scratch in a process that is SIGKILLed after
a random delay (exponential, mean `--mean_delay` seconds, so some kills land inside checkpoint
and state writes) and restarted, `--kills` times, then left to finish. Reported per algorithm:

- identical: the same trials (role, epoch, status; NASH: the same architectures), per-trial
  losses within rtol 1e-5 (NASH: each trial's end-of-cycle loss), and the same architecture
  found;
- lost: trials COMPLETED before a kill that were not COMPLETED, or were trained again, after it
  (a completed trial's checkpoint rewritten counts as trained again);
- redone_s: the soak's total time less the reference's (restarts, imports, tracing, work redone);
- restarts: processes started.

    python bench/kill_soak.py [--kills 10] [--mean_delay 6] [--algorithms darts,egnas,enas,nash]

Writes bench/results/kill_soak.json and prints a table.
"""

import os

import common  # bench/common.py: TensorFlow's log level, the repository importable

import glob  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

KILLS = flags.DEFINE_integer("kills", 10, "SIGKILLs per algorithm before the run may finish.")
MEAN_DELAY = flags.DEFINE_float("mean_delay", 6.0, "Mean seconds from a start to its kill.")
ALGORITHMS = flags.DEFINE_list("algorithms", ["darts", "egnas", "enas", "nash"], "Algorithms.")
SEED = flags.DEFINE_integer("seed", 0, "Seed of the kill delays.")
ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = common.RESULTS


def _command(algorithm, directory):
    if algorithm == "nash":
        return [sys.executable, "-m", "tests.scripts.nash_run", directory]
    return [sys.executable, "-m", "tests.scripts.resume_run", algorithm, directory]


def _start(algorithm, directory):
    return subprocess.Popen(
        _command(algorithm, directory), cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )


def _project(algorithm, directory):
    return os.path.join(directory, algorithm)


def _completed(algorithm, directory) -> dict:
    """trial id -> its checkpoint's mtime, for the trials whose trial.json says COMPLETED."""
    done = {}
    for path in glob.glob(os.path.join(_project(algorithm, directory), "trial_*", "trial.json")):
        try:
            with open(path) as f:
                status = json.load(f)["status"]
        except (OSError, ValueError, KeyError):
            continue  # written by atomic replace: never torn, but it may vanish with its trial
        # A supernet's epoch trial writes supernet.npz; NASH's trials and final trainings, Keras's .h5.
        checkpoints = [os.path.join(os.path.dirname(path), name)
                       for name in ("supernet.npz", "checkpoint.weights.h5")]
        checkpoint = next((c for c in checkpoints if os.path.exists(c)), None)
        if status == "COMPLETED" and checkpoint is not None:
            done[os.path.basename(os.path.dirname(path))] = os.path.getmtime(checkpoint)
    return done


def _last(trial, name):
    """A trial's last recorded value of a metric (its end-of-cycle value for NASH), or None."""
    return float(trial.metrics.get_last_value(name)) if trial.metrics.exists(name) else None


def _summary(algorithm, directory) -> dict:
    """The finished search's trials and architecture, read back through its tuner."""
    if algorithm == "nash":
        from tests.scripts import nash_run

        tuner = nash_run.tuner(directory, overwrite=False)
        trials = tuner.oracle.trials
        return {
            "trials": [{"trial_id": t, "status": trials[t].status,
                        "arch": trials[t].hyperparameters.values["nash/arch"],
                        "loss": _last(trials[t], "loss")}  # compared, as the supernets' losses
                       for t in sorted(trials)],
            "architecture": trials[tuner.oracle.incumbent].hyperparameters.values["nash/arch"],
        }
    from tests.scripts import resume_run

    return resume_run.summary(resume_run.tuner(algorithm, directory, overwrite=False))


def _compare(reference, soaked) -> dict:
    """Whether the soaked search is the reference's: the same trials (role, epoch, status; NASH:
    architectures) and architecture, and each trial's loss within rtol 1e-5 (two processes)."""
    def shape(summary):
        return [{k: v for k, v in t.items() if k != "loss"} for t in summary["trials"]]

    pairs = [(t.get("loss"), s.get("loss")) for t, s in zip(reference["trials"], soaked["trials"])]
    differences = [abs(a - b) / abs(a) for a, b in pairs if a is not None and b is not None]
    same = {"same_trials": shape(reference) == shape(soaked),
            "same_architecture": reference["architecture"] == soaked["architecture"],
            "max_loss_rel_diff": max(differences, default=0.0)}
    same["identical"] = bool(same["same_trials"] and same["same_architecture"]
                             and same["max_loss_rel_diff"] <= 1e-5)
    return same


def soak(algorithm, kills, mean_delay, rng) -> dict:
    work = tempfile.mkdtemp(prefix=f"kill_soak_{algorithm}_")
    reference_dir, soak_dir = os.path.join(work, "reference"), os.path.join(work, "soak")
    start = time.perf_counter()
    process = _start(algorithm, reference_dir)
    process.communicate()
    reference_seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"the {algorithm} reference run failed (rc={process.returncode})")

    lost, restarts, killed = set(), 0, 0
    start = time.perf_counter()
    while True:
        before = _completed(algorithm, soak_dir)
        process = _start(algorithm, soak_dir)
        restarts += 1
        if killed < kills:
            try:
                process.wait(timeout=float(rng.exponential(mean_delay)))
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                killed += 1
        else:
            process.communicate()
        after = _completed(algorithm, soak_dir)
        # A trial completed before this process that is no longer, or whose checkpoint was
        # written again, was lost or trained again.
        lost |= {t for t, stamp in before.items() if after.get(t) != stamp}
        if process.returncode == 0:
            break
        if process.returncode != -signal.SIGKILL:
            raise RuntimeError(f"the {algorithm} soak run failed (rc={process.returncode})")
    soak_seconds = time.perf_counter() - start
    reference, soaked = _summary(algorithm, reference_dir), _summary(algorithm, soak_dir)
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"reference": reference, "soaked": soaked}), flush=True)
    return {
        "algorithm": algorithm, "kills": killed, "restarts": restarts,
        **_compare(reference, soaked), "lost": sorted(lost),
        "trials": len(soaked["trials"]), "reference_s": round(reference_seconds, 1),
        "soak_s": round(soak_seconds, 1), "redone_s": round(soak_seconds - reference_seconds, 1),
    }


def main(argv):
    del argv
    rng = np.random.default_rng(SEED.value)
    rows = [soak(a, KILLS.value, MEAN_DELAY.value, rng) for a in ALGORITHMS.value]
    result = {"kills": KILLS.value, "mean_delay_s": MEAN_DELAY.value, "rows": rows}
    common.write_results("kill_soak.json", result)
    print(f"{'algorithm':<16}{'kills':>6}{'restarts':>9}{'identical':>10}{'loss_rel':>10}"
          f"{'lost':>6}{'trials':>7}{'reference_s':>12}{'soak_s':>8}{'redone_s':>9}")
    for r in rows:
        print(f"{r['algorithm']:<16}{r['kills']:>6}{r['restarts']:>9}{str(r['identical']):>10}"
              f"{r['max_loss_rel_diff']:>10.1e}{len(r['lost']):>6}{r['trials']:>7}"
              f"{r['reference_s']:>12}{r['soak_s']:>8}{r['redone_s']:>9}")


if __name__ == "__main__":
    app.run(main)
