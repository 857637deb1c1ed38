"""JsonlWriter: the transcript/events recorder."""

from __future__ import annotations

import json
from pathlib import Path

from runner.gateway.recorder import JsonlWriter


def test_lone_surrogates_are_written_escaped(tmp_path: Path) -> None:
    """A model or tool output with a lone surrogate must not crash the recorder."""
    writer = JsonlWriter(tmp_path / "t.jsonl")
    writer.write({"text": "a\ud800b"})
    writer.write({"text": "plain é"})
    writer.close()
    raw = (tmp_path / "t.jsonl").read_bytes()
    raw.decode("utf-8")  # the file stays valid UTF-8
    rows = [json.loads(line) for line in raw.decode().splitlines()]
    assert [r["text"] for r in rows] == ["a\ud800b", "plain é"]
    assert [r["seq"] for r in rows] == [1, 2]
