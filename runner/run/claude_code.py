"""The claude-code runtime, seen from the host: the command line, the agent file, the events.

Claude Code runs in the sandbox as the agent (``/opt/claude-code/bin/claude -p``), from the
claude-code runtime layer. It reaches the model through the runner-owned API relay on
``127.0.0.1:API_PORT`` (:mod:`runner.agent.api_relay`; the relay holds the run's token, Claude
Code gets a dummy key), and every tool call it makes passes the runner-owned PreToolUse hook
in the image's managed settings (:mod:`runner.agent.hook`), which asks ``/v1/decide``.

The agent file is given to Claude Code natively: a normalised copy (name, description, the
tools this run grants, the model) with the file's body is written to
``$HOME/.claude/agents/<name>.md`` in the container's tmpfs home and selected with
``--agent``. Claude Code's ``--output-format stream-json`` lines are hostile input: each is
parsed with caps and turned into the same events the built-in runtime sends (``turn``,
``text``, ``tool_call``, ``tool_result``, ``agent_started``, ``agent_finished``,
``agent_error``), which the gateway redacts, clips and records in ``events.jsonl``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from runner.agentdef import AgentDefinition
from runner.protocol import API_PORT, EventRequest
from runner.runtime_tools import claude_tool_args
from runner.sandbox.spec import HOME, RUNTIME_PYTHON

CLAUDE_BIN = "/opt/claude-code/bin/claude"
API_RELAY_MODULE = "runner.agent.api_relay"
# How the managed settings' PreToolUse hook command starts (images/claude-code/).
HOOK_COMMAND = f"{RUNTIME_PYTHON} -P -m runner.agent.hook"
API_RELAY_READY = "sandbox-runner api relay: listening on"  # its first stdout line

AGENTS_DIR = f"{HOME}/.claude/agents"
# Not a secret: Claude Code insists on a key; the relay drops it and sends the run's token.
DUMMY_KEY = "sandbox-runner-dummy-key"
MAX_LINE = 4 * 1024 * 1024  # a stream-json line longer than this is not parsed
_TEXT_CHARS = 4000
_VALUE_CHARS = 1000
_NAME_RE = re.compile(r"[^a-z0-9-]+")
DENIED_PREFIX = "PreToolUse:"  # how Claude Code reports a hook's deny in a tool result


RELAY_UID = 10002  # the API relay's uid in the container (not the agent's)


def relay_uid(sandbox_uid: int) -> int:
    """A uid for the API relay that is not the sandbox user's."""
    return RELAY_UID if sandbox_uid != RELAY_UID else RELAY_UID + 1


def api_relay_command() -> list[str]:
    """The API relay's argv: the runtime prefix's interpreter; ``-P``: nothing from the CWD."""
    return [RUNTIME_PYTHON, "-P", "-m", API_RELAY_MODULE]


def agent_slug(name: str) -> str:
    """A file and ``--agent`` name Claude Code accepts (lowercase letters, digits, hyphens)."""
    slug = _NAME_RE.sub("-", name.lower()).strip("-")[:64]
    return slug or "agent"


def agent_file(agent: AgentDefinition, *, tools: list[str], model: str | None) -> str:
    """The agent file as Claude Code reads it: normalised frontmatter (JSON scalars are valid
    YAML, so nothing in the original's frontmatter can break it) and the original body."""
    lines = ["---", f"name: {agent_slug(agent.name)}",
             f"description: {json.dumps(agent.description or agent.name)}",
             f"tools: {', '.join(tools)}" if tools else "tools: []"]
    if model:
        lines.append(f"model: {json.dumps(model)}")
    lines.append("---")
    return "\n".join(lines) + "\n\n" + agent.system_prompt.strip() + "\n"


