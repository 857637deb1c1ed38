"""The container spec: mounts and hardening of a sandbox container, as data.

``build_container_spec`` decides everything (and prepares the host side: creates missing
writable entries and the mask file); ``build_verification_spec`` derives the verification's
container from it; ``ContainerSpec.to_run_kwargs`` turns either into docker SDK keyword
arguments for ``client.containers.create``. Nothing here talks to Docker.

Inside the container:
- ``/workspace``: the project, read-only; each writable entry (policy data, e.g. ``backend/``
  and ``issues.md``) bound read-write over it; ``.sandbox-runner/`` and every secret
  directory masked by a read-only empty tmpfs, every secret file by a read-only empty file;
  a ``.git/config`` holding credentials is replaced by a read-only copy without them.
- ``/run/sandbox-runner``: the host socket dir (gateway socket, agent.json), read-only; on the
  host it is 0700 and owned by the sandbox uid, the socket 0600.
- ``/tmp`` and ``/home/agent``: size-limited tmpfs; everything else read-only.
- ``PATH`` starts with the project environment (``/opt/project-venv/bin``); the agent
  runtime (``/opt/sandbox-runner``) is on no PATH: the runner starts the agent with that
  interpreter by its absolute path.
- no network, no capabilities, no-new-privileges, the given non-root uid:gid, pids, memory
  (= memory+swap), CPU and ulimits; docker-init as pid 1; never privileged, never a host
  namespace, never the Docker socket.
"""

from __future__ import annotations

import os
import re
import socket
import stat
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from docker.types import LogConfig, Mount, Ulimit
from docker.utils import parse_bytes
from pydantic import BaseModel, ConfigDict, Field

from runner.config import Limits
from runner.errors import ConfigError, ProjectError
from runner.sandbox.isolation import gvisor_host_pids
from runner.sandbox.masks import GIT_CONFIG, RUNNER_STATE_DIR, sanitized_git_config
from runner.wire import SOCKET_DIR_IN_CONTAINER

WORKSPACE = "/workspace"
HOME = "/home/agent"
PROJECT_VENV = "/opt/project-venv"  # the project environment (environment layer)
PROJECT_VENV_BIN = f"{PROJECT_VENV}/bin"  # first on the tools' PATH: their python/pip/pytest
PROJECT_PYTHON = f"{PROJECT_VENV_BIN}/python"
RUNTIME_PREFIX = "/opt/sandbox-runner"  # the agent runtime (runtime layer), on no PATH
RUNTIME_PYTHON = f"{RUNTIME_PREFIX}/venv/bin/python"  # finds runner.agent through a .pth
AGENT_PYTHONPATH = RUNTIME_PREFIX  # only where project code loads a runner module (verify)
MASK_FILE_NAME = ".mask-empty"
GIT_CONFIG_COPY_NAME = ".git-config-sanitized"
IDLE_COMMAND = ["sleep", "infinity"]

LABEL_RUN = "sandbox-runner.run"
LABEL_OWNER_PID = "sandbox-runner.owner-pid"
LABEL_OWNER_HOST = "sandbox-runner.owner-host"
LABEL_ROLE = "sandbox-runner.role"  # "verify" on the verification container

VERIFY_OUT = "/out"  # the verification's only writable host path (a fresh scratch directory)
PYCACHE_PREFIX = "/tmp/.pycache"  # on the tmpfs: bytecode in the tree is never read
VERIFY_LOG_BYTES = "4m"  # the engine's log of the verification's output (its tail is read)

_PATH = f"{PROJECT_VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MASK_TMPFS = "ro,nosuid,nodev,noexec,size=4k,mode=0555"


def idle_command(max_seconds: float | None = None) -> list[str]:
    """The container's long-lived pid-1 child; with a bound it ends by itself if orphaned."""
    return IDLE_COMMAND if max_seconds is None else ["sleep", str(max(1, int(max_seconds)))]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BindMount(_Model):
    source: str  # absolute host path
    target: str  # absolute container path
    read_only: bool
    purpose: Literal["workspace", "writable", "socket", "secret-mask", "sanitized"]


