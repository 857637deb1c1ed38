"""The HTML report: one self-contained file an auditor opens in a browser.

Inline CSS, no scripts, no external assets; a Content-Security-Policy meta tag
forbids scripts and remote loads even if something slipped through. Every
value goes through :mod:`runner.sanitize` (control, escape and bidi characters
removed) and is HTML-escaped: test names, failure text, issues, file names,
tool inputs and the diff all come from the agent. The only links are the
report's own ``#anchors``; text is never turned into a link. Every table and
list holds at most ``MAX_ROWS`` rows (the timeline ``MAX_TIMELINE``), then a
"… N more" row.

Sections: header (run, status, agent, model, image, policy bundle, audit
head), gates, the timeline of tool calls from ``decisions.jsonl`` (denied
rows in red, with their reasons; a CSS-only "denied only" filter), tests and
failures, coverage per file, issues by priority, and the ``backend/`` diff.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from runner.audit.show import summarize_call
from runner.errors import InputError
from runner.reports.gates import format_percent
from runner.reports.issues import PRIORITIES, IssueEntry
from runner.reports.summary import (
    DECISIONS_JSONL,
    PersistenceArtifact,
    RunSummary,
    entry_allowed,
    entry_reasons,
    entry_tool,
    load_summary,
    read_decisions,
)
from runner.sanitize import clean

MAX_DIFF_BYTES = 5 * 1024 * 1024
MAX_DIFF_LINES = 20_000
MAX_TIMELINE = 5_000
MAX_ROWS = 500
MAX_DIFF_FILES = 500
MAX_SUMMARY = 300
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
       "form-action 'none'")

_CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--soft:#f6f8fa;--ok:#1a7f37;
--okbg:#dafbe1;--bad:#cf222e;--badbg:#ffebe9;--warn:#9a6700;--warnbg:#fff8c5;--accent:#0969da}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 -apple-system,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif;
color:var(--fg);background:var(--bg)}
main{max-width:1200px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 12px;padding-bottom:6px;
border-bottom:1px solid var(--line)}h3{font-size:15px;margin:18px 0 8px}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{margin:0;white-space:pre-wrap;word-break:break-word}
nav{position:sticky;top:0;background:var(--bg);border-bottom:1px solid var(--line);z-index:2;
padding:8px 32px;font-size:13px}nav a{margin-right:16px;color:var(--accent);text-decoration:none}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:12px 0;
color:var(--muted)}.meta dd{margin:0;color:var(--fg);word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:120px;
background:var(--soft)}.card .n{font-size:20px;font-weight:600}.card .l{color:var(--muted);
font-size:12px}
.badge{display:inline-block;border-radius:12px;padding:1px 9px;font-size:12px;font-weight:600;
white-space:nowrap}
.ok{color:var(--ok);background:var(--okbg)}.bad{color:var(--bad);background:var(--badbg)}
.warn{color:var(--warn);background:var(--warnbg)}.muted{color:var(--muted)}
.status{font-size:15px;vertical-align:middle;margin-left:8px}
.banner{border:1px solid var(--bad);background:var(--badbg);border-radius:8px;padding:8px 12px;
margin:12px 0}
table{border-collapse:collapse;width:100%;margin:8px 0}
table.compact{width:auto;min-width:480px}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600;font-size:13px}
td.num,th.num{text-align:right;white-space:nowrap}
tr.denied td{background:var(--badbg)}tr.denied td:first-child{box-shadow:inset 3px 0 var(--bad)}
.timeline td.what{max-width:520px}.timeline td.what code{word-break:break-all}
.reason{display:block;margin:2px 0}.reason b{color:var(--bad)}
.filter{display:inline-block;margin:4px 0 6px;font-size:13px}
#only-denied:checked ~ table.timeline tr.allowed{display:none}
.bar{background:var(--line);border-radius:3px;height:8px;width:120px;display:inline-block;
vertical-align:middle;overflow:hidden}.bar span{display:block;height:8px}
details{border:1px solid var(--line);border-radius:6px;margin:8px 0;background:var(--bg)}
details>summary{cursor:pointer;padding:6px 10px;background:var(--soft);border-radius:6px}
details>pre,details>div{padding:8px 10px}
.diff{background:var(--soft);border-top:1px solid var(--line)}
.diff .a{background:#dafbe1;display:block}.diff .d{background:#ffebe9;display:block}
.diff .h{color:#8250df;display:block}.diff .m{color:var(--muted);display:block}
.diff .c{display:block}
.issue{border:1px solid var(--line);border-radius:6px;padding:8px 12px;margin:8px 0}
.issue .t{font-weight:600}.issue pre{margin-top:6px;color:var(--fg)}
.p-critical{color:#fff;background:#a40e26}.p-high{color:var(--bad);background:var(--badbg)}
.p-medium{color:var(--warn);background:var(--warnbg)}.p-low{color:var(--ok);background:var(--okbg)}
.p-none{color:var(--muted);background:var(--soft)}
footer{margin-top:40px;color:var(--muted);font-size:12px}
"""

