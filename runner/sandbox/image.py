"""The image layers the runner builds offline: base → runtime [→ claude-code] → environment.

- base: ``cfg.base_image`` (default ``python:3.11-slim``) when present locally; else the
  bootstrapped ``sandbox-runner-base:bookworm`` when present; else a pull of
  ``cfg.base_image`` is tried, and when that fails (no registry) a Debian base is made with
  ``debootstrap`` and ``docker import`` (:mod:`runner.sandbox.base_image`).
- runtime: ``sandbox-runner-runtime:<12 hex>``, the agent runtime in its own prefix
  (``/opt/sandbox-runner/venv`` + the agent code, ``images/runtime/``); its hash covers
  every file of its build context that comes from the source tree and the base image id.
- claude-code (``runtime="claude-code"`` only): ``sandbox-runner-runtime-cc:<12 hex>``, the
  runtime layer plus Claude Code's binary at ``/opt/claude-code/bin/claude`` and its managed
  settings (``images/claude-code/``); its hash covers that directory (the pin included), the
  binary's sha256 and the runtime image id. The binary comes from the npm registry, verified
  and cached on the host (:mod:`runner.sandbox.claude_code`).
- default environment: ``sandbox-runner:<12 hex>`` ("the sandbox image"), the runtime plus
  the default project environment ``/opt/project-venv`` (``images/env/``: pytest,
  coverage and the backend toolchain); its hash covers ``images/env/`` and the runtime
  image id. A project that declares dependencies gets an environment image of its own
  instead (:mod:`runner.env.build`), also on top of the runtime layer (of the claude-code
  layer for that runtime). The builtin runtime's refs do not depend on the claude-code code.

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
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException
from pydantic import BaseModel
from requests.exceptions import RequestException

from runner.config import DockerSandboxConfig
from runner.errors import ImageBuildError
from runner.resources import images_dir, package_dir
from runner.sandbox.base_image import (
    BOOTSTRAP_BASE,
    DEBIAN_MIRROR_ENV,
    DEBIAN_SUITE,
    DEBOOTSTRAP_PACKAGES,
    DEFAULT_DEBIAN_MIRROR,
    BaseImage,
    Progress,
    bootstrap_base,
    cache_root,
    resolve_base,
)
from runner.sandbox.base_image import local_base as _local_base
from runner.sandbox.base_image import local_image as _local_image
from runner.sandbox.base_image import noop as _noop
from runner.sandbox.base_image import stream_process as _stream_process
from runner.sandbox.base_image import try_pull as _try_pull
from runner.sandbox.claude_code import (
    CachedBinary,
    cached_binary,
    ensure_claude_code,
    load_pin,
)
from runner.sandbox.docker_client import docker_client, one_line
from runner.wire import Runtime as Runtime

__all__ = [
    "BOOTSTRAP_BASE", "DEBIAN_MIRROR_ENV", "DEBIAN_SUITE", "DEBOOTSTRAP_PACKAGES",
    "DEFAULT_DEBIAN_MIRROR", "BaseImage", "Progress", "bootstrap_base", "cache_root",
    "resolve_base",
]

IMAGE_REPO = "sandbox-runner"  # the default environment ("the sandbox image")
RUNTIME_REPO = "sandbox-runner-runtime"
CLAUDE_CODE_REPO = "sandbox-runner-runtime-cc"
CLAUDE_CODE_BIN = "/opt/claude-code/bin/claude"
MANAGED_SETTINGS = "/etc/claude-code/managed-settings.json"
PYTHON_VERSION = "3.11"  # of both bases (python:3.11-slim and Debian bookworm)
GLIBC_MINOR = 36  # Debian bookworm: glibc 2.36
LABEL_IMAGE = "sandbox-runner.image"
LABEL_INPUTS = "sandbox-runner.inputs"
LABEL_BASE = "sandbox-runner.base"
LABEL_RUNTIME = "sandbox-runner.runtime"
LABEL_CLAUDE_CODE = "sandbox-runner.claude-code"  # the pinned version, on the claude-code layer
AGENT_DEST = "sandbox-runner"  # context folder copied to /opt/sandbox-runner
_SKIP_NAMES = {"__pycache__", ".mypy_cache", ".pytest_cache", "wheelhouse"}


class ClaudeCodeStatus(BaseModel):
    """The pinned Claude Code binary and its layer (``doctor``), building nothing."""

    version: str
    arch: str
    cached: bool
    layer_ref: str | None  # None until the binary is cached and the runtime layer is there
    layer_present: bool


class ImageStatus(BaseModel):
    """What ``image_status`` finds without building anything."""

    ref: str | None  # None when a layer below is not there yet (the hash needs its id)
    present: bool
    base: str | None
    inputs_hash: str | None
    runtime_ref: str | None = None  # the layer environments go on (claude-code's for it)
    runtime_present: bool = False
    runtime: Runtime = "builtin"
    claude_code: ClaudeCodeStatus | None = None  # runtime="claude-code" only


@dataclass(frozen=True)
class Layer:
    """One layer built from a directory of ``images/`` with a Dockerfile."""

    kind: str  # the LABEL_IMAGE value
    repo: str
    context: str  # the folder under images/
    with_agent: bool  # the agent code goes into the context too
    base_arg: str  # the Dockerfile ARG naming the image below
    wheels: bool = True  # the context holds the wheelhouse of its requirements.txt


@dataclass(frozen=True)
class Extra:
    """What a layer's context holds beyond its directory of ``images/``."""

    inputs: tuple[tuple[str, bytes], ...] = ()  # hashed with the tree files
    binary: tuple[str, Path, str] | None = None  # (name in the context, source, sha256)
    buildargs: tuple[tuple[str, str], ...] = ()


