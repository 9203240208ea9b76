"""Collect command-line runs' summaries into one bench results file.

A run of `python -m keras_nash` writes `summary_<algorithm>.json` into its `--output_dir`; this
copies each given summary's flags, settings, test accuracy, wall time and per-epoch
decisiveness records into bench/results/<output>, with the collector's provenance and a
`--note` (e.g. the commit the runs used), and prints one line a run: the last epoch's entropy
ratio and, for ENAS, its policy advantage.

    python bench/cli_summaries.py --output enas_micro_cli.json --note "..." DIR/summary_enas.json
"""

import argparse
import json
import pathlib

import common  # bench/common.py

KEPT = ("algorithm", "flags", "settings", "test_accuracy", "wall_seconds", "decisiveness")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("summaries", nargs="+", help="summary_<algorithm>.json files")
    parser.add_argument("--output", required=True)
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    runs = []
    for path in args.summaries:
        summary = json.loads(pathlib.Path(path).read_text())
        runs.append({"file": str(path), **{key: summary.get(key) for key in KEPT}})
        last = (summary.get("decisiveness") or [{}])[-1]
        advantage = (
            f"{last['policy_advantage']:+.3f} ± {last['policy_advantage_se']:.3f}"
            if "policy_advantage" in last
            else "-"
        )
        print(
            f"{path}: entropy {last.get('entropy_ratio', float('nan')):.3f}, least "
            f"{min(r['entropy_ratio'] for r in summary['decisiveness']):.3f}, "
            f"advantage {advantage}"
        )
    common.write_results(args.output, {"note": args.note, "runs": runs})


if __name__ == "__main__":
    main()
