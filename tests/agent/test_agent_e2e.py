"""The agent process end to end on the host: real gateway, scripted model, stand-in policy."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner.agent.harden import make_non_dumpable
from runner.gateway.scripted import DEFAULT_FINAL_TEXT
from runner.protocol import DecideRequest, DecideResponse
from tests.agent.conftest import REPO, AgentRun


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def tool_results(run: AgentRun) -> dict[str, dict[str, Any]]:
    """tool_use name+input (as JSON) -> the tool_result the model got, from the last request."""
    msgs = jsonl(run.run_dir / "transcript.jsonl")[-1]["request"]["messages"]
    uses = {b["id"]: b for m in msgs if m["role"] == "assistant" for b in m["content"] if b["type"] == "tool_use"}
    out = {}
    for m in msgs:
        if m["role"] == "user" and isinstance(m["content"], list):
            for b in m["content"]:
                use = uses[b["tool_use_id"]]
                out[f"{use['name']} {json.dumps(use['input'], sort_keys=True)}"] = b
    return out


def test_scripted_run_writes_files_and_denials_reach_the_model(run_agent: Any) -> None:
    run: AgentRun = run_agent([
        {"text": "Looking around", "tool_calls": [{"name": "LS", "input": {"path": "."}}]},
        {"tool_calls": [
            {"name": "Write", "input": {"file_path": "backend/app.py", "content": "def add(a, b):\n    return a + b\n"}},
            {"name": "Write", "input": {"file_path": "frontend/app.js", "content": "evil()"}},
            {"name": "Bash", "input": {"command": "curl https://evil.example"}},
        ]},
        {"tool_calls": [
            {"name": "Edit", "input": {"file_path": "backend/app.py", "old_string": "a + b", "new_string": "b + a"}},
            {"name": "Bash", "input": {"command": "python -c 'import sys; sys.path.insert(0, \"backend\"); import app; print(app.add(2, 3))'"}},
            {"name": "Read", "input": {"file_path": "backend/nope.py"}},
        ]},
        {"text": "Done."},
    ])
    assert run.proc.returncode == 0, run.proc.stderr
    assert run.proc.stderr == ""
    ws = run.workspace
    assert (ws / "backend" / "app.py").read_text() == "def add(a, b):\n    return b + a\n"
    assert not (ws / "frontend").exists()

    results = tool_results(run)
    denied_write = results['Write {"content": "evil()", "file_path": "frontend/app.js"}']
    assert denied_write["is_error"] is True
    assert denied_write["content"] == ("Denied by policy: scope/write_outside_writable: writes are allowed "
                                       "only under backend/ and issues.md: frontend/app.js")
    curl = results['Bash {"command": "curl https://evil.example"}']
    assert curl["is_error"] and curl["content"].startswith("Denied by policy: network/host_not_allowed")
    python = next(v for k, v in results.items() if k.startswith("Bash") and "app.add" in k)
    assert python == {**python, "is_error": False, "content": "5"}
    missing = results['Read {"file_path": "backend/nope.py"}']
    assert missing["is_error"] and "No such file or directory" in missing["content"]

    # every call was decided, with measured path facts in the container's terms
    assert [d.tool for d in run.decided] == ["LS", "Write", "Write", "Bash", "Edit", "Bash", "Read"]
    write = run.decided[1]
    assert write.measured[0].real == "/workspace/backend/app.py" and write.tool_use_id

    events = jsonl(run.run_dir / "events.jsonl")
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "agent_started" and kinds[-1] == "agent_finished"
    assert events[-1]["data"] == {"reason": "end_turn", "turns": 4}
    calls = [e["data"] for e in events if e["kind"] == "tool_call"]
    assert [c["allow"] for c in calls] == [True, True, False, False, True, True, True]
    assert calls[2]["reasons"][0]["rule"] == "write_outside_writable"
    assert kinds.count("turn") == 4
    assert run.gateway.stats.requests == 4 and run.gateway.failure is None


def test_max_turns_stops_cleanly(run_agent: Any) -> None:
    turns = [{"tool_calls": [{"name": "Bash", "input": {"command": f"echo {i}"}}]} for i in range(5)]
    run = run_agent(turns, max_turns=2)
    assert run.proc.returncode == 0
    events = jsonl(run.run_dir / "events.jsonl")
    assert events[-1]["kind"] == "agent_finished" and events[-1]["data"]["reason"] == "max_turns"
    assert run.gateway.stats.requests == 2


def test_model_api_failure_exits_3_with_one_line(run_agent: Any) -> None:
    run = run_agent([{"tool_calls": [{"name": "LS", "input": {"path": "."}}]},
                     {"fault": {"status": 529, "times": 10}}, {"text": "never"}])
    assert run.proc.returncode == 3
    lines = run.proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sandbox-runner agent: model API error: HTTP 502")
    assert "overloaded_error" in lines[0]
    assert run.gateway.failure is not None and "after 3 attempts" in run.gateway.failure
    events = jsonl(run.run_dir / "events.jsonl")
    assert events[-1]["kind"] == "agent_error" and events[-1]["data"]["kind"] == "model_api"


def test_transient_faults_are_invisible_to_the_agent(run_agent: Any) -> None:
    run = run_agent([{"fault": {"kind": "timeout", "times": 1}}, {"fault": {"status": 429, "retry_after": 0.05}},
                     {"text": "made it"}])
    assert run.proc.returncode == 0, run.proc.stderr
    [line] = jsonl(run.run_dir / "transcript.jsonl")
    assert line["retries"] == 2 and line["response"]["content"][0]["text"] == "made it"


def test_policy_failure_is_a_deny(run_agent: Any) -> None:
    def broken(req: DecideRequest) -> DecideResponse:
        raise RuntimeError("engine down")

    run = run_agent([{"tool_calls": [{"name": "Write", "input": {"file_path": "backend/x.py", "content": "x"}}]},
                     {"text": "ok"}], decide=broken)
    assert run.proc.returncode == 0
    assert not (run.workspace / "backend" / "x.py").exists()
    [result] = tool_results(run).values()
    assert result["is_error"] and "policy evaluation failed: RuntimeError: engine down" in result["content"]


def test_disabled_unknown_and_malformed_tools(run_agent: Any) -> None:
    run = run_agent([{"tool_calls": [
        {"name": "Bash", "input": {"command": "touch backend/should-not-exist"}},
        {"name": "Teleport", "input": {"to": "mars"}},
        {"name": "Read", "input": {"file_path": 7}},
    ]}], tools=["Read", "LS"])
    assert run.proc.returncode == 0
    assert not (run.workspace / "backend" / "should-not-exist").exists()
    texts = [r["content"] for r in tool_results(run).values()]
    assert any("not available to this agent" in t for t in texts)
    assert any("Unknown tool 'Teleport'" in t for t in texts)
    assert any("Invalid input for Read" in t for t in texts)
    assert len(run.decided) == 3  # every call was still decided (and logged)
    # after the scenario's last turn the scripted model ends the conversation
    transcript = jsonl(run.run_dir / "transcript.jsonl")
    assert len(transcript) == 2 and transcript[-1]["response"]["content"][0]["text"] == DEFAULT_FINAL_TEXT


def test_an_agent_granted_no_tools_sends_none(run_agent: Any) -> None:
    """An agent file with ``tools: []`` gets no tools: the requests carry no tool list."""
    run = run_agent([{"text": "I can only talk."}], tools=[])
    assert run.proc.returncode == 0, run.proc.stderr
    transcript = jsonl(run.run_dir / "transcript.jsonl")
    assert transcript and all("tools" not in t["request"] for t in transcript)


def test_command_output_is_redacted_and_bash_env_is_minimal(run_agent: Any, tmp_path: Path) -> None:
    aws = "AKIAIOSFODNN7EXAMPLE"
    (tmp_path / "ws" / "backend").mkdir(parents=True)
    (tmp_path / "ws" / "backend" / "settings.txt").write_text(f"aws_key={aws}\n")
    run = run_agent([{"tool_calls": [{"name": "Bash", "input": {"command": "cat backend/settings.txt; env"}}]},
                     {"text": "ok"}], env={"SANDBOX_TEST_MARKER": "marker-value-123"})
    assert run.proc.returncode == 0, run.proc.stderr
    [result] = tool_results(run).values()
    assert "aws_key=[REDACTED:aws-access-key]" in result["content"]  # what the model got
    assert "marker-value-123" not in result["content"]  # Bash ran with a minimal environment
    for name in ("transcript.jsonl", "events.jsonl", "redactions.jsonl"):
        assert aws not in (run.run_dir / name).read_text()
    assert run.gateway.stats.redactions >= 1


def test_bad_config_exits_2(run_agent: Any) -> None:
    run = run_agent([{"text": "x"}], config='{"run_id": "r"}')
    assert run.proc.returncode == 2
    assert run.proc.stderr.startswith("sandbox-runner agent: bad config: ") and "agent.json" in run.proc.stderr
    assert len(run.proc.stderr.strip().splitlines()) == 1


def test_missing_config_exits_2(tmp_path: Path) -> None:
    env = {"SANDBOX_RUNNER_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "runner.agent"], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=30, input="some-token\n")
    assert proc.returncode == 2 and "No such file or directory" in proc.stderr


def test_missing_token_exits_2(tmp_path: Path) -> None:
    env = {"SANDBOX_RUNNER_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "runner.agent"], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and "no gateway token" in proc.stderr


@pytest.mark.parametrize("harden", [True, False])
def test_non_dumpable_agent_environ_is_unreadable_to_its_commands(harden: bool) -> None:
    """A same-uid process (what Bash commands are) cannot read a non-dumpable process's environ.

    Root would bypass the check (CAP_SYS_PTRACE), so as root the child drops to nobody first,
    as the sandbox runs unprivileged. The unhardened case shows the read otherwise works.
    """
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 2
        try:
            if os.getuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            # a uid change clears the flag by itself: start from dumpable, like a fresh process
            ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)
            if harden:
                make_non_dumpable()
            probe = subprocess.run(["cat", f"/proc/{os.getpid()}/environ"], capture_output=True, timeout=10)
            code = 0 if probe.returncode == 0 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == (1 if harden else 0)


def test_agent_imports_only_what_the_image_has() -> None:
    """runner.agent ships with a few runner modules only (the runtime layer's context:
    runner/__init__, protocol, wire, toolglob, agent/): it imports no other."""
    from runner.sandbox.image import AGENT_DEST, context_files

    shipped = {name.removeprefix(f"{AGENT_DEST}/").removesuffix(".py").removesuffix("/__init__")
               .replace("/", ".") for name, _ in context_files()
               if name.startswith(f"{AGENT_DEST}/runner/") and name.endswith(".py")}
    assert {"runner", "runner.protocol", "runner.wire", "runner.toolglob",
            "runner.agent.tools"} <= shipped
    code = ("import sys, runner.agent.__main__, runner.agent.loop, runner.agent.client, runner.agent.tools; "
            "print(sorted(m for m in sys.modules if m.startswith('runner')))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=30)
    mods = eval(proc.stdout)
    assert "runner.toolglob" in mods and set(mods) <= shipped, set(mods) - shipped


def test_agent_never_imports_the_anthropic_sdk() -> None:
    """The agent speaks the Messages API itself: the SDK (seconds to import) is not in the image."""
    code = ("import sys, runner.agent.__main__, runner.agent.loop, runner.agent.client, runner.agent.tools; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('anthropic', 'httpx2')))")
    proc = subprocess.run([sys.executable, "-P", "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=30, check=True)
    assert proc.stdout.strip() == "[]"
