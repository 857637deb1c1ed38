"""The egress proxy on loopback: real upstreams, the real Rego decision, the real log.

Every client here has a socket timeout: a proxy that left one hanging fails the test.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import stat
import time
from typing import Any

import pytest

from runner.audit import read_log, verify_log
from runner.egress.hosts import IPAddress
from runner.egress.proxy import EgressLimits
from runner.policy.models import ConnectTarget
from runner.protocol import DecideResponse
from tests.egress.conftest import (
    TIMEOUT,
    MakeProxy,
    ProxyRun,
    Upstream,
    ask,
    open_proxy,
    read_all,
    read_head,
)


def decisions(run: ProxyRun) -> list[dict[str, Any]]:
    return [e.model_dump() for e in read_log(run.log_path)]


def egress_lines(run: ProxyRun) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run.egress_log.read_text().splitlines()]


class Resolver:
    """A stand-in for the host's resolver (names under .test), counting its calls."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.calls.append(host)
        if host not in self.table:
            raise OSError(f"{host}: name not known")
        return [ipaddress.ip_address(a) for a in self.table[host]]


# --- what is allowed ---------------------------------------------------------------------


def test_connect_tunnels_bytes_both_ways_as_one_logged_decision(
        make_proxy: MakeProxy, echo_upstream: int) -> None:
    run = make_proxy()
    with open_proxy(run) as sock:
        sock.sendall(f"CONNECT 127.0.0.1:{echo_upstream} HTTP/1.1\r\n"
                     f"Host: 127.0.0.1:{echo_upstream}\r\n\r\n".encode())
        assert read_head(sock) == b"HTTP/1.1 200 Connection established\r\n\r\n"
        payload = os.urandom(100_000)  # TLS-like: bytes the proxy never reads
        sock.sendall(payload)
        echoed = b""
        while len(echoed) < len(payload):
            echoed += sock.recv(65536)
        assert echoed == payload
    [record] = run.wait_records(1)
    assert (record.outcome, record.address) == ("tunnelled", "127.0.0.1")
    assert record.bytes_up == record.bytes_down == len(payload)
    [line] = decisions(run)
    assert line["input"] == {"kind": "connect", "connect": {
        "host": "127.0.0.1", "port": echo_upstream, "phase": "agent", "method": "CONNECT",
        "runtime": "builtin"}, "run": {"id": "egress-test", "agent": "", "workspace": "/workspace"}}
    assert line["result"] == {"allow": True, "reasons": []}
    assert line["tool_use_id"] is None
    assert verify_log(run.log_path).ok
    assert egress_lines(run)[0]["decision_id"] == line["decision_id"]


