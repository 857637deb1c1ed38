"""Parse the agent's ``issues.md`` into entries (title, priority, body).

People and models write issue lists in many shapes; this parser accepts the
common ones and degrades to something useful for the rest:

- one heading per issue (``## Title`` / ``### Title`` / setext), optionally
  under a document title (``# Issues``) or under section headings;
- numbered or bulleted top-level list items, with or without a bold title
  (``1. **Title** — body``, ``- Title: body``, ``- [ ] task``);
- bold-only lines used as headings (``**1. Title**``), and markdown tables
  with a title/issue column;
- priority sections (``## High priority``, ``## 🔴 Critical``, ``### P1``)
  whose items inherit the priority;
- priority markers on an entry: ``**Priority:** High``, ``Priority: high``,
  ``Severity: major``, ``[HIGH]``, ``(P1)``, ``P0..P3`` (P0 critical, P1 high,
  P2 medium, P3 low), a ``High:`` prefix, a ``(high priority)`` suffix, and
  coloured circle emojis as a last resort;
- a file with only prose: one entry titled from its first line.

An entry's own marker beats the section it sits in. "None" / "No issues"
placeholders yield no entries.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from runner.hostfs import HostReadRefused, WorkspaceFS

Priority = Literal["critical", "high", "medium", "low"]
PRIORITIES: tuple[Priority, ...] = ("critical", "high", "medium", "low")

MAX_ISSUES_BYTES = 1024 * 1024
MAX_ENTRIES = 500
MAX_TITLE = 200
MAX_BODY = 20_000
MAX_LINE = 20_000
MAX_HEAD = 1_000  # the part of an item's first line that titles and markers are read from


class IssueEntry(BaseModel):
    title: str
    priority: Priority | None = None
    body: str = ""


# --- vocabulary -------------------------------------------------------------------------

_PRIORITY_WORDS: dict[str, Priority] = {
    "critical": "critical", "crit": "critical", "blocker": "critical", "blocking": "critical",
    "urgent": "critical", "showstopper": "critical", "highest": "critical", "p0": "critical",
    "high": "high", "major": "high", "important": "high", "p1": "high",
    "medium": "medium", "med": "medium", "moderate": "medium", "normal": "medium",
    "mid": "medium", "p2": "medium",
    "low": "low", "minor": "low", "trivial": "low", "lowest": "low", "p3": "low", "p4": "low",
    "nicetohave": "low", "optional": "low",
}
_EMOJI_PRIORITY: dict[str, Priority] = {
    "🚨": "critical", "🔴": "high", "🟠": "high", "🟡": "medium", "🔵": "low", "🟢": "low",
}
# Words that make a heading a generic container ("## Open questions", "# Issues").
def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_GENERIC_WORDS = _wordset(
    """issues issue open known outstanding unresolved remaining current other misc miscellaneous
    questions question blockers blocker problems problem concerns risks risk bugs bug todo todos
    to do tasks task notes note findings finding follow ups followups followup items item list log
    and or of the for during found implementation backend project spec specification ambiguities
    ambiguity gaps gap limitations limitation technical debt assumptions assumption decisions
    deferred pending summary next steps recommendations improvements future work clarifications
    clarification needed need observations caveats warnings priority priorities prio severity
    level issues.md md by with"""
)
# Headings inside one issue that describe a part of it ("### Impact"), not a new issue.
_LABEL_WORDS = _wordset(
    """description details detail impact proposed suggested possible fix fixes solution solutions
    workaround workarounds context problem background status priority severity notes note
    steps to reproduce reproduction expected actual behaviour behavior recommendation
    recommendations resolution affected files location locations owner rationale reason why
    question questions answer options option next step steps acceptance criteria references
    links summary example examples evidence root cause analysis discussion decision
    consequences risk risks mitigation"""
)
_PLACEHOLDER = re.compile(
    r"^(?:none|nothing|n/?a|-|no (?:open |known |outstanding )?(?:issues?|questions?|blockers?"
    r"|problems?)(?: (?:found|so far|yet|at this time|to report|identified))?|nothing to report"
    r"|tbd|empty)[.!]?$",
    re.I,
)

# Quantifiers are bounded throughout: issues.md is agent-written, and an unbounded pattern
# applied with search() to a crafted line is quadratic.
_FIELD = re.compile(
    r"(?<![\w-])(?:priority|severity|prio|importance)\b[\s*_`]{0,8}[:=\-–—|]{1,3}[\s*_`]{0,8}"
    r"(?P<val>[A-Za-z][\w-]{0,30}(?:[ -]to[ -]have)?)",
    re.I,
)
_TAG = re.compile(
    r"[\[(\{][ \t]{0,3}(?:(?:priority|prio|severity)[ \t]{0,3}[:=\-]?[ \t]{0,3})?"
    r"(?P<val>[A-Za-z][\w-]{0,30}(?: to have)?)(?:[ \t-]{1,3}priority)?[ \t]{0,3}[\])\}]",
    re.I,
)
_PHRASE_START = re.compile(
    r"^[ \t]*(?P<val>critical|high|medium|low|urgent|p[0-4])[ \t-]{1,3}priority\b[ \t:\-–—|]{0,5}",
    re.I,
)
_PHRASE_END = re.compile(
    r"[ \t:\-–—|,]{0,5}\b(?P<val>critical|high|medium|low|urgent|p[0-4])[ \t-]{1,3}priority[.!]?"
    r"[ \t]*$",
    re.I,
)
_LEADING_PTOKEN = re.compile(
    r"^(?:\*\*|__)?[ \t]*(?P<val>p[0-4]|critical|high|medium|low|urgent|blocker|major|minor)"
    r"[ \t]*(?:\*\*|__)?[ \t]*(?::|[-–—|][ \t]|(?<=\d)[ \t])[ \t]*",
    re.I,
)
_LEADING_BOLD_PWORD = re.compile(
    r"^(?:\*\*|__)[ \t]*(?P<val>[A-Za-z][\w]{0,30}(?:[ \t-]{1,3}priority)?)[ \t]*:?[ \t]*"
    r"(?:\*\*|__)[ \t]*[:\-–—|]?[ \t]*",
    re.I,
)
_LEADING_FIELD = re.compile(
    r"^(?:\*\*|__)?(?:priority|severity|prio)[ \t]*:?(?:\*\*|__)?[ \t]*[:=]?[ \t]*(?:\*\*|__)?"
    r"(?P<val>[A-Za-z][\w-]{0,30})(?:\*\*|__)?[ \t]*[-–—|:,.][ \t]*",
    re.I,
)
_TRAILING_PTOKEN = re.compile(
    r"[ \t]{0,5}[-–—|:][ \t]{0,5}(?:\*\*|__)?(?P<val>critical|high|medium|low|urgent|p[0-4])"
    r"(?:[ \t-]{1,3}priority)?(?:\*\*|__)?[ \t]*$",
    re.I,
)
_TAIL = 80  # end-anchored patterns only look at the last characters of a title

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?=[ \t]|$)")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_MARKER = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>[-*+]|\d{1,9}[.)])(?:[ \t]+(?P<text>.*)|$)")
_THEMATIC = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_BOLD_LINE = re.compile(r"^(?:\*\*|__)(?P<bold>.+?)(?:\*\*|__)(?P<rest>.*)$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_CHECKBOX = re.compile(r"^\[[ xX]\]\s+")
_NUMBERING = re.compile(r"^(?:#\s*)?\d+(?:\.\d+)*[.):]?\s+(?=\S)")
_ISSUE_NUMBER = re.compile(
    r"^(?:issue|question|item|problem|blocker|bug|task|q)\s*#?\s*\d+\s*[:.\-–—)]\s*(?=\S)", re.I
)
_LINK = re.compile(r"!?\[([^\]\n]{0,300})\]\([^)\s]{0,500}\)")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+(?=\S)")


def _priority_of(word: str | None) -> Priority | None:
    if not word:
        return None
    key = re.sub(r"[\s_-]+", "", word.lower())
    key = key.removesuffix("priority") or key
    if key in _PRIORITY_WORDS:
        return _PRIORITY_WORDS[key]
    if key.endswith("s") and key[:-1] in _PRIORITY_WORDS:  # "blockers"
        return _PRIORITY_WORDS[key[:-1]]
    return None


# --- text helpers -----------------------------------------------------------------------


def _is_symbol(ch: str) -> bool:
    return unicodedata.category(ch) == "So" or ch in "\ufe0f\u200d\u20e3"


def _strip_symbols(text: str) -> str:
    return "".join(" " if _is_symbol(ch) else ch for ch in text)


def _plain(text: str) -> str:
    """Markdown inline text -> plain text (links, emphasis, code ticks removed)."""
    text = _LINK.sub(r"\1", text)
    text = text.replace("**", "").replace("__", "").replace("`", "")
    text = re.sub(r"(?<![\w*])\*(?=\S)(.{1,300}?)(?<=\S)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_(?=\S)(.{1,300}?)(?<=\S)_(?![\w_])", r"\1", text)
    return text


def _words(text: str) -> list[str]:
    text = _strip_symbols(_plain(text)).lower().replace("nice to have", "nicetohave")
    text = text.replace("nice-to-have", "nicetohave").replace("to-do", "todo")
    text = re.sub(r"^\s*\d+(?:\.\d+)*[.):]?\s+", "", text)
    return re.findall(r"[a-z0-9][a-z0-9.]*", text)


def _heading_priority(text: str) -> Priority | None:
    """Priority of a section heading made only of priority words ('## High priority')."""
    words = [w for w in _words(text) if w not in _GENERIC_WORDS]
    found = {_priority_of(w) for w in words}
    if words and None not in found and len(found) == 1:
        return found.pop()
    return None


def _is_generic(text: str) -> bool:
    words = _words(text)
    return bool(words) and all(w in _GENERIC_WORDS for w in words)


def _is_label(text: str) -> bool:
    words = _words(text.rstrip(":"))
    return bool(words) and all(w in _LABEL_WORDS or w in _GENERIC_WORDS for w in words)


def _bound(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip() + "…"


def _clean_title(text: str) -> str:
    text = _plain(text).strip()
    text = "".join("" if _is_symbol(ch) else ch for ch in text).strip()
    for _ in range(3):
        before = text
        text = _CHECKBOX.sub("", text)
        text = _NUMBERING.sub("", text)
        text = _ISSUE_NUMBER.sub("", text)
        text = text.strip()
        if text == before:
            break
    text = re.sub(r"\s+", " ", text).strip(" \t:-–—|")
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1].rstrip()
    return _bound(text, MAX_TITLE)


def _dedent(lines: list[str]) -> list[str]:
    indents = [len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()]
    cut = min(indents) if indents else 0
    return [ln[cut:] if len(ln) >= cut else ln.lstrip() for ln in lines]


def _join(lines: Iterable[str]) -> str:
    return _bound("\n".join(lines).strip("\n").strip(), MAX_BODY)


# --- priority detection on one entry -----------------------------------------------------


def _strip_head_markers(head: str) -> tuple[str, Priority | None]:
    """Strip leading checkboxes, emojis and priority tags; return (head, tag priority)."""
    prio: Priority | None = None
    emoji: Priority | None = None
    for _ in range(6):
        before = head
        head = head.lstrip()
        head = _CHECKBOX.sub("", head)
        while head and _is_symbol(head[0]):
            emoji = emoji or _EMOJI_PRIORITY.get(head[0])
            head = head[1:].lstrip()
        m = _TAG.match(head)
        if m and _priority_of(m.group("val")):
            prio = prio or _priority_of(m.group("val"))
            head = head[m.end() :].lstrip(" :-–—|")
        m2 = _LEADING_BOLD_PWORD.match(head)
        if m2 and _priority_of(m2.group("val")):
            prio = prio or _priority_of(m2.group("val"))
            head = head[m2.end() :]
        m3 = _LEADING_PTOKEN.match(head)
        if m3 and _priority_of(m3.group("val")):
            prio = prio or _priority_of(m3.group("val"))
            head = head[m3.end() :]
        m4 = _LEADING_FIELD.match(head)
        if m4 and _priority_of(m4.group("val")) and head[m4.end() :].strip():
            prio = prio or _priority_of(m4.group("val"))
            head = head[m4.end() :]
        if head == before:
            break
    return head.strip(), prio or emoji


def _strip_tags(text: str) -> tuple[str, Priority | None]:
    """Remove bracketed priority tags anywhere in a line: 'X (High)', 'X [P1] y'."""
    prio: Priority | None = None
    for m in list(_TAG.finditer(text)):
        p = _priority_of(m.group("val"))
        if p:
            prio = prio or p
            text = text.replace(m.group(0), " ")
    return re.sub(r"[ \t]+", " ", text).strip(), prio


def _title_markers(title: str) -> tuple[str, Priority | None]:
    """Strip priority markers from a title: 'X (High)', 'X [P1]', 'X - low priority'."""
    title, prio = _strip_tags(title)
    m = _PHRASE_START.match(title)
    if m:
        prio = prio or _priority_of(m.group("val"))
        title = title[m.end() :]
    m = _PHRASE_END.search(title, max(0, len(title) - _TAIL))
    if m:
        prio = prio or _priority_of(m.group("val"))
        title = title[: m.start()]
    m2 = _TRAILING_PTOKEN.search(title, max(0, len(title) - _TAIL))
    if m2:
        prio = prio or _priority_of(m2.group("val"))
        title = title[: m2.start()]
    return re.sub(r"\s+", " ", title).strip(" :-–—|,"), prio


def _field_priority(text: str) -> Priority | None:
    for m in _FIELD.finditer(text):
        p = _priority_of(m.group("val"))
        if p:
            return p
    for line in text.splitlines():  # a line that is only a tag or a phrase: "[HIGH]", "High priority"
        if len(line) > _TAIL:
            continue
        s = _plain(line).strip(" -*>\t").rstrip(".")
        m2 = _TAG.fullmatch(s)
        if m2 and _priority_of(m2.group("val")):
            return _priority_of(m2.group("val"))
        m3 = _PHRASE_START.match(s)
        if m3 and m3.end() == len(s):
            return _priority_of(m3.group("val"))
    return None


def _make_entry(
    head: str, body_lines: list[str], inherited: Priority | None, *, from_heading: bool
) -> IssueEntry | None:
    if len(head) > MAX_HEAD:
        body_lines = [head[MAX_HEAD:], *body_lines]
        head = head[:MAX_HEAD]
    head, tag_prio = _strip_head_markers(head)
    field_prio = _field_priority(head)
    head, inline_prio = _title_markers(head) if not from_heading else _strip_tags(head)
    tag_prio = tag_prio or inline_prio
    head_rest = ""
    if from_heading:
        title_src = head
    else:
        title_src, head_rest = _split_item_head(head)
    title_src, title_prio = _title_markers(title_src)
    title = _clean_title(title_src)
    body = _join(([head_rest] if head_rest else []) + body_lines)
    if not title:
        first, _, rest = body.partition("\n")
        title, body = _clean_title(first), rest.strip()
        if not title:
            return None
    if _PLACEHOLDER.match(title) and not body:
        return None
    prio = field_prio or tag_prio or title_prio or _field_priority(body) or inherited
    return IssueEntry(title=title, priority=prio, body=body)


def _split_item_head(head: str) -> tuple[str, str]:
    """Split a list item's first line into (title, rest of the text)."""
    m = _BOLD_LINE.match(head)
    if m and m.group("bold").strip(" :") and not re.match(r"^\s*[\w(]", m.group("rest")):
        rest = m.group("rest").strip()
        rest = re.sub(r"^[:\-–—|.]+\s*", "", rest)
        return m.group("bold").strip(), rest
    plain = _plain(head).strip()
    colon = re.match(r"^(?P<t>[^:]{2,80}?):\s+(?P<r>\S.*)$", plain)
    if colon and "http" not in colon.group("t") and ". " not in colon.group("t"):
        t = colon.group("t")
        if _is_label(t) or _is_generic(t):  # "Note: ..." / "Question: ..." label, not a title
            return _first_sentence(colon.group("r"))
        return t, colon.group("r")
    dash = re.match(r"^(?P<t>.{2,80}?)\s+[-–—]\s+(?P<r>\S.*)$", plain)
    if dash:
        return dash.group("t"), dash.group("r")
    return _first_sentence(plain)


