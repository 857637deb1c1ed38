"""`sandbox-runner run` end to end: real container, real gateway, real agent, real policies.

Each test copies an example project to a temp dir and runs the scripted model through the
CLI in a subprocess, exactly as a user would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import docker
import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CLI = [sys.executable, "-m", "runner.cli"]

pytestmark = pytest.mark.docker


def copy_example(name: str, dest: Path) -> Path:
    project = dest / name
    shutil.copytree(EXAMPLES / name, project, ignore=shutil.ignore_patterns("scenario*.yaml"))
    return project


def run_cli(args: list[str], *, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=REPO, check=False)


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def leftover_containers(client: docker.DockerClient, run_id: str) -> list[str]:
    found = client.containers.list(all=True, filters={"label": f"sandbox-runner.run={run_id}"})
    return [c.name for c in found]


def tool_results(transcript: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every tool_result block the model was sent, in order."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for exchange in transcript:
        for msg in exchange["request"].get("messages", []):
            content = msg.get("content")
            if not isinstance(content, list):
                continue
            for block in content:
                if block.get("type") == "tool_result" and block["tool_use_id"] not in seen:
                    seen.add(block["tool_use_id"])
                    out.append(block)
    return out


def result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content)
    return str(content)


@pytest.fixture(scope="module")
def todo_run(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str,
             ) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    base = tmp_path_factory.mktemp("todo")
    project = copy_example("todo-api", base)
    out = base / "run"
    proc = run_cli(["run", str(project), "--model",
                    f"scripted:{EXAMPLES / 'todo-api' / 'scenario.yaml'}", "--out", str(out),
                    "--json"])
    return project, out, proc


def test_demo_run_passes_its_gates(todo_run: tuple[Path, Path, Any],
                                   docker_client: docker.DockerClient) -> None:
    project, out, proc = todo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["status"] == "passed"
    assert summary["tests"]["failed"] == 0 and summary["tests"]["errors"] == 0
    assert summary["tests"]["passed"] == summary["tests"]["total"] >= 30
    assert summary["coverage"]["line_percent"] >= 80
    assert {"run.json", "decisions.jsonl", "transcript.jsonl", "events.jsonl", "summary.json",
            "summary.md", "issues.md", "issues.json", "backend.diff"} <= {
        p.name for p in out.iterdir()}
    assert (out / "reports" / "junit.xml").is_file()
    assert (out / "reports" / "coverage.xml").is_file()
    assert leftover_containers(docker_client, summary["run_id"]) == []
    # the agent's work stays in the user's backend/
    assert (project / "backend" / "app" / "main.py").is_file()
    run = json.loads((out / "run.json").read_text())
    assert run["self_check_ok"] is True
    assert all(c["ok"] for c in run["self_check"])


def test_demo_denials_reach_the_model_and_leave_the_host_untouched(
        todo_run: tuple[Path, Path, Any]) -> None:
    project, out, proc = todo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    original = (EXAMPLES / "todo-api" / "frontend" / "app.js").read_text()
    assert (project / "frontend" / "app.js").read_text() == original
    decisions = jsonl(out / "decisions.jsonl")
    denied = {(d["input"]["tool"]["name"], json.dumps(d["input"]["tool"]["input"])[:60]):
              {r["policy"] for r in d["result"]["reasons"]}
              for d in decisions if not d["result"]["allow"]}
    policies = set().union(*denied.values())
    assert {"scope", "secrets", "network"} <= policies, denied
    results = tool_results(jsonl(out / "transcript.jsonl"))
    errors = [result_text(b) for b in results if b.get("is_error")]
    assert len(errors) >= 4
    assert all("Denied by policy" in e for e in errors if "policy" in e)
    assert any("network/" in e for e in errors)
    assert any("scope/" in e for e in errors)
    # the fake secret never reached the model
    transcript_text = (out / "transcript.jsonl").read_text()
    assert "hunter2-demo-not-real" not in transcript_text
    assert "sk_live_DemoFakeKeyNotReal" not in transcript_text


def test_demo_summary_matches_reports_and_issues(todo_run: tuple[Path, Path, Any]) -> None:
    _, out, proc = todo_run
    summary = json.loads(proc.stdout)
    assert json.loads((out / "summary.json").read_text())["run_id"] == summary["run_id"]
    issues = json.loads((out / "issues.json").read_text())
    assert len(issues) >= 2
    assert {i["priority"] for i in issues} >= {"high", "medium"}
    assert [i["title"] for i in summary["issues"]] == [i["title"] for i in issues]
    decisions = jsonl(out / "decisions.jsonl")
    assert summary["decisions"]["total"] == len(decisions)
    # the model's calls were decided ahead, the agent's requests then being checked repeats
    ahead = [d for d in decisions if d["metrics"].get("counter_decided_ahead")]
    assert len(ahead) * 2 >= len(decisions), [d["metrics"] for d in decisions]
    assert summary["decisions"]["denied"] == sum(1 for d in decisions if not d["result"]["allow"])
    assert summary["audit"]["head_hash"] == decisions[-1]["hash"]
    verify = run_cli(["audit", "verify", str(out)])
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"transcript: {len(decisions)} decisions match tool_use blocks" in verify.stdout
    key = os.environ["SANDBOX_RUNNER_AUDIT_KEY"]
    signed = run_cli(["audit", "verify", str(out), "--key", key])
    assert signed.returncode == 0 and "signed: head signed with key" in signed.stdout, signed.stdout
    assert summary["audit"]["signature"] and (out / "audit.sig").is_file()
    assert summary["changes"]["files_added"], summary["changes"]
    assert "backend/app/main.py" in (out / "backend.diff").read_text()


def test_failing_tests_exit_1_and_are_named(tmp_path: Path, sandbox_image: str) -> None:
    project = copy_example("todo-api", tmp_path)
    proc = run_cli(["run", str(project), "--model",
                    f"scripted:{EXAMPLES / 'todo-api' / 'scenario-failing.yaml'}",
                    "--out", str(tmp_path / "run"), "--json"])
    assert proc.returncode == 1, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["status"] == "gates_failed"
    assert summary["tests"]["failed"] == 2
    names = " ".join(f["test"] for f in summary["tests"]["failures"])
    assert "test_get_returns_the_todo" in names
    assert "test_patch_updates_only_given_fields" in names
    md = (tmp_path / "run" / "summary.md").read_text()
    assert "test_get_returns_the_todo" in md


def test_low_coverage_exits_1_on_the_coverage_gate(tmp_path: Path, sandbox_image: str) -> None:
    project = copy_example("todo-api", tmp_path)
    proc = run_cli(["run", str(project), "--model",
                    f"scripted:{EXAMPLES / 'todo-api' / 'scenario-lowcov.yaml'}",
                    "--out", str(tmp_path / "run"), "--json"])
    assert proc.returncode == 1, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["tests"]["failed"] == 0
    assert summary["coverage"]["line_percent"] < 80
    failed = [g for g in summary["gates"] if not g["passed"]]
    assert [g["name"] for g in failed] == ["coverage"], failed


SCOPE_ESCAPES = """
turns:
  - tool_calls:
      - {name: Write, input: {file_path: "../outside.txt", content: "x"}}
      - {name: Write, input: {file_path: "/workspace/frontend/evil.js", content: "x"}}
      - {name: Edit, input: {file_path: "architecture/backend.md", old_string: "API", new_string: "PWNED"}}
      - {name: Bash, input: {command: "echo pwned > ../x"}}
      - {name: Bash, input: {command: "cd .. && touch x"}}
      - {name: Bash, input: {command: "ln -s ../frontend backend/link"}}
      - {name: Write, input: {file_path: "backend/link/evil.js", content: "x"}}
      - {name: Bash, input: {command: "echo pwned > backend/link/evil2.js"}}
  - text: "Done."
