"""``summary.json``: the :class:`RunSummary` model, decision statistics, reading run files.

Every part but the run id has a default, so a run that crashed half-way can
still write what it knew (``status="error"`` and ``failure`` say why).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runner.errors import InputError
from runner.reports.coverage import CoverageReport
from runner.reports.gates import Gate
from runner.reports.issues import IssueEntry, Priority
from runner.reports.junit import TestResults

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
DECISIONS_JSONL = "decisions.jsonl"
MAX_JSONL_LINE = 4 * 1024 * 1024
TOP_REASONS = 10
UNKNOWN_POLICY = "(none)"

RunStatus = Literal["passed", "gates_failed", "failed", "error"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")  # a newer writer's fields survive a round trip


class AgentInfo(_Part):
    name: str = ""
    sha256: str = ""


class AllowDeny(_Part):
    allowed: int = 0
    denied: int = 0


class ReasonCount(_Part):
    policy: str
    rule: str
    count: int
    example_msg: str = ""


class DecisionStats(_Part):
    total: int = 0
    allowed: int = 0
    denied: int = 0
    by_policy: dict[str, AllowDeny] = Field(default_factory=dict)
    by_tool: dict[str, AllowDeny] = Field(default_factory=dict)
    top_reasons: list[ReasonCount] = Field(default_factory=list)
    malformed: int = 0  # lines that were not decision entries


class IssueRef(_Part):
    title: str
    priority: Priority | None = None


class ChangeStats(_Part):
    files_added: list[str] = Field(default_factory=list)
    files_modified: list[str] = Field(default_factory=list)
    files_deleted: list[str] = Field(default_factory=list)
    lines_added: int = 0
    lines_removed: int = 0
    # backend.diff does not show everything (size cap, or too many files to snapshot)
    diff_truncated: bool = False
    diff_total_lines: int = 0  # lines of the whole diff, before any truncation


PersistenceKind = Literal["bytecode", "nested-git", "pth", "customize", "symlink", "new-executable"]


class PersistenceArtifact(_Part):
    """Something under a writable path that can run code later, outside review: planted
    bytecode, a nested git repository (hooks, ``core.fsmonitor``), ``.pth`` files,
    ``sitecustomize``/``usercustomize``, symlinks, executable bits that were not there."""

    path: str  # workspace-relative (sanitized for display)
    kind: PersistenceKind
    detail: str = ""


class CollectionError(_Part):
    """A result-collection step that failed; the others still ran."""

    step: str  # "diff", "issues", "persistence", "tests", "coverage", "decisions", ...
    error: str


class TokenUsage(_Part):
    input: int = 0
    output: int = 0
    requests: int = 0


class GatewayInfo(_Part):
    """What the gateway refused or cut on the sandbox's socket (docs/threat-model.md)."""

    refused: int = 0  # calls without the run's token, over a body cap, or of a refused shape
    events_dropped: int = 0  # progress events over the count or rate cap
    clamped: int = 0  # model requests whose max_tokens was clamped
    redactions: int = 0  # secrets replaced before anything reached the model or a log


class EgressInfo(_Part):
    """The egress proxy of the agent phase (runner/egress): present only when it ran."""

    allowlist: list[str] = Field(default_factory=list)
    connections: int = 0  # on the proxy's socket
    allowed: int = 0  # by the policy (each one a `connect` line of decisions.jsonl)
    denied: int = 0  # by the policy (403)
    refused: int = 0  # otherwise: no token, caps, malformed requests, SSRF addresses
    addresses_refused: int = 0  # of which: a name resolving to a non-public address
    failed: int = 0  # upstream unreachable (502)
    bytes_up: int = 0
    bytes_down: int = 0


class AuditInfo(_Part):
    head_hash: str | None = None  # the hash of the last decisions.jsonl line
    verified: bool | None = None  # None: not checked
    entries: int = 0
    detail: str | None = None  # what `audit verify` said when it failed
    signature: str | None = None  # HMAC-SHA256 of the head with the host key (audit.sig)
    key_id: str | None = None  # which host key signed it


class RunSummary(_Part):
    schema_version: int = 1
    run_id: str
    status: RunStatus = "error"
    exit_code: int = 3
    started_at: str | None = None  # RFC 3339 UTC
    finished_at: str | None = None
    duration_s: float | None = None
    project: str | None = None
    agent: AgentInfo = Field(default_factory=AgentInfo)
    model: str | None = None
    runtime: str = "builtin"  # what ran the agent: builtin | claude-code
    isolation: str = "runc"  # the sandbox containers' kernel wall: runc | gvisor
    image: str | None = None
    policy_bundle_hash: str | None = None
    coverage_threshold: float | None = None
    tests: TestResults = Field(default_factory=TestResults)
    coverage: CoverageReport | None = None
    gates: list[Gate] = Field(default_factory=list)
    decisions: DecisionStats = Field(default_factory=DecisionStats)
    issues: list[IssueRef] = Field(default_factory=list)
    changes: ChangeStats = Field(default_factory=ChangeStats)
    persistence: list[PersistenceArtifact] = Field(default_factory=list)
    persistence_omitted: int = 0  # artifacts beyond the listed ones (counted, not listed)
    collection_errors: list[CollectionError] = Field(default_factory=list)
    tokens: TokenUsage = Field(default_factory=TokenUsage)
    gateway: GatewayInfo = Field(default_factory=GatewayInfo)
    egress: EgressInfo | None = None  # None: no proxy (no network)
    audit: AuditInfo = Field(default_factory=AuditInfo)
    failure: str | None = None  # why the run failed: "timeout", "oom-killed", "self-check failed: ..."

    @staticmethod
    def issue_refs(entries: Iterable[IssueEntry]) -> list[IssueRef]:
        return [IssueRef(title=e.title, priority=e.priority) for e in entries]


