"""The tamper-evident decision log: writer, reader, chain verification, replay.

The names are imported on first use: a run imports ``runner.audit.log`` (the writer) and
``runner.audit.formats``, not show or signing (their imports pull in the reports' models and
rich tables). ``runner.audit.replay`` is imported here: its function ``replay`` has the
submodule's name, which the import system would otherwise set on this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from runner.audit.replay import ReplayChange, ReplayResult, replay, replay_log

if TYPE_CHECKING:
    from runner.audit.crosscheck import TRANSCRIPT_NAME, CrossCheck, CrossProblem, cross_check
    from runner.audit.formats import (
        CURRENT_FORMAT,
        FORMAT_V1,
        FORMAT_V2,
        UnknownFormat,
        canonical_json,
        entry_hash,
        jcs,
    )
    from runner.audit.log import (
        GENESIS_HASH,
        LOG_NAME,
        DecisionLog,
        DuplicateKeyError,
        LogEntry,
        agent_requester,
        read_log,
        resolve_log,
        strict_loads,
    )
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

_EXPORTS = {
    "CURRENT_FORMAT": "runner.audit.formats",
    "ChainSignature": "runner.audit.sign",
    "CrossCheck": "runner.audit.crosscheck",
    "CrossProblem": "runner.audit.crosscheck",
    "DecisionLog": "runner.audit.log",
    "DuplicateKeyError": "runner.audit.log",
    "FORMAT_V1": "runner.audit.formats",
    "FORMAT_V2": "runner.audit.formats",
    "GENESIS_HASH": "runner.audit.log",
    "HostKey": "runner.audit.sign",
    "LOG_NAME": "runner.audit.log",
    "LogEntry": "runner.audit.log",
    "SIG_NAME": "runner.audit.sign",
    "ShowRow": "runner.audit.show",
    "SignatureCheck": "runner.audit.sign",
    "TRANSCRIPT_NAME": "runner.audit.crosscheck",
    "UnknownFormat": "runner.audit.formats",
    "VerifyResult": "runner.audit.verify",
    "agent_requester": "runner.audit.log",
    "canonical_json": "runner.audit.formats",
    "check_signature": "runner.audit.sign",
    "cross_check": "runner.audit.crosscheck",
    "default_key_path": "runner.audit.sign",
    "entry_hash": "runner.audit.formats",
    "host_key": "runner.audit.sign",
    "jcs": "runner.audit.formats",
    "load_key": "runner.audit.sign",
    "load_rows": "runner.audit.show",
    "read_log": "runner.audit.log",
    "read_signature": "runner.audit.sign",
    "recorded_head": "runner.audit.verify",
    "render_table": "runner.audit.show",
    "resolve_log": "runner.audit.log",
    "show_rows": "runner.audit.show",
    "sign_run": "runner.audit.sign",
    "strict_loads": "runner.audit.log",
    "summarize_call": "runner.audit.show",
    "verify_log": "runner.audit.verify",
}
__all__ = [
    "CURRENT_FORMAT",
    "FORMAT_V1",
    "FORMAT_V2",
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
    "UnknownFormat",
    "VerifyResult",
    "agent_requester",
    "canonical_json",
    "check_signature",
    "cross_check",
    "default_key_path",
    "entry_hash",
    "host_key",
    "jcs",
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


def __getattr__(name: str) -> Any:
    """``from runner.audit import DecisionLog``, imported on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runner.audit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
