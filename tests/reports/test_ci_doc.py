"""docs/ci.md: the CI examples parse and match what the runner writes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

DOC = Path(__file__).resolve().parents[2] / "docs" / "ci.md"


def blocks() -> list[Any]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)]


def test_github_workflow_keeps_evidence_and_gates_on_the_exit_code() -> None:
    workflow = blocks()[0]
    steps = workflow["jobs"]["sandbox-runner"]["steps"]
    text = yaml.safe_dump(steps)
    assert "sandbox-runner run . --out" in text and "--json" in text
    assert "sandbox-runner image build" in text
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    paths = " ".join(str(s["with"]["path"]) for s in uploads)
    assert all(s.get("if") == "always()" for s in uploads)
    assert "RUN_DIR" in paths and "reports/junit.xml" in paths and "reports/coverage.xml" in paths
    gate = steps[-1]["run"]
    for code in "01234":
        assert f"{code})" in gate


def test_gitlab_job_reports_junit_and_cobertura(sample_run: tuple[Path, Path]) -> None:
    job = blocks()[1]["sandbox-runner"]
    reports = job["artifacts"]["reports"]
    assert reports["junit"].endswith("reports/junit.xml")
    assert reports["coverage_report"]["coverage_format"] == "cobertura"
    assert job["artifacts"]["when"] == "always"
    assert any("exit $code" in line for line in job["script"])
    # the coverage regex finds the number in a real summary.md
    summary_md = (sample_run[0] / "summary.md").read_text()
    m = re.search(job["coverage"].strip("/"), summary_md)
    assert m is not None and m.group(1) == "82.85"  # application code only (tests omitted)


def test_exit_codes_are_documented() -> None:
    text = DOC.read_text()
    for code in range(5):
        assert f"\n| {code} |" in text