# --- decisions.jsonl --------------------------------------------------------------------


def iter_jsonl(path: Path) -> Iterator[dict[str, Any] | None]:
    """Each line of a JSONL file as a dict, or None for a line that is not a JSON object."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return
    with fh:
        for raw in fh:
            if not raw.strip():
                continue
            if len(raw) > MAX_JSONL_LINE:
                yield None
                continue
            try:
                obj = json.loads(raw.decode("utf-8", errors="replace"))
            except ValueError:
                yield None
                continue
            yield obj if isinstance(obj, dict) else None


def read_decisions(path: Path) -> tuple[list[dict[str, Any]], int]:
    """(decision entries, count of malformed lines) from ``decisions.jsonl`` (absent: empty)."""
    entries: list[dict[str, Any]] = []
    bad = 0
    for obj in iter_jsonl(path):
        if obj is None:
            bad += 1
        else:
            entries.append(obj)
    return entries, bad


def _get(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def entry_reasons(entry: dict[str, Any]) -> list[dict[str, str]]:
    reasons = _get(entry, "result", "reasons")
    out: list[dict[str, str]] = []
    if isinstance(reasons, list):
        for r in reasons:
            if isinstance(r, dict):
                out.append({
                    "policy": str(r.get("policy") or UNKNOWN_POLICY),
                    "rule": str(r.get("rule") or ""),
                    "msg": str(r.get("msg") or ""),
                })
    return out


def entry_tool(entry: dict[str, Any]) -> str:
    """The tool's name, or "connect" for a connection the egress proxy was asked for."""
    if _get(entry, "input", "kind") == "connect":
        return "connect"
    name = _get(entry, "input", "tool", "name")
    return name if isinstance(name, str) and name else "?"


def entry_allowed(entry: dict[str, Any]) -> bool:
    """Only an explicit ``allow: true`` is an allow (fail closed when reading, too)."""
    return _get(entry, "result", "allow") is True


def summarize_decisions(
    entries: list[dict[str, Any]], *, policies: Iterable[str] = (), malformed: int = 0
) -> DecisionStats:
    """Totals, per-policy and per-tool counts and the most frequent deny reasons.

    A policy "allowed" a call when none of that call's deny reasons came from it,
    so ``by_policy[p].allowed + by_policy[p].denied == total`` for every policy
    listed in ``policies`` or seen in a reason.
    """
    stats = DecisionStats(malformed=malformed)
    denied_by: Counter[str] = Counter()
    reason_counts: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], str] = {}
    for entry in entries:
        stats.total += 1
        allowed = entry_allowed(entry)
        tool = stats.by_tool.setdefault(entry_tool(entry), AllowDeny())
        if allowed:
            stats.allowed += 1
            tool.allowed += 1
            continue
        stats.denied += 1
        tool.denied += 1
        reasons = entry_reasons(entry) or [{"policy": UNKNOWN_POLICY, "rule": "", "msg": ""}]
        for policy in {r["policy"] for r in reasons}:
            denied_by[policy] += 1
        for key in dict.fromkeys((r["policy"], r["rule"]) for r in reasons):
            reason_counts[key] += 1
        for r in reasons:
            examples.setdefault((r["policy"], r["rule"]), r["msg"])
    for policy in sorted(set(policies) | set(denied_by)):
        stats.by_policy[policy] = AllowDeny(
            allowed=stats.total - denied_by[policy], denied=denied_by[policy]
        )
    ranked = sorted(reason_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    stats.top_reasons = [
        ReasonCount(policy=p, rule=r, count=n, example_msg=examples.get((p, r), "")[:500])
        for (p, r), n in ranked[:TOP_REASONS]
    ]
    stats.by_tool = dict(sorted(stats.by_tool.items()))
    return stats


# --- run directory files ------------------------------------------------------------------


def write_json_atomic(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, path)


def write_summary(run_dir: Path, summary: RunSummary, *, markdown: bool = True) -> Path:
    """Write ``summary.json`` (and ``summary.md``) into the run directory; return the json path."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / SUMMARY_JSON
    write_json_atomic(path, summary.model_dump_json(indent=2) + "\n")
    if markdown:
        from runner.reports.markdown import render_markdown

        write_json_atomic(run_dir / SUMMARY_MD, render_markdown(summary))
    return path


def load_summary(run_dir: Path) -> RunSummary:
    """Read ``RUN_DIR/summary.json``; InputError (exit 2) naming the file when unusable."""
    path = run_dir / SUMMARY_JSON
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no summary.json (not a run directory, or the run did not finish)",
                         path=run_dir) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", path=path) from None
    try:
        return RunSummary.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "document"
        raise InputError(f"invalid summary: {where}: {err['msg']}", path=path) from None
