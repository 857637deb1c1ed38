"""The decision log: append-only, hash-chained JSON lines (docs/design.md "Decision log line").

Each line is an OPA decision-log event (``decision_id``, ``labels`` with ``id`` and
``version``, ``bundles``, ``path``, ``input``, ``result``, ``requested_by``,
``timestamp``, ``metrics`` with ``timer_rego_query_eval_ns``, ``erased``/``masked``
JSON pointers of what redaction changed) plus the extensions ``tool_use_id`` (the
model's ``tool_use`` block a tool call answers; none for a connection, ``input.kind``
``"connect"``), ``format`` (2), ``seq`` (0-based, consecutive), ``prev_hash`` (the
previous line's ``hash``; 64 zeros for the first line) and ``hash``: the sha256 of the
RFC 8785 canonical JSON of the line without ``hash`` (:mod:`runner.audit.formats`; lines
of format 1, written before, have no ``format`` and another hash). Readers refuse a line
with a duplicate JSON key.

Every line is written with one ``write(2)`` on an ``O_APPEND`` descriptor, so
it is on its way to the disk when :meth:`DecisionLog.append` returns (``fsync``
is optional). Appends are serialised by a lock; an advisory ``flock`` keeps a
second writer (another process) off the same file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runner import __version__
from runner.audit.formats import (
    CURRENT_FORMAT,
    FORMAT_V1,
    FORMATS,
    FormatError,
    UnknownFormat,
    entry_hash,
    jcs_safe,
    line_format,
)
from runner.errors import AuditLogFull, InputError

GENESIS_HASH = "0" * 64
DECISION_PATH = "sandbox/decision"
LOG_NAME = "decisions.jsonl"
EVAL_METRIC = "timer_rego_query_eval_ns"  # OPA's name; format 1 wrote "timer_eval_ns"
V1_EVAL_METRIC = "timer_eval_ns"
# OPA's labels.id: one id per decision-logging instance (here: per runner process).
INSTANCE_ID = str(uuid.uuid4())
# Who asks for decisions (``requested_by``; OPA logs the client's address there).
AGENT_REQUESTERS = {"builtin": "agent:builtin", "claude-code": "agent:claude-code-hook"}
EGRESS_REQUESTER = "egress-proxy"
SETUP_REQUESTER = "setup"


class Redacted(NamedTuple):
    """Where the redactor changed a logged decision: OPA's ``masked`` and ``erased``."""

    masked: list[str]
    erased: list[str]


def agent_requester(runtime: str) -> str:
    """``requested_by`` of the tool calls of an agent runtime (``agent:<runtime>``)."""
    return AGENT_REQUESTERS.get(runtime, f"agent:{runtime}")


class LogEntry(BaseModel):
    """One line of ``decisions.jsonl``. Extra fields (a newer writer) are kept."""

    model_config = ConfigDict(extra="allow")

    decision_id: str
    timestamp: str
    path: str = DECISION_PATH
    input: dict[str, Any]
    result: dict[str, Any]
    labels: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, int] = Field(default_factory=dict)
    bundles: dict[str, dict[str, str]] = Field(default_factory=dict)
    seq: int
    prev_hash: str
    hash: str
    tool_use_id: str | None = None  # the model's tool_use block this decision answers
    requested_by: str | None = None  # format 2
    erased: list[str] = Field(default_factory=list)  # format 2: JSON pointers
    masked: list[str] = Field(default_factory=list)  # format 2: JSON pointers
    format: int | None = None  # absent: format 1

    @property
    def log_format(self) -> int:
        return FORMAT_V1 if self.format is None else self.format

    @property
    def eval_ns(self) -> int:
        """The policy evaluation time, under either format's metric name (0 when absent)."""
        return self.metrics.get(EVAL_METRIC, self.metrics.get(V1_EVAL_METRIC, 0))

    @property
    def allowed(self) -> bool:
        return self.result.get("allow") is True

    @property
    def kind(self) -> str:
        """"connect" for a connection the egress proxy was asked for, else "tool"."""
        return "connect" if self.input.get("kind") == "connect" else "tool"

    @property
    def tool_name(self) -> str:
        """The tool's name, or "connect" for a connection."""
        if self.kind == "connect":
            return "connect"
        tool = self._called()
        name = tool.get("name") if isinstance(tool, dict) else None
        return name if isinstance(name, str) else "?"

    def _called(self) -> Any:
        """The tool call as the model made it: ``tool``, or ``tool.called`` when the runtime's
        call was mapped onto another policy tool (runner/policy/claude_code.py)."""
        tool = self.input.get("tool")
        called = tool.get("called") if isinstance(tool, dict) else None
        return called if isinstance(called, dict) else tool

    @property
    def tool_input(self) -> dict[str, Any]:
        """The tool's input, or a connection's host, port, phase and method."""
        if self.kind == "connect":
            target = self.input.get("connect")
            return target if isinstance(target, dict) else {}
        tool = self._called()
        args = tool.get("input") if isinstance(tool, dict) else None
        return args if isinstance(args, dict) else {}


