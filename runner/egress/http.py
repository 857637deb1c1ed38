"""The HTTP/1.x the egress proxy reads and writes: request heads, targets, its own answers.

Only what a forward proxy needs: a request line and header fields (bounded in size and
count by the reader, refused when malformed), the target of ``CONNECT host:port`` or of an
absolute-form ``GET http://host[:port]/path``, the head forwarded upstream for plain HTTP
(origin-form, hop-by-hop fields dropped, ``Host`` set from the URL, ``Connection: close``),
and the proxy's own short answers. Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.egress.hosts import BadHost, split_authority

MAX_HEADERS = 100
_METHOD = re.compile(r"^[A-Z][A-Z-]{0,19}$")
_FIELD_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_CHUNK_LINE = re.compile(rb"^([0-9A-Fa-f]{1,16})(;[^\r\n]*)?\r\n$")
# Fields about this hop only (RFC 9110 7.6.1), and the proxy's own: never forwarded.
HOP_BY_HOP = frozenset({
    "connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate",
    "te", "trailer", "upgrade",
})
REASONS = {200: "Connection established", 400: "Bad Request", 403: "Forbidden",
           407: "Proxy Authentication Required", 408: "Request Timeout",
           431: "Request Header Fields Too Large", 502: "Bad Gateway"}


class BadRequest(ValueError):
    """A request the proxy will not handle (answered 400 with the reason)."""


@dataclass(frozen=True)
class RequestHead:
    method: str
    target: str
    version: str  # "HTTP/1.0" | "HTTP/1.1"
    headers: list[tuple[str, str]]

    def values(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name]


@dataclass(frozen=True)
class Target:
    """Where a request goes: host and port (normalized) and, for plain HTTP, the path."""

    host: str
    port: int
    path: str | None  # None: a CONNECT tunnel

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == 80 else f"{host}:{self.port}"


def parse_head(raw: bytes, *, max_headers: int = MAX_HEADERS) -> RequestHead:
    """A request head (up to and including the empty line) or :class:`BadRequest`."""
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise BadRequest("an empty request")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise BadRequest("the request line must be METHOD TARGET HTTP/1.x")
    method, target, version = parts
    if not _METHOD.match(method):
        raise BadRequest("not an HTTP method")
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise BadRequest("only HTTP/1.0 and HTTP/1.1 requests are proxied")
    if not target or any(c <= " " or c == "\x7f" for c in target):
        raise BadRequest("a malformed request target")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if len(headers) >= max_headers:
            raise BadRequest(f"more than {max_headers} header fields")
        if line[:1] in (" ", "\t"):
            raise BadRequest("folded header lines are not accepted")
        name, sep, value = line.partition(":")
        if not sep or not _FIELD_NAME.match(name):
            raise BadRequest("a malformed header field")
        value = value.strip(" \t")
        if any(c in value for c in "\r\n\x00"):
            raise BadRequest("a malformed header value")
        headers.append((name, value))
    return RequestHead(method=method, target=target, version=version, headers=headers)


def request_target(head: RequestHead) -> Target:
    """``CONNECT host:port``, or an absolute ``http://`` URL; :class:`BadRequest` otherwise."""
    try:
        if head.method == "CONNECT":
            host, port = split_authority(head.target, None)
            return Target(host=host, port=port, path=None)
        scheme, sep, rest = head.target.partition("://")
        if not sep:
            raise BadRequest("a proxy request needs an absolute URL (http://host/path) or CONNECT")
        if scheme.lower() != "http":
            raise BadRequest(f"only http:// URLs are forwarded ({scheme}: use CONNECT)")
        cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
        authority, path = rest[:cut], rest[cut:]
        if "#" in path:
            path = path.split("#", 1)[0]
        host, port = split_authority(authority, 80)
    except BadHost as exc:
        raise BadRequest(str(exc)) from None
    if not path.startswith("/"):
        path = "/" + path
    return Target(host=host, port=port, path=path)


@dataclass(frozen=True)
class Body:
    """How a forwarded request's body is framed."""

    length: int  # Content-Length (0: none)
    chunked: bool


def request_body(head: RequestHead) -> Body:
    """The body framing of a plain-HTTP request; ambiguous framing (smuggling) is refused."""
    encodings = [e.strip().lower() for v in head.values("transfer-encoding") for e in v.split(",")]
    lengths = {v.strip() for v in head.values("content-length")}
    if encodings:
        if lengths:
            raise BadRequest("both Transfer-Encoding and Content-Length")
        if encodings != ["chunked"]:
            raise BadRequest("only the chunked transfer coding is forwarded")
        return Body(length=0, chunked=True)
    if not lengths:
        return Body(length=0, chunked=False)
    if len(lengths) != 1 or not next(iter(lengths)).isdigit() or len(next(iter(lengths))) > 15:
        raise BadRequest("a malformed Content-Length")
    return Body(length=int(next(iter(lengths))), chunked=False)


def chunk_size(line: bytes) -> int:
    """The size of a chunk from its size line (with CRLF); :class:`BadRequest` when malformed."""
    m = _CHUNK_LINE.match(line)
    if m is None:
        raise BadRequest("a malformed chunk")
    return int(m.group(1), 16)


def forward_head(head: RequestHead, target: Target) -> bytes:
    """The head sent upstream for plain HTTP: origin-form, this hop's fields dropped."""
    assert target.path is not None
    named = {n.strip().lower() for v in head.values("connection") for n in v.split(",")}
    lines = [f"{head.method} {target.path} {head.version}", f"Host: {target.authority}"]
    for name, value in head.headers:
        lname = name.lower()
        if lname in HOP_BY_HOP or lname in named or lname == "host":
            continue
        lines.append(f"{name}: {value}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer(status: int, message: str, *, headers: dict[str, str] | None = None) -> bytes:
    """One of the proxy's own responses: a text body saying why, and the connection closes."""
    body = f"sandbox-runner egress proxy: {message}\n".encode("utf-8", "replace")
    fields = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body)),
              "Connection": "close", **(headers or {})}
    head = f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode("latin-1", "replace") + body


ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"
