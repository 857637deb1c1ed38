"""The image layers the runner builds offline: base → runtime → default environment.

- base: ``cfg.base_image`` (default ``python:3.11-slim``) when present locally; else the
  bootstrapped ``sandbox-runner-base:bookworm`` when present; else a pull of
  ``cfg.base_image`` is tried, and when that fails (no registry) a Debian base is made with
  ``debootstrap`` and ``docker import``.
- runtime: ``sandbox-runner-runtime:<12 hex>``, the agent runtime in its own prefix
  (``/opt/sandbox-runner/venv`` + the agent code, ``images/runtime/``); its hash covers
  every file of its build context that comes from the source tree and the base image id.
- default environment: ``sandbox-runner:<12 hex>`` ("the sandbox image"), the runtime plus
  the default project environment ``/opt/project-venv`` (``images/env/``: pytest,
  coverage and the backend toolchain); its hash covers ``images/env/`` and the runtime
  image id. A project that declares dependencies gets an environment image of its own
  instead (:mod:`runner.env.build`), also on top of the runtime layer.

Each layer is rebuilt only when one of its inputs changes. The Python packages come from
wheelhouses downloaded on the host (``pip download``, cached under
``~/.cache/sandbox-runner``), so neither build needs network.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound
from pydantic import BaseModel
from requests.exceptions import RequestException

from runner.config import DockerSandboxConfig
from runner.errors import ImageBuildError
from runner.resources import images_dir, package_dir
from runner.sandbox.docker_client import docker_client, one_line

Progress = Callable[[str], None]

IMAGE_REPO = "sandbox-runner"  # the default environment ("the sandbox image")
RUNTIME_REPO = "sandbox-runner-runtime"
BOOTSTRAP_BASE = "sandbox-runner-base:bookworm"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR_ENV = "SANDBOX_RUNNER_DEBIAN_MIRROR"
DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBOOTSTRAP_PACKAGES = ("python3", "python3-venv", "git", "ca-certificates")
PYTHON_VERSION = "3.11"  # of both bases (python:3.11-slim and Debian bookworm)
GLIBC_MINOR = 36  # Debian bookworm: glibc 2.36
LABEL_IMAGE = "sandbox-runner.image"
LABEL_INPUTS = "sandbox-runner.inputs"
LABEL_BASE = "sandbox-runner.base"
LABEL_RUNTIME = "sandbox-runner.runtime"
AGENT_DEST = "sandbox-runner"  # context folder copied to /opt/sandbox-runner
_SKIP_NAMES = {"__pycache__", ".mypy_cache", ".pytest_cache", "wheelhouse"}


class ImageStatus(BaseModel):
    """What ``image_status`` finds without building anything."""

    ref: str | None  # None when a layer below is not there yet (the hash needs its id)
    present: bool
    base: str | None
    inputs_hash: str | None
    runtime_ref: str | None = None
    runtime_present: bool = False


@dataclass(frozen=True)
class BaseImage:
    """An image another layer is built on (a base, or the runtime layer)."""

    ref: str
    id: str
    bootstrapped: bool


@dataclass(frozen=True)
class Layer:
    """One layer built from a directory of ``images/`` with a Dockerfile."""

    kind: str  # the LABEL_IMAGE value
    repo: str
    context: str  # the folder under images/
    with_agent: bool  # the agent code goes into the context too
    base_arg: str  # the Dockerfile ARG naming the image below


RUNTIME_LAYER = Layer("runtime", RUNTIME_REPO, "runtime", True, "BASE_IMAGE")
DEFAULT_ENV_LAYER = Layer("env-default", IMAGE_REPO, "env", False, "RUNTIME_IMAGE")


def _noop(_: str) -> None:
    return None


# --- inputs ------------------------------------------------------------------------------


def _tree_files(root: Path, prefix: str) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    if not root.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_NAMES)
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(dirpath) / name
            out.append((f"{prefix}{path.relative_to(root).as_posix()}", path))
    return out


def context_files(layer: Layer = RUNTIME_LAYER) -> list[tuple[str, Path]]:
    """(path in the build context, source file) for every input that comes from the tree."""
    files = _tree_files(images_dir() / layer.context, "")
    if not layer.with_agent:
        return sorted(files)
    pkg = package_dir()
    files.append((f"{AGENT_DEST}/runner/__init__.py", pkg / "__init__.py"))
    files.append((f"{AGENT_DEST}/runner/protocol.py", pkg / "protocol.py"))
    files.extend(_tree_files(pkg / "agent", f"{AGENT_DEST}/runner/agent/"))
    return sorted(files)


def compute_inputs_hash(
    files: Sequence[tuple[str, bytes]], base_id: str, kind: str = RUNTIME_LAYER.kind,
) -> str:
    """sha256 over the context files (name and content), the id of the image below and
    the layer's kind."""
    digest = hashlib.sha256()
    digest.update(b"sandbox-runner-image-v2\0")
    digest.update(f"layer={kind}\0".encode())
    digest.update(f"base={base_id}\0".encode())
    for name, content in sorted(files):
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()


