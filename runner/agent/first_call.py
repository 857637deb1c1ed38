"""The agent's first calls to the gateway, with the standard library only.

The start (runner/agent/__main__.py) sends ``agent_started`` and the first model request
before httpx or pydantic are imported: :class:`FirstCall` speaks HTTP/1.1 over the gateway's
unix socket itself (importing httpx and building its client took ~80 ms of the agent's
start, on the path to the first request; :mod:`http.client`, ~30 ms). The loop's later calls go through
:class:`runner.agent.client.GatewayClient` (httpx), built by the preload meanwhile.

The request bodies, the JSON encoding and the error mapping live here, so both clients send
and read the same bytes.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable
from typing import Any

from runner.wire import ANTHROPIC_VERSION, ANTHROPIC_VERSION_HEADER, TOKEN_HEADER, EventKind

MODEL_TIMEOUT_SECONDS = 3600.0  # the gateway retries upstream; be patient
CALL_TIMEOUT_SECONDS = 120.0  # any other call (as runner.agent.client's)
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


MAX_HEAD_BYTES = 64 * 1024  # an answer's status line and headers
MAX_BODY_BYTES = 64 * 1024 * 1024  # an answer's body (the gateway caps what it relays)


class HTTPError(ValueError):
    """An answer that is not the HTTP/1.1 the gateway speaks (or larger than the caps)."""


def _exchange(socket_path: str, head: bytes, body: bytes, timeout: float,
              sent: Callable[[], None] | None) -> tuple[int, bytes, str]:
    """One request on a fresh connection (``Connection: close``): (status, body, reason);
    ``timeout``: the longest wait for any one read."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(CONNECT_TIMEOUT_SECONDS)
        sock.connect(socket_path)
        sock.settimeout(timeout)
        sock.sendall(head + body)
        if sent is not None:
            sent()
        return _answer(sock)


def _answer(sock: socket.socket) -> tuple[int, bytes, str]:
    """Read an HTTP/1.1 answer: its status line, its headers, and its body by
    ``Content-Length``, ``Transfer-Encoding: chunked`` or the connection's end."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD_BYTES:
            raise HTTPError("answer headers too large")
        chunk = sock.recv(65536)
        if not chunk:
            raise HTTPError("connection closed before the answer's headers")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    version, _, tail = status_line.partition(" ")
    code, _, reason = tail.partition(" ")
    if not version.startswith("HTTP/1.") or not (code.isdigit() and len(code) == 3):
        raise HTTPError(f"not an HTTP/1.1 status line: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep:
            raise HTTPError(f"malformed header line: {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    reader = _Reader(sock, rest)
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size_line = reader.line().split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise HTTPError(f"bad chunk size: {size_line[:20]!r}") from None
            if size == 0:
                break
            body += reader.exactly(size)
            reader.exactly(2)  # the chunk's CRLF
            if len(body) > MAX_BODY_BYTES:
                raise HTTPError("answer body too large")
    elif "content-length" in headers:
        length = headers["content-length"]
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            raise HTTPError(f"bad Content-Length: {length[:20]!r}")
        body = reader.exactly(int(length))
    else:
        body = reader.rest()
    return int(code), body, reason


class _Reader:
    """Bytes of one connection after the answer's headers, bounded by MAX_BODY_BYTES."""

    def __init__(self, sock: socket.socket, buffered: bytes) -> None:
        self._sock = sock
        self._buf = buffered

    def _fill(self) -> bool:
        if len(self._buf) > MAX_BODY_BYTES + MAX_HEAD_BYTES:
            raise HTTPError("answer body too large")
        chunk = self._sock.recv(65536)
        self._buf += chunk
        return bool(chunk)

    def exactly(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not self._fill():
                raise HTTPError("connection closed in the answer's body")
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def line(self) -> bytes:
        while b"\r\n" not in self._buf:
            if not self._fill():
                raise HTTPError("connection closed in the answer's body")
        out, _, self._buf = self._buf.partition(b"\r\n")
        return out

    def rest(self) -> bytes:
        while self._fill():
            pass
        out, self._buf = self._buf, b""
        return out


class FirstCall:
    """``agent_started`` and the first model request to the gateway's socket, each on its
    own connection; every call carries the run's token as ``x-api-key`` (as the later client
    does). HTTP/1.1 written and read here, not with :mod:`http.client`: importing it (the
    ``email`` package with it) was half of the agent's imports before its first request
    (~30 ms in the container). Its only peer is the run's own gateway (uvicorn)."""

    def __init__(self, socket_path: str, token: str) -> None:
        self._socket_path = socket_path
        self._headers = {TOKEN_HEADER: token, "content-type": "application/json"}

    def _post(self, path: str, body: Any, headers: dict[str, str] | None = None, *,
              timeout: float = CALL_TIMEOUT_SECONDS,
              sent: Callable[[], None] | None = None) -> tuple[int, bytes, str]:
        raw = ascii_json(body).encode("ascii")
        fields = {"host": "gateway", "connection": "close", "content-length": str(len(raw)),
                  **self._headers, **(headers or {})}
        head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        return _exchange(self._socket_path, (head + "\r\n").encode("latin-1"), raw, timeout,
                         sent)

    def event(self, kind: EventKind, /, **data: Any) -> None:
        """Best effort, as :meth:`GatewayClient.event`: progress reporting never stops the agent."""
        with contextlib.suppress(OSError, ValueError, TypeError):
            self._post("/v1/events", {"kind": kind, "data": data})

    def create_message(self, body: dict[str, Any], *,
                       sent: Callable[[], None] | None = None) -> dict[str, Any]:
        """One model turn (one attempt), as :meth:`GatewayClient.create_message`. ``sent``:
        called once the request is out, before its answer is waited for."""
        try:
            status, content, reason = self._post(
                "/v1/messages", body, {ANTHROPIC_VERSION_HEADER: ANTHROPIC_VERSION},
                timeout=MODEL_TIMEOUT_SECONDS, sent=sent)
        except (OSError, HTTPError) as exc:
            raise ModelAPIError(f"{type(exc).__name__}: {exc or 'connection failed'}") from exc
        return model_answer(status, content, reason)


__all__ = ["FirstCall", "ModelAPIError", "ascii_json", "error_answer", "first_request",
           "messages_body", "model_answer"]
