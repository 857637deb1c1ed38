"""The proxy's HTTP/1.x: request heads, targets, body framing, forwarded heads, answers."""

from __future__ import annotations

import pytest

from runner.egress.http import (
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


def head(text: str) -> RequestHead:
    return parse_head(text.replace("\n", "\r\n").encode() + b"\r\n")


def test_connect_target() -> None:
    h = head("CONNECT PyPI.org:443 HTTP/1.1\nHost: pypi.org:443\n")
    assert request_target(h) == Target(host="pypi.org", port=443, path=None)
    assert request_target(head("CONNECT [2001:db8::1]:443 HTTP/1.1\n")).host == "2001:db8::1"


@pytest.mark.parametrize(("url", "expected"), [
    ("http://pypi.org/simple/x/", Target("pypi.org", 80, "/simple/x/")),
    ("http://pypi.org:8080", Target("pypi.org", 8080, "/")),
    ("http://pypi.org?q=1", Target("pypi.org", 80, "/?q=1")),
    ("HTTP://10.0.0.1:3141/a#frag", Target("10.0.0.1", 3141, "/a")),
])
def test_absolute_url_targets(url: str, expected: Target) -> None:
    assert request_target(head(f"GET {url} HTTP/1.1\n")) == expected


@pytest.mark.parametrize(("line", "says"), [
    ("GET /simple/ HTTP/1.1", "absolute URL"),
    ("GET https://pypi.org/ HTTP/1.1", "use CONNECT"),
    ("CONNECT pypi.org HTTP/1.1", "needs a port"),
    ("CONNECT user:pw@pypi.org:443 HTTP/1.1", "user information"),
    ("GET http://user@pypi.org/ HTTP/1.1", "user information"),
    ("GET http://127.1/ HTTP/1.1", "numeric"),
])
def test_bad_targets(line: str, says: str) -> None:
    with pytest.raises(BadRequest, match=says):
        request_target(head(line + "\n"))


@pytest.mark.parametrize(("raw", "says"), [
    ("", "empty"),
    ("GET http://x/ HTTP/2.0\n", "HTTP/1.0 and HTTP/1.1"),
    ("get http://x/ HTTP/1.1\n", "method"),
    ("GET  http://x/ HTTP/1.1\n", "request line"),
    ("GET http://x/ HTTP/1.1\n folded: yes\n", "folded"),
    ("GET http://x/ HTTP/1.1\nbad header\n", "malformed header"),
    ("GET http://x/ HTTP/1.1\nna me: v\n", "malformed header"),
    ("GET http://x/ HTTP/1.1\n" + "X-A: 1\n" * 101, "more than 100"),
])
def test_malformed_heads(raw: str, says: str) -> None:
    with pytest.raises(BadRequest, match=says):
        head(raw)


def test_body_framing() -> None:
    assert request_body(head("GET http://x/ HTTP/1.1\n")).length == 0
    assert request_body(head("POST http://x/ HTTP/1.1\nContent-Length: 12\n")).length == 12
    assert request_body(head("POST http://x/ HTTP/1.1\nTransfer-Encoding: chunked\n")).chunked
    for smuggled in ("Content-Length: 1\nTransfer-Encoding: chunked\n",
                     "Content-Length: 1\nContent-Length: 2\n", "Content-Length: -1\n",
                     "Transfer-Encoding: gzip, chunked\n", "Content-Length: 1e3\n"):
        with pytest.raises(BadRequest):
            request_body(head(f"POST http://x/ HTTP/1.1\n{smuggled}"))


def test_chunk_size_lines() -> None:
    assert chunk_size(b"1a\r\n") == 26 and chunk_size(b"0;ext=1\r\n") == 0
    for bad in (b"zz\r\n", b"\r\n", b"1" * 17 + b"\r\n", b"-1\r\n"):
        with pytest.raises(BadRequest):
            chunk_size(bad)


def test_forwarded_head_is_origin_form_without_this_hops_fields() -> None:
    h = head("GET http://pypi.org:8080/simple/?a=1 HTTP/1.1\nHost: evil.example\n"
             "Proxy-Authorization: Basic c2VjcmV0\nProxy-Connection: keep-alive\n"
             "Connection: keep-alive, X-Private\nX-Private: 1\nUpgrade: websocket\n"
             "User-Agent: pip/24\nAccept: */*\n")
    out = forward_head(h, request_target(h)).decode()
    assert out.startswith("GET /simple/?a=1 HTTP/1.1\r\nHost: pypi.org:8080\r\n")
    assert out.endswith("Connection: close\r\n\r\n")
    lowered = out.lower()
    for gone in ("evil.example", "proxy-authorization", "proxy-connection", "x-private",
                 "upgrade", "keep-alive"):
        assert gone not in lowered
    assert "User-Agent: pip/24" in out and "Accept: */*" in out


def test_answers_say_why_and_close() -> None:
    raw = answer(403, "denied by policy: network/connect_not_allowed: no",
                 headers={"X-Sandbox-Runner-Decision": "abc"})
    head_part, body = raw.split(b"\r\n\r\n", 1)
    assert head_part.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert b"Connection: close" in head_part and b"X-Sandbox-Runner-Decision: abc" in head_part
    assert f"Content-Length: {len(body)}".encode() in head_part
    assert b"connect_not_allowed" in body
