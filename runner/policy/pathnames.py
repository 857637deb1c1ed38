"""Container paths, lexically: what a path in a tool call names before anything is looked up.

Paths in tool calls are in the container's view: relative to the current directory
(``/workspace`` unless a ``cd`` changed it) or absolute, where ``/workspace/...`` is the
project and everything else is outside it; ``~`` is the agent's home, ``/home/agent``.
Nothing here reads a file: resolution against the workspace is ``paths.PathResolver``.
"""

from __future__ import annotations

CONTAINER_WORKSPACE = "/workspace"
CONTAINER_HOME = "/home/agent"

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
