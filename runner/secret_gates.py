"""Cheap gates for the secret detectors' regular expressions: which texts, and which of their
lines, one of detect-secrets' regexes could match at all.

A gate is read off the regex's syntax tree (:func:`gate_pattern`: its strongest run of parts
whose strings are known exactly, as an alternation of casefolded literals; or
:func:`anchored_gate`: a tail that starts with a literal). It matches wherever the regex
does in ASCII text, so an ASCII text or line where the gate does not match is one the
regex cannot match: the detectors run only where it does (on a line that is not ASCII,
they all run: :class:`Prefilter`). Used by the policy's scan (runner/policy/secrets.py:
candidate lines) and by redaction (runner/gateway/redact.py: the detectors a text could
trigger, on the lines they could match). The gates whose strings are known are answered
together, by one Aho-Corasick pass over the text (:class:`LiteralGates`).
"""

from __future__ import annotations

import bisect
import functools
import importlib
import re
import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Prefilter:
    r"""Which lines one of a plugin's regexes could match (a superset, never fewer).

    ``gate``: a cheap regex over the casefolded text that matches wherever the real
    regex does (see :func:`gate_pattern`); the lines where it matches are the
    candidates. Without a gate, the real regex itself is run over the whole text
    (compiled with MULTILINE, so its per-line anchors still work).

    The gates hold for ASCII text only: an IGNORECASE regex matches the dotless ı and the
    dotted İ as i, which ``casefold()`` keeps apart (ı) or spells as two characters (İ), and
    ``\d`` matches every Unicode decimal digit where a gate expands it to 0-9. A text that
    is not ASCII is never ruled out by a gate: every line is a candidate, every regex runs.
    The callers that work line by line (the policy's scan, redaction) ask the gates about
    the text with its lines that are not ASCII emptied, and run every regex on those lines.
    """

    regex: re.Pattern[str]
    gate: re.Pattern[str] | None
    needles: tuple[str, ...] = ()  # when few: every gate match contains one (str search)
    folded: bool = True  # the gate runs on the casefolded text (else on the text itself)
    literals: frozenset[str] = frozenset()  # every string the gate matches, when known

    def possible(self, text: str, folded: str) -> bool:
        """Whether the regex could match anywhere in ``text`` (``folded``: its casefold) or in
        any part of it, such as one of its lines: False only when nothing in it can match
        (the gate matches wherever the regex does). Without a gate: True."""
        if self.gate is None or not text.isascii():  # see the class docstring
            return True
        if not self.folded:
            return self.gate.search(text) is not None
        if self.needles and not any(n in folded for n in self.needles):
            return False
        return self.gate.search(folded) is not None

    def candidate_lines(self, doc: Doc) -> set[int]:
        if not doc.text.isascii():  # see the class docstring: every line is a candidate
            return set(range(len(doc.lines)))
        if not doc.possible(self):
            return set()
        if self.gate is not None and not self.folded:
            return {doc.line(m.start()) for m in self.gate.finditer(doc.text)}
        if self.gate is not None:
            folded = doc.folded
            if self.needles and not any(n in folded for n in self.needles):
                return set()
            return {doc.folded_line(m.start()) for m in self.gate.finditer(folded)}
        out: set[int] = set()
        for m in self.regex.finditer(doc.text):
            first, last = doc.line(m.start()), doc.line(max(m.start(), m.end() - 1))
            out.update(range(first, last + 1))
        return out


class Doc:
    """A text split into lines, with offsets to map matches back to line indexes, and which
    gates can match in it (:meth:`possible`, each asked once)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.folded = text.casefold()
        self._possible: dict[int, bool] = {}  # id of a Prefilter (they live as long as us)
        self._found: tuple[int, frozenset[int]] | None = None  # LiteralGates.found
        self._lines: list[str] | None = None
        self._starts: list[int] | None = None
        self._folded_starts: list[int] | None = None

    def possible(self, prefilter: Prefilter) -> bool:
        """``prefilter.possible`` on this text, remembered. A gate whose strings are known is
        answered by one pass over the text for all of them (:class:`LiteralGates`)."""
        seen = self._possible.get(id(prefilter))
        if seen is None:
            if prefilter.literals and self.text.isascii():
                if self._found is None:
                    self._found = _LITERALS.found(self.folded)
                seen = _LITERALS.answers(prefilter, self._found)
            if seen is None:
                seen = prefilter.possible(self.text, self.folded)
            self._possible[id(prefilter)] = seen
        return seen

    def possible_among(self, prefilters: tuple[Prefilter, ...]) -> list[bool]:
        """:meth:`possible` of each of ``prefilters`` (a tuple the caller keeps: its gates'
        numbers are looked up once); the automaton's answers without a call for each."""
        if not self.text.isascii():
            return [True] * len(prefilters)
        if self._found is None:
            self._found = _LITERALS.found(self.folded)
        built, hits = self._found
        return [n in hits if n is not None and n < built and p.literals else self.possible(p)
                for p, n in zip(prefilters, _LITERALS.numbers(prefilters), strict=True)]

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines

    def line(self, offset: int) -> int:
        if self._starts is None:
            self._starts = _starts(self.text)
        return max(0, bisect.bisect_right(self._starts, offset) - 1)

    def folded_line(self, offset: int) -> int:
        if self._folded_starts is None:
            self._folded_starts = _starts(self.folded)
        return max(0, bisect.bisect_right(self._folded_starts, offset) - 1)


