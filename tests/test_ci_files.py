"""The composite GitHub Action, the GitLab CI template and the example workflows, checked by
the tools CI users rely on: check-jsonschema's vendored GitHub-action / GitLab-CI / workflow
schemas, actionlint and zizmor (each run as a subprocess; each shown to reject a broken file)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
ACTION = REPO / "action.yml"
GITLAB_TEMPLATE = REPO / "ci" / "gitlab" / "sandbox-runner.gitlab-ci.yml"
GH_EXAMPLE = REPO / "docs" / "examples" / "github-workflow.yml"
GL_EXAMPLE = REPO / "docs" / "examples" / "gitlab-ci.yml"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (dev extra); it could not be installed here")
    return str(found)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False,
                          cwd=REPO)


def check_schema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("check-jsonschema"), "--builtin-schema", f"vendor.{schema}", str(path))


@pytest.mark.parametrize(("schema", "path"), [
    ("github-actions", ACTION), ("gitlab-ci", GITLAB_TEMPLATE),
    ("github-workflows", GH_EXAMPLE), ("gitlab-ci", GL_EXAMPLE)])
def test_files_match_their_schemas(schema: str, path: Path, tmp_path: Path) -> None:
    proc = check_schema(schema, path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    broken = yaml.safe_load(path.read_text())
    if ".sandbox-runner" in broken:  # the schema skips hidden jobs: check it as a real job
        broken = {"sandbox-runner": broken.pop(".sandbox-runner"), **broken}
        real = tmp_path / "as-a-job.yml"
        real.write_text(yaml.safe_dump(broken))
        proc = check_schema(schema, real)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    if schema == "github-actions":
        del broken["runs"]
    elif schema == "github-workflows":
        broken["jobs"]["sandbox-runner"]["steps"][0]["uses"] = 5
    else:
        broken["sandbox-runner"]["artifacts"] = {"when": "sometimes"}
    bad = tmp_path / path.name
    bad.write_text(yaml.safe_dump(broken))
    assert check_schema(schema, bad).returncode != 0


def test_action_contract() -> None:
    action = yaml.safe_load(ACTION.read_text())
    assert action["runs"]["using"] == "composite"
    assert {"project", "agent", "task", "model", "runtime", "args", "python-version"} <= set(
        action["inputs"])
    assert {"exit-code", "run-dir", "sarif"} <= set(action["outputs"])
    steps = action["runs"]["steps"]
    uses = [s["uses"] for s in steps if "uses" in s]
    assert any(u.startswith("actions/setup-python@") for u in uses)
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    for u in uses:  # pinned by commit
        ref = u.split("@", 1)[1]
        assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), u
    scripts = "\n".join(s.get("run", "") for s in steps)
    assert "--json" in scripts and "--format sarif" in scripts and "--format github" in scripts
    assert "${{" not in scripts  # inputs reach scripts through env, never pasted in


def test_gitlab_template_reports() -> None:
    job = yaml.safe_load(GITLAB_TEMPLATE.read_text())[".sandbox-runner"]
    reports = job["artifacts"]["reports"]
    assert reports["junit"] == "$RUN_DIR/reports/junit.xml"
    assert reports["coverage_report"] == {"coverage_format": "cobertura",
                                          "path": "$RUN_DIR/reports/coverage.xml"}
    assert reports["codequality"] == "gl-code-quality-report.json"
    assert "$RUN_DIR/" in job["artifacts"]["paths"] and job["artifacts"]["when"] == "always"
    assert any("--format gitlab --output gl-code-quality-report.json" in line
               for line in job["script"])


def doc_workflows(tmp_path: Path) -> list[Path]:
    """The example workflow file and docs/ci.md's workflow written by hand, as files."""
    manual = tmp_path / "manual.yml"
    manual.write_text(re.findall(r"```yaml\n(.*?)```", (REPO / "docs" / "ci.md").read_text(),
                                 re.S)[1])
    assert "jobs" in yaml.safe_load(manual.read_text())
    return [GH_EXAMPLE, manual]


def test_actionlint_accepts_the_example_workflows(tmp_path: Path) -> None:
    actionlint = tool("actionlint")
    for path in doc_workflows(tmp_path):
        proc = run(actionlint, "-no-color", str(path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text(GH_EXAMPLE.read_text().replace("steps.agent.outputs", "steps.agent.output"))
    assert run(actionlint, "-no-color", str(bad)).returncode != 0


def test_zizmor_finds_nothing(tmp_path: Path) -> None:
    zizmor = tool("zizmor")
    proc = run(zizmor, "--offline", "--no-progress", str(ACTION),
               *(str(p) for p in doc_workflows(tmp_path)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bad = tmp_path / "action.yml"  # a template injection zizmor must catch
    bad.write_text(ACTION.read_text().replace(
        'run: sandbox-runner image build', 'run: echo "${{ inputs.task }}"'))
    assert run(zizmor, "--offline", "--no-progress", str(bad)).returncode != 0