def _read_inputs(layer: Layer = RUNTIME_LAYER) -> list[tuple[str, bytes]]:
    try:
        return [(name, path.read_bytes()) for name, path in context_files(layer)]
    except OSError as exc:
        raise ImageBuildError("inputs", f"{exc.filename}: {exc.strerror}") from None


def image_ref(inputs_hash: str, layer: Layer = DEFAULT_ENV_LAYER) -> str:
    return f"{layer.repo}:{inputs_hash[:12]}"


# --- base image --------------------------------------------------------------------------


def _local_image(client: docker.DockerClient, ref: str) -> BaseImage | None:
    try:
        image = client.images.get(ref)
    except ImageNotFound:
        return None
    except APIError as exc:
        raise ImageBuildError("base image", one_line(exc)) from None
    return BaseImage(ref=ref, id=str(image.id), bootstrapped=ref == BOOTSTRAP_BASE)


def _local_base(
    client: docker.DockerClient, cfg: DockerSandboxConfig, *, fallback: bool = True,
) -> BaseImage | None:
    local = _local_image(client, cfg.base_image)
    if local is None and fallback:
        local = _local_image(client, BOOTSTRAP_BASE)
    return local


def _try_pull(ref: str, progress: Progress, timeout: int = 30) -> bool:
    repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    progress(f"==> pulling base image {ref}")
    try:
        puller = docker.from_env(timeout=timeout)
        puller.images.pull(repo, tag=tag)
    except (DockerException, RequestException, OSError) as exc:
        progress(f"pull failed: {one_line(exc)}")
        return False
    return True


def _stream_process(cmd: list[str], progress: Progress, *, step: str) -> None:
    """Run a command, forwarding each output line to progress; ImageBuildError on failure."""
    tail: list[str] = []
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
        )
    except OSError as exc:
        raise ImageBuildError(step, f"{cmd[0]}: {exc.strerror or exc}") from None
    assert proc.stdout is not None
    with proc:
        for raw in proc.stdout:
            line = raw.rstrip()
            if line:
                progress(line)
                tail = [*tail[-4:], line]
    if proc.returncode != 0:
        detail = tail[-1] if tail else f"exit status {proc.returncode}"
        raise ImageBuildError(step, f"{Path(cmd[0]).name} exited {proc.returncode}: {detail}")


