"""The sandbox self-check as a step of the run: run it, record it in run.json, show it.

The checks themselves (what the container must and must not allow) are
:mod:`runner.sandbox.selfcheck`; a failed check raises SelfCheckFailed (exit 3) once the
result is recorded.
"""

from __future__ import annotations

from pathlib import Path

from runner.run.display import RunDisplay
from runner.run.rundir import RunRecord
from runner.sandbox.deployment import DockerDeployment
from runner.sandbox.selfcheck import ClaudeCodeCheck, run_self_check
from runner.sandbox.spec import WORKSPACE


def check_sandbox(deployment: DockerDeployment, *, record: RunRecord, run_dir: Path,
                  display: RunDisplay, writable: list[str], pids_limit: int,
                  secret_paths: list[str], proxy_port: int | None,
                  claude_code: ClaudeCodeCheck | None = None) -> None:
    """Check the started sandbox; the checks go to ``record`` (written to ``run_dir``)."""
    sanitized = [b.target.removeprefix(f"{WORKSPACE}/") for b in deployment.spec.binds
                 if b.purpose == "sanitized"]
    result = run_self_check(
        deployment.runtime, writable=writable, pids_limit=pids_limit,
        secret_paths=secret_paths, sanitized=sanitized, proxy_port=proxy_port,
        claude_code=claude_code)
    record.self_check = [c.model_dump() for c in result.checks]
    record.self_check_ok = result.ok
    record.write(run_dir)
    if result.ok:
        display.step(f"self-check passed ({len(result.checks)} checks)")
    result.raise_for_failure()


__all__ = ["check_sandbox"]
