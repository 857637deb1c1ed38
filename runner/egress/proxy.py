"""The egress proxy: HTTP CONNECT and plain-HTTP forwarding on a unix socket of the run.

The sandbox has no network. Its one way to another host is the relay in the container
(:mod:`runner.agent.relay`), which forwards each TCP connection of 127.0.0.1:PORT to this
socket, prefixed by the run's token. For every connection, in this order, each step
answering at once when it refuses (the proxy never leaves a client hanging):

1. the token line (``x-api-key: TOKEN``, checked like the gateway's routes): 407 without it;
2. the per-run caps (connections, connections at once, bytes): 403;
3. the request head, bounded in size and time: 400 / 408 / 431;
4. the decision: ``decide_connect`` (the run's one decision service: the same Rego bundle and
   the same hash-chained log as tool calls) gets host, port, phase and method: 403 with the
   policy's reasons when it denies;
5. only then is the name resolved (on the host), and each address checked against the SSRF
   rule (:func:`runner.egress.hosts.refused_address`): 403; the proxy connects to the address
   it checked (no second resolution): 502 when that fails;
6. ``CONNECT``: ``200`` and the bytes are relayed both ways (TLS is never terminated);
   plain HTTP: the request is forwarded in origin form with ``Connection: close``, its body
   by its framing, and the response relayed back.

Connections end when both sides have closed, after ``idle_timeout`` without a byte either
way, or when the run's byte cap is reached. Every connection's outcome is one line of
``egress.jsonl`` (capped) and goes to ``on_record``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.egress.hosts import IPAddress, parse_host_patterns, refused_address
from runner.egress.http import (
    ESTABLISHED,
    BadRequest,
    RequestHead,
    Target,
    answer,
    chunk_size,
    forward_head,
    parse_head,
    request_body,
    request_target,
)
from runner.errors import EnvironmentProblem
from runner.gateway.auth import new_token, presented_token, token_refusal
from runner.gateway.recorder import JsonlWriter, utc_now
from runner.gateway.server import bind_unix_socket
from runner.policy.models import ConnectTarget, Phase
from runner.protocol import DecideResponse

if TYPE_CHECKING:
    from runner.config import EgressConfig

DecideConnect = Callable[[ConnectTarget], DecideResponse]
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
EGRESS_LOG = "egress.jsonl"
MiB = 1 << 20
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class EgressLimits:
    max_connections: int = 512  # accepted (with the token) per run
    max_concurrent: int = 32
    max_bytes: int = 2048 * MiB  # through the proxy per run, both ways
    idle_timeout: float = 60.0
    header_timeout: float = 15.0  # the token line and the request head
    connect_timeout: float = 10.0  # resolving, then connecting
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    log_bytes: int = 16 * MiB  # egress.jsonl

    @classmethod
    def from_config(cls, cfg: EgressConfig) -> EgressLimits:
        return cls(max_connections=cfg.max_connections, max_concurrent=cfg.max_concurrent,
                   max_bytes=cfg.max_mb * MiB, idle_timeout=cfg.idle_timeout,
                   connect_timeout=cfg.connect_timeout, max_header_bytes=cfg.max_header_kb * 1024)


@dataclass(frozen=True)
class EgressStats:
    connections: int = 0  # on the socket
    allowed: int = 0  # allowed by the policy
    denied: int = 0  # denied by the policy (403)
    refused: int = 0  # refused before or after the decision: token, caps, malformed, SSRF
    addresses_refused: int = 0  # of which: the SSRF rule
    failed: int = 0  # upstream unreachable (502)
    bytes_up: int = 0  # container to upstream
    bytes_down: int = 0  # upstream to container


@dataclass
class ConnectionRecord:
    """What happened to one connection (a line of ``egress.jsonl``)."""

    id: int
    time: str
    outcome: str = "refused"  # tunnelled | forwarded | denied | refused | failed
    status: int | None = None  # the proxy's own answer (None: the upstream's)
    method: str | None = None
    host: str | None = None
    port: int | None = None
    phase: str | None = None
    decision_id: str | None = None
    address: str | None = None
    reason: str | None = None
    bytes_up: int = 0
    bytes_down: int = 0
    seconds: float = 0.0


class _Refused(Exception):
    """Answer ``status`` with ``message`` and end the connection."""

    def __init__(self, status: int, message: str, outcome: str = "refused") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.outcome = outcome


class _Ended(Exception):
    """A relayed connection ended early (idle, byte cap); the reason is recorded."""


@dataclass
class _Conn:
    record: ConnectionRecord
    admitted: bool = False  # counted in the connections open at once
    upstream: list[asyncio.StreamWriter] = field(default_factory=list)


@dataclass
class _Activity:
    last: float = field(default_factory=time.monotonic)


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  seconds: float = 1.0, most: int = MiB) -> None:
    """After an answer: end our side (FIN), then read what the client still sends, a little,
    so that closing does not reset the connection (and lose the answer) while its request
    is unread."""
    with contextlib.suppress(Exception):
        if writer.can_write_eof():
            writer.write_eof()
        deadline = time.monotonic() + seconds
        while most > 0 and (left := deadline - time.monotonic()) > 0:
            data = await asyncio.wait_for(reader.read(64 * 1024), left)
            if not data:
                return
            most -= len(data)


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """The host's addresses from the host's resolver (TCP), in the resolver's order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    out: list[IPAddress] = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if ip not in out:
                out.append(ip)
    return out


