"""The runner-owned verification: the project's tests in a fresh, locked-down container.

After the agent stops, the runner runs the tests itself, in a new container
from the same image, so no report the agent wrote is ever trusted:

- the project (``backend/`` included) is mounted read-only at ``/workspace``;
  the runner state and the secret files are masked as in the run;
- the only writable places are ``/out`` (the run's ``reports/`` folder) and
  the size-limited tmpfs ``/tmp`` and home; caches and coverage data go there;
- no network, no capabilities, no-new-privileges, read-only root, non-root
  uid, pids/memory/CPU limits: the hardening of :mod:`runner.sandbox.spec`;
- a timeout kills it; it is always removed.

Only ``out_dir/junit.xml`` and ``out_dir/coverage.xml`` are read afterwards,
and only when they are regular files (not symlinks the tests could plant).
The tests themselves are the agent's code, so the numbers are only as honest
as that code; what this guarantees is that the agent's *files* are not
believed and that running its tests cannot touch the host or the network.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from docker.errors import DockerException, ImageNotFound, NotFound
from pydantic import BaseModel, Field
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import ReadTimeout, RequestException

from runner.config import Limits
from runner.sandbox.spec import HOME, VENV_BIN, BindMount, build_container_spec

OUT = "/out"
JUNIT_NAME = "junit.xml"
COVERAGE_NAME = "coverage.xml"
ROLE_LABEL = "sandbox-runner.role"
STDOUT_TAIL_LINES = 200
STDOUT_TAIL_CHARS = 16_000
DEFAULT_COMMAND = [
    "python", "-m", "pytest", "backend", "-q", "-p", "no:cacheprovider",
    f"--junitxml={OUT}/{JUNIT_NAME}", "--cov=backend", "--cov-branch",
    f"--cov-report=xml:{OUT}/{COVERAGE_NAME}",
]


class VerificationResult(BaseModel):
    command: list[str] = Field(default_factory=list)
    exit_code: int | None = None  # None: it never finished (timeout, error)
    timed_out: bool = False
    oom_killed: bool = False
    junit_path: Path | None = None  # set only when a regular file was written to out_dir
    coverage_path: Path | None = None
    stdout_tail: str = ""
    duration_s: float = 0.0
    error: str | None = None  # the container could not be run at all


def verification_command(test_command: str | None) -> list[str]:
    return ["bash", "-c", test_command] if test_command else list(DEFAULT_COMMAND)


def _regular(path: Path) -> Path | None:
    try:
        return path if stat.S_ISREG(path.lstat().st_mode) else None
    except OSError:
        return None


def _clear_outputs(out_dir: Path) -> None:
    for name in (JUNIT_NAME, COVERAGE_NAME):
        with contextlib.suppress(FileNotFoundError):
            target = out_dir / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()


@contextlib.contextmanager
def _lend_out_dir(out_dir: Path, uid: int, gid: int) -> Any:
    """Make out_dir writable for uid:gid during the block, then give everything back."""
    st = out_dir.stat()
    euid = os.geteuid()
    changed_owner = euid == 0 and (st.st_uid, st.st_gid) != (uid, gid)
    changed_mode = euid != 0 and euid != uid
    if changed_owner:
        os.chown(out_dir, uid, gid)
    elif changed_mode:
        out_dir.chmod(0o1777)
    try:
        yield
    finally:
        if changed_owner:
            for dirpath, dirnames, filenames in os.walk(out_dir, followlinks=False):
                for name in (*dirnames, *filenames):
                    with contextlib.suppress(OSError):
                        os.lchown(os.path.join(dirpath, name), st.st_uid, st.st_gid)
            os.chown(out_dir, st.st_uid, st.st_gid)
        elif changed_mode:
            out_dir.chmod(stat.S_IMODE(st.st_mode))


def _tail(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    return text[-STDOUT_TAIL_CHARS:]


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
) -> VerificationResult:
    """Run the tests in a fresh container; never raises for container-level problems."""
    command = verification_command(test_command)
    result = VerificationResult(command=command)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_outputs(out_dir)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sr-verify-") as scratch:
        try:
            spec = build_container_spec(
                project=project, image=image, run_id=run_id, socket_dir=Path(scratch),
                writable=[], secret_paths=list(secret_paths), limits=limits, uid=uid, gid=gid,
                command=command, extra_labels={ROLE_LABEL: "verify", **(extra_labels or {})},
            )
        except Exception as exc:  # ProjectError and friends: report, do not crash the summary
            result.error = f"cannot prepare the verification container: {exc}"
            return result
        binds = [b for b in spec.binds if b.purpose != "socket"]
        binds.append(BindMount(source=str(out_dir.resolve()), target=OUT, read_only=False,
                               purpose="writable"))
        environment = {
            "HOME": HOME,
            "PATH": spec.environment.get("PATH", f"{VENV_BIN}:/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TMPDIR": "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "COVERAGE_FILE": "/tmp/.coverage",
            "JUNIT_XML": f"{OUT}/{JUNIT_NAME}",
            "COVERAGE_XML": f"{OUT}/{COVERAGE_NAME}",
            "SANDBOX_RUNNER_RUN_ID": run_id,
        }
        spec = spec.model_copy(update={
            "name": f"{spec.name}-verify"[:128], "binds": binds, "environment": environment,
        })
        with _lend_out_dir(out_dir, uid, gid):
            _run(client, spec.to_run_kwargs(), timeout, result)
    result.duration_s = round(time.monotonic() - started, 3)
    result.junit_path = _regular(out_dir / JUNIT_NAME)
    result.coverage_path = _regular(out_dir / COVERAGE_NAME)
    return result


def _run(client: Any, kwargs: dict[str, Any], timeout: float, result: VerificationResult) -> None:
    container = None
    try:
        container = client.containers.create(**kwargs)
        container.start()
        try:
            status = container.wait(timeout=timeout)
            result.exit_code = int(status.get("StatusCode", -1))
        except (ReadTimeout, RequestsConnectionError):
            result.timed_out = True
            with contextlib.suppress(DockerException, RequestException):
                container.kill()
        with contextlib.suppress(DockerException, RequestException):
            container.reload()
            result.oom_killed = bool(container.attrs.get("State", {}).get("OOMKilled"))
        with contextlib.suppress(DockerException, RequestException):
            result.stdout_tail = _tail(
                container.logs(stdout=True, stderr=True, tail=STDOUT_TAIL_LINES)
            )
    except ImageNotFound:
        result.error = f"verification image not found: {kwargs.get('image')}"
    except (DockerException, RequestException) as exc:
        result.error = f"verification container failed: {' '.join(str(exc).split())[:300]}"
    finally:
        if container is not None:
            with contextlib.suppress(NotFound, DockerException, RequestException):
                container.remove(force=True)
