"""The agent's side of the gateway socket: /v1/messages, /v1/decide and /v1/events, over httpx.

Plain JSON in and out, no pydantic (the bodies and the error mapping are
:mod:`runner.agent.first_call`'s, whose standard-library client sends ``agent_started`` and the
first request while the preload builds this one); the loop reads answers with
the models of :mod:`runner.protocol` (no SDK: importing one took seconds of every run's
startup). The agent never retries: the gateway retries upstream and answers its own errors
with ``x-should-retry: false``.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

import httpx

from runner.agent.first_call import (
    CALL_TIMEOUT_SECONDS,
    CONNECT_TIMEOUT_SECONDS,
    MODEL_TIMEOUT_SECONDS,
    ModelAPIError,
    ascii_json,
    error_answer,
    first_request,
    messages_body,
    model_answer,
)
from runner.wire import (
    ANTHROPIC_VERSION,
    ANTHROPIC_VERSION_HEADER,
    GATEWAY_BASE_URL,
    TOKEN_HEADER,
    EventKind,
)

MODEL_TIMEOUT = httpx.Timeout(MODEL_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)
CALL_TIMEOUT = httpx.Timeout(CALL_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)


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
        return model_answer(resp.status_code, resp.content, resp.reason_phrase)

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
    return error_answer(resp.status_code, resp.content, resp.reason_phrase)


__all__ = ["GatewayClient", "ModelAPIError", "ascii_json", "first_request", "messages_body"]
