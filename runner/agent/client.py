"""The agent's side of the gateway socket: the anthropic SDK, /v1/decide and /v1/events."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import anthropic
import httpx
from pydantic import ValidationError

try:  # anthropic >= 2 is built on httpx2; its client needs an httpx2 transport
    import httpx2 as sdk_http
except ImportError:  # pragma: no cover - older anthropic releases use httpx
    import httpx as sdk_http  # type: ignore[no-redef]

from runner.protocol import (
    GATEWAY_BASE_URL,
    TOKEN_HEADER,
    DecideReason,
    DecideRequest,
    DecideResponse,
    EventKind,
    EventRequest,
)

MODEL_TIMEOUT = sdk_http.Timeout(3600.0, connect=10.0)  # the gateway retries upstream; be patient
CALL_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


def ascii_json(obj: Any) -> str:
    """JSON with non-ASCII escaped, so a lone surrogate the model produced still travels
    (as an escape) and the host can see it, log it and deny the call."""
    return json.dumps(obj, ensure_ascii=True, default=str)


class GatewayClient:
    """Every call carries the run's gateway token (the SDK sends its api_key as ``x-api-key``);
    the gateway holds the real model key, which never enters the container."""

    def __init__(self, socket_path: str, token: str) -> None:
        self.socket_path = socket_path
        self._model_http = sdk_http.Client(transport=sdk_http.HTTPTransport(uds=socket_path),
                                           timeout=MODEL_TIMEOUT)
        self.anthropic = anthropic.Anthropic(
            api_key=token, base_url=GATEWAY_BASE_URL, http_client=self._model_http,
            max_retries=0, timeout=MODEL_TIMEOUT,
        )
        self._http = httpx.Client(transport=httpx.HTTPTransport(uds=socket_path),
                                  base_url=GATEWAY_BASE_URL, timeout=CALL_TIMEOUT,
                                  headers={TOKEN_HEADER: token})

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
        self.anthropic.close()
