"""Paths as the model names them (``/workspace/...`` or relative) and as they are on disk.

Inside the sandbox the two are the same. When the agent runs on the host (tests),
``/workspace`` maps to a temporary directory; everything the model and the policy
see still says ``/workspace``.
"""

from __future__ import annotations

import os
from pathlib import Path

from runner.protocol import MeasuredPath


class Workspace:
    def __init__(self, disk: Path, virtual: str = "/workspace") -> None:
        self.disk = os.path.realpath(disk)
        self.virtual = virtual.rstrip("/") or "/"

    def to_disk(self, raw: str) -> str:
        """The on-disk path for a path the model gave (not yet symlink-resolved)."""
        path = os.path.expanduser(raw) if raw.startswith("~") else raw
        if not os.path.isabs(path):
            return os.path.join(self.disk, path)
        if path == self.virtual or path.startswith(self.virtual + "/"):
            return self.disk + path[len(self.virtual):]
        return path

    def to_virtual(self, disk_path: str) -> str:
        """How a disk path is shown to the model and the policy."""
        if disk_path == self.disk or disk_path.startswith(self.disk + "/"):
            return self.virtual + disk_path[len(self.disk):]
        return disk_path

    def measure(self, raw: str) -> MeasuredPath:
        disk = self.to_disk(raw)
        real = os.path.realpath(disk)
        symlink = os.path.islink(disk) or real != os.path.normpath(os.path.abspath(disk))
        return MeasuredPath(raw=raw, real=self.to_virtual(real), symlink=symlink,
                            exists=os.path.lexists(disk))

    def real_disk(self, raw: str) -> str:
        return os.path.realpath(self.to_disk(raw))

    def relative(self, disk_path: str) -> str:
        """Workspace-relative when inside it (for compact listings), else the virtual path."""
        if disk_path.startswith(self.disk + "/"):
            return disk_path[len(self.disk) + 1:]
        return self.to_virtual(disk_path)
