"""Which project files are masked inside the container (secret files, runner state).

``find_secret_paths`` walks the project on the host and asks the policy data's predicate
(``PolicyData.is_secret_path``) about every entry, so the secret patterns have one source.
Files are called with their workspace-relative POSIX path (``.env``, ``config/.npmrc``);
directories with a trailing slash (``.ssh/``, ``deploy/.aws/``); a directory is masked as a
whole (a read-only empty tmpfs) when the predicate matches it, and not descended into.

Symlinks are never followed by the kernel here (no ``stat``, no ``resolve``):

- a link under a writable path is ignored: the agent made it (or could have, in an earlier
  run), and a link gives it no access the target path does not give anyway;
- a secret-named link elsewhere (shipped with the project; the agent cannot create one) is
  read with ``readlink`` and resolved one component at a time with ``lstat``: at most
  ``MAX_LINK_HOPS`` links (loops end there), never leaving the project, never entering a
  writable path or the runner's state. Its target inside the project is masked (reading the
  link inside the container reaches it); a target outside is nothing to mask (the container
  does not see the host). The project root and the directories above a writable path are
  never masks.

``.git/config`` is not a secret file, but CI checkouts keep credentials in it (the
``http.<url>.extraheader`` of ``actions/checkout``, ``https://user:token@host`` remotes):
``sanitized_git_config`` gives the copy the container sees instead (see ``spec``).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from runner.hostfs import HostReadRefused, WorkspaceFS

# Never descended into: packed git objects are not files a secret pattern names, and the
# runner's own state is masked as a whole.
_SKIP_DIRS = {".git/objects", ".git/lfs", ".sandbox-runner"}
RUNNER_STATE_DIR = ".sandbox-runner"
WORKSPACE_PREFIX = "/workspace/"
MAX_LINK_HOPS = 8
GIT_CONFIG = ".git/config"
GIT_CONFIG_MAX_BYTES = 1 << 20


class SecretMask(BaseModel):
    path: str  # workspace-relative POSIX path
    kind: str  # "file" or "dir"


def _clean(raw: str) -> str:
    parts = [p for p in PurePosixPath(raw).parts if p not in ("", ".", "/")]
    return "/".join(parts)


class _Writable:
    """Is a workspace-relative path a writable entry, inside one, or above one?"""

    def __init__(self, writable: Sequence[str]) -> None:
        self.roots = [c for c in (_clean(w) for w in writable) if c]

    def inside(self, rel: str) -> bool:
        return any(rel == r or rel.startswith(r + "/") for r in self.roots)

    def above(self, rel: str) -> bool:
        return any(r.startswith(rel + "/") for r in self.roots)


def _link_target(project: Path, rel: str, writable: _Writable) -> tuple[str, str] | None:
    """Where a project link leads, resolved without following anything: (path, kind) or None."""
    done: list[str] = []
    pending = rel.split("/")
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not done:
                return None  # leaves the project
            done.pop()
            continue
        here = "/".join([*done, part])
        if writable.inside(here) or here == RUNNER_STATE_DIR:
            return None  # the agent's (or the runner's) ground: never consulted
        try:
            st = os.lstat(project / here)  # every earlier component is a real directory
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > MAX_LINK_HOPS:
                    return None  # a loop, or a chain too long to be honest
                target = os.readlink(project / here)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            if target.startswith(WORKSPACE_PREFIX):  # absolute inside the container
                done, target = [], target[len(WORKSPACE_PREFIX):]
            elif target.startswith("/"):
                return None  # outside the workspace: the container does not see the host
            pending = target.split("/") + pending
            continue
        if pending and not stat.S_ISDIR(st.st_mode):
            return None
        done.append(part)
        if not pending:
            kind = "dir" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else ""
            return ("/".join(done), kind) if kind else None
    return None  # the project root itself


def find_secret_masks(
    project: Path, is_secret: Callable[[str], bool], writable: Sequence[str] = (),
) -> list[SecretMask]:
    """Every secret file or directory of the project, as masks (sorted, no duplicates)."""
    project = project.resolve()
    rw = _Writable(writable)
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(project, followlinks=False):
        here = Path(dirpath)
        rel_dir = here.relative_to(project).as_posix()
        keep: list[str] = []
        for name in sorted(dirnames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if rel in _SKIP_DIRS:
                continue
            if os.path.islink(here / name):
                filenames.append(name)  # symlinks to dirs are handled like files below
                continue
            if (is_secret(rel + "/") or is_secret(rel)) and not rw.above(rel):
                found[rel] = "dir"
                continue
            keep.append(name)
        dirnames[:] = keep
        for name in filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if not (is_secret(rel) or is_secret(rel + "/")):
                continue
            try:
                st = os.lstat(here / name)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                if rw.inside(rel):
                    continue  # planted by the agent, maybe: never read
                target = _link_target(project, rel, rw)
                if target is not None and not rw.above(target[0]):
                    found.setdefault(*target)
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = "dir"
            elif stat.S_ISREG(st.st_mode):
                found[rel] = "file"
    dirs = [p for p, k in found.items() if k == "dir"]
    return [
        SecretMask(path=p, kind=k)
        for p, k in sorted(found.items())
        if not any(p.startswith(d + "/") for d in dirs)  # already inside a masked directory
    ]


def find_secret_paths(
    project: Path, is_secret: Callable[[str], bool], writable: Sequence[str] = (),
) -> list[str]:
    """Workspace-relative paths of secret files and directories (directories end with ``/``)."""
    return [m.path + ("/" if m.kind == "dir" else "")
            for m in find_secret_masks(project, is_secret, writable)]


# --- .git/config credentials -----------------------------------------------------------------

_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s\"'@]*@")
_KEY = re.compile(r"^\s*([A-Za-z][A-Za-z0-9-]*)\s*(?:=|$)")
_CREDENTIAL_KEY = re.compile(r"(?i)extraheader|password|passwd|token|secret")
TOO_LARGE = b"# sandbox-runner: .git/config was too large to check for credentials; hidden\n"


def _continues(line: str) -> bool:
    """Does a git config line go on in the next one (an odd number of trailing backslashes)?"""
    body = line.rstrip("\r\n")
    return (len(body) - len(body.rstrip("\\"))) % 2 == 1


def strip_git_credentials(text: str) -> str:
    """git config text without credentials: credential-bearing keys (``extraheader``,
    ``*password*``, ``*token*``, ``*secret*``) dropped with their continuation lines, and the
    user information of every URL (``https://user:token@host``) removed."""
    out: list[str] = []
    dropping = False
    for line in text.splitlines(keepends=True):
        if dropping:
            dropping = _continues(line)
            continue
        key = _KEY.match(line)
        if key and not line.lstrip().startswith("[") and _CREDENTIAL_KEY.search(key.group(1)):
            dropping = _continues(line)
            continue
        out.append(_URL_USERINFO.sub(r"\1", line))
    return "".join(out)


def sanitized_git_config(project: Path) -> bytes | None:
    """What the container sees as ``.git/config`` when the real one holds credentials.

    None when there is nothing to replace (no regular ``.git/config``, or no credentials in
    it). Read through :class:`WorkspaceFS` (no links, no FIFOs, size-capped); a file too
    large to check is replaced by a comment.
    """
    fs = WorkspaceFS(project, max_bytes=GIT_CONFIG_MAX_BYTES)
    try:
        st = fs.lstat(GIT_CONFIG)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    if st.st_size > GIT_CONFIG_MAX_BYTES:
        return TOO_LARGE
    try:
        raw = fs.read_bytes(GIT_CONFIG)
    except HostReadRefused:
        return TOO_LARGE  # grew past the cap, or changed kind: hide it
    except OSError:
        return None
    text = raw.decode("utf-8", errors="surrogateescape")
    clean = strip_git_credentials(text)
    return None if clean == text else clean.encode("utf-8", errors="surrogateescape")