def test_plain_http_is_forwarded_in_origin_form(make_proxy: MakeProxy,
                                                http_upstream: Upstream) -> None:
    run = make_proxy()
    port = http_upstream.port
    before = len(http_upstream.seen.requests)
    answer = ask(run, f"GET http://127.0.0.1:{port}/simple/tinypkg/?x=1 HTTP/1.1\r\n"
                      f"Host: evil.example\r\nProxy-Authorization: Basic c2VjcmV0\r\n"
                      f"Proxy-Connection: keep-alive\r\nUser-Agent: pip/24\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b"index page for /simple/tinypkg/?x=1")
    seen = http_upstream.seen.requests[before]
    assert seen["path"] == "/simple/tinypkg/?x=1"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["host"] == f"127.0.0.1:{port}" and headers["user-agent"] == "pip/24"
    assert "proxy-authorization" not in headers and "proxy-connection" not in headers
    assert headers["connection"] == "close"
    [line] = decisions(run)
    assert line["input"]["connect"]["method"] == "GET"  # the method is visible for plain HTTP


def test_request_bodies_are_forwarded_by_their_framing(make_proxy: MakeProxy,
                                                       http_upstream: Upstream) -> None:
    run = make_proxy()
    url = f"http://127.0.0.1:{http_upstream.port}/upload"
    body = "x" * 70_000
    by_length = ask(run, f"POST {url} HTTP/1.1\r\nContent-Length: {len(body)}\r\n\r\n{body}")
    assert by_length.endswith(b"got 70000")
    chunked = ask(run, f"POST {url} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n")
    assert chunked.endswith(b"got 11")
    assert http_upstream.seen.requests[-1]["body"] == b"hello world"
    smuggled = ask(run, f"POST {url} HTTP/1.1\r\nContent-Length: 5\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert smuggled.startswith(b"HTTP/1.1 400 ") and b"both Transfer-Encoding" in smuggled


# --- what is refused, at once and with the reason -----------------------------------------


def test_a_host_not_allowed_is_403_with_the_policys_reason_and_logged(
        make_proxy: MakeProxy) -> None:
    resolver = Resolver({})
    run = make_proxy(resolver=resolver)
    t0 = time.monotonic()
    answer = ask(run, "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n")
    assert time.monotonic() - t0 < 5
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 Forbidden")
    assert b"network/connect_not_allowed" in body and b"evil.example:443" in body
    [line] = decisions(run)
    assert line["result"]["allow"] is False
    assert line["result"]["reasons"][0]["rule"] == "connect_not_allowed"
    assert f"X-Sandbox-Runner-Decision: {line['decision_id']}".encode() in head
    assert resolver.calls == []  # a denied name is never resolved
    [record] = run.wait_records(1)
    assert (record.outcome, record.status) == ("denied", 403)
    assert verify_log(run.log_path).ok


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_without_the_token_it_is_407_and_nothing_is_decided(make_proxy: MakeProxy,
                                                            token: str) -> None:
    run = make_proxy()
    answer = ask(run, "CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n", token=token)
    assert answer.startswith(b"HTTP/1.1 407 ")
    assert decisions(run) == []
    # a client that skips the token line altogether
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(str(run.socket_path))
        sock.sendall(b"CONNECT pypi.org:443 HTTP/1.1\r\n\r\n")
        assert read_all(sock).startswith(b"HTTP/1.1 407 ")
    assert decisions(run) == [] and run.proxy.stats.refused == 2


@pytest.mark.parametrize(("request_text", "status"), [
    ("GET /simple/ HTTP/1.1\r\n\r\n", 400),
    ("GET https://pypi.org/ HTTP/1.1\r\n\r\n", 400),
    ("CONNECT pypi.org HTTP/1.1\r\n\r\n", 400),
    ("CONNECT 127.1:443 HTTP/1.1\r\n\r\n", 400),
    ("BREW coffee HTTP/1.1\r\n\r\n", 400),
    ("GET http://x/ HTTP/1.1\r\nX: " + "a" * 40_000 + "\r\n\r\n", 431),
])
def test_malformed_requests_are_answered_not_decided(make_proxy: MakeProxy, request_text: str,
                                                     status: int) -> None:
    run = make_proxy()
    assert ask(run, request_text).startswith(f"HTTP/1.1 {status} ".encode())
    assert decisions(run) == []


def test_an_unfinished_head_is_408_after_the_header_timeout(make_proxy: MakeProxy) -> None:
    run = make_proxy(limits=EgressLimits(header_timeout=0.5))
    with open_proxy(run) as sock:
        sock.sendall(b"CONNECT pypi.org:443 HTTP/1.1\r\n")  # and never the empty line
        assert read_all(sock).startswith(b"HTTP/1.1 408 ")


def test_an_unreachable_upstream_is_502_at_once(make_proxy: MakeProxy, closed_port: int) -> None:
    run = make_proxy()
    answer = ask(run, f"CONNECT 127.0.0.1:{closed_port} HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 502 ") and b"cannot connect" in answer
    assert run.proxy.stats.failed == 1


def test_a_failing_decision_service_is_a_deny(make_proxy: MakeProxy, echo_upstream: int) -> None:
    def broken(target: ConnectTarget) -> DecideResponse:
        raise RuntimeError("engine fell over")

    run = make_proxy(decide=broken)
    answer = ask(run, f"CONNECT 127.0.0.1:{echo_upstream} HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403 ") and b"engine/evaluation_failed" in answer


# --- SSRF: names resolve on the host, after the decision ---------------------------------


def test_a_name_resolving_to_loopback_is_refused(make_proxy: MakeProxy,
                                                 http_upstream: Upstream) -> None:
    run = make_proxy()  # the host's real resolver: localhost is 127.0.0.1 / ::1
    answer = ask(run, f"GET http://localhost:{http_upstream.port}/ HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403 ") and b"loopback" in answer
    [line] = decisions(run)
    assert line["result"]["allow"] is True  # the policy allowed the name; the address is refused
    [record] = run.wait_records(1)
    assert record.outcome == "refused" and "loopback" in (record.reason or "")
    assert run.proxy.stats.addresses_refused == 1


@pytest.mark.parametrize(("name", "addresses", "kind"), [
    ("metadata.test", ["169.254.169.254"], "metadata"),
    ("metadata.test", ["fd00:ec2::254"], "metadata"),
    ("private.test", ["10.1.2.3"], "private"),
    ("private.test", ["192.168.0.10", "172.16.5.4"], "private"),
    ("dual.test", ["::ffff:127.0.0.1"], "loopback"),
    ("named.test", ["0.0.0.0"], "unspecified"),
    ("named.test", ["169.254.10.10"], "link-local"),
])
def test_names_resolving_to_non_public_addresses_are_refused(
        make_proxy: MakeProxy, http_upstream: Upstream, name: str, addresses: list[str],
        kind: str) -> None:
    resolver = Resolver({name: addresses})
    run = make_proxy(resolver=resolver)
    answer = ask(run, f"GET http://{name}:{http_upstream.port}/ HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403 ") and kind.encode() in answer
    assert resolver.calls == [name]


def test_allow_private_names_connect_to_the_address_that_was_checked(
        make_proxy: MakeProxy, http_upstream: Upstream) -> None:
    resolver = Resolver({"named.test": ["127.0.0.1"], "metadata.test": ["169.254.169.254"]})
    run = make_proxy(resolver=resolver, allow_private=("named.test", "metadata.test"))
    before = len(http_upstream.seen.requests)
    answer = ask(run, f"GET http://named.test:{http_upstream.port}/via-name HTTP/1.1\r\n\r\n")
    # named.test exists only in this resolver: the proxy connected to the address it checked
    assert answer.startswith(b"HTTP/1.1 200 ")
    seen = http_upstream.seen.requests[before]
    assert seen["path"] == "/via-name"
    assert seen["headers"]["Host"] == f"named.test:{http_upstream.port}"
    assert resolver.calls == ["named.test"]  # resolved once
    # a metadata address stays refused for a name, even one allowed to be private
    answer = ask(run, f"GET http://metadata.test:{http_upstream.port}/ HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403 ") and b"metadata" in answer


def test_an_unresolvable_allowed_name_is_502(make_proxy: MakeProxy,
                                             http_upstream: Upstream) -> None:
    run = make_proxy(resolver=Resolver({}))
    answer = ask(run, f"GET http://public.test:{http_upstream.port}/ HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 502 ") and b"cannot resolve public.test" in answer


# --- caps -----------------------------------------------------------------------------------


def tunnel(run: ProxyRun, port: int) -> socket.socket:
    sock = open_proxy(run)
    sock.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode())
    assert read_head(sock).startswith(b"HTTP/1.1 200 ")
    return sock


def test_connections_per_run_are_capped(make_proxy: MakeProxy, echo_upstream: int) -> None:
    run = make_proxy(limits=EgressLimits(max_connections=2))
    for _ in range(2):
        tunnel(run, echo_upstream).close()
    answer = ask(run, f"CONNECT 127.0.0.1:{echo_upstream} HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403 ") and b"connection cap (2)" in answer
    assert len(decisions(run)) == 2  # the refused one was not decided


def test_connections_at_once_are_capped(make_proxy: MakeProxy, echo_upstream: int) -> None:
    run = make_proxy(limits=EgressLimits(max_concurrent=1))
    first = tunnel(run, echo_upstream)
    answer = ask(run, f"CONNECT 127.0.0.1:{echo_upstream} HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403 ") and b"at most 1" in answer
    run.wait_records(1)  # the refused one
    first.close()
    run.wait_records(2)  # the first one, ended
    tunnel(run, echo_upstream).close()


def test_connections_without_the_token_are_bounded_too(make_proxy: MakeProxy) -> None:
    run = make_proxy(limits=EgressLimits(max_concurrent=2, header_timeout=5))
    idle = [socket.socket(socket.AF_UNIX) for _ in range(4)]  # never send their token
    for sock in idle:
        sock.settimeout(TIMEOUT)
        sock.connect(str(run.socket_path))
    try:
        answer = ask(run, "CONNECT pypi.org:443 HTTP/1.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 403 ") and b"too many connections" in answer
    finally:
        for sock in idle:
            sock.close()


def test_bytes_per_run_are_capped(make_proxy: MakeProxy, echo_upstream: int) -> None:
    run = make_proxy(limits=EgressLimits(max_bytes=50_000))
    with tunnel(run, echo_upstream) as sock:
        sock.sendall(b"x" * 20_000)
        got = b""
        while len(got) < 20_000:
            got += sock.recv(65536)
        with pytest.raises(OSError):  # the proxy closes: the write or the read fails
            sock.sendall(b"y" * 200_000)
            while sock.recv(65536):
                pass
            raise ConnectionResetError("closed")
    [record] = run.wait_records(1)
    assert "byte cap" in (record.reason or "")
    answer = ask(run, f"CONNECT 127.0.0.1:{echo_upstream} HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403 ") and b"byte cap" in answer


def test_an_idle_tunnel_is_closed(make_proxy: MakeProxy, echo_upstream: int) -> None:
    run = make_proxy(limits=EgressLimits(idle_timeout=0.5))
    with tunnel(run, echo_upstream) as sock:
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"
        t0 = time.monotonic()
        assert sock.recv(10) == b""  # closed by the proxy, not by us
        assert time.monotonic() - t0 < 5
    [record] = run.wait_records(1)
    assert "idle for 0.5s" in (record.reason or "")


def test_stop_ends_open_tunnels(make_proxy: MakeProxy, echo_upstream: int) -> None:
    run = make_proxy()
    sock = tunnel(run, echo_upstream)
    run.proxy.stop()
    assert sock.recv(10) == b""
    sock.close()
    assert not run.socket_path.exists()


def test_the_socket_is_the_sandbox_users_only(make_proxy: MakeProxy) -> None:
    run = make_proxy()
    mode = os.lstat(run.socket_path).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