class TmpfsMount(_Model):
    target: str
    options: str
    purpose: Literal["scratch", "home", "state-mask", "secret-mask", "workspace"]


class ContainerSpec(_Model):
    """Everything Docker needs to start one sandbox container, and nothing from the host env."""

    name: str
    image: str
    command: list[str]
    user: str  # "uid:gid", never 0
    working_dir: str = WORKSPACE
    environment: dict[str, str]
    labels: dict[str, str]
    binds: list[BindMount]
    tmpfs: list[TmpfsMount]
    limits: Limits
    hostname: str = "sandbox"
    runtime: str | None = None  # the engine's OCI runtime: None = its default (runc); else gVisor
    # What the engine keeps of the main process's output (anything in the sandbox can write
    # there: /proc/1/fd/2): nothing ("none": the host reads the agent's output through the
    # attach), or the last VERIFY_LOG_BYTES for the verification's tail ("bounded").
    logs: Literal["none", "bounded"] = "none"
    # Fixed hardening (not configurable on purpose).
    network_mode: Literal["none"] = "none"
    read_only: Literal[True] = True
    cap_drop: list[str] = Field(default_factory=lambda: ["ALL"])
    security_opt: list[str] = Field(default_factory=lambda: ["no-new-privileges:true"])
    init: Literal[True] = True
    privileged: Literal[False] = False
    ipc_mode: Literal["private"] = "private"

    @property
    def uid(self) -> int:
        return int(self.user.split(":", 1)[0])

    @property
    def gid(self) -> int:
        return int(self.user.split(":", 1)[1])

    def to_run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``client.containers.create`` (docker SDK)."""
        lim = self.limits
        fsize = lim.fsize_mb * 1024 * 1024
        # gVisor: the agent's processes are limited by RLIMIT_NPROC in the sandbox's kernel,
        # the host cgroup bounds the sandbox's own host tasks (runner/sandbox/isolation.py)
        gvisor = self.runtime is not None
        nproc = [Ulimit(name="nproc", soft=lim.pids, hard=lim.pids)] if gvisor else []
        return {
            "image": self.image,
            "command": list(self.command),
            "name": self.name,
            "hostname": self.hostname,
            "user": self.user,
            "working_dir": self.working_dir,
            "environment": dict(self.environment),
            "labels": dict(self.labels),
            "mounts": [
                Mount(
                    target=b.target, source=b.source, type="bind", read_only=b.read_only,
                    propagation="rprivate",
                )
                for b in self.binds
            ],
            "tmpfs": {t.target: t.options for t in self.tmpfs},
            "network_mode": self.network_mode,
            "read_only": self.read_only,
            "cap_drop": list(self.cap_drop),
            "security_opt": list(self.security_opt),
            "init": self.init,
            "privileged": self.privileged,
            "ipc_mode": self.ipc_mode,
            "pids_limit": gvisor_host_pids(lim.pids) if gvisor else lim.pids,
            "mem_limit": lim.memory,
            "memswap_limit": lim.memory,
            "nano_cpus": int(lim.cpus * 1_000_000_000),
            "ulimits": [
                Ulimit(name="nofile", soft=lim.nofile, hard=lim.nofile),
                Ulimit(name="core", soft=0, hard=0),
                Ulimit(name="fsize", soft=fsize, hard=fsize),
                *nproc,
            ],
            "stdin_open": False,
            "tty": False,
            "log_config": (LogConfig(type="none") if self.logs == "none" else LogConfig(
                type="json-file", config={"max-size": VERIFY_LOG_BYTES, "max-file": "1"})),
            **({"runtime": self.runtime} if self.runtime is not None else {}),
        }


def _entry(raw: str, what: str) -> tuple[str, bool]:
    """A workspace-relative entry -> (clean POSIX path, is_dir); InputError when unsafe."""
    is_dir = raw.endswith("/")
    parts = [p for p in raw.rstrip("/").split("/") if p]
    if raw.startswith("/") or not parts or any(p in {".", ".."} for p in parts) or "\0" in raw:
        raise ProjectError(f"{what} entry must be a relative path inside the project: {raw!r}")
    return PurePosixPath(*parts).as_posix(), is_dir


def _check_inside(project: Path, rel: str, what: str) -> Path:
    """The host path of rel; refuse symlinks anywhere on the way (they could lead out)."""
    current = project
    for part in PurePosixPath(rel).parts:
        current = current / part
        if current.is_symlink():
            raise ProjectError(
                f"{what} {rel} goes through a symlink ({current}); refusing to mount it",
                path=project,
            )
    return current


def prepare_writable(project: Path, writable: list[str]) -> list[tuple[str, Path]]:
    """Create missing writable entries (dirs end with '/'); (relative path, host path)."""
    out: list[tuple[str, Path]] = []
    for raw in writable:
        rel, is_dir = _entry(raw, "writable")
        host = _check_inside(project, rel, "writable path")
        try:
            if is_dir:
                host.mkdir(parents=True, exist_ok=True)
            elif not host.exists():
                host.parent.mkdir(parents=True, exist_ok=True)
                host.touch()
        except OSError as exc:
            raise ProjectError(f"cannot create {rel}: {exc.strerror}", path=project) from None
        st = os.lstat(host)
        if is_dir and not stat.S_ISDIR(st.st_mode):
            raise ProjectError(f"writable path {rel}/ exists and is not a directory", path=project)
        if not is_dir and not stat.S_ISREG(st.st_mode):
            raise ProjectError(f"writable path {rel} exists and is not a regular file", path=project)
        if not is_dir and st.st_nlink > 1:
            raise ProjectError(
                f"writable file {rel} has other hard links; writing it would change them too",
                path=project,
            )
        out.append((rel, host))
    return out


def check_limits(limits: Limits) -> None:
    """tmpfs pages count against the memory limit: full scratch space must not OOM the run."""
    try:
        memory = parse_bytes(limits.memory)
        scratch = parse_bytes(limits.tmp_size) + parse_bytes(limits.home_size)
    except Exception as exc:  # docker's parser raises DockerException on bad units
        raise ConfigError(f"sandbox.limits: {exc}") from None
    if scratch >= memory:
        raise ConfigError(
            f"sandbox.limits: tmp_size + home_size ({limits.tmp_size} + {limits.home_size}) must "
            f"stay below memory ({limits.memory}): tmpfs counts against the memory limit",
        )
    if limits.pids < 16 or limits.cpus <= 0 or limits.nofile < 64 or limits.fsize_mb < 1:
        raise ConfigError("sandbox.limits: pids >= 16, cpus > 0, nofile >= 64, fsize_mb >= 1")


def _write_read_only(path: Path, data: bytes) -> Path:
    """A fresh host file with ``data``, mode 0444 (a link or file already there is replaced)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o444)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