RUNTIME_LAYER = Layer("runtime", RUNTIME_REPO, "runtime", True, "BASE_IMAGE")
CLAUDE_CODE_LAYER = Layer("runtime-claude-code", CLAUDE_CODE_REPO, "claude-code", False,
                          "RUNTIME_IMAGE", wheels=False)
DEFAULT_ENV_LAYER = Layer("env-default", IMAGE_REPO, "env", False, "RUNTIME_IMAGE")
NO_EXTRA = Extra()


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
    files.append((f"{AGENT_DEST}/runner/wire.py", pkg / "wire.py"))
    files.append((f"{AGENT_DEST}/runner/toolglob.py", pkg / "toolglob.py"))
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


def _read_inputs(layer: Layer = RUNTIME_LAYER, extra: Extra = NO_EXTRA) -> list[tuple[str, bytes]]:
    try:
        return [(name, path.read_bytes()) for name, path in context_files(layer)] + \
            list(extra.inputs)
    except OSError as exc:
        raise ImageBuildError("inputs", f"{exc.filename}: {exc.strerror}") from None


def claude_code_extra(marker: CachedBinary, binary: Path) -> Extra:
    """The claude-code layer's binary: its sha256 (and arch) hashed, the file in the context."""
    return Extra(
        inputs=(("claude.sha256", f"{marker.arch} {marker.sha256}\n".encode()),),
        binary=("claude", binary, marker.sha256),
        buildargs=(("CLAUDE_CODE_VERSION", marker.version),),
    )


def image_ref(inputs_hash: str, layer: Layer = DEFAULT_ENV_LAYER) -> str:
    return f"{layer.repo}:{inputs_hash[:12]}"


# --- wheelhouse --------------------------------------------------------------------------


def engine_arch(client: docker.DockerClient) -> str:
    """The Docker engine's architecture as the pins name it (x86_64, aarch64)."""
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


def _link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _assemble_context(ctx: Path, wheelhouse: Path | None, layer: Layer, extra: Extra) -> None:
    for name, source in context_files(layer):
        dest = ctx / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        dest.chmod(0o644)
    if wheelhouse is not None:
        wheels = ctx / "wheelhouse"
        wheels.mkdir()
        for wheel in wheelhouse.glob("*.whl"):
            _link_or_copy(wheel, wheels / wheel.name)
    if extra.binary is not None:
        name, source, sha256 = extra.binary
        dest = ctx / name
        _link_or_copy(source, dest)
        if _sha256(dest) != sha256:
            raise ImageBuildError("inputs", f"{source} is not the verified binary (sha256 "
                                            f"differs from the cache's record); remove "
                                            f"{source.parent} and build again")
        dest.chmod(0o755)  # the mode COPY gives it in the image


