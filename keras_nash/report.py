"""Search reports: a summary JSON and a PNG plot of how the search went.

The plot needs matplotlib, an optional dependency (`pip install "keras-nash[plot]"`); without
it `plot_search` logs how to install it and returns None.
"""

import json
import pathlib

from keras_nash.logs import logger

PLOT_INSTALL_HINT = 'pip install "keras-nash[plot]"'


def write_summary(path, summary: dict) -> str:
    """Write `summary` as indented JSON (numpy scalars become floats); returns the path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=_to_json))
    return str(path)


def plot_search(
    records: list,
    path,
    objective: str = "val_accuracy",
    title: str = "keras_nash search",
    step_label: str = "step (0: seed pre-training)",
    decisiveness: list = None,
    front: list = None,
) -> str | None:
    """Plot a search: each trial's score over wall time (coloured by step) and the best per step.

    Args:
        records: one dict per trial with `step`, `score` (None for failed trials), `seconds`
            (the trial's duration; trials are laid end to end in order), optional `role`.
        path: the PNG file to write.
        objective: the score's name, for the axis labels.
        title: the figure title.
        step_label: what a step is, for the axis label (a NASH step, a search epoch, ...).
        decisiveness: None, or a supernet search's per-epoch records (`tuner.decisiveness()`):
            a third panel draws the policy's entropy relative to uniform and the stability of
            its choices per search epoch.
        front: None, or the trial ids of a NASH search's Pareto front (`search_summary()`'s
            `pareto_front`): a panel draws every trial's score against its `cost` (records'
            key), the front as a staircase, and the hill climb's path (parent to child).

    Returns:
        The path written, or None when matplotlib is not installed (a warning says how to).
    """
    try:
        import matplotlib
    except ImportError:
        logger.warning("No search plot: matplotlib is not installed (%s).", PLOT_INSTALL_HINT)
        return None
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    panels = 2 + bool(decisiveness) + bool(front)
    figure, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.2))
    over_time, per_step = axes[:2]
    elapsed, steps = 0.0, sorted({r["step"] for r in records})
    colours = plt.get_cmap("viridis")
    best_per_step = {}
    for record in records:
        elapsed += float(record.get("seconds") or 0.0)
        score = record.get("score")
        if score is None:
            over_time.scatter(elapsed / 60, 0, marker="x", color="red", s=30)
            continue
        colour = colours(steps.index(record["step"]) / max(1, len(steps) - 1))
        marker = {"incumbent": "s", "final": "*", "seed": "D"}.get(record.get("role"), "o")
        over_time.scatter(
            elapsed / 60, score, color=colour, marker=marker, s=40 if marker != "*" else 120
        )
        best_per_step[record["step"]] = max(score, best_per_step.get(record["step"], float("-inf")))
    over_time.set_xlabel("wall time (minutes)")
    over_time.set_ylabel(objective)
    over_time.set_title(
        "every trial (colour: step; \u25c6 seed, \u25cf child or search epoch, \u25a0 incumbent, "
        "\u2605 final, x failed)",
        fontsize=9,
    )
    over_time.grid(alpha=0.3)
    # Steps side by side (a time budget can end hill climbing long before the final's number).
    xs = sorted(best_per_step)
    final_steps = {r["step"] for r in records if r.get("role") == "final"}
    per_step.plot(range(len(xs)), [best_per_step[x] for x in xs], marker="o")
    per_step.set_xlabel(step_label)
    per_step.set_ylabel(f"best {objective}")
    per_step.set_title("best trial of each step")
    per_step.set_xticks(range(len(xs)), ["final" if x in final_steps else str(x) for x in xs])
    per_step.grid(alpha=0.3)
    if decisiveness:
        _plot_decisiveness(axes[2], decisiveness)
    if front:
        _plot_front(axes[-1], records, front, objective)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return str(path)


def _plot_decisiveness(axis, records: list) -> None:
    """The policy's entropy relative to uniform and its choices' stability per search epoch."""
    epochs = [r["epoch"] for r in records]
    axis.plot(
        epochs, [r["entropy_ratio"] for r in records], marker="o", label="entropy / uniform's"
    )
    stable = [(r["epoch"], r["stability"]) for r in records if r.get("stability") is not None]
    if stable:
        axis.plot(*zip(*stable), marker="s", label="choices unchanged (last epochs)")
    axis.axhline(1.0, color="grey", linestyle="--", linewidth=0.8)
    axis.set_ylim(0, 1.05)
    axis.set_xlabel("search epoch")
    axis.set_title("how decided the policy is (1: a random draw)", fontsize=9)
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)


def _plot_front(axis, records: list, front: list, objective: str) -> None:
    """Every trial's score against its cost, the Pareto front and the climb's parent -> child
    path."""
    points = {
        r["trial_id"]: (r["cost"], r["score"])
        for r in records
        if r.get("cost") is not None and r.get("score") is not None
    }
    for record in records:
        child, parent = points.get(record["trial_id"]), points.get(record.get("parent"))
        if child and parent and record.get("role") != "incumbent":
            axis.annotate(
                "", child, parent, arrowprops={"arrowstyle": "->", "color": "grey", "alpha": 0.5}
            )
    if points:
        axis.scatter(*zip(*points.values()), color="grey", s=20, label="trained network")
    on_front = sorted(points[t] for t in front if t in points)
    if on_front:
        axis.step(*zip(*on_front), where="post", color="C3", marker="o", label="Pareto front")
    axis.set_xscale("log")
    axis.set_xlabel("cost")
    axis.set_ylabel(objective)
    axis.set_title("accuracy against cost (arrows: parent -> child)", fontsize=9)
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)


def _to_json(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