def claude_command(*, agent: str, task: str, max_turns: int, tools: list[str],
                   model: str | None, append_prompt: str) -> list[str]:
    """The argv of Claude Code in the sandbox (print mode, stream-json, no sessions kept;
    ``--tools`` exactly the granted tools, ``--disallowedTools`` the sandbox's others)."""
    cmd = [CLAUDE_BIN, "-p", task, "--agent", agent_slug(agent),
           "--output-format", "stream-json", "--verbose",
           "--max-turns", str(max_turns), "--no-session-persistence",
           "--permission-mode", "dontAsk",
           "--strict-mcp-config", *claude_tool_args(tools),
           "--append-system-prompt", append_prompt]
    if model:
        cmd += ["--model", model]
    return cmd


def claude_env(proxy_env: dict[str, str]) -> dict[str, str]:
    """Claude Code's environment: the API relay as its Messages API, a dummy key, nothing
    non-essential (no telemetry, no auto-update, no error reports), no background tasks (a
    command runs in the foreground to its end: Claude Code otherwise moves a slow one to the
    background, on a loaded machine a 2 s pytest, and its completion notice starts another
    turn after the answer; a background process would also outlive its tool call), the
    egress proxy when the run has one."""
    return {
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{API_PORT}",
        "ANTHROPIC_API_KEY": DUMMY_KEY,
        "CLAUDE_CODE_DISABLE_BACKGROUND_TASKS": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
        "CLAUDE_CODE_SHELL": "/bin/bash",
        "HOME": HOME,
        **proxy_env,
    }


@dataclass
class StreamOutcome:
    """What the stream said about how Claude Code ended (its ``result`` line)."""

    subtype: str | None = None  # success, error_max_turns, error_during_execution, ...
    is_error: bool = False
    turns: int = 0
    message: str = ""


@dataclass
class StreamJsonEvents:
    """Turns Claude Code's stream-json lines into runner events. Every line is hostile:
    malformed, oversized or unexpected lines are counted and skipped, never trusted."""

    agent_name: str
    model: str
    outcome: StreamOutcome = field(default_factory=StreamOutcome)
    skipped: int = 0
    turns: int = 0
    _started: bool = False  # an init line was seen (Claude Code may repeat it: one start)
    _last_message: str | None = None  # the assistant message the last lines belonged to
    _parent: str | None = None
    _names: dict[str, str] = field(default_factory=dict)  # tool_use id -> tool name

    def feed(self, line: str) -> list[EventRequest]:
        if not line.strip():
            return []
        if len(line) > MAX_LINE:
            self.skipped += 1
            return []
        try:
            obj = json.loads(line)
        except ValueError:
            self.skipped += 1
            return []
        if not isinstance(obj, dict):
            self.skipped += 1
            return []
        kind = obj.get("type")
        if kind == "system" and obj.get("subtype") == "init":
            if self._started:  # a repeated init line starts nothing
                return []
            self._started = True
            return [_event("agent_started", runtime="claude-code", agent=self.agent_name,
                           model=_str(obj.get("model")) or self.model,
                           tools=_str_list(obj.get("tools")),
                           claude_code_version=_str(obj.get("claude_code_version")))]
        if kind == "assistant":
            return self._assistant(obj)
        if kind == "user":
            return self._user(obj)
        if kind == "result":
            return self._result(obj)
        return []

    def _assistant(self, obj: dict[str, Any]) -> list[EventRequest]:
        msg = obj.get("message")
        if not isinstance(msg, dict):
            self.skipped += 1
            return []
        parent = _str(obj.get("parent_tool_use_id")) or None
        out: list[EventRequest] = []
        msg_id = _str(msg.get("id"))
        # One line per content block; a new message id, or any after a tool result, is a turn.
        if msg_id != self._last_message or parent != self._parent:
            self._last_message, self._parent = msg_id, parent
            self.turns += 1
            raw_usage = msg.get("usage")
            usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
            out.append(_event("turn", n=self.turns, parent=parent,
                              input_tokens=_int(usage.get("input_tokens")),
                              output_tokens=_int(usage.get("output_tokens"))))
        for block in _blocks(msg.get("content")):
            if block.get("type") == "text" and _str(block.get("text")):
                out.append(_event("text", text=_clip(_str(block.get("text")), _TEXT_CHARS),
                                  parent=parent))
            elif block.get("type") == "tool_use":
                tool_id, name = _str(block.get("id")), _str(block.get("name"))
                if len(self._names) < 100_000:
                    self._names[tool_id] = name
                out.append(_event("tool_call", id=tool_id, name=name, parent=parent,
                                  input=_clip_tree(block.get("input"))))
        return out

    def _user(self, obj: dict[str, Any]) -> list[EventRequest]:
        msg = obj.get("message")
        if not isinstance(msg, dict):
            return []
        self._last_message = None  # the next assistant line answers this one: a new turn
        out: list[EventRequest] = []
        for block in _blocks(msg.get("content")):
            if block.get("type") != "tool_result":
                continue
            tool_id = _str(block.get("tool_use_id"))
            text = _result_text(block.get("content"))
            is_error = block.get("is_error") is True
            denied = is_error and DENIED_PREFIX in text[:200] and "hook error" in text[:200]
            out.append(_event("tool_result", id=tool_id, name=self._names.get(tool_id, ""),
                              is_error=is_error, chars=len(text), denied=denied,
                              summary=_clip(text, _VALUE_CHARS)))
        return out

    def _result(self, obj: dict[str, Any]) -> list[EventRequest]:
        o = self.outcome
        o.subtype = _str(obj.get("subtype")) or None
        o.is_error = obj.get("is_error") is True
        o.turns = _int(obj.get("num_turns"))
        o.message = _clip(_str(obj.get("result")), _VALUE_CHARS)
        if o.is_error and o.subtype != "error_max_turns":
            return [_event("agent_error", kind="claude_code", subtype=o.subtype or "",
                           message=o.message or (o.subtype or "error"), turns=o.turns)]
        reason = "max_turns" if o.subtype == "error_max_turns" else \
            _str(obj.get("stop_reason")) or "end_turn"
        return [_event("agent_finished", reason=reason, turns=o.turns)]