def _first_sentence(text: str) -> tuple[str, str]:
    parts = _SENTENCE_END.split(text.strip(), maxsplit=1)
    first = parts[0]
    if len(first) > 120:
        return _bound(first, 120), text.strip()
    return first, parts[1] if len(parts) > 1 else ""


# --- document structure ------------------------------------------------------------------


@dataclass
class _Section:
    level: int  # 0: the document itself
    title: str
    start: int  # first content line
    end: int = 0  # one past the last line (children included)
    children: list[_Section] = field(default_factory=list)

    def content_end(self) -> int:
        return self.children[0].heading_line if self.children else self.end

    heading_line: int = 0


def _heading_text(rest: str) -> str:
    """ATX heading content without its optional closing '#' sequence."""
    text = rest.strip()
    if text.endswith("#"):
        bare = text.rstrip("#")
        if not bare or bare.endswith((" ", "\t")):
            text = bare.strip()
    return text


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
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    text = text.lstrip("\ufeff")
    text = _strip_comments(text[:MAX_ISSUES_BYTES])
    lines = [ln[:MAX_LINE] for ln in text.split("\n")]
    if lines and lines[0].strip() == "---":  # YAML front matter
        for i in range(1, min(len(lines), 60)):
            if lines[i].strip() in ("---", "..."):
                block = lines[1:i]
                if all(re.match(r"^(\s*$|\s*[\w-]+\s*:|\s+|\s*- )", ln) for ln in block):
                    lines = lines[i + 1 :]
                break
    return lines