class EgressProxy:
    """Serves the egress socket of one phase from a background thread: ``start()``, ``stop()``.

    ``allowlist``: the phase's entries (for the SSRF exemption of listed IP literals; the
    policy decides what is allowed); ``allow_private``: host patterns whose names may
    resolve to private addresses. ``token``: the run's token (a new one when None).
    """

    def __init__(
        self, *, socket_path: Path, phase: Phase, decide_connect: DecideConnect,
        allowlist: Sequence[str] = (), allow_private: Sequence[str] = (),
        token: str | None = None, limits: EgressLimits | None = None,
        socket_owner: tuple[int, int] | None = None, log_path: Path | None = None,
        on_record: Callable[[ConnectionRecord], None] | None = None,
        resolver: Resolver | None = None, runtime: str = "builtin",
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self.socket_path = socket_path
        self.phase: Phase = phase
        self.decide_connect = decide_connect
        self.allowlist = parse_host_patterns(list(allowlist))
        self.allow_private = parse_host_patterns(list(allow_private))
        self.token = token or new_token()
        self.limits = limits or EgressLimits()
        self.socket_owner = socket_owner
        self.log_path = log_path
        self.on_record = on_record
        self.runtime = runtime
        self._resolve = resolver or resolve_host
        self._redact = redact or (lambda text: text)
        self._stats = EgressStats()
        self._stats_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._accepted = 0  # connections admitted (with the token) in this phase
        self._active = 0  # admitted and still open
        self._open = 0  # open on the socket, with or without the token
        self._bytes = 0
        self._byte_cap_hit = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._log: JsonlWriter | None = None

    # --- lifecycle ------------------------------------------------------------------

    @property
    def stats(self) -> EgressStats:
        with self._stats_lock:
            return self._stats

    def start(self, timeout: float = 10.0) -> None:
        """Listen on ``socket_path`` (0600, owned by ``socket_owner``); returns once it accepts."""
        try:
            sock = bind_unix_socket(self.socket_path, self.socket_owner)
        except OSError as exc:
            raise EnvironmentProblem(
                f"egress proxy failed to start on {self.socket_path}: {exc}") from None
        if self.log_path is not None:
            self._log = JsonlWriter(self.log_path, max_bytes=self.limits.log_bytes)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="egress-decide")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="egress-proxy", daemon=True)
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._listen(sock), loop)
        try:
            started.result(timeout)
        except BaseException as exc:
            sock.close()
            self.stop()
            raise EnvironmentProblem(
                f"egress proxy failed to start on {self.socket_path}: {exc}") from None

    async def _listen(self, sock: socket.socket) -> None:
        self._server = await asyncio.start_unix_server(
            self._handle, sock=sock, limit=self.limits.max_header_bytes)

    def stop(self, timeout: float = 10.0) -> None:
        """Close the socket and every connection; idempotent."""
        loop, self._loop = self._loop, None
        if loop is not None and loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if loop is not None and not loop.is_running():
            loop.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._log is not None:
            self._log.close()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    def __enter__(self) -> EgressProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- one connection -------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = _Conn(record=ConnectionRecord(id=next(self._ids), time=utc_now()))
        record = conn.record
        started = time.monotonic()
        self._bump(connections=1)
        self._open += 1
        try:
            if self._open > 2 * self.limits.max_concurrent:  # before the token, too: bounded
                raise _Refused(403, "too many connections to the egress proxy at once")
            await self._serve(reader, writer, conn)
        except _Refused as exc:
            record.outcome, record.status = exc.outcome, exc.status
            record.reason = self._redact(exc.message)[:1000]
            self._bump(refused=int(exc.outcome == "refused"), failed=int(exc.outcome == "failed"))
            with contextlib.suppress(Exception):
                writer.write(answer(exc.status, record.reason, headers=self._decision_header(record)))
                await asyncio.wait_for(writer.drain(), 5)
            await _linger(reader, writer)
        except _Ended as exc:  # before the upstream answered anything: say why
            record.reason = self._redact(str(exc))[:1000]
            if record.bytes_down == 0 and record.outcome == "forwarded":
                record.status = 502
                with contextlib.suppress(Exception):
                    writer.write(answer(502, record.reason))
        except asyncio.CancelledError:
            record.reason = record.reason or "the proxy stopped (end of the phase)"
        except Exception as exc:  # a bug must not leave the client hanging
            record.outcome, record.status = "failed", 502
            record.reason = f"proxy error: {type(exc).__name__}"
            self._bump(failed=1)
            with contextlib.suppress(Exception):
                writer.write(answer(502, record.reason))
        finally:
            for w in [*conn.upstream, writer]:
                with contextlib.suppress(Exception):
                    w.close()
            self._open -= 1
            if conn.admitted:
                self._active -= 1
            record.seconds = round(time.monotonic() - started, 3)
            self._finish(record)
            self._tasks.discard(task)

    @staticmethod
    def _decision_header(record: ConnectionRecord) -> dict[str, str]:
        return {"X-Sandbox-Runner-Decision": record.decision_id} if record.decision_id else {}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     conn: _Conn) -> None:
        record = conn.record
        await self._authenticate(reader)
        self._admit()
        conn.admitted = True
        head = await self._read_head(reader)
        try:
            target = request_target(head)
            body = request_body(head) if target.path is not None else None
        except BadRequest as exc:
            raise _Refused(400, str(exc)) from None
        record.method, record.host, record.port, record.phase = (
            head.method, target.host, target.port, self.phase)
        verdict = await self._decide(ConnectTarget(
            host=target.host, port=target.port, phase=self.phase, method=head.method,
            runtime=self.runtime))
        record.decision_id = verdict.decision_id
        if not verdict.allow:
            self._bump(denied=1)
            reasons = "; ".join(f"{r.policy}/{r.rule}: {r.msg}" for r in verdict.reasons)
            raise _Refused(403, f"denied by policy: {reasons or 'no reason given'}", "denied")
        self._bump(allowed=1)
        ip = await self._address(target)
        record.address = ip.compressed
        up_reader, up_writer = await self._connect(ip, target.port)
        conn.upstream.append(up_writer)
        activity = _Activity()
        if target.path is None:
            record.outcome = "tunnelled"
            writer.write(ESTABLISHED)
            await writer.drain()
            await self._relay(reader, writer, up_reader, up_writer, record, activity)
        else:
            assert body is not None
            record.outcome = "forwarded"
            await self._send(up_writer, forward_head(head, target), record, "up", activity)
            if body.chunked:
                await self._copy_chunked(reader, up_writer, record, activity)
            elif body.length:
                await self._copy_exactly(reader, up_writer, body.length, record, activity)
            await self._relay(None, writer, up_reader, None, record, activity)

    async def _authenticate(self, reader: asyncio.StreamReader) -> None:
        try:
            line = await asyncio.wait_for(reader.readuntil(b"\n"), self.limits.header_timeout)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            line = b""
        name, _, value = line.strip().partition(b":")
        refusal = token_refusal(presented_token([(name.strip(), value.strip())]),
                                self.token.encode("ascii"))
        if refusal is not None:
            raise _Refused(407, f"{refusal}: connect through the sandbox's relay "
                                "(HTTP_PROXY / HTTPS_PROXY)",
                           "refused")

    def _admit(self) -> None:
        lim = self.limits
        if self._byte_cap_hit:
            raise _Refused(403, f"the run's egress byte cap ({lim.max_bytes} bytes) is reached")
        if self._accepted >= lim.max_connections:
            raise _Refused(403, f"the run's egress connection cap ({lim.max_connections}) "
                                "is reached")
        if self._active >= lim.max_concurrent:
            raise _Refused(403, f"at most {lim.max_concurrent} egress connections at once")
        self._accepted += 1
        self._active += 1

    async def _read_head(self, reader: asyncio.StreamReader) -> RequestHead:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.limits.header_timeout)
        except asyncio.LimitOverrunError:
            raise _Refused(431, f"the request head is larger than {self.limits.max_header_bytes} "
                                "bytes") from None
        except asyncio.IncompleteReadError:
            raise _Refused(400, "the connection closed before a complete request head") from None
        except TimeoutError:
            raise _Refused(408, f"no complete request head within "
                                f"{self.limits.header_timeout:g}s") from None
        try:
            return parse_head(raw, max_headers=self.limits.max_headers)
        except BadRequest as exc:
            raise _Refused(400, str(exc)) from None

    async def _decide(self, target: ConnectTarget) -> DecideResponse:
        loop = asyncio.get_running_loop()
        try:
            verdict = await loop.run_in_executor(self._pool, self.decide_connect, target)
            if not isinstance(verdict, DecideResponse):
                raise TypeError(f"decide_connect returned {type(verdict).__name__}")
            return verdict
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # fail closed
            from runner.decisions import failure_answer  # loaded by any run; not at import

            return failure_answer(exc, "failed", self._redact)

    async def _address(self, target: Target) -> IPAddress:
        """The address to connect to: resolved after the decision, checked by the SSRF rule."""
        literal: IPAddress | None
        try:
            literal = ipaddress.ip_address(target.host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            try:
                addresses = await asyncio.wait_for(self._resolve(target.host, target.port),
                                                   self.limits.connect_timeout)
            except (OSError, TimeoutError) as exc:
                detail = "timed out" if isinstance(exc, TimeoutError) else str(exc)
                raise _Refused(502, f"cannot resolve {target.host}: {detail}", "failed") from None
            if not addresses:
                raise _Refused(502, f"{target.host} has no address", "failed")
        listed = literal is not None and any(
            p.ip == literal and not p.wildcard for p in self.allowlist)
        private = any(p.matches_host(target.host) for p in self.allow_private)
        refusals: list[str] = []
        for ip in addresses:
            why = refused_address(ip, listed_literal=listed, private_allowed=private)
            if why is None:
                return ip
            refusals.append(f"{ip.compressed} ({why})")
        self._bump(addresses_refused=1)
        raise _Refused(403, f"{target.host} resolves to {', '.join(refusals[:4])}: not a public "
                            "address; list it as an IP literal or in allow_private to reach it")

    async def _connect(self, ip: IPAddress, port: int
                       ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to exactly ``ip`` (no name resolution happens here)."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (ip.compressed, port)),
                                   self.limits.connect_timeout)
            return await asyncio.open_connection(sock=sock, limit=_CHUNK)
        except (OSError, TimeoutError) as exc:
            sock.close()
            detail = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
            where = f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
            raise _Refused(502, f"cannot connect to {where}:{port}: {detail}", "failed") from None

    # --- relaying -------------------------------------------------------------------

    def _count(self, n: int, direction: str, record: ConnectionRecord) -> None:
        if self._bytes + n > self.limits.max_bytes:
            self._byte_cap_hit = True
            raise _Ended(f"the run's egress byte cap ({self.limits.max_bytes} bytes) is reached")
        self._bytes += n
        if direction == "up":
            record.bytes_up += n
            self._bump(bytes_up=n)
        else:
            record.bytes_down += n
            self._bump(bytes_down=n)

    async def _send(self, dst: asyncio.StreamWriter, data: bytes, record: ConnectionRecord,
                    direction: str, activity: _Activity) -> None:
        self._count(len(data), direction, record)
        dst.write(data)
        try:
            await asyncio.wait_for(dst.drain(), self.limits.idle_timeout)
        except TimeoutError:
            raise _Ended(f"the receiver read nothing for {self.limits.idle_timeout:g}s") from None
        activity.last = time.monotonic()

    async def _read(self, src: asyncio.StreamReader, n: int, activity: _Activity) -> bytes:
        """Up to ``n`` bytes; ``_Ended`` once neither side moved for ``idle_timeout``."""
        idle = self.limits.idle_timeout
        while True:
            wait = max(0.05, activity.last + idle - time.monotonic())
            try:
                return await asyncio.wait_for(src.read(n), wait)
            except TimeoutError:
                if time.monotonic() - activity.last >= idle:
                    raise _Ended(f"idle for {idle:g}s") from None

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                    record: ConnectionRecord, direction: str, activity: _Activity) -> None:
        while data := await self._read(src, _CHUNK, activity):
            activity.last = time.monotonic()
            await self._send(dst, data, record, direction, activity)
        if dst.can_write_eof():
            with contextlib.suppress(OSError):
                dst.write_eof()

    async def _relay(self, client_reader: asyncio.StreamReader | None,
                     client_writer: asyncio.StreamWriter, up_reader: asyncio.StreamReader,
                     up_writer: asyncio.StreamWriter | None, record: ConnectionRecord,
                     activity: _Activity) -> None:
        """Bytes both ways (only upstream to client when ``client_reader`` is None). The
        client's EOF is passed on and the answer still relayed; the upstream's EOF ends the
        connection; idle or over the byte cap, both sides are closed."""
        down = asyncio.create_task(self._pump(up_reader, client_writer, record, "down", activity))
        pumps = [down]
        if client_reader is not None and up_writer is not None:
            pumps.append(asyncio.create_task(
                self._pump(client_reader, up_writer, record, "up", activity)))
        try:
            pending: set[asyncio.Task[None]] = set(pumps)
            while pending and not down.done():
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if any(t.exception() is not None for t in done):
                    break
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
        for task in pumps:
            exc = None if task.cancelled() else task.exception()
            if isinstance(exc, _Ended):
                record.reason = self._redact(str(exc))
            elif isinstance(exc, OSError):
                record.reason = f"connection reset: {exc.strerror or type(exc).__name__}"
            elif exc is not None:
                raise exc

    async def _copy_exactly(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, n: int,
                            record: ConnectionRecord, activity: _Activity) -> None:
        while n > 0:
            data = await self._read(src, min(n, _CHUNK), activity)
            if not data:
                raise _Ended("the client closed before the end of its request body")
            n -= len(data)
            await self._send(dst, data, record, "up", activity)

    async def _copy_chunked(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                            record: ConnectionRecord, activity: _Activity) -> None:
        """A chunked request body, chunk by chunk, then its trailers; nothing after it."""
        while True:
            line = await self._line(src, activity)
            try:
                size = chunk_size(line)
            except BadRequest as exc:
                raise _Ended(str(exc)) from None
            await self._send(dst, line, record, "up", activity)
            if size == 0:
                break
            await self._copy_exactly(src, dst, size + 2, record, activity)  # data and CRLF
        while (line := await self._line(src, activity)) != b"\r\n":
            await self._send(dst, line, record, "up", activity)
        await self._send(dst, line, record, "up", activity)

    async def _line(self, src: asyncio.StreamReader, activity: _Activity) -> bytes:
        try:
            return await asyncio.wait_for(src.readuntil(b"\r\n"), self.limits.idle_timeout)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            raise _Ended("a malformed or unfinished chunked body") from None

    # --- accounting -----------------------------------------------------------------

    def _bump(self, **delta: int) -> None:
        with self._stats_lock:
            s = self._stats
            self._stats = replace(s, **{k: getattr(s, k) + v for k, v in delta.items()})

    def _finish(self, record: ConnectionRecord) -> None:
        line: dict[str, Any] = {k: v for k, v in asdict(record).items() if v is not None}
        if self._log is not None:
            with contextlib.suppress(Exception):
                self._log.write(line)
        if self.on_record is not None:
            with contextlib.suppress(Exception):  # the display must never break the proxy
                self.on_record(record)

