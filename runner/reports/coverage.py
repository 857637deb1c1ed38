"""Cobertura XML (coverage.py's ``coverage xml``) -> :class:`CoverageReport`.

Overall line and branch percentages come from the root element's counters
(``lines-valid``/``lines-covered``, ``branches-valid``/``branches-covered``)
and fall back to the per-file sums when those are missing. Per-file numbers
are computed from the ``<line>`` elements (``hits``, ``condition-coverage``).
File names are reported relative to the project: coverage.py writes them
relative to its ``<source>`` (``/workspace/backend`` -> ``app.py``), so the
part of the source path from ``root`` on is put back (``backend/app.py``).

The report is shaped by the agent's test code: every count must be a plain
non-negative integer below :data:`MAX_COUNT` (no NaN, infinity, exponent or
overflow), or the whole report is refused with a recorded error.

The gate is over application code: the headline numbers (``line_percent``,
``lines_valid``, ...) count only the files that :class:`CoverageScope` keeps
(by default everything but tests: :data:`DEFAULT_OMIT`), so writing more test
code cannot raise them. The scope is applied here, on the host, to the parsed
per-file data, not through a coverage configuration in the container: the
tests (and any ``.coveragerc``/``setup.cfg``/``pyproject.toml`` the agent wrote)
run there, and a custom ``test_command`` may not run coverage.py at all. The
report's own totals stay available as ``total_*``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, field_validator
from wcmatch import glob

from runner.config import DEFAULT_COVERAGE_OMIT
from runner.reports import xmlsafe

_CONDITION = re.compile(r"\((\d{1,9})\s*/\s*(\d{1,9})\)")
_INTEGER = re.compile(r"\+?(\d{1,18})(?:\.0*)?")  # "12" and "12.0" (some writers add ".0")
MAX_COUNT = 10**12  # more lines or hits than any real project: refuse, never overflow a float
# Test code, not application code: left out of the gated numbers unless configured otherwise.
DEFAULT_OMIT: tuple[str, ...] = DEFAULT_COVERAGE_OMIT
MAX_PATTERNS = 100
MAX_PATTERN_CHARS = 300
_GLOB_FLAGS = glob.GLOBSTAR | glob.BRACE | glob.DOTGLOB


class CoverageScope(BaseModel):
    """Which files count toward the gated numbers: those matching ``include`` (every file
    when empty) and no ``omit`` pattern. Globs over project-relative names
    (``backend/app/main.py``): ``**`` any number of directories, ``{a,b}``, ``[...]``."""

    model_config = ConfigDict(extra="forbid")

    omit: list[str] = Field(default_factory=lambda: list(DEFAULT_OMIT),
                            max_length=MAX_PATTERNS)
    include: list[str] = Field(default_factory=list, max_length=MAX_PATTERNS)

    @field_validator("omit", "include")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not pattern.strip() or len(pattern) > MAX_PATTERN_CHARS or "\x00" in pattern:
                raise ValueError(f"not a usable glob pattern: {pattern[:60]!r}")
            if pattern.startswith("/") or ".." in pattern.split("/"):
                raise ValueError(f"patterns are project-relative: {pattern[:60]!r}")
        return value

    def counts(self, name: str) -> bool:
        if self.include and not glob.globmatch(name, self.include, flags=_GLOB_FLAGS):
            return False
        return not (self.omit and glob.globmatch(name, self.omit, flags=_GLOB_FLAGS))


class FileCoverage(BaseModel):
    file: str
    line_percent: float
    branch_percent: float | None = None
    lines_valid: int = 0
    lines_covered: int = 0
    branches_valid: int = 0
    branches_covered: int = 0
    counted: bool = True  # False: outside the gated scope (test code by default)


class CoverageReport(BaseModel):
    # The gated numbers: over the files in scope (application code)
    line_percent: float | None = None
    branch_percent: float | None = None  # None: no branch data (or no branches)
    lines_valid: int = 0
    lines_covered: int = 0
    branches_valid: int = 0
    branches_covered: int = 0
    files: list[FileCoverage] = Field(default_factory=list)
    files_omitted: int = 0  # files in the report but outside the scope (their lines not gated)
    # The report's own totals, every measured file included (tests too)
    total_line_percent: float | None = None
    total_lines_valid: int = 0
    total_lines_covered: int = 0
    error: str | None = None  # the report could not be read (missing, unsafe, garbled)


def _pct(covered: int, valid: int) -> float:
    return round(100.0 * covered / valid, 4) if valid else 100.0


def _int_attr(elem: ET.Element, name: str) -> int | None:
    """A non-negative integer attribute, or None when absent. Anything else (NaN, inf,
    exponents, huge numbers, fractions) is a ValueError: the report is agent-shaped."""
    raw = elem.get(name)
    if raw is None:
        return None
    m = _INTEGER.fullmatch(raw.strip())
    if m is None:
        raise ValueError(f"attribute {name}={raw[:40]!r} is not a non-negative integer")
    value = int(m.group(1))
    if value > MAX_COUNT:
        raise ValueError(f"attribute {name}={raw[:40]!r} is implausibly large (> {MAX_COUNT})")
    return value


def _source_prefix(sources: list[str], root: str) -> str:
    """The project-relative directory the file names are relative to ('' if unknown)."""
    for src in sources:
        parts = PurePosixPath(src.replace("\\", "/")).parts
        if root in parts:
            idx = len(parts) - 1 - parts[::-1].index(root)
            return "/".join(parts[idx:])
    return ""


def _display_name(filename: str, prefix: str, root: str) -> str:
    name = filename.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    if prefix and not (name == root or name.startswith(root + "/")):
        name = f"{prefix}/{name}"
    return name


class _Acc:
    def __init__(self) -> None:
        self.lines: dict[int, int] = {}
        self.branches: dict[int, tuple[int, int]] = {}


def parse_cobertura(path: Path, *, root: str = "backend",
                    scope: CoverageScope | None = None) -> CoverageReport:
    """Parse a Cobertura XML file; the headline numbers cover the files in ``scope`` (default:
    no test code). Problems are reported in ``CoverageReport.error``."""
    try:
        doc = xmlsafe.parse_file(path)
    except FileNotFoundError:
        return CoverageReport(error=f"{path}: no coverage report (file not found)")
    except OSError as exc:
        return CoverageReport(error=f"{path}: cannot read coverage report: {exc.strerror or exc}")
    except ValueError as exc:
        return CoverageReport(error=f"{path}: invalid coverage XML: {exc}")
    try:
        return _from_root(doc, root, scope or CoverageScope())
    except (ValueError, OverflowError, RecursionError) as exc:
        return CoverageReport(error=f"{path}: invalid coverage XML: {exc}")


def _from_root(doc: ET.Element, root: str, scope: CoverageScope) -> CoverageReport:
    if doc.tag != "coverage":
        raise ValueError(f"root element is <{doc.tag}>, expected <coverage>")
    sources = [(s.text or "").strip() for s in doc.iterfind("./sources/source")]
    prefix = _source_prefix(sources, root)
    files: dict[str, _Acc] = {}
    for cls in doc.iter("class"):
        filename = cls.get("filename")
        if not filename:
            raise ValueError("<class> without a filename")
        acc = files.setdefault(_display_name(filename, prefix, root), _Acc())
        for line in cls.iterfind("./lines/line"):
            number = _int_attr(line, "number")
            hits = _int_attr(line, "hits") or 0
            if number is None:
                raise ValueError("<line> without a number")
            acc.lines[number] = max(acc.lines.get(number, 0), hits)
            if line.get("branch") == "true":
                raw = line.get("condition-coverage", "")
                m = _CONDITION.search(raw)
                if m is None and "(" in raw:
                    raise ValueError(f"condition-coverage={raw[:40]!r} is not 'N% (c/v)'")
                if m:
                    covered, valid = int(m.group(1)), int(m.group(2))
                    if covered > valid:
                        raise ValueError("covered count exceeds valid count")
                    prev = acc.branches.get(number, (0, 0))
                    acc.branches[number] = (max(prev[0], covered), max(prev[1], valid))

    per_file: list[FileCoverage] = []
    for name in sorted(files):
        acc = files[name]
        lv, lc = len(acc.lines), sum(1 for h in acc.lines.values() if h > 0)
        bv = sum(v for _, v in acc.branches.values())
        bc = sum(c for c, _ in acc.branches.values())
        per_file.append(
            FileCoverage(
                file=name, line_percent=_pct(lc, lv), branch_percent=_pct(bc, bv) if bv else None,
                lines_valid=lv, lines_covered=lc, branches_valid=bv, branches_covered=bc,
                counted=scope.counts(name),
            )
        )

    lv_root, lc_root = _int_attr(doc, "lines-valid"), _int_attr(doc, "lines-covered")
    bv_root, bc_root = _int_attr(doc, "branches-valid"), _int_attr(doc, "branches-covered")
    total_valid = lv_root if lv_root is not None else sum(f.lines_valid for f in per_file)
    total_covered = lc_root if lc_root is not None else sum(f.lines_covered for f in per_file)
    if total_covered > total_valid or (bc_root or 0) > (bv_root or 0):
        raise ValueError("covered count exceeds valid count")
    # The gate is computed from the per-file data, never from the root counters: those
    # include the omitted files (and nothing ties them to the <line> elements).
    counted = [f for f in per_file if f.counted]
    lines_valid = sum(f.lines_valid for f in counted)
    lines_covered = sum(f.lines_covered for f in counted)
    br_valid = sum(f.branches_valid for f in counted)
    br_covered = sum(f.branches_covered for f in counted)
    if not per_file:  # a report without file data: its own counters are all there is
        lines_valid, lines_covered = total_valid, total_covered
    return CoverageReport(
        line_percent=_pct(lines_covered, lines_valid),
        branch_percent=_pct(br_covered, br_valid) if br_valid else None,
        lines_valid=lines_valid, lines_covered=lines_covered,
        branches_valid=br_valid, branches_covered=br_covered, files=per_file,
        files_omitted=len(per_file) - len(counted),
        total_line_percent=_pct(total_covered, total_valid),
        total_lines_valid=total_valid, total_lines_covered=total_covered,
    )


def _relative_to(path: str, base: str) -> str | None:
    """``path`` relative to ``base`` ('' for base itself), or None when it is outside."""
    p, b = PurePosixPath(path.replace("\\", "/")), PurePosixPath(base)
    if not p.is_absolute() or ".." in p.parts:
        return None
    try:
        rel = p.relative_to(b)
    except ValueError:
        return None
    return "" if str(rel) == "." else str(rel)


def project_relative(doc: ET.Element, workspace: str) -> bool:
    """Rewrite a coverage.py Cobertura tree in place so that file names are relative to the
    project root (``backend/app/main.py``) and the one ``<source>`` is ``.``: what GitLab
    needs to place coverage in merge-request diffs. File names are joined to the first
    ``<source>`` inside ``workspace`` (the container's project mount); a report without one
    is left alone (False)."""
    sources = [(s.text or "").strip() for s in doc.iterfind("./sources/source")]
    prefix = next((r for s in sources if (r := _relative_to(s, workspace)) is not None), None)
    if prefix is None:
        return False
    for cls in doc.iter("class"):
        name = (cls.get("filename") or "").replace("\\", "/")
        while name.startswith("./"):
            name = name[2:]
        if not name:
            continue
        if name.startswith("/"):  # outside every source: kept unless inside the project
            inside = _relative_to(name, workspace)
            if inside:
                cls.set("filename", inside)
            continue
        cls.set("filename", f"{prefix}/{name}" if prefix else name)
    container = doc.find("./sources")
    if container is not None:
        for child in list(container):
            container.remove(child)
        ET.SubElement(container, "source").text = "."
    return True


def rewrite_sources(path: Path, workspace: str) -> str | None:
    """:func:`project_relative` on the regular file ``path`` (the host's copy in the run
    directory), replaced atomically; parsed through :mod:`.xmlsafe`, so nothing unsafe is
    read and the result stays under the size cap. None when rewritten, else why not."""
    try:
        doc = xmlsafe.parse_file(path)
    except (OSError, ValueError, RecursionError) as exc:
        return f"not rewritten: {exc}"
    if doc.tag != "coverage":
        return "not rewritten: not a Cobertura report"
    # each file name grows by at most the source prefix: refuse what could exceed the cap
    longest = max((len((s.text or "")) for s in doc.iterfind("./sources/source")), default=0)
    classes = sum(1 for _ in doc.iter("class"))
    if path.stat().st_size + classes * (longest + 1) > xmlsafe.MAX_XML_BYTES:
        return "not rewritten: the result could exceed the size cap"
    if not project_relative(doc, workspace):
        return f"not rewritten: no <source> under {workspace}"
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "xb") as fh:  # the run directory is the host's; created exclusively
            ET.ElementTree(doc).write(fh, encoding="utf-8", xml_declaration=True)
        tmp.replace(path)
    except (OSError, RecursionError, ValueError) as exc:  # deep nesting: the writer recurses
        tmp.unlink(missing_ok=True)
        return f"not rewritten: {type(exc).__name__}"
    return None