MAX_WORKSPACE_ENTRIES = 512
_WORKSPACE_TMPFS = "rw,nosuid,nodev,noexec,size=1m,mode=0755"


def _entry_layout(project: Path, binds: list[BindMount], tmpfs: list[TmpfsMount],
                  writable: list[str], masked_dirs: list[str],
                  masked_files: list[str]) -> tuple[list[BindMount], list[TmpfsMount]]:
    """``/workspace`` as a root-owned tmpfs with the project's top-level entries bound in."""
    taken = {rel for rel in [*writable, *masked_dirs, *masked_files] if "/" not in rel}
    entries: list[BindMount] = []
    with os.scandir(project) as it:
        for entry in sorted(it, key=lambda e: e.name):
            if entry.name in taken:
                continue  # its own mount (writable, masked) is there
            if not (entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False)):
                continue  # a link or a special file: never followed on the host's behalf
            entries.append(BindMount(source=str(project / entry.name),
                                     target=f"{WORKSPACE}/{entry.name}", read_only=True,
                                     purpose="workspace"))
    if len(entries) > MAX_WORKSPACE_ENTRIES:
        raise ProjectError(f"the project has more than {MAX_WORKSPACE_ENTRIES} top-level entries "
                           "(the claude-code runtime binds each one)", path=project)
    rest = [b for b in binds if not (b.purpose == "workspace" and b.target == WORKSPACE)]
    root = TmpfsMount(target=WORKSPACE, options=_WORKSPACE_TMPFS, purpose="workspace")
    return [*entries, *rest], [root, *tmpfs]