def _docker_build(
    client: docker.DockerClient, ctx: Path, ref: str, below: BaseImage, inputs_hash: str,
    progress: Progress, *, layer: Layer, nocache: bool, labels: dict[str, str],
    buildargs: dict[str, str] | None = None,
) -> None:
    progress(f"==> building {ref} on {below.ref}")
    kwargs: dict[str, Any] = {
        "path": str(ctx), "tag": ref, "rm": True, "forcerm": True, "decode": True,
        "pull": False, "nocache": nocache,
        "buildargs": {layer.base_arg: below.ref, **(buildargs or {})},
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
    force: bool, labels: dict[str, str], extra: Extra = NO_EXTRA,
) -> BaseImage:
    """The layer on ``below``: the tagged image when present (unless ``force``), else built.
    The caller holds the build lock."""
    inputs = _read_inputs(layer, extra)
    inputs_hash = compute_inputs_hash(inputs, below.id, layer.kind)
    ref = image_ref(inputs_hash, layer)
    present = None if force else _local_image(client, ref)
    if present is not None:
        return present
    wheelhouse = None
    if layer.wheels:
        requirements = images_dir() / layer.context / "requirements.txt"
        wheelhouse = ensure_wheelhouse(requirements, engine_arch(client), say)
    # in the cache's filesystem, so that wheels and binaries are hard-linked, not copied
    with tempfile.TemporaryDirectory(prefix=".ctx-", dir=cache_root()) as tmp:
        ctx = Path(tmp)
        _assemble_context(ctx, wheelhouse, layer, extra)
        checked = _context_inputs(ctx, layer) + list(extra.inputs)
        if compute_inputs_hash(checked, below.id, layer.kind) != inputs_hash:
            raise ImageBuildError("inputs", "source files changed during the build; retry")
        _docker_build(client, ctx, ref, below, inputs_hash, say, layer=layer, nocache=force,
                      labels=labels, buildargs=dict(extra.buildargs))
    built = _local_image(client, ref)
    if built is None:
        raise ImageBuildError("docker build", f"{ref} missing after the build")
    say(f"==> built {ref}")
    return built


def _layer_ref(layer: Layer, below: BaseImage, extra: Extra = NO_EXTRA) -> str:
    return image_ref(compute_inputs_hash(_read_inputs(layer, extra), below.id, layer.kind), layer)


def _cached_layer(client: docker.DockerClient, layer: Layer, below: BaseImage,
                  extra: Extra = NO_EXTRA) -> BaseImage | None:
    return _local_image(client, _layer_ref(layer, below, extra))


def _claude_code_extra(client: docker.DockerClient) -> Extra | None:
    """The claude-code layer's extra inputs when the pinned binary is cached, else None."""
    arch = engine_arch(client)
    pin = load_pin()
    marker = cached_binary(arch, pin)
    if marker is None:
        return None
    return claude_code_extra(marker, cache_root() / "claude-code" / f"{pin.version}-{arch}" /
                             "claude")


def _ensure_claude_code_layer(client: docker.DockerClient, runtime: BaseImage, say: Progress,
                              *, force: bool) -> BaseImage:
    """The claude-code layer on ``runtime``; the binary downloaded (and verified) first when
    it is not cached."""
    extra = None if force else _claude_code_extra(client)
    if extra is not None:
        cached = _cached_layer(client, CLAUDE_CODE_LAYER, runtime, extra)
        if cached is not None:
            return cached
    with _build_lock():
        ensure_claude_code(engine_arch(client), say)
        extra = _claude_code_extra(client)
        if extra is None:
            raise ImageBuildError("claude code", "the binary is not in the cache after download")
        return _build_layer(client, CLAUDE_CODE_LAYER, runtime, say, force=force, extra=extra,
                            labels={LABEL_RUNTIME: runtime.ref,
                                    LABEL_CLAUDE_CODE: load_pin().version})


def ensure_runtime(
    cfg: DockerSandboxConfig, *, progress: Progress | None = None, force: bool = False,
    fallback: bool = True, client: docker.DockerClient | None = None,
    runtime: Runtime = "builtin",
) -> BaseImage:
    """The layer environments go on: the runtime layer on ``cfg.base_image`` (see
    :func:`resolve_base`), and for ``runtime="claude-code"`` the claude-code layer on it;
    each built when missing (or when ``force``). ``fallback=False``: do not use or bootstrap
    the Debian base when ``cfg.base_image`` is neither present nor pullable
    (ImageBuildError, exit 4)."""
    say = progress or _noop
    client = client or docker_client(timeout=900)
    layer = _ensure_builtin_runtime(cfg, say, force=force, fallback=fallback, client=client)
    if runtime == "builtin":
        return layer
    return _ensure_claude_code_layer(client, layer, say, force=force)


