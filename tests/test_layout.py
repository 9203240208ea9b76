"""The package layout: one package per algorithm, modules under 600 lines, imports pointing one
way."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_nash"

# Each layer may import only the layers below it (and the foundations: checks, files, internals,
# logs, optimizers, schedules). The command line and the package's __init__ sit on top.
LAYERS = [
    {"checks", "files", "internals", "logs", "identity", "progress"},
    {"optimizers", "precision", "schedules", "layers"},
    {"graph"},
    {"morphisms", "spaces", "seed_models"},
    {"data", "datasets", "export", "report"},
    {"tuners"},
    {"cli_flags", "cli_help", "cli_supernet_flags", "__main__", "__init__"},
]


def _group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _level(group: str) -> int:
    for index, groups in enumerate(LAYERS):
        if group in groups:
            return index
    raise AssertionError(f"keras_nash.{group} is in no layer of tests/test_layout.py: add it")


def _imports(path):
    """keras_nash modules a file imports at module level (imports inside functions are lazy)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("keras_nash")
        ):
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}" for alias in node.names if node.module == "keras_nash"
            )
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("keras_nash"))
    return found


def _module_name(path):
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# 600 lines as ruff's formatter lays the code out (about 500 before it): a size a reader takes
# in; a module is split where it holds two concepts, not to meet this.
MAX_LINES = 600


def test_no_module_over_max_lines():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_imports_point_one_way():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        if name == "keras_nash":
            continue
        level = _level(_group(name))
        for imported in _imports(path):
            if imported == "keras_nash":
                continue
            if _level(_group(imported)) > level:
                upward.append(f"{name} -> {imported}")
    assert not upward, "imports that point up the layers: " + ", ".join(sorted(upward))


def test_no_import_cycle():
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        graph[_module_name(path)] = {m for m in _imports(path) if m != "keras_nash"}
    visiting, done = set(), set()

    def visit(module, trail):
        if module in done or module not in graph:
            return
        assert module not in visiting, "import cycle: " + " -> ".join(trail + [module])
        visiting.add(module)
        for imported in graph[module]:
            visit(imported, trail + [module])
        visiting.discard(module)
        done.add(module)

    for module in graph:
        visit(module, [])