class LiteralGates:
    """The gates whose strings are known, answered together: an Aho-Corasick automaton of
    all their strings (pyahocorasick) finds, in one pass over a casefolded text, every place
    one of them occurs (overlaps included), so a gate is possible in the text exactly when
    one of its strings was found (which is when its regex would match: the regex is the
    alternation of those strings). Gates registered after a text was looked at are asked
    the usual way (:meth:`answers` gives None)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: dict[int, int] = {}  # id of a Prefilter -> its number
        self._owners: dict[str, set[int]] = {}  # string -> numbers of the gates it belongs to
        self._automaton: Any = None
        self._built = 0  # how many gates the automaton holds
        # id of a tuple of gates -> (the tuple, their numbers, how many were registered)
        self._numbers: dict[int, tuple[tuple[Prefilter, ...], tuple[int | None, ...], int]] = {}

    def add(self, prefilter: Prefilter) -> None:
        """Register a gate whose strings are known (``literals``: all it can match)."""
        if not prefilter.literals:
            return
        with self._lock:
            number = self._index.setdefault(id(prefilter), len(self._index))
            for literal in prefilter.literals:
                self._owners.setdefault(literal, set()).add(number)

    def found(self, folded: str) -> tuple[int, frozenset[int]]:
        """(how many gates were looked for, the numbers of those found in ``folded``)."""
        with self._lock:
            if not self._owners:
                return 0, frozenset()  # no gate registered: each is asked the usual way
            if self._automaton is None or self._built != len(self._index):
                automaton = importlib.import_module("ahocorasick").Automaton()
                for literal, owners in self._owners.items():
                    automaton.add_word(literal, frozenset(owners))
                automaton.make_automaton()
                self._automaton, self._built = automaton, len(self._index)
            automaton, built = self._automaton, self._built
        hits: set[int] = set()
        for _end, owners in automaton.iter(folded):
            hits |= owners
        return built, frozenset(hits)

    def numbers(self, prefilters: tuple[Prefilter, ...]) -> tuple[int | None, ...]:
        """The number of each of ``prefilters`` (None: not registered), kept by the tuple's
        identity (the callers' lists of gates live as long as the process)."""
        kept = self._numbers.get(id(prefilters))
        if kept is None or kept[0] is not prefilters \
                or (None in kept[1] and kept[2] != len(self._index)):  # registered since
            with self._lock:
                kept = (prefilters, tuple(self._index.get(id(p)) for p in prefilters),
                        len(self._index))
                if len(self._numbers) > 64:
                    self._numbers.clear()
                self._numbers[id(prefilters)] = kept
        return kept[1]

    def answers(self, prefilter: Prefilter, found: tuple[int, frozenset[int]]) -> bool | None:
        number = self._index.get(id(prefilter))
        if number is None or number >= found[0]:
            return None
        return number in found[1]


_LITERALS = LiteralGates()


def ascii_lines(lines: list[str]) -> tuple[str, list[int]]:
    """(the lines joined by newlines with those that are not ASCII emptied, the indexes of
    those): what the gates can be asked about, line numbers kept; the callers run every
    regex on the lines that are not ASCII (see :class:`Prefilter`)."""
    odd = [i for i, line in enumerate(lines) if not line.isascii()]
    if not odd:
        return "\n".join(lines), odd
    skip = set(odd)
    return "\n".join("" if i in skip else line for i, line in enumerate(lines)), odd


def doc_of(text: str) -> Doc:
    """The Doc of ``text``; one shared by the policy's scan and redaction for a long text (a
    Write's content is scanned when its call is derived, then redacted when it is logged:
    the gates are asked about it once)."""
    if MEMO_MIN <= len(text) <= MEMO_MAX:
        return _remembered(text)
    return Doc(text)


@functools.lru_cache(maxsize=8)
def _remembered(text: str) -> Doc:
    return Doc(text)


def _starts(text: str) -> list[int]:
    starts = [0]
    pos = 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


@functools.cache  # one per regex and process: the policy's scan and redaction share them
def prefilter(pattern: re.Pattern[str]) -> Prefilter:
    found = gate_pattern(pattern.pattern, pattern.flags)
    full = re.compile(pattern.pattern, pattern.flags | re.MULTILINE)
    if found is None or found[1] < MIN_GATE:
        anchored = anchored_gate(pattern.pattern, pattern.flags)
        if anchored is not None:  # run on the original text, with the regex's own flags
            return Prefilter(full, re.compile(anchored, pattern.flags), (), folded=False)
        return Prefilter(full, None)
    # a gate that starts with an alternation scans slowly: plain substring searches
    # for its few possible strings rule most texts out first
    options = found[2] or frozenset()
    needles = () if len(options) > _NEEDLES else tuple(
        sorted(o for o in options if not any(p != o and p in o for p in options)))
    made = Prefilter(full, re.compile(found[0]), needles, literals=options)
    if options:  # a gate of more strings than are tracked is asked the usual way
        _LITERALS.add(made)
    return made


MEMO_MIN = 512  # texts at least this long (and at most MEMO_MAX) share their Doc: doc_of
MEMO_MAX = 1 << 20
_EXACT_LIMIT = 256  # largest string set tracked for one part of a regex
_CLASS_LIMIT = 16  # largest character class expanded into literals
MIN_GATE = 3  # gates that can match fewer characters are too weak to be worth it
_NEEDLES = 8  # up to this many strings, a gate is pre-checked with substring searches


Gate = tuple[str, int, frozenset[str] | None]  # source, shortest match, its strings


def gate_pattern(pattern: str, flags: int = 0) -> Gate | None:
    """A regex that matches in the casefolded text wherever ``pattern`` matches.

    Read off the regex's syntax tree: the strongest run of parts whose possible
    strings are known exactly (literals, small alternations and classes, bounded
    repeats), trimmed of optional ends and rendered as alternations of casefolded
    literals. Returns (source, shortest length it matches, the strings it can
    match when there are at most 256, else None) or None. Sound (the
    gate matches wherever the regex does, up to Unicode case-folding corner cases)
    but not complete: it only chooses the lines the real regex is run on.
    """
    try:
        from re import _constants as c  # type: ignore[attr-defined]
        from re import _parser  # type: ignore[attr-defined]

        tree = _parser.parse(pattern, flags)
    except Exception:
        return None
    repeats = (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT)

    def product(a: frozenset[str], b: frozenset[str]) -> frozenset[str] | None:
        if len(a) * len(b) > _EXACT_LIMIT:
            return None
        return frozenset(x + y for x in a for y in b)

    def exact_seq(items: Any) -> frozenset[str] | None:
        acc: frozenset[str] | None = frozenset({""})
        for op, av in items:
            e = exact(op, av)
            acc = product(acc, e) if acc is not None and e is not None else None
            if acc is None:
                return None
        return acc

    def exact(op: Any, av: Any) -> frozenset[str] | None:
        """Every string this part can match, when that is a small finite set."""
        if op is c.LITERAL:
            return frozenset({chr(av)})
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            return frozenset({""})  # zero-width
        if op is c.SUBPATTERN:
            return exact_seq(av[-1])
        if op is c.BRANCH:
            alts = [exact_seq(b) for b in av[1]]
            if any(a is None for a in alts):
                return None
            out = frozenset().union(*(a for a in alts if a is not None))
            return out if len(out) <= _EXACT_LIMIT else None
        if op is c.IN:
            chars: set[str] = set()
            for iop, iav in av:
                if iop is c.LITERAL:
                    chars.add(chr(iav))
                elif iop is c.RANGE and iav[1] - iav[0] < _CLASS_LIMIT:
                    chars.update(chr(x) for x in range(iav[0], iav[1] + 1))
                elif iop is c.CATEGORY and iav is c.CATEGORY_DIGIT:
                    chars.update("0123456789")
                else:
                    return None
            return frozenset(chars) if len(chars) <= _CLASS_LIMIT else None
        if op in repeats and av[1] <= 3:
            body = exact_seq(av[2])
            out_set: set[str] = set()
            power: frozenset[str] | None = frozenset({""})
            for k in range(av[1] + 1):
                if power is None or body is None:
                    return None
                if k >= av[0]:
                    out_set.update(power)
                power = product(power, body)
            return frozenset(out_set) if len(out_set) <= _EXACT_LIMIT else None
        return None

    def leading(branches: Any) -> frozenset[str] | None:
        """The strings each alternative can start with, from its leading exact parts."""
        out: set[str] = set()
        for items in branches:
            acc: frozenset[str] | None = frozenset({""})
            for op, av in items:
                e = exact(op, av)
                if e is None:
                    break
                acc = product(acc, e) if acc is not None else None
                if acc is None:
                    return None
            if acc is None or "" in acc:
                return None
            out |= acc
        return frozenset(out) if len(out) <= _EXACT_LIMIT else None

    def render(run: list[frozenset[str]]) -> Gate | None:
        while run and "" in run[0]:
            run = run[1:]
        while run and "" in run[-1]:
            run = run[:-1]
        if not run:
            return None
        parts = []
        for options in run:
            alts = [re.escape(x) for x in sorted({o.casefold() for o in options},
                                                 key=len, reverse=True)]
            parts.append(alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")")
        strings: frozenset[str] | None = frozenset({""})
        for options in run:
            folded = frozenset(o.casefold() for o in options)
            strings = product(strings, folded) if strings is not None else None
        if strings is not None and len(strings) > _EXACT_LIMIT:
            strings = None
        return "".join(parts), sum(min(len(o) for o in options) for options in run), strings

    def gate_seq(items: Any) -> Gate | None:
        best: Gate | None = None

        def consider(g: Gate | None) -> None:
            nonlocal best
            if g is not None and (best is None or g[1] > best[1]):
                best = g

        run: list[frozenset[str]] = []
        for op, av in items:
            e = exact(op, av)
            if e is not None:
                run.append(e)
                continue
            if op is c.BRANCH:  # the run goes on into the alternatives' exact beginnings
                starts = leading(av[1])
                if starts is not None:
                    consider(render([*run, starts]))
            consider(render(run))
            run = []
            if op is c.SUBPATTERN:
                consider(gate_seq(av[-1]))
            elif op is c.ATOMIC_GROUP:
                consider(gate_seq(av))
            elif op is c.BRANCH:
                alts = [gate_seq(b) for b in av[1]]
                found = [a for a in alts if a is not None]
                if alts and len(found) == len(alts):
                    union: frozenset[str] | None = frozenset()
                    for a in found:
                        union = union | a[2] if union is not None and a[2] is not None else None
                    if union is not None and len(union) > _EXACT_LIMIT:
                        union = None
                    consider(("(?:" + "|".join(a[0] for a in found) + ")",
                              min(a[1] for a in found), union))
            elif op in repeats and av[0] >= 1:
                consider(gate_seq(av[2]))
        consider(render(run))
        return best

    try:
        return gate_seq(tree)
    except Exception:
        return None


_CATEGORIES = {
    "CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W", "CATEGORY_SPACE": r"\s", "CATEGORY_NOT_SPACE": r"\S",
}


def anchored_gate(pattern: str, flags: int = 0) -> str | None:
    """A tail of ``pattern`` that starts with a literal, for regexes without a literal gate.

    The longest run of top-level literals, classes and their repeats that begins
    with a literal character (so the regex engine can scan for that character
    fast), rendered back to regex source; None when it would match fewer than
    MIN_GATE characters. Any match of ``pattern`` contains a match of it.
    """
    try:
        from re import _constants as c  # type: ignore[attr-defined]
        from re import _parser  # type: ignore[attr-defined]

        items = list(_parser.parse(pattern, flags))
    except Exception:
        return None

    def char(code: int) -> str:
        return f"\\U{code:08x}"

    def klass(av: Any) -> str | None:
        parts = []
        negate = ""
        for op, v in av:
            if op is c.NEGATE:
                negate = "^"
            elif op is c.LITERAL:
                parts.append(char(v))
            elif op is c.RANGE:
                parts.append(f"{char(v[0])}-{char(v[1])}")
            elif op is c.CATEGORY and str(v) in _CATEGORIES:
                parts.append(_CATEGORIES[str(v)])
            else:
                return None
        return f"[{negate}{''.join(parts)}]"

    def atom(op: Any, av: Any) -> tuple[str, int] | None:
        if op is c.LITERAL:
            return char(av), 1
        if op is c.IN:
            k = klass(av)
            return (k, 1) if k is not None else None
        if op is c.MAX_REPEAT and len(av[2]) == 1:
            inner = atom(*av[2][0])
            if inner is None or av[2][0][0] not in (c.LITERAL, c.IN):
                return None
            hi = "" if av[1] is c.MAXREPEAT else str(av[1])
            return f"{inner[0]}{{{av[0]},{hi}}}", av[0]
        return None

    best: tuple[str, int] | None = None
    for start, (op, _) in enumerate(items):
        if op is not c.LITERAL:
            continue
        parts: list[str] = []
        length = 0
        for iop, iav in items[start:]:
            a = atom(iop, iav)
            if a is None:
                break
            parts.append(a[0])
            length += a[1]
        if length >= MIN_GATE and (best is None or length > best[1]):
            best = "".join(parts), length
    return best[0] if best is not None else None