def bootstrap_base(client: docker.DockerClient, progress: Progress) -> BaseImage:
    """Make ``sandbox-runner-base:bookworm`` with debootstrap + docker import."""
    if shutil.which("debootstrap") is None:
        raise ImageBuildError(
            "base image", "the base image cannot be pulled and debootstrap is not installed "
            "(apt-get install debootstrap)",
        )
    if os.geteuid() != 0:
        raise ImageBuildError(
            "base image", "the base image cannot be pulled and debootstrap needs root "
            "(run `sudo sandbox-runner image build` once)",
        )
    mirror = os.environ.get(DEBIAN_MIRROR_ENV, DEFAULT_DEBIAN_MIRROR)
    work = Path(tempfile.mkdtemp(prefix="sandbox-runner-rootfs-", dir="/var/tmp"))
    try:
        rootfs = work / "rootfs"
        progress(f"==> bootstrapping Debian {DEBIAN_SUITE} with debootstrap from {mirror}")
        _stream_process(
            [
                "debootstrap", "--variant=minbase", f"--include={','.join(DEBOOTSTRAP_PACKAGES)}",
                DEBIAN_SUITE, str(rootfs), mirror,
            ],
            progress, step="debootstrap",
        )
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (rootfs / junk).glob("*"):
                if entry.is_file() and entry.name not in {"lock"}:
                    entry.unlink()
        tarball = work / "rootfs.tar"
        progress(f"==> importing the root filesystem as {BOOTSTRAP_BASE}")
        _stream_process(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."],
            progress, step="base image tar",
        )
        repo, _, tag = BOOTSTRAP_BASE.partition(":")
        try:
            client.api.import_image(
                src=str(tarball), repository=repo, tag=tag,
                changes=[
                    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "ENV LANG=C.UTF-8",
                    'CMD ["/bin/bash"]',
                ],
            )
        except (DockerException, RequestException) as exc:
            raise ImageBuildError("docker import", one_line(exc)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = _local_image(client, BOOTSTRAP_BASE)
    if base is None:
        raise ImageBuildError("docker import", f"{BOOTSTRAP_BASE} missing after import")
    return base


def resolve_base(
    client: docker.DockerClient, cfg: DockerSandboxConfig, progress: Progress, *,
    fallback: bool = True, force_pull: bool = False,
) -> BaseImage:
    """The base image to build on, pulling or bootstrapping it when none is present."""
    local = _local_image(client, cfg.base_image)
    if local is not None:
        return local
    if not force_pull and fallback:
        boot = _local_image(client, BOOTSTRAP_BASE)
        if boot is not None:
            return boot
    if _try_pull(cfg.base_image, progress):
        pulled = _local_image(client, cfg.base_image)
        if pulled is not None:
            return pulled
    if not fallback:
        raise ImageBuildError("base image", f"{cfg.base_image} is not present and cannot be pulled")
    return _local_image(client, BOOTSTRAP_BASE) or bootstrap_base(client, progress)


# --- wheelhouse --------------------------------------------------------------------------


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sandbox-runner"


def _engine_arch(client: docker.DockerClient) -> str:
    try:
        arch = str(client.info().get("Architecture") or "")
    except (DockerException, RequestException):
        arch = ""
    arch = arch or platform.machine()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)


def wheelhouse_dir(requirements: bytes, arch: str) -> Path:
    key = hashlib.sha256(requirements + f"\0cp{PYTHON_VERSION}\0{arch}".encode()).hexdigest()
    return cache_root() / f"wheelhouse-{key[:12]}"


def _platform_args(arch: str) -> list[str]:
    """pip takes only exact platform tags: every manylinux the base's glibc can load."""
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(GLIBC_MINOR, 4, -1)]
    tags += [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]
    return [arg for tag in tags for arg in ("--platform", tag)]


