"""The sandbox user's way into the project: checked before the run, granted only for it.

The container sees the project at ``/workspace`` with the project directory's own mode: a
root-owned ``0700`` directory (what ``mktemp -d`` makes) shuts the sandbox uid out of
everything below it. The run never loosens that mode. When the sandbox uid cannot list and
enter the project directory, one POSIX ACL entry (``user:<uid>:r-x``) is added to that one
directory while a container runs, and the exact ACL and mode it had are put back afterwards.
Nobody else gains anything: the owning group's and others' entries are unchanged (``ls -l``
shows the ACL mask in the group bits while the entry is there). A record in
``.sandbox-runner/`` (masked in the container) lets the next run undo a grant that a killed
runner left behind, when nobody changed the directory's ACL since.

When the grant is impossible (the runner is neither root nor the directory's owner, or the
filesystem has no ACLs), or a directory on the way to a writable path shuts the sandbox user
out, :func:`check_project_access` stops the run before anything is written or started:
:class:`EnvironmentProblem` (exit 4) with a one-line fix.

Permissions are judged from the mode bits (owner, group, other) of the uid:gid the container
runs as, the way the kernel does when a directory has no ACL.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import stat
import struct
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from runner.errors import EnvironmentProblem

ACL_XATTR = "system.posix_acl_access"
RECORD_NAME = "access-grant.json"
RUNNER_STATE = ".sandbox-runner"

_VERSION = 2
_USER_OBJ, _USER, _GROUP_OBJ, _GROUP, _MASK, _OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_NO_ID = 0xFFFFFFFF
_READ_ENTER = 0o5  # r-x
_ENTER = 0o1  # --x

Entry = tuple[int, int, int]  # (tag, perm, id)


def mode_allows(st: os.stat_result, uid: int, gid: int, want: int) -> bool:
    """Do the mode bits give uid:gid every bit of ``want`` (0o4 read, 0o1 enter)?"""
    if st.st_uid == uid:
        bits = st.st_mode >> 6
    elif st.st_gid == gid:
        bits = st.st_mode >> 3
    else:
        bits = st.st_mode
    return bits & want == want


def _fix(project: Path, uid: int) -> str:
    return f"run `setfacl -m u:{uid}:rx {project}` or `chmod o+rx {project}`"


def check_project_access(project: Path, uid: int, gid: int, writable: list[str]) -> bool:
    """Can the sandbox uid reach the project and its writable paths? Changes nothing.

    Returns whether the project directory needs the run's ACL grant; raises
    EnvironmentProblem (exit 4, one line with the fix) when the run cannot work.
    """
    project = project.resolve()
    st = os.stat(project)
    grant = not mode_allows(st, uid, gid, _READ_ENTER)
    if grant:
        why = _grant_impossible(project, st)
        if why:
            raise EnvironmentProblem(
                f"the sandbox user (uid {uid}) cannot enter {project} (mode "
                f"{stat.S_IMODE(st.st_mode):04o}, owner uid {st.st_uid}) and {why}: "
                f"{_fix(project, uid)}")
    for raw in writable:
        parts = [p for p in PurePosixPath(raw).parts if p not in ("", ".", "/")]
        here = project
        for part in parts[:-1]:  # the entry itself is lent to the sandbox uid
            here = here / part
            try:
                ast = os.lstat(here)
            except OSError:
                break  # missing: created by the run (0755 under the usual umask); else unknowable
            if stat.S_ISDIR(ast.st_mode) and not mode_allows(ast, uid, gid, _ENTER):
                raise EnvironmentProblem(
                    f"the sandbox user (uid {uid}) cannot reach the writable path {raw}: "
                    f"{here} is mode {stat.S_IMODE(ast.st_mode):04o}, owner uid {ast.st_uid}; "
                    f"run `chmod o+x {here}`")
    return grant


def _grant_impossible(project: Path, st: os.stat_result) -> str | None:
    if os.geteuid() not in (0, st.st_uid):
        return "only root or its owner can grant the sandbox user access for the run"
    try:
        _read_acl(project)
    except OSError as exc:
        return f"its filesystem has no ACLs ({exc.strerror or exc})"
    return None


def _read_acl(path: Path) -> bytes | None:
    """The directory's access ACL (raw xattr), None when it has none."""
    try:
        return os.getxattr(path, ACL_XATTR, follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.ENODATA:
            return None
        raise


def _entries(raw: bytes | None, mode: int) -> list[Entry]:
    if raw is None:  # the ACL the mode bits stand for
        return [(_USER_OBJ, (mode >> 6) & 7, _NO_ID), (_GROUP_OBJ, (mode >> 3) & 7, _NO_ID),
                (_OTHER, mode & 7, _NO_ID)]
    if len(raw) < 4 or (len(raw) - 4) % 8 or struct.unpack_from("<I", raw)[0] != _VERSION:
        raise ValueError("unknown POSIX ACL format")
    return [struct.unpack_from("<HHI", raw, 4 + 8 * i) for i in range((len(raw) - 4) // 8)]


def with_user_entry(raw: bytes | None, mode: int, uid: int, perm: int) -> bytes:
    """``raw`` (or the mode's ACL) with ``user:uid`` given ``perm`` too; the mask recomputed."""
    table: dict[tuple[int, int], int] = {}
    for tag, p, ident in _entries(raw, mode):
        if tag != _MASK:
            table[(tag, ident if tag in (_USER, _GROUP) else _NO_ID)] = p
    table[(_USER, uid)] = table.get((_USER, uid), 0) | perm
    table[(_MASK, _NO_ID)] = 0
    for (tag, _ident), p in table.items():
        if tag in (_USER, _GROUP, _GROUP_OBJ):
            table[(_MASK, _NO_ID)] |= p
    body = b"".join(struct.pack("<HHI", tag, p, ident) for (tag, ident), p in sorted(table.items()))
    return struct.pack("<I", _VERSION) + body


def _restore(project: Path, mode: int, original: bytes | None) -> None:
    if original is None:
        with contextlib.suppress(OSError):  # ENODATA: nothing to remove
            os.removexattr(project, ACL_XATTR, follow_symlinks=False)
    else:
        os.setxattr(project, ACL_XATTR, original, follow_symlinks=False)
    os.chmod(project, stat.S_IMODE(mode))  # the mask had changed the group bits


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes | None:
    return base64.b64decode(text) if isinstance(text, str) else None


def undo_left_grant(project: Path) -> None:
    """Put back what a grant left by a killed runner changed (if nobody changed it since)."""
    record = project / RUNNER_STATE / RECORD_NAME
    try:
        if record.is_symlink() or not record.is_file():
            return
        data = json.loads(record.read_text(encoding="utf-8"))
        granted = _unb64(data.get("granted"))
        if granted is not None and _read_acl(project) == granted:
            _restore(project, int(data["mode"]), _unb64(data.get("original")))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    with contextlib.suppress(FileNotFoundError):
        record.unlink()


@contextlib.contextmanager
def project_access(project: Path, uid: int, gid: int) -> Iterator[bool]:
    """For the block: the sandbox uid can list and enter the project directory.

    Yields whether an ACL entry was granted; the exact ACL and mode are always put back.
    """
    project = project.resolve()
    undo_left_grant(project)
    st = os.stat(project)
    if mode_allows(st, uid, gid, _READ_ENTER):
        yield False
        return
    original = _read_acl(project)
    granted = with_user_entry(original, st.st_mode, uid, _READ_ENTER)
    state = project / RUNNER_STATE
    state.mkdir(exist_ok=True)
    record = state / RECORD_NAME
    record.write_text(json.dumps({"mode": stat.S_IMODE(st.st_mode), "original": _b64(original),
                                  "granted": _b64(granted), "uid": uid}), encoding="utf-8")
    try:
        os.setxattr(project, ACL_XATTR, granted, follow_symlinks=False)
    except OSError as exc:
        record.unlink()
        raise EnvironmentProblem(
            f"cannot grant the sandbox user (uid {uid}) access to {project}: "
            f"{exc.strerror or exc}; {_fix(project, uid)}") from None
    try:
        yield True
    finally:
        _restore(project, st.st_mode, original)
        record.unlink(missing_ok=True)  # kept when the restore failed: the next run retries
