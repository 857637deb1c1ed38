"""collect_results: the run's result files and summary parts."""

from __future__ import annotations

import json
import os
from pathlib import Path

from runner.reports.collect import apply_results, collect_results
from runner.reports.diff import snapshot_tree
from runner.reports.summary import RunSummary, load_summary
from runner.reports.verification import VerificationResult


def test_sample_run_dir_files(sample_run: tuple[Path, Path]) -> None:
    run_dir, project = sample_run
    issues = json.loads((run_dir / "issues.json").read_text())
    assert [(i["title"], i["priority"]) for i in issues] == [
        ("Authentication is not specified", "high"),
        ("Persistence", "high"),
        ("Should completed todos be deleted after 30 days?", "low"),
        ("<script>alert('xss')</script> Title length limit unclear", "medium"),
    ]
    assert all("body" in i for i in issues)
    assert (run_dir / "issues.md").read_text() == (project / "issues.md").read_text()
    diff = (run_dir / "backend.diff").read_text()
    assert "diff --git a/backend/todos.py b/backend/todos.py" in diff
    summary = load_summary(run_dir)
    assert summary.changes.files_deleted == ["backend/README.md"]
    assert summary.changes.lines_added == diff.count("\n+") - diff.count("\n+++ ")
    assert [g.passed for g in summary.gates] == [False, True]
    assert summary.issues[0].title == "Authentication is not specified"


def test_verification_errors_and_timeouts_become_failed_gates(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / "backend").mkdir(parents=True)
    run_dir = tmp_path / "run"
    res = collect_results(run_dir=run_dir, project=project, before=None, threshold=80,
                          verification=VerificationResult(error="verification image not found: x"))
    assert res.tests.error == "verification image not found: x" and res.coverage is None
    assert [g.passed for g in res.gates] == [False, False]
    assert res.issues == [] and json.loads((run_dir / "issues.json").read_text()) == []
    assert not (run_dir / "issues.md").exists() and not (run_dir / "backend.diff").exists()

    res = collect_results(run_dir=run_dir, project=project, before=None, threshold=80,
                          verification=VerificationResult(timed_out=True))
    assert res.tests.error is not None and res.tests.error.startswith("verification timed out")
    assert res.gates[0].detail.startswith("no test results: verification timed out")


def test_agent_written_reports_are_ignored(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / "backend").mkdir(parents=True)
    fake = '<testsuite><testcase name="fake_pass"/></testsuite>'
    (project / "backend" / "junit.xml").write_text(fake)
    run_dir = tmp_path / "run"
    (run_dir / "reports").mkdir(parents=True)
    os.symlink(project / "backend" / "junit.xml", run_dir / "reports" / "junit.xml")
    res = collect_results(run_dir=run_dir, project=project, before=snapshot_tree(project),
                          verification=VerificationResult(exit_code=0), threshold=80)
    assert res.tests.total == 0 and res.tests.error is not None  # the planted link is not read
    assert not res.gates[0].passed


def test_apply_results_fills_the_summary(sample_run: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, project = sample_run
    res = collect_results(run_dir=tmp_path, project=project, before=None, threshold=90.0,
                          verification=VerificationResult(
                              exit_code=1, junit_path=run_dir / "reports" / "junit.xml",
                              coverage_path=run_dir / "reports" / "coverage.xml"))
    summary = apply_results(RunSummary(run_id="x"), res)
    assert summary.coverage_threshold == 90.0 and summary.tests.total == 9
    assert summary.gates[1].passed is False  # 88% < 90%
    assert len(summary.issues) == 4
