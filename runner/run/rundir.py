"""The run directory: where a run's record lives, and ``run.json``."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from runner.errors import ConfigError, ProjectError

RUNNER_STATE = ".sandbox-runner"
RUN_JSON = "run.json"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id() -> str:
    """Sortable and unique: ``20261126-141500-3f9a2c``."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def default_run_dir(project: Path, run_id: str) -> Path:
    return project / RUNNER_STATE / "runs" / run_id


def check_run_dir_place(project: Path, out: Path | None) -> None:
    """Refuse a run directory the sandbox could see (InputError, exit 2; nothing written).

    The run directory holds what the agent must not read or change (the decision log, the
    transcript, the reports). Inside the project only ``.sandbox-runner/`` is masked, so an
    ``--out`` inside the project must be under it; and ``.sandbox-runner`` itself must be a
    real directory (a link would take the default run directories, unmasked, elsewhere).
    """
    project = project.resolve()
    state = project / RUNNER_STATE
    if state.is_symlink() or (state.exists() and not state.is_dir()):
        raise ProjectError(f"{RUNNER_STATE} is not a directory (a link or a file): remove it",
                           path=project)
    if out is None:
        return
    where = out.expanduser().resolve()
    if where.is_relative_to(project) and not where.is_relative_to(state):
        raise ConfigError(
            f"--out {where} is inside the project, where the sandbox can read it: use a "
            f"directory outside the project or under {state}/")


def create_run_dir(path: Path) -> Path:
    """Create the run directory; an existing non-empty one is refused (nothing is overwritten)."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ProjectError("run directory already exists and is not empty", path=path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProjectError(f"cannot create run directory: {exc.strerror}", path=path) from None
    return path


class RunRecord(BaseModel):
    """``run.json``: what ran, with what, and how the sandbox checked out."""

    id: str
    started_at: str
    finished_at: str | None = None
    project: str
    agent: dict[str, Any] = Field(default_factory=dict)  # name, source, sha256, tools
    model: str = ""
    runtime: str = "builtin"  # builtin | claude-code
    isolation: str = "runc"  # runc | gvisor: the kernel wall of the sandbox containers
    isolation_requested: str = "runc"  # runc | gvisor | auto (--isolation)
    claude_code: dict[str, Any] | None = None  # the claude-code runtime: result, turns, version
    task: str = ""
    image: str | None = None
    image_id: str | None = None
    policy_bundle_hash: str | None = None
    policy_dirs: list[str] = Field(default_factory=list)
    writable: list[str] = Field(default_factory=list)
    masked: list[str] = Field(default_factory=list)
    sandbox_user: str | None = None
    container_id: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    egress: dict[str, Any] | None = None  # the agent phase's proxy: allowlist, relay port
    environment: dict[str, Any] | None = None  # the environment image and how it came to be
    self_check: list[dict[str, Any]] = Field(default_factory=list)
    self_check_ok: bool | None = None
    agent_exit_code: int | None = None
    verification: dict[str, Any] | None = None
    failure: str | None = None

    def write(self, run_dir: Path) -> None:
        tmp = run_dir / (RUN_JSON + ".tmp")
        tmp.write_text(json.dumps(self.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
        tmp.replace(run_dir / RUN_JSON)
