"""The gateway's per-run token, required on every route.

The token is made by the gateway (``secrets.token_urlsafe``) and handed to the agent process
only: as an environment variable of its ``docker exec``, which the agent removes from its
environment first thing (and it is non-dumpable, so its Bash children cannot read it from
``/proc``). It is never written to a file the sandbox can read. Every request must carry it as
``x-api-key`` (what the anthropic SDK sends for its ``api_key``) or ``Authorization: Bearer``;
anything else is answered 401 before its body is read, and reported to ``on_refused``.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: a run makes its token before the web stack is imported
    from starlette.types import ASGIApp, Receive, Scope, Send

from runner.wire import TOKEN_HEADER

TOKEN_BYTES = 32
_MAX_SHOWN = 200


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True)
class Refusal:
    method: str
    path: str
    reason: str  # "no token" | "wrong token" | "not http"


def presented_token(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The token a request carries: ``x-api-key``, else ``Authorization: Bearer``."""
    api_key: bytes | None = None
    bearer: bytes | None = None
    for name, value in headers:
        lname = name.lower()
        if lname == TOKEN_HEADER.encode():
            api_key = value.strip()
        elif lname == b"authorization":
            scheme, _, rest = value.strip().partition(b" ")
            if scheme.lower() == b"bearer":
                bearer = rest.strip()
    return api_key if api_key else bearer


def token_refusal(given: bytes | None, token: bytes) -> str | None:
    """Why ``given`` is not the run's token ("no token" | "wrong token"), or None when it is
    (constant-time compare). The gateway's routes and the egress proxy both check with it."""
    if given and hmac.compare_digest(given, token):
        return None
    return "no token" if not given else "wrong token"


class TokenGuard:
    """ASGI middleware: a request without the run's token never reaches a route."""

    def __init__(self, app: ASGIApp, token: str, on_refused: Callable[[Refusal], None]) -> None:
        self.app = app
        self._token = token.encode("ascii")
        self._on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", scope["type"]))[:16]
        path = str(scope.get("path", ""))[:_MAX_SHOWN]
        if scope["type"] != "http":
            self._on_refused(Refusal(method, path, "not http"))
            return  # a websocket is closed unanswered
        refusal = token_refusal(presented_token(list(scope.get("headers") or [])), self._token)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        self._on_refused(Refusal(method, path, refusal))
        body = json.dumps({"type": "error", "error": {
            "type": "authentication_error",
            "message": "the gateway requires the run's token on every request"}}).encode()
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
