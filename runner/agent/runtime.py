"""The agent's whole config, validated by its model (hardening: :mod:`runner.agent.harden`;
the first request's fields, read before pydantic is loaded: :mod:`runner.agent.start`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from runner.agent.start import AgentConfigError, StartConfig
from runner.protocol import AgentConfig
from runner.wire import WORKSPACE_ENV


@dataclass(frozen=True)
class Runtime:
    config: AgentConfig
    socket_path: str
    workspace_dir: Path  # where the workspace is on disk (config.workspace inside the sandbox)


def load_runtime(start: StartConfig, environ: dict[str, str] | None = None) -> Runtime:
    """The whole config: agent.json as the start read it, validated by its model."""
    env = dict(os.environ) if environ is None else environ
    try:
        config = AgentConfig.model_validate_json(start.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "config"
        raise AgentConfigError(f"{start.path}: {loc}: {err['msg']}") from None
    workspace = Path(env.get(WORKSPACE_ENV) or config.workspace)
    if not workspace.is_dir():
        raise AgentConfigError(f"workspace {workspace} is not a directory")
    return Runtime(config=config, socket_path=start.socket_path, workspace_dir=workspace)


__all__ = ["AgentConfigError", "Runtime", "load_runtime"]
