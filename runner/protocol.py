"""Requests and responses between the in-container agent and the host gateway.

One pydantic model per boundary call. This module is imported inside the
container, so it depends on pydantic only (which the anthropic SDK brings).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SOCKET_DIR_IN_CONTAINER = "/run/sandbox-runner"
SOCKET_NAME = "gw.sock"
AGENT_CONFIG_NAME = "agent.json"
GO_NAME = "go"  # the host creates it once the sandbox self-check passed
GO_ENV = "SANDBOX_RUNNER_WAIT_FOR_GO"  # set: the agent preloads, then waits for GO_NAME
GATEWAY_BASE_URL = "http://gateway"  # host part is ignored: the transport is the unix socket
# The per-run gateway token reaches the agent process only: the host writes it as the first
# line of the agent's stdin (not its environment: the `timeout` wrapper of the exec would keep
# that readable in /proc). It travels as `x-api-key` (what the anthropic SDK sends for its
# api_key) or `Authorization: Bearer`, on every gateway route.
TOKEN_HEADER = "x-api-key"
# The claude-code runtime: the in-container API relay (runner/agent/api_relay.py) listens on
# 127.0.0.1:API_PORT; Claude Code's ANTHROPIC_BASE_URL and its PreToolUse hook
# (runner/agent/hook.py, which keeps its own copy: it must not import pydantic) point there.
API_PORT = 4141
Runtime = Literal["builtin", "claude-code"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MeasuredPath(_Strict):
    """What the agent saw of a path inside the container before asking."""

    raw: str
    real: str
    symlink: bool
    exists: bool


class DecideRequest(_Strict):
    tool: str
    input: dict[str, Any]
    cwd: str = "/workspace"
    measured: list[MeasuredPath] = Field(default_factory=list)
    tool_use_id: str | None = None
    # who asks: the built-in agent (tool names as the policies know them) or Claude Code's
    # PreToolUse hook (its tool names, mapped on the host: runner/policy/claude_code.py)
    runtime: Runtime = "builtin"


class DecideReason(_Strict):
    policy: str
    rule: str
    msg: str


class DecideResponse(_Strict):
    allow: bool
    reasons: list[DecideReason] = Field(default_factory=list)
    decision_id: str


EventKind = Literal[
    "agent_started", "turn", "tool_call", "tool_result", "text", "agent_finished", "agent_error",
]


class EventRequest(_Strict):
    kind: EventKind
    data: dict[str, Any] = Field(default_factory=dict)


class EventResponse(_Strict):
    ok: bool = True


class AgentConfig(_Strict):
    """Everything the in-container agent needs, written by the host as agent.json."""

    run_id: str
    agent_name: str
    system_prompt: str
    task: str
    model: str
    tools: list[str]
    max_turns: int = 50
    max_tokens: int = 8192
    bash_timeout: float = 120.0
    output_limit: int = 30_000
    workspace: str = "/workspace"
    writable: list[str] = Field(default_factory=lambda: ["backend/", "issues.md"])