def _outline(lines: list[str]) -> tuple[_Section, set[int]]:
    """Headings -> a section tree; also the set of lines inside code fences."""
    root = _Section(level=0, title="", start=0, end=len(lines))
    stack = [root]
    fenced: set[int] = set()
    fence: str | None = None
    prev_text = False
    headings: list[tuple[int, int, str, int]] = []  # (line, level, title, content start)
    for i, line in enumerate(lines):
        fm = _FENCE.match(line)
        if fence is not None:
            fenced.add(i)
            if fm and fm.group(1)[0] == fence[0] and len(fm.group(1)) >= len(fence):
                fence = None
            prev_text = False
            continue
        if fm:
            fence = fm.group(1)
            fenced.add(i)
            prev_text = False
            continue
        hm = _HEADING.match(line)
        if hm:
            headings.append((i, len(hm.group(1)), _heading_text(line[hm.end() :]), i + 1))
            prev_text = False
            continue
        sm = _SETEXT.match(line)
        if sm and prev_text and i > 0 and not (sm.group(1)[0] == "-" and _THEMATIC.match(line)
                                               and len(sm.group(1)) < 2):
            level = 1 if sm.group(1)[0] == "=" else 2
            headings.append((i - 1, level, lines[i - 1].strip(), i + 1))
            prev_text = False
            continue
        stripped = line.strip()
        prev_text = bool(stripped) and not _MARKER.match(line) and not stripped.startswith(
            ("|", ">")) and len(line) - len(line.lstrip()) < 4
    for idx, (line_no, level, title, content_start) in enumerate(headings):
        end = len(lines)
        for later in headings[idx + 1 :]:
            if later[1] <= level:
                end = later[0]
                break
        while stack[-1].level >= level:
            stack.pop()
        sec = _Section(level=level, title=title, start=content_start, end=end,
                       heading_line=line_no)
        stack[-1].children.append(sec)
        stack.append(sec)
    return root, fenced