"""


@pytest.mark.parametrize("policy", ["default", "allow_all"])
def test_scope_escapes_leave_the_host_project_untouched(
        tmp_path: Path, sandbox_image: str, policy: str,
        docker_client: docker.DockerClient) -> None:
    """Write, Edit and Bash attempts outside backend/ fail — by policy, and by the container
    alone when the policy allows everything."""
    project = copy_example("todo-api", tmp_path)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCOPE_ESCAPES)
    before = {p.relative_to(tmp_path).as_posix(): p.read_bytes()
              for p in tmp_path.rglob("*") if p.is_file() and "backend" not in p.parts}
    args = ["run", str(project), "--model", f"scripted:{scenario}", "--out",
            str(tmp_path / "run"), "--json", "--skip-verify"]
    if policy == "allow_all":
        args += ["--policy-dir", str(REPO / "tests" / "security" / "allow_all")]
    # the default policy's run decides each call ahead (before the agent asks, the link made
    # by the call before it or not yet); the other run decides only when asked
    proc = run_cli(args, env={"SANDBOX_RUNNER_POLICY__DECIDE_AHEAD": str(policy == "default")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    after = {p.relative_to(tmp_path).as_posix(): p.read_bytes()
             for p in tmp_path.rglob("*") if p.is_file() and "backend" not in p.parts
             and not p.relative_to(tmp_path).as_posix().startswith(("run/", "project/"))}
    for rel, data in before.items():
        assert after.get(rel) == data, f"{rel} changed"
    assert not (tmp_path / "outside.txt").exists()
    assert not (tmp_path / "x").exists()
    assert not (project / "frontend" / "evil.js").exists()
    assert not (project / "frontend" / "evil2.js").exists()
    assert not (project / "x").exists()
    decisions = jsonl(tmp_path / "run" / "decisions.jsonl")
    ahead = [d for d in decisions if d["metrics"].get("counter_decided_ahead")]
    if policy == "default":
        denied = [d for d in decisions if not d["result"]["allow"]]
        # everything but the symlink creation inside backend/ is denied by the policy
        assert len(denied) >= 7, [d["input"]["tool"] for d in decisions]
        assert len(ahead) * 2 >= len(decisions), [d["metrics"] for d in decisions]
    else:
        assert all(d["result"]["allow"] for d in decisions)
        assert ahead == []
    assert leftover_containers(docker_client, summary["run_id"]) == []


def test_api_key_never_enters_the_container(tmp_path: Path, sandbox_image: str) -> None:
    """Even with every call allowed, nothing in the container can see the host's key."""
    project = copy_example("minimal", tmp_path)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("""
turns:
  - tool_calls:
      - {name: Bash, input: {command: "env > backend/env.txt; cat /proc/*/environ > backend/procenv.txt 2>/dev/null; grep -r sk-ant- /run /tmp /home 2>/dev/null > backend/grep.txt; true"}}
  - text: "Done."
""")
    key = "sk-ant-api03-" + "Q" * 40
    proc = run_cli(["run", str(project), "--model", f"scripted:{scenario}", "--out",
                    str(tmp_path / "run"), "--skip-verify", "--policy-dir",
                    str(REPO / "tests" / "security" / "allow_all")],
                   env={"ANTHROPIC_API_KEY": key})
    assert proc.returncode == 0, proc.stderr[-3000:]
    dumped = b"".join((project / "backend" / n).read_bytes()
                      for n in ("env.txt", "procenv.txt", "grep.txt"))
    assert b"PATH=" in dumped  # the commands really ran
    assert key.encode() not in dumped
    assert b"ANTHROPIC_API_KEY" not in dumped


