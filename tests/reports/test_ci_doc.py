"""docs/ci.md: the CI examples parse, are the checked example files, and match what the
runner writes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "ci.md"


def raw_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)


def blocks() -> list[Any]:
    return [yaml.safe_load(b) for b in raw_blocks()]


def test_the_doc_shows_the_checked_files() -> None:
    texts = raw_blocks()
    for rel in ("docs/examples/github-workflow.yml", "docs/examples/gitlab-ci.yml",
                "ci/gitlab/sandbox-runner.gitlab-ci.yml"):
        assert (REPO / rel).read_text() in texts, rel


def test_github_one_step_uses_the_action() -> None:
    steps = blocks()[0]["jobs"]["sandbox-runner"]["steps"]
    agent = [s for s in steps if "sandbox-runner@" in str(s.get("uses", ""))]
    assert len(agent) == 1 and "ANTHROPIC_API_KEY" in agent[0]["env"]
    perms = blocks()[0]["jobs"]["sandbox-runner"]["permissions"]
    assert perms["security-events"] == "write"


def test_github_workflow_keeps_evidence_uploads_sarif_and_gates() -> None:
    workflow = blocks()[1]
    steps = workflow["jobs"]["sandbox-runner"]["steps"]
    text = yaml.safe_dump(steps)
    assert "sandbox-runner run . --out" in text and "--json" in text
    assert "sandbox-runner image build" in text
    assert "--format sarif" in text and "--format github" in text
    uses = [str(s.get("uses", "")) for s in steps]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert not any("junit-report" in u for u in uses)  # no third-party JUnit action
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert all(s.get("if") == "always()" for s in uploads)
    assert "RUN_DIR" in " ".join(str(s["with"]["path"]) for s in uploads)
    gate = steps[-1]["run"]
    for code in "01234":
        assert f"{code})" in gate


def test_gitlab_job_reports_junit_cobertura_and_codequality(
        sample_run: tuple[Path, Path]) -> None:
    job = blocks()[3][".sandbox-runner"]
    reports = job["artifacts"]["reports"]
    assert reports["junit"].endswith("reports/junit.xml")
    assert reports["coverage_report"]["coverage_format"] == "cobertura"
    assert reports["codequality"] == "gl-code-quality-report.json"
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