def _ensure_builtin_runtime(
    cfg: DockerSandboxConfig, say: Progress, *, force: bool, fallback: bool,
    client: docker.DockerClient,
) -> BaseImage:
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
    fallback: bool = True, force_env: bool = False, runtime: Runtime = "builtin",
    client: docker.DockerClient | None = None,
) -> str:
    """The sandbox image ref (the default environment on the runtime layer, or on the
    claude-code layer for that runtime), built when missing (or, every layer, when
    ``force``; only the environment layer: ``force_env``).

    ``cfg.image`` set: that image is used as is (pulled when absent). ``fallback=False``:
    do not bootstrap a base when ``cfg.base_image`` is neither present nor pullable.
    ``client``: the caller's, for the check when every layer is present (a run's: no second
    version query and ping); anything to build gets a client with the build timeout.
    """
    say = progress or _noop
    if client is not None and not cfg.image and fallback and not (force or force_env):
        below = runtime_status(cfg, client, runtime)
        cached = None if below is None else _cached_layer(client, DEFAULT_ENV_LAYER, below)
        if cached is not None:
            return cached.ref
    client = docker_client(timeout=900)
    if cfg.image:
        if _local_image(client, cfg.image) is None and not _try_pull(cfg.image, say):
            raise ImageBuildError("image", f"{cfg.image} is not present and cannot be pulled")
        return cfg.image
    below = ensure_runtime(cfg, progress=say, force=force, fallback=fallback, client=client,
                           runtime=runtime)
    rebuild = force or force_env
    if not rebuild:
        cached = _cached_layer(client, DEFAULT_ENV_LAYER, below)
        if cached is not None:
            return cached.ref
    with _build_lock():
        env = _build_layer(client, DEFAULT_ENV_LAYER, below, say, force=rebuild,
                           labels={LABEL_RUNTIME: below.ref})
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
                               engine_arch(client), progress or _noop)
    wheels.chmod(0o755)  # mkdtemp made it 0700: the build user reads it through the mount
    for wheel in wheels.glob("*.whl"):
        wheel.chmod(0o644)
    return wheels


def claude_code_status(cfg: DockerSandboxConfig, client: docker.DockerClient) -> ClaudeCodeStatus:
    """The pinned Claude Code version, whether its binary is cached for the engine's
    architecture and whether its layer (on the present runtime layer) is built."""
    pin = load_pin()
    extra = _claude_code_extra(client)
    builtin = runtime_status(cfg, client)
    ref = None if extra is None or builtin is None else \
        _layer_ref(CLAUDE_CODE_LAYER, builtin, extra)
    return ClaudeCodeStatus(
        version=pin.version, arch=engine_arch(client), cached=extra is not None, layer_ref=ref,
        layer_present=ref is not None and _local_image(client, ref) is not None,
    )


def runtime_status(cfg: DockerSandboxConfig, client: docker.DockerClient,
                   runtime: Runtime = "builtin") -> BaseImage | None:
    """The layer ``ensure_runtime`` would return when it is present, building nothing."""
    base = _local_base(client, cfg)
    layer = None if base is None else _cached_layer(client, RUNTIME_LAYER, base)
    if layer is None or runtime == "builtin":
        return layer
    extra = _claude_code_extra(client)
    return None if extra is None else _cached_layer(client, CLAUDE_CODE_LAYER, layer, extra)


def image_status(cfg: DockerSandboxConfig, runtime: Runtime = "builtin") -> ImageStatus:
    """Which image ``ensure_image`` would use and whether it is there, building nothing."""
    client = docker_client()
    if cfg.image:
        present = _local_image(client, cfg.image) is not None
        return ImageStatus(ref=cfg.image, present=present, base=None, inputs_hash=None,
                           runtime=runtime)
    cc = claude_code_status(cfg, client) if runtime == "claude-code" else None
    base = _local_base(client, cfg)
    if base is None:
        return ImageStatus(ref=None, present=False, base=None, inputs_hash=None,
                           runtime=runtime, claude_code=cc)
    runtime_ref = _layer_ref(RUNTIME_LAYER, base)
    below = _local_image(client, runtime_ref)
    if cc is not None:
        runtime_ref = cc.layer_ref or runtime_ref
        below = _local_image(client, cc.layer_ref) if cc.layer_ref else None
    if below is None:
        return ImageStatus(ref=None, present=False, base=base.ref, inputs_hash=None,
                           runtime_ref=runtime_ref, runtime=runtime, claude_code=cc)
    inputs_hash = compute_inputs_hash(_read_inputs(DEFAULT_ENV_LAYER), below.id,
                                      DEFAULT_ENV_LAYER.kind)
    ref = image_ref(inputs_hash)
    return ImageStatus(
        ref=ref, present=_local_image(client, ref) is not None, base=base.ref,
        inputs_hash=inputs_hash, runtime_ref=runtime_ref, runtime_present=True,
        runtime=runtime, claude_code=cc,
    )
