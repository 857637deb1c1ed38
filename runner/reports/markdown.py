"""``summary.md``: the run summary for people and ``$GITHUB_STEP_SUMMARY``.

Much of the content comes from the agent (test names, failure messages,
issue titles, file names), so every such value is escaped: markdown and
HTML metacharacters are backslash-escaped and newlines flattened, so the
agent cannot forge table rows, headings, links or HTML in the summary.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from runner.reports.gates import format_percent
from runner.reports.issues import PRIORITIES
from runner.reports.summary import RunSummary

MAX_ROWS = 50
MAX_CELL = 300

_STATUS = {
    "passed": "✅ passed",
    "gates_failed": "❌ quality gates failed",
    "failed": "💥 run failed",
    "error": "⚠️ error",
}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&$=-])")


def md_text(value: object, limit: int = MAX_CELL) -> str:
    """Agent-controlled text as literal markdown on one line (bounded)."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_code(value: object, limit: int = MAX_CELL) -> str:
    """Agent-controlled text as an inline code span that survives a table cell."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    text = text.replace("|", "\\|")
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _pct(value: float | None) -> str:
    return format_percent(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _more(total: int, shown: int, what: str) -> list[str]:
    return ["", f"…and {total - shown} more {what}."] if total > shown else []


def render_markdown(summary: RunSummary) -> str:
    s = summary
    out: list[str] = [f"# sandbox-runner: {_STATUS.get(s.status, md_text(s.status))}", ""]
    meta = [
        f"run {md_code(s.run_id)}",
        f"agent {md_code(s.agent.name or 'n/a')}",
        f"model {md_code(s.model or 'n/a')}",
        f"exit code **{s.exit_code}**",
        f"duration {_duration(s.duration_s)}",
    ]
    out += [" · ".join(meta), ""]
    if s.failure:
        out += [f"> **Failure:** {md_text(s.failure, 1000)}", ""]

    out += ["## Gates", ""]
    if s.gates:
        out += _table(
            ["Gate", "Result", "Detail"],
            [[md_text(g.name), "✅ pass" if g.passed else "❌ fail", md_text(g.detail, 600)]
             for g in s.gates],
        )
    else:
        out.append("No gates were evaluated.")
    out.append("")

    t = s.tests
    out += ["## Tests", ""]
    if t.error:
        out.append(f"No test results: {md_text(t.error)}")
    else:
        out.append(
            f"**{t.passed} passed**, {t.failed} failed, {t.errors} error{'' if t.errors == 1 else 's'}, {t.skipped} skipped "
            f"({t.total} total) in {t.time:.2f}s"
        )
    if t.failures:
        out += ["", "### Failures", ""]
        shown = t.failures[:MAX_ROWS]
        out += _table(
            ["Test", "Kind", "Message"],
            [[md_code(f.test), f.kind, md_text(f.message)] for f in shown],
        )
        out += _more(len(t.failures) + t.failures_omitted, len(shown), "failures")
    out.append("")

    out += ["## Coverage", ""]
    c = s.coverage
    threshold = f" (threshold {s.coverage_threshold:g}%)" if s.coverage_threshold is not None else ""
    if c is None:
        out.append("No coverage report.")
    elif c.error:
        out.append(f"No coverage data: {md_text(c.error)}")
    else:
        out += [
            f"Line coverage **{_pct(c.line_percent)}** ({c.lines_covered}/{c.lines_valid} lines), "
            f"branch coverage **{_pct(c.branch_percent)}**{threshold}",
            "",
        ]
        files = sorted(c.files, key=lambda f: (f.line_percent, f.file))[:MAX_ROWS]
        out += _table(
            ["File", "Lines", "Line %", "Branch %"],
            [[md_code(f.file), f"{f.lines_covered}/{f.lines_valid}", _pct(f.line_percent),
              _pct(f.branch_percent)] for f in files],
        )
        out += _more(len(c.files), len(files), "files")
    out.append("")

    d = s.decisions
    out += ["## Policy decisions", "",
            f"{d.total} tool calls: **{d.allowed} allowed**, **{d.denied} denied**"
            + (f" ({d.malformed} unreadable log lines)" if d.malformed else ""), ""]
    if d.by_policy:
        out += _table(["Policy", "Allowed", "Denied"],
                      [[md_text(p), str(v.allowed), str(v.denied)] for p, v in d.by_policy.items()])
        out.append("")
    if d.by_tool:
        out += _table(["Tool", "Allowed", "Denied"],
                      [[md_text(k), str(v.allowed), str(v.denied)] for k, v in d.by_tool.items()])
        out.append("")
    if d.top_reasons:
        out += ["**Top deny reasons**", ""]
        out += _table(["Count", "Policy", "Rule", "Example"],
                      [[str(r.count), md_text(r.policy), md_code(r.rule), md_text(r.example_msg)]
                       for r in d.top_reasons])
        out.append("")

    out += [f"## Issues ({len(s.issues)})", ""]
    if not s.issues:
        out += ["The agent reported no issues.", ""]
    groups: list[tuple[str, list[str]]] = []
    for prio in (*PRIORITIES, None):
        titles = [i.title for i in s.issues if i.priority == prio]
        if titles:
            groups.append((prio.capitalize() if prio else "No priority", titles))
    for label, titles in groups:
        out += [f"**{label}**", ""]
        out += [f"- {md_text(title)}" for title in titles[:MAX_ROWS]]
        out += _more(len(titles), min(len(titles), MAX_ROWS), "issues")
        out.append("")

    ch = s.changes
    n_files = len(ch.files_added) + len(ch.files_modified) + len(ch.files_deleted)
    out += ["## Changes under backend/", "",
            f"{n_files} files changed: {len(ch.files_added)} added, {len(ch.files_modified)} "
            f"modified, {len(ch.files_deleted)} deleted; **+{ch.lines_added} / -{ch.lines_removed}**"
            " lines", ""]
    listed = (
        [("added", f) for f in ch.files_added] + [("modified", f) for f in ch.files_modified]
        + [("deleted", f) for f in ch.files_deleted]
    )
    out += [f"- {what}: {md_code(f)}" for what, f in listed[:MAX_ROWS]]
    out += _more(len(listed), min(len(listed), MAX_ROWS), "files")
    if listed:
        out.append("")

    tk = s.tokens
    out += ["## Model usage", "",
            f"{tk.requests} requests, {tk.input} input tokens, {tk.output} output tokens", ""]

    a = s.audit
    verified = {True: "✅ chain verified", False: "❌ chain verification FAILED",
                None: "not verified"}[a.verified]
    head = md_code(a.head_hash) if a.head_hash else "n/a (no decisions logged)"
    line = f"`decisions.jsonl`: {a.entries} entries, head {head}, {verified}"
    if a.detail:
        line += f" ({md_text(a.detail)})"
    out += ["## Audit log", "", line]
    if s.policy_bundle_hash:
        out += ["", f"Policy bundle {md_code(s.policy_bundle_hash)}"]
    out.append("")
    return "\n".join(out)


def write_step_summary(md: str) -> bool:
    """Append to ``$GITHUB_STEP_SUMMARY`` when it is set; True when written."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    with Path(target).open("a", encoding="utf-8") as fh:
        fh.write(md.rstrip("\n") + "\n\n")
    return True