def _event(event_kind: str, **data: Any) -> EventRequest:
    return EventRequest.model_validate({"kind": event_kind, "data": data})


def _blocks(content: Any) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return []
    return [b for b in content[:200] if isinstance(b, dict)]


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = [_str(b.get("text")) for b in _blocks(content) if b.get("type") == "text"]
    return "\n".join(parts)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _str_list(value: Any) -> list[str]:
    return [v[:100] for v in value[:200] if isinstance(v, str)] if isinstance(value, list) else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


def _clip_tree(obj: Any, depth: int = 0) -> Any:
    if depth > 8:
        return "[...]"
    if isinstance(obj, str):
        return _clip(obj, _VALUE_CHARS)
    if isinstance(obj, list):
        return [_clip_tree(v, depth + 1) for v in obj[:50]]
    if isinstance(obj, dict):
        return {str(k)[:100]: _clip_tree(v, depth + 1) for k, v in list(obj.items())[:50]}
    if obj is None or isinstance(obj, (bool, int, float)):
        return obj
    return str(obj)[:_VALUE_CHARS]


@dataclass(frozen=True)
class ClaudeCodeLaunch:
    """Everything the runner needs to start Claude Code in the sandbox."""

    command: list[str]
    env: dict[str, str]
    agent_path: str
    agent_text: str


def claude_launch(agent: AgentDefinition, *, tools: list[str], model: str | None, task: str,
                  max_turns: int, append_prompt: str, proxy_env: dict[str, str]) -> ClaudeCodeLaunch:
    return ClaudeCodeLaunch(
        command=claude_command(agent=agent.name, task=task, max_turns=max_turns, tools=tools,
                               model=model, append_prompt=append_prompt),
        env=claude_env(proxy_env),
        agent_path=f"{AGENTS_DIR}/{agent_slug(agent.name)}.md",
        agent_text=agent_file(agent, tools=tools, model=model),
    )


__all__ = [
    "AGENTS_DIR",
    "API_RELAY_READY",
    "CLAUDE_BIN",
    "HOOK_COMMAND",
    "ClaudeCodeLaunch",
    "StreamJsonEvents",
    "StreamOutcome",
    "agent_file",
    "agent_slug",
    "api_relay_command",
    "claude_command",
    "claude_env",
    "claude_launch",
    "relay_uid",
]
