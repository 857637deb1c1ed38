"""Findings for CI: denied decisions and failed gates, in the shape SARIF, GitHub annotations
and GitLab Code Quality share (:mod:`.sarif`, :mod:`.annotations`, :mod:`.codequality`).

A finding is one denied decision (rule ``policy/rule`` of its first reason; the other
reasons are named in its message) or one failed gate (rule ``gate/tests``,
``gate/coverage``, ``gate/results``). Its location is the workspace path the call touched
(project-relative: the workspace is the project) when the decision input names one, else the
line of ``decisions.jsonl``; a gate points at its report file in the run directory.

Everything here comes from a run an agent influenced: ``decisions.jsonl`` and
``summary.json`` may even have been edited after the run. Messages are redacted again
(pattern detectors) and sanitized to one line, rule ids are reduced to a safe alphabet,
paths must be plain relative paths, and the number of findings is capped.

Decisions are read through :func:`decision_fields`, the one accessor that knows both
log layouts (``metrics.timer_eval_ns`` and OPA's ``metrics.timer_rego_query_eval_ns``).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from runner.reports.summary import DECISIONS_JSONL, MAX_JSONL_LINE, RunSummary
from runner.sanitize import one_line

MAX_FINDINGS = 5000  # GitHub accepts 25,000 results per run; a run with more is abnormal
MAX_MESSAGE = 1000
MAX_PATH = 500
WORKSPACE = "/workspace"
FINGERPRINT_KEY = "sandboxRunnerFinding/v1"
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")
_PATH_OK = re.compile(r"^[^\x00-\x1f\x7f\\]+$")
GATE_FILES = {"tests": "reports/junit.xml", "coverage": "reports/coverage.xml"}

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class DecisionFields:
    """What the reports need of one decision-log line, whatever the log layout."""

    allowed: bool
    tool: str
    reasons: list[tuple[str, str, str]]  # (policy, rule, msg), as logged
    paths: list[dict[str, Any]]
    tool_input: dict[str, Any]
    eval_ns: int | None


def _get(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def decision_fields(entry: dict[str, Any]) -> DecisionFields:
    """The one accessor for a decision line (both layouts: our first and OPA's names).

    ``input.tool.name``/``input.tool.input``/``input.paths`` and ``result`` are common;
    the timer is ``metrics.timer_eval_ns`` (log format 1) or
    ``metrics.timer_rego_query_eval_ns`` (OPA's name). Only ``allow: true`` allows.
    """
    connect = _get(entry, "input", "kind") == "connect"
    name = "connect" if connect else _get(entry, "input", "tool", "name")
    raw_reasons = _get(entry, "result", "reasons")
    reasons = [
        (str(r.get("policy") or "none"), str(r.get("rule") or "unspecified"), str(r.get("msg") or ""))
        for r in (raw_reasons if isinstance(raw_reasons, list) else []) if isinstance(r, dict)
    ]
    paths = _get(entry, "input", "paths")
    args = _get(entry, "input", "connect") if connect else _get(entry, "input", "tool", "input")
    metrics = entry.get("metrics")
    metrics = metrics if isinstance(metrics, dict) else {}
    timer = metrics.get("timer_rego_query_eval_ns", metrics.get("timer_eval_ns"))
    return DecisionFields(
        allowed=_get(entry, "result", "allow") is True,
        tool=name if isinstance(name, str) and name else "?",
        reasons=reasons,
        paths=[p for p in paths if isinstance(p, dict)] if isinstance(paths, list) else [],
        tool_input=args if isinstance(args, dict) else {},
        eval_ns=timer if isinstance(timer, int) and not isinstance(timer, bool) else None,
    )


def iter_decisions(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(1-based line number, the line's JSON object or None) for each non-blank line."""
    try:
        fh = path.open("rb")
    except (FileNotFoundError, IsADirectoryError):
        return
    with fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            obj: Any = None
            if len(raw) <= MAX_JSONL_LINE:
                try:
                    obj = json.loads(raw.decode("utf-8", errors="replace"))
                except ValueError:
                    obj = None
            yield number, obj if isinstance(obj, dict) else None


def safe_id(text: str, default: str = "unknown") -> str:
    """A rule-id part: letters, digits, ``_ . -`` only, at most 64 characters."""
    return _SAFE_ID.sub("_", text)[:64] or default


def workspace_path(raw: object) -> str | None:
    """A project-relative POSIX path, or None for anything else (absolute outside the
    workspace, ``..``, control characters, too long)."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_PATH or not _PATH_OK.match(raw):
        return None
    text = raw
    if text == WORKSPACE or text.startswith(WORKSPACE + "/"):
        text = text[len(WORKSPACE):].lstrip("/")
    if text.startswith("/"):
        return None
    norm = posixpath.normpath(text)
    if norm in (".", "") or norm == ".." or norm.startswith("../"):
        return None
    return norm


def touched_path(fields: DecisionFields) -> str | None:
    """The workspace path a call touched: the first derived path inside the workspace
    (``input.paths[].path``), else the tool's own ``file_path``/``path`` argument."""
    for p in fields.paths:
        if p.get("inside_workspace") is True:
            found = workspace_path(p.get("path"))
            if found:
                return found
    if fields.tool in ("Read", "Write", "Edit", "LS", "Glob", "Grep", "NotebookEdit"):
        for key in ("file_path", "path", "notebook_path"):
            found = workspace_path(fields.tool_input.get(key))
            if found:
                return found
    return None


@dataclass(frozen=True)
class Finding:
    kind: Literal["decision", "gate"]
    rule_id: str  # "policy/rule" or "gate/name"
    message: str  # redacted, one line, capped
    level: Level
    fingerprint: str  # sha256 hex of rule, tool and normalized path (or message), + occurrence
    tool: str = ""
    path: str | None = None  # project-relative path the call touched
    run_file: str | None = None  # else: a file of the run directory ("decisions.jsonl", ...)
    line: int | None = None  # line in run_file
    example: str = ""  # the first message of this rule, for rule help


@dataclass
class Findings:
    items: list[Finding] = field(default_factory=list)
    omitted: int = 0  # denied calls beyond MAX_FINDINGS (failed gates are always listed)
    malformed: int = 0  # decision lines that were not JSON objects
    rules: dict[str, str] = field(default_factory=dict)  # every rule id seen -> first message


def default_redactor() -> Callable[[str], str]:
    """Pattern redaction (API keys, tokens, private keys...) as a second pass over text
    that leaves the machine: the run's own known secrets were replaced when it was logged."""
    from runner.gateway.redact import Redactor

    redactor = Redactor()
    return lambda text: redactor.redact_text(text)[0]


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _normal_message(msg: str) -> str:
    return re.sub(r"\s+", " ", msg).strip().lower()


class _Builder:
    def __init__(self, redact: Callable[[str], str] | None, limit: int) -> None:
        self.out = Findings()
        self.redact = redact
        self.limit = limit
        self.seen: Counter[str] = Counter()

    def text(self, raw: str, cap: int = MAX_MESSAGE) -> str:
        raw = raw[: cap * 4]
        return one_line(self.redact(raw) if self.redact else raw, cap)

    def add(self, finding: Finding, base: str) -> None:
        self.seen[base] += 1
        if finding.kind == "decision" and len(self.out.items) >= self.limit:
            self.out.omitted += 1
            return
        n = self.seen[base]
        fp = base if n == 1 else _fingerprint(base, str(n))
        self.out.items.append(Finding(**{**finding.__dict__, "fingerprint": fp}))

    def decision(self, number: int, fields: DecisionFields) -> None:
        reasons = fields.reasons or [("none", "unspecified", "denied without a reason")]
        ids = [f"{safe_id(p, 'none')}/{safe_id(r, 'unspecified')}" for p, r, _ in reasons]
        msgs = [self.text(m) if m else "denied" for _, _, m in reasons]
        for rid, msg in zip(ids, msgs, strict=True):
            self.out.rules.setdefault(rid, msg)
        others = [i for i in dict.fromkeys(ids[1:]) if i != ids[0]]
        message = msgs[0] + (f" (also denied by {', '.join(others)})" if others else "")
        tool = safe_id(fields.tool, "?")
        path = touched_path(fields)
        where = path if path is not None else _normal_message(msgs[0])
        base = _fingerprint(ids[0], tool, where)
        self.add(Finding(kind="decision", rule_id=ids[0], message=self.text(message),
                         level="error", fingerprint=base, tool=tool, path=path,
                         run_file=None if path else DECISIONS_JSONL,
                         line=None if path else number, example=msgs[0]), base)


GATE_HELP = {
    "tests": "The project's tests, run by the runner in a fresh container after the agent "
             "stopped, failed, errored, were missing or disagreed with the runner's own record.",
    "coverage": "Line coverage of the verification run is under the configured threshold "
                "(or there is no coverage report).",
    "results": "A result-collection step of the run failed (summary, diff, issues, reports).",
}


def collect_findings(run_dir: Path, summary: RunSummary, *,
                     redact: Callable[[str], str] | None = None,
                     limit: int = MAX_FINDINGS) -> Findings:
    """Every denied decision of ``RUN_DIR/decisions.jsonl`` (in log order), then every
    failed gate of ``summary``."""
    builder = _Builder(redact, limit)
    for number, entry in iter_decisions(run_dir / DECISIONS_JSONL):
        if entry is None:
            builder.out.malformed += 1
            continue
        fields = decision_fields(entry)
        if not fields.allowed:
            builder.decision(number, fields)
    for gate in summary.gates:
        if gate.passed:
            continue
        name = safe_id(gate.name, "gate")
        rid = f"gate/{name}"
        message = builder.text(f"{name} gate failed: {gate.detail}")
        builder.out.rules.setdefault(rid, message)
        run_file = GATE_FILES.get(name, "summary.json")
        builder.add(Finding(kind="gate", rule_id=rid, message=message, level="warning",
                            fingerprint="", run_file=run_file, example=message),
                    _fingerprint(rid))
    return builder.out


def run_dir_prefix(run_dir: Path, summary: RunSummary) -> str | None:
    """The run directory relative to the project (``.sandbox-runner/runs/ci/``) when it is
    inside it, as in CI; None otherwise."""
    if not summary.project:
        return None
    try:
        rel = run_dir.resolve().relative_to(Path(summary.project).resolve())
    except (ValueError, OSError):
        return None
    text = rel.as_posix()
    return "" if text == "." else text + "/"
