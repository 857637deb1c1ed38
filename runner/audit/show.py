"""Rows and the table of ``audit show``.

Tool names, calls and reasons are the agent's text: the table shows them through
:mod:`runner.sanitize` (no escape sequences, one line per field) and holds at most
``limit`` rows, then a "… N more" row. The JSON rows (``--json``) are JSON-encoded as is.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from rich.text import Text

from runner.audit.log import LogEntry, read_log, resolve_log
from runner.protocol import summary_fields
from runner.sanitize import one_line

if TYPE_CHECKING:  # rich's table is imported where rendered: a run's display shows one line
    from rich.table import Table

_SUMMARY_KEYS = ("command", "file_path", "path", "pattern", "url", "query")  # other tools
SUMMARY_WIDTH = 120
TABLE_ROWS = 1000
REASON_WIDTH = 300


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def summarize_call(tool: str, args: dict[str, Any], width: int = SUMMARY_WIDTH) -> str:
    """What a tool call acted on, on one line: the command, the file, or the pattern (+ path);
    for a connection: method, host:port and phase."""
    if tool == "connect":
        return _one_line(f"{args.get('method', '?')} {args.get('host', '?')}:{args.get('port', '?')}"
                         f" ({args.get('phase', '?')})", width)
    keys = summary_fields(tool)
    if keys is not None:
        parts = [args[k] for k in keys if isinstance(args.get(k), str)]
        return _one_line(" ".join(parts), width)
    for key in _SUMMARY_KEYS:
        value = args.get(key)
        if isinstance(value, str):
            return _one_line(value, width)
    return _one_line(", ".join(f"{k}={v!r}" for k, v in sorted(args.items())), width)


class ShowReason(BaseModel):
    policy: str = "?"
    rule: str = "?"
    msg: str = ""


class ShowRow(BaseModel):
    seq: int
    timestamp: str
    tool: str
    summary: str
    allow: bool
    reasons: list[ShowReason]


def _reasons(entry: LogEntry) -> list[ShowReason]:
    raw = entry.result.get("reasons")
    out: list[ShowReason] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict):
            out.append(
                ShowReason(**{k: str(item[k]) for k in ("policy", "rule", "msg") if k in item})
            )
    return out


def show_rows(entries: list[LogEntry], *, denied_only: bool = False) -> list[ShowRow]:
    rows = [
        ShowRow(
            seq=e.seq,
            timestamp=e.timestamp,
            tool=e.tool_name,
            summary=summarize_call(e.tool_name, e.tool_input),
            allow=e.allowed,
            reasons=_reasons(e),
        )
        for e in entries
    ]
    return [r for r in rows if not r.allow] if denied_only else rows


def _clock(timestamp: str) -> str:
    """``HH:MM:SS`` of an RFC 3339 timestamp (the whole string when it is not one)."""
    return timestamp[11:19] if len(timestamp) >= 19 and timestamp[10] == "T" else timestamp


def render_table(rows: list[ShowRow], title: str | None = None, *,
                 limit: int = TABLE_ROWS) -> Table:
    """The table of ``rows`` (the first ``limit``; 0: all), sandbox text sanitized."""
    from rich.table import Table

    table = Table(title=title and one_line(title), show_lines=False)
    table.add_column("seq", justify="right")
    table.add_column("time")
    table.add_column("tool")
    table.add_column("call", overflow="fold")
    table.add_column("decision")
    table.add_column("reasons", overflow="fold")
    shown = rows[:limit] if limit > 0 else rows
    for row in shown:
        decision = Text("allow", style="green") if row.allow else Text("deny", style="bold red")
        reasons = "\n".join(one_line(f"{r.policy}.{r.rule}: {r.msg}", REASON_WIDTH)
                            for r in row.reasons)
        table.add_row(
            str(row.seq),
            one_line(_clock(row.timestamp), 40),
            Text(one_line(row.tool, 60)),
            Text(one_line(row.summary, SUMMARY_WIDTH)),
            decision,
            Text(reasons),
        )
    if len(shown) < len(rows):
        table.add_row("…", "", "", Text(f"{len(rows) - len(shown)} more decisions not shown "
                                        "(--limit 0 shows all)"), "", "")
    return table


def load_rows(target: Path, *, denied_only: bool = False) -> list[ShowRow]:
    return show_rows(read_log(resolve_log(target)), denied_only=denied_only)
