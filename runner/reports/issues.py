"""Parse the agent's ``issues.md`` into entries (title, priority, body) on markdown-it tokens.

The document structure comes from markdown-it-py's CommonMark block tokens
(ATX and setext headings, lists, tables, fences, HTML comments), so a code
fence hides what is in it and a setext underline is a heading exactly where
CommonMark says so. On that structure:

- every specific heading is an issue (``## Title``, whatever priority notation
  it carries, see :mod:`.issue_notation`); its body is everything under it.
  Sub-headings that name a part of it (``### Impact``, a ``Priority: low`` line
  made a setext heading) stay in that body; so do sub-headings under a heading
  that carries a priority of its own. Under a heading without one, its own text
  is its body and its specific sub-headings are issues of their own;
- generic headings (``# Issues``, ``## Open questions``), priority sections
  (``## High priority``, ``## 🔴 Critical``) and a single document title over a
  list hold issues: top-level list items (``1. **Title** — body``, ``- [ ]
  task``), bold-only paragraphs (``**1. Title**``) and table rows with a
  title/issue column; a priority section's issues inherit its priority and an
  entry's own marker beats it;
- a section or a file with only prose: one entry titled from its first line.

"None" / "No issues" placeholders yield no entries. Input is capped
(:data:`MAX_ISSUES_BYTES`, :data:`MAX_ENTRIES`, nesting depth) and the parser
never raises on odd markdown.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_left
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

from runner.hostfs import HostReadRefused, WorkspaceFS
from runner.reports.issue_notation import (
    BOLD_LINE,
    PRIORITIES,
    IssueEntry,
    Priority,
    dedent,
    heading_priority,
    is_generic,
    is_label,
    is_priority_field,
    make_entry,
    priority_of,
)

__all__ = ["MAX_ENTRIES", "MAX_ISSUES_BYTES", "PRIORITIES", "IssueEntry", "Priority",
           "parse_issues_md", "read_issues_file"]

MAX_ISSUES_BYTES = 1024 * 1024
MAX_ENTRIES = 500
MAX_LINE = 20_000

# Only the block structure is used (inline text is read from `content`): no inline pass
_MD = MarkdownIt("commonmark", {"maxNesting": 20}).enable("table").disable("inline")
_MARKER = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
_FRONT_MATTER = re.compile(r"^(\s*$|\s*[\w-]+\s*:|\s+|\s*- )")
_ID_COLUMN = re.compile(r"#|no\.?|id|n")
_TITLE_COLUMN = re.compile(r"\b(title|issue|question|item|problem|summary|name|topic|blocker)\b")
_PRIORITY_COLUMN = re.compile(r"\b(priority|severity|prio)\b")


@dataclass
class _Section:
    level: int  # 0: the document itself
    title: str
    start: int  # first content line
    end: int  # one past the last line (children included)
    heading_line: int = 0
    children: list[_Section] = field(default_factory=list)

    def content_end(self) -> int:
        return self.children[0].heading_line if self.children else self.end


@dataclass
class _Item:
    head: str
    body: list[str]


@dataclass
class _Doc:
    lines: list[str]
    blocks: list[tuple[int, list[Token]]]  # top-level blocks: (first line, their tokens)
    starts: list[int] = field(default_factory=list)  # their first lines, for bisection

    def __post_init__(self) -> None:
        self.starts = [line for line, _ in self.blocks]


# --- input -------------------------------------------------------------------------------


def _strip_comments(text: str) -> str:
    out: list[str] = []
    pos = 0
    while (start := text.find("<!--", pos)) >= 0:
        out.append(text[pos:start])
        end = text.find("-->", start + 4)
        if end < 0:
            pos = len(text)
            break
        pos = end + 3
    out.append(text[pos:])
    return "".join(out)


def _preprocess(text: str) -> list[str]:
    text = text[:MAX_ISSUES_BYTES].replace("\r\n", "\n").replace("\r", "\n")
    text = _strip_comments(text.replace("\t", "    ").lstrip("\ufeff"))
    lines = [ln[:MAX_LINE] for ln in text.split("\n")]
    if lines and lines[0].strip() == "---":  # YAML front matter
        for i in range(1, min(len(lines), 60)):
            if lines[i].strip() in ("---", "..."):
                if all(_FRONT_MATTER.match(ln) for ln in lines[1:i]):
                    lines = lines[i + 1 :]
                break
    return lines


def _blocks(tokens: list[Token]) -> list[tuple[int, list[Token]]]:
    """The top-level blocks, each as its tokens (open .. close), with its first line."""
    out: list[tuple[int, list[Token]]] = []
    current: list[Token] = []
    for tok in tokens:
        current.append(tok)
        if tok.level == 0 and tok.nesting <= 0:  # a closing or self-contained top-level token
            first = next((t.map[0] for t in current if t.map), 0)
            out.append((first, current))
            current = []
    return out


def _outline(doc: _Doc) -> _Section:
    """The heading tree (every heading is a top-level block)."""
    root = _Section(level=0, title="", start=0, end=len(doc.lines))
    headings = [(toks[0].map or [0, 0], int(toks[0].tag[1:]), toks[1].content.strip())
                for _, toks in doc.blocks if toks[0].type == "heading_open"
                # 'Priority: low' over a '---' rule is a setext heading to CommonMark, but
                # the writer meant a field of the issue above and a separator
                and not (toks[0].markup in ("-", "=") and is_priority_field(toks[1].content))]
    stack = [root]
    for idx, (span, level, title) in enumerate(headings):
        end = next((later[0][0] for later in headings[idx + 1 :] if later[1] <= level),
                   len(doc.lines))
        while stack[-1].level >= level:
            stack.pop()
        sec = _Section(level=level, title=title, start=span[1], end=end, heading_line=span[0])
        stack[-1].children.append(sec)
        stack.append(sec)
    return root


# --- entry-like items ---------------------------------------------------------------------


def _source(doc: _Doc, tok: Token, skip_first: bool = False) -> list[str]:
    if not tok.map:
        return []
    return doc.lines[tok.map[0] + (1 if skip_first else 0) : tok.map[1]]


def _list_items(doc: _Doc, toks: list[Token]) -> list[_Item]:
    items: list[_Item] = []
    for i, tok in enumerate(toks):
        if tok.type != "list_item_open" or tok.level != 1 or not tok.map:
            continue
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if (nxt is not None and nxt.type == "paragraph_open" and nxt.map
                and nxt.map[0] == tok.map[0] and i + 2 < len(toks)):
            head = toks[i + 2].content.split("\n", 1)[0].strip()
            items.append(_Item(head=head, body=dedent(_source(doc, tok, skip_first=True))))
        else:  # an item that starts with something else (a fence, nothing)
            first = _MARKER.sub("", doc.lines[tok.map[0]], count=1)
            items.append(_Item(head=first.strip(), body=dedent(_source(doc, tok, True))))
    return items


def _table_items(toks: list[Token]) -> list[_Item]:
    rows: list[list[str]] = []
    for tok in toks:
        if tok.type == "tr_open":
            rows.append([])
        elif tok.type == "inline" and rows:
            rows[-1].append(tok.content.strip())
    if len(rows) < 2:
        return []
    names = rows[0]
    header = [c.lower() for c in names]
    prio_col = next((i for i, h in enumerate(header) if _PRIORITY_COLUMN.search(h)), None)
    title_col = next((i for i, h in enumerate(header) if _TITLE_COLUMN.search(h)), None)
    if title_col is None:
        title_col = next((i for i, h in enumerate(header)
                          if i != prio_col and not _ID_COLUMN.fullmatch(h)), 0)
    items: list[_Item] = []
    for values in rows[1:]:
        if len(values) <= title_col or not values[title_col]:
            continue
        body = [f"{names[i]}: {v}" for i, v in enumerate(values)
                if i not in (title_col, prio_col) and v.strip("-–— ") and i < len(names)
                and not _ID_COLUMN.fullmatch(header[i])]
        if prio_col is not None and prio_col < len(values) and priority_of(values[prio_col]):
            body.insert(0, f"Priority: {values[prio_col]}")
        items.append(_Item(head=values[title_col], body=body))
    return items


def _bold_head(tok: Token) -> bool:
    """A paragraph whose first line is a bold title ('**1. Auth** (High)', '**DB:**')."""
    first = tok.content.split("\n", 1)[0].strip()
    m = BOLD_LINE.match(first)
    if m is None or is_label(m.group("bold")):
        return False
    rest = m.group("rest").lstrip()
    return not rest or rest[:1] in ":-–—([" or m.group("bold").rstrip().endswith(":")


def _items(doc: _Doc, first: int, last: int) -> list[_Item]:
    """Entry-like items among the top-level blocks starting in lines[first:last]."""
    items: list[_Item] = []
    current: _Item | None = None  # a bold-title paragraph collects the blocks after it
    for line, toks in doc.blocks[bisect_left(doc.starts, first) :]:
        if line >= last:
            break
        kind = toks[0].type
        if kind in ("bullet_list_open", "ordered_list_open"):
            items.extend(_list_items(doc, toks))
            current = None
        elif kind == "table_open":
            items.extend(_table_items(toks))
            current = None
        elif kind == "paragraph_open" and len(toks) > 1 and _bold_head(toks[1]):
            head, _, rest = toks[1].content.partition("\n")
            current = _Item(head=head.strip(), body=rest.split("\n") if rest else [])
            items.append(current)
        elif current is not None and kind != "hr":
            current.body += ["", *dedent(_source(doc, toks[0]))] if toks[0].map else []
    return items


# --- sections ----------------------------------------------------------------------------


def _marked(item: _Item) -> bool:
    """An item with a priority of its own (not a bare 'Priority: high' line)."""
    if is_priority_field(item.head):
        return False
    entry = make_entry(item.head, item.body, None, from_heading=False)
    return entry is not None and entry.priority is not None


def _prose_entry(lines: list[str], inherited: Priority | None) -> IssueEntry | None:
    text = list(lines)
    while text and not text[0].strip():
        text.pop(0)
    if not text:
        return None
    first = _MARKER.sub("", text[0].strip(), count=1)
    return make_entry(first, dedent(text[1:]), inherited, from_heading=True)


def _add(out: list[IssueEntry], entry: IssueEntry | None) -> None:
    if entry is not None and len(out) < MAX_ENTRIES:
        out.append(entry)


def _extract(sec: _Section, doc: _Doc, inherited: Priority | None, out: list[IssueEntry],
             *, doc_title: bool = False) -> None:
    lines = doc.lines
    heading_prio = heading_priority(sec.title) if sec.level else None
    specific = sec.level > 0 and heading_prio is None and not is_generic(sec.title)
    parts = all(is_label(c.title) or is_priority_field(c.title) for c in sec.children)
    found = _items(doc, sec.start, sec.content_end())
    if specific and any(_marked(item) for item in found):
        specific = False  # its items carry priorities of their own: a container
    if specific and not (doc_title and (found or not parts)):
        whole = make_entry(sec.title, dedent(lines[sec.start : sec.end]), inherited,
                           from_heading=True)
        own = make_entry(sec.title, dedent(lines[sec.start : sec.content_end()]), None,
                         from_heading=True)
        if parts or (own is not None and own.priority is not None):
            _add(out, whole)  # one issue: the heading is its title, all under it its body
            return
        if any(ln.strip() for ln in lines[sec.start : sec.content_end()]):
            _add(out, make_entry(sec.title, dedent(lines[sec.start : sec.content_end()]),
                                 inherited, from_heading=True))
        found = []  # its own text was its body; the sub-headings follow as issues
    prio = heading_prio or inherited
    for item in found:
        if len(out) >= MAX_ENTRIES:
            return
        _add(out, make_entry(item.head, item.body, prio, from_heading=False))
    if not found and sec.level > 0 and not sec.children and not specific:
        # a priority or generic section holding prose: one entry titled from its first line
        _add(out, _prose_entry(lines[sec.start : sec.end], prio))
    single_h1 = sec.level == 0 and [c.level for c in sec.children].count(1) == 1
    for child in sec.children:
        if len(out) >= MAX_ENTRIES:
            return
        _extract(child, doc, prio, out,
                 doc_title=single_h1 and child.level == 1 and child is sec.children[0])


def parse_issues_md(text: str) -> list[IssueEntry]:
    """Parse issues.md text into entries (never raises on odd markdown)."""
    lines = _preprocess(text)
    if not any(ln.strip() for ln in lines):
        return []
    doc = _Doc(lines=lines, blocks=_blocks(_MD.parse("\n".join(lines))))
    entries: list[IssueEntry] = []
    _extract(_outline(doc), doc, None, entries)
    if not entries:
        headed = {n for _, toks in doc.blocks if toks[0].type == "heading_open" and toks[0].map
                  for n in range(*toks[0].map)}
        _add(entries, _prose_entry([ln for i, ln in enumerate(lines) if i not in headed], None))
    return entries[:MAX_ENTRIES]


def read_issues_file(fs: WorkspaceFS, path: str = "issues.md") -> str | None:
    """The first MAX_ISSUES_BYTES of a workspace file, read through ``fs`` (no link followed
    anywhere on the way, a FIFO never blocks, masked paths refused); None when it is not a
    readable regular file."""
    try:
        fd, _st = fs.open_file(path)
    except HostReadRefused:
        return None
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(MAX_ISSUES_BYTES)
    return data.decode("utf-8", errors="replace")
