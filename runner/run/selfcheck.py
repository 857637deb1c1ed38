"""The sandbox self-check as a step of the run: run it, record it in run.json, show it.

The checks themselves (what the container must and must not allow) are
:mod:`runner.sandbox.selfcheck`; a failed check raises SelfCheckFailed (exit 3) once the
result is recorded.
"""

from __future__ import annotations

from pathlib import Path

from docker.utils import parse_bytes

from runner.run.display import RunDisplay
from runner.run.rundir import RunRecord
from runner.sandbox.deployment import DockerDeployment
from runner.sandbox.isolation import gvisor_host_pids
from runner.sandbox.selfcheck import ClaudeCodeCheck, host_pids_check, run_self_check
from runner.sandbox.spec import WORKSPACE


def check_sandbox(deployment: DockerDeployment, *, record: RunRecord, run_dir: Path,
                  display: RunDisplay, writable: list[str], pids_limit: int,
                  secret_paths: list[str], proxy_port: int | None,
                  claude_code: ClaudeCodeCheck | None = None, isolation: str = "runc",
                  memory: str | None = None) -> None:
    """Check the started sandbox; the checks go to ``record`` (written to ``run_dir``).
    Under gVisor (``isolation``) the sandbox's memory limit (``memory``, docker's notation)
    is checked from inside and its host tasks' pids limit from the host."""
    sanitized = [b.target.removeprefix(f"{WORKSPACE}/") for b in deployment.spec.binds
                 if b.purpose == "sanitized"]
    result = run_self_check(
        deployment.runtime, writable=writable, pids_limit=pids_limit,
        secret_paths=secret_paths, sanitized=sanitized, proxy_port=proxy_port,
        claude_code=claude_code, isolation=isolation,
        memory_bytes=parse_bytes(memory) if isolation == "gvisor" and memory else None)
    if isolation == "gvisor":  # the sandbox's host tasks: ask the host
        state = deployment.inspect().get("State", {})
        result.checks.append(host_pids_check(state.get("Pid"), gvisor_host_pids(pids_limit)))
    record.self_check = [c.model_dump() for c in result.checks]
    record.self_check_ok = result.ok
    record.write(run_dir)
    if result.ok:
        display.step(f"self-check passed ({len(result.checks)} checks)")
    result.raise_for_failure()


__all__ = ["check_sandbox"]