def ensure_wheelhouse(requirements: Path, arch: str, progress: Progress) -> Path:
    """Download the pinned wheels for CPython 3.11 manylinux/arch once; reuse the cache."""
    target = wheelhouse_dir(requirements.read_bytes(), arch)
    if (target / ".complete").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    progress(f"==> downloading wheels for Python {PYTHON_VERSION} ({arch}) into {target}")
    try:
        _stream_process(
            [
                sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
                "--no-input", "--only-binary=:all:", "--implementation", "cp",
                "--python-version", PYTHON_VERSION, "--abi", f"cp{PYTHON_VERSION.replace('.', '')}",
                *_platform_args(arch), "-d", str(tmp), "-r", str(requirements),
            ],
            progress, step="wheelhouse",
        )
        (tmp / ".complete").write_text("ok\n")
        try:
            tmp.rename(target)
        except OSError:  # a concurrent build won the race
            if not (target / ".complete").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# --- build -------------------------------------------------------------------------------


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    cache_root().mkdir(parents=True, exist_ok=True)
    with open(cache_root() / "build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _assemble_context(ctx: Path, wheelhouse: Path, layer: Layer) -> None:
    for name, source in context_files(layer):
        dest = ctx / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        dest.chmod(0o644)
    wheels = ctx / "wheelhouse"
    wheels.mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        try:
            os.link(wheel, wheels / wheel.name)
        except OSError:
            shutil.copyfile(wheel, wheels / wheel.name)


def _docker_build(
    client: docker.DockerClient, ctx: Path, ref: str, below: BaseImage, inputs_hash: str,
    progress: Progress, *, layer: Layer, nocache: bool, labels: dict[str, str],
) -> None:
    progress(f"==> building {ref} on {below.ref}")
    kwargs: dict[str, Any] = {
        "path": str(ctx), "tag": ref, "rm": True, "forcerm": True, "decode": True,
        "pull": False, "nocache": nocache, "buildargs": {layer.base_arg: below.ref},
        "labels": {LABEL_IMAGE: layer.kind, LABEL_INPUTS: inputs_hash, **labels},
    }
    if below.bootstrapped or layer is not RUNTIME_LAYER:
        kwargs["network_mode"] = "none"  # everything is in the context: prove it
    try:
        for chunk in client.api.build(**kwargs):
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                raise ImageBuildError("docker build", " ".join(str(detail).split()))
            text = chunk.get("stream") or chunk.get("status")
            if text:
                for line in str(text).splitlines():
                    if line.strip():
                        progress(line.rstrip())
    except (DockerException, RequestException) as exc:
        raise ImageBuildError("docker build", one_line(exc)) from None


def _build_layer(
    client: docker.DockerClient, layer: Layer, below: BaseImage, say: Progress, *,
    force: bool, labels: dict[str, str],
) -> BaseImage:
    """The layer on ``below``: the tagged image when present (unless ``force``), else built.
    The caller holds the build lock."""
    inputs = _read_inputs(layer)
    inputs_hash = compute_inputs_hash(inputs, below.id, layer.kind)
    ref = image_ref(inputs_hash, layer)
    present = None if force else _local_image(client, ref)
    if present is not None:
        return present
    requirements = images_dir() / layer.context / "requirements.txt"
    wheelhouse = ensure_wheelhouse(requirements, _engine_arch(client), say)
    with tempfile.TemporaryDirectory(prefix="sandbox-runner-ctx-") as tmp:
        ctx = Path(tmp)
        _assemble_context(ctx, wheelhouse, layer)
        if compute_inputs_hash(_context_inputs(ctx, layer), below.id, layer.kind) != inputs_hash:
            raise ImageBuildError("inputs", "source files changed during the build; retry")
        _docker_build(client, ctx, ref, below, inputs_hash, say, layer=layer, nocache=force,
                      labels=labels)
    built = _local_image(client, ref)
    if built is None:
        raise ImageBuildError("docker build", f"{ref} missing after the build")
    say(f"==> built {ref}")
    return built


def _cached_layer(client: docker.DockerClient, layer: Layer, below: BaseImage) -> BaseImage | None:
    ref = image_ref(compute_inputs_hash(_read_inputs(layer), below.id, layer.kind), layer)
    return _local_image(client, ref)


def ensure_runtime(
    cfg: DockerSandboxConfig, *, progress: Progress | None = None, force: bool = False,
    fallback: bool = True, client: docker.DockerClient | None = None,
) -> BaseImage:
    """The runtime layer on ``cfg.base_image`` (see :func:`resolve_base`), built when missing
    (or when ``force``). ``fallback=False``: do not use or bootstrap the Debian base when
    ``cfg.base_image`` is neither present nor pullable (ImageBuildError, exit 4)."""
    say = progress or _noop
    client = client or docker_client(timeout=900)
    base = _local_base(client, cfg, fallback=fallback) if not force else None
    if base is not None:
        cached = _cached_layer(client, RUNTIME_LAYER, base)
        if cached is not None:
            return cached
    with _build_lock():
        base = resolve_base(client, cfg, say, fallback=fallback, force_pull=force)
        return _build_layer(client, RUNTIME_LAYER, base, say, force=force,
                            labels={LABEL_BASE: base.ref})


def ensure_image(
    cfg: DockerSandboxConfig, *, progress: Progress | None = None, force: bool = False,
    fallback: bool = True, force_env: bool = False,
) -> str:
    """The sandbox image ref (the default environment on the runtime layer), built when
    missing (or, every layer, when ``force``; only the environment layer: ``force_env``).

    ``cfg.image`` set: that image is used as is (pulled when absent). ``fallback=False``:
    do not bootstrap a base when ``cfg.base_image`` is neither present nor pullable.
    """
    say = progress or _noop
    client = docker_client(timeout=900)
    if cfg.image:
        if _local_image(client, cfg.image) is None and not _try_pull(cfg.image, say):
            raise ImageBuildError("image", f"{cfg.image} is not present and cannot be pulled")
        return cfg.image
    runtime = ensure_runtime(cfg, progress=say, force=force, fallback=fallback, client=client)
    rebuild = force or force_env
    if not rebuild:
        cached = _cached_layer(client, DEFAULT_ENV_LAYER, runtime)
        if cached is not None:
            return cached.ref
    with _build_lock():
        env = _build_layer(client, DEFAULT_ENV_LAYER, runtime, say, force=rebuild,
                           labels={LABEL_RUNTIME: runtime.ref})
    return env.ref


def _context_inputs(ctx: Path, layer: Layer) -> list[tuple[str, bytes]]:
    names = [name for name, _ in context_files(layer)]
    return [(name, (ctx / name).read_bytes()) for name in names]


def env_wheelhouse(client: docker.DockerClient | None = None,
                   progress: Progress | None = None) -> Path:
    """The default environment's wheelhouse (pytest, pytest-cov, coverage and the toolchain):
    the setup phase mounts it read-only as pip's ``--find-links``."""
    client = client or docker_client()
    wheels = ensure_wheelhouse(images_dir() / DEFAULT_ENV_LAYER.context / "requirements.txt",
                               _engine_arch(client), progress or _noop)
    wheels.chmod(0o755)  # mkdtemp made it 0700: the build user reads it through the mount
    for wheel in wheels.glob("*.whl"):
        wheel.chmod(0o644)
    return wheels


def runtime_status(cfg: DockerSandboxConfig, client: docker.DockerClient) -> BaseImage | None:
    """The runtime layer ``ensure_runtime`` would use when it is present, building nothing."""
    base = _local_base(client, cfg)
    return None if base is None else _cached_layer(client, RUNTIME_LAYER, base)


def image_status(cfg: DockerSandboxConfig) -> ImageStatus:
    """Which image ``ensure_image`` would use and whether it is there, building nothing."""
    client = docker_client()
    if cfg.image:
        present = _local_image(client, cfg.image) is not None
        return ImageStatus(ref=cfg.image, present=present, base=None, inputs_hash=None)
    base = _local_base(client, cfg)
    if base is None:
        return ImageStatus(ref=None, present=False, base=None, inputs_hash=None)
    runtime_hash = compute_inputs_hash(_read_inputs(RUNTIME_LAYER), base.id, RUNTIME_LAYER.kind)
    runtime_ref = image_ref(runtime_hash, RUNTIME_LAYER)
    runtime = _local_image(client, runtime_ref)
    if runtime is None:
        return ImageStatus(ref=None, present=False, base=base.ref, inputs_hash=None,
                           runtime_ref=runtime_ref)
    inputs_hash = compute_inputs_hash(_read_inputs(DEFAULT_ENV_LAYER), runtime.id,
                                      DEFAULT_ENV_LAYER.kind)
    ref = image_ref(inputs_hash)
    return ImageStatus(
        ref=ref, present=_local_image(client, ref) is not None, base=base.ref,
        inputs_hash=inputs_hash, runtime_ref=runtime_ref, runtime_present=True,
    )
