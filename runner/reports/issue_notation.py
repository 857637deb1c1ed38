"""How one issue in ``issues.md`` is written: titles, bodies and priority notation.

:mod:`runner.reports.issues` finds the issues in the markdown token stream
(headings, list items, table rows, bold-only paragraphs); this module turns
one of them (its first line and the rest) into an :class:`IssueEntry` and
knows the notations people and models use for a priority:

- fields: ``**Priority:** High``, ``Priority: high``, ``Severity: major``;
- tags: ``[HIGH]``, ``(P1)``, ``{low}``, and ``P0..P3`` (P0 critical, P1 high,
  P2 medium, P3 low); Jira words (blocker, major, minor, trivial);
- phrases: a ``High:`` prefix, ``(high priority)`` / ``- low priority`` suffixes;
- coloured circle emojis as a last resort;
- section headings made only of such words (``## High priority``, ``## 🔴 Critical``).

An entry's own marker beats the section it sits in. Inline markdown is reduced
to plain text through markdown-it (links, emphasis, code spans, escapes).
Every pattern here is bounded: the text is agent-written, and an unbounded
pattern applied with ``search()`` to a crafted line is quadratic.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

from markdown_it import MarkdownIt
from pydantic import BaseModel

Priority = Literal["critical", "high", "medium", "low"]
PRIORITIES: tuple[Priority, ...] = ("critical", "high", "medium", "low")

MAX_TITLE = 200
MAX_BODY = 20_000
MAX_HEAD = 1_000  # the part of an item's first line that titles and markers are read from
MAX_PLAIN = 4_000  # inline text longer than this is reduced without the parser


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
    level issues.md md by with index considerations consideration edge cases
    limitation resolved closed done active"""
)
# Headings inside one issue that describe a part of it ("### Impact"), not a new issue.
_LABEL_WORDS = _wordset(
    """description details detail impact proposed suggested possible fix fixes solution solutions
    workaround workarounds context problem background status priority severity notes note
    steps to reproduce reproduction expected actual behaviour behavior recommendation
    recommendations resolution affected files location locations owner rationale reason why
    question questions answer options option next step steps acceptance criteria references
    links summary example examples evidence root cause analysis discussion decision
    consequences risk risks mitigation why it matters"""
)
_FIELD_WORDS = frozenset({"priority", "severity", "prio", "importance"})
_PLACEHOLDER = re.compile(
    r"^(?:none|nothing|n/?a|-|no (?:open |known |outstanding )?(?:issues?|questions?|blockers?"
    r"|problems?)(?: (?:found|so far|yet|at this time|to report|identified|currently))?"
    r"|(?:none|nothing) (?:currently|yet|so far|for now|at the moment|at this time)|nothing to report"
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


BOLD_LINE = re.compile(r"^(?:\*\*|__)(?P<bold>.+?)(?:\*\*|__)(?P<rest>.*)$")
_CHECKBOX = re.compile(r"^\[[ xX]\]\s+")
_NUMBERING = re.compile(r"^(?:#\s*)?\d+(?:\.\d+)*[.):]?\s+(?=\S)")
_ISSUE_NUMBER = re.compile(
    r"^(?:issue|question|item|problem|blocker|bug|task|limit|q)[\s#-]{0,3}\d+\s*[:.\-–—)]\s*(?=\S)",
    re.I
)
_PAREN = re.compile(r"\([^()]{0,200}\)")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+(?=\S)")


def priority_of(word: str | None) -> Priority | None:
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


_INLINE = MarkdownIt("commonmark", {"maxNesting": 20})


@lru_cache(maxsize=4096)
def _plain(text: str) -> str:
    """Markdown inline text -> plain text (links and images to their text, emphasis, code
    ticks and escapes removed), through markdown-it's inline parser."""
    if len(text) > MAX_PLAIN:  # bounded work on crafted input: only the markers go
        return text.replace("**", "").replace("__", "").replace("`", "")
    out: list[str] = []
    for block in _INLINE.parseInline(text):
        for tok in block.children or []:
            if tok.type in ("text", "code_inline", "html_inline", "image"):
                out.append(tok.content)
            elif tok.type in ("softbreak", "hardbreak"):
                out.append("\n")
    return "".join(out)


def _words(text: str) -> list[str]:
    text = _strip_symbols(_plain(text)).lower().replace("nice to have", "nicetohave")
    text = text.replace("nice-to-have", "nicetohave").replace("to-do", "todo")
    text = re.sub(r"^\s*\d+(?:\.\d+)*[.):]?\s+", "", text)
    return re.findall(r"[a-z0-9][a-z0-9.]*", text)


def heading_priority(text: str) -> Priority | None:
    """Priority of a section heading made only of priority words ('## High priority')."""
    words = [w for w in _words(text) if w not in _GENERIC_WORDS]
    found = {priority_of(w) for w in words}
    if words and None not in found and len(found) == 1:
        return found.pop()
    return None


def is_generic(text: str) -> bool:
    """A container heading ('Open questions', 'Blockers (must fix first)')."""
    words = _words(_PAREN.sub(" ", text))
    return bool(words) and all(w in _GENERIC_WORDS for w in words)


def is_label(text: str) -> bool:
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


def dedent(lines: list[str]) -> list[str]:
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
        if m and priority_of(m.group("val")):
            prio = prio or priority_of(m.group("val"))
            head = head[m.end() :].lstrip(" :-–—|")
        m2 = _LEADING_BOLD_PWORD.match(head)
        if m2 and priority_of(m2.group("val")):
            prio = prio or priority_of(m2.group("val"))
            head = head[m2.end() :]
        m3 = _LEADING_PTOKEN.match(head)
        if m3 and priority_of(m3.group("val")):
            prio = prio or priority_of(m3.group("val"))
            head = head[m3.end() :]
        m4 = _LEADING_FIELD.match(head)
        if m4 and priority_of(m4.group("val")) and head[m4.end() :].strip():
            prio = prio or priority_of(m4.group("val"))
            head = head[m4.end() :]
        if head == before:
            break
    return head.strip(), prio or emoji


def _strip_tags(text: str) -> tuple[str, Priority | None]:
    """Remove bracketed priority tags anywhere in a line: 'X (High)', 'X [P1] y'."""
    prio: Priority | None = None
    for m in list(_TAG.finditer(text)):
        p = priority_of(m.group("val"))
        if p:
            prio = prio or p
            text = text.replace(m.group(0), " ")
    return re.sub(r"[ \t]+", " ", text).strip(), prio


def _title_markers(title: str) -> tuple[str, Priority | None]:
    """Strip priority markers from a title: 'X (High)', 'X [P1]', 'X - low priority'."""
    title, prio = _strip_tags(title)
    m = _PHRASE_START.match(title)
    if m:
        prio = prio or priority_of(m.group("val"))
        title = title[m.end() :]
    m = _PHRASE_END.search(title, max(0, len(title) - _TAIL))
    if m:
        prio = prio or priority_of(m.group("val"))
        title = title[: m.start()]
    m2 = _TRAILING_PTOKEN.search(title, max(0, len(title) - _TAIL))
    if m2:
        prio = prio or priority_of(m2.group("val"))
        title = title[: m2.start()]
    return re.sub(r"\s+", " ", title).strip(" :-–—|,"), prio


def field_priority(text: str) -> Priority | None:
    for m in _FIELD.finditer(text):
        p = priority_of(m.group("val"))
        if p:
            return p
    for line in text.splitlines():  # a line that is only a tag or a phrase: "[HIGH]", "High priority"
        if len(line) > _TAIL:
            continue
        s = _plain(line).strip(" -*>\t").rstrip(".")
        m2 = _TAG.fullmatch(s)
        if m2 and priority_of(m2.group("val")):
            return priority_of(m2.group("val"))
        m3 = _PHRASE_START.match(s)
        if m3 and m3.end() == len(s):
            return priority_of(m3.group("val"))
    return None


def is_priority_field(text: str) -> bool:
    """'Priority: low' / '**Severity:** major' standing as a heading of its own (a setext
    underline below a field line makes one): a part of the issue above, not an issue."""
    words = _words(text)
    return bool(words) and _FIELD.search(_plain(text)) is not None and all(
        w in _FIELD_WORDS or priority_of(w) for w in words)


def make_entry(
    head: str, body_lines: list[str], inherited: Priority | None, *, from_heading: bool
) -> IssueEntry | None:
    if len(head) > MAX_HEAD:
        body_lines = [head[MAX_HEAD:], *body_lines]
        head = head[:MAX_HEAD]
    head, tag_prio = _strip_head_markers(head)
    field_prio = field_priority(head)
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
    prio = field_prio or tag_prio or title_prio or field_priority(body) or _lead_priority(body)
    return IssueEntry(title=title, priority=prio or inherited, body=body)


def _lead_priority(body: str) -> Priority | None:
    """A marker leading the body's first line: '## Title' then '[P1] tokens never expire'."""
    first = next((ln for ln in body.splitlines() if ln.strip()), "")
    return _strip_head_markers(first[:MAX_HEAD])[1] if first else None


def _split_item_head(head: str) -> tuple[str, str]:
    """Split a list item's first line into (title, rest of the text)."""
    m = BOLD_LINE.match(head)
    if m and m.group("bold").strip(" :") and not re.match(r"^\s*[\w(]", m.group("rest")):
        rest = m.group("rest").strip()
        rest = re.sub(r"^[:\-–—|.]+\s*", "", rest)
        return m.group("bold").strip(), rest
    plain = _plain(head).strip()
    colon = re.match(r"^(?P<t>[^:]{2,80}?):\s+(?P<r>\S.*)$", plain)
    dash_first = re.match(r"^(?P<t>[^:]{2,80}?)\s+[–—]\s+(?P<r>\S.*)$", plain)
    if dash_first:  # 'Title — Blocks: phase 1' (an em dash before any colon)
        return dash_first.group("t"), dash_first.group("r")
    if colon and "http" not in colon.group("t") and ". " not in colon.group("t"):
        t = colon.group("t")
        if is_label(t) or is_generic(t):  # "Note: ..." / "Question: ..." label, not a title
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

