"""``python -P -m runner.agent.api_relay``: Claude Code's way to the gateway (``--runtime claude-code``).

Started by the runner (``docker exec``, never by the agent), with the run's gateway token as
the first line of stdin. It listens on 127.0.0.1:API_PORT inside the container (which has no
network); Claude Code's ``ANTHROPIC_BASE_URL`` and the PreToolUse hook (runner/agent/hook.py)
point there. For each connection it reads ONE HTTP/1.1 request and:

- answers it itself unless it is ``HEAD /``, ``GET /``, ``POST /v1/messages``,
  ``POST /v1/messages/count_tokens`` or ``POST /v1/decide`` (404; the path is compared
  without the query string, which is passed on): the gateway's other routes
  (``/v1/events``: the built-in agent's display events) are not for Claude Code;
- refuses what it cannot read unambiguously (400): a malformed request line or header,
  folded headers, both Content-Length and Transfer-Encoding, a Transfer-Encoding other than
  ``chunked``, conflicting lengths; a head over 64 KiB is 431, a body over 32 MiB 413;
- drops the client's credentials and hop-by-hop headers (``x-api-key``, ``authorization``,
  ``proxy-*``, ``connection`` and what it names, ``keep-alive``, ``te``, ``trailer``,
  ``transfer-encoding``, ``upgrade``, ``expect``, ``host``, ``content-length``), adds
  ``x-api-key: <token>``, ``Connection: close`` and the body's real length, and forwards it
  to the gateway's unix socket;
- pipes the gateway's response back byte for byte as it arrives (server-sent events flow
  event by event), until the gateway closes; then closes the client's connection.

The token lives in this process's memory only (stdin is pointed at /dev/null once read) and
the process is non-dumpable, so the agent's commands (same uid) cannot read it from /proc.
What the agent *can* do with the relay (any process in the sandbox can connect to it) is in
docs/threat-model.md. Standard library only.

Exit codes: 0 stopped, 2 bad arguments or no token, 4 cannot listen.
"""

from __future__ import annotations

import asyncio
import re
import sys

from runner.agent import listener

API_PORT = 4141  # runner.protocol.API_PORT (this module imports no pydantic; a test checks)
DEFAULT_SOCKET = "/run/sandbox-runner/gw.sock"
READY = "sandbox-runner api relay: listening on"
MAX_HEAD = 64 * 1024  # request line and headers
MAX_BODY = 32 * 1024 * 1024
MAX_OPEN = 64  # connections at once (the gateway serves 64)
HEAD_TIMEOUT = 60.0  # seconds to send the request line and headers
BODY_TIMEOUT = 300.0  # seconds to send the body
ROUTES = frozenset({("HEAD", "/"), ("GET", "/"), ("POST", "/v1/messages"),
                    ("POST", "/v1/messages/count_tokens"), ("POST", "/v1/decide")})
_DROPPED = frozenset({"x-api-key", "authorization", "connection", "keep-alive", "te", "trailer",
                      "transfer-encoding", "upgrade", "expect", "host", "content-length"})
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_TARGET = re.compile(rb"/[!-~]*")  # origin-form: visible ASCII, no spaces
_VERSION = re.compile(rb"HTTP/1\.[01]")
_CHUNK = 64 * 1024


class BadRequest(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


def canned(status: str, message: str) -> bytes:
    return listener.canned("api relay", status, message)


_UNREACHABLE = canned("502 Bad Gateway", "the gateway is not reachable")
_BUSY = canned("503 Service Unavailable", "too many connections at once")


class Request:
    def __init__(self, method: str, target: str, headers: list[tuple[str, str]]) -> None:
        self.method = method
        self.target = target
        self.headers = headers  # (name as sent, value), in order

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name]


