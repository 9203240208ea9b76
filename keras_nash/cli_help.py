"""The command line's `--help`: the main flags of each algorithm, grouped (`--helpfull`: all)."""

import sys
import textwrap

from absl import app, flags

from keras_nash.cli_flags import (
    CELL_FLAGS,
    COMMON_FLAGS,
    DARTS_FLAGS,
    EGNAS_FLAGS,
    ENAS_FLAGS,
    FLAGS,
    NASH_FLAGS,
    SUPERNET_FLAGS,
)

# Each section of --help: a title, its flags, and those shown with their help (the rest by name).
_HELP_SECTIONS = (
    ("common flags", COMMON_FLAGS, COMMON_FLAGS),
    (
        "--algorithm=nash (hill climbing over network morphisms)",
        NASH_FLAGS,
        (
            "n_steps",
            "n_neighbors",
            "n_morphisms",
            "epochs_per_neighbor",
            "pretrain_epochs",
            "final_epochs",
            "seed_filters",
            "time_budget",
        ),
    ),
    (
        "--algorithm=darts, egnas or enas (unset: a short CPU value; with --paper_defaults the "
        "paper's)",
        SUPERNET_FLAGS,
        ("epochs", "final_epochs", "learning_rate"),
    ),
    (
        "--algorithm=darts or egnas: the DARTS cell space",
        CELL_FLAGS,
        ("cells", "channels", "primitives", "partial_channels", "final_cells", "final_channels"),
    ),
    ("--algorithm=darts", DARTS_FLAGS, ("arch_learning_rate",)),
    ("--algorithm=egnas", EGNAS_FLAGS, ("warmup_epochs", "population_size")),
    (
        "--algorithm=enas",
        (
            "enas_space",
            "num_layers",
            "num_cells",
            "num_blocks",
            "filters",
            "num_nodes",
            "hidden_size",
            "bptt",
        )
        + ENAS_FLAGS,
        (
            "enas_space",
            "num_layers",
            "num_cells",
            "filters",
            "controller_train_steps",
            "controller_num_aggregate",
        ),
    ),
)
_HELP_ARGS = {"-?", "--?", "-help", "--help", "-helpshort", "--helpshort"}
_WIDTH, _COLUMN = 100, 32


def asks_for_help(argv) -> bool:
    """Whether the command line (`argv[0]` is the program) asks for --help (or --helpshort, -?)."""
    for arg in argv[1:]:
        if arg == "--":
            return False
        if arg in _HELP_ARGS:
            return True
    return False


def help_text(doc: str) -> str:
    """`doc` (the command's description) and the main flags of each algorithm, grouped."""
    lines = [textwrap.dedent(doc).strip(), ""]
    for title, names, shown in _HELP_SECTIONS:
        lines.append(title + ":")
        for name in names:
            if name in shown:
                lines.extend(_describe(FLAGS[name]))
        more = [f"--{name}" for name in names if name not in shown]
        if more:
            lines.extend(
                textwrap.wrap(
                    "more: " + ", ".join(more),
                    _WIDTH,
                    initial_indent="  ",
                    subsequent_indent="    ",
                )
            )
        lines.append("")
    lines.append(
        "Every flag with its help, absl's included (--verbosity, --flagfile, ...): --helpfull."
    )
    return "\n".join(lines)


def _describe(flag) -> list:
    """One flag for --help: `--name=default` then its help, wrapped at a column."""
    if isinstance(flag, flags.BooleanFlag) and flag.default is None:
        usage = f"  --[no]{flag.name}"
    elif flag.default is None:
        usage = f"  --{flag.name}"
    else:
        default = flag.default
        if isinstance(default, bool):
            default = str(default).lower()
        elif isinstance(default, (list, tuple)):
            default = ",".join(map(str, default))
        usage = f"  --{flag.name}={default}"
    text = flag.help  # absl starts an enum's help with its values: "<nash|darts|egnas|enas>: ..."
    indent = " " * _COLUMN
    if len(usage) < _COLUMN - 1:
        return textwrap.wrap(
            text, _WIDTH, initial_indent=usage.ljust(_COLUMN), subsequent_indent=indent
        )
    return [usage] + textwrap.wrap(text, _WIDTH, initial_indent=indent, subsequent_indent=indent)


def parse_flags(argv, doc: str) -> list:
    """Parse `argv` into FLAGS (absl's usage errors), or print `help_text(doc)` and exit 0 on
    --help."""
    if asks_for_help(argv):
        sys.stdout.write(help_text(doc) + "\n")
        sys.exit(0)
    return app.parse_flags_with_usage(argv)
