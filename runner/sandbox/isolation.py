"""Kernel isolation of the sandbox containers: runc (the host kernel) or gVisor (``runsc``).

With ``runc`` every sandbox container shares the host kernel. With ``gvisor`` the engine
starts the agent and verification containers with the ``runsc`` runtime: a user-space kernel
that answers the container's syscalls itself, a second wall behind seccomp, capabilities and
the policies (docs/isolation.md).

The engine has to know the runtime: ``/etc/docker/daemon.json`` names it, with two runtime
arguments this project needs: ``--network=none`` (a ``--network none`` container does not
start under runsc without it) and ``--host-uds=open`` (the sandbox connects to the gateway's
unix socket on the host; without it that connect fails with EPERM) and ``--directfs=false``
(with directfs, runsc 20240729's sentry opens host files itself, and an ``open(O_TRUNC)`` of a
file on a read-only bind mount empties the host file before it fails with EROFS; through the
gofer the read-only mount holds). Docker reloads the
runtimes on SIGHUP, without a restart. ``engine setup --gvisor`` writes the entry for an
engine the user owns (``setup_gvisor``); everywhere else the message says what to add.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from runner.errors import EnvironmentProblem

Isolation = Literal["runc", "gvisor", "auto"]  # what a run asks for (`--isolation`)
Resolved = Literal["runc", "gvisor"]  # what it gets
ISOLATIONS: tuple[str, ...] = ("runc", "gvisor", "auto")
GVISOR_RUNTIME = "runsc"  # the runtime name daemon.json gets
RUNTIME_ARGS: tuple[str, ...] = ("--network=none", "--host-uds=open", "--directfs=false")
DAEMON_JSON = Path("/etc/docker/daemon.json")
DEFAULT_RUNSC = "/usr/bin/runsc"
GVISOR_KERNEL = "4.4.0"  # the kernel release gVisor reports (uname -r)

# The pids limit under gVisor. The container's host pids cgroup counts the sandbox's own host
# tasks - the sentry's threads, the gofer, and with the systrap platform one stub process (two
# tasks) per address space inside - not the agent's processes; and a host clone the sentry
# cannot make ends the whole sandbox (runsc panics: "error initializing first thread: resource
# temporarily unavailable", the agent's exec sees `containerManager.WaitPID failed: EOF`).
# So under gVisor the agent's limit is RLIMIT_NPROC, which gVisor's kernel enforces per user
# of the sandbox (a fork over it fails with EAGAIN inside, the sandbox lives), and the host
# cgroup gets headroom: measured with runsc 20240729 (systrap), 26 host tasks idle and about
# two per process inside (532 for 250 processes; threads cost none).
GVISOR_HOST_PIDS_PER_TASK = 4
GVISOR_HOST_PIDS_BASE = 128


def gvisor_host_pids(pids: int) -> int:
    """The host pids cgroup limit of a gVisor sandbox whose processes are limited to ``pids``."""
    return GVISOR_HOST_PIDS_PER_TASK * pids + GVISOR_HOST_PIDS_BASE


class GVisorUnavailable(EnvironmentProblem):
    """``--isolation gvisor`` on an engine without a runsc runtime (exit 4, nothing started)."""

    def __init__(self, detail: str, runsc: str | None = None) -> None:
        self.detail = detail
        super().__init__(f"--isolation gvisor: {detail}; add to {DAEMON_JSON}: "
                         f"{daemon_json_snippet(runsc)}, then reload the engine "
                         "(kill -HUP $(pidof dockerd)) or run `sandbox-runner engine setup "
                         "--gvisor`")


class EngineSetupRefused(EnvironmentProblem):
    """``engine setup`` on an engine this user does not own (exit 4, nothing changed)."""


def runtime_entry(runsc: str | None = None) -> dict[str, Any]:
    """The ``runtimes`` entry of daemon.json for gVisor."""
    return {"path": runsc or shutil.which("runsc") or DEFAULT_RUNSC,
            "runtimeArgs": list(RUNTIME_ARGS)}


def daemon_json_snippet(runsc: str | None = None) -> str:
    """The exact lines to add to daemon.json (one line: it goes into error messages)."""
    return json.dumps({"runtimes": {GVISOR_RUNTIME: runtime_entry(runsc)}})


def _missing_args(entry: dict[str, Any]) -> list[str]:
    given = [str(a) for a in entry.get("runtimeArgs") or []]
    return [a for a in RUNTIME_ARGS if a not in given]


def gvisor_runtime(runtimes: dict[str, Any]) -> str | None:
    """The name of an engine runtime that is gVisor (named runsc or its path is runsc)."""
    for name, entry in sorted(runtimes.items()):
        path = str((entry or {}).get("path", "")) if isinstance(entry, dict) else ""
        if name == GVISOR_RUNTIME or os.path.basename(path) == "runsc":
            return name
    return None


def engine_runtimes(client: Any) -> dict[str, Any]:
    """``docker info``'s runtimes (an empty dict when the engine does not say)."""
    try:
        runtimes = client.info().get("Runtimes") or {}
    except Exception:  # an engine that does not answer info: no runtime known
        return {}
    return dict(runtimes) if isinstance(runtimes, dict) else {}


