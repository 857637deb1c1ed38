"""The gateway: HTTP over a unix socket between the sandboxed agent and the host.

Routes (a Starlette app served by uvicorn on ``socket_path``):

- ``POST /v1/messages``: a Messages API request. Checked (budget, allowed
  fields: no server tools, no streaming), redacted, answered by the provider
  through the retry loop, recorded in ``transcript.jsonl``.
- ``POST /v1/decide``: a :class:`DecideRequest`; answered by the injected
  ``decide`` function. Any failure there is a deny (fail closed).
- ``POST /v1/events``: an :class:`EventRequest`, appended to ``events.jsonl``
  and passed to ``on_event``.

Everything arriving on the socket is untrusted: commands the agent runs share
its uid and can reach the socket too.
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
from starlette.requests import Request
from starlette.responses import JSONResponse as _StarletteJSONResponse
from starlette.responses import Response
from starlette.routing import Route

from runner.errors import BudgetExceeded, EnvironmentProblem, RunFailed, first_error
from runner.gateway.budget import Budget
from runner.gateway.provider import ModelProvider, ProviderFailed
from runner.gateway.recorder import JsonlWriter, utc_now
from runner.gateway.redact import Redaction, Redactor
from runner.gateway.retry import Retrier, RetryPolicy
from runner.protocol import DecideReason, DecideRequest, DecideResponse, EventRequest, EventResponse

Decide = Callable[[DecideRequest], DecideResponse]
ALLOWED_REQUEST_KEYS = frozenset({
    "model", "messages", "system", "max_tokens", "tools", "tool_choice", "temperature",
    "top_p", "top_k", "stop_sequences", "metadata", "thinking",
})
TRANSCRIPT = "transcript.jsonl"
EVENTS = "events.jsonl"
REDACTIONS = "redactions.jsonl"


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


class _BadRequest(Exception):
    pass


class JSONResponse(_StarletteJSONResponse):
    """JSON with non-ASCII escaped: a lone surrogate (which a model or a tool can produce)
    is not encodable as UTF-8 and must not turn an answer into a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False,
                          separators=(",", ":")).encode("ascii")


def api_error(status: int, error_type: str, message: str) -> JSONResponse:
    """An Anthropic-style error body (what the SDK expects to parse)."""
    return JSONResponse({"type": "error", "error": {"type": error_type, "message": message}},
                        status_code=status)


