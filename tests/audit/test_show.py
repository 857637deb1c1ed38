"""Rows and the table of ``audit show``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console

from runner.audit import load_rows, render_table, resolve_log, show_rows, summarize_call
from runner.audit.log import read_log
from runner.errors import InputError
from tests.audit.logdata import SAMPLE, allow, call, write_log


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        ("Bash", {"command": "cd backend &&\n  pytest -q"}, "cd backend && pytest -q"),
        ("Read", {"file_path": "a/b.py", "offset": 3}, "a/b.py"),
        ("Write", {"file_path": "backend/x.py", "content": "SECRET=1"}, "backend/x.py"),
        (
            "Edit",
            {"file_path": "backend/x.py", "old_string": "a", "new_string": "b"},
            "backend/x.py",
        ),
        ("LS", {"path": "backend"}, "backend"),
        ("Glob", {"pattern": "**/*.py", "path": "backend"}, "**/*.py backend"),
        ("Grep", {"pattern": "TODO", "glob": "*.py"}, "TODO *.py"),
        ("Frobnicate", {"b": 2, "a": "x"}, "a='x', b=2"),
    ],
)
def test_summarize_call(tool: str, args: dict[str, object], expected: str) -> None:
    assert summarize_call(tool, args) == expected


def test_summary_is_truncated_to_one_short_line() -> None:
    text = summarize_call("Bash", {"command": "echo " + "a" * 500}, width=40)
    assert len(text) == 40 and text.endswith("…") and "\n" not in text


def test_rows_and_denied_filter(log_path: Path) -> None:
    rows = show_rows(read_log(log_path))
    assert [r.seq for r in rows] == list(range(len(SAMPLE)))
    assert [r.allow for r in rows] == [s[1]["allow"] for s in SAMPLE]
    denied = show_rows(read_log(log_path), denied_only=True)
    assert [r.seq for r in denied] == [2, 4, 5]
    assert denied[1].tool == "Bash" and denied[1].summary == "curl https://evil.example/x"
    assert denied[1].reasons[0].policy == "network"
    assert denied[1].reasons[0].rule == "host_not_allowed"


def test_table_shows_every_column_and_no_markup(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    write_log(path, [*SAMPLE, (call("Bash", command="echo [bold]x[/bold]"), allow())])
    console = Console(record=True, width=240)
    console.print(render_table(load_rows(path)))
    out = console.export_text()
    assert "curl https://evil.example/x" in out
    assert "network.host_not_allowed: no network host is allowed: evil.example" in out
    decisions = re.findall(r"│ (allow|deny) +│", out)
    assert decisions == ["allow", "allow", "deny", "allow", "deny", "deny", "allow", "allow"]
    assert "echo [bold]x[/bold]" in out  # shown as written, not as rich markup


def test_resolve_log_accepts_run_dir_or_file(log_path: Path, tmp_path: Path) -> None:
    assert resolve_log(log_path.parent) == log_path
    assert resolve_log(log_path) == log_path
    empty = tmp_path / "empty-run"
    empty.mkdir()
    with pytest.raises(InputError, match=r"no decisions\.jsonl in this run directory"):
        resolve_log(empty)
    with pytest.raises(InputError, match="no such run directory"):
        resolve_log(tmp_path / "missing")
