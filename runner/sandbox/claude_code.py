"""Claude Code's native binary, from the npm registry on the host, verified and cached.

The pin (``images/claude-code/claude-code.toml``) names a version and, per Docker engine
architecture, the npm platform package (``@anthropic-ai/claude-code-linux-x64`` / ``-arm64``)
and its tarball's ``dist.integrity`` (sha512) as published. :func:`ensure_claude_code`
downloads that tarball from ``$SANDBOX_RUNNER_NPM_REGISTRY``, else ``$npm_config_registry``,
else https://registry.npmjs.org; checks the sha512 before anything is extracted; takes only
``package/claude`` (one regular member, no link, at most :data:`MAX_BINARY` bytes); and
caches it at ``cache_root()/claude-code/<version>-<arch>/claude`` with a ``.complete`` marker
(JSON: version, arch, integrity, the binary's sha256), made in a temporary directory and
renamed into place, so concurrent builds and interrupted downloads never leave a half
binary. Once cached, no network is needed. Every failure is an :class:`ImageBuildError`
(exit 4) with one line naming the URL or the mismatch.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import tarfile
import tempfile
import time
import tomllib
import zlib
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runner.errors import ImageBuildError, first_error
from runner.resources import images_dir
from runner.sandbox.base_image import Progress, cache_root

REGISTRY_ENV = "SANDBOX_RUNNER_NPM_REGISTRY"
NPM_REGISTRY_ENV = "npm_config_registry"
DEFAULT_REGISTRY = "https://registry.npmjs.org"
PIN_NAME = "claude-code.toml"
MEMBER = "package/claude"
MAX_BINARY = 1 << 30  # the member taken from the tarball (2.1.332: 402 MB)
MAX_TARBALL = 1 << 30  # the download (2.1.332: 186 MB)
CHUNK = 1 << 20
PROGRESS_EVERY = 32 << 20
STEP = "claude code"
CONNECT_TIMEOUT, READ_TIMEOUT = 30.0, 60.0  # seconds, for the download
MARKER = ".complete"


class PlatformPin(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    package: Annotated[str, Field(pattern=r"^@[a-z0-9-]+/[a-z0-9.-]+$")]
    integrity: Annotated[str, Field(pattern=r"^sha512-[A-Za-z0-9+/]{86}==$")]


class ClaudeCodePin(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$")]
    platforms: dict[str, PlatformPin]

    def platform(self, arch: str) -> PlatformPin:
        try:
            return self.platforms[arch]
        except KeyError:
            raise ImageBuildError(
                STEP, f"no Claude Code package pinned for the Docker engine's architecture "
                      f"{arch!r} (pinned: {', '.join(sorted(self.platforms))})",
            ) from None


class CachedBinary(BaseModel):
    """The ``.complete`` marker of a cached binary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    arch: str
    integrity: str
    sha256: str


def pin_path() -> Path:
    return images_dir() / "claude-code" / PIN_NAME