class Gateway:
    """Serves the agent's socket in a background thread. ``start()``, then ``stop()``."""

    def __init__(
        self, *, socket_path: Path, provider: ModelProvider, decide: Decide, run_dir: Path,
        on_event: Callable[[EventRequest], None] | None = None, budget: Budget, redactor: Redactor,
        retry: RetryPolicy | None = None, model: str | None = None,
        on_redaction: Callable[[Redaction], None] | None = None,
    ) -> None:
        self.socket_path = socket_path
        self.provider = provider
        self.retrier = Retrier(provider, retry or RetryPolicy())
        self.decide = decide
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
        self._exchanges = 0

    # --- lifecycle ------------------------------------------------------------------

    @property
    def stats(self) -> GatewayStats:
        with self._lock:
            return self._stats

    def start(self, timeout: float = 10.0) -> None:
        """Serve the socket; returns when it accepts connections."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._transcript = JsonlWriter(self.run_dir / TRANSCRIPT)
        self._events = JsonlWriter(self.run_dir / EVENTS)
        self._redactions = JsonlWriter(self.run_dir / REDACTIONS)
        self._decider_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gw-decide")
        if self.socket_path.exists() or self.socket_path.is_symlink():
            self.socket_path.unlink()
        config = uvicorn.Config(self.app(), uds=str(self.socket_path), log_level="warning",
                                lifespan="on", access_log=False, timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="sandbox-gateway", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                self._close_files()
                raise EnvironmentProblem(f"gateway failed to start on {self.socket_path}: "
                                         f"{self._thread_error or 'server exited'}")
            if self._server.started and _accepts(self.socket_path):
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

    def _serve(self) -> None:
        assert self._server is not None
        try:
            self._server.run()
        except BaseException as exc:  # SystemExit from uvicorn on bind failure, among others
            self._thread_error = exc

    def _close_files(self) -> None:
        for writer in (self._transcript, self._events, self._redactions):
            if writer is not None:
                writer.close()

    # --- the app --------------------------------------------------------------------

    def app(self) -> Starlette:
        @asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            yield
            await self.provider.aclose()

        return Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/decide", self._decide, methods=["POST"]),
                Route("/v1/events", self._event, methods=["POST"]),
            ],
            lifespan=lifespan,
        )

    async def _messages(self, request: Request) -> Response:
        started, t0 = utc_now(), time.monotonic()
        self._exchanges += 1
        exchange = self._exchanges
        try:
            body = await _json_object(request)
            self._check_request(body)
        except _BadRequest as exc:
            return api_error(400, "invalid_request_error", str(exc))
        if self.failure is not None:
            return api_error(503, "api_error", f"the run has already failed: {self.failure}")
        try:
            self.budget.check()
        except BudgetExceeded as exc:
            self._fail(exc)
            self._record(started, t0, body, None, 0, str(exc), [])
            return api_error(402, "billing_error", str(exc))
        if self.model is not None:
            body["model"] = self.model
        redacted, found = self.redactor.redact_request(body)
        self._log_redactions(found, started)
        try:
            result = await self.retrier.create(redacted)
        except ProviderFailed as exc:
            self._fail(exc)
            self._bump(retries=len(exc.attempts) - 1)
            self._record(started, t0, redacted, None, len(exc.attempts) - 1, str(exc), found,
                         failures=exc.attempts)
            return api_error(502, "api_error", str(exc))
        inp, out = self.budget.charge(result.response)
        self._bump(requests=1, input_tokens=inp, output_tokens=out, retries=result.retries)
        # The agent gets the model's answer as is; the transcript (a CI artifact) never holds a secret.
        recorded, in_response = self.redactor.redact_tree(result.response, f"responses[{exchange}]")
        self._log_redactions(in_response, started)
        self._record(started, t0, redacted, recorded, result.retries, None, found + in_response,
                     failures=result.failures)
        return JSONResponse(result.response)

    async def _decide(self, request: Request) -> Response:
        try:
            req = DecideRequest.model_validate(await _json_object(request))
        except (_BadRequest, ValidationError) as exc:
            return api_error(400, "invalid_request_error", _short(exc))
        loop = asyncio.get_running_loop()
        try:
            assert self._decider_pool is not None
            resp = await loop.run_in_executor(self._decider_pool, self.decide, req)
            if not isinstance(resp, DecideResponse):
                raise TypeError(f"decide returned {type(resp).__name__}, not DecideResponse")
        except Exception as exc:  # fail closed: an error deciding is a deny
            self._bump(decisions=1, denied=1, decide_errors=1)
            resp = DecideResponse(
                allow=False, decision_id=f"failed-{uuid.uuid4()}",
                reasons=[DecideReason(policy="engine", rule="evaluation_failed",
                                      msg=f"policy evaluation failed: {type(exc).__name__}: {exc}")],
            )
            return JSONResponse(resp.model_dump(mode="json"))
        self._bump(decisions=1, denied=0 if resp.allow else 1)
        return JSONResponse(resp.model_dump(mode="json"))

    async def _event(self, request: Request) -> Response:
        try:
            event = EventRequest.model_validate(await _json_object(request))
        except (_BadRequest, ValidationError) as exc:
            return api_error(400, "invalid_request_error", _short(exc))
        self._event_count += 1
        data, found = self.redactor.redact_tree(event.data, f"events[{self._event_count}].data")
        event = EventRequest(kind=event.kind, data=data)
        self._log_redactions(found, utc_now())
        assert self._events is not None
        self._events.write({"time": utc_now(), "kind": event.kind, "data": event.data})
        self._bump(events=1)
        if self.on_event is not None:
            with suppress(Exception):  # the display must never break the run
                self.on_event(event)
        return JSONResponse(EventResponse().model_dump())

    # --- helpers --------------------------------------------------------------------

    def _check_request(self, body: dict[str, Any]) -> None:
        unknown = sorted(set(body) - ALLOWED_REQUEST_KEYS)
        if unknown:
            raise _BadRequest(f"unsupported request field(s): {', '.join(unknown)}")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            raise _BadRequest("messages: a non-empty list is required")
        if not isinstance(body.get("max_tokens"), int) or isinstance(body["max_tokens"], bool):
            raise _BadRequest("max_tokens: an integer is required")
        if not isinstance(body.get("model"), str):
            raise _BadRequest("model: a string is required")
        for i, tool in enumerate(body.get("tools") or []):
            if not isinstance(tool, dict) or tool.get("type", "custom") != "custom" \
                    or "input_schema" not in tool:
                raise _BadRequest(f"tools[{i}]: only client tools with an input_schema are allowed")

    def _fail(self, exc: RunFailed) -> None:
        if self.failure is None:
            self.failure, self.failure_error = str(exc), exc

    def _bump(self, **delta: int) -> None:
        with self._lock:
            s = self._stats
            self._stats = replace(s, **{k: getattr(s, k) + v for k, v in delta.items()})

    def _log_redactions(self, found: list[Redaction], when: str) -> None:
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

    def _record(
        self, started: str, t0: float, request: dict[str, Any], response: dict[str, Any] | None,
        retries: int, error: str | None, found: list[Redaction], *, failures: list[str] | None = None,
    ) -> None:
        assert self._transcript is not None
        self._transcript.write({
            "time": started, "duration": round(time.monotonic() - t0, 4), "request": request,
            "response": response, "retries": retries, "failures": failures or [], "error": error,
            "redactions": [asdict(r) for r in found],
        })


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
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


def _accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(str(path))
        except OSError:
            return False
        return True
