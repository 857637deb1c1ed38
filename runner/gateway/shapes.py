"""The Messages API requests the gateway forwards: an allowlist of the shapes the agent uses.

A request from the sandbox is parsed into these models (unknown fields and block types are
refused, nothing is coerced) and only what they hold is forwarded. Content blocks are
``text``, ``tool_use``, ``tool_result`` (its content text or base64 images), ``image``
with a base64 source and, in assistant turns, ``thinking`` / ``redacted_thinking``. What
Claude Code sends is allowed (``tests/gateway/data/claude-code-requests.jsonl``): a system
prompt as text blocks, ``role: "system"`` messages, tools with ``defer_loading``, thinking,
context management (edits of the conversation the provider holds), an effort level,
streaming. Everything that makes the provider act on the agent's behalf is refused: ``url``
and ``file`` image sources and documents (the provider would fetch an attacker's URL, with
secrets in the query, from outside the sandbox), server tools, search results, containers,
MCP servers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, ValidationError, model_validator


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CacheControl(_Shape):
    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


class TextBlock(_Shape):
    type: Literal["text"]
    text: str
    cache_control: CacheControl | None = None


class Base64ImageSource(_Shape):
    type: Literal["base64"]
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    data: str


class ImageBlock(_Shape):
    type: Literal["image"]
    source: Base64ImageSource
    cache_control: CacheControl | None = None


class ToolUseBlock(_Shape):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]
    cache_control: CacheControl | None = None


ResultPart = Annotated[TextBlock | ImageBlock, Discriminator("type")]


class ToolResultBlock(_Shape):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[ResultPart] | None = None
    is_error: bool | None = None
    cache_control: CacheControl | None = None


class ThinkingBlock(_Shape):
    type: Literal["thinking"]
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(_Shape):
    type: Literal["redacted_thinking"]
    data: str


ContentBlock = Annotated[TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock
                         | RedactedThinkingBlock, Discriminator("type")]
_THINKING = (ThinkingBlock, RedactedThinkingBlock)


class OutputConfig(_Shape):
    effort: Literal["low", "medium", "high", "max"] | None = None


class Message(_Shape):
    role: Literal["user", "assistant", "system"]
    content: str | list[ContentBlock]
    output_config: OutputConfig | None = None  # per turn (Claude Code's system messages)

    @model_validator(mode="after")
    def _thinking_is_the_models(self) -> Message:
        if self.role != "assistant" and not isinstance(self.content, str) \
                and any(isinstance(b, _THINKING) for b in self.content):
            raise ValueError("thinking blocks are only allowed in assistant turns")
        return self


class Tool(_Shape):
    """A client tool: the agent runs it; the provider only sees its schema."""

    type: Literal["custom"] | None = None
    name: str
    description: str | None = None
    input_schema: dict[str, Any]
    cache_control: CacheControl | None = None
    defer_loading: bool | None = None


class ToolChoice(_Shape):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class Metadata(_Shape):
    user_id: str | None = None


class Thinking(_Shape):
    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: int | None = Field(default=None, ge=1)
    display: str | None = Field(default=None, pattern=r"^[a-z_]{1,32}$")


_EDIT_TYPE = r"^clear_[a-z_]{1,40}_[0-9]{8}$"
_Amount = dict[str, int | str]


class ContextEdit(_Shape):
    """An edit of the conversation the provider keeps (clearing old thinking or tool uses)."""

    type: str = Field(pattern=_EDIT_TYPE)
    keep: Literal["all"] | _Amount | None = None
    trigger: _Amount | None = None
    clear_at_least: _Amount | None = None
    exclude_tools: list[str] | None = None
    clear_tool_inputs: bool | list[str] | None = None


class ContextManagement(_Shape):
    edits: list[ContextEdit] = Field(max_length=16)


class MessagesRequest(_Shape):
    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: int = Field(ge=1)
    system: str | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    stop_sequences: list[str] | None = None
    metadata: Metadata | None = None
    thinking: Thinking | None = None
    context_management: ContextManagement | None = None
    output_config: OutputConfig | None = None
    stream: bool | None = None


class CountTokensRequest(_Shape):
    """``/v1/messages/count_tokens``: a request without what only an answer needs."""

    model: str
    messages: list[Message] = Field(min_length=1)
    system: str | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    context_management: ContextManagement | None = None
    output_config: OutputConfig | None = None


class RefusedShape(Exception):
    """The request is not one of the allowed shapes (answered 400, nothing forwarded)."""


def allowed_request(body: dict[str, Any], *, max_tokens_cap: int) -> tuple[dict[str, Any], int | None]:
    """The request as it may be forwarded (only the validated fields), and the ``max_tokens``
    the agent asked for when it was clamped to ``max_tokens_cap`` (else None)."""
    try:
        req = MessagesRequest.model_validate(body)
    except ValidationError as exc:
        raise RefusedShape(_explain(exc)) from None
    clamped: int | None = None
    if req.max_tokens > max_tokens_cap:
        clamped, req.max_tokens = req.max_tokens, max_tokens_cap
    out: dict[str, Any] = req.model_dump(exclude_unset=True)
    out["max_tokens"] = req.max_tokens
    budget = req.thinking.budget_tokens if req.thinking is not None else None
    if clamped is not None and budget is not None and budget >= req.max_tokens:
        # The API refuses a thinking budget that is not below max_tokens.
        out["thinking"]["budget_tokens"] = max(1, req.max_tokens - 1)
    return out, clamped


def allowed_count_request(body: dict[str, Any]) -> dict[str, Any]:
    """A count_tokens request as it may be forwarded (only the validated fields)."""
    try:
        req = CountTokensRequest.model_validate(body)
    except ValidationError as exc:
        raise RefusedShape(_explain(exc)) from None
    out: dict[str, Any] = req.model_dump(exclude_unset=True)
    return out


def _explain(exc: ValidationError) -> str:
    """The deepest problem (the one inside the block the agent meant, not the union branch
    that could never match), with pydantic's union-branch names left out of its location."""
    err = max(exc.errors(), key=lambda e: len(e["loc"]))
    where: list[str] = []
    loc = list(err["loc"])
    for i, part in enumerate(loc):
        if isinstance(part, str) and ("[" in part or (part == "str" and i == len(loc) - 1)):
            continue
        before = loc[i - 2] if i >= 2 else None
        if isinstance(part, str) and isinstance(loc[i - 1], int) and isinstance(before, str) \
                and "[" in before:
            continue  # the tag of a tagged union: the block's own type
        where.append(str(part))
    return f"{'.'.join(where) or 'request'}: {err['msg']}"
