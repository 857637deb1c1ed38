"""What the agent changed under ``backend/``: a before/after snapshot diff.

The runner snapshots ``backend/`` just before the agent starts and compares
it with the tree after the run. This is used for git repositories too, on
purpose: ``git diff`` against HEAD would attribute the user's own
uncommitted edits to the agent, and showing untracked files through git
needs ``git add -N``, which changes the user's index. The snapshot sees
exactly the agent's run, and needs nothing but the files.

The output is git-style unified diff text (``diff --git a/... b/...``,
``new file mode``, ``deleted file mode``, ``Binary files ... differ``), so
``git apply`` and review tools understand it. Symlinks are recorded by their
target and never followed; special files (fifos, sockets, devices) are noted
but never opened; caches (``__pycache__``, ``*.pyc``, ``.pytest_cache``) are
left out.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

MAX_TEXT_BYTES = 1024 * 1024  # larger files are compared by hash only
MAX_HASH_BYTES = 256 * 1024 * 1024  # larger files are compared by size and mtime
MAX_FILES = 20_000
MAX_DIFF_CHARS = 5 * 1024 * 1024
IGNORED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
IGNORED_SUFFIXES = (".pyc", ".pyo")


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


def _read_state(path: Path, st: os.stat_result) -> FileState:
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        target = os.readlink(path)
        return FileState("symlink", hashlib.sha256(target.encode("utf-8", "surrogateescape"))
                         .hexdigest(), size=len(target), target=target)
    if not stat.S_ISREG(mode):
        return FileState("special", "", size=0)
    executable = bool(mode & 0o111)
    if st.st_size > MAX_HASH_BYTES:
        return FileState("file", f"size:{st.st_size}:mtime:{st.st_mtime_ns}", size=st.st_size,
                         executable=executable, binary=True)
    digest = hashlib.sha256()
    head = b""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # swapped after lstat
            return FileState("special", "", size=0)
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


def snapshot_tree(root: Path) -> Snapshot:
    """Record every file under ``root`` (missing root: an empty snapshot)."""
    snap = Snapshot(root=root)
    if not root.is_dir() or root.is_symlink():
        return snap
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
        base = Path(dirpath)
        # directory symlinks are listed in dirnames but not descended: record them as links
        names = sorted(filenames) + [d for d in dirnames if (base / d).is_symlink()]
        for name in names:
            if name.endswith(IGNORED_SUFFIXES):
                continue
            if len(snap.files) >= MAX_FILES:
                snap.truncated = True
                return snap
            path = base / name
            try:
                st = path.lstat()
                state = _read_state(path, st)
            except OSError:
                continue  # vanished or unreadable: not part of the snapshot
            snap.files[path.relative_to(root).as_posix()] = state
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
        if size + len(text) > MAX_DIFF_CHARS:
            result.truncated = True
            continue
        chunks.append(text)
        size += len(text)
    result.diff = "".join(chunks)
    return result


def diff_backend(project: Path, before: Snapshot, *, subdir: str = "backend") -> BackendDiff:
    """What changed under ``project/subdir`` since ``before`` was taken."""
    return diff_snapshots(before, snapshot_tree(project / subdir), prefix=subdir)
