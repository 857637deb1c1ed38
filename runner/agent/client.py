"""The agent's side of the gateway socket: /v1/messages, /v1/decide and /v1/events, over httpx.

Plain JSON in and out, no pydantic: the agent sends ``agent_started`` and its first request
with this client before its models exist (runner/agent/start.py); the loop reads answers with
the models of :mod:`runner.protocol` (no SDK: importing one took seconds of every run's
startup). The agent never retries: the gateway retries upstream and answers its own errors
with ``x-should-retry: false``.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from typing import Any

import httpx

from runner.wire import (
    ANTHROPIC_VERSION,
    ANTHROPIC_VERSION_HEADER,
    GATEWAY_BASE_URL,
    TOKEN_HEADER,
    EventKind,
)

MODEL_TIMEOUT = httpx.Timeout(3600.0, connect=10.0)  # the gateway retries upstream; be patient
CALL_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


class ModelAPIError(Exception):
    """The model request failed: an error answer (``status`` set) or no answer (``status`` None)."""

    def __init__(self, message: str, *, status: int | None = None, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type

    def __str__(self) -> str:
        return self.message if self.status is None else f"HTTP {self.status}: {self.message}"


def messages_body(*, model: str, max_tokens: int, system: str | None,
                  messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                  ) -> dict[str, Any]:
    """A non-streaming ``POST /v1/messages`` body (no ``system``/``tools`` key when none)."""
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens}
    if system is not None:
        body["system"] = system
    body["messages"] = messages
    if tools:
        body["tools"] = tools
    return body


def first_request(*, model: str, max_tokens: int, system_prompt: str, task: str,
                  tool_definitions: list[dict[str, Any]]) -> dict[str, Any]:
    """The first turn's request: the task as the one user message (a file may grant no tools:
    no ``tools`` key). The agent's start sends it before the loop exists."""
    return messages_body(model=model, max_tokens=max_tokens, system=system_prompt,
                         messages=[{"role": "user", "content": task}],
                         tools=tool_definitions or None)


def ascii_json(obj: Any) -> str:
    """JSON with non-ASCII escaped, so a lone surrogate the model produced still travels
    (as an escape) and the host can see it, log it and deny the call."""
    return json.dumps(obj, ensure_ascii=True, default=str)


class GatewayClient:
    """Every call carries the run's gateway token as ``x-api-key``; the gateway holds the real
    model key, which never enters the container."""

    def __init__(self, socket_path: str, token: str) -> None:
        self.socket_path = socket_path
        # A unix socket and plain HTTP: no TLS is ever spoken, so no CA bundle is loaded (the
        # default context reads certifi's: tens of milliseconds of the agent's start). A
        # context that trusts nothing: any TLS would fail verification.
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._http = httpx.Client(transport=httpx.HTTPTransport(uds=socket_path, verify=tls),
                                  base_url=GATEWAY_BASE_URL, timeout=CALL_TIMEOUT,
                                  headers={TOKEN_HEADER: token, "content-type": "application/json"})

    def create_message(self, body: dict[str, Any]) -> dict[str, Any]:
        """One model turn (one attempt): the answer as parsed JSON (the loop reads it with
        its models); any failure raises :class:`ModelAPIError`."""
        try:
            resp = self._http.post(
                "/v1/messages", content=ascii_json(body),
                headers={ANTHROPIC_VERSION_HEADER: ANTHROPIC_VERSION}, timeout=MODEL_TIMEOUT)
        except httpx.HTTPError as exc:
            raise ModelAPIError(f"{type(exc).__name__}: {exc or 'connection failed'}") from exc
        if resp.status_code != 200:
            raise _error(resp)
        try:  # json.loads, not pydantic's parser: a model may answer with lone surrogates
            # (undecodable bytes in a tool input), which are decided and answered as they are
            answer = json.loads(resp.content)
        except ValueError as exc:  # not JSON
            raise ModelAPIError(f"malformed answer: {exc}: {resp.text[:200]}",
                                status=resp.status_code) from exc
        if not isinstance(answer, dict):
            raise ModelAPIError(f"malformed answer: not a JSON object: {resp.text[:200]}",
                                status=resp.status_code)
        return answer

    def decide(self, body: dict[str, Any]) -> bytes:
        """The policy's answer to a call, as sent (the loop reads it with its model);
        ``ValueError`` or ``httpx.HTTPError`` when none came (the loop denies: fail closed)."""
        resp = self._http.post("/v1/decide", content=ascii_json(body))
        if resp.status_code != 200:
            raise ValueError(f"HTTP {resp.status_code}: {resp.text[:200]}")
        return resp.content

    def event(self, kind: EventKind, /, **data: Any) -> None:
        """Best effort: progress reporting never stops the agent (the gateway validates it:
        runner.protocol.EventRequest)."""
        with contextlib.suppress(httpx.HTTPError, ValueError, TypeError):
            self._http.post("/v1/events", content=ascii_json({"kind": kind, "data": data}))

    def close(self) -> None:
        self._http.close()


def _error(resp: httpx.Response) -> ModelAPIError:
    from pydantic import ValidationError  # an error answer: the models are (being) loaded

    from runner.protocol import ErrorBody

    try:
        detail = ErrorBody.model_validate_json(resp.content).error
    except ValidationError:
        return ModelAPIError(resp.text[:500] or resp.reason_phrase, status=resp.status_code)
    return ModelAPIError(detail.message or resp.reason_phrase, status=resp.status_code,
                         error_type=detail.type)
