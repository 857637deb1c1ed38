"""The PreToolUse hook (runner/agent/hook.py) as Claude Code runs it: a process per call, the
hook input on stdin, the answer on stdout, against a live relay and a real Gateway."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.agent import hook
from runner.gateway import Budget, Gateway, Redactor, ScriptedProvider
from runner.gateway.scripted import Scenario
from runner.protocol import API_PORT, DecideReason, DecideRequest, DecideResponse
from tests.agent.test_api_relay import TIMEOUT, StartRelay, Upstream, sock_path, start_relay

__all__ = ["sock_path", "start_relay"]  # fixtures used here
REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).parent / "data" / "claude_code_hook_inputs.jsonl"  # data/README.md
HOOK_INPUT = {
    "session_id": "8cf17a07", "transcript_path": "/home/agent/.claude/projects/x.jsonl",
    "cwd": "/workspace", "permission_mode": "default", "hook_event_name": "PreToolUse",
    "tool_name": "Bash", "tool_input": {"command": "ls -la", "description": "list"},
    "tool_use_id": "toolu_0_0",
}


def run_hook(stdin: bytes, port: int) -> tuple[int, dict[str, Any] | None, str, float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-P", "-m", "runner.agent.hook", "--port", str(port)],
                          input=stdin, capture_output=True, timeout=TIMEOUT * 3, cwd="/",
                          env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)})
    elapsed = time.perf_counter() - start
    out = proc.stdout.decode()
    return proc.returncode, (json.loads(out) if out.strip() else None), proc.stderr.decode(), elapsed


def decision_of(answer: dict[str, Any] | None) -> tuple[str, str]:
    assert answer is not None
    spec = answer["hookSpecificOutput"]
    assert spec["hookEventName"] == "PreToolUse"
    return spec["permissionDecision"], spec["permissionDecisionReason"]


class Decisions:
    def __init__(self) -> None:
        self.seen: list[DecideRequest] = []

    def __call__(self, req: DecideRequest) -> DecideResponse:
        self.seen.append(req)
        if req.tool == "Bash" and "rm" in str(req.input.get("command")):
            return DecideResponse(allow=False, decision_id="d-2", reasons=[
                DecideReason(policy="scope", rule="write_outside_writable", msg="not writable"),
                DecideReason(policy="network", rule="opaque_shell", msg="hidden")])
        return DecideResponse(allow=True, decision_id=f"d-{len(self.seen)}")


@pytest.fixture
def gateway(sock_path: Path, tmp_path: Path) -> Iterator[tuple[Gateway, Decisions]]:
    decisions = Decisions()
    gw = Gateway(socket_path=sock_path, decide=decisions, run_dir=tmp_path / "run",
                 provider=ScriptedProvider(scenario=Scenario.model_validate(
                     {"turns": [{"text": "hi"}]})),
                 budget=Budget(max_requests=5, max_tokens=10**6), redactor=Redactor())
    gw.start()
    yield gw, decisions
    gw.stop()


def test_constants_match_protocol() -> None:
    assert hook.API_PORT == API_PORT
    assert "pydantic" not in subprocess.run(
        [sys.executable, "-P", "-c", "import sys, runner.agent.hook; print(sorted(sys.modules))"],
        capture_output=True, text=True, cwd="/", env={"PYTHONPATH": str(REPO)}, check=True).stdout


def test_allow_and_deny_through_relay_and_gateway(gateway: tuple[Gateway, Decisions],
                                                  start_relay: StartRelay) -> None:
    gw, decisions = gateway
    _, port = start_relay(gw.socket_path, gw.token)
    rc, answer, _, _ = run_hook(json.dumps(HOOK_INPUT).encode(), port)
    assert rc == 0 and decision_of(answer) == ("allow", "allowed by the sandbox policy (decision d-1)")
    [req] = decisions.seen
    assert req.runtime == "claude-code" and req.tool == "Bash" and req.tool_use_id == "toolu_0_0"
    assert req.input == HOOK_INPUT["tool_input"] and req.cwd == "/workspace"
    denied = dict(HOOK_INPUT, tool_input={"command": "rm -rf /workspace"})
    rc, answer, _, _ = run_hook(json.dumps(denied).encode(), port)
    assert rc == 0 and decision_of(answer) == (
        "deny", "scope/write_outside_writable: not writable; network/opaque_shell: hidden "
                "(decision d-2)")


def test_captured_hook_inputs(gateway: tuple[Gateway, Decisions], start_relay: StartRelay) -> None:
    gw, decisions = gateway
    _, port = start_relay(gw.socket_path, gw.token)
    lines = [line for line in PROBE.read_text().splitlines() if line.strip()]
    for line in lines:
        rc, answer, _, _ = run_hook(line.encode(), port)
        assert rc == 0 and decision_of(answer)[0] == "allow"
    assert [r.tool for r in decisions.seen] == [json.loads(x)["tool_name"] for x in lines]


def test_latency(gateway: tuple[Gateway, Decisions], start_relay: StartRelay,
                 capsys: pytest.CaptureFixture[str]) -> None:
    gw, _ = gateway
    _, port = start_relay(gw.socket_path, gw.token)
    times = sorted(run_hook(json.dumps(HOOK_INPUT).encode(), port)[3] for _ in range(10))
    with capsys.disabled():
        print(f"\nhook latency (process start to answer, fake decide): "
              f"median {times[5] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms")
    assert times[5] < 2.0


def test_no_relay_is_a_deny(sock_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, answer, _, _ = run_hook(json.dumps(HOOK_INPUT).encode(), port)
    allow, reason = decision_of(answer)
    assert rc == 0 and allow == "deny" and reason.startswith(hook.CANNOT_ASK)
    assert "not reachable" in reason


def test_no_gateway_behind_the_relay_is_a_deny(start_relay: StartRelay, sock_path: Path) -> None:
    _, port = start_relay(sock_path)
    _, answer, _, _ = run_hook(json.dumps(HOOK_INPUT).encode(), port)
    allow, reason = decision_of(answer)
    assert allow == "deny" and "HTTP 502" in reason


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops",
    b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nnot json",
    b'HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{"allow": true}',
    b'HTTP/1.1 200 OK\r\nContent-Length: 39\r\n\r\n{"allow": "yes", "decision_id": "d-1"}\n',
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n[1, 2, 3]\n",
    b"garbage",
    b"",
])
def test_bad_answers_are_denies(start_relay: StartRelay, sock_path: Path, reply: bytes) -> None:
    up = Upstream(sock_path, lambda conn, body: conn.sendall(reply))
    try:
        _, port = start_relay(sock_path)
        rc, answer, _, _ = run_hook(json.dumps(HOOK_INPUT).encode(), port)
    finally:
        up.close()
    allow, reason = decision_of(answer)
    assert rc == 0 and allow == "deny" and reason.startswith(hook.CANNOT_ASK)


@pytest.mark.parametrize("stdin", [
    b"", b"garbage", b"[]", b'{"tool_name": "Bash"}', b'{"tool_input": {}}',
    b'{"tool_name": 3, "tool_input": {}}', b'{"tool_name": "Bash", "tool_input": []}',
    b'{"tool_name": "Bash", "tool_input": {}, "cwd": 5}',
    b'{"tool_name": "Bash", "tool_input": {}, "tool_use_id": {}}', b"\xff\xfe",
])
def test_bad_hook_input_is_a_deny(stdin: bytes) -> None:
    rc, answer, _, _ = run_hook(stdin, API_PORT)
    allow, reason = decision_of(answer)
    assert rc == 0 and allow == "deny" and reason.startswith(hook.CANNOT_ASK)


def test_oversized_input_is_a_deny(gateway: tuple[Gateway, Decisions],
                                   start_relay: StartRelay) -> None:
    gw, decisions = gateway
    _, port = start_relay(gw.socket_path, gw.token)
    big = dict(HOOK_INPUT, tool_input={"command": "x" * (hook.MAX_INPUT + 1)})
    _, answer, _, _ = run_hook(json.dumps(big).encode(), port)
    allow, reason = decision_of(answer)
    assert allow == "deny" and "over" in reason and decisions.seen == []


def test_unprintable_answer_exits_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-P", "-c", "import sys; sys.stdout.close(); "
         "from runner.agent.hook import main; main(['--port', '1'])"],
        input=b"garbage", capture_output=True, timeout=TIMEOUT, cwd="/",
        env={"PYTHONPATH": str(REPO)})
    assert proc.returncode == 2
    assert b"could not be asked" in proc.stderr


def test_bad_arguments_are_a_deny() -> None:
    proc = subprocess.run([sys.executable, "-P", "-m", "runner.agent.hook", "--url", "x"],
                          input=json.dumps(HOOK_INPUT).encode(), capture_output=True,
                          timeout=TIMEOUT, cwd="/", env={"PYTHONPATH": str(REPO)})
    allow, reason = decision_of(json.loads(proc.stdout))
    assert proc.returncode == 0 and allow == "deny" and "unexpected arguments" in reason
