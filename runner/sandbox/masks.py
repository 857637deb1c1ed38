"""Which project files are masked inside the container (secret files, runner state).

``find_secret_paths`` walks the project on the host and asks the policy data's predicate
(``PolicyData.is_secret_path``) about every entry, so the secret patterns have one source.
Files are called with their workspace-relative POSIX path (``.env``, ``config/.npmrc``);
directories with a trailing slash (``.ssh/``, ``deploy/.aws/``); a directory is masked as a
whole (a read-only empty tmpfs) when the predicate matches it, and not descended into.

A symlink whose name matches is resolved: when it points at a file inside the project, that
file is masked (reading the link inside the container reaches the target); when it points
outside the project there is nothing to mask (the container does not see the host).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

# Never descended into: packed git objects are not files a secret pattern names, and the
# runner's own state is masked as a whole.
_SKIP_DIRS = {".git/objects", ".git/lfs", ".sandbox-runner"}
RUNNER_STATE_DIR = ".sandbox-runner"


class SecretMask(BaseModel):
    path: str  # workspace-relative POSIX path
    kind: str  # "file" or "dir"


def _inside(project: Path, target: Path) -> str | None:
    try:
        return target.relative_to(project).as_posix()
    except ValueError:
        return None


def find_secret_masks(project: Path, is_secret: Callable[[str], bool]) -> list[SecretMask]:
    """Every secret file or directory of the project, as masks (sorted, no duplicates)."""
    project = project.resolve()
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(project, followlinks=False):
        here = Path(dirpath)
        rel_dir = here.relative_to(project).as_posix()
        keep: list[str] = []
        for name in sorted(dirnames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            full = here / name
            if rel in _SKIP_DIRS:
                continue
            if os.path.islink(full):
                filenames.append(name)  # symlinks to dirs are handled like files below
                continue
            if is_secret(rel + "/") or is_secret(rel):
                found[rel] = "dir"
                continue
            keep.append(name)
        dirnames[:] = keep
        for name in filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            full = here / name
            if not (is_secret(rel) or is_secret(rel + "/")):
                continue
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                target = _inside(project, full.resolve())
                if target is None or not os.path.exists(project / target):
                    continue
                kind = "dir" if os.path.isdir(project / target) else "file"
                found.setdefault(target, kind)
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


def find_secret_paths(project: Path, is_secret: Callable[[str], bool]) -> list[str]:
    """Workspace-relative paths of secret files and directories (directories end with ``/``)."""
    return [m.path + ("/" if m.kind == "dir" else "") for m in find_secret_masks(project, is_secret)]
