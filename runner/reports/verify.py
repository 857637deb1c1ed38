"""The runner-owned verification: the project's tests in a fresh, locked-down container.

After the agent stops, the runner runs the tests itself, in a new container
from the same image, so no report the agent wrote is ever trusted:

- the project (``backend/`` included) is mounted read-only at ``/workspace``;
  the runner state and the secret files are masked as in the run;
- the only writable host path is ``/out``: a fresh temporary directory made for
  this verification (never the run directory); caches and coverage data go to
  the size-limited tmpfs ``/tmp`` and home;
- Python never reads bytecode from the tree: ``PYTHONDONTWRITEBYTECODE`` and a
  ``PYTHONPYCACHEPREFIX`` on the tmpfs, so a ``__pycache__`` the agent planted
  (an unchecked-hash ``.pyc`` runs instead of its reviewed source) is ignored;
- the runner's pytest plugin (:mod:`runner.agent.pytest_outcomes`) is loaded
  before any conftest and gets a nonce on stdin; its MAC'd record of the
  outcomes is read back and compared with JUnit and the exit code later
  (:mod:`runner.reports.outcomes`);
- no network, no capabilities, no-new-privileges, read-only root, non-root
  uid, pids/memory/CPU limits: the hardening of :mod:`runner.sandbox.spec`;
- a timeout kills it; it is always removed.

Afterwards only a regular ``junit.xml`` and ``coverage.xml`` are copied from
``/out`` into the run's ``reports/`` folder, through :class:`WorkspaceFS`
(no link followed, size-capped, created exclusively); the host's copy of
``coverage.xml`` is then rewritten (parsed by :mod:`.xmlsafe`) to
project-relative file names under one ``<source>.</source>``; whatever else the tests
left there (links to ``/proc/self/environ``, FIFOs, other files) is named in
``ignored_outputs`` and deleted with the temporary directory. The tests are
the agent's code, so the numbers are only as honest as that code; what this
guarantees is that the agent's *files* are not believed, that nothing it
leaves reaches the run directory but two parsed-later regular files, and that
running its tests cannot touch the host or the network.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from docker.errors import DockerException, ImageNotFound, NotFound
from pydantic import BaseModel, Field
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import ReadTimeout, RequestException

from runner.agent.pytest_outcomes import NONCE_BYTES, OUTCOMES_DIR_ENV, PLUGIN_ARG, record_name
from runner.config import Limits
from runner.hostfs import HostReadRefused, WorkspaceFS
from runner.reports.coverage import rewrite_sources
from runner.reports.outcomes import RunnerOutcomes, read_record
from runner.reports.xmlsafe import MAX_XML_BYTES
from runner.sandbox.spec import (
    AGENT_PYTHONPATH,
    HOME,
    PROJECT_PYTHON,
    PROJECT_VENV_BIN,
    WORKSPACE,
    BindMount,
    build_container_spec,
)
from runner.sanitize import one_line

OUT = "/out"
JUNIT_NAME = "junit.xml"
COVERAGE_NAME = "coverage.xml"
REPORT_NAMES = (JUNIT_NAME, COVERAGE_NAME)
PYCACHE_PREFIX = "/tmp/.pycache"  # on the tmpfs: bytecode in the tree is never read
ROLE_LABEL = "sandbox-runner.role"
STDOUT_TAIL_LINES = 200
STDOUT_TAIL_CHARS = 16_000
MAX_IGNORED = 50
DEFAULT_COMMAND = [
    PROJECT_PYTHON, "-m", "pytest", "backend", "-q", "-p", "no:cacheprovider",
    f"--junitxml={OUT}/{JUNIT_NAME}", "--cov=backend", "--cov-branch",
    f"--cov-report=xml:{OUT}/{COVERAGE_NAME}",
]


class VerificationResult(BaseModel):
    command: list[str] = Field(default_factory=list)
    exit_code: int | None = None  # None: it never finished (timeout, error)
    timed_out: bool = False
    oom_killed: bool = False
    junit_path: Path | None = None  # set only when a regular file was copied to the run dir
    coverage_path: Path | None = None
    report_errors: dict[str, str] = Field(default_factory=dict)  # report name -> why not copied
    coverage_rewrite: str | None = None  # why coverage.xml kept its container paths (else None)
    ignored_outputs: list[str] = Field(default_factory=list)  # other things left in /out
    outcomes: RunnerOutcomes | None = None  # the runner plugin's record (MAC verified)
    outcomes_error: str | None = None  # why there is no verified record
    stdout_tail: str = ""
    duration_s: float = 0.0
    error: str | None = None  # the container could not be run at all
    runtime: str | None = None  # the engine's runtime of the container (runc, runsc: gVisor)

    @property
    def default_command(self) -> bool:
        return self.command == DEFAULT_COMMAND


def verification_command(test_command: str | None) -> list[str]:
    return ["bash", "-c", test_command] if test_command else list(DEFAULT_COMMAND)


def _clear_outputs(out_dir: Path) -> None:
    for name in REPORT_NAMES:
        with contextlib.suppress(FileNotFoundError):
            target = out_dir / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()


@contextlib.contextmanager
def _scratch_out(uid: int, gid: int) -> Iterator[Path]:
    """A fresh host directory the sandbox uid can write, removed (links and all) afterwards."""
    path = Path(tempfile.mkdtemp(prefix="sr-verify-out-"))
    try:
        euid = os.geteuid()
        if euid == 0:
            os.chown(path, uid, gid)
        elif euid != uid:
            path.chmod(0o777)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)  # never follows links


def copy_reports(src: Path, dest: Path, key: bytes, result: VerificationResult) -> None:
    """Copy the regular reports from the scratch ``src`` to ``dest``; read the runner's
    record; name whatever else is there. Nothing in ``src`` is ever followed."""
    out = WorkspaceFS(src, max_bytes=MAX_XML_BYTES)
    for name in REPORT_NAMES:
        try:
            out.copy_file(name, dest / name)
        except HostReadRefused as exc:
            if "does not exist" not in exc.reason:
                result.report_errors[name] = one_line(exc.reason)
            continue
        except OSError as exc:
            result.report_errors[name] = f"cannot copy: {exc.strerror or exc}"
            continue
        if name == JUNIT_NAME:
            result.junit_path = dest / name
        else:
            result.coverage_path = dest / name
            # project-relative file names, source "." (GitLab places them in MR diffs)
            result.coverage_rewrite = rewrite_sources(dest / name, WORKSPACE)
    result.outcomes, result.outcomes_error = read_record(out, key)
    known = {*REPORT_NAMES, record_name(key)}
    try:
        others = [e for e in out.listdir("") if e.name not in known]
    except HostReadRefused:
        others = []
    result.ignored_outputs = [f"{one_line(e.name, 120)} ({e.kind})" for e in others[:MAX_IGNORED]]
    if len(others) > MAX_IGNORED:
        result.ignored_outputs.append(f"... and {len(others) - MAX_IGNORED} more")


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
    runtime: str | None = None,
) -> VerificationResult:
    """Run the tests in a fresh container; never raises for container-level problems."""
    command = verification_command(test_command)
    result = VerificationResult(command=command)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_outputs(out_dir)
    started = time.monotonic()
    key = secrets.token_bytes(NONCE_BYTES)
    with tempfile.TemporaryDirectory(prefix="sr-verify-") as scratch, \
            _scratch_out(uid, gid) as writable_out:
        try:
            spec = build_container_spec(
                project=project, image=image, run_id=run_id, socket_dir=Path(scratch),
                writable=[], secret_paths=list(secret_paths), limits=limits, uid=uid, gid=gid,
                command=command, extra_labels={ROLE_LABEL: "verify", **(extra_labels or {})},
                runtime=runtime,
            )
        except Exception as exc:  # ProjectError and friends: report, do not crash the summary
            result.error = f"cannot prepare the verification container: {exc}"
            return result
        binds = [b for b in spec.binds if b.purpose != "socket"]
        binds.append(BindMount(source=str(writable_out), target=OUT, read_only=False,
                               purpose="writable"))
        environment = {
            "HOME": HOME,
            "PATH": spec.environment.get("PATH", f"{PROJECT_VENV_BIN}:/usr/bin:/bin"),
            "PYTHONPATH": AGENT_PYTHONPATH,
            "LANG": "C.UTF-8",
            "TMPDIR": "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPYCACHEPREFIX": PYCACHE_PREFIX,
            "PYTHONUNBUFFERED": "1",
            "PYTEST_ADDOPTS": PLUGIN_ARG,
            OUTCOMES_DIR_ENV: OUT,
            "COVERAGE_FILE": "/tmp/.coverage",
            "JUNIT_XML": f"{OUT}/{JUNIT_NAME}",
            "COVERAGE_XML": f"{OUT}/{COVERAGE_NAME}",
            "SANDBOX_RUNNER_RUN_ID": run_id,
        }
        spec = spec.model_copy(update={
            "name": f"{spec.name}-verify"[:128], "binds": binds, "environment": environment,
        })
        kwargs = spec.to_run_kwargs()
        kwargs["stdin_open"] = True  # the nonce goes in on stdin, then stdin is closed
        _run(client, kwargs, timeout, result, stdin=key.hex().encode("ascii") + b"\n")
        copy_reports(writable_out, out_dir, key, result)
    result.duration_s = round(time.monotonic() - started, 3)
    return result


def _feed(sock: Any, data: bytes) -> None:
    """Write ``data`` to the container's attached stdin and close it (EOF for the reader)."""
    raw = getattr(sock, "_sock", sock)
    with contextlib.suppress(OSError):
        raw.sendall(data)
        raw.shutdown(socket.SHUT_WR)


def _run(client: Any, kwargs: dict[str, Any], timeout: float, result: VerificationResult,
         *, stdin: bytes) -> None:
    container = None
    try:
        container = client.containers.create(**kwargs)
        attached = container.attach_socket(params={"stdin": 1, "stream": 1})
        try:
            container.start()
            _feed(attached, stdin)
        finally:
            with contextlib.suppress(OSError):
                attached.close()
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
            engine_runtime = (container.attrs.get("HostConfig") or {}).get("Runtime")
            result.runtime = engine_runtime if isinstance(engine_runtime, str) else None
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
