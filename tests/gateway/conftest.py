"""Gateway test helpers: short socket paths, a recording provider, a fake Anthropic server
(JSON answers, and server-sent event streams written chunk by chunk)."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """Unix socket paths are limited to ~108 bytes: keep them short."""
    path = Path(tempfile.mkdtemp(prefix="srgw-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def message(text: str = "hi", model: str = "m") -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5}}


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    disconnect: bool = False
    sse: list[bytes] | None = None  # an event stream: these chunks, each flushed on its own
    hold: threading.Event | None = None  # the last chunk waits for it
    held: threading.Event = field(default_factory=threading.Event)  # set when waiting on hold


class FakeAnthropic:
    """A real HTTP server on 127.0.0.1 answering POST /v1/messages from a list of replies."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.seen: list[dict[str, Any]] = []  # {"headers", "body", "time"}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                import time

                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.seen.append({"path": self.path, "headers": dict(self.headers.items()),
                                  "body": body, "time": time.monotonic()})
                reply = fake.replies.pop(0) if fake.replies else Reply(body=message("default"))
                if reply.disconnect:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if reply.sse is not None:
                    self._stream(reply)
                    return
                payload = json.dumps(reply.body if reply.body is not None else message()).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, reply: Reply) -> None:
                assert reply.sse is not None
                self.close_connection = True  # no content-length: the stream ends with the connection
                self.send_response(reply.status)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                for i, chunk in enumerate(reply.sse):
                    if reply.hold is not None and i == len(reply.sse) - 1:
                        reply.held.set()
                        reply.hold.wait(30)
                    self.wfile.write(chunk)
                    self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeAnthropic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def error_body(error_type: str, msg: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": msg}}


def sse_chunks(events: list[dict[str, Any]]) -> list[bytes]:
    """Events as the API writes them, one chunk per event."""
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]