_STATUS = {
    "passed": ("passed", "ok"),
    "gates_failed": ("quality gates failed", "bad"),
    "failed": ("run failed", "bad"),
    "error": ("error", "warn"),
}


def e(value: object) -> str:
    """Sanitize and HTML-escape anything (quotes included)."""
    return escape(clean("" if value is None else str(value), 0), quote=True)


def _more_row(total: int, shown: int, columns: int, what: str) -> str:
    """The "… N more" last row of a capped table ("" when nothing was left out)."""
    if total <= shown:
        return ""
    return (f'<tr class="more"><td colspan="{columns}" class="muted">… {total - shown} more '
            f"{e(what)} not shown</td></tr>")


def _short(text: str, limit: int = MAX_SUMMARY) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tool_summary(entry: dict[str, Any]) -> str:
    """A one-line description of a logged tool call (its command, path or pattern)."""
    tool = entry.get("input", {}).get("tool", {}) if isinstance(entry.get("input"), dict) else {}
    args = tool.get("input") if isinstance(tool, dict) else None
    if not isinstance(args, dict):
        return ""
    name = entry_tool(entry)
    text = summarize_call(name, args, width=1_000_000)
    if name == "Write" and isinstance(args.get("content"), str):
        text += f"  ({len(args['content'].splitlines())} lines)"
    return _short(text)


def _time(ts: object) -> str:
    text = str(ts or "")
    if "T" in text:
        return text.split("T", 1)[1][:12].rstrip("Z")
    return text[:12]


def _pct_bar(pct: float | None) -> str:
    if pct is None:
        return ""
    width = max(0.0, min(100.0, float(pct)))
    colour = "#1a7f37" if width >= 80 else "#9a6700" if width >= 50 else "#cf222e"
    return f'<span class="bar"><span style="width:{width:.1f}%;background:{colour}"></span></span>'


def _read_text(path: Path, limit: int) -> tuple[str, bool]:
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError:
        return "", False
    return data[:limit].decode("utf-8", errors="replace"), len(data) > limit


def _load_issues(run_dir: Path, summary: RunSummary) -> list[IssueEntry]:
    try:
        raw = json.loads((run_dir / "issues.json").read_text(encoding="utf-8"))
        return [IssueEntry.model_validate(item) for item in raw]
    except (OSError, ValueError, TypeError):
        return [IssueEntry(title=i.title, priority=i.priority) for i in summary.issues]


def _partial_summary(run_dir: Path) -> RunSummary:
    run_id = run_dir.name
    try:
        run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        if isinstance(run, dict) and isinstance(run.get("id"), str):
            run_id = run["id"]
    except (OSError, ValueError):
        pass
    return RunSummary(run_id=run_id, status="error",
                      failure="summary.json is missing: the run did not finish")


# --- sections --------------------------------------------------------------------------------


