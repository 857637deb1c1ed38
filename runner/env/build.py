"""The environment image: the project's dependencies on the runtime layer, built by the runner.

:func:`plan_environment` decides, building nothing but the layers below, which image a run
uses: the one given with ``--image``; the default environment (``sandbox-runner:<hash>``)
when the project declares nothing; else ``sandbox-runner-env:<12 hex>``, where the hash
covers the runtime image id (so the base and the agent runtime), the dependency spec
(requirements, constraints, the verification tools, index URL), the setup commands and the
base image. :func:`build_environment` is the setup phase: runner-run, never agent-run.

The build container is the runtime image with the sandbox's hardening, minus the read-only
root (``docker commit`` needs the writes): no network (its only way out is the egress
proxy's relay, when one is given), every capability dropped, no-new-privileges, the
non-root build user 10001, pids/memory/CPU limits, ``/tmp`` and the home a tmpfs (never
committed), no workspace. In it, as named steps: a fresh ``/opt/project-venv``; ``pip
install`` of the requirements (plus ``pytest``, ``pytest-cov``, ``coverage``); each setup
command with ``bash -c``; an import check of the verification tools. Setup secrets
(``--setup-secret NAME``, the value from the host environment) are given to those steps'
processes only (``docker exec`` environment: never the container's or the image's config),
and every line of output is redacted of them. Then the container is stopped, its changed
files are read from the host and scanned for every secret's value (raw, URL-quoted,
base64); only when none is found is it committed, untagged, its config and history scanned
too, and only then tagged. Any failure: :class:`EnvironmentBuildError` (exit 4) with the
step's last lines, the container removed, nothing tagged.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import io
import json
import tarfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import quote, urlsplit

import docker
from docker.errors import DockerException, ImageNotFound
from docker.types import Mount, Ulimit
from docker.utils import parse_bytes
from pydantic import BaseModel
from requests.exceptions import RequestException

from runner.config import DockerSandboxConfig, EnvironmentConfig, Limits
from runner.env.detect import DependencySpec, detect_dependencies
from runner.errors import EnvironmentBuildError, ImageBuildError
from runner.sandbox.docker_client import one_line
from runner.sandbox.environment import DockerSandbox, ExecResult
from runner.sandbox.image import (
    LABEL_IMAGE,
    LABEL_INPUTS,
    LABEL_RUNTIME,
    BaseImage,
    Runtime,
    cache_root,
    ensure_image,
    ensure_runtime,
    image_status,
    runtime_status,
)
from runner.sandbox.spec import PROJECT_VENV, PROJECT_VENV_BIN
from runner.sanitize import one_line as clean_line

Progress = Callable[[str], None]

ENV_REPO = "sandbox-runner-env"
LABEL_SPEC = "sandbox-runner.env.spec"  # the hashed inputs, JSON
LABEL_SOURCES = "sandbox-runner.env.sources"  # where they were found, JSON
BUILD_USER = "10001:10001"
BUILD_HOME = "/home/agent"
WORK = "/tmp/sandbox-runner-setup"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TAIL_LINES = 20
MIN_STEP_SECONDS = 30.0
SCAN_CHUNK = 1 << 20
WHEELS_AT = "/tmp/sandbox-runner-wheels"  # mounted read-only for the build only
CA_AT = "/tmp/sandbox-runner-ca.pem"


class EnvironmentPlan(BaseModel):
    """Which image a run uses and whether it must be built (nothing built yet)."""

    kind: Literal["default", "project", "explicit"]
    ref: str
    present: bool
    spec: DependencySpec
    inputs_hash: str | None = None
    runtime: str | None = None  # the runtime layer's ref (project environments)
    runtime_id: str | None = None


class SetupNetwork(Protocol):
    """The build container's only way out (the egress proxy and its relay)."""

    def mounts(self) -> list[Mount]:
        """What the container needs mounted for it (the socket directory)."""

    def start(self, sandbox: DockerSandbox) -> dict[str, str]:
        """Start the relay in the container; the environment that sends tools through it."""

    def close(self) -> None:
        """Stop the proxy (the relay ends with it); what the container mounts stays until
        the caller disposes of the network, after the container is gone."""


