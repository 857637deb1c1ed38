"""The agent's start (runner/agent/start.py): its first request before any model exists, the
whole config validated before any tool runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner.agent.start import AgentConfigError, Preload, load_start
from runner.protocol import BUILTIN_TOOLS, AgentConfig
from tests.agent.conftest import REPO, AgentRun


def config(tools: list[str] | None = None, **changes: Any) -> dict[str, Any]:
    """agent.json as the host writes it, then ``changes`` written over it (no validation)."""
    cfg = AgentConfig(run_id="r", agent_name="a", system_prompt="s", task="t", model="m",
                      tools=["Bash", "Teleport", "Read"] if tools is None else tools)
    return {**json.loads(cfg.model_dump_json()), **changes}


def test_the_start_loads_no_pydantic() -> None:
    """What the agent imports before its first request: no pydantic, no runner.protocol."""
    code = ("import sys, runner.agent.__main__, runner.agent.start, runner.agent.client, runner.wire; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core') "
            "or m == 'runner.protocol'))")
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
