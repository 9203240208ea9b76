"""The documentation: a short README with docs/ behind it, its commands true, its links whole.

Plain text checks (no TensorFlow): README.md's size, table cells short enough to read, every
docs page linked from the README, the README's install and test commands the ones CI runs, and
every relative link (and its #anchor) in README.md and docs/*.md leading somewhere.
"""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = ["benchmarks", "cli", "scaling", "resume", "fidelity", "architecture"]
MAX_WORDS = 1500
MAX_CELL = 300

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _prose(text: str) -> str:
    """The text without its fenced code blocks."""
    return FENCE.sub("", text)


def _links(text: str) -> list:
    return LINK.findall(_prose(text))


def _table_cells(text: str) -> list:
    """Every cell of every markdown table row (a line starting with `|`), outside code blocks."""
    cells = []
    for line in _prose(text).splitlines():
        line = line.strip()
        if not line.startswith("|"):
            continue
        row = re.sub(r"\\\|", "\0", line).strip("|")  # an escaped \| is not a column break
        cells.extend(cell.replace("\0", "|").strip() for cell in row.split("|"))
    return cells


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: pathlib.Path) -> set:
    headings = re.findall(r"^#+\s+(.*)$", _prose(path.read_text()), re.M)
    return {_slug(h) for h in headings}


def _ci_line(marker: str) -> str:
    """The command in .ci/run that follows the comment line `# README: <marker>`."""
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip() == f"# README: {marker}":
            return lines[index + 1].strip()
    raise AssertionError(f".ci/run has no '# README: {marker}' line")


def _code_block_after(heading: str) -> str:
    """The first line of the first fenced block under `## <heading>` in README.md."""
    text = README.read_text()
    section = text.split(f"\n## {heading}\n", 1)
    assert len(section) == 2, f"README.md has no '## {heading}' section"
    block = re.search(r"^```[^\n]*\n(.*?)^```", section[1], re.S | re.M)
    assert block, f"README.md's '## {heading}' section has no code block"
    return block.group(1).strip().splitlines()[0]


def test_readme_is_short():
    words = len(README.read_text().split())
    assert words < MAX_WORDS, f"README.md has {words} words; keep it under {MAX_WORDS}, move detail to docs/"


@pytest.mark.parametrize("path", [README] + DOCS, ids=lambda p: p.name)
def test_table_cells_are_short(path):
    long = [cell[:60] + "..." for cell in _table_cells(path.read_text()) if len(cell) > MAX_CELL]
    assert not long, f"{path.name}: table cells over {MAX_CELL} characters: {long}"


def test_every_docs_page_exists_and_is_linked_from_readme():
    linked = {link.split("#")[0] for link in _links(README.read_text())}
    expected = {f"docs/{page}.md" for page in PAGES} | {f"docs/{p.name}" for p in DOCS}
    missing = sorted(page for page in expected if not (ROOT / page).is_file())
    assert not missing, f"docs pages missing: {missing}"
    unlinked = sorted(expected - linked)
    assert not unlinked, f"docs pages not linked from README.md: {unlinked}"


def test_readme_commands_are_the_ones_ci_runs():
    assert _code_block_after("Install") == _ci_line("install")
    assert _code_block_after("Test") == _ci_line("tests")
    assert _ci_line("lint") in README.read_text()
    assert _code_block_after("Run") == "python -m keras_nash"


@pytest.mark.parametrize("path", [README] + DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(path):
    broken = []
    for link in _links(path.read_text()):
        if re.match(r"[a-z]+:", link):  # http:, https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        target_path = (path.parent / target).resolve() if target else path
        if not target_path.exists():
            broken.append(link)
        elif anchor and target_path.suffix == ".md" and anchor not in _anchors(target_path):
            broken.append(link)
    assert not broken, f"{path.name}: links to nothing: {broken}"


def test_slug_matches_github():
    assert _slug("The main command (default_run.py)") == "the-main-command-default_runpy"
    assert _slug("Imports point one way") == "imports-point-one-way"