def _header(s: RunSummary) -> str:
    label, cls = _STATUS.get(s.status, (s.status, "warn"))
    audit = {True: '<span class="badge ok">verified</span>',
             False: '<span class="badge bad">verification FAILED</span>',
             None: '<span class="badge warn">not verified</span>'}[s.audit.verified]
    rows = [
        ("Run", f"<code>{e(s.run_id)}</code>"),
        ("Exit code", e(s.exit_code)),
        ("Agent", f"{e(s.agent.name or 'n/a')} <span class='muted mono'>sha256 "
                  f"{e(s.agent.sha256[:16] or 'n/a')}</span>"),
        ("Model", f"<code>{e(s.model or 'n/a')}</code>"),
        ("Runtime", f"<code>{e(s.runtime)}</code>"),
        ("Isolation", f"<code>{e(s.isolation)}</code>"
                      + (" <span class='muted'>gVisor user-space kernel</span>"
                         if s.isolation == "gvisor" else "")),
        ("Image", f"<code>{e(s.image or 'n/a')}</code>"),
        ("Policy bundle", f"<code>{e(s.policy_bundle_hash or 'n/a')}</code>"),
        ("Started / finished", f"{e(s.started_at or 'n/a')} → {e(s.finished_at or 'n/a')} "
                               f"({e(f'{s.duration_s:.1f}s' if s.duration_s is not None else 'n/a')})"),
        ("Audit head", f"<code>{e(s.audit.head_hash or 'n/a')}</code> {audit} "
                       f"<span class='muted'>{e(s.audit.entries)} entries</span> "
                       + (f"<span class='badge ok'>signed</span> <span class='muted'>host key "
                          f"{e(s.audit.key_id)}</span>" if s.audit.signature and s.audit.key_id
                          else "<span class='badge warn'>not signed</span>")),
    ]
    if s.project:
        rows.insert(1, ("Project", f"<code>{e(s.project)}</code>"))
    meta = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    out = [f'<h1>sandbox-runner report <span class="badge status {cls}" id="status">{e(label)}'
           f"</span></h1>", f'<dl class="meta">{meta}</dl>']
    if s.failure:
        out.append(f'<div class="banner" id="failure"><b>Failure:</b> {e(s.failure)}</div>')
    if s.audit.detail:
        out.append(f'<div class="banner"><b>Audit:</b> {e(s.audit.detail)}</div>')
    t, c, d, ch = s.tests, s.coverage, s.decisions, s.changes
    cards = [
        (f"{t.passed}/{t.total}", "tests passed" if not t.error else "no test results"),
        (f"{t.failed + t.errors}", "failed or errors"),
        (format_percent(c.line_percent) if c and not c.error else "n/a", "line coverage"),
        (f"{d.allowed} / {d.denied}", "tool calls allowed / denied"),
        (str(len(s.issues)), "issues reported"),
        (f"+{ch.lines_added} −{ch.lines_removed}",
         f"{len(ch.files_added) + len(ch.files_modified) + len(ch.files_deleted)} files changed"),
        (f"{s.tokens.input + s.tokens.output}", f"tokens in {s.tokens.requests} requests"),
    ]
    out.append('<div class="cards">' + "".join(
        f'<div class="card"><div class="n">{e(n)}</div><div class="l">{e(lbl)}</div></div>'
        for n, lbl in cards) + "</div>")
    return "\n".join(out)


def _gates(s: RunSummary) -> str:
    if not s.gates:
        return '<h2 id="gates">Gates</h2><p class="muted">No gates were evaluated.</p>'
    rows = "".join(
        f"<tr class='gate {'passed' if g.passed else 'failed'}'><td>{e(g.name)}</td><td>"
        f"<span class='badge {'ok' if g.passed else 'bad'}'>{'pass' if g.passed else 'fail'}"
        f"</span></td><td>{e(g.detail)}</td></tr>"
        for g in s.gates[:MAX_ROWS]
    ) + _more_row(len(s.gates), MAX_ROWS, 3, "gates")
    return (f'<h2 id="gates">Gates</h2><table><tr><th>Gate</th><th>Result</th><th>Detail</th>'
            f"</tr>{rows}</table>")


