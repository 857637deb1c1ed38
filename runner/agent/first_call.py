"""The agent's first calls to the gateway, with the standard library only.

The start (runner/agent/__main__.py) sends ``agent_started`` and the first model request
before httpx or pydantic are imported: :class:`FirstCall` speaks HTTP/1.1 over the gateway's
unix socket with :mod:`http.client` (importing httpx and building its client took ~80 ms of
the agent's start, on the path to the first request). The loop's later calls go through
:class:`runner.agent.client.GatewayClient` (httpx), built by the preload meanwhile.

The request bodies, the JSON encoding and the error mapping live here, so both clients send
and read the same bytes.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from collections.abc import Callable
from typing import Any

from runner.wire import ANTHROPIC_VERSION, ANTHROPIC_VERSION_HEADER, TOKEN_HEADER, EventKind

MODEL_TIMEOUT_SECONDS = 3600.0  # the gateway retries upstream; be patient
CONNECT_TIMEOUT_SECONDS = 10.0


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


def error_answer(status: int, content: bytes, reason: str) -> ModelAPIError:
    """The :class:`ModelAPIError` of an error answer: its ``error.message`` and ``error.type``
    (``{"type": "error", "error": {"type", "message"}}``, as runner.protocol.ErrorBody reads
    it: ``type`` defaults to api_error), else the body's start, else the reason phrase."""
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    detail = body.get("error") if isinstance(body, dict) and body.get("type", "error") == "error" \
        else None
    if isinstance(detail, dict):
        kind, message = detail.get("type", "api_error"), detail.get("message", "")
        if isinstance(kind, str) and isinstance(message, str):
            return ModelAPIError(message or reason, status=status, error_type=kind)
    return ModelAPIError(content.decode("utf-8", errors="replace")[:500] or reason, status=status)


def model_answer(status: int, content: bytes, reason: str) -> dict[str, Any]:
    """A ``/v1/messages`` answer as parsed JSON; :class:`ModelAPIError` for an error answer or
    one that is not a JSON object. ``json.loads``, not pydantic's parser: a model may answer
    with lone surrogates (undecodable bytes in a tool input), decided and answered as they are."""
    if status != 200:
        raise error_answer(status, content, reason)
    text = content.decode("utf-8", errors="replace")
    try:
        answer = json.loads(content)
    except ValueError as exc:  # not JSON
        raise ModelAPIError(f"malformed answer: {exc}: {text[:200]}", status=status) from exc
    if not isinstance(answer, dict):
        raise ModelAPIError(f"malformed answer: not a JSON object: {text[:200]}", status=status)
    return answer


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str) -> None:
        super().__init__("gateway", timeout=CONNECT_TIMEOUT_SECONDS)
        self._socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(CONNECT_TIMEOUT_SECONDS)
            sock.connect(self._socket_path)
            sock.settimeout(MODEL_TIMEOUT_SECONDS)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class FirstCall:
    """``agent_started`` and the first model request, on one connection to the gateway's
    socket; every call carries the run's token as ``x-api-key`` (as the later client does)."""

    def __init__(self, socket_path: str, token: str) -> None:
        self._conn = _UnixConnection(socket_path)
        self._headers = {TOKEN_HEADER: token, "content-type": "application/json"}

    def _post(self, path: str, body: Any, headers: dict[str, str] | None = None, *,
              sent: Callable[[], None] | None = None) -> tuple[int, bytes, str]:
        try:
            self._conn.request("POST", path, body=ascii_json(body).encode("ascii"),
                               headers={**self._headers, **(headers or {})})
            if sent is not None:
                sent()
            resp = self._conn.getresponse()
            return resp.status, resp.read(), resp.reason
        except BaseException:
            self._conn.close()  # a failed call leaves no half-sent request: the next reconnects
            raise

    def event(self, kind: EventKind, /, **data: Any) -> None:
        """Best effort, as :meth:`GatewayClient.event`: progress reporting never stops the agent."""
        with contextlib.suppress(OSError, http.client.HTTPException, ValueError, TypeError):
            self._post("/v1/events", {"kind": kind, "data": data})

    def create_message(self, body: dict[str, Any], *,
                       sent: Callable[[], None] | None = None) -> dict[str, Any]:
        """One model turn (one attempt), as :meth:`GatewayClient.create_message`. ``sent``:
        called once the request is out, before its answer is waited for."""
        try:
            status, content, reason = self._post(
                "/v1/messages", body, {ANTHROPIC_VERSION_HEADER: ANTHROPIC_VERSION}, sent=sent)
        except (OSError, http.client.HTTPException) as exc:
            raise ModelAPIError(f"{type(exc).__name__}: {exc or 'connection failed'}") from exc
        return model_answer(status, content, reason)

    def close(self) -> None:
        self._conn.close()


__all__ = ["FirstCall", "ModelAPIError", "ascii_json", "error_answer", "first_request",
           "messages_body", "model_answer"]
