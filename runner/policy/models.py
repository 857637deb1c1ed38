"""The policy input and decision shapes (docs/design.md "Policy input", "Decision").

The input shape may grow but never shrink: policies and replays of old logs
depend on it. Every model allows extra fields on read so an old log written by
a newer version still loads.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runner.protocol import BUILTIN_TOOL_INPUTS, ToolInput


# Tools only Claude Code has, as the policies name them (runner/policy/claude_code.py maps
# Claude Code's calls onto these and the built-in ones: MultiEdit and NotebookEdit are Edits,
# Task is Agent). WebFetch is decided by the network policy, WebSearch and the subagent
# options by policies/claude_code.rego; the bookkeeping tools only touch Claude Code's memory.
# Their models give the host's check of a call's shape (derive.validate) as the built-in
# tools' do; the runner never tells a model about them nor runs them.
class _ClaudeCodeInput(ToolInput):
    model_config = ConfigDict(extra="allow", defer_build=True)  # Claude Code sends more keys


class WebFetchInput(_ClaudeCodeInput):
    TOOL = "WebFetch"
    url: str
    prompt: str


class WebSearchInput(_ClaudeCodeInput):
    TOOL = "WebSearch"
    query: str
    allowed_domains: list[Any] | None = None
    blocked_domains: list[Any] | None = None


class AgentInput(_ClaudeCodeInput):
    TOOL = "Agent"
    prompt: str
    description: str | None = None
    subagent_type: str | None = None
    mode: str | None = None
    isolation: str | None = None


class BookkeepingInput(_ClaudeCodeInput):
    """Claude Code's own memory (todo and task lists...): any shape."""


BOOKKEEPING_TOOLS = ("TodoWrite", "TaskCreate", "TaskGet", "TaskList", "TaskUpdate",
                     "TaskStop", "TaskOutput", "ToolSearch", "ListAgents")
CLAUDE_CODE_ONLY_INPUTS: dict[str, type[ToolInput]] = {
    **{m.TOOL: m for m in (WebFetchInput, WebSearchInput, AgentInput)},
    **dict.fromkeys(BOOKKEEPING_TOOLS, BookkeepingInput),
}
CLAUDE_CODE_ONLY_TOOLS = tuple(CLAUDE_CODE_ONLY_INPUTS)
# Every tool the policies know (data.settings.tools), and its input model.
TOOL_INPUTS: dict[str, type[ToolInput]] = {**BUILTIN_TOOL_INPUTS, **CLAUDE_CODE_ONLY_INPUTS}
TOOL_NAMES = tuple(TOOL_INPUTS)

