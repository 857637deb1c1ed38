"""Persistence artifacts: what the agent can leave under a writable path that runs code later.

The diff shows what the agent changed; some changes deserve a flag of their own because they
execute outside the review of the source: in the verification, in the user's next ``pytest``
or ``git status``, or in CI.

- ``bytecode``: ``*.pyc``/``*.pyo`` (in ``__pycache__`` or bare). An unchecked-hash ``.pyc``
  runs instead of the reviewed ``.py``; a bare one imports with no source at all.
- ``nested-git``: a ``.git`` directory or file below the writable root. Its config can run
  commands at the next ``git status`` (``core.fsmonitor``), its hooks at the next commit.
- ``pth``: ``*.pth`` files (their ``import`` lines run at start-up if the directory is ever
  a site directory).
- ``customize``: ``sitecustomize``/``usercustomize`` (imported at every interpreter start
  when on the path).
- ``symlink``: every link (never followed here; a tool that follows it reads elsewhere).
- ``new-executable``: a regular file whose executable bit was not there before the run.

Every artifact present after the run is listed (new or not: the detail says which, when the
before-snapshot covers it). The scan goes through :class:`WorkspaceFS`: nothing is followed,
nothing blocks, masked paths are not listed. Names and details are sanitized for display.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from runner.hostfs import Entry, HostReadRefused, WorkspaceFS, entry_kind
from runner.reports.diff import FileState, Snapshot
from runner.reports.summary import PersistenceArtifact, PersistenceKind
from runner.sanitize import one_line

MAX_ARTIFACTS = 1000
MAX_ENTRIES = 200_000
MAX_CONFIG_BYTES = 256 * 1024
BYTECODE_SUFFIXES = (".pyc", ".pyo")
CUSTOMIZE_NAMES = frozenset({"sitecustomize", "usercustomize"})
# git config keys that make git run a command (core.fsmonitor, filters, pagers, ...)
_GIT_RUNS = re.compile(
    r"^\s*(fsmonitor|hookspath|sshcommand|pager|editor|askpass|gitproxy|external|textconv"
    r"|clean|smudge|process|command|helper)\s*=", re.IGNORECASE | re.MULTILINE)


@dataclass
class PersistenceScan:
    artifacts: list[PersistenceArtifact] = field(default_factory=list)
    omitted: int = 0  # found beyond MAX_ARTIFACTS
    incomplete: str | None = None  # why part of the tree was not scanned


def _bytecode_detail(fs: WorkspaceFS, path: str) -> str:
    """What the .pyc header says about how Python validates it (PEP 552)."""
    try:
        fd, _st = fs.open_file(path)
    except HostReadRefused as exc:
        return f"not readable: {exc.reason}"
    try:
        head = os.read(fd, 16)
    finally:
        os.close(fd)
    if len(head) < 16:
        return "not a valid .pyc (short header)"
    (flags,) = struct.unpack("<I", head[4:8])
    if flags == 0:
        return "timestamp-based .pyc"
    if flags == 1:
        return "UNCHECKED-hash .pyc: Python runs it without looking at the source"
    if flags == 3:
        return "checked-hash .pyc"
    return f"unknown .pyc flags {flags}"


def _git_detail(fs: WorkspaceFS, entry: Entry) -> str:
    if entry.kind == "symlink":
        return "a symlink named .git"
    if entry.kind == "file":
        text = fs.try_read_text(entry.path, max_bytes=4096) or ""
        first = text.strip().splitlines()[:1]
        return "a .git file" + (f" ({first[0]})" if first else "")
    if entry.kind != "dir":
        return "a special file named .git"
    parts = ["a git repository"]
    config = fs.try_read_text(f"{entry.path}/config", max_bytes=MAX_CONFIG_BYTES) or ""
    keys = sorted({m.group(1).lower() for m in _GIT_RUNS.finditer(config)})
    if keys:
        parts.append("config runs commands: " + ", ".join(keys))
    try:
        hooks = [e.name for e in fs.listdir(f"{entry.path}/hooks")
                 if not e.name.endswith(".sample")]
    except HostReadRefused:
        hooks = []
    if hooks:
        parts.append("hooks: " + ", ".join(sorted(hooks)[:10]))
    return "; ".join(parts)


class _Scanner:
    def __init__(self, fs: WorkspaceFS, before: Snapshot | None, before_root: str) -> None:
        self.fs = fs
        self.before = before
        self.prefix = before_root.rstrip("/") + "/"
        self.scan = PersistenceScan()
        self.seen = 0

    def _before(self, path: str) -> FileState | bool | None:
        """The before-state of ``path``; None: not there before; False: not covered."""
        if self.before is None or not path.startswith(self.prefix):
            return False
        return self.before.files.get(path[len(self.prefix):])

    def _history(self, entry: Entry) -> str:
        old = self._before(entry.path)
        if old is False:
            return ""
        if old is None:
            return "new"
        assert isinstance(old, FileState)
        if old.kind == "symlink" and entry.kind == "symlink":
            try:
                same = self.fs.readlink(entry.path) == old.target
            except HostReadRefused:
                same = False
            return "present before the run" if same else "changed during the run"
        return "present before the run" if old.kind == entry.kind else "changed during the run"

    def add(self, entry: Entry, kind: PersistenceKind, detail: str) -> None:
        if len(self.scan.artifacts) >= MAX_ARTIFACTS:
            self.scan.omitted += 1
            return
        self.scan.artifacts.append(PersistenceArtifact(
            path=one_line(entry.path, 500), kind=kind, detail=one_line(detail, 500)))

    def _with_history(self, entry: Entry, detail: str) -> str:
        history = self._history(entry)
        return f"{history}; {detail}" if history else detail

    def entry(self, entry: Entry) -> bool:
        """Flag ``entry``; True when the walk should descend into it."""
        name = entry.name
        if name == ".git":
            self.add(entry, "nested-git", self._with_history(entry, _git_detail(self.fs, entry)))
            if entry.kind == "symlink":
                self.add(entry, "symlink", self._link_detail(entry))
            return False  # never walk into a repository's internals
        if entry.kind == "symlink":
            self.add(entry, "symlink", self._link_detail(entry))
            return False
        if entry.kind == "dir":
            if name in CUSTOMIZE_NAMES:
                self.add(entry, "customize", self._with_history(
                    entry, f"a {name} package: imported at interpreter start when on the path"))
            return True
        if entry.kind != "file":
            return False
        stem, dot, suffix = name.rpartition(".")
        if name.endswith(BYTECODE_SUFFIXES):
            self.add(entry, "bytecode",
                     self._with_history(entry, _bytecode_detail(self.fs, entry.path)))
        elif dot and suffix == "pth":
            self.add(entry, "pth", self._with_history(
                entry, "a .pth file: its import lines run at start-up in a site directory"))
        if dot and suffix == "py" and stem in CUSTOMIZE_NAMES:
            self.add(entry, "customize", self._with_history(
                entry, f"{name}: imported at every interpreter start when on the path"))
        if entry.mode & 0o111:
            old = self._before(entry.path)
            if old is False:
                self.add(entry, "new-executable", "executable (not covered by the before-snapshot)")
            elif old is None:
                self.add(entry, "new-executable", "a new executable file")
            elif isinstance(old, FileState) and not old.executable:
                self.add(entry, "new-executable", "executable bit added during the run")
        return False

    def _link_detail(self, entry: Entry) -> str:
        try:
            target = self.fs.readlink(entry.path)
        except HostReadRefused as exc:
            target = f"(unreadable: {exc.reason})"
        return self._with_history(entry, f"-> {target} (never followed by the runner)")

    def walk(self, root: str) -> None:
        stack = [root]
        while stack:
            here = stack.pop()
            try:
                entries = self.fs.listdir(here)
            except HostReadRefused:
                continue
            for entry in entries:
                self.seen += 1
                if self.seen > MAX_ENTRIES:
                    self.scan.incomplete = f"more than {MAX_ENTRIES} entries: the rest not scanned"
                    return
                if self.entry(entry):
                    stack.append(entry.path)


def scan_persistence(fs: WorkspaceFS, writable: Sequence[str], *,
                     before: Snapshot | None = None, before_root: str = "backend") -> PersistenceScan:
    """Flag every persistence artifact under the ``writable`` entries (``backend/``,
    ``issues.md``: workspace-relative, directories end with ``/``). ``before`` is the
    snapshot of ``before_root`` taken before the run (for "new" and "bit added")."""
    scanner = _Scanner(fs, before, before_root)
    for raw in writable:
        rel = raw.strip("/")
        if not rel:
            continue
        try:
            st = fs.lstat(rel)
        except HostReadRefused:
            continue  # absent or masked
        name = rel.rsplit("/", 1)[-1]
        entry = Entry(name, rel, entry_kind(st.st_mode), st.st_size, st.st_mode, st.st_nlink)
        if scanner.entry(entry) and entry.kind == "dir":
            scanner.walk(rel)
        if scanner.scan.incomplete:
            break
    scanner.scan.artifacts.sort(key=lambda a: (a.path, a.kind))
    return scanner.scan
