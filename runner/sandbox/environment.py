"""Running commands in a sandbox (inspect_ai style): exec, read_file, write_file, exec_stream.

``DockerSandbox`` implements it with ``docker exec`` through the SDK's low-level API.
Timeouts wrap the command in coreutils ``timeout`` (which kills the whole process group it
leads) with a host-side read deadline as a backstop; collected output is bounded.
"""

from __future__ import annotations

import errno
import select
import socket
import struct
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import docker
from docker.errors import DockerException, NotFound
from pydantic import BaseModel
from requests.exceptions import RequestException

from runner.errors import RunFailed
from runner.sandbox.docker_client import one_line

DEFAULT_OUTPUT_LIMIT = 10 * 1024 * 1024  # bytes kept per stream; the rest is drained
# coreutils by absolute path: the sandbox's PATH starts with the project environment's bin/,
# where a dependency could install a script of the same name
TIMEOUT = "/usr/bin/timeout"
CAT = "/usr/bin/cat"
SH = "/bin/sh"
KILL_AFTER = 2.0  # `timeout --kill-after`: SIGKILL this long after the TERM
TIMEOUT_CODES = (124, 137)  # what `timeout` exits with when it ended the command


class ExecResult(BaseModel):
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


LineHandler = Callable[[str, str], None]  # (stream: "stdout" | "stderr", line without newline)


class SandboxEnvironment(ABC):
    """What the runner needs from a sandbox, whatever runs it."""

    @abstractmethod
    def exec(
        self, cmd: list[str], *, timeout: float | None = None, user: str | None = None,
        env: dict[str, str] | None = None, workdir: str | None = None,
        input: bytes | None = None, output_limit: int = DEFAULT_OUTPUT_LIMIT,
    ) -> ExecResult:
        """Run cmd (argv, no shell); wait for it; collect bounded stdout/stderr."""

    @abstractmethod
    def exec_stream(
        self, cmd: list[str], on_line: LineHandler, *, timeout: float | None = None,
        user: str | None = None, env: dict[str, str] | None = None, workdir: str | None = None,
        output_limit: int = DEFAULT_OUTPUT_LIMIT, input: bytes | None = None,
    ) -> ExecResult:
        """Like exec, calling on_line for every output line as it arrives."""

    @abstractmethod
    def read_file(self, path: str) -> bytes:
        """The file's bytes, read as the sandbox user (OSError subclasses when that fails)."""

    @abstractmethod
    def write_file(self, path: str, data: bytes) -> None:
        """Write the file as the sandbox user (so the sandbox's own limits apply)."""


def timeout_command(cmd: list[str], timeout: float | None) -> list[str]:
    """``cmd`` under coreutils ``timeout`` (TERM at ``timeout`` seconds, KILL after
    :data:`KILL_AFTER` more); unchanged without a timeout."""
    if timeout is None:
        return list(cmd)
    return [TIMEOUT, "--kill-after", f"{KILL_AFTER:g}", f"{max(timeout, 0.001):g}", *cmd]


def _os_error(message: str, path: str) -> OSError:
    text = message.strip()
    table = [
        ("No such file", FileNotFoundError, errno.ENOENT),
        ("Permission denied", PermissionError, errno.EACCES),
        ("Is a directory", IsADirectoryError, errno.EISDIR),
        ("Not a directory", NotADirectoryError, errno.ENOTDIR),
        ("Read-only file system", OSError, errno.EROFS),
        ("File too large", OSError, errno.EFBIG),
        ("No space left", OSError, errno.ENOSPC),
    ]
    for needle, cls, code in table:
        if needle in text:
            return cls(code, text, path)
    return OSError(errno.EIO, text or "failed", path)


class OutputCollector:
    """Bounded stdout/stderr buffers that also split lines for a handler."""

    def __init__(self, limit: int, on_line: LineHandler | None) -> None:
        self.limit = limit
        self.on_line = on_line
        self.data = {"stdout": bytearray(), "stderr": bytearray()}
        self.pending = {"stdout": b"", "stderr": b""}
        self.truncated = False

    def add(self, stream: str, chunk: bytes) -> None:
        buf = self.data[stream]
        room = self.limit - len(buf)
        if room > 0:
            buf.extend(chunk[:room])
        if len(chunk) > max(room, 0):
            self.truncated = True
        if self.on_line is not None:
            text = self.pending[stream] + chunk
            *lines, rest = text.split(b"\n")
            for line in lines:
                self.on_line(stream, line.decode("utf-8", "replace").rstrip("\r"))
            if len(rest) > 65536:  # an endless line: hand it over in pieces
                self.on_line(stream, rest.decode("utf-8", "replace"))
                rest = b""
            self.pending[stream] = rest

    def finish(self) -> None:
        if self.on_line is not None:
            for stream, rest in self.pending.items():
                if rest:
                    self.on_line(stream, rest.decode("utf-8", "replace").rstrip("\r"))
            self.pending = {"stdout": b"", "stderr": b""}


class FrameReader:
    """Docker's multiplexed stream: 8-byte header (stream id, size) then the payload."""

    def __init__(self, raw: socket.socket, deadline: float | None) -> None:
        self.raw = raw
        self.deadline = deadline
        self.buf = b""

    def _fill(self, n: int) -> bool:
        while len(self.buf) < n:
            wait = None if self.deadline is None else self.deadline - time.monotonic()
            if wait is not None and wait <= 0:
                raise TimeoutError("exec output deadline passed")
            ready, _, _ = select.select([self.raw], [], [], wait)
            if not ready:
                continue
            chunk = self.raw.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def drain(self, collector: OutputCollector) -> bool:
        """Every frame into ``collector`` until the stream ends (its last partial lines
        handed over); True when the deadline passed first (what came is kept)."""
        try:
            while (frame := self.next_frame()) is not None:
                collector.add(*frame)
        except TimeoutError:
            return True
        finally:
            collector.finish()
        return False

    def next_frame(self) -> tuple[str, bytes] | None:
        if not self._fill(8):
            return None
        stream_id, size = struct.unpack(">BxxxL", self.buf[:8])
        if not self._fill(8 + size):
            return None
        payload, self.buf = self.buf[8 : 8 + size], self.buf[8 + size :]
        return ("stderr" if stream_id == 2 else "stdout"), payload


