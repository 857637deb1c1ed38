"""The sandbox image: built offline from a host wheelhouse, tagged by the hash of its inputs.

``sandbox-runner:<first 12 hex of sha256(inputs)>`` where the inputs are every file of the
build context that comes from the source tree (``images/``: Dockerfile, requirements.txt,
gitconfig; the agent code copied into ``/opt/sandbox-runner``) plus the base image id. The
image is rebuilt only when one of them changes.

Base image: ``cfg.base_image`` (default ``python:3.11-slim``) when present locally; else the
bootstrapped ``sandbox-runner-base:bookworm`` when present; else a pull of ``cfg.base_image``
is tried, and when that fails (no registry) a Debian base is made with ``debootstrap`` and
``docker import``. The Python packages come from a wheelhouse downloaded on the host
(``pip download``, cached under ``~/.cache/sandbox-runner``), so the build needs no network.
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

IMAGE_REPO = "sandbox-runner"
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
AGENT_DEST = "sandbox-runner"  # context folder copied to /opt/sandbox-runner
_SKIP_NAMES = {"__pycache__", ".mypy_cache", ".pytest_cache", "wheelhouse"}


class ImageStatus(BaseModel):
    """What ``image_status`` finds without building anything."""

    ref: str | None  # None when the base image is not there yet (the hash needs its id)
    present: bool
    base: str | None
    inputs_hash: str | None


@dataclass(frozen=True)
class BaseImage:
    ref: str
    id: str
    bootstrapped: bool


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


def context_files() -> list[tuple[str, Path]]:
    """(path in the build context, source file) for every input that comes from the tree."""
    files = _tree_files(images_dir(), "")
    pkg = package_dir()
    files.append((f"{AGENT_DEST}/runner/__init__.py", pkg / "__init__.py"))
    files.append((f"{AGENT_DEST}/runner/protocol.py", pkg / "protocol.py"))
    files.extend(_tree_files(pkg / "agent", f"{AGENT_DEST}/runner/agent/"))
    return sorted(files)


def compute_inputs_hash(files: Sequence[tuple[str, bytes]], base_id: str) -> str:
    """sha256 over the context files (name and content) and the base image id."""
    digest = hashlib.sha256()
    digest.update(b"sandbox-runner-image-v1\0")
    digest.update(f"base={base_id}\0".encode())
    for name, content in sorted(files):
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()


def _read_inputs() -> list[tuple[str, bytes]]:
    try:
        return [(name, path.read_bytes()) for name, path in context_files()]
    except OSError as exc:
        raise ImageBuildError("inputs", f"{exc.filename}: {exc.strerror}") from None


def image_ref(inputs_hash: str) -> str:
    return f"{IMAGE_REPO}:{inputs_hash[:12]}"


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


def _assemble_context(ctx: Path, wheelhouse: Path) -> None:
    for name, source in context_files():
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
    client: docker.DockerClient, ctx: Path, ref: str, base: BaseImage, inputs_hash: str,
    progress: Progress, *, nocache: bool,
) -> None:
    progress(f"==> building {ref} on {base.ref}")
    kwargs: dict[str, Any] = {
        "path": str(ctx), "tag": ref, "rm": True, "forcerm": True, "decode": True,
        "pull": False, "nocache": nocache, "buildargs": {"BASE_IMAGE": base.ref},
        "labels": {LABEL_IMAGE: "1", LABEL_INPUTS: inputs_hash, LABEL_BASE: base.ref},
    }
    if base.bootstrapped:
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


def ensure_image(
    cfg: DockerSandboxConfig, *, progress: Progress | None = None, force: bool = False,
    fallback: bool = True,
) -> str:
    """The sandbox image ref, built when missing (or when ``force``).

    ``cfg.image`` set: that image is used as is (pulled when absent). ``fallback=False``:
    do not bootstrap a base when ``cfg.base_image`` is neither present nor pullable.
    """
    say = progress or _noop
    client = docker_client(timeout=900)
    if cfg.image:
        if _local_image(client, cfg.image) is None and not _try_pull(cfg.image, say):
            raise ImageBuildError("image", f"{cfg.image} is not present and cannot be pulled")
        return cfg.image
    inputs = _read_inputs()
    base = _local_base(client, cfg, fallback=fallback) if not force else None
    if base is not None:
        ref = image_ref(compute_inputs_hash(inputs, base.id))
        if _local_image(client, ref) is not None:
            return ref
    with _build_lock():
        base = resolve_base(client, cfg, say, fallback=fallback, force_pull=force)
        inputs_hash = compute_inputs_hash(inputs, base.id)
        ref = image_ref(inputs_hash)
        if not force and _local_image(client, ref) is not None:
            return ref
        requirements = images_dir() / "requirements.txt"
        wheelhouse = ensure_wheelhouse(requirements, _engine_arch(client), say)
        with tempfile.TemporaryDirectory(prefix="sandbox-runner-ctx-") as tmp:
            ctx = Path(tmp)
            _assemble_context(ctx, wheelhouse)
            if compute_inputs_hash(_context_inputs(ctx), base.id) != inputs_hash:
                raise ImageBuildError("inputs", "source files changed during the build; retry")
            _docker_build(client, ctx, ref, base, inputs_hash, say, nocache=force)
    if _local_image(client, ref) is None:
        raise ImageBuildError("docker build", f"{ref} missing after the build")
    say(f"==> built {ref}")
    return ref


def _context_inputs(ctx: Path) -> list[tuple[str, bytes]]:
    names = [name for name, _ in context_files()]
    return [(name, (ctx / name).read_bytes()) for name in names]


def image_status(cfg: DockerSandboxConfig) -> ImageStatus:
    """Which image ``ensure_image`` would use and whether it is there, building nothing."""
    client = docker_client()
    if cfg.image:
        present = _local_image(client, cfg.image) is not None
        return ImageStatus(ref=cfg.image, present=present, base=None, inputs_hash=None)
    base = _local_base(client, cfg)
    if base is None:
        return ImageStatus(ref=None, present=False, base=None, inputs_hash=None)
    inputs_hash = compute_inputs_hash(_read_inputs(), base.id)
    ref = image_ref(inputs_hash)
    return ImageStatus(
        ref=ref, present=_local_image(client, ref) is not None, base=base.ref,
        inputs_hash=inputs_hash,
    )
