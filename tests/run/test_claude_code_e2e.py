"""`run --runtime claude-code` end to end: the real Claude Code binary in the sandbox.

The demo scenario (examples/todo-api/scenario.yaml) is replayed by the scripted provider
through the streaming gateway; Claude Code calls its own tools; every call passes the
runner's PreToolUse hook and is decided by the same Rego bundle. The same scenario through
the built-in runtime is the reference: same tests, same coverage, same denials, a verifying
audit log.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import docker
import pytest

from runner.audit import cross_check
from runner.audit.log import read_log
from tests.run.test_run_e2e import EXAMPLES, copy_example, jsonl, leftover_containers, run_cli

pytestmark = [pytest.mark.docker, pytest.mark.claude_code]
SCENARIO = EXAMPLES / "todo-api" / "scenario.yaml"
Run = tuple[Path, Path, subprocess.CompletedProcess[str]]


def _run(base: Path, runtime: str) -> Run:
    project = copy_example("todo-api", base)
    out = base / "run"
    proc = run_cli(["run", str(project), "--runtime", runtime, "--model", f"scripted:{SCENARIO}",
                    "--out", str(out), "--json"], timeout=900)
    return project, out, proc


@pytest.fixture(scope="module")
def claude_run(tmp_path_factory: pytest.TempPathFactory, claude_code_image: str) -> Run:
    return _run(tmp_path_factory.mktemp("cc"), "claude-code")


@pytest.fixture(scope="module")
def builtin_run(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> Run:
    return _run(tmp_path_factory.mktemp("builtin"), "builtin")


def _summary(run: Run) -> dict[str, Any]:
    _, _, proc = run
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary: dict[str, Any] = json.loads(proc.stdout)
    return summary


def _denials(out: Path) -> Counter[tuple[str, str]]:
    """(tool, policy/rule) of every denied tool call."""
    found: Counter[tuple[str, str]] = Counter()
    for d in jsonl(out / "decisions.jsonl"):
        tool = (d.get("input") or {}).get("tool")
        if tool and not d["result"]["allow"]:
            for r in d["result"]["reasons"]:
                found[(tool["name"], f"{r['policy']}/{r['rule']}")] += 1
    return found


def test_claude_code_runs_the_demo_to_green_gates(claude_run: Run,
                                                  docker_client: docker.DockerClient) -> None:
    project, out, _ = claude_run
    summary = _summary(claude_run)
    assert summary["status"] == "passed" and summary["runtime"] == "claude-code"
    assert summary["tests"]["failed"] == 0 and summary["tests"]["passed"] >= 30
    assert summary["coverage"]["line_percent"] >= 80
    assert summary["audit"]["verified"] is True
    assert leftover_containers(docker_client, summary["run_id"]) == []
    assert (project / "backend" / "app" / "main.py").is_file()
    run = json.loads((out / "run.json").read_text())
    assert run["runtime"] == "claude-code" and run["self_check_ok"] is True
    assert run["claude_code"]["result"] == "success"
    events = jsonl(out / "events.jsonl")
    kinds = Counter(e["kind"] for e in events)
    assert kinds["agent_started"] == 1 and kinds["agent_finished"] == 1
    assert kinds["tool_call"] >= 20 and kinds["tool_result"] == kinds["tool_call"]
    started = next(e for e in events if e["kind"] == "agent_started")
    assert started["data"]["claude_code_version"]
    # the exchanges are Claude Code's own (streaming, its beta header), recorded redacted
    transcript = jsonl(out / "transcript.jsonl")
    assert transcript and all(t.get("stream") is True for t in transcript)
    assert all("claude-code-20250219" in (t.get("anthropic_beta") or "") for t in transcript)
    text = (out / "transcript.jsonl").read_text()
    assert "hunter2-demo-not-real" not in text and "sk_live_DemoFakeKeyNotReal" not in text
    # the hook's asks (both of a file tool's) were decided ahead, in the forms it sends
    decisions = jsonl(out / "decisions.jsonl")
    ahead = [d for d in decisions if d["metrics"].get("counter_decided_ahead")]
    assert len(ahead) * 2 >= len(decisions), [d["metrics"] for d in decisions]


def test_claude_code_matches_the_builtin_runtime(claude_run: Run, builtin_run: Run) -> None:
    cc, builtin = _summary(claude_run), _summary(builtin_run)
    untimed = [{k: v for k, v in s["tests"].items() if k != "time"} for s in (cc, builtin)]
    assert untimed[0] == untimed[1]
    assert [i["title"] for i in cc["issues"]] == [i["title"] for i in builtin["issues"]]
    assert len(cc["issues"]) == 3
    assert cc["coverage"]["line_percent"] == builtin["coverage"]["line_percent"]
    assert [g["name"] for g in cc["gates"]] == [g["name"] for g in builtin["gates"]]
    assert all(g["passed"] for g in cc["gates"])
    assert _denials(claude_run[1]) == _denials(builtin_run[1])
    assert cc["decisions"]["denied"] == builtin["decisions"]["denied"] == 4
    # Claude Code asks its hook a second time for a file tool once it has made the path
    # absolute; the builtin runtime's LS call has no Claude Code tool: Claude Code answers
    # "No such tool available" itself, and no decision is asked for
    check = cross_check(read_log(claude_run[1] / "decisions.jsonl"),
                        claude_run[1] / "transcript.jsonl")
    assert check.matched == builtin["decisions"]["total"] - 1
    assert cc["decisions"]["total"] == check.matched + check.reasked
    assert check.ok, check.problems
    assert any("LS" in n and "does not have" in n for n in check.notes)
    builtin_check = cross_check(read_log(builtin_run[1] / "decisions.jsonl"),
                                builtin_run[1] / "transcript.jsonl")
    assert builtin_check.ok and builtin_check.reasked == 0
    assert (claude_run[0] / "issues.md").read_text() == (builtin_run[0] / "issues.md").read_text()


def test_denials_reach_claude_code_through_the_hook(claude_run: Run) -> None:
    project, out, _ = claude_run
    events = jsonl(out / "events.jsonl")
    denied = [e["data"] for e in events if e["kind"] == "tool_result" and e["data"]["denied"]]
    assert len(denied) == 4
    assert all("hook error" in d["summary"] for d in denied)
    assert any("network/" in d["summary"] for d in denied)
    assert any("secrets/" in d["summary"] for d in denied)
    original = (EXAMPLES / "todo-api" / "frontend" / "app.js").read_text()
    assert (project / "frontend" / "app.js").read_text() == original
    ids = {d["tool_use_id"] for d in jsonl(out / "decisions.jsonl") if d.get("tool_use_id")}
    calls = {e["data"]["id"] for e in events if e["kind"] == "tool_call"}
    assert ids <= calls  # every decision belongs to a call Claude Code made