def test_demo_findings_for_ci(todo_run: tuple[Path, Path, Any]) -> None:
    """A real scripted run's denials as SARIF (official schema), annotations and Code Quality."""
    import jsonschema

    _project, out, _proc = todo_run
    denied = [d for d in jsonl(out / "decisions.jsonl") if d["result"]["allow"] is not True]
    assert len(denied) >= 4
    proc = run_cli(["report", str(out), "-f", "sarif"])
    assert proc.returncode == 0, proc.stderr
    sarif = json.loads(proc.stdout)
    schema = json.loads((REPO / "tests" / "reports" / "data" / "sarif-schema-2.1.0.json")
                        .read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert len(results) == len(denied)  # gates passed: only the denials
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert {".env", "frontend/app.js"} <= uris
    assert sarif["runs"][0]["invocations"][0]["exitCode"] == 0
    github = run_cli(["report", str(out), "-f", "github"]).stdout.splitlines()
    assert "::error file=.env,title=secrets/secret_file::" in "\n".join(github)
    assert len(github) == min(len(denied), 10) + (len(denied) > 10)
    gitlab = json.loads(run_cli(["report", str(out), "-f", "gitlab"]).stdout)
    assert [i["fingerprint"] for i in gitlab] == [
        r["partialFingerprints"]["sandboxRunnerFinding/v1"] for r in results]
