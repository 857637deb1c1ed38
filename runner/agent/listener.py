"""The start-up both in-container relays share (stdlib only): harden the process, read the
run's token from stdin, parse ``--port``/``--socket``, listen on 127.0.0.1 and say so.

Exit codes: 0 stopped, 2 bad arguments or no token, 4 cannot harden or listen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable

from runner.agent.harden import make_non_dumpable, read_token

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
_CHUNK = 64 * 1024


def canned(name: str, status: str, message: str) -> bytes:
    """A relay's own short HTTP answer (``name``: who says it, e.g. "relay")."""
    body = f"sandbox-runner {name}: {message}\n".encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode() + body


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 data: bytes) -> None:
    """Our own answer, then our side closed (FIN), then a little of what the client still
    sends is read: closing with its request unread would reset the connection, answer lost."""
    with contextlib.suppress(OSError, TimeoutError, asyncio.LimitOverrunError, ValueError):
        writer.write(data)
        await writer.drain()
        writer.write_eof()
        await asyncio.wait_for(reader.read(_CHUNK), 1.0)
    writer.close()


async def serve(handler: Handler, *, ready: str, port: int, limit: int,
                host: str = "127.0.0.1") -> None:
    server = await asyncio.start_server(handler, host, port, limit=limit)
    bound = server.sockets[0].getsockname()[1]  # port 0: the kernel's choice (tests)
    print(f"{ready} {host}:{bound}", flush=True)
    async with server:
        await server.serve_forever()


def relay_main(argv: list[str] | None, *, name: str, prog: str, port: int, socket: str,
               ready: str, limit: int, handler: Callable[[str, str], Handler],
               token_ok: Callable[[str], bool] = lambda _: True) -> int:
    """Run a relay: ``handler(token, socket_path)`` answers each accepted connection."""
    say = f"sandbox-runner {name}"
    try:
        make_non_dumpable()  # first: the token must never be readable from /proc
    except OSError as exc:
        print(f"{say}: cannot harden the process: {exc}", file=sys.stderr)
        return 4
    token = read_token()
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--socket", default=socket)
    args = parser.parse_args(argv)
    if token is None or not token_ok(token):
        print(f"{say}: no token on stdin (the runner writes it there)", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"{say}: --port must be 0..65535", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(handler(token, args.socket), ready=ready, port=args.port, limit=limit))
    except OSError as exc:
        print(f"{say}: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        return 0
    return 0