@dataclass
class BuildResult:
    ref: str
    built: bool
    seconds: float = 0.0
    steps: list[str] = field(default_factory=list)


def _noop(_: str) -> None:
    return None


# --- plan --------------------------------------------------------------------------------


def env_ref(inputs_hash: str) -> str:
    return f"{ENV_REPO}:{inputs_hash[:12]}"


def _local(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except ImageNotFound:
        return False
    except (DockerException, RequestException) as exc:
        raise EnvironmentBuildError("image lookup", one_line(exc)) from None
    return True


def plan_environment(
    project: Path, sandbox: DockerSandboxConfig, env: EnvironmentConfig, *,
    client: docker.DockerClient, is_masked: Callable[[str], bool] | None = None,
    progress: Progress | None = None, spec: DependencySpec | None = None,
    rebuild_default: bool = False, runtime: Runtime = "builtin",
) -> EnvironmentPlan:
    """Detect the project's dependencies and make sure the layers below its environment are
    there (building them offline when missing): the runtime layer, and for
    ``runtime="claude-code"`` the claude-code layer on it, which the environment goes on.
    ProjectError (exit 2) for a bad dependency file; EnvironmentBuildError (exit 4) when a
    layer below cannot be had."""
    say = progress or _noop
    spec = spec if spec is not None else detect_dependencies(project, env, is_masked=is_masked)
    if sandbox.image:
        return EnvironmentPlan(kind="explicit", ref=sandbox.image,
                               present=_local(client, sandbox.image), spec=spec)
    if not spec.declared:
        ref = ensure_image(sandbox, progress=say, force_env=rebuild_default, runtime=runtime,
                           client=client)
        return EnvironmentPlan(kind="default", ref=ref, present=True, spec=spec)
    base_cfg = sandbox if spec.base_image is None else sandbox.model_copy(
        update={"base_image": spec.base_image})
    try:
        below: BaseImage = ensure_runtime(base_cfg, progress=say, client=client,
                                          fallback=spec.base_image is None, runtime=runtime)
    except EnvironmentBuildError:
        raise
    except ImageBuildError as exc:
        raise EnvironmentBuildError(exc.step, exc.detail) from None
    digest = spec.digest(below.id)
    ref = env_ref(digest)
    return EnvironmentPlan(kind="project", ref=ref, present=_local(client, ref), spec=spec,
                           inputs_hash=digest, runtime=below.ref, runtime_id=below.id)


def environment_status(
    project: Path, sandbox: DockerSandboxConfig, env: EnvironmentConfig, *,
    client: docker.DockerClient, is_masked: Callable[[str], bool] | None = None,
    runtime: Runtime = "builtin",
) -> tuple[str, bool, str]:
    """(image ref or what is missing, present, description) of the project's environment
    for ``runtime``, building nothing (``doctor``). ProjectError for a bad dependency file."""
    spec = detect_dependencies(project, env, is_masked=is_masked)
    if sandbox.image:
        return sandbox.image, _local(client, sandbox.image), "--image, used as is"
    if not spec.declared:
        status = image_status(sandbox, runtime=runtime)
        return (status.ref or f"sandbox image ({_missing(runtime)})", status.present,
                "default environment (no dependencies declared)")
    base_cfg = sandbox if spec.base_image is None else sandbox.model_copy(
        update={"base_image": spec.base_image})
    below = runtime_status(base_cfg, client, runtime=runtime)
    if below is None:
        return (_missing(runtime), False, spec.describe())
    ref = env_ref(spec.digest(below.id))
    return ref, _local(client, ref), spec.describe()


def _missing(runtime: Runtime) -> str:
    if runtime == "builtin":
        return "runtime layer not built yet"
    return "runtime or claude-code layer not built yet"


# --- secrets -----------------------------------------------------------------------------


def secret_needles(secrets: Mapping[str, str]) -> dict[bytes, str]:
    """Byte strings whose presence means a secret leaked: each value raw, URL-quoted and
    base64-encoded (the forms a URL, a config file or an auth header would hold)."""
    out: dict[bytes, str] = {}
    for name, value in secrets.items():
        for form in {value, quote(value, safe=""), quote(value)}:
            out[form.encode()] = name
        out[base64.b64encode(value.encode())] = name
    return out


def _scan_bytes(data: bytes, needles: Mapping[bytes, str]) -> str | None:
    for needle, name in needles.items():
        if needle in data:
            return name
    return None


def _scan_tar(stream: Iterable[bytes], needles: Mapping[bytes, str], prefix: str) -> tuple[str, str] | None:
    """(secret name, path) of the first member of a tar stream holding a needle (in its
    name, link target or content), else None."""
    overlap = max((len(n) for n in needles), default=1)
    with tarfile.open(fileobj=io.BufferedReader(_StreamFile(stream)), mode="r|") as tar:
        for member in tar:
            where = f"{prefix.rstrip('/')}/{member.name.split('/', 1)[-1]}" if "/" in \
                member.name else prefix
            hit = _scan_bytes(f"{member.name}\0{member.linkname}".encode("utf-8", "replace"),
                              needles)
            if hit is None and member.isfile():
                handle = tar.extractfile(member)
                carry = b""
                while handle is not None and hit is None:
                    chunk = handle.read(SCAN_CHUNK)
                    if not chunk:
                        break
                    window = carry + chunk
                    hit = _scan_bytes(window, needles)
                    carry = window[-overlap:]  # a value may straddle any number of reads
            if hit is not None:
                return hit, where
    return None


class _StreamFile(io.RawIOBase):
    """A raw file over an iterator of byte chunks (for ``tarfile`` in stream mode)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        view = memoryview(buffer).cast("B")
        n = min(len(view), len(self._buf))
        view[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def changed_roots(diff: Iterable[Mapping[str, Any]]) -> list[str]:
    """The paths of a ``docker diff`` whose archives cover every added or changed file once:
    added paths whose parent was not added too, and changed paths that are not a directory
    holding other entries of the diff (those are listed themselves). Deleted paths hold
    nothing."""
    entries = [(str(d["Path"]), d.get("Kind")) for d in diff]
    added = {p for p, kind in entries if kind == 1}
    parents = {p.rsplit("/", 1)[0] or "/" for p, _ in entries}
    roots: list[str] = []
    for path, kind in sorted(entries):
        if kind not in (0, 1) or (path.rsplit("/", 1)[0] or "/") in added:
            continue
        if kind == 0 and path in parents:
            continue  # a directory: its changed entries are roots or under one
        roots.append(path)
    return roots


def scan_container(client: docker.DockerClient, container_id: str,
                   needles: Mapping[bytes, str]) -> tuple[str, str] | None:
    """(secret name, path) of a changed file of the (stopped) container that holds a secret,
    else None. Every archive is read to its end: Docker holds the container while one is
    open."""
    if not needles:
        return None
    for root in changed_roots(client.api.diff(container_id) or []):
        try:
            stream, _stat = client.api.get_archive(container_id, root)
        except (DockerException, RequestException) as exc:  # unread is unscanned: fail closed
            raise EnvironmentBuildError("secret scan", f"cannot read {clean_line(root, 200)} "
                                        f"of the build container: {one_line(exc)}") from None
        chunks = iter(stream)
        try:
            found = _scan_tar(chunks, needles, root)
        finally:
            for _ in chunks:  # drain
                pass
        if found is not None:
            return found
    return None


# --- the build container -------------------------------------------------------------------


def _container_kwargs(image: str, name: str, limits: Limits, timeout: float,
                      mounts: list[Mount]) -> dict[str, Any]:
    memory = parse_bytes(limits.memory)
    fsize = max(limits.fsize_mb, 1024) * 1024 * 1024  # wheels and compiled extensions
    return {
        "image": image, "name": name, "command": ["sleep", str(int(timeout) + 120)],
        "user": BUILD_USER, "working_dir": "/tmp", "hostname": "setup",
        "network_mode": "none", "read_only": False, "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"], "init": True, "privileged": False,
        "ipc_mode": "private", "pids_limit": max(limits.pids, 512), "mem_limit": memory,
        "memswap_limit": memory, "nano_cpus": int(limits.cpus * 1_000_000_000),
        "ulimits": [Ulimit(name="nofile", soft=max(limits.nofile, 4096),
                           hard=max(limits.nofile, 4096)),
                    Ulimit(name="core", soft=0, hard=0),
                    Ulimit(name="fsize", soft=fsize, hard=fsize)],
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={memory // 2},mode=1777",
                  BUILD_HOME: "rw,nosuid,nodev,size=256m,uid=10001,gid=10001,mode=0700"},
        "mounts": mounts, "stdin_open": False, "tty": False,
    }


class _Steps:
    """Runs the named steps in the build container; keeps each step's last lines."""

    def __init__(self, sandbox: DockerSandbox, say: Progress, redact: Callable[[str], str],
                 deadline: float) -> None:
        self.sandbox = sandbox
        self.say = say
        self.redact = redact
        self.deadline = deadline
        self.done: list[str] = []

    def run(self, step: str, cmd: list[str], env: dict[str, str], *, stdin: bytes | None = None,
            workdir: str = WORK, shown: str | None = None) -> ExecResult:
        tail: deque[str] = deque(maxlen=TAIL_LINES)

        def line(_stream: str, text: str) -> None:
            shown_line = clean_line(self.redact(text), 300)
            if shown_line:
                tail.append(shown_line)
                self.say(f"    {shown_line}")

        left = self.deadline - time.monotonic()
        if left < 1:
            raise EnvironmentBuildError(step, "the setup phase ran out of time")
        self.say(f"==> setup: {step}" + (f": {clean_line(self.redact(shown), 200)}" if shown
                                           else ""))
        result = self.sandbox.exec_stream(cmd, line, timeout=max(left, MIN_STEP_SECONDS),
                                          user=BUILD_USER, env=env, workdir=workdir,
                                          input=stdin, output_limit=256 * 1024)
        if result.timed_out:
            raise EnvironmentBuildError(step, "timed out (the setup phase's timeout)", list(tail))
        if result.returncode != 0:
            raise EnvironmentBuildError(step, f"exited {result.returncode}", list(tail))
        self.done.append(step)
        return result


def _pip_env(spec: DependencySpec, proxy_env: Mapping[str, str], secrets: Mapping[str, str],
             wheelhouse: str | None) -> dict[str, str]:
    env = {
        "HOME": BUILD_HOME, "LANG": "C.UTF-8", "TMPDIR": "/tmp",
        "PATH": f"{PROJECT_VENV_BIN}:{SYSTEM_PATH}", "VIRTUAL_ENV": PROJECT_VENV,
        "PIP_NO_INDEX": "0" if proxy_env else "1", "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "PIP_PROGRESS_BAR": "off",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
    }
    if wheelhouse:
        env["PIP_FIND_LINKS"] = wheelhouse
    if spec.index_url:
        env["PIP_INDEX_URL"] = spec.index_url
        url = urlsplit(spec.index_url)
        if url.scheme == "http" and url.netloc:  # configured so: pip would ignore it otherwise
            env["PIP_TRUSTED_HOST"] = url.netloc.rpartition("@")[2]
    env.update(proxy_env)
    env.update(secrets)  # last: a PIP_INDEX_URL secret wins over the configured one
    return env


def _requirements_text(lines: Iterable[str]) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


def _install(steps: _Steps, spec: DependencySpec, env: dict[str, str]) -> None:
    pip = [f"{PROJECT_VENV_BIN}/python", "-m", "pip", "install"]
    write = ["/bin/sh", "-c", 'mkdir -p "$1" && cat > "$1/$2"', "sh", WORK]
    steps.run("write requirements", [*write, "requirements.txt"], env,
              stdin=_requirements_text(spec.requirements), workdir="/tmp")
    args = ["-r", f"{WORK}/requirements.txt"]
    if spec.constraints:
        steps.run("write constraints", [*write, "constraints.txt"], env,
                  stdin=_requirements_text(spec.constraints), workdir="/tmp")
        args += ["-c", f"{WORK}/constraints.txt"]
    if spec.hashed:  # hash-checking mode: the tools (hashless) in an install of their own
        steps.run("pip install", [*pip, *args], env, shown="the project's requirements")
        if spec.tools:
            steps.run("pip install tools", [*pip, *spec.tools], env, shown=" ".join(spec.tools))
        return
    shown = f"{len(spec.requirements)} requirement(s) + {' '.join(spec.tools) or 'no tools'}"
    steps.run("pip install", [*pip, *args, *spec.tools], env, shown=shown)


def _commit(client: docker.DockerClient, container_id: str, plan: EnvironmentPlan,
            needles: Mapping[bytes, str]) -> str:
    """Commit untagged, check config and history for secrets, then tag; the image id."""
    spec = plan.spec
    labels = {
        LABEL_IMAGE: "env", LABEL_INPUTS: plan.inputs_hash or "",
        LABEL_RUNTIME: plan.runtime or "",
        LABEL_SPEC: json.dumps(spec.inputs(), sort_keys=True, separators=(",", ":")),
        LABEL_SOURCES: json.dumps(spec.sources, separators=(",", ":")),
    }
    changes = ["USER 10001:10001", "WORKDIR /workspace", 'CMD ["sleep", "infinity"]']
    try:
        committed = client.api.commit(container_id, message="sandbox-runner setup phase",
                                      author="sandbox-runner", changes=changes,
                                      conf={"Labels": labels}, pause=False)
        image_id = str(committed["Id"])
    except (DockerException, RequestException) as exc:
        raise EnvironmentBuildError("commit", one_line(exc)) from None
    try:
        inspected = json.dumps(client.api.inspect_image(image_id)).encode()
        history = json.dumps(client.api.history(image_id)).encode()
        leaked = _scan_bytes(inspected + b"\0" + history, needles)
        if leaked is not None:
            raise EnvironmentBuildError("secret scan", f"the value of setup secret {leaked} is "
                                        "in the image's config or history; nothing was tagged")
        previous = _image_id(client, plan.ref)
        repo, _, tag = plan.ref.partition(":")
        client.api.tag(image_id, repo, tag, force=True)
    except BaseException:
        with contextlib.suppress(DockerException, RequestException):
            client.api.remove_image(image_id, force=True, noprune=False)
        raise
    if previous is not None and previous != image_id:  # a rebuild: the old one is untagged now
        with contextlib.suppress(DockerException, RequestException):  # in use: Docker keeps it
            client.api.remove_image(previous, force=False, noprune=False)
    return image_id


def _image_id(client: docker.DockerClient, ref: str) -> str | None:
    try:
        return str(client.api.inspect_image(ref)["Id"])
    except ImageNotFound:
        return None
    except (DockerException, RequestException) as exc:
        raise EnvironmentBuildError("image lookup", one_line(exc)) from None


@contextlib.contextmanager
def _env_lock(inputs_hash: str) -> Iterator[None]:
    cache_root().mkdir(parents=True, exist_ok=True)
    with open(cache_root() / f"env-{inputs_hash[:12]}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_environment(
    plan: EnvironmentPlan, *, client: docker.DockerClient, limits: Limits, timeout: float,
    progress: Progress | None = None, network: SetupNetwork | None = None,
    secrets: Mapping[str, str] | None = None, redact: Callable[[str], str] | None = None,
    rebuild: bool = False, wheelhouse: Path | None = None, ca_bundle: Path | None = None,
) -> BuildResult:
    """The setup phase: build ``plan.ref`` unless it is there (and not ``rebuild``).

    ``network``: the egress proxy and relay (None: no way out at all; only ``wheelhouse``,
    mounted read-only as pip's ``--find-links``, can serve packages). ``secrets``: the setup
    secrets' values by name. ``redact``: applied (after the secrets) to every line shown.
    """
    say = progress or _noop
    if plan.kind != "project" or plan.inputs_hash is None or plan.runtime is None:
        return BuildResult(ref=plan.ref, built=False)
    if plan.present and not rebuild:
        return BuildResult(ref=plan.ref, built=False)
    secrets = dict(secrets or {})
    needles = secret_needles(secrets)

    def scrub(text: str) -> str:
        for needle in sorted(needles, key=len, reverse=True):
            text = text.replace(needle.decode(), f"[{needles[needle]}]")
        return redact(text) if redact is not None else text

    started = time.monotonic()
    with _env_lock(plan.inputs_hash):
        if not rebuild and _local(client, plan.ref):
            return BuildResult(ref=plan.ref, built=False)
        say(f"==> building the environment {plan.ref} on {plan.runtime} "
            f"({plan.spec.describe()})")
        for note in plan.spec.skipped:
            say(f"    skipped {clean_line(note, 200)}")
        steps = _build_in_container(plan, client=client, limits=limits, timeout=timeout,
                                    say=say, network=network, secrets=secrets, needles=needles,
                                    scrub=scrub, wheelhouse=wheelhouse, ca_bundle=ca_bundle)
    seconds = round(time.monotonic() - started, 2)
    say(f"==> built {plan.ref} in {seconds:.1f}s")
    return BuildResult(ref=plan.ref, built=True, seconds=seconds, steps=steps)


def _build_in_container(
    plan: EnvironmentPlan, *, client: docker.DockerClient, limits: Limits, timeout: float,
    say: Progress, network: SetupNetwork | None, secrets: Mapping[str, str],
    needles: Mapping[bytes, str], scrub: Callable[[str], str], wheelhouse: Path | None,
    ca_bundle: Path | None = None,
) -> list[str]:
    assert plan.runtime is not None and plan.inputs_hash is not None
    mounts = list(network.mounts()) if network is not None else []
    wheels_at = WHEELS_AT if wheelhouse is not None else None
    if wheelhouse is not None:
        mounts.append(Mount(target=WHEELS_AT, source=str(wheelhouse), type="bind",
                            read_only=True))
    if ca_bundle is not None:
        if not ca_bundle.is_file():
            raise EnvironmentBuildError("ca bundle", f"{ca_bundle} is not a file")
        mounts.append(Mount(target=CA_AT, source=str(ca_bundle.resolve()), type="bind",
                            read_only=True))
    name = f"sandbox-runner-setup-{plan.inputs_hash[:12]}-{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + timeout
    container: Any = None
    try:
        try:
            container = client.containers.create(
                **_container_kwargs(plan.runtime, name, limits, timeout, mounts))
            container.start()
        except (DockerException, RequestException) as exc:
            raise EnvironmentBuildError("build container", one_line(exc)) from None
        sandbox = DockerSandbox(client, str(container.id))
        steps = _Steps(sandbox, say, scrub, deadline)
        proxy_env = network.start(sandbox) if network is not None else {}
        env = _pip_env(plan.spec, proxy_env, secrets, wheels_at)
        if ca_bundle is not None:  # pip, requests, curl and Python's ssl all read one of these
            env.update(PIP_CERT=CA_AT, SSL_CERT_FILE=CA_AT, REQUESTS_CA_BUNDLE=CA_AT,
                       CURL_CA_BUNDLE=CA_AT)
        venv_env = {**env, "PATH": SYSTEM_PATH}
        steps.run("project venv", ["python3", "-m", "venv", PROJECT_VENV], venv_env,
                  workdir="/tmp")
        _install(steps, plan.spec, env)
        for i, command in enumerate(plan.spec.setup, 1):
            steps.run(f"setup command {i}", ["bash", "-c", command], env, shown=command)
        steps.run("check tools", [f"{PROJECT_VENV_BIN}/python", "-c",
                                  "import pytest, pytest_cov, coverage"], env, workdir="/tmp")
        if network is not None:
            network.close()
        _stop(client, container)
        if needles:
            say("==> setup: scanning the changed files for the setup secrets")
            leaked = scan_container(client, str(container.id), needles)
            if leaked is not None:
                raise EnvironmentBuildError(
                    "secret scan", f"the value of setup secret {leaked[0]} is in "
                    f"{clean_line(scrub(leaked[1]), 200)}; nothing was committed")
        say(f"==> setup: committing {plan.ref}")
        _commit(client, str(container.id), plan, needles)
        return steps.done
    finally:
        if network is not None:
            with contextlib.suppress(Exception):
                network.close()
        if container is not None:
            with contextlib.suppress(DockerException, RequestException):
                container.remove(force=True)


def _stop(client: docker.DockerClient, container: Any) -> None:
    """End every process of the container: nothing writes between the scan and the commit
    (Docker reads the files of a stopped container; a paused one would block the reads)."""
    try:
        container.kill()
        container.wait(timeout=60)
    except (DockerException, RequestException) as exc:
        raise EnvironmentBuildError("stop build container", one_line(exc)) from None
