"""The scripted model (``--model scripted:FILE``): answers from a scenario file.

Scenario format (YAML or JSON)::

    turns:                                  # one per model request, in order
      - text: "Reading the spec"
        tool_calls:
          - {name: Read, input: {file_path: architecture/backend.md}}
      - fault: {status: 529, times: 2, retry_after: 0.1}   # injected API failures
      - fault: {kind: timeout, times: 1}                   # or: disconnect
      - text: "Done."                       # no tool_calls: stop_reason end_turn
        delay: 0.5                          # optional: seconds before answering
    final_text: "..."                       # optional: the answer after the last turn

A fault turn is consumed by the next ``times`` attempts; it raises the same
exceptions the HTTP provider raises, so the gateway's retry loop handles it
exactly as it handles the real API. After the last turn every request gets an
``end_turn`` answer. A streaming request gets the same answer as the event sequence the API
would stream (:func:`runner.gateway.sse.message_events`); a fault raises before its first event.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from runner.errors import ScenarioError
from runner.gateway.provider import ProviderConnectionError, ProviderHTTPError
from runner.gateway.sse import message_events

_ALPHABET = string.ascii_letters + string.digits
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                529: "overloaded_error"}
DEFAULT_FINAL_TEXT = "The scripted scenario is complete."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ScriptedToolCall(_Strict):
    name: str = Field(min_length=1)
    input: dict[str, Any] = Field(default_factory=dict)


class Fault(_Strict):
    status: int | None = Field(default=None, ge=400, le=599)
    kind: Literal["timeout", "disconnect"] | None = None
    times: int = Field(default=1, ge=1, le=1000)
    retry_after: float | None = Field(default=None, ge=0, le=600)
    message: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Fault:
        if (self.status is None) == (self.kind is None):
            raise ValueError("a fault needs exactly one of 'status' (an HTTP error code) or "
                             "'kind' (timeout or disconnect)")
        if self.kind is not None and self.retry_after is not None:
            raise ValueError("'retry_after' only applies to a 'status' fault")
        return self


class Turn(_Strict):
    text: str | None = None
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    fault: Fault | None = None
    delay: float = Field(default=0.0, ge=0, le=3600)

    @model_validator(mode="after")
    def _content(self) -> Turn:
        if self.fault is not None:
            if self.text is not None or self.tool_calls or self.delay:
                raise ValueError("a fault turn has only 'fault'")
        elif not self.text and not self.tool_calls:
            raise ValueError("a turn needs 'text', 'tool_calls' or 'fault'")
        return self


class Scenario(_Strict):
    description: str | None = None
    turns: list[Turn] = Field(min_length=1)
    final_text: str = DEFAULT_FINAL_TEXT


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; any problem is a ScenarioError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(getattr(exc, "strerror", None) or str(exc), path=path) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", path=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(f"invalid YAML{where}: {getattr(exc, 'problem', None) or exc}", path=path) from None
    if not isinstance(data, dict):
        raise ScenarioError("a scenario is a mapping with a 'turns' list", path=path)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        raise ScenarioError(f"{loc or 'scenario'}: {err['msg']}", path=path) from None


def new_id(prefix: str) -> str:
    return prefix + "01" + "".join(secrets.choice(_ALPHABET) for _ in range(22))


class ScriptedProvider:
    """Serves the scenario's turns as Messages API responses, one per request."""

    def __init__(self, path: Path | None = None, *, scenario: Scenario | None = None) -> None:
        if scenario is None:
            if path is None:
                raise ValueError("ScriptedProvider needs a path or a scenario")
            scenario = load_scenario(path)
        self.path = path
        self.scenario = scenario
        self._next = 0  # index of the next turn
        self._fault_left: int | None = None  # attempts left for the current fault turn
        self.served = 0  # real (non-fault) answers given
        self.faults_served = 0

    @property
    def finished(self) -> bool:
        return self._next >= len(self.scenario.turns)

    async def create(self, request: dict[str, Any], *, betas: Sequence[str] = ()) -> dict[str, Any]:
        turn = self._take()
        if turn is None:
            return self._message(request, self.scenario.final_text, [])
        if turn.fault is not None:
            self.faults_served += 1
            _raise(turn.fault)
        if turn.delay:
            import asyncio  # (imported with the gateway; not when the scenario is read)

            await asyncio.sleep(turn.delay)
        self.served += 1
        return self._message(request, turn.text, turn.tool_calls)

    async def stream(self, request: dict[str, Any], *,
                     betas: Sequence[str] = ()) -> AsyncIterator[dict[str, Any]]:
        message = await self.create(request)  # a fault raises here, before the first event
        for event in message_events(message):
            yield event

    async def count_tokens(self, request: dict[str, Any], *,
                           betas: Sequence[str] = ()) -> dict[str, Any]:
        return {"input_tokens": _estimate(request)}

    async def aclose(self) -> None:
        return None

    def _take(self) -> Turn | None:
        if self.finished:
            return None
        turn = self.scenario.turns[self._next]
        if turn.fault is None:
            self._next += 1
            return turn
        if self._fault_left is None:
            self._fault_left = turn.fault.times
        self._fault_left -= 1
        if self._fault_left <= 0:
            self._fault_left = None
            self._next += 1
        return turn

    def _message(self, request: dict[str, Any], text: str | None, calls: list[ScriptedToolCall]) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if text:
            content.append({"type": "text", "text": text})
        content += [{"type": "tool_use", "id": new_id("toolu_"), "name": c.name, "input": c.input}
                    for c in calls]
        return {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": str(request.get("model") or "scripted"),
            "content": content,
            "stop_reason": "tool_use" if calls else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": _estimate(request),
                "output_tokens": max(1, len(json.dumps(content)) // 4),
            },
        }


def _estimate(request: dict[str, Any]) -> int:
    """Input tokens, roughly: a token per four characters of the request's JSON."""
    return max(1, len(json.dumps(request, default=str)) // 4)


def _raise(fault: Fault) -> None:
    if fault.kind is not None:
        raise ProviderConnectionError(fault.kind, fault.message or f"scripted {fault.kind}")
    status = fault.status or 500
    raise ProviderHTTPError(
        status, fault.message or "scripted fault",
        error_type=_ERROR_TYPES.get(status, "api_error"), retry_after=fault.retry_after,
    )
