"""The tamper-evident decision log: writer, reader, chain verification, replay."""

from runner.audit.log import (
    GENESIS_HASH,
    LOG_NAME,
    DecisionLog,
    LogEntry,
    canonical_json,
    entry_hash,
    read_log,
    resolve_log,
)
from runner.audit.replay import ReplayChange, ReplayResult, replay, replay_log
from runner.audit.show import ShowRow, load_rows, render_table, show_rows, summarize_call
from runner.audit.verify import VerifyResult, recorded_head, verify_log

__all__ = [
    "GENESIS_HASH",
    "LOG_NAME",
    "DecisionLog",
    "LogEntry",
    "ReplayChange",
    "ReplayResult",
    "ShowRow",
    "VerifyResult",
    "canonical_json",
    "entry_hash",
    "load_rows",
    "read_log",
    "recorded_head",
    "render_table",
    "replay",
    "replay_log",
    "resolve_log",
    "show_rows",
    "summarize_call",
    "verify_log",
]