def parse_head(head: bytes) -> Request:
    """The request line and headers (``head`` without the final empty line)."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not _TARGET.fullmatch(parts[1]) \
            or not _VERSION.fullmatch(parts[2]):
        raise BadRequest("400 Bad Request", "malformed request line")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not _TOKEN.fullmatch(name):
            raise BadRequest("400 Bad Request", "malformed header line")
        value = value.strip(b" \t")
        if any((c < 0x20 and c != 0x09) or c == 0x7F for c in value):
            raise BadRequest("400 Bad Request", "control character in a header value")
        headers.append((name.decode("ascii"), value.decode("latin-1")))
    return Request(parts[0].decode("ascii"), parts[1].decode("ascii"), headers)


def body_length(req: Request) -> int | None:
    """The Content-Length (0 when absent), or None for a chunked body; 400/413 when odd."""
    encodings = req.values("transfer-encoding")
    lengths = {v.strip() for v in req.values("content-length")}
    if encodings:
        if lengths:
            raise BadRequest("400 Bad Request", "both Content-Length and Transfer-Encoding")
        if len(encodings) != 1 or encodings[0].strip().lower() != "chunked":
            raise BadRequest("400 Bad Request", "only Transfer-Encoding: chunked is accepted")
        return None
    if not lengths:
        return 0
    if len(lengths) != 1:
        raise BadRequest("400 Bad Request", "conflicting Content-Length headers")
    text = lengths.pop()
    if not text.isdigit() or not text.isascii():
        raise BadRequest("400 Bad Request", "malformed Content-Length")
    if int(text) > MAX_BODY:
        raise BadRequest("413 Content Too Large", f"request body over {MAX_BODY} bytes")
    return int(text)


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        line = await reader.readuntil(b"\r\n")
        size_text = line[:-2].split(b";", 1)[0].strip()
        if not size_text or not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size_text):
            raise BadRequest("400 Bad Request", "malformed chunk size")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > MAX_BODY:
            raise BadRequest("413 Content Too Large", f"request body over {MAX_BODY} bytes")
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise BadRequest("400 Bad Request", "malformed chunk")
    while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers: read, never forwarded
        pass
    return bytes(body)


def upstream_head(req: Request, token: str, length: int) -> bytes:
    """The request as the gateway gets it: the client's credentials and hop-by-hop headers
    gone, the run's token, the body's length and ``Connection: close`` added."""
    named = {n.strip().lower() for v in req.values("connection") for n in v.split(",")}
    lines = [f"{req.method} {req.target} HTTP/1.1", "Host: gateway"]
    for name, value in req.headers:
        low = name.lower()
        if low in _DROPPED or low in named or low.startswith("proxy-"):
            continue
        lines.append(f"{name}: {value}")
    lines += [f"x-api-key: {token}", f"Content-Length: {length}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


class ApiRelay:
    def __init__(self, token: str, socket_path: str) -> None:
        self.token = token
        self.socket_path = socket_path
        self.open = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.open >= MAX_OPEN:
            await listener.answer(reader, writer, _BUSY)
            return
        self.open += 1
        try:
            await self._one(reader, writer)
        finally:
            self.open -= 1
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            req, body = await self._read(reader, writer)
        except BadRequest as exc:
            await listener.answer(reader, writer, canned(exc.status, str(exc)))
            return
        except asyncio.LimitOverrunError:  # a chunk-size or trailer line without an end
            await listener.answer(reader, writer, canned("400 Bad Request", "malformed chunked body"))
            return
        except (asyncio.IncompleteReadError, TimeoutError, OSError):
            return  # the client went away (or never finished): nothing to answer
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path)
        except OSError:
            await listener.answer(reader, writer, _UNREACHABLE)
            return
        try:
            up_writer.write(upstream_head(req, self.token, len(body)) + body)
            await up_writer.drain()
            while data := await up_reader.read(_CHUNK):
                writer.write(data)  # as it arrives: an event stream is never held back
                await writer.drain()
        except OSError:
            pass  # either side is gone: close both
        finally:
            up_writer.close()

    async def _read(self, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> tuple[Request, bytes]:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
        except asyncio.LimitOverrunError:
            raise BadRequest("431 Request Header Fields Too Large",
                             f"request line and headers over {MAX_HEAD} bytes") from None
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise BadRequest("400 Bad Request", "incomplete request") from None
            raise
        req = parse_head(head[:-4])
        length = body_length(req)
        if (req.method, req.path) not in ROUTES:
            raise BadRequest("404 Not Found", f"{req.method} {req.path} is not a gateway route "
                             "this relay forwards")
        expect = req.values("expect")
        if expect:
            if [e.strip().lower() for e in expect] != ["100-continue"]:
                raise BadRequest("417 Expectation Failed", "only Expect: 100-continue")
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        if length is None:
            body = await asyncio.wait_for(read_chunked(reader), BODY_TIMEOUT)
        else:
            body = await asyncio.wait_for(reader.readexactly(length), BODY_TIMEOUT)
        return req, body


async def serve(token: str, port: int, socket_path: str, host: str = "127.0.0.1") -> None:
    await listener.serve(ApiRelay(token, socket_path).handle, ready=READY, port=port,
                         limit=MAX_HEAD, host=host)


def main(argv: list[str] | None = None) -> int:
    return listener.relay_main(
        argv, name="api relay", prog="runner.agent.api_relay", port=API_PORT,
        socket=DEFAULT_SOCKET, ready=READY, limit=MAX_HEAD,
        handler=lambda token, path: ApiRelay(token, path).handle,
        token_ok=lambda token: _TOKEN.fullmatch(token.encode("ascii", "replace")) is not None)


if __name__ == "__main__":
    sys.exit(main())
