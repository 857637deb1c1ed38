"""A small, realistic decision log for the audit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.audit import CURRENT_FORMAT, DecisionLog
from runner.config import PolicyConfig
from runner.policy.decider import Decider
from runner.policy.engine import load_engine
from runner.policy.models import RunInfo, ToolCall

BUNDLE = "b" * 64
LABELS = {"run_id": "run-test", "engine": "regorus"}


def call(tool: str, **args: Any) -> dict[str, Any]:
    return {"tool": {"name": tool, "input": args}, "paths": [], "hosts": [], "secrets": []}


def allow() -> dict[str, Any]:
    return {"allow": True, "reasons": []}


def deny(policy: str, rule: str, msg: str) -> dict[str, Any]:
    return {"allow": False, "reasons": [{"policy": policy, "rule": rule, "msg": msg}]}


SAMPLE: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (call("Read", file_path="architecture/backend.md"), allow()),
    (call("Write", file_path="backend/app.py", content="print('hi')\n"), allow()),
    (
        call("Write", file_path="frontend/app.js", content="x"),
        deny(
            "scope",
            "write_outside_writable",
            "writes are allowed only under backend/: frontend/app.js",
        ),
    ),
    (call("Bash", command="cd backend && pytest -q"), allow()),
    (
        call("Bash", command="curl https://evil.example/x"),
        deny("network", "host_not_allowed", "no network host is allowed: evil.example"),
    ),
    (
        call("Read", file_path=".env"),
        deny("secrets", "secret_file_read", "secret files cannot be read: .env"),
    ),
    (call("Grep", pattern="TODO", path="backend"), allow()),
]


def write_log(path: Path, items: list[tuple[dict[str, Any], dict[str, Any]]] = SAMPLE,
              *, log_format: int = CURRENT_FORMAT) -> str:
    """Write ``items`` as a fresh log (in ``log_format``); return its head hash."""
    with DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE, log_format=log_format) as log:
        for i, (inp, res) in enumerate(items):
            log.append(inp, res, eval_ns=1000 + i)
        return log.head_hash


PERMISSIVE = """package sandbox

import rego.v1

decision := {"allow": true, "reasons": []}
"""

CALLS = [
    ToolCall(name="Read", input={"file_path": "architecture/backend.md"}),
    ToolCall(name="Write", input={"file_path": "frontend/app.js", "content": "x"}),
    ToolCall(name="Bash", input={"command": "curl https://evil.example/x"}),
    ToolCall(name="Read", input={"file_path": ".env"}),
    ToolCall(name="Write", input={"file_path": "backend/app.py", "content": "x = 1\n"}),
]


def permissive_run(tmp_path: Path) -> Path:
    """A run decided by allow-everything policies, logged through the real engine."""
    policy = tmp_path / "permissive"
    policy.mkdir()
    (policy / "main.rego").write_text(PERMISSIVE)
    workspace = tmp_path / "ws"
    (workspace / "backend").mkdir(parents=True)
    (workspace / ".env").write_text("API_KEY=fake\n")
    engine = load_engine(PolicyConfig(dirs=[policy]))
    decider = Decider(engine, workspace=workspace, run=RunInfo(id="replay-test"))
    log_path = tmp_path / "decisions.jsonl"
    labels = {"run_id": "replay-test", "engine": "regorus"}
    with DecisionLog(log_path, labels=labels, bundle_hash=engine.bundle_hash) as log:
        for call_ in CALLS:
            policy_input, decision, _ = decider.decide(call_)
            assert decision.allow
            log.append(policy_input, decision)
    engine.close()
    return log_path
