"""The gateway: HTTP over a unix socket between the sandboxed agent and the host.

Routes (a Starlette app served by uvicorn on ``socket_path``), every one behind the run's
token (:mod:`runner.gateway.auth`: 401 before the body is read, recorded as a
``gateway_refused`` event); query strings (Claude Code's ``?beta=true``) are ignored:

- ``POST /v1/messages``: a Messages API request of an allowed shape
  (:mod:`runner.gateway.shapes`: text, tool_use, tool_result, base64 images, thinking;
  nothing the provider would fetch), ``max_tokens`` clamped, redacted whole, answered by the
  provider through the retry loop, recorded in ``transcript.jsonl``. One model request is in
  flight at a time: the others wait for it (the agent asks one at a time; anything else is
  queued, not refused, so a burst gets exactly what the budget allows). The budget is
  reserved under its lock before anything is forwarded. ``"stream": true`` is answered with
  server-sent events (:mod:`runner.gateway.stream`; the lock is held until the stream ends).
  A well-formed ``anthropic-beta`` header is passed on, anything else dropped (refusal event).
- ``POST /v1/messages/count_tokens``: the same allowlist and redaction, one attempt, recorded
  as a ``count_tokens`` event, never charged to the budget.
- ``GET /`` and ``HEAD /``: 200 (a client's reachability check).
- ``POST /v1/decide``: a :class:`DecideRequest`; answered by the injected ``decide``
  function. Any failure there is a deny (fail closed). The tool calls a model answer names
  are decided ahead on the same thread (``prepare``, :mod:`runner.gateway.ahead`).
- ``POST /v1/events``: an :class:`EventRequest`, redacted, clipped, appended to
  ``events.jsonl`` and passed to ``on_event``; capped in number and rate (429 beyond).

Everything arriving on the socket is untrusted, the token holder's requests included. Bodies
are read in chunks up to a per-route cap (413 beyond, never buffered); every log is capped in
size (:mod:`runner.gateway.limits`). The socket is 0600 and its directory 0700, both owned by
the sandbox user (:func:`prepare_socket_dir`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runner.errors import BudgetExceeded, EnvironmentProblem, RunFailed, first_error
from runner.gateway.ahead import Asking, DecideAhead, Prepare
from runner.gateway.auth import Refusal, TokenGuard, new_token
from runner.gateway.budget import Budget
from runner.gateway.limits import BodyTooLarge, GatewayLimits, RateBucket, read_body
from runner.gateway.net import GROUP_SOCKET_MODE as GROUP_SOCKET_MODE
from runner.gateway.net import SOCKET_MODE as SOCKET_MODE
from runner.gateway.net import JSONResponse, accepts, api_error
from runner.gateway.net import bind_unix_socket as bind_unix_socket
from runner.gateway.net import prepare_socket_dir as prepare_socket_dir
from runner.gateway.provider import ModelProvider, ProviderFailed
from runner.gateway.recorder import JsonlWriter, utc_now
from runner.gateway.redact import Redaction, Redactor
from runner.gateway.retry import Retrier, RetryPolicy
from runner.gateway.shapes import RefusedShape, allowed_count_request, allowed_request
from runner.gateway.stream import Exchange, SSEResponse, checked_betas, count_tokens, open_stream
from runner.protocol import DecideRequest, DecideResponse, EventRequest, EventResponse

Decide = Callable[[DecideRequest], DecideResponse]
TRANSCRIPT = "transcript.jsonl"
EVENTS = "events.jsonl"
REDACTIONS = "redactions.jsonl"
REFUSED_KIND = "gateway_refused"
_SHOWN = 300  # characters of an agent-controlled string kept in a refusal event


@dataclass(frozen=True)
class GatewayStats:
    requests: int = 0  # answered model requests
    input_tokens: int = 0
    output_tokens: int = 0
    retries: int = 0
    redactions: int = 0  # secrets replaced (first sighting of each text)
    decisions: int = 0
    denied: int = 0
    decide_errors: int = 0
    events: int = 0
    events_dropped: int = 0  # over the count or rate cap (answered 429)
    refused: int = 0  # calls without the token, bodies over a cap, requests of a refused shape
    clamped: int = 0  # requests whose max_tokens was clamped


class _BadRequest(Exception):
    pass


class Gateway:
    """Serves the agent's socket in a background thread. ``start()``, then ``stop()``."""

    def __init__(
        self, *, socket_path: Path, provider: ModelProvider, decide: Decide, run_dir: Path,
        on_event: Callable[[EventRequest], None] | None = None, budget: Budget, redactor: Redactor,
        retry: RetryPolicy | None = None, model: str | None = None,
        on_redaction: Callable[[Redaction], None] | None = None,
        limits: GatewayLimits | None = None, socket_owner: tuple[int, int] | None = None,
        socket_mode: int = SOCKET_MODE, token: str | None = None,
        prepare: Prepare | None = None, prepare_all: bool = False,
    ) -> None:
        """``prepare``: decides a tool call of a model's answer ahead of the agent's asking
        (``DecisionService.prepare``; :mod:`runner.gateway.ahead`); None: not ahead.
        ``prepare_all``: every call of an answer at once (an agent asking for them together)."""
        self.socket_path = socket_path
        self.socket_mode = socket_mode
        self.socket_owner = socket_owner  # (uid, gid) the socket is chowned to; None: ours
        self.limits = limits or GatewayLimits()
        # Only the agent process gets this (runner/run/execute.py); it is a known secret of the
        # run, so no record ever holds it.
        self.token = token or new_token()
        redactor.add_value("gateway-token", self.token)
        self.provider = provider
        self.retrier = Retrier(provider, retry or RetryPolicy())
        self.decide = decide
        self.prepare = prepare
        self.prepare_all = prepare_all
        self.ahead: DecideAhead | None = None  # made with the decide thread (start)
        self.run_dir = run_dir
        self.on_event = on_event
        self.on_redaction = on_redaction
        self.budget = budget
        self.redactor = redactor
        self.model = model  # when set, every request is sent with this model id
        self.failure: str | None = None  # why the run must fail (budget, model API); None: fine
        self.failure_error: RunFailed | None = None
        self._stats = GatewayStats()
        self._lock = threading.Lock()
        self._transcript: JsonlWriter | None = None
        self._events: JsonlWriter | None = None
        self._redactions: JsonlWriter | None = None
        self._decider_pool: ThreadPoolExecutor | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._thread_error: BaseException | None = None
        self._seen_redactions: set[tuple[str, str]] = set()
        self._event_count = 0
        self._event_lock = threading.Lock()
        self._exchanges = 0
        self._refusals = 0
        self._event_rate = RateBucket(self.limits.event_rate, self.limits.event_burst)
        self._model_lock: asyncio.Lock | None = None  # made in the server's loop (lifespan)

    # --- lifecycle ------------------------------------------------------------------

    @property
    def stats(self) -> GatewayStats:
        with self._lock:
            return self._stats

    def start(self, timeout: float = 10.0) -> None:
        """Serve the socket; returns when it accepts connections."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        lim = self.limits
        self._transcript = JsonlWriter(self.run_dir / TRANSCRIPT, max_bytes=lim.transcript_bytes)
        self._events = JsonlWriter(self.run_dir / EVENTS, max_bytes=lim.events_bytes)
        self._redactions = JsonlWriter(self.run_dir / REDACTIONS, max_bytes=lim.redactions_bytes)
        pool = self._decider_pool = ThreadPoolExecutor(max_workers=1,
                                                       thread_name_prefix="gw-decide")
        if self.prepare is not None:
            self.ahead = DecideAhead(self.prepare, pool.submit, all_at_once=self.prepare_all)
        try:
            sock = self._bind()
        except OSError as exc:
            self._close_files()
            raise EnvironmentProblem(
                f"gateway failed to start on {self.socket_path}: {exc}") from None
        config = uvicorn.Config(self.app(), log_level="warning", lifespan="on", access_log=False,
                                timeout_graceful_shutdown=5, limit_concurrency=lim.concurrency)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, args=(sock,), name="sandbox-gateway",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                self._close_files()
                raise EnvironmentProblem(f"gateway failed to start on {self.socket_path}: "
                                         f"{self._thread_error or 'server exited'}")
            if self._server.started and accepts(self.socket_path):
                return
            time.sleep(0.01)
        self.stop()
        raise EnvironmentProblem(f"gateway did not start within {timeout:g}s on {self.socket_path}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, close the provider and the files, remove the socket. Idempotent."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._decider_pool is not None:
            self._decider_pool.shutdown(wait=False, cancel_futures=True)
            self._decider_pool = None
        self._close_files()
        with suppress(FileNotFoundError):
            self.socket_path.unlink()

    def __enter__(self) -> Gateway:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _bind(self) -> socket.socket:
        return bind_unix_socket(self.socket_path, self.socket_owner, mode=self.socket_mode)

    def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        try:
            self._server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit from uvicorn on startup failure, among others
            self._thread_error = exc
        finally:
            sock.close()

    def _close_files(self) -> None:
        for writer in (self._transcript, self._events, self._redactions):
            if writer is not None:
                writer.close()

    # --- the app --------------------------------------------------------------------

    def app(self) -> TokenGuard:
        """The routes behind the token guard (an ASGI app)."""

        @asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            self._model_lock = asyncio.Lock()
            yield
            await self.provider.aclose()

        routes = Starlette(
            routes=[
                Route("/", self._root, methods=["GET", "HEAD"]),
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self._count_tokens, methods=["POST"]),
                Route("/v1/decide", self._decide, methods=["POST"]),
                Route("/v1/events", self._event, methods=["POST"]),
            ],
            lifespan=lifespan,
        )
        return TokenGuard(routes, self.token, self.refused)

    async def _root(self, request: Request) -> Response:
        return JSONResponse({"service": "sandbox-runner gateway"})

    async def _messages(self, request: Request) -> Response:
        assert self._model_lock is not None
        await self._model_lock.acquire()  # one model request in flight; the others wait their turn
        try:
            response = await self._one_message(request)
        except BaseException:
            self._model_lock.release()
            raise
        if isinstance(response, SSEResponse) and not response.closed:
            response.on_close = self._model_lock.release  # held until the stream ends
        else:
            self._model_lock.release()
        return response

    async def _admit(self, request: Request) -> tuple[dict[str, Any], int | None] | Response:
        """The body as it may be forwarded (and the max_tokens asked when clamped), or the answer
        refusing it."""
        try:
            body = await _json_object(request, self.limits.messages_body)
            if request.url.path.endswith("/count_tokens"):
                return allowed_count_request(body), None
            return allowed_request(body, max_tokens_cap=self.limits.max_request_tokens)
        except BodyTooLarge as exc:
            return self._too_large(request, exc)
        except (_BadRequest, RefusedShape) as exc:
            self.refused(Refusal("POST", request.url.path, f"bad request: {exc}"))
            return api_error(400, "invalid_request_error", str(exc))

    def _exchange(self, request: Request, forward: dict[str, Any], started: str, t0: float,
                  asked: int | None) -> Exchange:
        """The request redacted, with its checked anthropic-beta tokens."""
        if self.model is not None:
            forward["model"] = self.model
        redacted, found = self.redactor.redact_request(forward)
        betas, header, dropped = checked_betas(request)
        if dropped is not None:
            self.refused(Refusal(request.method, request.url.path, dropped))
        shown = None
        if header is not None:
            shown, in_header = self.redactor.redact_text(header[:1024])
            found += [Redaction(rule, "anthropic-beta", n) for rule, n in in_header.items()]
        return Exchange(started, t0, redacted, found, asked, betas, shown)

    async def _one_message(self, request: Request) -> Response:
        started, t0 = utc_now(), time.monotonic()
        admitted = await self._admit(request)
        if isinstance(admitted, Response):
            return admitted
        forward, asked = admitted
        if asked is not None:
            self._bump(clamped=1)
        if self.failure is not None:
            return api_error(503, "api_error", f"the run has already failed: {self.failure}")
        stream = bool(forward.pop("stream", False))
        x = self._exchange(request, forward, started, t0, asked)
        extra = {**x.extra(), **({"stream": True} if stream else {})}
        try:
            self.budget.reserve()
        except BudgetExceeded as exc:
            self._fail(exc)
            self.log_redactions(x.found, started)
            self.record(started, t0, x.request, None, 0, str(exc), x.found, asked=asked, extra=extra)
            return api_error(402, "billing_error", str(exc))
        self._exchanges += 1
        x.number = self._exchanges
        self.log_redactions(x.found, started)
        if stream:
            return await open_stream(self, x)
        answered = False
        try:
            result = await self.retrier.create(x.request, betas=x.betas)
            answered = True
        except ProviderFailed as exc:
            self._fail(exc)
            self._bump(retries=len(exc.attempts) - 1)
            self.record(started, t0, x.request, None, len(exc.attempts) - 1, str(exc), x.found,
                        failures=exc.attempts, asked=asked, extra=extra)
            return api_error(502, "api_error", str(exc))
        finally:
            if not answered:
                self.budget.release()
        inp, out = self.budget.charge(result.response)
        self.count_answer(inp, out, result.retries, answered=True)
        # The agent gets the model's answer as is; the transcript (a CI artifact) never holds a secret.
        recorded, in_response = self.redactor.redact_tree(result.response, f"responses[{x.number}]")
        self.log_redactions(in_response, started)
        self.record(started, t0, x.request, recorded, result.retries, None, x.found + in_response,
                    failures=result.failures, asked=asked, extra=extra)
        # its tool calls are decided ahead once it is sent (not while: the same interpreter)
        ahead = None if self.ahead is None else BackgroundTask(self.ahead.answer, result.response)
        return JSONResponse(result.response, background=ahead)

    async def _count_tokens(self, request: Request) -> Response:
        started = utc_now()
        admitted = await self._admit(request)
        if isinstance(admitted, Response):
            return admitted
        if self.failure is not None:
            return api_error(503, "api_error", f"the run has already failed: {self.failure}")
        x = self._exchange(request, admitted[0], started, time.monotonic(), None)
        self.log_redactions(x.found, started)
        status, answer = await count_tokens(self, x.request, x.betas)
        return JSONResponse(answer, status_code=status)

    async def _decide(self, request: Request) -> Response:
        try:
            req = DecideRequest.model_validate(await _json_object(request, self.limits.decide_body))
        except BodyTooLarge as exc:
            return self._too_large(request, exc)
        except (_BadRequest, ValidationError) as exc:
            return api_error(400, "invalid_request_error", _short(exc))
        loop = asyncio.get_running_loop()
        asking = None if self.ahead is None else self.ahead.ask(req.tool_use_id)
        try:
            assert self._decider_pool is not None
            resp = await loop.run_in_executor(self._decider_pool, self._decide_now, req, asking)
            if not isinstance(resp, DecideResponse):
                raise TypeError(f"decide returned {type(resp).__name__}, not DecideResponse")
        except Exception as exc:  # fail closed: an error deciding is a deny
            self._bump(decisions=1, denied=1, decide_errors=1)
            from runner.decisions import failure_answer  # loaded by any run; not at import

            resp = failure_answer(exc, f"failed-{uuid.uuid4()}",
                                  lambda text: self.redactor.redact_text(text)[0])
            return JSONResponse(resp.model_dump(mode="json"))
        finally:
            if asking is not None:
                asking.abandon()  # only when it never started (a cancelled request)
        self._bump(decisions=1, denied=0 if resp.allow else 1)
        return JSONResponse(resp.model_dump(mode="json"))

    def _decide_now(self, req: DecideRequest, asking: Asking | None) -> DecideResponse:
        """On the decide thread: the decision, then (the agent runs its tool) the next call
        of the answer may be prepared."""
        if asking is not None and not asking.start():
            raise RuntimeError("the decide request was abandoned before it was decided")
        try:
            return self.decide(req)
        finally:
            if asking is not None:
                asking.done()

    async def _event(self, request: Request) -> Response:
        try:
            event = EventRequest.model_validate(await _json_object(request, self.limits.event_body))
        except BodyTooLarge as exc:
            return self._too_large(request, exc)
        except (_BadRequest, ValidationError) as exc:
            return api_error(400, "invalid_request_error", _short(exc))
        if not self.record_event(event):
            return api_error(429, "rate_limit_error", "too many events")
        return JSONResponse(EventResponse().model_dump())

    def record_event(self, event: EventRequest) -> bool:
        """One event from the sandbox (the built-in agent's POST, or a line of a runtime's
        output the host read): capped in count and rate, redacted, clipped, recorded and
        shown. False when it was dropped. Thread-safe (the claude-code runtime's events
        arrive from the agent's exec thread)."""
        with self._event_lock:
            if self._event_count >= self.limits.max_events or not self._event_rate.take():
                self._bump(events_dropped=1)
                if self._event_count == self.limits.max_events:
                    self._event_count += 1  # the marker is written once
                    self.write_event("events_capped", {
                        "note": f"{self.limits.max_events} events recorded; later events are "
                                "dropped"})
                return False
            self._event_count += 1
            n = self._event_count
        data, found = self.redactor.redact_tree(event.data, f"events[{n}].data")
        event = EventRequest(kind=event.kind, data=_clip_data(data, self.limits.event_data))
        self.log_redactions(found, utc_now())
        self.write_event(event.kind, event.data)
        self._bump(events=1)
        if self.on_event is not None:
            with suppress(Exception):  # the display must never break the run
                self.on_event(event)
        return True

    # --- helpers --------------------------------------------------------------------

    def write_event(self, kind: str, data: dict[str, Any]) -> None:
        assert self._events is not None
        self._events.write({"time": utc_now(), "kind": kind, "data": data})

    def refused(self, refusal: Refusal) -> None:
        """A call the gateway would not serve: counted always, recorded up to a cap."""
        self._bump(refused=1)
        self._refusals += 1
        cap = self.limits.max_refusals_recorded
        if self._refusals > cap + 1:
            return
        if self._refusals == cap + 1:
            self.write_event(REFUSED_KIND, {"note": f"{cap} refusals recorded; later ones are "
                                                     "only counted (summary: gateway stats)"})
            return
        shown, found = self.redactor.redact_tree(
            {"method": refusal.method[:16], "path": refusal.path[:_SHOWN],
             "reason": refusal.reason[:_SHOWN]}, f"refusals[{self._refusals}]")
        self.log_redactions(found, utc_now())
        self.write_event(REFUSED_KIND, shown)

    def _too_large(self, request: Request, exc: BodyTooLarge) -> Response:
        self.refused(Refusal(request.method, request.url.path, f"body larger than {exc.cap} bytes"))
        return api_error(413, "request_too_large", f"request body larger than {exc.cap} bytes")

    def fail(self, exc: RunFailed) -> None:
        """End the run: every later model request is answered 503 (the agent stops)."""
        self._fail(exc)

    def _fail(self, exc: RunFailed) -> None:
        if self.failure is None:
            self.failure, self.failure_error = str(exc), exc

    def count_answer(self, input_tokens: int, output_tokens: int, retries: int, *,
                     answered: bool) -> None:
        self._bump(requests=1 if answered else 0, input_tokens=input_tokens,
                   output_tokens=output_tokens, retries=retries)

    def _bump(self, **delta: int) -> None:
        with self._lock:
            s = self._stats
            self._stats = replace(s, **{k: getattr(s, k) + v for k, v in delta.items()})

    def log_redactions(self, found: list[Redaction], when: str) -> None:
        # A text is redacted once per sighting in each request; log only new ones.
        new = [r for r in found if self._first_sighting(r)]
        if not new:
            return
        self._bump(redactions=sum(r.count for r in new))
        for r in new:
            assert self._redactions is not None
            self._redactions.write({"time": when, **asdict(r)})
            if self.on_redaction is not None:
                with suppress(Exception):
                    self.on_redaction(r)

    def _first_sighting(self, r: Redaction) -> bool:
        key = (r.rule, r.where)
        if key in self._seen_redactions:
            return False
        self._seen_redactions.add(key)
        return True

    def record(
        self, started: str, t0: float, request: dict[str, Any], response: dict[str, Any] | None,
        retries: int, error: str | None, found: list[Redaction], *, failures: list[str] | None = None,
        asked: int | None = None, extra: dict[str, Any] | None = None,
    ) -> None:
        assert self._transcript is not None
        entry: dict[str, Any] = {
            "time": started, "duration": round(time.monotonic() - t0, 4), "request": request,
            "response": response, "retries": retries, "failures": failures or [], "error": error,
            "redactions": [asdict(r) for r in found],
        }
        if asked is not None:
            entry["max_tokens_asked"] = asked  # clamped to request["max_tokens"]
        entry.update(extra or {})
        self._transcript.write(entry)


def _clip_data(data: Any, cap: int) -> dict[str, Any]:
    """An event's (redacted) data, or a clipped preview of it when its JSON is over ``cap``."""
    text = json.dumps(data, ensure_ascii=True, default=str)
    if len(text) <= cap:
        return dict(data)
    return {"clipped": True, "bytes": len(text), "preview": text[: cap // 2]}


async def _json_object(request: Request, cap: int) -> dict[str, Any]:
    raw = await read_body(request, cap)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _BadRequest(f"malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _BadRequest("the body must be a JSON object")
    return body


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return first_error(exc, "body")
    return str(exc)
