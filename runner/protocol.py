"""Requests and responses between the in-container agent and the host gateway.

One pydantic model per boundary call. This module is imported inside the
container, so it depends on pydantic only. The built-in agent speaks the Messages API
to the gateway with httpx and the few models below (``MessagesRequest``, ``Message`` and
its content blocks, ``Usage``, ``ErrorBody``): only what its loop uses, no SDK (importing
the anthropic SDK took seconds of the run's startup).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

SOCKET_DIR_IN_CONTAINER = "/run/sandbox-runner"
SOCKET_NAME = "gw.sock"
AGENT_CONFIG_NAME = "agent.json"
GO_NAME = "go"  # the host creates it once the sandbox self-check passed
GO_ENV = "SANDBOX_RUNNER_WAIT_FOR_GO"  # set: the agent preloads, then waits for GO_NAME
GATEWAY_BASE_URL = "http://gateway"  # host part is ignored: the transport is the unix socket
# The per-run gateway token reaches the agent process only: the host writes it as the first
# line of the agent's stdin (not its environment: the `timeout` wrapper of the exec would keep
# that readable in /proc). It travels as `x-api-key` (what the Messages API and its SDKs use
# for the key) or `Authorization: Bearer`, on every gateway route.
TOKEN_HEADER = "x-api-key"
ANTHROPIC_VERSION_HEADER = "anthropic-version"
ANTHROPIC_VERSION = "2023-06-01"
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


# The Messages API, as much of it as the built-in agent uses (runner/agent/loop.py). The
# gateway validates and forwards the request; answers are read leniently (extra fields the
# API adds are ignored; a content block of another type is kept whole).


class MessagesRequest(_Strict):
    """``POST /v1/messages``: non-streaming; messages and tool schemas as plain JSON."""

    model: str
    max_tokens: int
    system: str | None = None
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextBlock(_Answer):
    type: Literal["text"]
    text: str


class ToolUseBlock(_Answer):
    type: Literal["tool_use"]
    id: str
    name: str
    input: Any = None  # an object, as the model wrote it (the loop treats anything else as {})


class OtherBlock(BaseModel):
    """A block of any other type (thinking, ...): kept as it came."""

    model_config = ConfigDict(extra="allow")
    type: str


def _block_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in ("text", "tool_use") else "other"


ContentBlock = Annotated[
    Annotated[TextBlock, Tag("text")] | Annotated[ToolUseBlock, Tag("tool_use")]
    | Annotated[OtherBlock, Tag("other")],
    Discriminator(_block_tag),
]


class Usage(_Answer):
    input_tokens: int = 0
    output_tokens: int = 0


class Message(_Answer):
    """A Messages API answer."""

    id: str = ""
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    model: str = ""
    content: list[ContentBlock] = Field(default_factory=list)
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage = Field(default_factory=Usage)


class ErrorDetail(_Answer):
    type: str = "api_error"
    message: str = ""


class ErrorBody(_Answer):
    """An Anthropic-style error answer: ``{"type": "error", "error": {"type", "message"}}``
    (the gateway's own errors and the upstream's, relayed)."""

    type: Literal["error"] = "error"
    error: ErrorDetail
