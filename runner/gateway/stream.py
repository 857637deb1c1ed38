"""The gateway's streaming Messages API path, ``count_tokens`` and the ``anthropic-beta`` check.

A request with ``"stream": true`` goes through the same steps as a JSON one (token, body cap,
shape allowlist, redaction, budget reserved under the one-request-in-flight lock), then:

- :meth:`Retrier.open_stream` attempts until the provider's stream yields its first event;
  failures before it are retried like on the JSON path (and answered as JSON errors when
  they run out: nothing was sent yet);
- from then on every event is passed on as it arrives, as server-sent events (nothing is
  buffered) and added to a :class:`MessageAccumulator`; nothing is retried any more;
- when the stream ends the budget is charged from its usage events, the assembled message is
  redacted whole (a secret split across two deltas is redacted in the transcript) and
  recorded with ``stream: true``, and the model lock is released;
- a failure mid-stream sends an ``error`` event (Anthropic's shape), fails the run like on the
  JSON path and ends the response;
- when the agent closes the connection the model's stream is closed too (no tokens spent on an
  answer nobody reads); what was used is charged and recorded, the run goes on.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from runner.gateway.net import api_error
from runner.gateway.provider import ProviderError, ProviderFailed, ProviderHTTPError
from runner.gateway.recorder import utc_now
from runner.gateway.redact import Redaction
from runner.gateway.retry import StreamStart
from runner.gateway.sse import MessageAccumulator, encode, error_event

if TYPE_CHECKING:
    from runner.gateway.server import Gateway

BETA_HEADER = "anthropic-beta"
BETA_TOKEN_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MAX_BETAS = 16
_BETA_SHOWN = 1024  # characters of the header kept in the transcript


@dataclass
class Exchange:
    """One model request on its way: what the JSON and the streaming paths record."""

    started: str
    t0: float
    request: dict[str, Any]  # redacted, as forwarded
    found: list[Redaction]
    asked: int | None  # max_tokens the agent asked for, when clamped
    betas: tuple[str, ...] = ()  # forwarded to the provider
    beta_header: str | None = None  # as the agent sent it (redacted, clipped)
    number: int = 0

    def extra(self) -> dict[str, Any]:
        return {} if self.beta_header is None else {"anthropic_beta": self.beta_header}


def checked_betas(request: Request) -> tuple[tuple[str, ...], str | None, str | None]:
    """(tokens to forward, the header as sent, why it is dropped or None). The header is
    forwarded only when every comma-separated token is a plain beta name and there are at most
    :data:`MAX_BETAS` of them: anything else could smuggle header syntax or noise upstream."""
    values = request.headers.getlist(BETA_HEADER)
    if not values:
        return (), None, None
    raw = ",".join(values)
    tokens = tuple(t.strip() for t in raw.split(","))
    if len(tokens) > MAX_BETAS:
        return (), raw, f"anthropic-beta dropped: {len(tokens)} tokens (at most {MAX_BETAS})"
    bad = next((t for t in tokens if not BETA_TOKEN_RE.match(t)), None)
    if bad is not None:
        return (), raw, f"anthropic-beta dropped: token {bad[:64]!r} is not a beta name"
    return tokens, raw, None


class SSEResponse(Response):
    """The events of one stream, sent as they come; records and releases when it ends."""

    media_type = "text/event-stream"

    def __init__(self, gw: Gateway, x: Exchange, start: StreamStart) -> None:
        super().__init__(status_code=200)
        self.gw, self.x, self.start = gw, x, start
        self.on_close: Callable[[], None] | None = None  # the server's model-lock release
        self.closed = False
        self.left = False  # the agent went away mid-stream (not a failure of the run)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        acc = MessageAccumulator()
        error: str | None = None
        failure: ProviderError | None = None
        gone = asyncio.Event()  # the agent closed the connection: stop asking the model
        watch = asyncio.create_task(_watch_disconnect(receive, gone))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]})
            event = self.start.first
            while not gone.is_set():
                acc.add(event)
                await send({"type": "http.response.body", "body": encode(event), "more_body": True})
                try:
                    nxt = await _next_unless(self.start.rest, gone)
                except StopAsyncIteration:
                    break
                if nxt is None:
                    break
                event = nxt
            if gone.is_set():
                self.left = True
            elif not acc.stopped:
                error = "the model's stream ended before message_stop"
            elif self.gw.ahead is not None:  # sent whole: its tool calls are decided ahead
                self.gw.ahead.answer(acc.result())
        except ProviderError as exc:
            failure, error = exc, str(exc)
        except Exception as exc:  # anything else: end, record, release
            error = f"stream ended: {type(exc).__name__}: {exc}"
        finally:
            watch.cancel()
            await self._finish(send, acc, error, failure)

    async def _finish(self, send: Send, acc: MessageAccumulator, error: str | None,
                      failure: ProviderError | None) -> None:
        gw, x = self.gw, self.x
        error_body: bytes | None = None  # sent once the run's failure and record are written:
        try:  # an agent that sees the error event sees them too
            with suppress(Exception):
                await self.start.rest.aclose()  # type: ignore[attr-defined]
            if error is not None:
                failed = ProviderFailed([*self.start.failures, f"mid-stream: {error}"],
                                        status=failure.status if isinstance(
                                            failure, ProviderHTTPError) else None)
                gw.fail(failed)
                kind = failure.error_type if isinstance(failure, ProviderHTTPError) else "api_error"
                error_body = encode(error_event(kind, str(failed)))
            message = acc.result()
            inp, out = gw.budget.charge(message or {})
            gw.count_answer(inp, out, self.start.retries, answered=error is None)
            recorded, found = gw.redactor.redact_tree(message, f"responses[{x.number}]")
            gw.log_redactions(found, x.started)
            gw.record(x.started, x.t0, x.request, recorded, self.start.retries,
                      _recorded_error(error, self.left),
                      x.found + found, failures=self.start.failures, asked=x.asked,
                      extra={**x.extra(), "stream": True, "events": acc.events})
        finally:
            self.closed = True
            if self.on_close is not None:
                self.on_close()
            if error_body is not None:
                with suppress(Exception):
                    await send({"type": "http.response.body", "more_body": True,
                                "body": error_body})
            with suppress(Exception):
                await send({"type": "http.response.body", "body": b"", "more_body": False})


def _recorded_error(error: str | None, left: bool) -> str | None:
    if error is not None:
        return f"model API error mid-stream: {error}"
    return "the agent closed the connection mid-stream" if left else None


async def _next_unless(events: AsyncIterator[dict[str, Any]],
                       gone: asyncio.Event) -> dict[str, Any] | None:
    """The next event, or None as soon as ``gone`` is set (the pending read is cancelled)."""
    if gone.is_set():
        return None
    nxt = asyncio.ensure_future(anext(events))
    left = asyncio.ensure_future(gone.wait())
    try:
        await asyncio.wait({nxt, left}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        left.cancel()
        if not nxt.done():
            nxt.cancel()  # closes the provider's stream (its request included)
    if not gone.is_set():
        return nxt.result()  # the event, or the stream's end or failure
    await asyncio.wait({nxt})  # let the cancelled read finish before the stream is closed
    return None


async def _watch_disconnect(receive: Receive, gone: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


async def open_stream(gw: Gateway, x: Exchange) -> Response:
    """The stream's first event (retrying before it) and the response sending the rest; a
    JSON error when every attempt failed. The budget's reservation is the caller's until here."""
    try:
        start = await gw.retrier.open_stream(x.request, betas=x.betas)
    except ProviderFailed as exc:
        gw.budget.release()
        gw.fail(exc)
        gw.count_answer(0, 0, len(exc.attempts) - 1, answered=False)
        gw.record(x.started, x.t0, x.request, None, len(exc.attempts) - 1, str(exc), x.found,
                  failures=exc.attempts, asked=x.asked, extra={**x.extra(), "stream": True})
        return api_error(502, "api_error", str(exc))
    except BaseException:
        gw.budget.release()
        raise
    return SSEResponse(gw, x, start)


async def count_tokens(gw: Gateway, body: dict[str, Any],
                       betas: tuple[str, ...]) -> tuple[int, dict[str, Any]]:
    """(status, answer) for an allowed, redacted count_tokens body: one attempt, never charged,
    recorded as a ``count_tokens`` event."""
    t0 = time.monotonic()
    try:
        answer = await gw.provider.count_tokens(body, betas=betas)
        status, note = 200, {"input_tokens": answer["input_tokens"]}
    except ProviderError as exc:
        status = exc.status if isinstance(exc, ProviderHTTPError) else 502
        kind = exc.error_type if isinstance(exc, ProviderHTTPError) else "api_error"
        answer = error_event(kind, f"count_tokens failed: {exc}")
        note = {"error": gw.redactor.redact_text(str(exc))[0][:300]}
    gw.write_event("count_tokens", {**note, "duration": round(time.monotonic() - t0, 4),
                                    "time": utc_now()})
    return status, answer
