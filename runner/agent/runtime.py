"""Where the agent finds its config, socket and workspace; process hardening."""

from __future__ import annotations

import contextlib
import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from runner.protocol import (
    AGENT_CONFIG_NAME,
    MAX_TOKEN_LINE,
    SOCKET_DIR_IN_CONTAINER,
    SOCKET_NAME,
    AgentConfig,
)

DIR_ENV = "SANDBOX_RUNNER_DIR"  # overrides /run/sandbox-runner (tests run the agent on the host)
WORKSPACE_ENV = "SANDBOX_RUNNER_WORKSPACE"  # overrides the workspace's location on disk
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4


class AgentConfigError(Exception):
    """agent.json is missing or invalid (exit 2)."""


@dataclass(frozen=True)
class Runtime:
    config: AgentConfig
    socket_path: str
    workspace_dir: Path  # where the workspace is on disk (config.workspace inside the sandbox)


def load_runtime(environ: dict[str, str] | None = None) -> Runtime:
    env = dict(os.environ) if environ is None else environ
    base = Path(env.get(DIR_ENV) or SOCKET_DIR_IN_CONTAINER)
    path = base / AGENT_CONFIG_NAME
    try:
        config = AgentConfig.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise AgentConfigError(f"{path}: {exc.strerror or exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "config"
        raise AgentConfigError(f"{path}: {loc}: {err['msg']}") from None
    workspace = Path(env.get(WORKSPACE_ENV) or config.workspace)
    if not workspace.is_dir():
        raise AgentConfigError(f"workspace {workspace} is not a directory")
    return Runtime(config=config, socket_path=str(base / SOCKET_NAME), workspace_dir=workspace)


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