@dataclass
class _Item:
    head: str
    body: list[str]


def _items(lines: list[str], first: int, last: int, fenced: set[int]) -> list[_Item]:
    """Entry-like items in lines[first:last]: top-level list items, bold lines, table rows."""
    marker_indents = [
        len(m.group("indent"))
        for i in range(first, last)
        if i not in fenced and (m := _MARKER.match(lines[i])) and m.group("text") is not None
        and not _THEMATIC.match(lines[i])
    ]
    base = min(marker_indents) if marker_indents else None
    items: list[_Item] = []
    current: _Item | None = None
    blank_before = True
    i = first
    while i < last:
        line = lines[i]
        stripped = line.strip()
        if i in fenced:
            if current is not None:
                current.body.append(line)
            i += 1
            blank_before = False
            continue
        if not stripped:
            if current is not None:
                current.body.append("")
            blank_before = True
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        m = _MARKER.match(line)
        if (m and base is not None and m.group("text") is not None and indent <= base + 1
                and not _THEMATIC.match(line)):
            current = _Item(head=m.group("text").strip(), body=[])
            items.append(current)
        elif stripped.startswith("|") and i + 1 < last and _TABLE_SEP.match(lines[i + 1]):
            rows_end = i + 2
            while rows_end < last and lines[rows_end].strip().startswith("|"):
                rows_end += 1
            items.extend(_table_items(lines[i:rows_end]))
            current = None
            i = rows_end
            blank_before = False
            continue
        elif (indent <= 3 and blank_before and (bm := _BOLD_LINE.match(stripped))
              and not _is_label(bm.group("bold"))
              and (not bm.group("rest").strip() or bm.group("rest").lstrip()[:1] in ":-–—(["
                   or bm.group("bold").rstrip().endswith(":"))):
            current = _Item(head=stripped, body=[])
            items.append(current)
        elif current is not None and (indent > (base or 0) or not blank_before
                                      or not items or items[-1] is current):
            if blank_before and indent <= (base or 0) and base is not None:
                current = None  # a paragraph after the list ends the item
            else:
                current.body.append(line)
        blank_before = False
        i += 1
    for item in items:
        item.body = _dedent(item.body)
    return items