def _timeline(entries: list[dict[str, Any]], malformed: int, s: RunSummary) -> str:
    d = s.decisions
    head = (f'<h2 id="timeline">Timeline of tool calls</h2><p>{len(entries)} decisions: '
            f"<b>{sum(1 for x in entries if entry_allowed(x))}</b> allowed, "
            f"<b>{sum(1 for x in entries if not entry_allowed(x))}</b> denied"
            + (f", {malformed} unreadable log lines" if malformed else "") + ".</p>")
    if not entries:
        return head + '<p class="muted">No tool calls were logged.</p>'
    rows: list[str] = []
    for i, entry in enumerate(entries[:MAX_TIMELINE]):
        allowed = entry_allowed(entry)
        seq = entry.get("seq", i)
        reasons = "".join(
            f'<span class="reason"><b>{e(r["policy"])}</b>/<code>{e(r["rule"])}</code>: '
            f'{e(r["msg"])}</span>'
            for r in entry_reasons(entry)
        )
        badge = '<span class="badge ok">allow</span>' if allowed else \
            '<span class="badge bad">DENY</span>'
        rows.append(
            f'<tr class="call {"allowed" if allowed else "denied"}" id="call-{e(seq)}">'
            f'<td class="num mono">{e(seq)}</td><td class="mono">{e(_time(entry.get("timestamp")))}'
            f'</td><td>{e(entry_tool(entry))}</td><td class="what"><code>'
            f"{e(tool_summary(entry))}</code></td><td>{badge}</td><td>{reasons}</td></tr>"
        )
    rows.append(_more_row(len(entries), MAX_TIMELINE, 6, "decisions"))
    policy_rows = "".join(
        f"<tr><td>{e(p)}</td><td class='num'>{v.allowed}</td><td class='num'>{v.denied}</td></tr>"
        for p, v in list(d.by_policy.items())[:MAX_ROWS]
    ) + _more_row(len(d.by_policy), MAX_ROWS, 3, "policies")
    reason_rows = "".join(
        f"<tr><td class='num'>{r.count}</td><td>{e(r.policy)}</td><td><code>{e(r.rule)}</code>"
        f"</td><td>{e(r.example_msg)}</td></tr>"
        for r in d.top_reasons[:MAX_ROWS]
    ) + _more_row(len(d.top_reasons), MAX_ROWS, 4, "reasons")
    stats = ""
    if policy_rows:
        stats += ("<h3>Per policy</h3><table class='compact'><tr><th>Policy</th><th class='num'>Allowed</th>"
                  f"<th class='num'>Denied</th></tr>{policy_rows}</table>")
    if reason_rows:
        stats += ("<h3>Top deny reasons</h3><table><tr><th class='num'>Count</th><th>Policy</th>"
                  f"<th>Rule</th><th>Example</th></tr>{reason_rows}</table>")
    return (
        head + stats + "<h3>Calls</h3>"
        '<input type="checkbox" id="only-denied"> <label class="filter" for="only-denied">'
        "Show denied calls only</label>"
        '<table class="timeline"><tr><th class="num">#</th><th>Time (UTC)</th><th>Tool</th>'
        "<th>Call</th><th>Decision</th><th>Reasons</th></tr>" + "".join(rows) + "</table>"
    )


def _tests(s: RunSummary) -> str:
    t = s.tests
    out = ['<h2 id="tests">Tests</h2>']
    if t.error:
        out.append(f'<p class="banner">No test results: {e(t.error)}</p>')
    else:
        out.append(f"<p><b>{t.passed} passed</b>, {t.failed} failed, {t.errors} "
                   f"error{'' if t.errors == 1 else 's'}, "
                   f"{t.skipped} skipped ({t.total} total) in {t.time:.2f}s.</p>")
    for f in t.failures[:MAX_ROWS]:
        out.append(
            f'<details class="failure"><summary><span class="badge bad">{e(f.kind)}</span> '
            f"<code>{e(f.test)}</code> — {e(f.message)}</summary><pre>{e(f.details or f.message)}"
            "</pre></details>"
        )
    omitted = t.failures_omitted + max(0, len(t.failures) - MAX_ROWS)
    if omitted:
        out.append(f'<p class="muted">… {omitted} more failures not listed.</p>')
    return "\n".join(out)


