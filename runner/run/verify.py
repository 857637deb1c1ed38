"""The verification phase: the project's tests, run by the runner in a fresh, locked-down container.

After the agent stops, the runner runs the tests itself, in a new container from the same
image, so no report the agent wrote is ever trusted. The container is a
:class:`~runner.sandbox.deployment.DockerDeployment` of
:func:`~runner.sandbox.spec.build_verification_spec`:

- the project (``backend/`` included) is mounted read-only at ``/workspace``; the runner state
  and the secret files are masked as in the run;
- the only writable host path is ``/out``: a fresh temporary directory made for this
  verification (:mod:`runner.run.verify_outputs`, never the run directory); caches and
  coverage data go to the size-limited tmpfs ``/tmp`` and home;
- Python never reads bytecode from the tree: ``PYTHONDONTWRITEBYTECODE`` and a
  ``PYTHONPYCACHEPREFIX`` on the tmpfs, so a ``__pycache__`` the agent planted (an
  unchecked-hash ``.pyc`` runs instead of its reviewed source) is ignored;
- the runner's pytest plugin (:mod:`runner.agent.pytest_outcomes`) is loaded before any
  conftest and gets a nonce on the test command's stdin; its MAC'd record of the outcomes is
  read back and compared with JUnit and the exit code later (:mod:`runner.reports.outcomes`);
- no network, no capabilities, no-new-privileges, read-only root, non-root uid,
  pids/memory/CPU limits: the hardening of :mod:`runner.sandbox.spec`;
- the test command is the container's main process (under docker-init): when it ends, every
  process it left ends with the container; a timeout ends it; the container is always
  removed (also on an error or an interrupt), and only then is anything read from ``/out``.

The tests are the agent's code, so the numbers are only as honest as that code; what this
guarantees is that the agent's *files* are not believed, that nothing it leaves reaches the
run directory but two parsed-later regular files, and that running its tests cannot touch the
host or the network.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from docker.errors import DockerException, ImageNotFound
from requests.exceptions import RequestException

from runner.agent.pytest_outcomes import NONCE_BYTES, OUTCOMES_DIR_ENV, PLUGIN_ARG
from runner.config import Limits
from runner.errors import Interrupted, RunFailed
from runner.reports.verification import (
    COVERAGE_NAME,
    DEFAULT_COMMAND,
    JUNIT_NAME,
    VerificationResult,
)
from runner.run.verify_outputs import clear_outputs, copy_reports, scratch_out
from runner.sandbox.deployment import DockerDeployment
from runner.sandbox.spec import AGENT_PYTHONPATH, VERIFY_OUT, build_verification_spec

STDOUT_TAIL_LINES = 200
STDOUT_TAIL_CHARS = 16_000


def verification_command(test_command: str | None) -> list[str]:
    return ["bash", "-c", test_command] if test_command else list(DEFAULT_COMMAND)


def _environment() -> dict[str, str]:
    """The test command's variables (the spec adds the base environment and bytecode rules)."""
    return {
        "PYTHONPATH": AGENT_PYTHONPATH,  # the runner's pytest plugin
        "PYTEST_ADDOPTS": PLUGIN_ARG,
        OUTCOMES_DIR_ENV: VERIFY_OUT,
        "COVERAGE_FILE": "/tmp/.coverage",
        "JUNIT_XML": f"{VERIFY_OUT}/{JUNIT_NAME}",
        "COVERAGE_XML": f"{VERIFY_OUT}/{COVERAGE_NAME}",
    }


def run_verification(
    *,
    client: Any,
    image: str,
    project: Path,
    out_dir: Path,
    limits: Limits,
    uid: int,
    gid: int,
    test_command: str | None,
    timeout: float,
    run_id: str,
    secret_paths: Sequence[str] = (),
    extra_labels: Mapping[str, str] | None = None,
    runtime: str | None = None,
) -> VerificationResult:
    """Run the tests in a fresh container; never raises for container-level problems."""
    command = verification_command(test_command)
    result = VerificationResult(command=command)
    out_dir.mkdir(parents=True, exist_ok=True)
    clear_outputs(out_dir)
    started = time.monotonic()
    key = secrets.token_bytes(NONCE_BYTES)
    with tempfile.TemporaryDirectory(prefix="sr-verify-") as scratch, \
            scratch_out(uid, gid) as writable_out:
        try:
            spec = build_verification_spec(
                project=project, image=image, run_id=run_id, scratch_dir=Path(scratch),
                out_dir=writable_out, secret_paths=list(secret_paths), limits=limits, uid=uid,
                gid=gid, command=command, environment=_environment(),
                extra_labels=dict(extra_labels or {}), runtime=runtime,
            )
        except Exception as exc:  # ProjectError and friends: report, do not crash the summary
            result.error = f"cannot prepare the verification container: {exc}"
            return result
        deployment = DockerDeployment(spec, client)
        if _run(deployment, timeout, result, stdin=key.hex().encode("ascii") + b"\n"):
            copy_reports(writable_out, out_dir, key, result)
    result.duration_s = round(time.monotonic() - started, 3)
    return result


def _run(deployment: DockerDeployment, timeout: float, result: VerificationResult,
         *, stdin: bytes) -> bool:
    """Start, wait (a timeout ends it), read the output's tail, remove. True when the
    container is gone, so nothing writes ``/out`` any more (otherwise ``result.error``).
    An interrupt is never taken for a container problem: it goes up, after the removal."""
    try:
        deployment.start(stdin=stdin)
        ended = deployment.wait(timeout)
        result.exit_code = ended.exit_code
        result.timed_out = ended.exit_code is None
        result.oom_killed = ended.oom_killed
        result.runtime = ended.runtime
        result.stdout_tail = _output_tail(deployment)
    except Interrupted:
        raise
    except RunFailed as exc:
        result.error = _failure(deployment, exc)
    finally:
        removed = _remove(deployment, result)
    return removed


def _output_tail(deployment: DockerDeployment) -> str:
    try:
        raw = deployment.logs(STDOUT_TAIL_LINES)
    except Interrupted:
        raise
    except RunFailed:
        return ""  # no output tail; the result stands
    return raw.decode("utf-8", errors="replace")[-STDOUT_TAIL_CHARS:]


def _failure(deployment: DockerDeployment, exc: RunFailed) -> str:
    """What went wrong, saying so plainly when the image is missing."""
    if deployment.container_id is None:
        try:
            deployment.client.images.get(deployment.spec.image)
        except ImageNotFound:
            return f"verification image not found: {deployment.spec.image}"
        except (DockerException, RequestException):
            pass
    return f"verification container failed: {exc}"


def _remove(deployment: DockerDeployment, result: VerificationResult) -> bool:
    try:
        deployment.stop()
    except Interrupted:
        raise
    except RunFailed as exc:
        result.error = result.error or f"verification container failed: {exc}"
        return False
    return True
