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
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.policy.models import PathFact, PathOp, PathVia
from runner.protocol import MeasuredPath

CONTAINER_WORKSPACE = "/workspace"
CONTAINER_HOME = "/home/agent"
MAX_SYMLINK_HOPS = 40  # Linux's ELOOP limit

_SPECIAL_ROOTS = (("proc", "/proc"), ("dev", "/dev"), ("sys", "/sys"))


def normalize(path: str) -> str:
    """Lexically normalise an absolute POSIX path: ``.``, ``..``, repeated slashes."""
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
            continue
        out.append(part)
    return "/" + "/".join(out)


def expand_tilde(raw: str, cwd: str, home: str = CONTAINER_HOME) -> str:
    """Expand a leading ``~``, ``~user``, ``~+`` (cwd) as bash does for an unquoted word."""
    if not raw.startswith("~"):
        return raw
    head, sep, rest = raw[1:].partition("/")
    if head == "":
        base = home
    elif head == "+":
        base = cwd
    elif head == "root":
        base = "/root"
    elif head == "-" or not _is_user_name(head):
        return raw  # ~- needs OLDPWD; anything else is not a tilde prefix
    else:
        base = f"/home/{head}"
    return base + (sep + rest if sep else "")


def _is_user_name(name: str) -> bool:
    return all(c.isalnum() or c in "._-" for c in name)


def absolute(raw: str, cwd: str, home: str = CONTAINER_HOME) -> str:
    """The container-absolute form of ``raw`` (tilde expanded, joined to ``cwd``), not normalised."""
    expanded = expand_tilde(raw, cwd, home)
    if expanded.startswith("/"):
        return expanded
    return cwd.rstrip("/") + "/" + expanded


def display(abs_path: str) -> str:
    """Workspace-relative (``.`` for the root) inside the workspace, absolute outside."""
    if abs_path == CONTAINER_WORKSPACE:
        return "."
    if abs_path.startswith(CONTAINER_WORKSPACE + "/"):
        return abs_path[len(CONTAINER_WORKSPACE) + 1 :]
    return abs_path


def is_inside(abs_path: str) -> bool:
    return abs_path == CONTAINER_WORKSPACE or abs_path.startswith(CONTAINER_WORKSPACE + "/")


def special_kind(abs_path: str) -> str | None:
    for kind, root in _SPECIAL_ROOTS:
        if abs_path == root or abs_path.startswith(root + "/"):
            return kind
    return None


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


class PathResolver:
    """Resolves container paths against the host directory mounted as ``/workspace``.

    ``workspace=None`` resolves lexically only (no filesystem access).
    """

    def __init__(self, workspace: Path | None, *, home: str = CONTAINER_HOME) -> None:
        self.workspace = workspace
        self.home = home
        self._host_root = os.fspath(workspace) if workspace is not None else None

    # --- resolution --------------------------------------------------------------------

    def resolve(self, raw: str, cwd: str = CONTAINER_WORKSPACE) -> Resolved:
        joined = absolute(raw, cwd, self.home)
        lexical = normalize(joined)
        if self._host_root is None:
            return Resolved(lexical, lexical, False, 1, None, False, False)
        real, symlink, loop = self._physical(joined)
        hardlinks, exists, is_dir = self._host_facts(real)
        return Resolved(lexical, real, symlink, hardlinks, exists, loop, is_dir)

    def is_directory(self, abs_path: str) -> bool | None:
        """Whether a container path is an existing directory on the host (None: unknown)."""
        if self._host_root is None or not is_inside(abs_path):
            return None
        res = self.resolve(abs_path, CONTAINER_WORKSPACE)
        if not is_inside(res.real):
            return None
        return res.is_dir

    def read_text(self, abs_path: str, limit: int) -> str | None:
        """The text of a regular file inside the workspace (after resolution), if small enough."""
        if self._host_root is None:
            return None
        res = self.resolve(abs_path, CONTAINER_WORKSPACE)
        if not is_inside(res.real) or res.loop:
            return None
        host = self._host_path([p for p in res.real.split("/") if p])
        if host is None:
            return None
        try:
            st = os.stat(host)
            if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
                return None
            with open(host, "rb") as fh:
                return fh.read(limit + 1).decode("utf-8", "replace")
        except (OSError, ValueError):
            return None

    def _host_path(self, components: Sequence[str]) -> str | None:
        """Host path of container components under ``/workspace`` (None: outside it)."""
        assert self._host_root is not None
        if not components or components[0] != "workspace":
            return None
        if len(components) == 1:
            return self._host_root
        return os.path.join(self._host_root, *components[1:])

    def _physical(self, joined: str) -> tuple[str, bool, bool]:
        """Resolve ``joined`` component by component: (real, saw a symlink, hop limit hit)."""
        pending = deque(p for p in joined.split("/") if p not in ("", "."))
        done: list[str] = []
        symlink = False
        hops = 0
        while pending:
            comp = pending.popleft()
            if comp == "..":
                if done:
                    done.pop()
                continue
            done.append(comp)
            if len(done) == 1:
                continue  # /workspace itself is the mount point: never a symlink
            host = self._host_path(done)
            if host is None:
                continue  # outside the workspace: lexical only
            try:
                st = os.lstat(host)
            except (OSError, ValueError):
                continue  # does not exist (yet): the rest is lexical
            if not stat.S_ISLNK(st.st_mode):
                continue
            symlink = True
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                return normalize("/" + "/".join([*done, *pending])), True, True
            try:
                target = os.readlink(host)
            except OSError:
                continue
            done.pop()
            if target.startswith("/"):
                done = []
            pending.extendleft(reversed([p for p in target.split("/") if p not in ("", ".")]))
        return "/" + "/".join(done), symlink, False

    def _host_facts(self, real: str) -> tuple[int, bool | None, bool]:
        if not is_inside(real):
            return 1, None, False
        host = self._host_path([p for p in real.split("/") if p])
        if host is None:  # pragma: no cover - is_inside guarantees a host path
            return 1, None, False
        try:
            st = os.lstat(host)
        except (OSError, ValueError):
            return 1, False, False
        nlink = st.st_nlink if stat.S_ISREG(st.st_mode) else 1
        return nlink, True, stat.S_ISDIR(st.st_mode)

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
        extra: dict[str, Any] = {}
        if dynamic:
            extra["dynamic"] = True
        if inferred:
            extra["inferred"] = True
        if implicit:
            extra["implicit"] = True
        if res.loop:
            extra["loop"] = True
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
            **extra,
        )


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