def _coverage(s: RunSummary) -> str:
    c = s.coverage
    out = ['<h2 id="coverage">Coverage</h2>']
    if c is None or c.error:
        out.append(f'<p class="muted">No coverage data{": " + e(c.error) if c and c.error else ""}'
                   ".</p>")
        return "\n".join(out)
    threshold = (f" (threshold {e(f'{s.coverage_threshold:g}')}%)"
                 if s.coverage_threshold is not None else "")
    out.append(f"<p>Line coverage <b>{e(format_percent(c.line_percent))}</b> "
               f"({c.lines_covered}/{c.lines_valid} lines), branch coverage "
               f"<b>{e(format_percent(c.branch_percent))}</b>{threshold}"
               + (f"; {c.files_omitted} test files not counted (with them: "
                  f"{e(format_percent(c.total_line_percent))})" if c.files_omitted else "")
               + ".</p>")
    rows = "".join(
        f"<tr><td><code>{e(f.file)}</code></td><td class='num'>{f.lines_covered}/{f.lines_valid}"
        f"</td><td>{_pct_bar(f.line_percent)}</td><td class='num'>{e(format_percent(f.line_percent))}"
        f"</td><td class='num'>{e(format_percent(f.branch_percent))}</td></tr>"
        for f in c.files[:MAX_ROWS]
    ) + _more_row(len(c.files), MAX_ROWS, 5, "files")
    out.append("<table class='coverage'><tr><th>File</th><th class='num'>Lines</th><th></th>"
               f"<th class='num'>Line %</th><th class='num'>Branch %</th></tr>{rows}</table>")
    return "\n".join(out)


def _issues(issues: list[IssueEntry]) -> str:
    out = [f'<h2 id="issues">Issues ({len(issues)})</h2>']
    if not issues:
        out.append('<p class="muted">The agent reported no issues.</p>')
    ordered = [i for prio in (*PRIORITIES, None) for i in issues if i.priority == prio]
    for issue in ordered[:MAX_ROWS]:
        prio = issue.priority
        body = f"<pre>{e(issue.body)}</pre>" if issue.body else ""
        out.append(f'<div class="issue"><span class="badge p-{prio or "none"}">'
                   f'{e(prio or "no priority")}</span> <span class="t">{e(issue.title)}</span>'
                   f"{body}</div>")
    if len(ordered) > MAX_ROWS:
        out.append(f'<p class="muted">… {len(ordered) - MAX_ROWS} more issues not shown '
                   "(issues.json lists them).</p>")
    return "\n".join(out)


def _diff_line(line: str) -> str:
    if line.startswith(("+++ ", "--- ")):
        cls = "m"
    elif line.startswith("+"):
        cls = "a"
    elif line.startswith("-"):
        cls = "d"
    elif line.startswith("@@"):
        cls = "h"
    elif line.startswith(("new file", "deleted file", "old mode", "new mode", "Binary files",
                          "Special file", "\\ No newline")):
        cls = "m"
    else:
        cls = "c"
    return f'<span class="{cls}">{e(line) or " "}</span>'


