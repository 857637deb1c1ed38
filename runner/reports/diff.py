"""What the agent changed under ``backend/``: a before/after snapshot diff.

The runner snapshots ``backend/`` just before the agent starts and compares
it with the tree after the run. This is used for git repositories too, on
purpose: ``git diff`` against HEAD would attribute the user's own
uncommitted edits to the agent, and showing untracked files through git
needs ``git add -N``, which changes the user's index. The snapshot sees
exactly the agent's run, and needs nothing but the files.

The output is git-style unified diff text (``diff --git a/... b/...``,
``new file mode``, ``deleted file mode``, ``Binary files ... differ``), so
``git apply`` and review tools understand it.

Everything under ``backend/`` is the agent's: both snapshots read it through
:class:`runner.hostfs.WorkspaceFS` (opened on the workspace, the parent of the
snapshot root), one component at a time relative to a directory handle.
Symlinks are recorded by their target and never followed; special files
(FIFOs, sockets, devices) are noted but never opened, so nothing blocks;
masked paths (the run's secret masks) are never listed or read. Bytecode
(``__pycache__``, ``*.pyc``) is part of the diff on purpose: a planted
``.pyc`` runs instead of its source, so it must show. Only inert tool caches
(``.pytest_cache``, ``.mypy_cache``, ``.ruff_cache``) are left out.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from runner.hostfs import Entry, HostReadRefused, WorkspaceFS

MAX_TEXT_BYTES = 1024 * 1024  # larger files are compared by hash only
MAX_HASH_BYTES = 256 * 1024 * 1024  # larger files are compared by size and mtime
MAX_FILES = 20_000
MAX_DIFF_CHARS = 5 * 1024 * 1024
IGNORED_DIRS = frozenset({".pytest_cache", ".mypy_cache", ".ruff_cache"})


def masked_by(secret_paths: Sequence[str]) -> Callable[[str], bool]:
    """The container's masks (``find_secret_paths``: files, directories with a trailing
    ``/``) as a :class:`WorkspaceFS` predicate: what the sandbox could not see is not read."""
    masks = frozenset(secret_paths)
    return lambda rel: rel in masks


@dataclass(frozen=True)
class FileState:
    kind: str  # "file", "symlink", "special"
    sha256: str  # content hash; for symlinks the hash of the target; "" for specials
    size: int = 0
    executable: bool = False
    text: str | None = None  # decoded content of small text files
    binary: bool = False
    target: str | None = None  # symlink target (never followed)


@dataclass
class Snapshot:
    root: Path
    files: dict[str, FileState] = field(default_factory=dict)  # posix path relative to root
    truncated: bool = False  # more than MAX_FILES files: the rest was not recorded


class BackendDiff(BaseModel):
    diff: str = ""
    files_added: list[str] = Field(default_factory=list)
    files_modified: list[str] = Field(default_factory=list)
    files_deleted: list[str] = Field(default_factory=list)
    lines_added: int = 0
    lines_removed: int = 0
    truncated: bool = False  # the diff text was cut at MAX_DIFF_CHARS (counts stay exact)
    total_lines: int = 0  # lines of the whole diff, shown or not
    files_shown: int = 0  # files whose diff is in ``diff``


def _read_state(fs: WorkspaceFS, entry: Entry) -> FileState | None:
    """The state of one entry (None: it vanished or was swapped for something unreadable)."""
    if entry.kind == "symlink":
        try:
            target = fs.readlink(entry.path)
        except HostReadRefused:
            return None
        return FileState("symlink", hashlib.sha256(target.encode("utf-8", "surrogateescape"))
                         .hexdigest(), size=len(target), target=target)
    if entry.kind != "file":
        return FileState("special", "", size=0)
    try:
        fd, st = fs.open_file(entry.path)  # no link followed, a FIFO never blocks
    except HostReadRefused:
        return None
    executable = bool(st.st_mode & 0o111)
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > MAX_HASH_BYTES:
            return FileState("file", f"size:{st.st_size}:mtime:{st.st_mtime_ns}",
                             size=st.st_size, executable=executable, binary=True)
        digest = hashlib.sha256()
        head = b""
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
            if len(head) <= MAX_TEXT_BYTES:
                head += chunk
    text: str | None = None
    binary = b"\0" in head[:8192]
    if not binary and len(head) <= MAX_TEXT_BYTES:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            binary = True
    return FileState("file", digest.hexdigest(), size=st.st_size, executable=executable,
                     text=text, binary=binary)


def snapshot_tree(root: Path, *, is_masked: Callable[[str], bool] | None = None) -> Snapshot:
    """Record every file under ``root`` (missing root, or not a directory: an empty snapshot).

    ``root``'s parent is the workspace: ``is_masked`` gets workspace-relative paths
    (``backend/.env``), as :class:`WorkspaceFS` does.
    """
    snap = Snapshot(root=root)
    fs = WorkspaceFS(root.parent, is_masked=is_masked)
    top = root.name
    try:
        if not stat.S_ISDIR(fs.lstat(top).st_mode):
            return snap
    except HostReadRefused:
        return snap
    stack = [top]
    while stack:
        here = stack.pop()
        try:
            entries = fs.listdir(here)
        except HostReadRefused:
            continue  # swapped for a non-directory meanwhile
        for entry in entries:
            if entry.kind == "dir":
                if entry.name not in IGNORED_DIRS:
                    stack.append(entry.path)
                continue
            if len(snap.files) >= MAX_FILES:
                snap.truncated = True
                return snap
            state = _read_state(fs, entry)
            if state is not None:
                snap.files[entry.path[len(top) + 1:]] = state
    return snap


def _lines(state: FileState | None) -> list[str]:
    if state is None or state.text is None:
        return []
    return state.text.splitlines(keepends=True)


def _mode(state: FileState) -> str:
    if state.kind == "symlink":
        return "120000"
    return "100755" if state.executable else "100644"


def _file_diff(name: str, old: FileState | None, new: FileState | None) -> tuple[str, int, int]:
    import difflib  # here: the snapshot before the run is taken without it (startup)

    a, b = f"a/{name}", f"b/{name}"
    out = [f"diff --git {a} {b}\n"]
    if old is None and new is not None:
        out.append(f"new file mode {_mode(new)}\n")
    elif new is None and old is not None:
        out.append(f"deleted file mode {_mode(old)}\n")
    elif old is not None and new is not None and _mode(old) != _mode(new):
        out.append(f"old mode {_mode(old)}\nnew mode {_mode(new)}\n")
    if old is not None and new is not None and old.sha256 == new.sha256:
        return "".join(out), 0, 0  # mode change only
    for state in (old, new):
        if state is not None and state.kind == "special":
            out.append(f"Special file {name} (not a regular file; contents not read)\n")
            return "".join(out), 0, 0
    old_text = old.target if old is not None and old.kind == "symlink" else None
    new_text = new.target if new is not None and new.kind == "symlink" else None
    if (old is not None and old.kind == "file" and old.text is None) or (
        new is not None and new.kind == "file" and new.text is None
    ):
        out.append(f"Binary files {a if old else '/dev/null'} and {b if new else '/dev/null'}"
                   " differ\n")
        return "".join(out), 0, 0
    old_lines = [old_text + "\n"] if old_text is not None else _lines(old)
    new_lines = [new_text + "\n"] if new_text is not None else _lines(new)
    added = removed = 0
    body: list[str] = []
    for line in difflib.unified_diff(
        old_lines, new_lines, fromfile=a if old else "/dev/null",
        tofile=b if new else "/dev/null", n=3,
    ):
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        if line.startswith("+") and not line.startswith("+++ "):
            added += 1
        elif line.startswith("-") and not line.startswith("--- "):
            removed += 1
        body.append(line)
    if not body and (old is None or new is None):  # an empty file added or deleted
        return "".join(out), 0, 0
    return "".join(out + body), added, removed


def diff_snapshots(before: Snapshot, after: Snapshot, *, prefix: str = "backend") -> BackendDiff:
    """Compare two snapshots; paths in the result are ``prefix/relative``."""
    result = BackendDiff()
    chunks: list[str] = []
    size = 0
    for rel in sorted(set(before.files) | set(after.files)):
        old, new = before.files.get(rel), after.files.get(rel)
        name = f"{prefix}/{rel}" if prefix else rel
        if old is not None and new is not None and old == new:
            continue
        if old is None:
            result.files_added.append(name)
        elif new is None:
            result.files_deleted.append(name)
        else:
            result.files_modified.append(name)
        text, added, removed = _file_diff(name, old, new)
        result.lines_added += added
        result.lines_removed += removed
        result.total_lines += text.count("\n")
        if size + len(text) > MAX_DIFF_CHARS:
            result.truncated = True
            continue
        chunks.append(text)
        result.files_shown += 1
        size += len(text)
    result.diff = "".join(chunks)
    result.truncated = result.truncated or before.truncated or after.truncated
    return result


def diff_backend(project: Path, before: Snapshot, *, subdir: str = "backend",
                 is_masked: Callable[[str], bool] | None = None) -> BackendDiff:
    """What changed under ``project/subdir`` since ``before`` was taken."""
    return diff_snapshots(before, snapshot_tree(project / subdir, is_masked=is_masked),
                          prefix=subdir)


def truncation_note(diff: BackendDiff) -> str:
    """The trailer written after a truncated diff (git apply ignores text after a patch)."""
    changed = len(diff.files_added) + len(diff.files_modified) + len(diff.files_deleted)
    return (f"\n# sandbox-runner: this diff is TRUNCATED: {diff.files_shown} of {changed} "
            f"changed files shown, {diff.total_lines} diff lines in all (see summary.json "
            f"changes); more than {MAX_FILES} files or {MAX_DIFF_CHARS} characters.\n")
