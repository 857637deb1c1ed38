"""The agent's side of the gateway socket: /v1/messages, /v1/decide and /v1/events, over httpx.

The Messages API is spoken with the models of :mod:`runner.protocol` (no SDK: importing one
took seconds of every run's startup). The agent never retries: the gateway retries upstream
and answers its own errors with ``x-should-retry: false``.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from typing import Any

import httpx
from pydantic import ValidationError

from runner.protocol import (
    ANTHROPIC_VERSION,
    ANTHROPIC_VERSION_HEADER,
    GATEWAY_BASE_URL,
    TOKEN_HEADER,
    DecideReason,
    DecideRequest,
    DecideResponse,
    ErrorBody,
    EventKind,
    EventRequest,
    Message,
    MessagesRequest,
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

    def create_message(self, request: MessagesRequest) -> Message:
        """One model turn (one attempt); any failure raises :class:`ModelAPIError`."""
        try:
            resp = self._http.post(
                "/v1/messages", content=ascii_json(request.model_dump(exclude_none=True)),
                headers={ANTHROPIC_VERSION_HEADER: ANTHROPIC_VERSION}, timeout=MODEL_TIMEOUT)
        except httpx.HTTPError as exc:
            raise ModelAPIError(f"{type(exc).__name__}: {exc or 'connection failed'}") from exc
        if resp.status_code != 200:
            raise _error(resp)
        try:  # json.loads, not pydantic's parser: a model may answer with lone surrogates
            # (undecodable bytes in a tool input), which are decided and answered as they are
            return Message.model_validate(json.loads(resp.content))
        except ValidationError as exc:
            raise ModelAPIError(f"malformed answer: {exc.error_count()} validation error(s): "
                                f"{resp.text[:200]}", status=resp.status_code) from exc
        except ValueError as exc:  # not JSON
            raise ModelAPIError(f"malformed answer: {exc}: {resp.text[:200]}",
                                status=resp.status_code) from exc

    def decide(self, request: DecideRequest) -> DecideResponse:
        """The policy's answer; any failure to get one is a deny (fail closed)."""
        try:
            resp = self._http.post("/v1/decide", content=ascii_json(request.model_dump()))
            if resp.status_code != 200:
                raise ValueError(f"HTTP {resp.status_code}: {resp.text[:200]}")
            return DecideResponse.model_validate_json(resp.content)
        except (httpx.HTTPError, ValueError, ValidationError) as exc:
            return DecideResponse(allow=False, decision_id="unavailable", reasons=[DecideReason(
                policy="gateway", rule="decision_unavailable",
                msg=f"no policy decision could be obtained ({type(exc).__name__}: {exc})")])

    def event(self, kind: EventKind, /, **data: Any) -> None:
        """Best effort: progress reporting never stops the agent."""
        with contextlib.suppress(httpx.HTTPError, ValueError, TypeError):
            event = EventRequest(kind=kind, data=data)
            self._http.post("/v1/events", content=ascii_json(event.model_dump()))

    def close(self) -> None:
        self._http.close()


def _error(resp: httpx.Response) -> ModelAPIError:
    try:
        detail = ErrorBody.model_validate_json(resp.content).error
    except ValidationError:
        return ModelAPIError(resp.text[:500] or resp.reason_phrase, status=resp.status_code)
    return ModelAPIError(detail.message or resp.reason_phrase, status=resp.status_code,
                         error_type=detail.type)
