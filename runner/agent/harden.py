"""Hardening of a runner-owned process in the container: the agent, the relay.

Standard library only: the relay (:mod:`runner.agent.relay`) imports it and runs with any
``python3``. Both processes hold the run's token, which reaches them on stdin only.
"""

from __future__ import annotations

import contextlib
import ctypes
import os

MAX_TOKEN_LINE = 512
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4


def make_non_dumpable() -> None:
    """PR_SET_DUMPABLE 0: processes of the same uid (the agent's own Bash commands) can no
    longer ptrace this process or read its /proc/<pid>/mem and environ."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_DUMPABLE, 0) failed: {os.strerror(err)}")
    if libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError("prctl(PR_GET_DUMPABLE) still reports dumpable")


def read_token(fd: int = 0) -> str | None:
    """The gateway token: the first line of stdin, where the host writes it (and closes it).

    It is never in the environment or a file, so no child of the agent can find it there;
    afterwards fd ``fd`` is pointed at /dev/null, so no child inherits the pipe either. The
    token then lives in this (non-dumpable) process's memory only.
    """
    data = bytearray()
    try:
        if os.isatty(fd):
            return None
        while len(data) <= MAX_TOKEN_LINE and b"\n" not in data:
            chunk = os.read(fd, MAX_TOKEN_LINE + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError:
        return None
    finally:
        with contextlib.suppress(OSError):
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, fd)
            os.close(null)
    token = bytes(data).split(b"\n", 1)[0].strip()
    if not token or len(token) > MAX_TOKEN_LINE:
        return None
    return token.decode("ascii", "replace")
