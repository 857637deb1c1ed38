"""The gateway's HTTP answers: JSON bodies in the Messages API's error shape. The socket
itself is :mod:`runner.gateway.sockets` (re-exported here)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse as _StarletteJSONResponse

from runner.gateway.sockets import GROUP_SOCKET_DIR_MODE as GROUP_SOCKET_DIR_MODE
from runner.gateway.sockets import GROUP_SOCKET_MODE as GROUP_SOCKET_MODE
from runner.gateway.sockets import SOCKET_DIR_MODE as SOCKET_DIR_MODE
from runner.gateway.sockets import SOCKET_MODE as SOCKET_MODE
from runner.gateway.sockets import bind_unix_socket as bind_unix_socket
from runner.gateway.sockets import prepare_socket_dir as prepare_socket_dir


class JSONResponse(_StarletteJSONResponse):
    """JSON with non-ASCII escaped: a lone surrogate (which a model or a tool can produce)
    is not encodable as UTF-8 and must not turn an answer into a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False,
                          separators=(",", ":")).encode("ascii")


def api_error(status: int, error_type: str, message: str) -> JSONResponse:
    """An Anthropic-style error body (what the SDK expects to parse). ``x-should-retry:
    false``: the gateway already retried upstream, and its own refusals do not change on a
    retry; the SDKs (Python's and Claude Code's) stop at once instead of backing off."""
    return JSONResponse({"type": "error", "error": {"type": error_type, "message": message}},
                        status_code=status, headers={"x-should-retry": "false"})


def accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(str(path))
        except OSError:
            return False
        return True
