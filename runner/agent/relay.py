"""``python3 -P -m runner.agent.relay --port PORT``: the sandbox's one way to the egress proxy.

Started by the runner (``docker exec``, never by the agent), with the run's token as the
first line of stdin. It listens on 127.0.0.1:PORT inside the container (which has no
network) and forwards every accepted TCP connection to the egress proxy's unix socket in
the run's socket directory, after one line of its own: ``x-api-key: TOKEN``. It reads no
HTTP: the proxy on the host decides everything. Tools reach it through ``HTTP_PROXY`` /
``HTTPS_PROXY`` (``http://127.0.0.1:PORT``).

The token lives in this process's memory only (stdin is pointed at /dev/null once read) and
the process is non-dumpable, so the agent's commands (same uid) cannot read it from /proc.
Standard library only: it runs with whatever ``python3`` the image has.

Exit codes: 0 stopped, 2 bad arguments or no token, 4 cannot listen.
"""

from __future__ import annotations

import asyncio
import sys

from runner.agent import listener

EGRESS_SOCKET_NAME = "egress.sock"
DEFAULT_SOCKET = f"/run/sandbox-runner/{EGRESS_SOCKET_NAME}"
DEFAULT_PORT = 3128
READY = "sandbox-runner relay: listening on"
MAX_OPEN = 256  # connections at once (the proxy has its own, per-run caps)
_CHUNK = 64 * 1024


_UNREACHABLE = listener.canned("relay", "502 Bad Gateway", "the egress proxy is not reachable")
_BUSY = listener.canned("relay", "503 Service Unavailable", "too many connections at once")


class Relay:
    def __init__(self, token: str, socket_path: str) -> None:
        self._line = f"x-api-key: {token}\r\n".encode("ascii")
        self.socket_path = socket_path
        self.open = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.open >= MAX_OPEN:
            await listener.answer(reader, writer, _BUSY)
            return
        self.open += 1
        try:
            try:
                up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path)
            except OSError:
                await listener.answer(reader, writer, _UNREACHABLE)
                return
            try:
                up_writer.write(self._line)
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                up_writer.close()
        finally:
            self.open -= 1
            writer.close()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    """Bytes from ``src`` to ``dst`` until EOF (then half-close ``dst``) or an error."""
    try:
        while data := await src.read(_CHUNK):
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()
    except OSError:
        dst.close()  # the other side is gone: end the other direction too


async def serve(token: str, port: int, socket_path: str, host: str = "127.0.0.1") -> None:
    await listener.serve(Relay(token, socket_path).handle, ready=READY, port=port, limit=_CHUNK,
                         host=host)


def main(argv: list[str] | None = None) -> int:
    return listener.relay_main(
        argv, name="relay", prog="runner.agent.relay", port=DEFAULT_PORT, socket=DEFAULT_SOCKET,
        ready=READY, limit=_CHUNK, handler=lambda token, path: Relay(token, path).handle)


if __name__ == "__main__":
    sys.exit(main())