def _table_items(rows: list[str]) -> list[_Item]:
    def cells(row: str) -> list[str]:
        row = row.strip()
        row = row[1:] if row.startswith("|") else row
        row = row[:-1] if row.endswith("|") else row
        return [c.strip() for c in re.split(r"(?<!\\)\|", row)]

    header = [c.lower() for c in cells(rows[0])]
    title_col = next(
        (i for i, h in enumerate(header)
         if re.search(r"\b(title|issue|question|item|problem|summary|name|topic|blocker)\b", h)),
        None,
    )
    prio_col = next(
        (i for i, h in enumerate(header) if re.search(r"\b(priority|severity|prio)\b", h)), None
    )
    if title_col is None:
        title_col = next((i for i, h in enumerate(header) if i != prio_col
                          and not re.fullmatch(r"#|no\.?|id|n", h)), 0)
    items: list[_Item] = []
    for row in rows[2:]:
        values = cells(row)
        if len(values) <= title_col or not values[title_col]:
            continue
        names = cells(rows[0])
        body = [f"{names[i]}: {v}" for i, v in enumerate(values)
                if i not in (title_col, prio_col) and v and i < len(names)
                and not re.fullmatch(r"#|no\.?|id|n", header[i])]
        head = values[title_col]
        if prio_col is not None and prio_col < len(values) and _priority_of(values[prio_col]):
            body.insert(0, f"Priority: {values[prio_col]}")
        items.append(_Item(head=head, body=body))
    return items


