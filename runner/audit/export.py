"""``audit export --format opa``: a decision log as OPA's decision-log upload.

OPA uploads decision logs to a log service as ``POST /logs`` with ``Content-Encoding:
gzip`` and ``Content-Type: application/json``: the body is a gzip-compressed JSON *array*
of events (OPA docs, "Decision Logs" > "Decision Log Service API"). The export is that
body, byte for byte what such a service accepts: ``curl --data-binary @decisions.json.gz
-H 'Content-Encoding: gzip' -H 'Content-Type: application/json' https://logs.example/logs``.

Each event has OPA's fields only (:data:`OPA_EVENT_FIELDS`); the extensions that make the
log tamper-evident (``seq``, ``prev_hash``, ``hash``, ``format``) and ``tool_use_id`` are
left out unless asked for (``extensions=True``): the export is for ingestion, the log stays
the evidence. Only a log whose chain verifies is exported. A format-1 line is brought to
format 2's names: ``metrics.timer_eval_ns`` becomes ``timer_rego_query_eval_ns``; it has
no ``labels.id`` (the run's id stands in: ``labels.run_id``) and no ``requested_by``
("setup" for a setup build's log, "egress-proxy" for a connection, else "agent:builtin",
the only agent runtime when format 1 was written).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
from pathlib import Path
from typing import Any, BinaryIO

from runner.audit.formats import FORMAT_V1
from runner.audit.log import (
    AGENT_REQUESTERS,
    EGRESS_REQUESTER,
    EVAL_METRIC,
    SETUP_REQUESTER,
    V1_EVAL_METRIC,
    LogEntry,
    read_log,
)
from runner.audit.verify import verify_log
from runner.errors import InputError
from runner.sanitize import one_line

# OPA's EventV1 (plugins/logs): the fields a decision-log service knows.
OPA_EVENT_FIELDS = (
    "labels", "decision_id", "trace_id", "span_id", "revision", "bundles", "path", "query",
    "input", "result", "mapped_result", "nd_builtin_cache", "erased", "masked", "error",
    "requested_by", "timestamp", "metrics", "req_id", "request_context",
)
EXTENSION_FIELDS = ("tool_use_id", "format", "seq", "prev_hash", "hash")
EXPORT_FORMATS = ("opa",)


def opa_event(entry: LogEntry, *, extensions: bool = False) -> dict[str, Any]:
    """One OPA decision-log event for ``entry`` (either format)."""
    data = {k: v for k, v in entry.model_dump(mode="json").items() if v is not None}
    event: dict[str, Any] = {k: data[k] for k in OPA_EVENT_FIELDS if k in data}
    for key in ("erased", "masked"):
        if not event.get(key):
            event.pop(key, None)  # OPA omits empty lists
    if entry.log_format == FORMAT_V1:
        labels = dict(entry.labels)
        labels.setdefault("id", labels.get("run_id", "unknown"))
        event["labels"] = labels
        metrics = dict(entry.metrics)
        if V1_EVAL_METRIC in metrics:
            metrics[EVAL_METRIC] = metrics.pop(V1_EVAL_METRIC)
        event["metrics"] = metrics
        if labels.get("phase") == "setup":
            event["requested_by"] = SETUP_REQUESTER
        elif entry.kind == "connect":
            event["requested_by"] = EGRESS_REQUESTER
        else:
            event["requested_by"] = AGENT_REQUESTERS["builtin"]
    if extensions:
        event.update({k: data[k] for k in EXTENSION_FIELDS if k in data})
    return event


def opa_events(log: Path, *, extensions: bool = False) -> list[dict[str, Any]]:
    """The events of a log whose chain verifies (a broken chain is an InputError)."""
    result = verify_log(log)
    if not result.ok:
        where = f"first bad seq {result.first_bad_seq}: " if result.first_bad_seq is not None else ""
        raise InputError(f"the decision log does not verify ({where}"
                         f"{one_line(result.problem or '', 300)}); not exported", path=log)
    return [opa_event(e, extensions=extensions) for e in read_log(log)]


def upload_body(events: list[dict[str, Any]]) -> bytes:
    """OPA's upload body: the gzip-compressed JSON array of ``events``."""
    raw = json.dumps(events, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return gzip.compress(raw, mtime=0)  # mtime 0: the same log gives the same bytes


def write_export(body: bytes, output: Path | None, stdout: BinaryIO) -> None:
    """``body`` to ``output`` (whole or not at all: a temporary file renamed) or stdout."""
    if output is None:
        stdout.write(body)
        stdout.flush()
        return
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
        os.replace(tmp, output)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise InputError(f"cannot write the export: {exc.strerror}", path=output) from None