class DockerSandbox(SandboxEnvironment):
    """A running container, driven by docker exec."""

    def __init__(self, client: docker.DockerClient, container_id: str) -> None:
        self.client = client
        self.container_id = container_id

    # -- exec ---------------------------------------------------------------------------

    def _create(
        self, cmd: list[str], *, user: str | None, env: dict[str, str] | None,
        workdir: str | None, stdin: bool,
    ) -> str:
        try:
            created = self.client.api.exec_create(
                self.container_id, cmd, stdout=True, stderr=True, stdin=stdin, tty=False,
                user=user or "", environment=env or None, workdir=workdir,
            )
        except NotFound:
            raise RunFailed("sandbox container is gone") from None
        except (DockerException, RequestException) as exc:
            raise RunFailed(f"docker exec failed: {one_line(exc)}") from None
        return str(created["Id"])

    def _drain(
        self, exec_id: str, input: bytes | None, deadline: float | None,
        collector: OutputCollector,
    ) -> bool:
        """Start the exec, feed it ``input``, collect its output; True past the deadline."""
        sock: Any = self.client.api.exec_start(exec_id, socket=True, demux=False)
        raw: socket.socket = getattr(sock, "_sock", sock)
        try:
            if input is not None:
                raw.sendall(input)
            raw.shutdown(socket.SHUT_WR)
            return FrameReader(raw, deadline).drain(collector)
        finally:
            sock.close()

    def _run(
        self, cmd: list[str], *, timeout: float | None, user: str | None,
        env: dict[str, str] | None, workdir: str | None, input: bytes | None, output_limit: int,
        on_line: LineHandler | None,
    ) -> tuple[int, bytes, bytes, bool, bool]:
        exec_id = self._create(
            timeout_command(cmd, timeout), user=user, env=env, workdir=workdir,
            stdin=input is not None,
        )
        started = time.monotonic()
        # Backstop: if `timeout` itself cannot end the command, stop reading a bit later.
        deadline = None if timeout is None else started + timeout + KILL_AFTER + 5.0
        collector = OutputCollector(output_limit, on_line)
        try:
            backstop_hit = self._drain(exec_id, input, deadline, collector)
        except (DockerException, RequestException, OSError) as exc:
            raise RunFailed(f"docker exec failed: {one_line(exc)}") from None
        code = self._exit_code(exec_id)
        elapsed = time.monotonic() - started
        timed_out = backstop_hit or (
            timeout is not None and code in TIMEOUT_CODES and elapsed >= timeout
        )
        return (code, bytes(collector.data["stdout"]), bytes(collector.data["stderr"]),
                timed_out, collector.truncated)

    def _exit_code(self, exec_id: str) -> int:
        for _ in range(50):
            try:
                info = self.client.api.exec_inspect(exec_id)
            except (DockerException, RequestException) as exc:
                raise RunFailed(f"docker exec failed: {one_line(exc)}") from None
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            time.sleep(0.02)
        return -1  # still running after the stream closed (backstop): unknown

    def exec(
        self, cmd: list[str], *, timeout: float | None = None, user: str | None = None,
        env: dict[str, str] | None = None, workdir: str | None = None,
        input: bytes | None = None, output_limit: int = DEFAULT_OUTPUT_LIMIT,
    ) -> ExecResult:
        return _result(*self._run(
            cmd, timeout=timeout, user=user, env=env, workdir=workdir, input=input,
            output_limit=output_limit, on_line=None,
        ))

    def exec_stream(
        self, cmd: list[str], on_line: LineHandler, *, timeout: float | None = None,
        user: str | None = None, env: dict[str, str] | None = None, workdir: str | None = None,
        output_limit: int = DEFAULT_OUTPUT_LIMIT, input: bytes | None = None,
    ) -> ExecResult:
        return _result(*self._run(
            cmd, timeout=timeout, user=user, env=env, workdir=workdir, input=input,
            output_limit=output_limit, on_line=on_line,
        ))

    # -- files --------------------------------------------------------------------------

    def read_file(self, path: str) -> bytes:
        code, out, err, _, truncated = self._run(
            [CAT, "--", path], timeout=60, user=None, env=None, workdir=None, input=None,
            output_limit=256 * 1024 * 1024, on_line=None,
        )
        if code != 0:
            raise _os_error(err.decode("utf-8", "replace"), path)
        if truncated:
            raise OSError(errno.EFBIG, "file too large to read", path)
        return out

    def write_file(self, path: str, data: bytes) -> None:
        script = f'{CAT} > "$1"'
        code, _, err, _, _ = self._run(
            [SH, "-c", script, "sh", path], timeout=60, user=None, env=None, workdir=None,
            input=data, output_limit=64 * 1024, on_line=None,
        )
        if code != 0:
            raise _os_error(err.decode("utf-8", "replace"), path)


def _result(code: int, out: bytes, err: bytes, timed_out: bool, truncated: bool) -> ExecResult:
    return ExecResult(
        returncode=code, stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"), timed_out=timed_out, truncated=truncated,
    )
