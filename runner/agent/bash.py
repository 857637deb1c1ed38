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
_GRACE = 0.5  # seconds to keep reading after the shell exits (background jobs holding the pipe)


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


def minimal_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    return {
        "PATH": env.get("PATH") or DEFAULT_PATH,
        "HOME": env.get("HOME") or "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TMPDIR": env.get("TMPDIR") or "/tmp",
    }


def clamp_timeout(requested: float | None, default: float) -> float:
    """Seconds; values above 600 are taken as milliseconds (Claude Code's convention)."""
    value = default if requested is None else float(requested)
    if value > MAX_TIMEOUT:
        value = value / 1000.0
    return min(max(value, 1.0), MAX_TIMEOUT)


def run_bash(command: str, *, cwd: str, timeout: float, limit: int, env: dict[str, str]) -> BashResult:
    proc = subprocess.Popen(
        ["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    assert proc.stdout is not None
    buf = HeadTail(limit)
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    timed_out = False
    deadline = time.monotonic() + timeout
    stop_reading_at: float | None = None
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            if stop_reading_at is None:
                if _exited(proc.pid):
                    stop_reading_at = now + _GRACE
                elif now >= deadline:
                    timed_out = True
                    _kill_group(proc.pid)
                    stop_reading_at = now + _GRACE
            elif now >= stop_reading_at:
                break
            limit_at = stop_reading_at if stop_reading_at is not None else deadline
            if not sel.select(timeout=max(0.0, min(0.05, limit_at - now))):
                continue
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                break  # EOF: every writer is gone
            buf.add(chunk)
    _kill_group(proc.pid)  # background jobs the command left behind end with it
    proc.stdout.close()
    code = proc.wait()
    return BashResult(output=buf.text(), exit_code=None if timed_out else code, timed_out=timed_out,
                      total_bytes=buf.total, omitted_bytes=buf.omitted)


def _exited(pid: int) -> bool:
    """Has the shell exited? (Without reaping it, so its pid still names the process group.)"""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
