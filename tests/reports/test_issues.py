"""issues.md parsing: the shapes people and models actually write."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from runner.hostfs import WorkspaceFS
from runner.reports.issues import IssueEntry, parse_issues_md, read_issues_file


def titles(text: str) -> list[tuple[str, str | None]]:
    return [(e.title, e.priority) for e in parse_issues_md(text)]


# (markdown, expected [(title, priority)])
CASES: dict[str, tuple[str, list[tuple[str, str | None]]]] = {
    "h2 per issue under a document title, bold priority field": (
        "# Issues\n\n## Missing authentication requirements\n**Priority:** High\n\n"
        "The spec does not say how users log in.\n\n## Database choice unclear\n"
        "Priority: low\n\nSQLite or Postgres?\n",
        [("Missing authentication requirements", "high"), ("Database choice unclear", "low")],
    ),
    "h3 per issue with 'Issue N:' prefix": (
        "# Open issues\n\n### Issue 1: No rate limits\nSeverity: major\n\n### Issue #2 - Time zones\n"
        "Dates are naive.\n",
        [("No rate limits", "high"), ("Time zones", None)],
    ),
    "numbered items with bold titles and P-levels": (
        "# Open questions\n\n1. **Auth unclear** — the spec does not say how users log in. (P1)\n"
        "2. **Pagination**: no page size given.\n   - Priority: Medium\n"
        "3. Rate limiting is not specified. We assumed none.\n",
        [("Auth unclear", "high"), ("Pagination", "medium"), ("Rate limiting is not specified", None)],
    ),
    "bulleted items without a document title": (
        "- Soft delete vs hard delete?\n- **Auth:** not specified [HIGH]\n* Title length limit (P3)\n",
        [("Soft delete vs hard delete?", None), ("Auth", "high"), ("Title length limit", "low")],
    ),
    "priority sections with emoji headings": (
        "# Issues\n\n## 🔴 Critical\n- **No auth spec**: cannot secure endpoints\n"
        "- [ ] Passwords stored how?\n\n## High priority\n1. Missing error format\n\n## Low\n"
        "* Naming of fields\n",
        [("No auth spec", "critical"), ("Passwords stored how?", "critical"),
         ("Missing error format", "high"), ("Naming of fields", "low")],
    ),
    "entry marker beats its section": (
        "## Low priority\n- Cosmetic naming\n- Data loss on restart [CRITICAL]\n",
        [("Cosmetic naming", "low"), ("Data loss on restart", "critical")],
    ),
    "nested priority sections with issue headings": (
        "# Issues\n## High\n### Auth\ntext\n### DB\n## Nice to have\n### Naming\n",
        [("Auth", "high"), ("DB", "high"), ("Naming", "low")],
    ),
    "tags and prefixes in headings": (
        "### [HIGH] Rate limiting not specified\nText.\n### (P0) Data loss on restart\n"
        "### Low: typo in spec\n### Timezones (medium priority)\n### P3 - cosmetic\n"
        "### Auth (Priority: Critical)\n",
        [("Rate limiting not specified", "high"), ("Data loss on restart", "critical"),
         ("typo in spec", "low"), ("Timezones", "medium"), ("cosmetic", "low"),
         ("Auth", "critical")],
    ),
    "P0..P3 mapping": (
        "- P0: a\n- P1: b\n- P2: c\n- P3: d\n",
        [("a", "critical"), ("b", "high"), ("c", "medium"), ("d", "low")],
    ),
    "bracketed upper-case levels": (
        "- [CRITICAL] a\n- [HIGH] b\n- [MEDIUM] c\n- [LOW] d\n- [BLOCKER] e\n",
        [("a", "critical"), ("b", "high"), ("c", "medium"), ("d", "low"), ("e", "critical")],
    ),
    "priority phrases at either end": (
        "- High priority: caching\n- Auth missing - low priority\n- Uses SQLite, high priority\n"
        "- This is a high priority for launch: caching\n",
        [("caching", "high"), ("Auth missing", "low"), ("Uses SQLite", "high"),
         ("This is a high priority for launch", None)],
    ),
    "coloured circles as the only marker": (
        "- 🟢 Rename endpoint\n- 🟡 Add paging\n- 🔴 **Auth** missing\n- 🚨 Secrets in repo\n",
        [("Rename endpoint", "low"), ("Add paging", "medium"), ("Auth missing", "high"),
         ("Secrets in repo", "critical")],
    ),
    "emoji decoration is stripped from titles": (
        "## ⚠️ Auth is unspecified\n\n## 📝 Docs missing ✅\n",
        [("Auth is unspecified", None), ("Docs missing", None)],
    ),
    "bold-only lines used as headings": (
        "# Issues\n\n**1. Auth spec missing** (High)\n\nThe spec says nothing.\n\n**2. DB choice**\n\n"
        "**Priority:** Low\n\nUsed SQLite.\n",
        [("Auth spec missing", "high"), ("DB choice", "low")],
    ),
    "markdown table with issue and priority columns": (
        "# Issues\n| # | Issue | Priority | Notes |\n|---|-------|----------|-------|\n"
        "| 1 | Auth missing | High | spec silent |\n| 2 | No DB | P3 | sqlite |\n",
        [("Auth missing", "high"), ("No DB", "low")],
    ),
    "setext headings": (
        "Auth is unspecified\n-------------------\nBody here.\n\nPagination\n==========\n"
        "Priority: medium\n",
        [("Auth is unspecified", None), ("Pagination", "medium")],
    ),
    "sub-headings that describe one issue stay in its body": (
        "## Token expiry is unspecified\n### Impact\nUsers stay logged in.\n### Proposed fix\n"
        "Expire after 1h.\n\n## Password rules\nSeverity: critical\n",
        [("Token expiry is unspecified", None), ("Password rules", "critical")],
    ),
    "generic sections holding lists": (
        "# Issues\n## Blockers\n- Cannot run migrations without a DB URL.\n\n## Open questions\n"
        "- Should `due_date` be required?\n- What about time zones? [LOW]\n",
        [("Cannot run migrations without a DB URL", None), ("Should due_date be required?", None),
         ("What about time zones?", "low")],
    ),
    "one H1 per issue": (
        "# Auth missing\ntext\n# DB unclear\nmore\n",
        [("Auth missing", None), ("DB unclear", None)],
    ),
    "a single specific H1 is an issue, not a document title": (
        "# Auth missing\nThe spec says nothing about auth.\n",
        [("Auth missing", None)],
    ),
    "a document title over a list": (
        "# Todo API — Issues and open questions\n- Auth: not specified\n- Soft delete?\n",
        [("Auth", None), ("Soft delete?", None)],
    ),
    "a specific heading keeps its list as the body": (
        "## Auth unclear\n- option a\n- option b\n",
        [("Auth unclear", None)],
    ),
    "intro prose before the list is not an issue": (
        "Here is what I found:\n\n1. Missing auth (high priority)\n2. Caching undefined\n",
        [("Missing auth", "high"), ("Caching undefined", None)],
    ),
    "sub-bullets carry the priority": (
        "1. **Auth**\n   - Priority: High\n   - Desc here\n2. **DB**\n   - Severity: minor\n",
        [("Auth", "high"), ("DB", "low")],
    ),
    "checkboxes": (
        "- [x] done thing\n- [ ] [P2] open thing\n",
        [("done thing", None), ("open thing", "medium")],
    ),
    "code fences hide headings and items": (
        "## Crash on start\n```\n# not a heading\n- not an item\n```\nPriority: P0\n",
        [("Crash on start", "critical")],
    ),
    "YAML front matter and HTML comments are ignored": (
        "---\ntitle: issues\n---\n<!-- ## not an issue -->\n- a thing\n",
        [("a thing", None)],
    ),
    "only prose: one entry titled from the first line": (
        "The spec was clear, but deleted todos are not covered.\nWe soft-delete them for now.\n",
        [("The spec was clear, but deleted todos are not covered", None)],
    ),
    "a priority section with prose only": (
        "## High priority\nThe auth spec is missing.\nNeeds a decision.\n",
        [("The auth spec is missing", "high")],
    ),
    "windows line endings and tabs": (
        "# Issues\r\n\r\n-\tAuth missing\r\n-\tDB unclear (low)\r\n",
        [("Auth missing", None), ("DB unclear", "low")],
    ),
    "links in titles are reduced to their text": (
        "- [RFC 7807](https://example.com/rfc7807) error format not used\n",
        [("RFC 7807 error format not used", None)],
    ),
    "Jira-style words": (
        "- Priority: Blocker — a\n- b\n  Priority: Trivial\n- c (Major)\n",
        [("a", "critical"), ("b", "low"), ("c", "high")],
    ),
    "unknown priority values leave it unset": (
        "## Auth\nPriority: TBD\n",
        [("Auth", None)],
    ),
    # issue 12: every heading-level issue survives, whatever its priority notation
    "issue 12: a heading and a plain priority line": (
        "## Rate limit numbers\nPriority: low\n",
        [("Rate limit numbers", "low")],
    ),
    "issue 12: a heading with a priority and a sub-heading of its own": (
        "# Issues\n\n## Auth\n**Priority:** High\n\nNo login.\n\n## Rate limit numbers\n\n"
        "Priority: low\n\n### Why it matters\n\nClients get throttled.\n",
        [("Auth", "high"), ("Rate limit numbers", "low")],
    ),
    "issue 12: a priority line over a --- rule (a setext heading to CommonMark)": (
        "## Rate limit numbers\nPriority: low\n---\n## Token expiry\n[P1] tokens never expire\n",
        [("Rate limit numbers", "low"), ("Token expiry", "high")],
    ),
    "issue 12: sub-headings under a heading with a priority are its body": (
        "## Rate limit numbers\nPriority: low\n### 100 per minute?\nmaybe\n",
        [("Rate limit numbers", "low")],
    ),
    "issue 12: a heading with text over issue sub-headings keeps both": (
        "## Database\nSome notes on storage.\n### Migrations unclear (high)\ntext\n"
        "### No DB URL\n**Priority:** Medium\n",
        [("Database", None), ("Migrations unclear", "high"), ("No DB URL", "medium")],
    ),
    "issue 12: one notation per heading": (
        "## A\n**Priority:** High\n## B\n[P1] x\n## C (high)\n## D\nSeverity: minor\n"
        "## E [P3]\n## F\n| Priority | low |\n|---|---|\n## G\n> Priority: critical\n",
        [("A", "high"), ("B", "high"), ("C", "high"), ("D", "low"), ("E", "low"), ("F", "low"),
         ("G", "critical")],
    ),
    "issue 12: a list of issues under one heading": (
        "## Open questions\n1. Auth? (high)\n2. **Paging**: none given [P2]\n3. Time zones\n",
        [("Auth?", "high"), ("Paging", "medium"), ("Time zones", None)],
    ),
    "headings inside code fences and html comments are not issues": (
        "## Real\n~~~\n## fake\n~~~\n<!--\n## hidden\n-->\n    ## indented code\n",
        [("Real", None)],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_shapes(name: str) -> None:
    text, expected = CASES[name]
    assert titles(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   \n\n", "# Issues\n", "# Issues\n\nNone.\n", "## Open questions\n\nNo open questions.\n",
     "- None\n", "# Issues\n\nN/A\n", "No issues found.\n"],
)
def test_empty_and_placeholders_give_no_entries(text: str) -> None:
    assert parse_issues_md(text) == []


def test_bodies_are_kept_and_dedented() -> None:
    entries = parse_issues_md(
        "1. **Auth**: the spec is silent.\n   Users cannot log in.\n\n   ```\n   POST /login\n   ```\n"
        "2. **DB**\n"
    )
    assert entries[0] == IssueEntry(
        title="Auth", priority=None,
        body="the spec is silent.\nUsers cannot log in.\n\n```\nPOST /login\n```",
    )
    assert entries[1].body == ""


def test_heading_body_is_the_section_text() -> None:
    [entry] = parse_issues_md("## Auth\n\n**Priority:** High\n\nNo login flow.\n")
    assert entry.body == "**Priority:** High\n\nNo login flow."
    assert entry.priority == "high"


def test_priority_of_one_entry_does_not_leak_into_the_next() -> None:
    entries = parse_issues_md("## A\nPriority: high\n## B\nplain\n")
    assert [(e.title, e.priority) for e in entries] == [("A", "high"), ("B", None)]


def test_titles_are_bounded_and_entry_count_is_capped() -> None:
    long = "word " * 200
    [entry] = parse_issues_md(f"## {long}\n")
    assert len(entry.title) <= 200 and entry.title.endswith("…")
    many = "".join(f"- item {i}\n" for i in range(800))
    assert len(parse_issues_md(many)) == 500


def test_html_in_titles_is_kept_as_text() -> None:
    [entry] = parse_issues_md("- <script>alert(1)</script> title\n")
    assert "<script>" in entry.title  # escaping is the renderer's job; the parser keeps text


def test_garbage_never_raises() -> None:
    samples = ["|||\n|-|\n", "**\n**", "#" * 10, "- \n-\n*", "[", "```\nunclosed", "\x00\x01",
               "1.\n2.\n", "| a |\n|---|\n| |\n", "---\n---\n", "***\n---\n___"]
    for text in samples:
        result = parse_issues_md(text)
        assert all(e.title for e in result)


def test_read_issues_file(tmp_path: Path) -> None:
    fs = WorkspaceFS(tmp_path, is_masked=lambda rel: rel == "masked.md")
    assert read_issues_file(fs) is None
    (tmp_path / "issues.md").write_bytes(b"- caf\xc3\xa9 \xff\n")
    assert read_issues_file(fs) == "- café \ufffd\n"
    secret = tmp_path / "secret"
    secret.write_text("TOKEN=abc")
    os.symlink(secret, tmp_path / "link.md")
    assert read_issues_file(fs, "link.md") is None  # never follow a link the agent planted
    os.symlink(tmp_path, tmp_path / "dirlink")
    assert read_issues_file(fs, "dirlink/secret") is None  # nor a link on the way
    os.mkfifo(tmp_path / "fifo.md")
    assert read_issues_file(fs, "fifo.md") is None  # a FIFO never blocks the host
    (tmp_path / "masked.md").write_text("- masked\n")
    assert read_issues_file(fs, "masked.md") is None


ADVERSARIAL = [
    "priority" + " " * 50000 + "x", "Priority:" + "*" * 50000 + "x", "**" * 50000, "[" * 50000,
    "- " * 20000, "- " + "a " * 50000, "# " + " " * 50000 + "x", "(" * 30000 + "high",
    "|" * 50000, "| a |\n|---|\n" + "| x |\n" * 20000, "- **" + "x" * 50000, "*a " * 30000,
    "p1 " * 30000, "- " + "high priority " * 10000, "\n".join("  " * i + "- x" for i in range(2000)),
    "Issue 1: " * 10000, "🔴" * 30000, "--- \n" * 10000, "```\n" * 10000, "a\n" + "=" * 50000,
    "- x - " * 20000, "<!--" * 20000, "[a](" * 20000, "- item\n" * 30000, "#" * 50000 + " x",
]


def test_crafted_input_stays_fast() -> None:
    start = time.monotonic()
    for text in ADVERSARIAL:
        parse_issues_md(text)
    assert time.monotonic() - start < 15  # each is well under a second; quadratic ones took minutes


CORPUS = Path(__file__).parent / "issues_corpus"  # layouts of public issue lists: SOURCES.md


@pytest.mark.parametrize("name", sorted(yaml.safe_load((CORPUS / "expected.yaml").read_text())))
def test_corpus_of_real_layouts(name: str) -> None:
    expected = yaml.safe_load((CORPUS / "expected.yaml").read_text())[name]
    got = [[e.title, e.priority] for e in parse_issues_md((CORPUS / name).read_text())]
    assert got == expected