PathOp = Literal["read", "write", "exec"]
PathVia = Literal["argument", "redirect", "tool"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class ToolCall(_Model):
    """A raw tool call as the model asked for it."""

    name: str
    input: dict[str, Any] = Field(default_factory=dict)


def _unless_set(default: Any) -> Any:
    """A field left out of the JSON while it holds its default (false or None)."""
    return Field(default=default, exclude_if=lambda v: not v if default is False else v is None)


class PathFact(_Model):
    raw: str
    path: str  # workspace-relative after `..`/`~` normalisation, or absolute outside it
    real: str  # like `path` but after symlink resolution
    op: PathOp
    inside_workspace: bool
    symlink: bool = False
    via: PathVia = "tool"
    hardlinks: int = 1  # st_nlink of an existing regular file (>1: hard-linked)
    special: str | None = None  # "proc", "dev", "sys" for kernel special paths
    program: str | None = None  # the program whose argument/redirect it is (Bash)
    # Added with derivation (runner/policy/paths.py, runner/policy/shell/):
    dynamic: bool = False  # holds an unexpanded $VAR, $(...), glob or `{}`: `path` is lexical only
    inferred: bool = False  # argument of a program whose arguments are not known to be files
    implicit: bool = False  # not written in the call; implied by the program (~/.netrc, environ)
    measured: dict[str, Any] | None = None  # what the agent measured in the container (untrusted)
    # Present only when set (absent, not false or null, otherwise: the input is what it was
    # when these were extras); the policies read them (runner/policy/derive.py has the detail):
    loop: bool = _unless_set(False)  # a symlink loop on the way
    recursive: bool = _unless_set(False)  # a directory read (or written) whole
    contents: list[str] | None = _unless_set(None)  # what a recursive read reaches under it
    contents_truncated: bool = _unless_set(False)  # the walk for `contents` was cut short
    under: bool = _unless_set(False)  # the operation applies anywhere under the directory
    bounded: bool = _unless_set(False)  # a pattern's match: every word it can give is listed
    note: str | None = _unless_set(None)  # why a tool writes there when the call does not say
    new_link: str | None = _unless_set(None)  # the program that may have made it a symlink


class ShellCommand(_Model):
    program: str
    argv: list[str] = Field(default_factory=list)
    wrapper: str | None = None  # the wrapper it was found under (env, timeout, sudo, find -exec ...)
    # argv indexes the program takes as text, never as a file (a grep pattern, echo's words):
    # a secret file's name there is not a read (runner/policy/shell/textargs.py)
    text_args: list[int] | None = None


with warnings.catch_warnings():
    # `construct` is the policy-facing field name (docs/design.md); it shadows the deprecated
    # BaseModel.construct classmethod, which nothing here uses.
    warnings.filterwarnings("ignore", message=".*shadows an attribute.*")

    class OpaqueConstruct(_Model):
        """Something the shell analysis cannot see through (eval, `python -c`, ...)."""

        construct: str  # type: ignore[assignment]  # e.g. "eval", "variable-program", "inline-interpreter", "parse-error"
        text: str = ""


class ShellFacts(_Model):
    parsed: bool = True
    opaque: list[OpaqueConstruct] = Field(default_factory=list)
    commands: list[ShellCommand] = Field(default_factory=list)


class HostFact(_Model):
    host: str
    port: int | None = None
    via: str  # e.g. "curl-argument", "pip-index", "dev-tcp", "git-remote"
    dynamic: bool = False  # the host holds an unexpanded $VAR or $(...): not knowable statically
    scheme: str | None = None  # a URL's scheme, lowercase (WebFetch: "webfetch" facts)


class SecretFinding(_Model):
    rule: str  # e.g. "aws-access-key", "secret-file"
    where: str  # e.g. "input.content", "input.command", "paths[0]"
    line: int | None = None  # 1-based line of `where` holding the finding


class RunInfo(_Model):
    id: str = ""
    agent: str = ""
    workspace: str = "/workspace"
    # The tools the agent file grants (after disallowedTools and what this runtime has):
    # the policies deny any other tool. None: no agent file restricts the tools.
    tools: list[str] | None = None


class PolicyInput(_Model):
    """A tool call's input (kind ``tool``: an input without ``kind`` is a tool call)."""

    tool: ToolCall
    paths: list[PathFact] = Field(default_factory=list)
    shell: ShellFacts | None = None
    hosts: list[HostFact] = Field(default_factory=list)
    secrets: list[SecretFinding] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)  # malformed input found during derivation
    run: RunInfo = Field(default_factory=RunInfo)

    def decided_json(self) -> str:
        """The input as the policies are given it: without what the agent reported measuring
        (``PathFact.measured``: the agent's claim, recorded in the decision log beside the
        host's facts, never decided on; docs/threat-model.md)."""
        return self.model_dump_json(exclude=_NOT_DECIDED)


# Parts of a PolicyInput the policies never see (PolicyInput.decided_json).
_NOT_DECIDED: dict[str, Any] = {"paths": {"__all__": {"measured"}}}


Phase = Literal["setup", "agent"]


class ConnectTarget(_Model):
    """One connection the egress proxy was asked for (runner/egress)."""

    host: str  # lowercase, no trailing dot; an IP literal in its canonical form (no brackets)
    port: int = Field(ge=1, le=65535)
    phase: Phase
    method: str = "CONNECT"  # CONNECT (a TLS tunnel), or the method of a plain-HTTP request
    runtime: str = "builtin"


class ConnectInput(_Model):
    """A connection's input (kind ``connect``), decided by the same bundle as tool calls."""

    kind: Literal["connect"] = "connect"
    connect: ConnectTarget
    run: RunInfo = Field(default_factory=RunInfo)


AnyInput = PolicyInput | ConnectInput


class Reason(_Model):
    policy: str
    rule: str
    msg: str


class Decision(_Model):
    allow: bool
    reasons: list[Reason] = Field(default_factory=list)

    @classmethod
    def deny(cls, policy: str, rule: str, msg: str) -> Decision:
        return cls(allow=False, reasons=[Reason(policy=policy, rule=rule, msg=msg)])

    @classmethod
    def failed(cls, detail: str) -> Decision:
        """Fail closed: anything that cannot be decided is a deny."""
        return cls.deny("engine", "evaluation_failed", f"policy evaluation failed: {detail}")
