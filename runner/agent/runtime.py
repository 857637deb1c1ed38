"""Where the agent finds its config, socket and workspace (hardening: :mod:`runner.agent.harden`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from runner.agent.harden import make_non_dumpable, read_token
from runner.protocol import (
    AGENT_CONFIG_NAME,
    SOCKET_DIR_IN_CONTAINER,
    SOCKET_NAME,
    AgentConfig,
)

DIR_ENV = "SANDBOX_RUNNER_DIR"  # overrides /run/sandbox-runner (tests run the agent on the host)
WORKSPACE_ENV = "SANDBOX_RUNNER_WORKSPACE"  # overrides the workspace's location on disk


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


__all__ = ["AgentConfigError", "Runtime", "load_runtime", "make_non_dumpable", "read_token"]
