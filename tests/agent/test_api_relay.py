"""The API relay (runner/agent/api_relay.py) as a real process in front of a unix socket.

In a run it is started in the container by ``docker exec`` (tests/agent/test_bridge_docker.py);
here it runs as a subprocess: token on stdin, one listening line on stdout, one request per
connection forwarded to the socket with the run's token, the response piped back as it comes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runner.agent import api_relay
from runner.protocol import API_PORT

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 10.0
TOKEN = "tok-" + "a" * 40
StartRelay = Callable[..., tuple[subprocess.Popen[str], int]]


@pytest.fixture
def start_relay() -> Iterator[StartRelay]:
    procs: list[subprocess.Popen[str]] = []

    def start(socket_path: Path, token: str | None = TOKEN) -> tuple[subprocess.Popen[str], int]:
        proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "runner.agent.api_relay", "--port", "0",
             "--socket", str(socket_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd="/", env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)})
        procs.append(proc)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(f"{token}\n" if token is not None else "")
        proc.stdin.close()
        line = proc.stdout.readline()
        if not line.startswith(api_relay.READY):
            return proc, 0
        return proc, int(line.rsplit(":", 1)[1])

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(TIMEOUT)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


class Upstream:
    """A unix socket server that records each request and answers with ``respond``."""

    def __init__(self, path: Path, respond: Callable[[socket.socket, bytes], None]) -> None:
        self.path = path
        self.requests: list[bytes] = []
        self.respond = respond
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(body) < length:
                body += conn.recv(65536)
            self.requests.append(head + b"\r\n\r\n" + body)
            self.respond(conn, body)

    def close(self) -> None:
        self.sock.close()


def ok(conn: socket.socket, body: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


@pytest.fixture
def sock_path() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="srapi-", dir="/tmp"))
    yield d / "gw.sock"
    for p in d.iterdir():
        p.unlink()
    d.rmdir()


@pytest.fixture
def upstream(sock_path: Path) -> Iterator[Upstream]:
    up = Upstream(sock_path, ok)
    yield up
    up.close()


def exchange(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(raw)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_port_constant_matches_protocol() -> None:
    assert api_relay.API_PORT == API_PORT == 4141


def test_forwards_the_routes_with_the_token_and_not_the_clients(
        start_relay: StartRelay, upstream: Upstream) -> None:
    _, port = start_relay(upstream.path)
    body = b'{"model":"m"}'
    raw = (b"POST /v1/messages?beta=true HTTP/1.1\r\nHost: 127.0.0.1:4141\r\n"
           b"x-api-key: client-key\r\nAuthorization: Bearer client\r\n"
           b"Proxy-Authorization: Basic x\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\n"
           b"Keep-Alive: timeout=5\r\nanthropic-beta: claude-code-20250219\r\n"
           b"anthropic-version: 2023-06-01\r\nContent-Type: application/json\r\n"
           b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert exchange(port, raw).endswith(b"\r\n\r\nok")
    [seen] = upstream.requests
    head, _, got = seen.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/messages?beta=true HTTP/1.1"
    headers = [tuple(line.split(": ", 1)) for line in lines[1:]]
    names = [n.lower() for n, _ in headers]
    assert ("x-api-key", TOKEN) in headers and names.count("x-api-key") == 1
    assert "client-key" not in head.decode() and "authorization" not in names
    assert not any(n.startswith("proxy-") for n in names)
    assert "x-drop" not in names and "keep-alive" not in names
    assert ("Connection", "close") in headers and names.count("connection") == 1
    assert ("anthropic-beta", "claude-code-20250219") in headers
    assert got == body


@pytest.mark.parametrize(("method", "target"), [
    ("HEAD", "/"), ("GET", "/"), ("POST", "/v1/messages/count_tokens"),
    ("POST", "/v1/decide?x=1")])
def test_allowed_routes(start_relay: StartRelay, upstream: Upstream, method: str,
                        target: str) -> None:
    _, port = start_relay(upstream.path)
    out = exchange(port, f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
                   .encode())
    assert out.startswith(b"HTTP/1.1 200")
    assert upstream.requests[-1].startswith(f"{method} {target} HTTP/1.1".encode())


@pytest.mark.parametrize(("method", "target"), [
    ("POST", "/v1/events"), ("GET", "/v1/messages"), ("POST", "/v1/messages/"),
    ("POST", "/v1/%6Dessages"), ("POST", "/v1/messages/../events"), ("DELETE", "/"),
    ("POST", "/v1/decide/x")])
def test_other_routes_are_404(start_relay: StartRelay, upstream: Upstream, method: str,
                              target: str) -> None:
    _, port = start_relay(upstream.path)
    out = exchange(port, f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
                   .encode())
    assert out.startswith(b"HTTP/1.1 404")
    assert upstream.requests == []


@pytest.mark.parametrize("raw", [
    b"POST /v1/decide HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST /v1/decide HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"POST /v1/decide HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    b"POST /v1/decide HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST /v1/decide HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
    b"POST /v1/decide HTTP/2\r\n\r\n",
    b"POST v1/decide HTTP/1.1\r\n\r\n",
    b"POST /v1/de cide HTTP/1.1\r\n\r\n",
    b"POST /v1/decide HTTP/1.1\r\nBad Header: x\r\n\r\n",
    b"POST /v1/decide HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"garbage\r\n\r\n",
])
def test_malformed_requests_are_400(start_relay: StartRelay, upstream: Upstream,
                                    raw: bytes) -> None:
    _, port = start_relay(upstream.path)
    assert exchange(port, raw).startswith(b"HTTP/1.1 400")
    assert upstream.requests == []


def test_chunked_body_is_forwarded_with_its_length(start_relay: StartRelay,
                                                   upstream: Upstream) -> None:
    _, port = start_relay(upstream.path)
    raw = (b"POST /v1/decide HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n")
    assert exchange(port, raw).startswith(b"HTTP/1.1 200")
    [seen] = upstream.requests
    assert b"Content-Length: 11\r\n" in seen and seen.endswith(b"\r\n\r\nhello world")
    assert b"chunked" not in seen.lower() and b"Trailer" not in seen


def test_sizes_are_capped(start_relay: StartRelay, upstream: Upstream) -> None:
    _, port = start_relay(upstream.path)
    big = f"POST /v1/messages HTTP/1.1\r\nContent-Length: {api_relay.MAX_BODY + 1}\r\n\r\n"
    assert exchange(port, big.encode()).startswith(b"HTTP/1.1 413")
    head = b"POST /v1/messages HTTP/1.1\r\nX: " + b"a" * api_relay.MAX_HEAD + b"\r\n\r\n"
    assert exchange(port, head).startswith(b"HTTP/1.1 431")
    assert upstream.requests == []


def test_expect_continue(start_relay: StartRelay, upstream: Upstream) -> None:
    _, port = start_relay(upstream.path)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(b"POST /v1/decide HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"{}")
        assert s.recv(100).startswith(b"HTTP/1.1 200")
    assert b"expect" not in upstream.requests[0].lower()


def test_events_flow_one_by_one(start_relay: StartRelay, sock_path: Path) -> None:
    """The client sees the first event before the server sends the last."""
    first_seen = threading.Event()

    def stream(conn: socket.socket, body: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Connection: close\r\n\r\n")
        conn.sendall(b"event: message_start\ndata: {}\n\n")
        assert first_seen.wait(TIMEOUT), "the first event never reached the client"
        conn.sendall(b"event: message_stop\ndata: {}\n\n")

    up = Upstream(sock_path, stream)
    try:
        _, port = start_relay(sock_path)
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
            s.sendall(b"POST /v1/messages HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
            got = b""
            while b"message_start" not in got:
                chunk = s.recv(65536)
                assert chunk, "closed before the first event"
                got += chunk
            assert b"message_stop" not in got
            first_seen.set()
            while chunk := s.recv(65536):
                got += chunk
        assert got.endswith(b"event: message_stop\ndata: {}\n\n")
    finally:
        up.close()


def test_no_gateway_is_502(start_relay: StartRelay, sock_path: Path) -> None:
    _, port = start_relay(sock_path)
    out = exchange(port, b"POST /v1/decide HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 502")


def test_no_token_exits_2(start_relay: StartRelay, sock_path: Path) -> None:
    proc, port = start_relay(sock_path, token=None)
    assert port == 0 and proc.wait(TIMEOUT) == 2
    assert proc.stderr is not None and "no token" in proc.stderr.read()


def test_too_many_connections_are_503(start_relay: StartRelay, sock_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    async def scenario() -> bytes:
        relay = api_relay.ApiRelay(TOKEN, str(sock_path))
        relay.open = api_relay.MAX_OPEN
        server = await asyncio.start_server(relay.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\n\r\n")
            data = await reader.read()
            writer.close()
            return data

    assert asyncio.run(scenario()).startswith(b"HTTP/1.1 503")
