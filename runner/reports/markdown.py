"""``summary.md``: the run summary for people and ``$GITHUB_STEP_SUMMARY``.

Much of the content comes from the agent (test names, failure messages,
issue titles, file names, tool names, deny reasons), so every such value goes
through :mod:`runner.sanitize` (no control characters or escape sequences, no
workflow commands, one line, capped) and is then either escaped (:func:`md_text`:
markdown and HTML metacharacters backslash-escaped, URL schemes, ``www.`` and
``@`` broken so no autolink forms) or put in a code span (:func:`md_code`, which
GitHub never autolinks). The agent cannot forge table rows, headings, links or
HTML in the summary, and every table or list holds at most ``MAX_ROWS`` rows and
then says how many more there are.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from runner.reports.gates import format_percent
from runner.reports.issues import PRIORITIES
from runner.reports.summary import RunSummary
from runner.sanitize import one_line

MAX_ROWS = 50
MAX_CELL = 300

_STATUS = {
    "passed": "✅ passed",
    "gates_failed": "❌ quality gates failed",
    "failed": "💥 run failed",
    "error": "⚠️ error",
}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&$=-])")
_SCHEME = re.compile(r":(?=/)")  # http://x, file:/x, //x after a scheme
_WWW = re.compile(r"(?i)\b(www)\.")
_MAILTO = re.compile(r"(?i)\b(mailto|xmpp|javascript|data|vbscript):")


def defang(text: str) -> str:
    """Text that no markdown renderer turns into a link: ``http[:]//``, ``www[.]``, ``[@]``."""
    text = _SCHEME.sub("[:]", text)
    text = _WWW.sub(r"\1[.]", text)
    text = _MAILTO.sub(r"\1[:]", text)
    return text.replace("@", "[@]")


def md_text(value: object, limit: int = MAX_CELL) -> str:
    """Agent-controlled text as literal markdown on one line (bounded), no links."""
    return _MD_SPECIAL.sub(r"\\\1", defang(one_line(value, limit)))


def md_code(value: object, limit: int = MAX_CELL) -> str:
    """Agent-controlled text as an inline code span that survives a table cell."""
    text = one_line(value, limit)
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


def _table(header: list[str], rows: list[list[str]], *, total: int | None = None,
           what: str = "rows") -> list[str]:
    """A table of the first ``MAX_ROWS`` rows, then a "… N more" row (``total``: all rows)."""
    total = len(rows) if total is None else total
    shown = rows[:MAX_ROWS]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in shown]
    if total > len(shown):
        out.append("| " + " | ".join([f"… {total - len(shown)} more {what}"]
                                     + [""] * (len(header) - 1)) + " |")
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
        f"runtime {md_code(s.runtime)}",
        f"isolation {md_code(s.isolation)}",
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
            what="gates",
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
        out += _table(
            ["Test", "Kind", "Message"],
            [[md_code(f.test), md_text(f.kind), md_text(f.message)]
             for f in t.failures[:MAX_ROWS]],
            total=len(t.failures) + t.failures_omitted, what="failures",
        )
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
            f"branch coverage **{_pct(c.branch_percent)}**{threshold}" + (
                f"; {c.files_omitted} test files not counted (with them: "
                f"{_pct(c.total_line_percent)})" if c.files_omitted else ""),
            "",
        ]
        files = sorted(c.files, key=lambda f: (f.line_percent, f.file))[:MAX_ROWS]
        out += _table(
            ["File", "Lines", "Line %", "Branch %"],
            [[md_code(f.file), f"{f.lines_covered}/{f.lines_valid}", _pct(f.line_percent),
              _pct(f.branch_percent)] for f in files],
            total=len(c.files), what="files",
        )
    out.append("")

    d = s.decisions
    out += ["## Policy decisions", "",
            f"{d.total} tool calls: **{d.allowed} allowed**, **{d.denied} denied**"
            + (f" ({d.malformed} unreadable log lines)" if d.malformed else ""), ""]
    if d.by_policy:
        out += _table(["Policy", "Allowed", "Denied"],
                      [[md_text(p), str(v.allowed), str(v.denied)]
                       for p, v in list(d.by_policy.items())[:MAX_ROWS]],
                      total=len(d.by_policy), what="policies")
        out.append("")
    if d.by_tool:
        out += _table(["Tool", "Allowed", "Denied"],
                      [[md_text(k), str(v.allowed), str(v.denied)]
                       for k, v in list(d.by_tool.items())[:MAX_ROWS]],
                      total=len(d.by_tool), what="tools")
        out.append("")
    if d.top_reasons:
        out += ["**Top deny reasons**", ""]
        out += _table(["Count", "Policy", "Rule", "Example"],
                      [[str(r.count), md_text(r.policy), md_code(r.rule), md_text(r.example_msg)]
                       for r in d.top_reasons[:MAX_ROWS]],
                      total=len(d.top_reasons), what="reasons")
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
    if ch.diff_truncated:
        out += ["> ⚠️ `backend.diff` was truncated: the diff and these counts may be incomplete; "
                "review the tree itself.", ""]

    out += [f"## Persistence artifacts ({len(s.persistence)})", ""]
    if s.persistence:
        out += ["Files under the writable paths that can run later or elsewhere (bytecode, "
                "nested git repositories, `.pth` and customize hooks, symlinks, new executable "
                "bits). Review them before you run anything from this tree.", ""]
        out += _table(["Kind", "Path", "Detail"],
                      [[md_text(a.kind), md_code(a.path), md_text(a.detail)]
                       for a in s.persistence[:MAX_ROWS]],
                      total=len(s.persistence), what="artifacts")
    else:
        out.append("None flagged.")
    out.append("")

    tk = s.tokens
    out += ["## Model usage", "",
            f"{tk.requests} requests, {tk.input} input tokens, {tk.output} output tokens", ""]
    g = s.gateway
    if g.refused or g.events_dropped or g.clamped or g.redactions:
        out += [f"Gateway: {g.refused} calls refused on the socket (no token, too large or a "
                f"refused shape), {g.clamped} max_tokens clamped, {g.events_dropped} events dropped, "
                f"{g.redactions} secrets redacted.", ""]

    e = s.egress
    if e is not None:
        allowed = ", ".join(md_code(h) for h in e.allowlist[:MAX_ROWS]) or "none"
        out += ["## Egress", "",
                f"Allowed hosts: {allowed}. {e.connections} connections through the proxy: "
                f"{e.allowed} allowed, {e.denied} denied by the policy, {e.refused} refused "
                f"({e.addresses_refused} for a non-public address), {e.failed} failed; "
                f"{e.bytes_up} bytes out, {e.bytes_down} bytes in (`egress.jsonl`).", ""]

    a = s.audit
    verified = {True: "✅ chain verified", False: "❌ chain verification FAILED",
                None: "not verified"}[a.verified]
    head = md_code(a.head_hash) if a.head_hash else "n/a (no decisions logged)"
    line = f"`decisions.jsonl`: {a.entries} entries, head {head}, {verified}"
    if a.detail:
        line += f" ({md_text(a.detail)})"
    signed = (f"Head signed with host key {md_code(a.key_id)} (`audit.sig`; check with "
              "`sandbox-runner audit verify RUN_DIR --key KEYFILE`)." if a.signature and a.key_id
              else "Head not signed with a host key.")
    out += ["## Audit log", "", line, "", signed]
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
