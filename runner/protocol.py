"""Requests and responses between the in-container agent and the host gateway.

One pydantic model per boundary call, and one per built-in tool's input (the one source of
the tool definitions the model is told, of the agent's and the host's checks of a call's
input, and of the built-in tool names: "Tool inputs" below). This module is imported inside
the container, so it depends on pydantic only; the agent builds these models while its first
request is out (the constants it needs before are in :mod:`runner.wire`). The built-in agent
speaks the Messages API to the gateway with httpx and the few models below (``Message`` and
its content blocks, ``Usage``, ``ErrorBody``): only what its loop uses, no SDK (importing
the anthropic SDK took seconds of the run's startup).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import NoneType, UnionType
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

# the channel's constants, re-exported: the agent's start reads them without pydantic
from runner.wire import (
    AGENT_CONFIG_NAME as AGENT_CONFIG_NAME,
)
from runner.wire import (
    ANTHROPIC_VERSION as ANTHROPIC_VERSION,
)
from runner.wire import (
    ANTHROPIC_VERSION_HEADER as ANTHROPIC_VERSION_HEADER,
)
from runner.wire import (
    API_PORT as API_PORT,
)
from runner.wire import (
    EVENT_KINDS as EVENT_KINDS,
)
from runner.wire import (
    GATEWAY_BASE_URL as GATEWAY_BASE_URL,
)
from runner.wire import (
    GO_ENV as GO_ENV,
)
from runner.wire import (
    GO_NAME as GO_NAME,
)
from runner.wire import (
    OPEN_NAME as OPEN_NAME,
)
from runner.wire import (
    SOCKET_DIR_IN_CONTAINER as SOCKET_DIR_IN_CONTAINER,
)
from runner.wire import (
    SOCKET_NAME as SOCKET_NAME,
)
from runner.wire import (
    TOKEN_HEADER as TOKEN_HEADER,
)
from runner.wire import (
    EventKind as EventKind,
)
from runner.wire import (
    Runtime as Runtime,
)


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
    # What the model is told (the Messages API ``tools``), from the models below for the
    # enabled built-in tools; in agent.json, so the agent sends its first request before it
    # has built any model (runner/agent/start.py).
    tool_definitions: list[dict[str, Any]] = Field(
        default_factory=lambda data: tool_definitions(data.get("tools", [])))


# The Messages API, as much of it as the built-in agent uses (runner/agent/loop.py; its
# requests are plain JSON: runner.agent.client.messages_body). The gateway validates and
# forwards the request; answers are read leniently (extra fields the
# API adds are ignored; a content block of another type is kept whole).


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


# --- Tool inputs ---------------------------------------------------------------------------
# One model per built-in tool (names and arguments as in Claude Code). From these come the
# tool definitions the model is told (``tool_definition``: the Messages API ``tools``), the
# agent's validation of a call (runner/agent/tools.py: the model itself), the host's check of
# a call's shape before its policy input is derived (runner/policy/derive.py: ``tool_fields``)
# and the built-in tool names (``BUILTIN_TOOLS``, the first of the policies' TOOL_NAMES).
# Claude Code's own tools the policies decide have models of the same kind on the host
# (runner/policy/models.py). Built lazily (``defer_build``): the agent validates with the
# models of the tools it calls; the host reads only their fields.

PATH_DESCRIPTION = "Relative to /workspace, or absolute"


class _ContainerPath:
    """Marks a field that names a path in the container: the agent measures it before asking
    (``MeasuredPath``) and the host resolves it; an empty one is malformed."""


_PATH_ARG = _ContainerPath()
_PATH_DOC = Field(description=PATH_DESCRIPTION)
ContainerPath = Annotated[str, _PATH_ARG, _PATH_DOC]
OptionalContainerPath = Annotated[str | None, _PATH_ARG, _PATH_DOC]


class ToolInput(BaseModel):
    """A tool's input. ``TOOL`` is its name; ``ABOUT`` what the model is told it does
    (``None``: a tool the model is never told about, known to the policies only)."""

    # strict: a value of another JSON type is refused, not converted ("10" is no integer), as
    # the host's check refuses it
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    TOOL: ClassVar[str]
    ABOUT: ClassVar[str | None] = None
    # the arguments that say what a call acted on, in the order a one-line summary shows them
    # (the display, ``audit show`` and the HTML report)
    SUMMARY: ClassVar[tuple[str, ...]] = ()


class ReadInput(ToolInput):
    TOOL = "Read"
    SUMMARY = ("file_path",)
    ABOUT = ("Read a text file. Output has line numbers (cat -n style). Use offset (first line, "
             "1-based) and limit (number of lines) for long files.")
    file_path: ContainerPath
    offset: int | None = Field(default=None, ge=0)
    limit: int | None = Field(default=None, ge=1)


class WriteInput(ToolInput):
    TOOL = "Write"
    SUMMARY = ("file_path",)
    ABOUT = "Write a file (created or overwritten; parent directories are created)."
    file_path: ContainerPath
    content: str


class EditInput(ToolInput):
    TOOL = "Edit"
    SUMMARY = ("file_path",)
    ABOUT = ("Replace old_string with new_string in a file. old_string must occur exactly once "
             "unless replace_all is true.")
    file_path: ContainerPath
    old_string: str
    new_string: str
    replace_all: bool | None = None  # null: false


class GlobInput(ToolInput):
    TOOL = "Glob"
    SUMMARY = ("pattern", "path")
    ABOUT = "Find files by glob pattern (e.g. 'backend/**/*.py'), newest first."
    pattern: str
    path: OptionalContainerPath = None


class GrepInput(ToolInput):
    TOOL = "Grep"
    SUMMARY = ("pattern", "path", "glob")
    ABOUT = ("Search file contents with a Python regular expression. Prints path:line:text. "
             "Optionally limit to files matching glob (e.g. '*.py').")
    pattern: str
    path: OptionalContainerPath = None
    glob: str | None = None


class LSInput(ToolInput):
    TOOL = "LS"
    SUMMARY = ("path",)
    ABOUT = "List a directory."
    path: ContainerPath


class BashInput(ToolInput):
    TOOL = "Bash"
    SUMMARY = ("command",)
    ABOUT = ("Run a bash command in /workspace (no network). Output (stdout and stderr) is "
             "truncated when long. timeout is in seconds (default 120, max 600).")
    command: str
    timeout: float | None = Field(default=None, gt=0)
    description: str | None = None  # Claude-Code-trained models send one; ignored


BUILTIN_TOOL_INPUTS: dict[str, type[ToolInput]] = {
    m.TOOL: m for m in (ReadInput, WriteInput, EditInput, GlobInput, GrepInput, LSInput, BashInput)
}
BUILTIN_TOOLS: tuple[str, ...] = tuple(BUILTIN_TOOL_INPUTS)


def summary_fields(tool: str) -> tuple[str, ...] | None:
    """The arguments a one-line summary of a built-in tool's call shows (``None``: not built in)."""
    model = BUILTIN_TOOL_INPUTS.get(tool)
    return model.SUMMARY if model is not None else None