@dataclass(frozen=True)
class IsolationChoice:
    """What a run uses: the isolation and the engine runtime name (None: the default, runc)."""

    isolation: Resolved
    runtime: str | None = None
    notes: list[str] = field(default_factory=list)


def resolve_isolation(client: Any, wanted: Isolation) -> IsolationChoice:
    """runc, or gVisor when asked for (GVisorUnavailable, exit 4, when the engine has none)
    or with ``auto`` when the engine has it. Called before any container starts."""
    if wanted == "runc":
        return IsolationChoice("runc")
    runtimes = engine_runtimes(client)
    name = gvisor_runtime(runtimes)
    if name is None:
        if wanted == "auto":
            return IsolationChoice("runc", notes=["isolation auto: the engine has no gVisor "
                                                  "runtime, using runc"])
        raise GVisorUnavailable("the Docker engine has no runsc runtime "
                                f"(it has: {', '.join(sorted(runtimes)) or 'none listed'})")
    missing = _missing_args(runtimes[name] if isinstance(runtimes[name], dict) else {})
    if missing:
        if wanted == "auto":
            return IsolationChoice("runc", notes=[f"isolation auto: the engine's {name} runtime "
                                                  f"lacks {' '.join(missing)}, using runc"])
        raise GVisorUnavailable(f"the engine's {name} runtime lacks the runtime arguments "
                                f"{' '.join(missing)}")
    return IsolationChoice("gvisor", name)


# --- the runsc binary -----------------------------------------------------------------------

TESTED_RUNSC = "0.0~20240729.0"  # Debian trixie's runsc: what .ci/run installs and tests
MIN_RUNSC_DATE = 20230601  # systrap and the --directfs flag (RUNTIME_ARGS needs it)


def runsc_version(path: str) -> str | None:
    """``runsc --version``'s version (``0.0~20240729.0``, ``release-20240729.0``), or None."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    first = out.splitlines()[0].split() if out.strip() else []
    return first[2] if len(first) >= 3 and first[:2] == ["runsc", "version"] else None


def runsc_date(version: str) -> int | None:
    """The release date in a runsc version (``0.0~20240729.0`` -> 20240729), or None."""
    match = re.search(r"(20\d{6})", version)
    return int(match.group(1)) if match else None


# --- engine setup -------------------------------------------------------------------------


@dataclass
class SetupResult:
    path: str
    changed: bool
    backup: str | None
    runtime: dict[str, Any]
    reloaded: bool
    dockerd_pid: int | None
    actions: list[str] = field(default_factory=list)


def merged_daemon_json(current: dict[str, Any], runsc: str) -> dict[str, Any]:
    """daemon.json with the gVisor runtime entry; every other key (and runtime) kept."""
    out = dict(current)
    runtimes = out.get("runtimes")
    if runtimes is not None and not isinstance(runtimes, dict):
        raise EngineSetupRefused(f"{DAEMON_JSON}: \"runtimes\" is not an object; not changing it")
    out["runtimes"] = {**(runtimes or {}), GVISOR_RUNTIME: runtime_entry(runsc)}
    return out


def local_socket(docker_host: str | None) -> Path | None:
    """The engine's unix socket when DOCKER_HOST names a local one (or is unset)."""
    host = docker_host or "unix:///var/run/docker.sock"
    if not host.startswith("unix://"):
        return None
    return Path(host.removeprefix("unix://"))


