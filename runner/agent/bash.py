"""Run one shell command: own process group, minimal environment, timeout, bounded output."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass

MAX_TIMEOUT = 600.0
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
_POLL = 0.05  # seconds between exit checks when the kernel has no pidfd
_AFTER_KILL = 2.0  # seconds to wait for EOF once the group is killed (writers that left it)


@dataclass(frozen=True)
class BashResult:
    output: str
    exit_code: int | None  # None: killed on timeout
    timed_out: bool
    total_bytes: int
    omitted_bytes: int


class HeadTail:
    """Keeps the first and last ``limit // 2`` bytes of a stream; counts the rest."""

    def __init__(self, limit: int) -> None:
        self.half = max(1, limit // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.half:
                del self.tail[: len(self.tail) - self.half]

    @property
    def omitted(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def text(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        if self.omitted:
            return f"{head}\n[... {self.omitted} bytes of output omitted ...]\n{tail}"
        return head + tail


# The egress relay's address: the runner sets them for the agent only when the run has a
# proxy (allowed hosts); then every command gets them, else none does.
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


def minimal_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    return {
        "PATH": env.get("PATH") or DEFAULT_PATH,
        "HOME": env.get("HOME") or "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TMPDIR": env.get("TMPDIR") or "/tmp",
        **{name: value for name in PROXY_VARS if (value := env.get(name))},
    }


def clamp_timeout(requested: float | None, default: float) -> float:
    """Seconds; values above 600 are taken as milliseconds (Claude Code's convention)."""
    value = default if requested is None else float(requested)
    if value > MAX_TIMEOUT:
        value = value / 1000.0
    return min(max(value, 1.0), MAX_TIMEOUT)


def run_bash(command: str, *, cwd: str, timeout: float, limit: int, env: dict[str, str]) -> BashResult:
    """Run ``bash -c command`` in its own process group; its whole output, then its exit code.

    The shell's exit decides when the command is over (not EOF: a program closes its stdout
    before it exits, and background jobs can hold the pipe long after). Until then the pipe
    is drained; at the deadline the group is killed and the call is a timeout. Only after the
    shell has exited (its pid still unreaped, so the group id cannot be reused) is the rest of
    the group killed; what it wrote before is read up to EOF. A command that exits 0 is
    reported as exit 0 with all its output, whatever the load.
    """
    proc = subprocess.Popen(
        ["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    assert proc.stdout is not None
    buf = HeadTail(limit)
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    deadline = time.monotonic() + timeout
    with _ExitWatch(proc.pid) as exit_watch, selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ, "out")
        if exit_watch.fd is not None:
            sel.register(exit_watch.fd, selectors.EVENT_READ, "exit")
        open_pipe = True
        timed_out = False
        while not exit_watch.exited():
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            wait = left if exit_watch.fd is not None else min(left, _POLL)
            for key, _ in sel.select(timeout=wait):
                if key.data == "out" and not _drain(fd, buf):
                    sel.unregister(fd)  # EOF: the shell still decides when the command ends
                    open_pipe = False
        _kill_group(proc.pid)  # background jobs the command left behind end with it
        if open_pipe:
            _read_to_eof(fd, buf, sel)
    proc.stdout.close()
    code = proc.wait()
    return BashResult(output=buf.text(), exit_code=None if timed_out else code, timed_out=timed_out,
                      total_bytes=buf.total, omitted_bytes=buf.omitted)


def _drain(fd: int, buf: HeadTail) -> bool:
    """Read what the pipe holds now; False at EOF."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        buf.add(chunk)


def _read_to_eof(fd: int, buf: HeadTail, sel: selectors.BaseSelector) -> None:
    """After the group was killed: read until every writer is gone (EOF).

    Bounded: a process that left the group (setsid) and still holds the pipe is not waited for.
    """
    end = time.monotonic() + _AFTER_KILL
    while (left := end - time.monotonic()) > 0:
        if any(key.data == "out" for key, _ in sel.select(timeout=left)) and not _drain(fd, buf):
            return


class _ExitWatch:
    """Tells when a child has exited without reaping it (its pid keeps naming the group).

    A pidfd (readable once the process exits) when the kernel has one; else ``waitid``
    with ``WNOWAIT``, polled.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.fd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self.fd = os.pidfd_open(pid)

    def __enter__(self) -> _ExitWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)

    def exited(self) -> bool:
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
