"""Who the sandbox runs as, and handing the writable paths to that uid and back.

The container runs as the project owner's uid:gid, so what the agent writes belongs to the
user. When the owner is root (CI runners often are) it runs as the configured fallback uid
(10001) instead: before the run the writable entries are chowned to it so the agent can write,
and afterwards everything under them goes back to its recorded owner (files the agent made go
to the project owner). The sandbox never runs as uid 0.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from runner.config import DockerSandboxConfig
from runner.errors import ProjectError
from runner.sandbox.spec import prepare_writable


class SandboxIdentity(BaseModel):
    uid: int
    gid: int
    owner_uid: int
    owner_gid: int

    @property
    def handed_over(self) -> bool:
        """True when the writable paths must be lent to the sandbox uid for the run."""
        return (self.uid, self.gid) != (self.owner_uid, self.owner_gid)


def sandbox_identity(project: Path, cfg: DockerSandboxConfig) -> SandboxIdentity:
    """The project owner's uid:gid, or the fallback when the owner is root."""
    try:
        st = project.stat()
    except OSError as exc:
        raise ProjectError(exc.strerror or str(exc), path=project) from None
    uid, gid = st.st_uid, st.st_gid
    if uid == 0 or gid == 0:
        uid, gid = cfg.fallback_uid, cfg.fallback_gid
    if uid == 0 or gid == 0:
        raise ProjectError("fallback_uid/fallback_gid must not be 0: the sandbox never runs as root")
    return SandboxIdentity(uid=uid, gid=gid, owner_uid=st.st_uid, owner_gid=st.st_gid)


def _walk(root: Path) -> Iterator[Path]:
    """root and everything below it, without following symlinks."""
    yield root
    if root.is_symlink() or not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in (*dirnames, *filenames):
            yield here / name


def _lchown(path: Path, uid: int, gid: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.lchown(path, uid, gid)


@contextlib.contextmanager
def writable_ownership(
    project: Path, writable: list[str], uid: int, gid: int,
) -> Iterator[dict[str, tuple[int, int]]]:
    """Lend the writable entries to uid:gid for the block; always hand them back.

    Yields the recorded original owners (relative path -> (uid, gid)) of what was changed.
    A no-op when every entry already belongs to uid:gid. Symlinks are never followed.
    """
    project = project.resolve()
    owner = project.stat()
    roots = [host for _, host in prepare_writable(project, writable)]
    recorded: dict[str, tuple[int, int]] = {}
    try:
        for root in roots:
            for path in _walk(root):
                st = os.lstat(path)
                if (st.st_uid, st.st_gid) != (uid, gid):
                    recorded[path.relative_to(project).as_posix()] = (st.st_uid, st.st_gid)
                    os.lchown(path, uid, gid)
    except PermissionError as exc:
        _restore(project, roots, recorded, uid, (owner.st_uid, owner.st_gid))
        raise ProjectError(
            f"cannot hand {exc.filename} to uid {uid}: {exc.strerror} (run as root or as the "
            "project owner)", path=project,
        ) from None
    try:
        yield recorded
    finally:
        _restore(project, roots, recorded, uid, (owner.st_uid, owner.st_gid))


def _restore(
    project: Path, roots: list[Path], recorded: dict[str, tuple[int, int]], uid: int,
    owner: tuple[int, int],
) -> None:
    if not recorded and owner[0] == uid:
        return
    for root in roots:
        for path in _walk(root):
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            rel = path.relative_to(project).as_posix()
            if rel in recorded:
                _lchown(path, *recorded[rel])
            elif st.st_uid == uid and not stat.S_ISSOCK(st.st_mode):
                _lchown(path, *owner)  # made by the agent: it belongs to the project owner