class DuplicateKeyError(ValueError):
    """A JSON object with the same key twice: readers disagree on which value counts."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"duplicate key {key!r} in a JSON object")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def strict_loads(raw: bytes | str) -> Any:
    """``json.loads`` that refuses duplicate keys (:class:`DuplicateKeyError`, a ValueError).

    Python keeps the last of two equal keys, other readers the first: a line such as
    ``{"allow": false, "allow": true}`` would be hashed as one decision and read as another.
    """
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return json.loads(text, object_pairs_hook=_unique_keys)


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, PurePath):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def to_json_data(obj: Any, what: str) -> Any:
    """Plain JSON data (dicts, lists, str, int, float, bool, None) equal to what is written."""
    try:
        return json.loads(json.dumps(obj, default=_default, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InputError(f"decision {what} cannot be logged: {exc}") from None


def encode_line(record: Mapping[str, Any]) -> bytes:
    """One log line (with its newline). Readable UTF-8, or ASCII escapes for lone surrogates."""
    try:
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n").encode()


def utc_timestamp() -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2025-01-02T03:04:05.123456Z``."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _read_last_line(fd: int, size: int) -> bytes:
    """The last line of a file of ``size`` bytes that ends with a newline (without it)."""
    end = size - 1  # index of the final newline
    chunk = 1 << 16
    pos = end
    tail = b""
    while pos > 0:
        start = max(0, pos - chunk)
        tail = os.pread(fd, pos - start, start) + tail
        pos = start
        cut = tail.rfind(b"\n")
        if cut >= 0:
            return tail[cut + 1 :]
    return tail


class DecisionLog:
    """Writer of one run's ``decisions.jsonl``; reopening an existing log continues its chain."""

    def __init__(
        self,
        path: Path,
        *,
        labels: Mapping[str, str],
        bundle_hash: str,
        fsync: bool = False,
        max_bytes: int | None = None,
        requested_by: str | None = None,
        log_format: int = CURRENT_FORMAT,
    ) -> None:
        """``requested_by``: who asks for every decision of this log (e.g. ``"setup"``);
        None: each append says, or the input's kind does (see :meth:`append`).
        ``log_format``: the format of a new log (an existing log keeps its own)."""
        if log_format not in FORMATS:
            raise UnknownFormat(log_format)
        self.path = Path(path)
        self.labels: dict[str, str] = {"app": "sandbox-runner", "id": INSTANCE_ID,
                                       "version": __version__}
        if log_format == FORMAT_V1:  # exactly the lines the code before format 2 wrote
            del self.labels["id"]
        self.labels.update({str(k): str(v) for k, v in labels.items()})
        self.requested_by = requested_by
        self.format = log_format
        self.bundle_hash = bundle_hash
        self.fsync = fsync
        self.max_bytes = max_bytes  # None: no cap; beyond it append raises AuditLogFull
        self._size = 0
        self._lock = threading.Lock()
        self._seq = 0
        self._head = GENESIS_HASH
        try:
            self._fd: int | None = os.open(
                self.path,
                os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                0o644,
            )
        except OSError as exc:
            raise InputError(f"cannot open decision log: {exc.strerror}", path=self.path) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._close_fd()
            raise InputError("decision log is in use by another writer", path=self.path) from None
        try:
            self._resume()
        except BaseException:
            self._close_fd()
            raise

    def _resume(self) -> None:
        """Continue the chain of an existing log from its last line."""
        with open(self.path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            self._size = size
            if size == 0:
                return
            if os.pread(fh.fileno(), 1, size - 1) != b"\n":
                raise InputError(
                    "last line is incomplete (interrupted write); "
                    "run `sandbox-runner audit verify` before appending",
                    path=self.path,
                )
            last = _read_last_line(fh.fileno(), size)
        try:
            record = strict_loads(last)
            seq, head = record["seq"], record["hash"]
            if not isinstance(seq, int) or not isinstance(head, str):
                raise TypeError("seq/hash have the wrong type")
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"last line is not a decision log entry: {exc}", path=self.path
            ) from None
        try:
            good = entry_hash(record) == head
            self.format = line_format(record)  # a log keeps the format it was started in
        except FormatError as exc:
            raise InputError(f"last line (seq {seq}): {exc}", path=self.path) from None
        if not good:
            raise InputError(
                f"last line (seq {seq}) does not match its hash; the log was modified",
                path=self.path,
            )
        if self.format == FORMAT_V1:
            self.labels.pop("id", None)
        self._seq, self._head = seq + 1, head

    @property
    def head_hash(self) -> str:
        """The hash of the last line (64 zeros while the log is empty)."""
        with self._lock:
            return self._head

    @property
    def count(self) -> int:
        """How many decisions the log holds (the next ``seq``)."""
        with self._lock:
            return self._seq

    def append(
        self,
        input: Mapping[str, Any] | BaseModel,
        result: Mapping[str, Any] | BaseModel,
        *,
        eval_ns: int = 0,
        tool_use_id: str | None = None,
        requested_by: str | None = None,
        metrics: Mapping[str, int] | None = None,
        masked: Iterable[str] = (),
        erased: Iterable[str] = (),
    ) -> LogEntry:
        """Append one decision and return the entry as written.

        ``tool_use_id``: the id of the model's ``tool_use`` block the call came from, so
        ``audit verify`` can match every decision against the transcript.
        ``requested_by``: who asked; default the log's, else ``"egress-proxy"`` for a
        connection and ``"agent"`` for a tool call. ``masked``/``erased``: JSON pointers
        (``/input/...``, ``/result/...``) of the values the redactor replaced or dropped
        before ``input`` and ``result`` got here. ``metrics``: more timers (ns).
        A format-1 log is written as before: no ``requested_by``, ``masked``, ``erased``.
        """
        input_data = to_json_data(input, "input")
        result_data = to_json_data(result, "result")
        if not isinstance(input_data, dict) or not isinstance(result_data, dict):
            raise InputError("decision input and result must be JSON objects")
        if self.format == FORMAT_V1:
            record = self._v1_record(input_data, result_data, eval_ns)
        else:
            changed: list[str] = list(masked)
            input_data = jcs_safe(input_data, "/input", changed)
            result_data = jcs_safe(result_data, "/result", changed)
            record = {
                "decision_id": str(uuid.uuid4()),
                "labels": dict(self.labels),
                "bundles": {"sandbox": {"revision": self.bundle_hash}},
                "path": DECISION_PATH,
                "input": input_data,
                "result": result_data,
                "requested_by": self._requester(requested_by, input_data),
                "timestamp": utc_timestamp(),
                "metrics": {**{str(k): int(v) for k, v in (metrics or {}).items()},
                            EVAL_METRIC: int(eval_ns)},
            }
            if erased := sorted(set(erased)):
                record["erased"] = erased
            if changed:
                record["masked"] = sorted(set(changed))
            if tool_use_id is not None:
                record["tool_use_id"] = str(tool_use_id)
            record["format"] = self.format
        with self._lock:
            if self._fd is None:
                raise ValueError(f"decision log {self.path} is closed")
            record["seq"] = self._seq
            record["prev_hash"] = self._head
            if self.format == FORMAT_V1 and tool_use_id is not None:
                record["tool_use_id"] = str(tool_use_id)
            record["hash"] = entry_hash(record)
            line = encode_line(record)
            if self.max_bytes is not None and self._size + len(line) > self.max_bytes:
                raise AuditLogFull(self.path, self.max_bytes)
            self._write(line)
            self._size += len(line)
            self._seq += 1
            self._head = record["hash"]
        return LogEntry.model_validate(record)

    def _requester(self, explicit: str | None, input_data: Mapping[str, Any]) -> str:
        if explicit is not None:
            return str(explicit)
        if self.requested_by is not None:
            return self.requested_by
        return EGRESS_REQUESTER if input_data.get("kind") == "connect" else "agent"

    def _v1_record(self, input_data: dict[str, Any], result_data: dict[str, Any],
                   eval_ns: int) -> dict[str, Any]:
        """A line as format 1 wrote it (the key order too; seq, prev_hash, hash follow)."""
        return {
            "decision_id": str(uuid.uuid4()),
            "timestamp": utc_timestamp(),
            "path": DECISION_PATH,
            "input": input_data,
            "result": result_data,
            "labels": dict(self.labels),
            "metrics": {V1_EVAL_METRIC: int(eval_ns)},
            "bundles": {"sandbox": {"revision": self.bundle_hash}},
        }

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if self.fsync:
            os.fsync(self._fd)

    def _close_fd(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # also releases the flock
            self._fd = None

    def close(self) -> None:
        with self._lock:
            if self._fd is not None and self.fsync:
                with contextlib.suppress(OSError):
                    os.fsync(self._fd)
            self._close_fd()

    @property
    def closed(self) -> bool:
        return self._fd is None

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_log(path: Path) -> list[LogEntry]:
    """Parse every line of a decision log (no chain checks: see :func:`verify_log`)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read decision log: {exc.strerror}", path=path) from None
    entries: list[LogEntry] = []
    rows = data.split(b"\n")
    if rows[-1] == b"":
        rows.pop()
    for number, raw in enumerate(rows, start=1):
        try:
            record = strict_loads(raw)
        except DuplicateKeyError as exc:
            raise InputError(f"line {number} (seq {number - 1}): {exc}", path=path) from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"line {number}: not valid JSON: {exc}", path=path) from None
        try:
            entries.append(LogEntry.model_validate(record))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            detail = f"{where}: {err['msg']}" if where else err["msg"]
            raise InputError(
                f"line {number}: not a decision log entry: {detail}", path=path
            ) from None
    return entries


def resolve_log(target: Path) -> Path:
    """A run directory (its ``decisions.jsonl``) or the log file itself."""
    if target.is_file():
        return target
    if target.is_dir():
        log = target / LOG_NAME
        if log.is_file():
            return log
        raise InputError(f"no {LOG_NAME} in this run directory", path=target)
    raise InputError("no such run directory or decision log", path=target)
