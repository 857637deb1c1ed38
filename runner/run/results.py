"""The results phase's end: the run's outcome, and what is written whatever happened.

:func:`settle` gives the summary its status and exit code (docs/design.md "Exit codes of
run"); :func:`write_results` writes run.json, summary.json/summary.md and the CI step
summary, each write isolated (one that fails is a collection error, the others still run;
summary.json at least).
"""

from __future__ import annotations

from pathlib import Path

from runner.errors import RunFailed, RunnerError
from runner.reports.collect import Steps
from runner.reports.markdown import render_markdown, write_step_summary
from runner.reports.summary import RunSummary, write_summary
from runner.run.rundir import RunRecord


def settle(summary: RunSummary, failure: RunnerError | None) -> None:
    """Status and exit code: the failure's (3 failed, 4 environment...), else 1 for a failed
    gate, else 0."""
    if failure is not None:
        summary.status = "failed" if isinstance(failure, RunFailed) else "error"
        summary.exit_code = failure.exit_code
        summary.failure = str(failure)
    elif summary.gates and not all(g.passed for g in summary.gates):
        summary.status, summary.exit_code = "gates_failed", 1
    else:
        summary.status, summary.exit_code = "passed", 0


def write_results(run_dir: Path, record: RunRecord, summary: RunSummary) -> None:
    """run.json, the summary and the step summary; a failed write is a collection error."""
    writes = Steps()
    writes.run("run.json", lambda: record.write(run_dir), lambda: None)
    summary.collection_errors += writes.errors
    if writes.run("summary", lambda: write_summary(run_dir, summary), lambda: None) is None:
        summary.collection_errors.append(writes.errors[-1])
        write_summary(run_dir, summary, markdown=False)  # summary.json at least
    writes.run("step summary", lambda: write_step_summary(render_markdown(summary)),
               lambda: False)


__all__ = ["settle", "write_results"]