def dockerd_pid() -> int | None:
    """The pid of the one local dockerd (None when there is none, or more than one)."""
    try:
        out = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True, timeout=10,
                             check=False).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return int(out[0]) if len(out) == 1 and out[0].isdigit() else None


def _can_signal(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:
        return False
    except ProcessLookupError:
        return False
    return True


def setup_gvisor(*, daemon_json: Path = DAEMON_JSON, runsc: str | None = None,
                 docker_host: str | None = None, pid: int | None = None,
                 reload: bool = True) -> SetupResult:
    """Write the gVisor runtime into daemon.json (merged, the old file kept as a backup) and
    SIGHUP dockerd. Refused (EngineSetupRefused, exit 4) unless the engine is local (a unix
    socket), its dockerd is found and this user may signal it, and runsc is installed."""
    runsc = runsc or shutil.which("runsc")
    if runsc is None:
        raise EngineSetupRefused("runsc is not installed (Debian trixie's, docs/isolation.md); "
                                 "nothing changed")
    sock = local_socket(docker_host if docker_host is not None else os.environ.get("DOCKER_HOST"))
    if sock is None:
        raise EngineSetupRefused("the engine is not local (DOCKER_HOST is not a unix socket); "
                                 f"add {daemon_json_snippet(runsc)} to its daemon.json yourself")
    if pid is None:
        pid = dockerd_pid()
    if pid is None or not _can_signal(pid):
        raise EngineSetupRefused(f"no dockerd this user owns was found (socket {sock}); add "
                                 f"{daemon_json_snippet(runsc)} to {daemon_json} yourself")
    current: dict[str, Any] = {}
    text: str | None = None
    if daemon_json.exists():
        try:
            text = daemon_json.read_text(encoding="utf-8")
            loaded = json.loads(text) if text.strip() else {}
        except (OSError, ValueError) as exc:
            raise EngineSetupRefused(f"{daemon_json}: cannot read it as JSON ({exc}); "
                                     "nothing changed") from None
        if not isinstance(loaded, dict):
            raise EngineSetupRefused(f"{daemon_json}: not a JSON object; nothing changed")
        current = loaded
    merged = merged_daemon_json(current, runsc)
    result = SetupResult(path=str(daemon_json), changed=merged != current, backup=None,
                         runtime=runtime_entry(runsc), reloaded=False, dockerd_pid=pid)
    if result.changed:
        try:
            daemon_json.parent.mkdir(parents=True, exist_ok=True)
            if text is not None:
                stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
                backup = daemon_json.with_name(f"{daemon_json.name}.bak-{stamp}")
                backup.write_text(text, encoding="utf-8")
                result.backup = str(backup)
                result.actions.append(f"backed up {daemon_json} to {backup}")
            tmp = daemon_json.with_name(daemon_json.name + ".tmp")
            tmp.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
            tmp.chmod(0o644)
            tmp.replace(daemon_json)
        except OSError as exc:
            raise EngineSetupRefused(f"cannot write {daemon_json}: {exc.strerror}") from None
        result.actions.append(f"set runtimes.{GVISOR_RUNTIME} in {daemon_json} to "
                              f"{json.dumps(result.runtime)}")
    else:
        result.actions.append(f"{daemon_json} already has runtimes.{GVISOR_RUNTIME} as wanted")
    if reload and result.changed:
        os.kill(pid, signal.SIGHUP)
        result.reloaded = True
        result.actions.append(f"sent SIGHUP to dockerd (pid {pid}) to reload its runtimes")
    return result
