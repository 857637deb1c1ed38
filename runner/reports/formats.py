"""``report --format``: one entry point from a run directory to each output format.

md and json render ``summary.json``; html is the auditors' page (written to
``RUN_DIR/report.html`` by default); sarif, github and gitlab render the findings of
:mod:`.findings` (denied decisions and failed gates) for code scanning, workflow
annotations and GitLab Code Quality.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from runner.errors import InputError

FORMATS = ("md", "json", "html", "sarif", "github", "gitlab")


@dataclass(frozen=True)
class Rendered:
    text: str
    default_target: Path | None = None  # None: stdout


def render_report(run_dir: Path, fmt: str) -> Rendered:
    """The report of ``run_dir`` in ``fmt`` (one of :data:`FORMATS`)."""
    from runner.reports.summary import load_summary

    if not run_dir.is_dir():
        raise InputError("run directory does not exist", path=run_dir)
    if fmt == "html":
        from runner.reports.html import render_html

        return Rendered(render_html(run_dir), run_dir / "report.html")
    summary = load_summary(run_dir)
    if fmt == "md":
        from runner.reports.markdown import render_markdown

        return Rendered(render_markdown(summary))
    if fmt == "json":
        return Rendered(summary.model_dump_json(indent=2) + "\n")
    from runner.reports.findings import collect_findings, default_redactor, run_dir_prefix

    findings = collect_findings(run_dir, summary, redact=default_redactor())
    prefix = run_dir_prefix(run_dir, summary)
    if fmt == "sarif":
        from runner.reports.sarif import dump_sarif

        return Rendered(dump_sarif(run_dir, summary, findings))
    if fmt == "github":
        from runner.reports.annotations import render_annotations

        return Rendered(render_annotations(findings, prefix))
    if fmt == "gitlab":
        from runner.reports.codequality import render_codequality

        return Rendered(render_codequality(findings, prefix))
    raise InputError(f"unknown report format {fmt!r} (one of {', '.join(FORMATS)})")


def write_report(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file, then a rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise InputError(f"cannot write: {exc.strerror or exc}", path=path) from None
