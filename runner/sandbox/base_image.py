"""The base image every layer is built on, and the host cache the builds share.

``cfg.base_image`` (default ``python:3.11-slim``) when present locally; else the
bootstrapped ``sandbox-runner-base:bookworm`` when present; else a pull of ``cfg.base_image``
is tried, and when that fails (no registry) a Debian base is made with ``debootstrap`` and
``docker import``. Split from :mod:`runner.sandbox.image`, which re-exports these names.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import APIError, DockerException, ImageNotFound
from requests.exceptions import RequestException

from runner.config import DockerSandboxConfig
from runner.errors import ImageBuildError
from runner.resources import cache_root as cache_root
from runner.sandbox.docker_client import one_line

Progress = Callable[[str], None]

BOOTSTRAP_BASE = "sandbox-runner-base:bookworm"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR_ENV = "SANDBOX_RUNNER_DEBIAN_MIRROR"
DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBOOTSTRAP_PACKAGES = ("python3", "python3-venv", "git", "ca-certificates")


def noop(_: str) -> None:
    return None


@dataclass(frozen=True)
class BaseImage:
    """An image another layer is built on (a base, or the runtime layer)."""

    ref: str
    id: str
    bootstrapped: bool


def local_image(client: docker.DockerClient, ref: str) -> BaseImage | None:
    try:
        image = client.images.get(ref)
    except ImageNotFound:
        return None
    except APIError as exc:
        raise ImageBuildError("base image", one_line(exc)) from None
    return BaseImage(ref=ref, id=str(image.id), bootstrapped=ref == BOOTSTRAP_BASE)


def local_base(
    client: docker.DockerClient, cfg: DockerSandboxConfig, *, fallback: bool = True,
) -> BaseImage | None:
    local = local_image(client, cfg.base_image)
    if local is None and fallback:
        local = local_image(client, BOOTSTRAP_BASE)
    return local


def try_pull(ref: str, progress: Progress, timeout: int = 30) -> bool:
    repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    progress(f"==> pulling base image {ref}")
    try:
        puller = docker.from_env(timeout=timeout)
        puller.images.pull(repo, tag=tag)
    except (DockerException, RequestException, OSError) as exc:
        progress(f"pull failed: {one_line(exc)}")
        return False
    return True


def stream_process(cmd: list[str], progress: Progress, *, step: str) -> None:
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
        stream_process(
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
        stream_process(
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
    base = local_image(client, BOOTSTRAP_BASE)
    if base is None:
        raise ImageBuildError("docker import", f"{BOOTSTRAP_BASE} missing after import")
    return base


def resolve_base(
    client: docker.DockerClient, cfg: DockerSandboxConfig, progress: Progress, *,
    fallback: bool = True, force_pull: bool = False,
) -> BaseImage:
    """The base image to build on, pulling or bootstrapping it when none is present."""
    local = local_image(client, cfg.base_image)
    if local is not None:
        return local
    if not force_pull and fallback:
        boot = local_image(client, BOOTSTRAP_BASE)
        if boot is not None:
            return boot
    if try_pull(cfg.base_image, progress):
        pulled = local_image(client, cfg.base_image)
        if pulled is not None:
            return pulled
    if not fallback:
        raise ImageBuildError("base image", f"{cfg.base_image} is not present and cannot be pulled")
    return local_image(client, BOOTSTRAP_BASE) or bootstrap_base(client, progress)
