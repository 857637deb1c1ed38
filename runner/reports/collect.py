"""Turn a finished run's files into the result parts of the summary.

``collect_results`` is what the run calls after verification: it parses the
runner-owned reports, evaluates the gates, copies and parses ``issues.md``
and writes ``backend.diff``/``issues.json`` into the run directory.
``apply_results`` fills a :class:`RunSummary` from it.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field

from runner.reports.coverage import CoverageReport, parse_cobertura
from runner.reports.diff import BackendDiff, Snapshot, diff_backend
from runner.reports.gates import Gate, evaluate_gates
from runner.reports.issues import IssueEntry, parse_issues_md, read_issues_file
from runner.reports.junit import TestResults, parse_junit
from runner.reports.summary import (
    DECISIONS_JSONL,
    ChangeStats,
    DecisionStats,
    RunSummary,
    read_decisions,
    summarize_decisions,
    write_json_atomic,
)
from runner.reports.verify import VerificationResult

ISSUES_MD = "issues.md"
ISSUES_JSON = "issues.json"
BACKEND_DIFF = "backend.diff"
REPORTS_DIR = "reports"


class CollectedResults(BaseModel):
    tests: TestResults
    coverage: CoverageReport | None
    gates: list[Gate]
    issues: list[IssueEntry] = Field(default_factory=list)
    changes: ChangeStats = Field(default_factory=ChangeStats)
    threshold: float


def _tests_from(verification: VerificationResult | None, junit: Path) -> TestResults:
    if verification is not None and verification.error:
        return TestResults(error=verification.error)
    tests = parse_junit(junit)
    if tests.error and verification is not None:
        if verification.timed_out:
            tests.error = "verification timed out; " + tests.error
        elif verification.oom_killed:
            tests.error = "verification was OOM-killed; " + tests.error
        elif verification.exit_code not in (None, 0):
            tests.error = f"test command exited {verification.exit_code}; " + tests.error
    return tests


def collect_issues(project: Path, run_dir: Path) -> list[IssueEntry]:
    """Copy ``issues.md`` into the run dir and write ``issues.json`` (empty list when absent)."""
    text = read_issues_file(project / ISSUES_MD)
    entries = parse_issues_md(text) if text is not None else []
    if text is not None:
        (run_dir / ISSUES_MD).write_text(text, encoding="utf-8")
    data = [e.model_dump() for e in entries]
    write_json_atomic(run_dir / ISSUES_JSON, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return entries


def collect_diff(project: Path, run_dir: Path, before: Snapshot) -> BackendDiff:
    diff = diff_backend(project, before)
    (run_dir / BACKEND_DIFF).write_text(diff.diff, encoding="utf-8")
    return diff


def collect_results(
    *,
    run_dir: Path,
    project: Path,
    before: Snapshot | None,
    verification: VerificationResult | None,
    threshold: float,
) -> CollectedResults:
    """Parse, gate, and write ``issues.md``/``issues.json``/``backend.diff`` into ``run_dir``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    reports = run_dir / REPORTS_DIR
    junit = (verification.junit_path if verification else None) or reports / "junit.xml"
    cov_path = (verification.coverage_path if verification else None) or reports / "coverage.xml"
    tests = _tests_from(verification, junit)
    coverage = parse_cobertura(cov_path) if verification is None or not verification.error else None
    gates = evaluate_gates(tests, coverage, threshold)
    issues = collect_issues(project, run_dir)
    changes = ChangeStats()
    if before is not None:
        diff = collect_diff(project, run_dir, before)
        changes = ChangeStats(
            files_added=diff.files_added, files_modified=diff.files_modified,
            files_deleted=diff.files_deleted, lines_added=diff.lines_added,
            lines_removed=diff.lines_removed,
        )
    return CollectedResults(tests=tests, coverage=coverage, gates=gates, issues=issues,
                            changes=changes, threshold=threshold)


def decision_stats(run_dir: Path, *, policies: tuple[str, ...] = ()) -> DecisionStats:
    entries, bad = read_decisions(run_dir / DECISIONS_JSONL)
    return summarize_decisions(entries, policies=policies, malformed=bad)


def apply_results(summary: RunSummary, results: CollectedResults) -> RunSummary:
    """A copy of ``summary`` with the collected parts filled in."""
    return summary.model_copy(update={
        "tests": results.tests,
        "coverage": results.coverage,
        "gates": results.gates,
        "issues": RunSummary.issue_refs(results.issues),
        "changes": results.changes,
        "coverage_threshold": results.threshold,
    })