JsonType = Literal["string", "integer", "number", "boolean", "array"]
_JSON_TYPES: dict[type, JsonType] = {
    str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
}
# what a JSON value of each type is once parsed (an integer is a number; a bool is neither)
_ACCEPTS: dict[JsonType, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,),
}


_BOUNDS: dict[type, Callable[[Any], dict[str, Any]]] = {
    Ge: lambda b: {"minimum": b.ge}, Gt: lambda b: {"exclusiveMinimum": b.gt},
    Le: lambda b: {"maximum": b.le}, Lt: lambda b: {"exclusiveMaximum": b.lt},
}


@dataclass(frozen=True)
class ToolField:
    """One argument of a tool, as the model is told it and the host checks it."""

    name: str
    json_type: JsonType
    required: bool
    path: bool  # names a container path (``ContainerPath``)
    schema: dict[str, Any]  # its JSON schema (a property of the tool's input_schema)

    @property
    def accepts(self) -> tuple[type, ...]:
        """The Python types of a parsed JSON value of this type."""
        return _ACCEPTS[self.json_type]


@cache
def tool_fields(model: type[ToolInput]) -> tuple[ToolField, ...]:
    """The arguments of a tool, in their declared order."""
    out = []
    for name, info in model.model_fields.items():
        members = _union_members(info.annotation)
        kinds = [a for a in members if a is not NoneType]
        if not info.is_required() and NoneType not in members:  # the host takes null for absent
            raise TypeError(f"{model.__name__}.{name}: optional but does not take null")
        if len(kinds) != 1 or (get_origin(kinds[0]) or kinds[0]) not in _JSON_TYPES:
            raise TypeError(f"{model.__name__}.{name}: not one JSON type: {info.annotation!r}")
        json_type = _JSON_TYPES[get_origin(kinds[0]) or kinds[0]]
        schema: dict[str, Any] = {"type": json_type}
        if info.description:
            schema["description"] = info.description
        for meta in info.metadata:
            if meta is _PATH_ARG:
                continue
            if not isinstance(meta, Ge | Gt | Le | Lt):  # the model would not be told it
                raise TypeError(f"{model.__name__}.{name}: no JSON schema for {meta!r}")
            schema.update(_BOUNDS[type(meta)](meta))
        out.append(ToolField(name=name, json_type=json_type, required=info.is_required(),
                             path=_PATH_ARG in info.metadata, schema=schema))
    return tuple(out)


def tool_definition(model: type[ToolInput]) -> dict[str, Any]:
    """The Messages API tool definition (``name``, ``description``, ``input_schema``)."""
    if model.ABOUT is None:
        raise ValueError(f"{model.TOOL} is not a tool the model is told about")
    fields = tool_fields(model)
    return {
        "name": model.TOOL,
        "description": model.ABOUT,
        "input_schema": {
            "type": "object",
            "properties": {f.name: dict(f.schema) for f in fields},
            "required": [f.name for f in fields if f.required],
            "additionalProperties": False,
        },
    }


def tool_definitions(names: list[str]) -> list[dict[str, Any]]:
    """The Messages API tool definitions of the built-in tools among ``names``, in order."""
    return [tool_definition(BUILTIN_TOOL_INPUTS[n]) for n in names if n in BUILTIN_TOOL_INPUTS]


def _union_members(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) in (Union, UnionType):
        return get_args(annotation)
    return (annotation,)