def load_pin(path: Path | None = None) -> ClaudeCodePin:
    path = path or pin_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return ClaudeCodePin.model_validate(data)
    except OSError as exc:
        raise ImageBuildError(STEP, f"{path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ImageBuildError(STEP, f"{path}: {exc}") from None
    except ValidationError as exc:
        raise ImageBuildError(STEP, f"{path}: {first_error(exc)}") from None


def registry_url() -> str:
    for name in (REGISTRY_ENV, NPM_REGISTRY_ENV):
        value = os.environ.get(name, "").strip()
        if value:
            return value.rstrip("/")
    return DEFAULT_REGISTRY


def tarball_url(registry: str, package: str, version: str) -> str:
    """The npm registry's tarball path: ``<registry>/@scope/name/-/name-<version>.tgz``."""
    return f"{registry.rstrip('/')}/{package}/-/{package.rsplit('/', 1)[-1]}-{version}.tgz"


def shown(url: str) -> str:
    """The URL without credentials (a registry URL may carry them)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def binary_dir(version: str, arch: str) -> Path:
    return cache_root() / "claude-code" / f"{version}-{arch}"


def cached_binary(arch: str, pin: ClaudeCodePin | None = None) -> CachedBinary | None:
    """The marker of the pinned binary when it is cached for ``arch`` and matches the pin."""
    pin = pin or load_pin()
    target = binary_dir(pin.version, arch)
    try:
        marker = CachedBinary.model_validate_json((target / MARKER).read_bytes())
    except (OSError, ValidationError):
        return None
    expected = pin.platforms.get(arch)
    if expected is None or marker.integrity != expected.integrity or \
            marker.version != pin.version or marker.arch != arch:
        return None
    return marker if (target / "claude").is_file() else None


def _integrity(digest: bytes) -> str:
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def _download(url: str, dest: Path, progress: Progress) -> str:
    """Stream ``url`` into ``dest``; the sha512 integrity string of what was written."""
    digest = hashlib.sha512()
    done = 0
    next_report = PROGRESS_EVERY
    started = time.monotonic()
    import httpx  # here: every run imports this module (the image check), few download

    timeout = httpx.Timeout(CONNECT_TIMEOUT, read=READ_TIMEOUT)
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as resp:
            if resp.status_code != 200:
                raise ImageBuildError(STEP, f"GET {shown(url)}: HTTP {resp.status_code}")
            total = int(resp.headers.get("content-length") or 0)
            if total > MAX_TARBALL:
                raise ImageBuildError(STEP, f"GET {shown(url)}: {total} bytes, more than "
                                            f"the {MAX_TARBALL} allowed")
            with dest.open("wb") as out:
                for chunk in resp.iter_bytes(CHUNK):
                    done += len(chunk)
                    if done > MAX_TARBALL:
                        raise ImageBuildError(STEP, f"GET {shown(url)}: more than the "
                                                    f"{MAX_TARBALL} bytes allowed")
                    digest.update(chunk)
                    out.write(chunk)
                    if done >= next_report:
                        next_report += PROGRESS_EVERY
                        of = f" of {total >> 20} MiB" if total else ""
                        progress(f"downloaded {done >> 20} MiB{of}")
    except httpx.HTTPError as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ImageBuildError(STEP, f"GET {shown(url)}: {detail}") from None
    progress(f"downloaded {done >> 20} MiB in {time.monotonic() - started:.1f}s")
    return _integrity(digest.digest())


def extract_binary(tarball: Path, dest: Path) -> str:
    """Write the tarball's ``package/claude`` to ``dest`` (mode 0755); its sha256. One pass
    over the (already verified) tarball.

    Refused: no such member, more than one, one that is not a regular file (a symlink, a
    hard link, a device...), or one larger than :data:`MAX_BINARY`."""
    sha256: str | None = None
    try:
        with tarfile.open(tarball, mode="r|gz") as tar:
            for member in tar:
                if member.name.removeprefix("./") != MEMBER:
                    continue
                if sha256 is not None:
                    raise ImageBuildError(STEP, f"{tarball.name}: more than one {MEMBER}; refused")
                sha256 = _extract_member(tar, member, tarball.name, dest)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise ImageBuildError(STEP, f"{tarball.name}: not a readable npm tarball: "
                                    f"{' '.join(str(exc).split())}") from None
    if sha256 is None:
        raise ImageBuildError(STEP, f"{tarball.name}: no {MEMBER} in the package")
    dest.chmod(0o755)
    return sha256


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, name: str, dest: Path) -> str:
    if not member.isreg():
        kind = "a symlink" if member.issym() else "a hard link" if member.islnk() \
            else "not a regular file"
        raise ImageBuildError(STEP, f"{name}: {MEMBER} is {kind}; refused")
    if member.size > MAX_BINARY:
        raise ImageBuildError(STEP, f"{name}: {MEMBER} is {member.size} bytes, more than the "
                                    f"{MAX_BINARY} allowed")
    source = tar.extractfile(member)
    if source is None:
        raise ImageBuildError(STEP, f"{name}: {MEMBER} cannot be read")
    digest = hashlib.sha256()
    written = 0
    with source, dest.open("wb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > MAX_BINARY:
                raise ImageBuildError(STEP, f"{name}: {MEMBER} is larger than the "
                                            f"{MAX_BINARY} bytes allowed")
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def ensure_claude_code(arch: str, progress: Progress) -> Path:
    """The pinned Claude Code binary for ``arch`` (a Docker engine architecture: x86_64,
    aarch64), from the cache, else downloaded, verified and cached."""
    pin = load_pin()
    target = binary_dir(pin.version, arch)
    if cached_binary(arch, pin) is not None:
        return target / "claude"
    platform = pin.platform(arch)
    url = tarball_url(registry_url(), platform.package, pin.version)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        progress(f"==> downloading Claude Code {pin.version} ({arch}) from {shown(url)}")
        tarball = tmp / "package.tgz"
        got = _download(url, tarball, progress)
        if not hmac.compare_digest(got, platform.integrity):
            raise ImageBuildError(
                STEP, f"{shown(url)}: integrity mismatch: expected {platform.integrity} "
                      f"(pinned in {PIN_NAME}), got {got}")
        sha256 = extract_binary(tarball, tmp / "claude")
        tarball.unlink()
        marker = CachedBinary(version=pin.version, arch=arch, integrity=platform.integrity,
                              sha256=sha256)
        (tmp / MARKER).write_text(json.dumps(marker.model_dump()) + "\n", encoding="utf-8")
        tmp.chmod(0o755)
        shutil.rmtree(target, ignore_errors=True)  # a stale copy of another pin's download
        try:
            tmp.rename(target)
        except OSError:  # a concurrent build won the race
            if cached_binary(arch, pin) is None:
                raise
        progress(f"==> Claude Code {pin.version} verified ({platform.integrity[:19]}…) "
                 f"and cached at {target}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target / "claude"


def probe_registry(arch: str, timeout: float = 10.0) -> str | None:
    """None when the pinned tarball's URL answers; else why not (one line)."""
    pin = load_pin()
    url = tarball_url(registry_url(), pin.platform(arch).package, pin.version)
    import httpx

    try:
        resp = httpx.head(url, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as exc:
        return f"{shown(url)}: {' '.join(str(exc).split()) or type(exc).__name__}"
    return None if resp.status_code == 200 else f"{shown(url)}: HTTP {resp.status_code}"
