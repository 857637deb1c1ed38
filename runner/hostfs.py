"""The one place the host reads files under the workspace on the agent's behalf.

Everything under the project's writable paths is written by the agent, and the agent can
change it between any two system calls of the host: a regular file becomes a symlink to
``/proc/self/environ``, a directory becomes a FIFO. So the host never opens a workspace path
by name. :class:`WorkspaceFS` holds a directory handle on the project root and walks every
path one component at a time relative to it:

- each component is opened with ``O_NOFOLLOW`` (a symlink anywhere fails the open with
  ``ELOOP``; nothing is followed, ever) and ``O_NONBLOCK`` (a FIFO or device never blocks
  the opener), directories with ``O_DIRECTORY``;
- what was opened is checked with ``fstat`` on the descriptor (not ``stat`` on the name), so
  the check and the read are about the same inode: a regular file for reads, a directory
  for listings;
- reads are size-capped (``max_bytes``); a larger file is refused, not truncated silently;
- masked paths (secret files and directories, the runner's own ``.sandbox-runner/``) are
  refused before anything is opened: the host never reads on the agent's behalf what the
  container cannot see.

Paths are workspace-relative POSIX strings (``backend/app.py``); ``..`` and absolute paths
are refused. Every refusal is a :class:`HostReadRefused` (an ``OSError``) with a short
reason that never contains file content.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from runner.errors import RunnerError

DEFAULT_MAX_BYTES = 1 << 20  # 1 MiB
MAX_COMPONENTS = 256  # deeper paths are refused (Linux's PATH_MAX allows ~2,000)
MAX_HELD_DIRS = 128  # directory handles holding_dirs keeps open at most (then opens per look)
RUNNER_STATE = ".sandbox-runner"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


class HostReadRefused(RunnerError, OSError):
    """The host refused to read a workspace path on the agent's behalf."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        OSError.__init__(self, errno.EPERM, f"{path}: {reason}")

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One directory entry as lstat saw it through the parent's handle (never followed)."""

    name: str
    path: str  # workspace-relative
    kind: str  # "file" | "dir" | "symlink" | "other"
    size: int
    mode: int
    nlink: int


def entry_kind(mode: int) -> str:
    """An ``Entry.kind`` from an ``st_mode``."""
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def split_rel(path: str) -> list[str]:
    """Components of a workspace-relative path; refuses ``..``, absolute and too deep paths."""
    if path.startswith("/"):
        raise HostReadRefused(path, "absolute path")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise HostReadRefused(path, "'..' component")
    if len(parts) > MAX_COMPONENTS:
        raise HostReadRefused(path[:80] + "...", f"more than {MAX_COMPONENTS} components")
    if "\x00" in path:  # in a component: "" and "." cannot hold it
        raise HostReadRefused(path.replace("\x00", "?"), "NUL byte")
    return parts