def _container_name(run_id: str) -> str:
    safe = re.sub(r"[^a-zA-Z0-9_.-]", "-", run_id).strip("-.") or "run"
    return f"sandbox-runner-{safe}"[:120]


def build_container_spec(
    *,
    project: Path,
    image: str,
    run_id: str,
    socket_dir: Path,
    writable: list[str],
    secret_paths: list[str],
    limits: Limits,
    uid: int,
    gid: int,
    command: list[str] | None = None,
    extra_labels: dict[str, str] | None = None,
    workspace_entries: bool = False,
    runtime: str | None = None,
) -> ContainerSpec:
    """The spec of the run's container; creates missing writable entries on the host.

    ``secret_paths`` are workspace-relative (``find_secret_paths``); entries that do not
    exist, are symlinks or lie inside another mask are skipped (nothing to hide there).

    ``workspace_entries``: ``/workspace`` is a small root-owned tmpfs (0755) with each
    top-level entry of the project bound into it read-only (the writable ones read-write, the
    masked ones masked), instead of one read-only bind of the project. Creating a file at the
    workspace root then fails with EACCES rather than EROFS, which is what lets Claude Code's
    atomic writer (temporary file beside the target, then rename) fall back to writing a
    writable top-level file such as ``issues.md`` in place. Top-level links and special files
    are not bound (their names do not exist inside); the project's own top-level entries are
    read once, when the spec is built.

    ``runtime``: the engine runtime to start it with (``runsc`` for gVisor; None: the engine's
    default, runc). Under gVisor the pids limit is RLIMIT_NPROC inside and headroom on the
    host (``gvisor_host_pids``).
    """
    if uid == 0 or gid == 0:
        raise ProjectError("the sandbox never runs as root (uid/gid 0)")
    check_limits(limits)
    project = project.resolve()
    if not project.is_dir():
        raise ProjectError("project directory does not exist", path=project)
    socket_dir = socket_dir.resolve()
    if not socket_dir.is_dir():
        raise ProjectError("gateway socket directory does not exist", path=socket_dir)
    # The socket dir stays 0700: the runner hands it to the sandbox uid (prepare_socket_dir in
    # runner/gateway/server.py), so no other local user can reach the socket.
    mask_file = socket_dir / MASK_FILE_NAME
    if not mask_file.exists():
        mask_file.touch()
    mask_file.chmod(0o444)

    binds = [BindMount(source=str(project), target=WORKSPACE, read_only=True, purpose="workspace")]
    writable_rel: list[str] = []
    for rel, host in prepare_writable(project, writable):
        writable_rel.append(rel)
        binds.append(
            BindMount(source=str(host), target=f"{WORKSPACE}/{rel}", read_only=False,
                      purpose="writable"),
        )
    binds.append(
        BindMount(source=str(socket_dir), target=SOCKET_DIR_IN_CONTAINER, read_only=True,
                  purpose="socket"),
    )

    tmpfs = [
        TmpfsMount(target="/tmp", options=f"rw,nosuid,nodev,size={limits.tmp_size},mode=1777",
                   purpose="scratch"),
        TmpfsMount(
            target=HOME,
            options=f"rw,nosuid,nodev,size={limits.home_size},uid={uid},gid={gid},mode=0700",
            purpose="home",
        ),
    ]
    state = project / RUNNER_STATE_DIR
    if not state.is_symlink():
        state.mkdir(exist_ok=True)  # mask it even when the run dir appears later
        tmpfs.append(TmpfsMount(target=f"{WORKSPACE}/{RUNNER_STATE_DIR}", options=_MASK_TMPFS,
                                purpose="state-mask"))
    masked_dirs = [RUNNER_STATE_DIR]
    masked_files: list[str] = []
    for raw in sorted(set(secret_paths), key=lambda p: (p.count("/"), p)):
        rel, _ = _entry(raw, "secret")
        if any(rel == d or rel.startswith(d + "/") for d in masked_dirs):
            continue
        host = project / rel
        try:
            st = os.lstat(host)
        except OSError:
            continue
        if host.resolve() != host or stat.S_ISLNK(st.st_mode):
            continue
        target = f"{WORKSPACE}/{rel}"
        if stat.S_ISDIR(st.st_mode):
            masked_dirs.append(rel)
            tmpfs.append(TmpfsMount(target=target, options=_MASK_TMPFS, purpose="secret-mask"))
        elif stat.S_ISREG(st.st_mode):
            masked_files.append(rel)
            binds.append(BindMount(source=str(mask_file), target=target, read_only=True,
                                   purpose="secret-mask"))
    if GIT_CONFIG not in masked_files and not any(
            GIT_CONFIG.startswith(d + "/") for d in masked_dirs):
        clean = sanitized_git_config(project)
        if clean is not None:
            copy = _write_read_only(socket_dir / GIT_CONFIG_COPY_NAME, clean)
            binds.append(BindMount(source=str(copy), target=f"{WORKSPACE}/{GIT_CONFIG}",
                                   read_only=True, purpose="sanitized"))

    if workspace_entries:
        binds, tmpfs = _entry_layout(project, binds, tmpfs, writable_rel, masked_dirs,
                                     masked_files)

    labels = {
        LABEL_RUN: run_id,
        LABEL_OWNER_PID: str(os.getpid()),
        LABEL_OWNER_HOST: socket.gethostname(),
        **(extra_labels or {}),
    }
    environment = {
        "HOME": HOME,
        "PATH": _PATH,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "SANDBOX_RUNNER_RUN_ID": run_id,
        "SANDBOX_RUNNER_WRITABLE": ",".join(writable_rel),
    }
    return ContainerSpec(
        name=_container_name(run_id),
        image=image,
        command=list(command) if command else list(IDLE_COMMAND),
        user=f"{uid}:{gid}",
        environment=environment,
        labels=labels,
        binds=binds,
        tmpfs=tmpfs,
        limits=limits,
        runtime=runtime,
    )


