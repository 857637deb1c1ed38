"""Append-only JSON-lines files (transcript, events, redactions), flushed per line."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonlWriter:
    """One JSON object per line; thread-safe; each line is flushed as it is written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self.count = 0

    def write(self, obj: dict[str, Any]) -> int:
        """Append ``obj`` with a ``seq`` (1-based, per file) first; returns the seq."""
        with self._lock:
            self.count += 1
            line = json.dumps({"seq": self.count, **obj}, ensure_ascii=False, default=str)
            try:
                self._fh.write(line + "\n")
            except UnicodeEncodeError:
                # Lone surrogates (a model or a tool can produce them) are not UTF-8:
                # write the line with JSON escapes instead, which any reader decodes back.
                self._fh.write(json.dumps({"seq": self.count, **obj}, default=str) + "\n")
            self._fh.flush()
            return self.count

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()
