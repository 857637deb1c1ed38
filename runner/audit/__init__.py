"""The tamper-evident decision log: writer, reader, chain verification, replay."""

from runner.audit.crosscheck import TRANSCRIPT_NAME, CrossCheck, CrossProblem, cross_check
from runner.audit.log import (
    GENESIS_HASH,
    LOG_NAME,
    DecisionLog,
    DuplicateKeyError,
    LogEntry,
    canonical_json,
    entry_hash,
    read_log,
    resolve_log,
    strict_loads,
)
from runner.audit.replay import ReplayChange, ReplayResult, replay, replay_log
from runner.audit.show import ShowRow, load_rows, render_table, show_rows, summarize_call
from runner.audit.sign import (
    SIG_NAME,
    ChainSignature,
    HostKey,
    SignatureCheck,
    check_signature,
    default_key_path,
    host_key,
    load_key,
    read_signature,
    sign_run,
)
from runner.audit.verify import VerifyResult, recorded_head, verify_log

__all__ = [
    "GENESIS_HASH",
    "LOG_NAME",
    "SIG_NAME",
    "TRANSCRIPT_NAME",
    "ChainSignature",
    "CrossCheck",
    "CrossProblem",
    "DecisionLog",
    "DuplicateKeyError",
    "HostKey",
    "LogEntry",
    "ReplayChange",
    "ReplayResult",
    "ShowRow",
    "SignatureCheck",
    "VerifyResult",
    "canonical_json",
    "check_signature",
    "cross_check",
    "default_key_path",
    "entry_hash",
    "host_key",
    "load_key",
    "load_rows",
    "read_log",
    "read_signature",
    "recorded_head",
    "render_table",
    "replay",
    "replay_log",
    "resolve_log",
    "show_rows",
    "sign_run",
    "strict_loads",
    "summarize_call",
    "verify_log",
]
