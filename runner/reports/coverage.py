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
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field

from runner.reports import xmlsafe

_CONDITION = re.compile(r"\((\d{1,9})\s*/\s*(\d{1,9})\)")
_INTEGER = re.compile(r"\+?(\d{1,18})(?:\.0*)?")  # "12" and "12.0" (some writers add ".0")
MAX_COUNT = 10**12  # more lines or hits than any real project: refuse, never overflow a float


class FileCoverage(BaseModel):
    file: str
    line_percent: float
    branch_percent: float | None = None
    lines_valid: int = 0
    lines_covered: int = 0
    branches_valid: int = 0
    branches_covered: int = 0


class CoverageReport(BaseModel):
    line_percent: float | None = None
    branch_percent: float | None = None  # None: no branch data (or no branches)
    lines_valid: int = 0
    lines_covered: int = 0
    branches_valid: int = 0
    branches_covered: int = 0
    files: list[FileCoverage] = Field(default_factory=list)
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


def parse_cobertura(path: Path, *, root: str = "backend") -> CoverageReport:
    """Parse a Cobertura XML file; problems are reported in ``CoverageReport.error``."""
    try:
        doc = xmlsafe.parse_file(path)
    except FileNotFoundError:
        return CoverageReport(error=f"{path}: no coverage report (file not found)")
    except OSError as exc:
        return CoverageReport(error=f"{path}: cannot read coverage report: {exc.strerror or exc}")
    except ValueError as exc:
        return CoverageReport(error=f"{path}: invalid coverage XML: {exc}")
    try:
        return _from_root(doc, root)
    except (ValueError, OverflowError, RecursionError) as exc:
        return CoverageReport(error=f"{path}: invalid coverage XML: {exc}")


def _from_root(doc: ET.Element, root: str) -> CoverageReport:
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
            )
        )

    lv_root, lc_root = _int_attr(doc, "lines-valid"), _int_attr(doc, "lines-covered")
    bv_root, bc_root = _int_attr(doc, "branches-valid"), _int_attr(doc, "branches-covered")
    lines_valid = lv_root if lv_root is not None else sum(f.lines_valid for f in per_file)
    lines_covered = lc_root if lc_root is not None else sum(f.lines_covered for f in per_file)
    br_valid = bv_root if bv_root is not None else sum(f.branches_valid for f in per_file)
    br_covered = bc_root if bc_root is not None else sum(f.branches_covered for f in per_file)
    if lines_covered > lines_valid or br_covered > br_valid:
        raise ValueError("covered count exceeds valid count")
    return CoverageReport(
        line_percent=_pct(lines_covered, lines_valid),
        branch_percent=_pct(br_covered, br_valid) if br_valid else None,
        lines_valid=lines_valid, lines_covered=lines_covered,
        branches_valid=br_valid, branches_covered=br_covered, files=per_file,
    )
