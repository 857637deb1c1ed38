"""What the gateway accepts from the sandbox, in numbers, and the capped body reader.

Everything on the socket is untrusted, the token holder included (the agent acts on model
output). So every request body is read in chunks and refused (413) the moment it passes
its route's cap: the gateway never buffers more than the cap plus one chunk. Events are
capped in size, in number and in rate; every log the gateway writes is capped in size
(:class:`~runner.gateway.recorder.JsonlWriter`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from starlette.requests import Request

from runner.config import GatewayConfig

MiB = 1 << 20


@dataclass(frozen=True)
class GatewayLimits:
    messages_body: int = 32 * MiB  # a /v1/messages request (the whole conversation, images included)
    decide_body: int = 8 * MiB  # a /v1/decide request (a Write's content travels in it)
    event_body: int = 256 * 1024  # a /v1/events request
    event_data: int = 16 * 1024  # an event's data as recorded (larger: a clipped preview)
    max_events: int = 20_000  # recorded per run; later events are answered 429
    event_rate: float = 200.0  # events per second, sustained ...
    event_burst: int = 1_000  # ... after a burst of this many
    max_request_tokens: int = 32_000  # a request's max_tokens above this is clamped to it
    # Open connections (and requests) on the socket; beyond, uvicorn answers 503. It keeps the
    # host's file descriptors bounded; only the sandbox user can connect, so holding connections
    # open can fail the agent's own run, never the host.
    concurrency: int = 64
    transcript_bytes: int = 256 * MiB
    events_bytes: int = 32 * MiB
    redactions_bytes: int = 8 * MiB
    max_refusals_recorded: int = 100  # "gateway_refused" events; later refusals are only counted

    @classmethod
    def from_config(cls, cfg: GatewayConfig) -> GatewayLimits:
        return cls(messages_body=cfg.max_body_mb * MiB, max_request_tokens=cfg.max_request_tokens,
                   transcript_bytes=cfg.max_log_mb * MiB)


class BodyTooLarge(Exception):
    def __init__(self, cap: int) -> None:
        self.cap = cap
        super().__init__(f"request body larger than {cap} bytes")


async def read_body(request: Request, cap: int) -> bytes:
    """The request body, read in chunks; :class:`BodyTooLarge` as soon as it passes ``cap``
    (a ``content-length`` above the cap is refused before anything is read)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > cap:
        raise BodyTooLarge(cap)
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > cap:
            raise BodyTooLarge(cap)
        body += chunk
    return bytes(body)


class RateBucket:
    """A token bucket: ``take()`` is True while the rate (with its burst) is not exceeded."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._level = float(burst)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._level = min(self.burst, self._level + (now - self._at) * self.rate)
            self._at = now
            if self._level < 1.0:
                return False
            self._level -= 1.0
            return True