def _diff(s: RunSummary, text: str, cut: bool) -> str:
    ch = s.changes
    out = [f'<h2 id="diff">Changes under backend/</h2><p>{len(ch.files_added)} added, '
           f"{len(ch.files_modified)} modified, {len(ch.files_deleted)} deleted; "
           f"<b>+{ch.lines_added} −{ch.lines_removed}</b> lines.</p>"]
    if ch.diff_truncated:
        out.append('<p class="banner" id="diff-truncated"><b>backend.diff was truncated:</b> '
                   "the diff and these counts may be incomplete; review the tree itself.</p>")
    if not text.strip():
        out.append('<p class="muted">No diff recorded.</p>')
        return "\n".join(out)
    files: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("diff --git ") or not files:
            name = line[len("diff --git a/"):].split(" b/", 1)[0] if line.startswith(
                "diff --git ") else "(diff)"
            files.append((name, []))
            if line.startswith("diff --git "):
                continue
        files[-1][1].append(line)
    budget = MAX_DIFF_LINES
    listed = 0
    for name, lines in files:
        if budget <= 0 or listed >= MAX_DIFF_FILES:
            break
        listed += 1
        shown = lines[:budget]
        budget -= len(shown)
        added = sum(1 for x in lines if x.startswith("+") and not x.startswith("+++ "))
        removed = sum(1 for x in lines if x.startswith("-") and not x.startswith("--- "))
        body = "".join(_diff_line(x) for x in shown)
        if len(shown) < len(lines):
            body += f'<span class="m">…{len(lines) - len(shown)} more lines not shown</span>'
        out.append(f'<details class="file" open><summary><code>{e(name)}</code> '
                   f'<span class="muted">+{added} −{removed}</span></summary>'
                   f'<pre class="diff">{body}</pre></details>')
    if listed < len(files):
        out.append(f'<p class="muted">… {len(files) - listed} more files not shown.</p>')
    if cut:
        out.append('<p class="muted">The diff file is larger than the report shows.</p>')
    return "\n".join(out)


def _persistence(artifacts: list[PersistenceArtifact]) -> str:
    out = [f'<h2 id="persistence">Persistence artifacts ({len(artifacts)})</h2>']
    if not artifacts:
        out.append('<p class="muted">None flagged.</p>')
        return "\n".join(out)
    out.append('<p class="banner">Files under the writable paths that can run later or '
               "elsewhere (bytecode, nested git repositories, <code>.pth</code> and customize "
               "hooks, symlinks, new executable bits). Review them before you run anything "
               "from this tree.</p>")
    rows = "".join(
        f"<tr class='artifact'><td><span class='badge warn'>{e(a.kind)}</span></td>"
        f"<td><code>{e(a.path)}</code></td><td>{e(a.detail)}</td></tr>"
        for a in artifacts[:MAX_ROWS]
    ) + _more_row(len(artifacts), MAX_ROWS, 3, "artifacts")
    out.append(f"<table class='persistence'><tr><th>Kind</th><th>Path</th><th>Detail</th></tr>"
               f"{rows}</table>")
    return "\n".join(out)


def render_html(run_dir: Path) -> str:
    """The self-contained HTML report of a run directory."""
    if not run_dir.is_dir():
        raise InputError("run directory does not exist", path=run_dir)
    summary = (load_summary(run_dir) if (run_dir / "summary.json").exists()
               else _partial_summary(run_dir))
    entries, malformed = read_decisions(run_dir / DECISIONS_JSONL)
    diff_text, cut = _read_text(run_dir / "backend.diff", MAX_DIFF_BYTES)
    issues = _load_issues(run_dir, summary)
    body = "\n".join([
        _header(summary), _gates(summary), _timeline(entries, malformed, summary),
        _tests(summary), _coverage(summary), _issues(issues), _diff(summary, diff_text, cut),
        _persistence(summary.persistence),
    ])
    nav = "".join(f'<a href="#{a}">{t}</a>' for a, t in (
        ("gates", "Gates"), ("timeline", "Timeline"), ("tests", "Tests"),
        ("coverage", "Coverage"), ("issues", "Issues"), ("diff", "Diff"),
        ("persistence", "Persistence")))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>sandbox-runner report {e(summary.run_id)}</title><style>{_CSS}</style></head>"
        f"<body><nav>{nav}</nav><main>{body}<footer>Generated by sandbox-runner from "
        f"<code>{e(run_dir.name)}</code>. Decision log: decisions.jsonl "
        f"(verify with <code>sandbox-runner audit verify</code>).</footer></main></body></html>\n"
    )
