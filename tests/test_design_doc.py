"""docs/design.md's module map is a contract for the code: complete, and naming only what exists.

The naming rule (stated in the section itself too):

- the section is everything from the ``## Module map`` heading to the next ``## `` heading;
- a table row's first cell is either top-level modules of ``runner/`` (it names a ``.py``
  file, e.g. ``config.py``) or exactly one package (``policy/shell/``); the row's *base* is
  ``runner/`` for the former and ``runner/<package>`` for the latter (``runner/`` for any
  line that is not a table row);
- every ``something.py`` in the section (words joined by ``/``, backticked or not) names the
  file at ``<base>/something.py``, unless it starts with ``runner/``: then it is relative to
  the repository. So ``git.py`` in the ``policy/shell/handlers/`` row, ``handlers/git.py`` in
  the ``policy/shell/`` row and ``runner/policy/shell/handlers/git.py`` anywhere all name the
  same module, and a bare ``verify.py`` can only mean the module of its own row's package.

Every ``runner/**/*.py`` but ``__init__.py`` and ``__main__.py`` must be named at least once,
and every name must be a file that exists.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
DESIGN = ROOT / "docs" / "design.md"
HEADING = "## Module map"

MODULE_NAME = re.compile(r"(?<![\w/.-])((?:\w+/)*\w+\.py)\b")
BACKTICKED = re.compile(r"`([^`]+)`")
TOP = PurePosixPath("runner")


def module_map(text: str) -> list[str]:
    """The lines of the module map section (its heading excluded)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(HEADING)]
    assert len(starts) == 1, f"expected one {HEADING!r} heading, found {len(starts)}"
    body: list[str] = []
    for line in lines[starts[0] + 1:]:
        if line.startswith("## "):
            break
        body.append(line)
    return body


def row_base(first_cell: str) -> PurePosixPath:
    """``runner/`` for a row of top-level modules, ``runner/<package>`` for a package's row."""
    names = BACKTICKED.findall(first_cell)
    if len(names) == 1 and names[0].endswith("/"):
        return TOP / names[0].rstrip("/")
    return TOP


def named_modules(section: list[str]) -> set[PurePosixPath]:
    """Every module the section names, as a path relative to the repository."""
    named: set[PurePosixPath] = set()
    for line in section:
        base = TOP
        stripped = line.strip()
        if stripped.startswith("|"):
            cells = stripped.strip("|").split("|", 1)
            if len(cells) == 2:
                base = row_base(cells[0])
        for name in MODULE_NAME.findall(line):
            named.add(PurePosixPath(name) if name.startswith("runner/") else base / name)
    return named


def package_rows(section: list[str]) -> set[PurePosixPath]:
    return {row_base(line.strip().strip("|").split("|", 1)[0])
            for line in section if line.strip().startswith("|")} - {TOP}


def runner_modules() -> set[PurePosixPath]:
    return {PurePosixPath(p.relative_to(ROOT).as_posix())
            for p in (ROOT / "runner").rglob("*.py")
            if p.name not in ("__init__.py", "__main__.py")}


def test_every_module_under_runner_is_named_in_the_module_map() -> None:
    named = named_modules(module_map(DESIGN.read_text(encoding="utf-8")))
    unnamed = sorted(str(p) for p in runner_modules() - named)
    assert not unnamed, f"modules missing from docs/design.md's module map: {unnamed}"


def test_every_module_the_module_map_names_exists() -> None:
    named = named_modules(module_map(DESIGN.read_text(encoding="utf-8")))
    missing = sorted(str(p) for p in named if not (ROOT / p).is_file())
    assert not missing, f"docs/design.md's module map names modules that do not exist: {missing}"


def test_every_package_row_is_a_package() -> None:
    rows = package_rows(module_map(DESIGN.read_text(encoding="utf-8")))
    assert rows, "the module map has no package rows"
    missing = sorted(str(p) for p in rows if not (ROOT / p / "__init__.py").is_file())
    assert not missing, f"module map rows for packages that do not exist: {missing}"


def test_names_resolve_against_their_row() -> None:
    section = module_map("\n".join([
        "# doc", "## Module map (`runner/`)", "the rule names `errors.py`.",
        "| module | owns |", "|---|---|",
        "| `config.py`, `agents/` | `settings.py`, and `policy/secrets.py` (deny) |",
        "| `policy/shell/` | `walker.py`, `handlers/git.py`, not `x.pyc` nor `runner.agent.relay` |",
        "| `egress/` | `proxy.py`; decided by `decisions.py` and `runner/decisions.py` |",
        "## Contracts", "| `cli/` | `run.py` |",
    ]))
    assert named_modules(section) == {
        TOP / "errors.py", TOP / "config.py", TOP / "settings.py", TOP / "policy/secrets.py",
        TOP / "policy/shell/walker.py", TOP / "policy/shell/handlers/git.py",
        TOP / "egress/proxy.py", TOP / "egress/decisions.py", TOP / "decisions.py",
    }
    assert package_rows(section) == {TOP / "policy/shell", TOP / "egress"}