class WorkspaceFS:
    """No-follow, non-blocking, size-capped access to one workspace directory.

    ``is_masked(rel)`` answers whether a workspace-relative path (directories with a trailing
    ``/``) is hidden in the container; masked paths and everything under them are refused.
    """

    def __init__(
        self, root: Path, *, is_masked: Callable[[str], bool] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._is_masked = is_masked or (lambda _rel: False)
        self._held: dict[tuple[str, ...], int] | None = None  # see holding_dirs

    @contextlib.contextmanager
    def holding_dirs(self) -> Iterator[WorkspaceFS]:
        """Within the block, every directory on the way to a path is opened (no link
        followed, as always) once and its handle kept, then closed at the end: looks at many
        paths under one directory open it once, not once per look.

        A kept handle is the directory that was there when it was first opened: hold them
        for one set of looks that makes one answer (one decision's derivation), never across
        answers. At most ``MAX_HELD_DIRS`` are kept (then paths are opened per look again).
        Not safe across threads; not reentrant."""
        if self._held is not None:
            raise RuntimeError("holding_dirs is not reentrant")
        self._held = {}
        try:
            yield self
        finally:
            held, self._held = self._held, None
            for fd in held.values():
                os.close(fd)

    # --- masks ---------------------------------------------------------------------------

    def masked(self, path: str) -> bool:
        """Whether ``path`` or any directory above it is masked (or is the runner's state)."""
        parts = split_rel(path)
        if parts and parts[0] == RUNNER_STATE:
            return True
        rel = ""
        for part in parts:
            rel = f"{rel}/{part}" if rel else part
            if self._is_masked(rel) or self._is_masked(rel + "/"):
                return True
        return False

    def _masked_entry_of(self, parts: list[str], name: str, rel: str) -> bool:
        """``masked(rel)`` for the entry ``name`` of the directory ``parts``, known not masked."""
        if not parts and name == RUNNER_STATE:
            return True
        return self._is_masked(rel) or self._is_masked(rel + "/")

    # --- opening -------------------------------------------------------------------------

    def _open_root(self) -> int:
        try:
            return os.open(self.root, _DIR_FLAGS)
        except OSError as exc:
            raise HostReadRefused(".", f"workspace not openable: {exc.strerror}") from None

    def _dir(self, parts: list[str], shown: str) -> tuple[int, bool]:
        """(a descriptor of the directory ``parts``, whether the caller closes it): a kept
        one while holding_dirs keeps them, else a new one."""
        held = self._held
        if held is not None and (len(held) + len(parts) < MAX_HELD_DIRS or tuple(parts) in held):
            return self._held_dir(parts, shown), False
        return self._open_dir(parts, shown), True

    def _open_dir(self, parts: list[str], shown: str) -> int:
        """A new descriptor of the directory ``parts`` (relative to the root), no link
        followed. The caller closes it."""
        fd = self._open_root()
        try:
            for comp in parts:
                try:
                    nxt = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    raise HostReadRefused(shown, _why(exc)) from None
                os.close(fd)
                fd = nxt
            return fd
        except BaseException:
            os.close(fd)
            raise

    def _held_dir(self, parts: list[str], shown: str) -> int:
        """The kept handle of the directory ``parts``, opening what is not kept yet from its
        deepest kept ancestor (the root first), one component at a time."""
        assert self._held is not None
        key = tuple(parts)
        fd = self._held.get(key)
        if fd is not None:
            return fd
        depth = len(parts)
        while depth > 0 and tuple(parts[:depth]) not in self._held:
            depth -= 1
        if depth == 0 and () not in self._held:
            self._held[()] = self._open_root()
        fd = self._held[tuple(parts[:depth])]
        for i in range(depth, len(parts)):
            try:
                fd = os.open(parts[i], _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise HostReadRefused(shown, _why(exc)) from None
            self._held[tuple(parts[: i + 1])] = fd
        return fd

    def _open_file(self, path: str) -> tuple[int, os.stat_result]:
        parts = split_rel(path)
        if not parts:
            raise HostReadRefused(path or ".", "not a regular file")
        if self.masked(path):
            raise HostReadRefused(path, "masked in the sandbox")
        parent, owned = self._dir(parts[:-1], path)
        try:
            try:
                fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=parent)
            except OSError as exc:
                raise HostReadRefused(path, _why(exc)) from None
        finally:
            if owned:
                os.close(parent)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise HostReadRefused(path, f"not a regular file ({entry_kind(st.st_mode)})")
        return fd, st

    # --- reading -------------------------------------------------------------------------

    def read_bytes(self, path: str, *, max_bytes: int | None = None) -> bytes:
        """The bytes of a regular file; refused when larger than ``max_bytes``."""
        cap = self.max_bytes if max_bytes is None else max_bytes
        fd, st = self._open_file(path)
        try:
            if st.st_size > cap:
                raise HostReadRefused(path, f"larger than {cap} bytes")
            chunks: list[bytes] = []
            got = 0
            while True:
                chunk = os.read(fd, min(65536, cap + 1 - got))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
                if got > cap:  # it grew while we read
                    raise HostReadRefused(path, f"larger than {cap} bytes")
            return b"".join(chunks)
        finally:
            os.close(fd)

    def open_file(self, path: str) -> tuple[int, os.stat_result]:
        """A read-only descriptor of the regular file ``path`` and its fstat, for callers that
        stream (hashing, reading a bounded prefix). The caller closes the descriptor."""
        return self._open_file(path)

    def read_text(self, path: str, *, max_bytes: int | None = None) -> str:
        return self.read_bytes(path, max_bytes=max_bytes).decode("utf-8", "replace")

    def try_read_text(self, path: str, *, max_bytes: int | None = None) -> str | None:
        """``read_text`` or None when refused (missing, link, FIFO, masked, too large)."""
        try:
            return self.read_text(path, max_bytes=max_bytes)
        except HostReadRefused:
            return None

    def copy_file(self, path: str, dest: Path, *, max_bytes: int | None = None) -> int:
        """Copy a regular workspace file to a new host file ``dest`` (created exclusively,
        never through a link). Returns the number of bytes."""
        data = self.read_bytes(path, max_bytes=max_bytes)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return len(data)

    # --- metadata and listing ------------------------------------------------------------

    def lstat(self, path: str) -> os.stat_result:
        """lstat of a workspace path through its parent's handle (links reported, not followed)."""
        parts = split_rel(path)
        if not parts:
            fd = self._open_root()
            try:
                return os.fstat(fd)
            finally:
                os.close(fd)
        if self.masked(path):
            raise HostReadRefused(path, "masked in the sandbox")
        parent, owned = self._dir(parts[:-1], path)
        try:
            return os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        except OSError as exc:
            raise HostReadRefused(path, _why(exc)) from None
        finally:
            if owned:
                os.close(parent)

    def readlink(self, path: str) -> str:
        """The target of a symbolic link, read through its parent's handle (never followed)."""
        parts = split_rel(path)
        if not parts:
            raise HostReadRefused(".", "not a symbolic link")
        if self.masked(path):
            raise HostReadRefused(path, "masked in the sandbox")
        parent, owned = self._dir(parts[:-1], path)
        try:
            return os.readlink(parts[-1], dir_fd=parent)
        except OSError as exc:
            raise HostReadRefused(path, _why(exc) if exc.errno != errno.EINVAL
                                  else "not a symbolic link") from None
        finally:
            if owned:
                os.close(parent)

    def listdir(self, path: str = "", *, include_masked: bool = False) -> list[Entry]:
        """Entries of a directory (sorted by name); masked entries are left out, or with
        ``include_masked`` listed as the container shows them: an empty read-only file or
        directory (by the mask's kind; the masked inode itself is never looked at)."""
        parts = split_rel(path)
        if parts and self.masked(path):
            raise HostReadRefused(path, "masked in the sandbox")
        fd, owned = self._dir(parts, path or ".")
        try:
            names = sorted(os.listdir(fd))
            out: list[Entry] = []
            prefix = "/".join(parts) + "/" if parts else ""
            for name in names:
                rel = f"{prefix}{name}"
                if self._masked_entry_of(parts, name, rel):
                    if include_masked:
                        out.append(self._masked_entry(name, rel))
                    continue
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except OSError:
                    continue  # vanished meanwhile
                out.append(Entry(name, rel, entry_kind(st.st_mode), st.st_size, st.st_mode, st.st_nlink))
            return out
        finally:
            if owned:
                os.close(fd)

    def _masked_entry(self, name: str, rel: str) -> Entry:
        if rel == RUNNER_STATE or self._is_masked(rel + "/"):
            return Entry(name, rel, "dir", 0, stat.S_IFDIR | 0o555, 1)
        return Entry(name, rel, "file", 0, stat.S_IFREG | 0o444, 1)

    def walk(self, path: str = "", *, limit: int = 100_000,
             skip: Callable[[str], bool] | None = None) -> Iterator[Entry]:
        """Every entry under ``path``, depth first, never through a link, at most ``limit``
        entries (then :class:`HostReadRefused` is raised: the caller decides what that means)."""
        stack = [path]
        seen = 0
        while stack:
            here = stack.pop()
            try:
                entries = self.listdir(here)
            except HostReadRefused:
                if here == path:
                    raise
                continue  # replaced by a non-directory meanwhile
            for entry in entries:
                seen += 1
                if seen > limit:
                    raise HostReadRefused(path or ".", f"more than {limit} entries")
                if skip is not None and skip(entry.path):
                    continue
                yield entry
                if entry.kind == "dir":
                    stack.append(entry.path)


def _why(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link (never followed)"
    if exc.errno == errno.ENOTDIR:
        return "a component is not a directory (or is a link)"
    if exc.errno == errno.ENOENT:
        return "does not exist"
    if exc.errno == errno.EACCES:
        return "permission denied"
    return exc.strerror or type(exc).__name__
