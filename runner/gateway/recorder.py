"""Append-only JSON-lines files (transcript, events, redactions), flushed per line, capped.

Each file has a size cap. The line that would pass it is not written; one marker line
(``{"kind": "log_truncated", ...}``) is written instead and nothing after it: the run goes
on, the file stays valid JSON lines and says that (and where) it stopped.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MARKER_ROOM = 512  # bytes kept free under the cap for the truncation marker
_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonlWriter:
    """One JSON object per line; thread-safe; each line is flushed as it is written."""

    def __init__(self, path: Path, *, max_bytes: int | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = os.fdopen(os.open(path, _FLAGS, 0o644), "ab")
        self._lock = threading.Lock()
        self.max_bytes = max_bytes
        self.size = self._fh.tell()
        self.count = 0
        self.truncated = False
        self.dropped = 0  # lines not written because the cap was reached

    def write(self, obj: dict[str, Any]) -> int:
        """Append ``obj`` with a ``seq`` (1-based, per file) first; returns the seq (0: not written)."""
        with self._lock:
            if self.truncated or self._fh.closed:
                self.dropped += 1
                return 0
            self.count += 1
            line = _line({"seq": self.count, **obj})
            if self.max_bytes is not None and self.size + len(line) > self.max_bytes - MARKER_ROOM:
                self.truncated = True
                self.dropped += 1
                line = _line({"seq": self.count, "time": utc_now(), "kind": "log_truncated",
                              "cap_bytes": self.max_bytes,
                              "note": f"{self.path.name} reached its size cap; later lines are "
                                      "not written (the run went on)"})
            self._fh.write(line)
            self._fh.flush()
            self.size += len(line)
            return 0 if self.truncated else self.count

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()


def _line(obj: dict[str, Any]) -> bytes:
    try:
        return (json.dumps(obj, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (a model or a tool can produce them) are not UTF-8:
        # write the line with JSON escapes instead, which any reader decodes back.
        return (json.dumps(obj, default=str) + "\n").encode("ascii")
