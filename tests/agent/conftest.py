"""Run the real agent process (``python -m runner.agent``) on the host against a real gateway."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runner.gateway import Budget, Gateway, Redactor, RetryPolicy, ScriptedProvider
from runner.gateway.scripted import Scenario
from runner.protocol import BUILTIN_TOOLS, AgentConfig, DecideReason, DecideRequest, DecideResponse

REPO = Path(__file__).resolve().parents[2]


def deny_list(*prefixes: str) -> Callable[[DecideRequest], DecideResponse]:
    """A stand-in policy: deny Write/Edit outside the prefixes' complement, and Bash with curl."""

    def decide(req: DecideRequest) -> DecideResponse:
        path = str(req.input.get("file_path", ""))
        if req.tool in ("Write", "Edit") and any(path.startswith(p) for p in prefixes):
            return DecideResponse(allow=False, decision_id="deny-1", reasons=[DecideReason(
                policy="scope", rule="write_outside_writable",
                msg=f"writes are allowed only under backend/ and issues.md: {path}")])
        if req.tool == "Bash" and "curl" in str(req.input.get("command", "")):
            return DecideResponse(allow=False, decision_id="deny-2", reasons=[DecideReason(
                policy="network", rule="host_not_allowed", msg="no network hosts are allowed")])
        return DecideResponse(allow=True, decision_id=f"allow-{req.tool_use_id}")

    return decide


@dataclass
class AgentRun:
    proc: subprocess.CompletedProcess[str]
    gateway: Gateway
    run_dir: Path
    workspace: Path
    decided: list[DecideRequest]


@pytest.fixture
def run_agent(tmp_path: Path) -> Iterator[Callable[..., AgentRun]]:
    sock_dirs: list[Path] = []

    def run(turns: list[dict[str, Any]], *, decide: Callable[[DecideRequest], DecideResponse] | None = None,
            tools: list[str] | None = None, max_turns: int = 20, env: dict[str, str] | None = None,
            config: str | None = None, retry: RetryPolicy | None = None, timeout: float = 60) -> AgentRun:
        sock_dir = Path(tempfile.mkdtemp(prefix="sragent-", dir="/tmp"))
        sock_dirs.append(sock_dir)
        workspace = tmp_path / "ws"
        (workspace / "backend").mkdir(parents=True, exist_ok=True)
        run_dir = tmp_path / "run"
        decided: list[DecideRequest] = []
        policy = decide or deny_list("frontend/")

        def recording(req: DecideRequest) -> DecideResponse:
            decided.append(req)
            return policy(req)

        gw = Gateway(
            socket_path=sock_dir / "gw.sock",
            provider=ScriptedProvider(scenario=Scenario.model_validate({"turns": turns})),
            decide=recording, run_dir=run_dir, budget=Budget(max_requests=100, max_tokens=10**7),
            redactor=Redactor.from_env(), retry=retry or RetryPolicy(retries=2, backoff_base=0.01),
        )
        cfg = AgentConfig(run_id="run-test", agent_name="tester", system_prompt="You are a test agent.",
                          task="Do the task.", model="claude-test",
                          tools=list(BUILTIN_TOOLS) if tools is None else tools,
                          max_turns=max_turns, bash_timeout=10, output_limit=5000)
        (sock_dir / "agent.json").write_text(config if config is not None else cfg.model_dump_json())
        full_env = {**os.environ, "SANDBOX_RUNNER_DIR": str(sock_dir),
                    "SANDBOX_RUNNER_WORKSPACE": str(workspace), **(env or {})}
        gw.start()
        try:
            proc = subprocess.run([sys.executable, "-m", "runner.agent"], env=full_env, cwd=REPO,
                                  capture_output=True, text=True, timeout=timeout,
                                  input=f"{gw.token}\n")  # as the runner hands it over
        finally:
            gw.stop()
        return AgentRun(proc, gw, run_dir, workspace, decided)

    yield run
    for d in sock_dirs:
        shutil.rmtree(d, ignore_errors=True)
