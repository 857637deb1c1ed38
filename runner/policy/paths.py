"""Path facts: where a path in a tool call really points, seen from the container.

Paths in tool calls are in the container's view: relative to the current
directory (``/workspace`` unless a ``cd`` changed it) or absolute, where
``/workspace/...`` is the project and everything else is outside it. ``~`` is
the agent's home, ``/home/agent``.

Two results per path:

* ``path``: lexical normalisation (``.``, ``..``, repeated slashes, ``~``),
  the way a person reads it.
* ``real``: the physical path, resolved component by component against the
  host directory mounted as ``/workspace``. ``..`` after a symlink goes to the
  parent of the symlink's target (as the kernel does); absolute symlink targets
  are read in the container's view (``/workspace/x`` maps back into the
  workspace, ``/etc/passwd`` stays outside). Nothing outside the workspace is
  looked up on the host: the container's ``/etc`` is not the host's.

Both are workspace-relative inside the workspace (``"."`` for its root, never a
leading ``./``) and absolute outside it. The host's resolution is authoritative;
what the agent measured inside the container is only recorded beside it.

Everything under the workspace is written by the agent and can change between two
system calls, so every look at it (lstat, readlink, directory listings, file reads) goes
through :class:`runner.hostfs.WorkspaceFS`: relative to a directory handle, no link
followed, nothing blocks, reads size-capped. Symlinks are resolved here, lexically, from
their targets; content is only ever read from the resolved path through WorkspaceFS, so a
link or FIFO swapped in meanwhile makes the read fail, never follow. Derivation sees what
the container sees: the run's masked paths (and ``.sandbox-runner/``) are an empty file or
an empty directory and are never read or listed on the host.

The lexical half lives in ``pathnames`` (normalisation, ``~``, display) and ``patterns``
(bash patterns, brace expansion); both are re-exported here. This module owns what looks
at the workspace: no-follow resolution, masks, pattern expansion, recursive walks, facts.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runner.hostfs import (
    MAX_COMPONENTS,
    RUNNER_STATE,
    Entry,
    HostReadRefused,
    WorkspaceFS,
    entry_kind,
)
from runner.policy.models import PathFact, PathOp, PathVia
from runner.policy.pathnames import (  # re-exported: the lexical half of a path fact
    CONTAINER_HOME as CONTAINER_HOME,
)
from runner.policy.pathnames import (
    CONTAINER_WORKSPACE as CONTAINER_WORKSPACE,
)
from runner.policy.pathnames import (
    absolute as absolute,
)
from runner.policy.pathnames import (
    display as display,
)
from runner.policy.pathnames import (
    expand_tilde as expand_tilde,
)
from runner.policy.pathnames import (
    is_inside as is_inside,
)
from runner.policy.pathnames import (
    normalize as normalize,
)
from runner.policy.pathnames import (
    special_kind as special_kind,
)
from runner.policy.patterns import (
    MAX_BRACE_WORDS as MAX_BRACE_WORDS,
)
from runner.policy.patterns import (
    GlobTooBroad as GlobTooBroad,
)
from runner.policy.patterns import (  # re-exported: the bash patterns expand_glob matches
    _segment_regex,
)
from runner.policy.patterns import (
    brace_expand as brace_expand,
)
from runner.policy.patterns import (
    fnmatch_name as fnmatch_name,
)
from runner.policy.patterns import (
    has_brace as has_brace,
)
from runner.policy.patterns import (
    has_glob as has_glob,
)
from runner.policy.patterns import (
    quote_pattern as quote_pattern,
)
from runner.policy.patterns import (
    split_pattern as split_pattern,
)
from runner.policy.patterns import (
    unquote_pattern as unquote_pattern,
)
from runner.protocol import MeasuredPath

MAX_SYMLINK_HOPS = 40  # Linux's ELOOP limit
# Components of one path, symlink targets included: more than any path the kernel resolves
# (PATH_MAX is 4096 bytes, so at most 2048 components); past it derivation fails (a deny).
MAX_PATH_COMPONENTS = 4096
MAX_GLOB_MATCHES = 256  # paths one pattern may expand to (more: the caller gives up)
MAX_GLOB_SCAN = 20_000  # directory entries looked at while expanding one pattern
MAX_WALK_ENTRIES = 2_000  # entries looked at under one directory read recursively
# Never descended into by a recursive walk (as in runner/sandbox/masks.py): packed git
# objects are not files a secret pattern names.
WALK_SKIP = frozenset({f"{CONTAINER_WORKSPACE}/.git/objects", f"{CONTAINER_WORKSPACE}/.git/lfs"})


@dataclass(frozen=True, slots=True)
class Resolved:
    """One path resolved: lexical and physical container-absolute forms plus host facts."""

    lexical: str
    real: str
    symlink: bool
    hardlinks: int
    exists: bool | None  # None: not looked up (outside the workspace or no workspace given)
    loop: bool  # too many symlink hops (the kernel would fail with ELOOP)
    is_dir: bool


class PathTooDeep(ValueError):
    """A path with more components than any the kernel resolves (a derivation error: deny)."""


@dataclass(frozen=True, slots=True)
class _Node:
    """One workspace entry as the container sees it (lstat through the parent's handle)."""

    kind: str  # "file" | "dir" | "symlink" | "other" (hostfs.Entry kinds)
    nlink: int
    size: int
    target: str | None = None  # a symlink's target, read through the parent's handle


class _Masks:
    """The run's masks: secret files (an empty file in the container), secret directories
    and the runner's state (an empty directory). Workspace-relative, directories with ``/``."""

    def __init__(self, masks: Sequence[str]) -> None:
        self.files = frozenset(m.strip("/") for m in masks if m.strip("/") and not m.endswith("/"))
        self.dirs = frozenset({RUNNER_STATE} | {m.strip("/") for m in masks if m.endswith("/")})

    def is_masked(self, rel: str) -> bool:
        """WorkspaceFS's predicate (``rel`` may end with ``/``)."""
        bare = rel.rstrip("/")
        return bare in self.dirs or (not rel.endswith("/") and bare in self.files)

    def kind(self, rel: str) -> str | None:
        """"file"/"dir" for a masked path, "under" below a masked directory, else None."""
        if rel in self.files:
            return "file"
        if rel in self.dirs:
            return "dir"
        parts = rel.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in self.dirs:
                return "under"
        return None


def workspace_fs(root: Path, masks: Sequence[str] = (), *,
                 kind: type[WorkspaceFS] = WorkspaceFS) -> WorkspaceFS:
    """A ``kind`` handle on the resolved workspace ``root`` hiding ``masks`` as a
    :class:`PathResolver` with these masks does (``.sandbox-runner/`` always)."""
    return kind(root, is_masked=_Masks(masks).is_masked)


def _rel(abs_path: str) -> str:
    """Workspace-relative form of a container path inside the workspace (``""`` for the root)."""
    return "" if abs_path == CONTAINER_WORKSPACE else abs_path[len(CONTAINER_WORKSPACE) + 1 :]


class PathResolver:
    """Resolves container paths against the host directory mounted as ``/workspace``.

    ``workspace=None`` resolves lexically only (no filesystem access). Every look at the
    workspace goes through :class:`runner.hostfs.WorkspaceFS` (directory handle, no link
    followed, non-blocking, size-capped) and sees what the container sees: ``masks`` (the
    run's secret paths, ``find_secret_paths``; ``.sandbox-runner/`` always) are an empty
    file or directory, never looked at on the host.
    """

    def __init__(
        self, workspace: Path | None, *, home: str = CONTAINER_HOME, masks: Sequence[str] = (),
        fs: WorkspaceFS | None = None,
    ) -> None:
        """``fs``: the handle to look through (``workspace_fs(workspace, masks)``, or a
        subclass of it that records the looks: ``runner.policy.derived``); default: a new
        one on ``workspace`` resolved now."""
        self.workspace = workspace
        self.home = home
        self._masks = _Masks(masks)
        if workspace is None:
            self._fs: WorkspaceFS | None = None
        elif fs is not None:
            self._fs = fs
        else:  # the root is the host's choice (resolved once), never the agent's
            self._fs = workspace_fs(Path(workspace).resolve(), masks)
        self._nodes: dict[str, _Node | None] = {}  # one decision's lookups
        self._listings: dict[str, list[Entry] | None] = {}  # and listings (never changed)
        self._resolved: dict[str, Resolved] = {}  # and resolutions, by absolute path

    def looking(self) -> contextlib.AbstractContextManager[object]:
        """The block of one derivation's looks: the workspace's directory handles are kept
        through it (``WorkspaceFS.holding_dirs``), so paths under one directory open it once."""
        return self._fs.holding_dirs() if self._fs is not None else contextlib.nullcontext()

    # --- resolution --------------------------------------------------------------------

    def resolve(self, raw: str, cwd: str = CONTAINER_WORKSPACE) -> Resolved:
        joined = absolute(raw, cwd, self.home)
        known = self._resolved.get(joined)  # the same path again in this decision: the same
        if known is not None:  # answer (each look it made is kept in _nodes anyway)
            return known
        lexical = normalize(joined)
        if self._fs is None:
            return Resolved(lexical, lexical, False, 1, None, False, False)
        real, symlink, loop, missing = self._physical(joined)
        hardlinks, exists, is_dir = (1, False, False) if missing else self._host_facts(real)
        found = Resolved(lexical, real, symlink, hardlinks, exists, loop, is_dir)
        if len(self._resolved) > 4096:
            self._resolved.clear()
        self._resolved[joined] = found
        return found

    def is_directory(self, abs_path: str) -> bool | None:
        """Whether a container path is an existing directory on the host (None: unknown)."""
        if self._fs is None or not is_inside(abs_path):
            return None
        res = self.resolve(abs_path, CONTAINER_WORKSPACE)
        if not is_inside(res.real):
            return None
        return res.is_dir

    def read_text(self, abs_path: str, limit: int) -> str | None:
        """The text of a regular file inside the workspace (after resolution), as the container has it.

        None: no workspace, outside it, missing, a directory, a symlink loop or larger than
        ``limit``. A masked file is empty in the container: ``""``. Anything else that is
        not a regular file, or changed since it was resolved (a link or FIFO swapped in),
        raises :class:`HostReadRefused`: the caller cannot know what it holds.
        """
        if self._fs is None:
            return None
        res = self.resolve(abs_path, CONTAINER_WORKSPACE)
        if not is_inside(res.real) or res.loop:
            return None
        rel = _rel(res.real)
        node = self._node(rel)
        if node is None or node.kind == "dir" or (node.kind == "file" and node.size > limit):
            return None
        if self._masks.kind(rel) == "file":
            return ""
        return self._fs.read_text(rel, max_bytes=limit)

    def _node(self, rel: str) -> _Node | None:
        """The entry at a workspace-relative path (no link followed; None: not there)."""
        if rel in self._nodes:
            return self._nodes[rel]
        node = self._lookup(rel)
        if len(self._nodes) > 4096:
            self._nodes.clear()
        self._nodes[rel] = node
        return node

    def _lookup(self, rel: str) -> _Node | None:
        assert self._fs is not None
        if not rel:
            return _Node("dir", 1, 0)
        mask = self._masks.kind(rel)
        if mask == "under":
            return None  # a masked directory is empty
        if mask is not None:
            return _Node(mask, 1, 0)
        if rel.count("/") >= MAX_COMPONENTS:
            raise PathTooDeep(f"a workspace path with more than {MAX_COMPONENTS} components")
        try:  # only st_mode, st_nlink and st_size: a kept derivation is reused while these
            st = self._fs.lstat(rel)  # stay the same (runner.policy.derived)
        except HostReadRefused:
            return None
        kind = entry_kind(st.st_mode)
        if kind != "symlink":
            return _Node(kind, st.st_nlink, st.st_size)
        try:
            target: str | None = self._fs.readlink(rel)
        except HostReadRefused:
            target = None  # replaced meanwhile: the rest is lexical
        return _Node(kind, st.st_nlink, st.st_size, target)

    def _physical(self, joined: str) -> tuple[str, bool, bool, bool]:
        """Resolve ``joined`` component by component: (real, saw a symlink, hop limit hit,
        known to be missing).

        Below a component that is not there nothing is looked up (the rest is lexical
        until ``..`` climbs back out of it).
        """
        parts = [p for p in joined.split("/") if p not in ("", ".")]
        if len(parts) > MAX_PATH_COMPONENTS:
            raise PathTooDeep(f"a path with more than {MAX_PATH_COMPONENTS} components")
        pending = deque(parts)
        done: list[str] = []
        symlink = False
        hops = 0
        missing_at: int | None = None  # len(done) when a missing component was appended
        while pending:
            comp = pending.popleft()
            if comp == "..":
                if done:
                    done.pop()
                if missing_at is not None and len(done) < missing_at:
                    missing_at = None
                continue
            done.append(comp)
            if len(done) == 1 or missing_at is not None or done[0] != "workspace":
                continue  # /workspace is the mount point; outside it: lexical only
            node = self._node("/".join(done[1:]))
            if node is None:
                missing_at = len(done)
                continue
            if node.kind != "symlink":
                continue
            symlink = True
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                return normalize("/" + "/".join([*done, *pending])), True, True, False
            if node.target is None:
                continue
            done.pop()
            if node.target.startswith("/"):
                done = []
            pending.extendleft(reversed([p for p in node.target.split("/") if p not in ("", ".")]))
            if len(pending) + len(done) > MAX_PATH_COMPONENTS:
                raise PathTooDeep(f"a path with more than {MAX_PATH_COMPONENTS} components")
        return "/" + "/".join(done), symlink, False, missing_at is not None

    def _host_facts(self, real: str) -> tuple[int, bool | None, bool]:
        if not is_inside(real):
            return 1, None, False
        node = self._node(_rel(real))
        if node is None:
            return 1, False, False
        nlink = node.nlink if node.kind == "file" else 1
        return nlink, True, node.kind == "dir"

    # --- pathname expansion and recursive reads ---------------------------------------

    def _entries(self, rel: str) -> list[Entry] | None:
        """The entries of a workspace directory as the container lists them (None: unlistable).

        A masked directory is empty; masked entries are listed as what they are in the
        container (an empty file or directory).
        """
        assert self._fs is not None
        if rel in self._listings:  # one listing per directory and decision, like _nodes
            return self._listings[rel]
        mask = self._masks.kind(rel) if rel else None
        if mask == "dir":
            return []
        if mask is not None:
            return None
        if rel.count("/") >= MAX_COMPONENTS:
            return None
        try:
            entries: list[Entry] | None = self._fs.listdir(rel, include_masked=True)
        except HostReadRefused:
            entries = None
        if len(self._listings) > 1024:
            self._listings.clear()
        self._listings[rel] = entries
        return entries

    def names(self, container_dir: str) -> frozenset[str] | None:
        """The names a directory inside the workspace holds, as the container lists them
        (None: not known: no workspace, outside it, not a directory, unlistable)."""
        if self._fs is None:
            return None
        res = self.resolve(container_dir, CONTAINER_WORKSPACE)
        if res.loop or not res.is_dir or not is_inside(res.real):
            return None
        entries = self._entries(_rel(res.real))
        return None if entries is None else frozenset(e.name for e in entries)

    def _listing(self, container_dir: str) -> list[tuple[str, bool]] | None:
        """(name, is a directory once symlinks are resolved) of a container directory inside the workspace."""
        if self._fs is None:
            return None
        res = self.resolve(container_dir, CONTAINER_WORKSPACE)
        if res.loop or not is_inside(res.real):
            return None
        entries = self._entries(_rel(res.real))
        if entries is None:
            return None
        out: list[tuple[str, bool]] = []
        for e in entries:
            if e.kind == "symlink":
                is_dir = self.resolve(f"{res.real}/{e.name}", CONTAINER_WORKSPACE).is_dir
            else:
                is_dir = e.kind == "dir"
            out.append((e.name, is_dir))
        return out

    def _lexists(self, container_path: str) -> bool:
        res = self.resolve(container_path, CONTAINER_WORKSPACE)
        return bool(res.exists) or res.symlink

    def expand_glob(
        self,
        pattern: str,
        cwd: str = CONTAINER_WORKSPACE,
        *,
        dotglob: bool = False,
        nocase: bool = False,
        globstar: bool = False,
    ) -> list[str]:
        """Pathname expansion of a bash pattern (brace expansion already done), as bash does it.

        ``pattern`` escapes literal characters with a backslash (``quote_pattern``). Matches
        are spelled the way bash prints them: a relative pattern gives relative paths
        (``backend/../.env`` for ``backend/../.en?``). A name that starts with ``.`` matches
        only a segment that starts with a literal ``.`` (unless ``dotglob``); ``**`` is
        ``*`` unless ``globstar``. Directories outside the workspace are not listed (the
        container's are not the host's): such a pattern matches nothing here. Raises
        ``GlobTooBroad`` past ``MAX_GLOB_MATCHES`` matches or ``MAX_GLOB_SCAN`` entries.
        """
        if self._fs is None:
            return []
        text = pattern
        if text.startswith("~"):
            head, sep, rest = text.partition("/")
            if not has_glob(head):
                plain = unquote_pattern(head)
                expanded = expand_tilde(plain, cwd, self.home)
                if expanded != plain:
                    text = quote_pattern(expanded) + sep + rest
        segments = split_pattern(text)
        states: list[tuple[str, str]]  # (as bash prints it, container directory)
        if text.startswith("/"):
            states = [("/", "/")]
            segments = segments[1:]
        else:
            states = [("", cwd)]
        trailing_slash = len(segments) > 1 and segments[-1] == ""
        if trailing_slash:
            segments = segments[:-1]
        scanned = 0
        globbed = False
        for i, seg in enumerate(segments):
            last = i == len(segments) - 1
            want_dir = not last or trailing_slash
            nxt: list[tuple[str, str]] = []
            if not has_glob(seg):
                lit = unquote_pattern(seg)
                for shown, cdir in states:
                    cand = (_join_shown(shown, lit), _join_container(cdir, lit))
                    if globbed and last and not self._lexists(cand[1]):
                        continue  # `*/x`: only where x exists
                    nxt.append(cand)
            elif globstar and seg == "**":
                globbed = True
                for shown, cdir in states:
                    found, scanned = self._globstar(
                        shown, cdir, dotglob=dotglob, files=last and not trailing_slash,
                        scanned=scanned,
                    )
                    nxt.extend(found)
            else:
                globbed = True
                rx = _segment_regex(seg, nocase, True)
                literal_dot = seg.startswith((".", "\\."))
                for shown, cdir in states:
                    listing = self._listing(cdir)
                    if listing is None:
                        continue
                    scanned += len(listing)
                    if scanned > MAX_GLOB_SCAN:
                        raise GlobTooBroad(pattern)
                    for name, is_dir in sorted(listing):
                        if name.startswith(".") and not (dotglob or literal_dot):
                            continue
                        if (want_dir and not is_dir) or not rx.fullmatch(name):
                            continue
                        nxt.append((_join_shown(shown, name), _join_container(cdir, name)))
            if len(nxt) > MAX_GLOB_MATCHES:
                raise GlobTooBroad(pattern)
            states = nxt
            if not states:
                return []
        return [shown + ("/" if trailing_slash else "") for shown, _ in states if shown]

    def _globstar(
        self, shown: str, cdir: str, *, dotglob: bool, files: bool, scanned: int
    ) -> tuple[list[tuple[str, str]], int]:
        """``**`` with globstar: the directory itself and every directory under it (``files``:
        the files too, when ``**`` is the last segment)."""
        out: list[tuple[str, str]] = [(shown, cdir)]
        queue = deque([(shown, cdir)])
        while queue:
            sh, cd = queue.popleft()
            listing = self._listing(cd)
            if listing is None:
                continue
            scanned += len(listing)
            if scanned > MAX_GLOB_SCAN or len(out) > MAX_GLOB_MATCHES:
                raise GlobTooBroad("**")
            for name, is_dir in sorted(listing):
                if name.startswith(".") and not dotglob:
                    continue
                entry = (_join_shown(sh, name), _join_container(cd, name))
                if is_dir:
                    out.append(entry)
                    queue.append(entry)
                elif files:
                    out.append(entry)
        return out, scanned

    def walk(
        self,
        container_dir: str,
        *,
        hidden: bool = True,
        follow: bool = True,
        keep: Callable[[str], bool] | None = None,
        keep_dirs: bool = False,
        limit: int = MAX_WALK_ENTRIES,
    ) -> WalkResult | None:
        """What a program reading ``container_dir`` recursively may read (None: not a directory here).

        ``contents``: the display path of every file under it and, with ``follow``, of
        every symlink with the path it resolves to (also outside the workspace), symlinked
        directories inside the workspace walked too (``grep -R``, ``zip -r``); without
        ``follow`` symlinks below the top are skipped (``grep -r``, ``cp -r`` and ``tar c``
        neither read nor descend through them; the top itself is already resolved).
        ``hidden=False`` skips names starting with ``.`` below the top (ripgrep's default).
        ``keep``: only files whose name passes (``grep --include``, ``find -name``); with
        ``keep_dirs`` a directory below the top whose name passes brings everything under it
        (the caller decides for the top itself: pass ``keep=None`` when it passes).
        A masked directory is empty in the container: it is not listed, and appears in
        ``contents`` as itself with a trailing ``/`` (a secret directory the read reaches).
        ``truncated``: more than ``limit`` entries, an unreadable directory or a name with a
        newline -- the caller cannot know everything that is read.
        """
        if self._fs is None:
            return None
        top = self.resolve(container_dir, CONTAINER_WORKSPACE)
        if top.loop or not top.is_dir or not is_inside(top.real):
            return None
        contents: set[str] = set()
        listed: set[str] = set()  # entries added as themselves (not as a link's target)
        links: set[str] = set()  # the entries that are symbolic links
        file_links: dict[str, set[str]] = {}  # a file link's target -> the links to it
        truncated = False
        seen: set[str] = set()
        queue: deque[tuple[str, bool]] = deque([(top.real, keep is None)])
        scanned = 0

        def add(path: str, suffix: str = "") -> str:
            nonlocal truncated
            if "\n" in path or "\r" in path:
                truncated = True
            shown = display(path) + suffix
            contents.add(shown)
            return shown

        while queue:
            cdir, take_all = queue.popleft()
            if cdir in seen:
                continue
            seen.add(cdir)
            rel = _rel(cdir)
            if rel and self._masks.kind(rel) == "dir":
                if take_all:
                    add(cdir, "/")
                continue
            entries = self._entries(rel)
            if entries is None:
                truncated = True
                continue
            scanned += len(entries)
            if scanned > limit:
                truncated = True
                break
            for entry in entries:
                name = entry.name
                if not hidden and name.startswith("."):
                    continue
                path = f"{cdir}/{name}"
                passes = take_all or keep is None or keep(name)
                if entry.kind == "symlink":
                    if not follow:
                        continue
                    res = self.resolve(path, CONTAINER_WORKSPACE)
                    if passes:
                        shown = add(path)
                        listed.add(shown)
                        links.add(shown)
                        if res.real != path:
                            target = add(res.real)
                            if not res.is_dir:
                                file_links.setdefault(target, set()).add(shown)
                    if res.is_dir and is_inside(res.real) and not res.loop:
                        queue.append((res.real, take_all or (keep_dirs and passes)))
                elif entry.kind == "dir":
                    if path not in WALK_SKIP:
                        queue.append((path, take_all or (keep_dirs and passes)))
                elif passes:
                    listed.add(add(path))
        targets = {t: frozenset(links) for t, links in file_links.items()}
        return WalkResult(sorted(contents), truncated, scanned, targets, frozenset(links),
                          frozenset(listed))

    # --- facts -------------------------------------------------------------------------

    def fact(
        self,
        raw: str,
        op: PathOp,
        *,
        cwd: str = CONTAINER_WORKSPACE,
        via: PathVia = "tool",
        program: str | None = None,
        dynamic: bool = False,
        inferred: bool = False,
        implicit: bool = False,
    ) -> PathFact:
        res = self.resolve(raw, cwd)
        return PathFact(
            raw=raw,
            path=display(res.lexical),
            real=display(res.real),
            op=op,
            inside_workspace=is_inside(res.real),
            symlink=res.symlink,
            via=via,
            hardlinks=res.hardlinks,
            special=special_kind(res.real) or special_kind(res.lexical),
            program=program,
            dynamic=dynamic,
            inferred=inferred,
            implicit=implicit,
            loop=res.loop,
        )


@dataclass(frozen=True, slots=True)
class WalkResult:
    """What a recursive read of one directory may reach (see ``PathResolver.walk``)."""

    contents: list[str]  # display paths, sorted
    truncated: bool  # more entries than the limit, unreadable directories or odd names
    scanned: int = 0  # directory entries looked at
    # the entries of ``contents`` that are the target of file links: target -> those links
    # (display paths); a target may also be ``listed`` (found as itself)
    link_targets: dict[str, frozenset[str]] = field(default_factory=dict)
    links: frozenset[str] = frozenset()  # the entries of ``contents`` that are symbolic links
    listed: frozenset[str] = frozenset()  # the entries found as themselves in a listing


def attach_measurements(facts: Sequence[PathFact], measured: Sequence[MeasuredPath]) -> None:
    """Record what the agent measured beside each fact with the same ``raw`` (untrusted).

    ``agrees`` says whether the container's real path matches the host's; the host's
    ``real`` stays authoritative either way.
    """
    by_raw = {m.raw: m for m in measured}
    for fact in facts:
        m = by_raw.get(fact.raw)
        if m is None:
            continue
        host_real = (
            CONTAINER_WORKSPACE if fact.real == "." else
            fact.real if fact.real.startswith("/") else f"{CONTAINER_WORKSPACE}/{fact.real}"
        )
        fact.measured = {
            "real": m.real,
            "symlink": m.symlink,
            "exists": m.exists,
            "agrees": normalize(m.real) == host_real if m.real.startswith("/") else False,
        }


def _join_shown(shown: str, name: str) -> str:
    if not shown:
        return name
    return shown + name if shown.endswith("/") else f"{shown}/{name}"


def _join_container(cdir: str, name: str) -> str:
    return cdir + name if cdir.endswith("/") else f"{cdir}/{name}"