def _prose_entry(lines: list[str], inherited: Priority | None) -> IssueEntry | None:
    text = list(lines)
    while text and not text[0].strip():
        text.pop(0)
    if not text:
        return None
    first = text[0].strip()
    marker = _MARKER.match(first)
    if marker:
        first = marker.group("text") or ""
    return _make_entry(first, _dedent(text[1:]), inherited, from_heading=True)


def _extract(
    sec: _Section, lines: list[str], fenced: set[int], inherited: Priority | None,
    out: list[IssueEntry], *, doc_title: bool = False,
) -> None:
    heading_prio = _heading_priority(sec.title) if sec.level else None
    specific = sec.level > 0 and heading_prio is None and not _is_generic(sec.title)
    label_children = all(_is_label(c.title) for c in sec.children)
    found = _items(lines, sec.start, sec.content_end(), fenced)
    if specific and label_children and not (doc_title and found):
        # one issue: its heading is the title, everything under it the body
        entry = _make_entry(
            sec.title, _dedent(lines[sec.start : sec.end]), inherited, from_heading=True
        )
        if entry:
            out.append(entry)
        return
    prio = heading_prio or inherited
    for item in found:
        if len(out) >= MAX_ENTRIES:
            return
        entry = _make_entry(item.head, item.body, prio, from_heading=False)
        if entry:
            out.append(entry)
    if not found and sec.level > 0 and not sec.children:
        # a priority or generic section holding prose: one entry titled from its first line
        entry = _prose_entry(lines[sec.start : sec.end], prio)
        if entry:
            out.append(entry)
    single_h1 = sec.level == 0 and [c.level for c in sec.children].count(1) == 1
    for child in sec.children:
        if len(out) >= MAX_ENTRIES:
            return
        _extract(child, lines, fenced, prio, out,
                 doc_title=single_h1 and child.level == 1 and child is sec.children[0])


def parse_issues_md(text: str) -> list[IssueEntry]:
    """Parse issues.md text into entries (never raises on odd markdown)."""
    lines = _preprocess(text)
    if not any(ln.strip() for ln in lines):
        return []
    root, fenced = _outline(lines)
    entries: list[IssueEntry] = []
    _extract(root, lines, fenced, None, entries)
    if not entries:
        heading_lines = {c.heading_line for c in _walk(root) if c.level}
        body_lines = [ln for i, ln in enumerate(lines) if i not in heading_lines
                      and not (i not in fenced and (_HEADING.match(ln) or _SETEXT.match(ln)))]
        entry = _prose_entry(body_lines, None)
        if entry:
            entries.append(entry)
    return entries[:MAX_ENTRIES]


def _walk(sec: _Section) -> Iterable[_Section]:
    yield sec
    for child in sec.children:
        yield from _walk(child)


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