def build_verification_spec(
    *,
    project: Path,
    image: str,
    run_id: str,
    scratch_dir: Path,
    out_dir: Path,
    secret_paths: list[str],
    limits: Limits,
    uid: int,
    gid: int,
    command: list[str],
    environment: dict[str, str],
    extra_labels: dict[str, str] | None = None,
    runtime: str | None = None,
) -> ContainerSpec:
    """The verification container: the run's hardening and masks, nothing writable but ``/out``.

    Built by :func:`build_container_spec` (no writable entries: ``backend/`` is read-only like
    the rest of ``/workspace``), then: no socket dir (``scratch_dir`` only holds the mask file
    and the sanitized git config), the host ``out_dir`` bound read-write at ``/out``, the base
    environment without ``SANDBOX_RUNNER_WRITABLE``, bytecode never read from the tree
    (``PYTHONDONTWRITEBYTECODE``, ``PYTHONPYCACHEPREFIX`` on the tmpfs), and ``environment``
    (the test command's variables) on top.
    """
    spec = build_container_spec(
        project=project, image=image, run_id=run_id, socket_dir=scratch_dir, writable=[],
        secret_paths=secret_paths, limits=limits, uid=uid, gid=gid, command=command,
        extra_labels={LABEL_ROLE: "verify", **(extra_labels or {})}, runtime=runtime,
    )
    binds = [b for b in spec.binds if b.purpose != "socket"]
    binds.append(BindMount(source=str(out_dir), target=VERIFY_OUT, read_only=False,
                           purpose="writable"))
    env = {k: v for k, v in spec.environment.items() if k != "SANDBOX_RUNNER_WRITABLE"}
    env.update(environment)
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=PYCACHE_PREFIX)
    return spec.model_copy(update={
        "name": f"{spec.name}-verify"[:128], "binds": binds, "environment": env,
        "logs": "bounded",
    })
