"""The relay (runner/agent/relay.py) on the host: a real process in front of a real proxy.

In a run it is started in the container by ``docker exec`` (tests/egress/test_egress_e2e.py);
here it runs as a subprocess, so its contract can be held without Docker: token on stdin,
one listening line on stdout, every TCP connection forwarded to the proxy socket with the
token line first.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runner.agent.relay import READY
from runner.egress.relay import proxy_env, relay_command
from tests.egress.conftest import TIMEOUT, MakeProxy, Upstream, read_all, read_head

REPO = Path(__file__).resolve().parents[2]
StartRelay = Callable[..., tuple[subprocess.Popen[str], int]]


@pytest.fixture
def start_relay() -> Iterator[StartRelay]:
    procs: list[subprocess.Popen[str]] = []

    def start(socket_path: Path, token: str | None) -> tuple[subprocess.Popen[str], int]:
        argv = relay_command(0, str(socket_path))
        argv[0] = sys.executable
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd="/",
                                env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)})
        procs.append(proc)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(f"{token}\n" if token is not None else "")
        proc.stdin.close()
        line = proc.stdout.readline()  # the relay says when it listens, or exits
        if not line.startswith(READY):
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


def test_urllib_through_the_relay_and_the_proxy(make_proxy: MakeProxy, http_upstream: Upstream,
                                                start_relay: StartRelay,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    run = make_proxy()
    _, port = start_relay(run.socket_path, run.proxy.token)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    proxies = {k.split("_")[0].lower(): v for k, v in proxy_env(port).items()
               if k in ("HTTP_PROXY", "HTTPS_PROXY")}
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(proxies))
    with opener.open(f"http://127.0.0.1:{http_upstream.port}/simple/", timeout=TIMEOUT) as resp:
        assert resp.status == 200 and resp.read() == b"index page for /simple/"
    with pytest.raises(urllib.error.HTTPError) as denied:
        opener.open("http://evil.example/", timeout=TIMEOUT)
    assert denied.value.code == 403
    assert b"connect_not_allowed" in denied.value.read()
    assert [r.outcome for r in run.wait_records(2)] == ["forwarded", "denied"]


def test_a_tunnel_through_the_relay(make_proxy: MakeProxy, echo_upstream: int,
                                    start_relay: StartRelay) -> None:
    run = make_proxy()
    _, port = start_relay(run.socket_path, run.proxy.token)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(f"CONNECT 127.0.0.1:{echo_upstream} HTTP/1.1\r\n\r\n".encode())
        assert read_head(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"\x16\x03\x01 not really TLS")
        assert sock.recv(100) == b"\x16\x03\x01 not really TLS"


def test_a_relay_with_another_token_is_refused(make_proxy: MakeProxy, echo_upstream: int,
                                               start_relay: StartRelay) -> None:
    run = make_proxy()
    _, port = start_relay(run.socket_path, "not-the-runs-token")
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(f"CONNECT 127.0.0.1:{echo_upstream} HTTP/1.1\r\n\r\n".encode())
        assert read_all(sock).startswith(b"HTTP/1.1 407 ")


def test_no_token_on_stdin_is_exit_2(tmp_path: Path, start_relay: StartRelay) -> None:
    proc, port = start_relay(tmp_path / "egress.sock", None)
    assert port == 0 and proc.wait(TIMEOUT) == 2
    assert proc.stderr is not None and "no token on stdin" in proc.stderr.read()


def test_an_absent_proxy_is_a_502_not_a_hang(tmp_path: Path, start_relay: StartRelay) -> None:
    _, port = start_relay(tmp_path / "absent.sock", "token")
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(b"CONNECT pypi.org:443 HTTP/1.1\r\n\r\n")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 502 ") and b"not reachable" in answer
