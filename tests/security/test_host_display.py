"""Host boundary: nothing from the sandbox reaches a console, a summary or a report unsanitized.

The payload forges terminal output (ANSI CSI, OSC 8 hyperlinks, OSC window titles, C1
controls, a carriage return that overwrites "DENY" with "allow"), GitHub workflow commands
(``::warning file=..::`` annotations, ``::add-mask::``, ``##[error]``), rich markup and
markdown links/autolinks. It is planted where the agent controls text: the tool name and
input of a decided call (and so the deny reason, which quotes it), a model text event, an
agent stderr line, the failure message, test names, issue titles, persistence artifacts.
The real path renders it: ``Run.decisions.decide``/``Run._agent_line``/``Run.finish`` with a real
policy engine into a rich console, ``summary.md``, ``$GITHUB_STEP_SUMMARY`` and the HTML report.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt
from rich.console import Console

import runner.reports.html as html_report
from runner.audit import DecisionLog
from runner.cli import main
from runner.config import build_run_config
from runner.errors import RunFailed
from runner.protocol import DecideRequest, EventRequest
from runner.reports.gates import Gate
from runner.reports.html import render_html
from runner.reports.junit import TestFailure, TestResults
from runner.reports.markdown import MAX_ROWS, render_markdown, write_step_summary
from runner.reports.summary import (
    AllowDeny,
    ChangeStats,
    DecisionStats,
    IssueRef,
    PersistenceArtifact,
    ReasonCount,
    RunSummary,
    write_summary,
)
from runner.run.display import RunDisplay
from runner.run.phases import Run, prepare
from tests.audit.logdata import PERMISSIVE

pytestmark = pytest.mark.host_boundary(
    finding="display-forgery",
    title="Tool names, model text, agent stderr and deny reasons could forge terminal output, "
          "CI annotations and links; everything shown now passes the sanitizer, is escaped for "
          "its format, and tables are capped",
)

EVIL = (
    "Bash\x1b[2J\x1b[5;7mred\x1b[25m \x1b]8;;http://evil.example/osc\x07osc-link\x1b]8;;\x07"
    "\x1b]0;window-title\x07 \x9b31mc1\x1b[?25l"
    "\nallowed\rDENY"
    "\n::warning file=backend/app.py,line=1::forged annotation"
    "\n  ::add-mask::hide-the-real-output"
    "\n##[error]forged error"
    "\n[bold red]FAKE[/] [link=http://evil.example/rich]rich-link[/link]"
    " [click](http://evil.example/md) <http://evil.example/auto> https://evil.example/bare"
    " www.evil.example mail@evil.example <img src=x onerror=alert(1)>"
)
# What the attacker's sequences would look like in the output, whole or in part.
# (Our own styles are other sequences: the terminal console emits those.)
FORGED = ("\x1b[2J", "\x1b[5;7m", "\x1b[25m", "\x1b]", "\x07", "\x9b", "\x1b[?25l", "\r")


def assert_no_forgery(text: str) -> None:
    for seq in FORGED:
        assert seq not in text, (seq, text)
    for line in text.splitlines():
        assert not re.match(r"\s*(::|##\[)", line), line


def plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, color_system=None, width=400,
                   soft_wrap=True, highlight=False), out


def terminal_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, color_system="truecolor", width=400,
                   soft_wrap=True, highlight=False), out


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("SANDBOX_RUNNER_AUDIT_KEY", str(tmp_path / "host" / "audit.key"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step-summary.md"))
    project = tmp_path / "proj"
    (project / "backend").mkdir(parents=True)
    scenario = tmp_path / "s.yaml"
    scenario.write_text('turns:\n  - text: "Done."\n')
    cfg = build_run_config(project, {"model": f"scripted:{scenario}",
                                     "out": str(tmp_path / "run")})
    return Run(prepare(cfg), RunDisplay(quiet=True))


def drive(run: Run, display: RunDisplay) -> RunSummary:
    """Everything the sandbox can put on screen, through the real callbacks."""
    run.display = display
    run.decisions.display = display
    run.run_dir.mkdir(parents=True)
    run.decisions.log = DecisionLog(run.run_dir / "decisions.jsonl", labels={"run_id": run.run_id},
                          bundle_hash=run.prep.bundle.hash)
    with run.decisions.log:
        denied = run.decisions.decide(DecideRequest(tool=EVIL, input={"command": EVIL, "file_path": EVIL},
                                          tool_use_id=EVIL))
        also = run.decisions.decide(DecideRequest(tool="Bash", input={"command": f"curl {EVIL}"}))
        write = run.decisions.decide(DecideRequest(tool="Write", input={"file_path": f"frontend/{EVIL}",
                                                              "content": "x"}))
    assert not denied.allow and not also.allow and not write.allow
    assert any("Bash" in r.msg or "frontend" in r.msg or "evil" in r.msg
               for r in [*denied.reasons, *also.reasons, *write.reasons])  # reasons quote it
    for kind, key in (("text", "text"), ("agent_error", "message"), ("agent_finished", "reason")):
        display.event(EventRequest(kind=kind, data={key: EVIL}))  # type: ignore[arg-type]
    for line in EVIL.split("\n"):
        run._agent_line("stderr", line)
    run._agent_line("stderr", EVIL)
    failure = RunFailed(f"agent exited with code 1: {EVIL}")
    display.failure(str(failure))
    summary = run.finish(failure)
    display.result(summary, str(run.run_dir))
    return summary


@pytest.mark.parametrize("make_console", [plain_console, terminal_console])
def test_console_shows_sandbox_text_without_escapes_markup_or_workflow_commands(
        run: Run, make_console: object) -> None:
    console, out = make_console()  # type: ignore[operator]
    drive(run, RunDisplay(console=console))
    text = out.getvalue()
    assert_no_forgery(text)
    if not console.is_terminal:
        assert "\x1b" not in text
    assert "\x1b]8;" not in text  # no hyperlink from [link=...] markup either
    assert "[bold red]FAKE[/]" in text  # markup shown literally, not applied
    assert "DENY" in text and "forged annotation" in text  # the text is shown, defused
    assert "window-title" not in text  # an OSC sequence is removed whole


def test_markdown_summary_and_step_summary_hold_no_forgery_and_no_links(run: Run) -> None:
    console, _ = plain_console()
    summary = drive(run, RunDisplay(console=console))
    md = (run.run_dir / "summary.md").read_text()
    step = Path(str(run.run_dir.parent / "step-summary.md")).read_text()
    assert md.strip() == step.strip()
    assert EVIL.split("\n")[0][:4] in md  # the failure is there, sanitized
    for text in (md, step, render_markdown(summary)):
        assert_no_forgery(text)
        assert_no_links(text)


def test_html_report_holds_no_forgery_and_no_links(run: Run) -> None:
    console, _ = plain_console()
    drive(run, RunDisplay(console=console))
    html = render_html(run.run_dir)
    assert_no_forgery(html)
    assert "\x1b" not in html
    anchors = re.findall(r"<a\b[^>]*>", html, flags=re.IGNORECASE)
    assert anchors and all(re.fullmatch(r'<a href="#[a-z-]+">', a) for a in anchors), anchors
    assert "<img" not in html


def test_audit_show_and_replay_print_sanitized_rows(run: Run, tmp_path: Path) -> None:
    console, _ = plain_console()
    drive(run, RunDisplay(console=console))
    shown = CliRunner().invoke(main, ["audit", "show", str(run.run_dir)],
                               env={"COLUMNS": "400"}, color=True)
    assert shown.exit_code == 0, shown.output
    assert "forged annotation" in shown.stdout
    assert_no_forgery(shown.stdout)
    permissive = tmp_path / "permissive"
    permissive.mkdir()
    (permissive / "main.rego").write_text(PERMISSIVE)
    replayed = CliRunner().invoke(main, ["audit", "replay", str(run.run_dir), "--policy-dir",
                                         str(permissive)])
    assert replayed.exit_code == 0, replayed.output
    assert "deny -> allow" in replayed.stdout and "forged annotation" in replayed.stdout
    assert_no_forgery(replayed.stdout)


def md_tokens(md: str) -> list[tuple[str, str]]:
    """(type, content) of every inline token of a GFM-ish parse (tables on)."""
    parser = MarkdownIt("commonmark").enable("table")
    out: list[tuple[str, str]] = []
    for token in parser.parse(md):
        for child in token.children or []:
            out.append((child.type, child.content))
    return out


def assert_no_links(md: str) -> None:
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<a " not in html and "<img" not in html, html
    # GitHub also links bare URLs, www. and e-mail addresses in text (not in code spans)
    for kind, content in md_tokens(md):
        if kind == "text":
            assert not re.search(r"(?i)[a-z]://|www\.|\w@\w", content), content


def evil_summary(n: int) -> RunSummary:
    return RunSummary(
        run_id="r", status="gates_failed", exit_code=1, failure=EVIL,
        gates=[Gate(name=f"g{i}{EVIL}", passed=False, detail=EVIL) for i in range(n)],
        tests=TestResults(total=n, failed=n, failures=[
            TestFailure(test=f"t{i}::{EVIL}", kind="failure", message=EVIL) for i in range(n)]),
        decisions=DecisionStats(
            total=n, denied=n,
            by_tool={f"{EVIL}{i}": AllowDeny(denied=1) for i in range(n)},
            top_reasons=[ReasonCount(policy="scope", rule=EVIL, count=1, example_msg=EVIL)]),
        issues=[IssueRef(title=f"{EVIL}{i}", priority="high") for i in range(n)],
        changes=ChangeStats(files_added=[f"backend/{EVIL}{i}" for i in range(n)],
                            diff_truncated=True),
        persistence=[PersistenceArtifact(path=f"backend/{EVIL}{i}", kind="pth", detail=EVIL)
                     for i in range(n)],
    )


def table_rows(md: str, header: str) -> list[str]:
    lines = md.splitlines()
    start = lines.index(header)
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("| "):
            break
        rows.append(line)
    return rows


def test_every_markdown_table_is_capped_with_a_more_row(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    n = MAX_ROWS * 3
    md = render_markdown(evil_summary(n))
    assert_no_forgery(md)
    assert_no_links(md)
    for header in ("| Gate | Result | Detail |", "| Test | Kind | Message |",
                   "| Tool | Allowed | Denied |", "| Kind | Path | Detail |"):
        rows = table_rows(md, header)
        assert len(rows) == MAX_ROWS + 1, header
        assert rows[-1].startswith(f"| … {n - MAX_ROWS} more "), rows[-1]
    assert md.count("- added: ") == MAX_ROWS and f"…and {n - MAX_ROWS} more files." in md
    assert "## Persistence artifacts (150)" in md and "`backend.diff` was truncated" in md
    target = tmp_path / "step.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert write_step_summary(md)
    assert len(target.read_text()) < 1024 * 1024  # GitHub's step summary limit


def test_every_html_table_is_capped_with_a_more_row(tmp_path: Path) -> None:
    cap = html_report.MAX_ROWS
    n = cap + 20
    run_dir = tmp_path / "run"
    write_summary(run_dir, evil_summary(n))
    html = render_html(run_dir)
    assert_no_forgery(html)
    assert html.count("<tr class='artifact'>") == cap
    assert html.count('<details class="failure">') == cap
    assert html.count('<div class="issue">') == cap
    assert "… 20 more artifacts not shown" in html and "… 20 more failures not listed" in html
    assert "… 20 more gates not shown" in html and "… 20 more issues not shown" in html
    assert 'id="diff-truncated"' in html
