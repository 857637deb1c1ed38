"""Fixtures of the egress tests: upstream servers on loopback, a real decision service.

Everything here listens on 127.0.0.1 only. The decision service is the real one: the bundled
Rego policies (regorus) with an allowlist naming the loopback servers, a Decider and a
hash-chained DecisionLog per test.
"""

from __future__ import annotations

import http.server
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runner.audit.log import DecisionLog
from runner.decisions import DecisionService
from runner.egress.allowlist import with_agent_hosts
from runner.egress.proxy import EGRESS_LOG, ConnectionRecord, EgressLimits, EgressProxy
from runner.policy.bundle import load_bundle
from runner.policy.decider import Decider
from runner.policy.models import RunInfo
from runner.policy.regorus_engine import RegorusEngine

TIMEOUT = 10.0  # no client in these tests waits longer for anything


@dataclass
class Seen:
    requests: list[dict[str, Any]] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: Seen

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.seen.requests.append({"method": "GET", "path": self.path,
                                   "headers": dict(self.headers.items())})
        self._answer(b"index page for " + self.path.encode())

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding") == "chunked":
            body = b""
            while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                body += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.requests.append({"method": "POST", "path": self.path, "body": body,
                                   "headers": dict(self.headers.items())})
        self._answer(b"got " + str(len(body)).encode())

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Upstream:
    port: int
    seen: Seen


@pytest.fixture(scope="session")
def http_upstream() -> Iterator[Upstream]:
    seen = Seen()
    handler = type("Handler", (_Handler,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Upstream(port=server.server_address[1], seen=seen)
    server.shutdown()
    server.server_close()


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture(scope="session")
def echo_upstream() -> Iterator[int]:
    """A TCP echo: what a TLS server is to the proxy (bytes it never reads)."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


NAMED = ["metadata.test", "private.test", "named.test", "dual.test", "public.test"]


@pytest.fixture(scope="session")
def allowlist(http_upstream: Upstream, echo_upstream: int, closed_port: int) -> list[str]:
    h, e = http_upstream.port, echo_upstream
    return [f"127.0.0.1:{h}", f"127.0.0.1:{e}", f"127.0.0.1:{closed_port}", f"localhost:{h}",
            *[f"{name}:{h}" for name in NAMED]]


@pytest.fixture(scope="session")
def engine(allowlist: list[str]) -> Iterator[RegorusEngine]:
    bundle = with_agent_hosts(load_bundle([]), allowlist, [])
    eng = RegorusEngine(bundle)
    yield eng
    eng.close()


@dataclass
class ProxyRun:
    proxy: EgressProxy
    log_path: Path
    records: list[ConnectionRecord]
    ended: threading.Condition  # notified once per finished connection

    @property
    def socket_path(self) -> Path:
        return self.proxy.socket_path

    @property
    def egress_log(self) -> Path:
        assert self.proxy.log_path is not None
        return self.proxy.log_path

    def wait_records(self, n: int) -> list[ConnectionRecord]:
        """The records once ``n`` connections have ended."""
        with self.ended:
            assert self.ended.wait_for(lambda: len(self.records) >= n, TIMEOUT), \
                "a connection never ended"
            return list(self.records)


MakeProxy = Callable[..., ProxyRun]


@pytest.fixture
def make_proxy(tmp_path: Path, engine: RegorusEngine, allowlist: list[str]
               ) -> Iterator[MakeProxy]:
    started: list[tuple[EgressProxy, DecisionLog]] = []

    def make(*, limits: EgressLimits | None = None, allow_private: tuple[str, ...] = (),
             resolver: Any = None, decide: Any = None) -> ProxyRun:
        n = len(started)
        log = DecisionLog(tmp_path / f"decisions{n}.jsonl", labels={}, bundle_hash="test")
        decider = Decider(engine, workspace=None, run=RunInfo(id="egress-test"))
        records: list[ConnectionRecord] = []
        ended = threading.Condition()

        def on_record(record: ConnectionRecord) -> None:
            with ended:
                records.append(record)
                ended.notify_all()

        proxy = EgressProxy(
            socket_path=tmp_path / f"egress{n}.sock", phase="agent",
            decide_connect=decide or DecisionService(decider, log=log).decide_connect,
            allowlist=allowlist,
            allow_private=allow_private, limits=limits, log_path=tmp_path / f"{n}-{EGRESS_LOG}",
            on_record=on_record, resolver=resolver)
        proxy.start()
        started.append((proxy, log))
        return ProxyRun(proxy=proxy, log_path=log.path, records=records, ended=ended)

    yield make
    for proxy, log in started:
        proxy.stop()
        log.close()


def open_proxy(run: ProxyRun, *, token: str | None = None) -> socket.socket:
    """A connection to the proxy's socket, past the token line (the relay's part)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    sock.connect(str(run.socket_path))
    line = f"x-api-key: {run.proxy.token if token is None else token}\r\n"
    sock.sendall(line.encode())
    return sock


def read_all(sock: socket.socket) -> bytes:
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def ask(run: ProxyRun, request: str, *, token: str | None = None) -> bytes:
    """One request through the proxy; the whole answer (the proxy closes after it)."""
    with open_proxy(run, token=token) as sock:
        sock.sendall(request.encode())
        return read_all(sock)
