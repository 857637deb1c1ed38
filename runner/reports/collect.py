"""Turn a finished run's files into the result parts of the summary.

``collect_results`` is what the run calls after verification: it writes
``backend.diff`` (first), copies and parses ``issues.md`` into ``issues.json``,
flags persistence artifacts under the writable paths, parses the runner-owned
reports, checks that the exit code, the JUnit report and the runner's own
count agree, and evaluates the gates. ``apply_results`` fills a
:class:`RunSummary` from it.

Everything read here was shaped by the agent, so every step is isolated: a
step that fails (a hostile report, a parser bug) is recorded as a
:class:`CollectionError`, the other steps still run, and the failure becomes a
failed ``results`` gate rather than a traceback and a missing summary.
Workspace files are read only through :class:`WorkspaceFS` with the run's
masks (nothing followed, nothing blocking, no masked path read).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, Field

from runner.hostfs import WorkspaceFS
from runner.reports.coverage import CoverageReport, CoverageScope, parse_cobertura
from runner.reports.diff import Snapshot, diff_backend, masked_by, truncation_note
from runner.reports.gates import Gate, evaluate_gates
from runner.reports.issues import IssueEntry, parse_issues_md, read_issues_file
from runner.reports.junit import TestResults, parse_junit
from runner.reports.outcomes import disagreement
from runner.reports.persistence import PersistenceScan, scan_persistence
from runner.reports.summary import (
    DECISIONS_JSONL,
    ChangeStats,
    CollectionError,
    DecisionStats,
    PersistenceArtifact,
    RunSummary,
    read_decisions,
    summarize_decisions,
    write_json_atomic,
)
from runner.reports.verification import COVERAGE_NAME, JUNIT_NAME, VerificationResult
from runner.sanitize import one_line

ISSUES_MD = "issues.md"
ISSUES_JSON = "issues.json"
BACKEND_DIFF = "backend.diff"
REPORTS_DIR = "reports"
BACKEND = "backend"
DEFAULT_WRITABLE = ("backend/", "issues.md")
RESULTS_GATE = "results"

T = TypeVar("T")


class CollectedResults(BaseModel):
    tests: TestResults
    coverage: CoverageReport | None
    gates: list[Gate]
    issues: list[IssueEntry] = Field(default_factory=list)
    changes: ChangeStats = Field(default_factory=ChangeStats)
    persistence: list[PersistenceArtifact] = Field(default_factory=list)
    persistence_omitted: int = 0
    errors: list[CollectionError] = Field(default_factory=list)
    threshold: float


class Steps:
    """Runs collection steps; a failing step is recorded and yields its fallback."""

    def __init__(self) -> None:
        self.errors: list[CollectionError] = []

    def run(self, name: str, fn: Callable[[], T], fallback: Callable[[], T]) -> T:
        try:
            return fn()
        except Exception as exc:  # isolation is the point: record, then go on
            self.errors.append(CollectionError(
                step=name, error=one_line(f"{type(exc).__name__}: {exc}", 500)))
            return fallback()


def _tests_from(verification: VerificationResult | None, junit: Path) -> TestResults:
    if verification is not None and verification.error:
        return TestResults(error=verification.error)
    if verification is not None and verification.junit_path is None:
        why = verification.report_errors.get(JUNIT_NAME)
        tests = TestResults(error=f"{JUNIT_NAME} was not copied: {why}" if why
                            else "the test command wrote no JUnit report")
    else:
        tests = parse_junit(junit)
    if tests.error and verification is not None:
        if verification.timed_out:
            tests.error = "verification timed out; " + tests.error
        elif verification.oom_killed:
            tests.error = "verification was OOM-killed; " + tests.error
        elif verification.exit_code not in (None, 0):
            tests.error = f"test command exited {verification.exit_code}; " + tests.error
    elif verification is not None:
        tests.disagreement = disagreement(
            exit_code=verification.exit_code, tests=tests, outcomes=verification.outcomes,
            outcomes_error=verification.outcomes_error,
            default_command=verification.default_command)
    return tests


def _coverage_from(verification: VerificationResult | None, path: Path,
                   scope: CoverageScope | None = None) -> CoverageReport | None:
    if verification is not None and verification.error:
        return None
    if verification is not None and verification.coverage_path is None:
        why = verification.report_errors.get(COVERAGE_NAME)
        return CoverageReport(error=f"{COVERAGE_NAME} was not copied: {why}" if why
                              else "the test command wrote no coverage report")
    return parse_cobertura(path, scope=scope)


def collect_issues(fs: WorkspaceFS, run_dir: Path) -> list[IssueEntry]:
    """Copy ``issues.md`` into the run dir and write ``issues.json`` (empty list when absent)."""
    text = read_issues_file(fs, ISSUES_MD)
    if text is not None:
        (run_dir / ISSUES_MD).write_text(text, encoding="utf-8")
    entries: list[IssueEntry] = []
    try:
        if text is not None:
            entries = parse_issues_md(text)
    finally:  # issues.json exists even when parsing failed
        data = [e.model_dump() for e in entries]
        write_json_atomic(run_dir / ISSUES_JSON,
                          json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return entries


def collect_diff(project: Path, run_dir: Path, before: Snapshot,
                 is_masked: Callable[[str], bool] | None = None) -> ChangeStats:
    """Write ``backend.diff`` (with a trailer when truncated); the change counts."""
    try:
        diff = diff_backend(project, before, subdir=BACKEND, is_masked=is_masked)
    except Exception as exc:
        (run_dir / BACKEND_DIFF).write_text(
            f"# sandbox-runner: the diff could not be computed: "
            f"{one_line(f'{type(exc).__name__}: {exc}', 300)}\n", encoding="utf-8")
        raise
    text = diff.diff + (truncation_note(diff) if diff.truncated else "")
    (run_dir / BACKEND_DIFF).write_text(text, encoding="utf-8")
    return ChangeStats(
        files_added=diff.files_added, files_modified=diff.files_modified,
        files_deleted=diff.files_deleted, lines_added=diff.lines_added,
        lines_removed=diff.lines_removed, diff_truncated=diff.truncated,
        diff_total_lines=diff.total_lines,
    )


def with_results_gate(gates: list[Gate], errors: list[CollectionError]) -> list[Gate]:
    """``gates`` with a failed ``results`` gate when a collection step failed (a run whose
    results could not all be collected does not pass)."""
    kept = [g for g in gates if g.name != RESULTS_GATE]
    if not errors:
        return kept
    listed = "; ".join(f"{e.step}: {e.error}" for e in errors[:3])
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return [*kept, Gate(name=RESULTS_GATE, passed=False,
                        detail=f"result collection failed: {listed}{more}")]


def collect_results(
    *,
    run_dir: Path,
    project: Path,
    before: Snapshot | None,
    verification: VerificationResult | None,
    threshold: float,
    writable: Sequence[str] = DEFAULT_WRITABLE,
    secret_paths: Sequence[str] = (),
    coverage_scope: CoverageScope | None = None,
) -> CollectedResults:
    """Write ``backend.diff``, ``issues.md``/``issues.json`` into ``run_dir``; flag, parse,
    compare and gate (coverage over ``coverage_scope``, default: no test code). Never raises
    for anything the agent shaped."""
    run_dir.mkdir(parents=True, exist_ok=True)
    steps = Steps()
    is_masked = masked_by(secret_paths)
    fs = WorkspaceFS(project, is_masked=is_masked)

    changes = ChangeStats()
    if before is not None:  # first: the agent's changes get reviewed whatever else fails
        changes = steps.run("diff", lambda: collect_diff(project, run_dir, before, is_masked),
                            ChangeStats)
    issues: list[IssueEntry] = steps.run("issues", lambda: collect_issues(fs, run_dir), list)
    scan = steps.run("persistence",
                     lambda: scan_persistence(fs, writable, before=before, before_root=BACKEND),
                     PersistenceScan)
    if scan.incomplete:
        steps.errors.append(CollectionError(step="persistence", error=scan.incomplete))

    reports = run_dir / REPORTS_DIR
    junit = (verification.junit_path if verification else None) or reports / JUNIT_NAME
    cov_path = (verification.coverage_path if verification else None) or reports / COVERAGE_NAME
    tests = steps.run("tests", lambda: _tests_from(verification, junit),
                      lambda: TestResults(error="the JUnit report could not be processed"))
    coverage = steps.run("coverage", lambda: _coverage_from(verification, cov_path, coverage_scope),
                         lambda: CoverageReport(error="the coverage report could not be processed"))
    gates = evaluate_gates(tests, coverage, threshold)
    return CollectedResults(tests=tests, coverage=coverage, gates=gates, issues=issues,
                            changes=changes, persistence=scan.artifacts,
                            persistence_omitted=scan.omitted, errors=steps.errors,
                            threshold=threshold)


def decision_stats(run_dir: Path, *, policies: tuple[str, ...] = ()) -> DecisionStats:
    entries, bad = read_decisions(run_dir / DECISIONS_JSONL)
    return summarize_decisions(entries, policies=policies, malformed=bad)


def apply_results(summary: RunSummary, results: CollectedResults) -> RunSummary:
    """A copy of ``summary`` with the collected parts filled in."""
    errors = [*summary.collection_errors, *results.errors]
    return summary.model_copy(update={
        "tests": results.tests,
        "coverage": results.coverage,
        "gates": with_results_gate(results.gates, errors),
        "issues": RunSummary.issue_refs(results.issues),
        "changes": results.changes,
        "persistence": results.persistence,
        "persistence_omitted": results.persistence_omitted,
        "collection_errors": errors,
        "coverage_threshold": results.threshold,
    })
