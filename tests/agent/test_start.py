"""The agent's start (runner/agent/start.py): its first request before any model exists, the
whole config validated before any tool runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from runner.agent.start import AgentConfigError, Preload, load_start
from runner.gateway import Budget, Gateway, Redactor, RetryPolicy, ScriptedProvider
from runner.gateway.scripted import Scenario
from runner.protocol import (
    BUILTIN_TOOLS,
    GO_ENV,
    GO_NAME,
    OPEN_NAME,
    AgentConfig,
    DecideRequest,
    DecideResponse,
)
from tests.agent.conftest import REPO, AgentRun


def config(tools: list[str] | None = None, **changes: Any) -> dict[str, Any]:
    """agent.json as the host writes it, then ``changes`` written over it (no validation)."""
    cfg = AgentConfig(run_id="r", agent_name="a", system_prompt="s", task="t", model="m",
                      tools=["Bash", "Teleport", "Read"] if tools is None else tools)
    return {**json.loads(cfg.model_dump_json()), **changes}


def test_the_start_loads_no_pydantic_and_no_httpx() -> None:
    """What the agent imports before its first request: no pydantic, no runner.protocol, no
    httpx (the first request goes out with the standard library)."""
    code = ("import sys, runner.agent.__main__, runner.agent.start, runner.agent.first_call, "
            "runner.wire; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pydantic', 'pydantic_core', 'httpx', 'httpcore') or m == 'runner.protocol'))")
    proc = subprocess.run([sys.executable, "-P", "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=30, check=True)
    assert proc.stdout.strip() == "[]"


def test_the_host_writes_the_tool_definitions_of_the_enabled_builtin_tools() -> None:
    assert [d["name"] for d in config()["tool_definitions"]] == ["Bash", "Read"]
    assert [d["name"] for d in config(tools=list(BUILTIN_TOOLS))["tool_definitions"]] == list(BUILTIN_TOOLS)


def test_load_start_reads_the_first_request_fields(tmp_path: Path) -> None:
    (tmp_path / "agent.json").write_text(json.dumps(config()))
    start = load_start({"SANDBOX_RUNNER_DIR": str(tmp_path)})
    assert (start.model, start.max_tokens, start.task, start.max_turns) == ("m", 8192, "t", 50)
    assert start.socket_path == str(tmp_path / "gw.sock")
    assert [d["name"] for d in start.tool_definitions] == ["Bash", "Read"]


@pytest.mark.parametrize(("text", "message"), [
    ("{", "not JSON"),
    ("[]", "not a JSON object"),
    (json.dumps({k: v for k, v in config().items() if k != "model"}), "model: Field required"),
    (json.dumps(config(max_tokens="8192")), "max_tokens: not a JSON integer"),
    (json.dumps(config(max_turns=True)), "max_turns: not a JSON integer"),
    (json.dumps({**config(), "tools": [1]}), "lists of strings and objects"),
    (json.dumps(config(tool_definitions=["Bash"])), "lists of strings and objects"),
])
def test_load_start_refuses_what_the_first_request_cannot_carry(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "agent.json").write_text(text)
    with pytest.raises(AgentConfigError, match=message) as info:
        load_start({"SANDBOX_RUNNER_DIR": str(tmp_path)})
    assert str(tmp_path / "agent.json") in str(info.value)


def test_preload_hands_back_its_value_or_its_error() -> None:
    assert Preload(lambda: 42).result() == 42

    def broken() -> int:
        raise AgentConfigError("bad")

    with pytest.raises(AgentConfigError, match="bad"):
        Preload(broken).result()


def test_a_config_the_models_refuse_is_exit_2_before_any_tool_runs(run_agent: Any) -> None:
    """The first request goes out on the quick read; the preload's full validation refuses the
    config before the first answer is acted on: its tool call never runs."""
    bad = json.dumps(config(tools=list(BUILTIN_TOOLS), bash_timeout="slow"))
    run: AgentRun = run_agent([
        {"tool_calls": [{"name": "Write", "input": {"file_path": "backend/x.py", "content": "x"}}]},
        {"text": "done"}], config=bad)
    assert run.proc.returncode == 2
    assert run.proc.stderr.startswith("sandbox-runner agent: bad config: ") and "bash_timeout" in run.proc.stderr
    assert len(run.proc.stderr.strip().splitlines()) == 1
    assert not (run.workspace / "backend" / "x.py").exists() and run.decided == []
    assert run.gateway.stats.requests == 1  # the first request only


def test_the_first_request_needs_the_open_file_and_the_answer_waits_for_go(tmp_path: Path) -> None:
    """As the sandbox's main process (told to wait): the first request goes out once the open
    file exists (the go file does not yet: the test creates it only after seeing the request),
    and the first answer's tool call is decided only after the go file."""
    sock_dir = Path(tempfile.mkdtemp(prefix="sragent-", dir="/tmp"))
    workspace = tmp_path / "ws"
    (workspace / "backend").mkdir(parents=True)
    decided_at: list[float] = []

    def decide(req: DecideRequest) -> DecideResponse:
        decided_at.append(time.monotonic())
        return DecideResponse(allow=True, decision_id="d-1")

    gw = Gateway(socket_path=sock_dir / "gw.sock", provider=ScriptedProvider(scenario=Scenario.model_validate(
        {"turns": [{"tool_calls": [{"name": "Write", "input": {"file_path": "backend/x.py", "content": "x"}}]},
                   {"text": "done"}]})),
        decide=decide, run_dir=tmp_path / "run", budget=Budget(max_requests=10, max_tokens=10**6),
        redactor=Redactor.from_env(), retry=RetryPolicy(retries=0))
    (sock_dir / "agent.json").write_text(json.dumps(config(tools=list(BUILTIN_TOOLS))))
    env = {**os.environ, "SANDBOX_RUNNER_DIR": str(sock_dir), "SANDBOX_RUNNER_WORKSPACE": str(workspace),
           GO_ENV: "1"}
    gw.start()
    proc = subprocess.Popen([sys.executable, "-m", "runner.agent"], env=env, cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdin is not None
        proc.stdin.write(f"{gw.token}\n")
        proc.stdin.flush()
        (sock_dir / OPEN_NAME).touch()
        deadline = time.monotonic() + 60
        while gw.stats.requests < 1:  # the first request, while no go file exists
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.005)
        assert decided_at == [] and not (workspace / "backend" / "x.py").exists()
        go_at = time.monotonic()
        (sock_dir / GO_NAME).touch()
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        gw.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)
    assert proc.returncode == 0, stderr
    assert len(decided_at) == 1 and decided_at[0] > go_at
    assert (workspace / "backend" / "x.py").read_text() == "x"
