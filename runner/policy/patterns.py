r"""Bash patterns, lexically: quoting, splitting, bracket and POSIX classes, name matching,
brace expansion (bash's rules). Matching a pattern against the workspace is
``paths.PathResolver.expand_glob``.

A pattern is the text of a shell word with every character that bash takes literally
(quoted or backslash-escaped) escaped with a backslash, so `"a*"b*` is `a\*b*`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

MAX_BRACE_WORDS = 256  # words one brace expansion may produce


class GlobTooBroad(Exception):
    """A pattern expands to more than the limits allow."""


_PATTERN_SPECIALS = frozenset("\\*?[]{},~")
_POSIX_CLASSES = {
    "alpha": r"\w", "alnum": r"\w", "upper": r"\w", "lower": r"\w", "word": r"\w",
    "digit": "0-9", "xdigit": "0-9A-Fa-f", "space": r" \t\n\r\f\v", "blank": r" \t",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"), "cntrl": r"\x00-\x1f\x7f",
    "print": r"\x20-\x7e\u0080-\U0010ffff", "graph": r"\x21-\x7e\u0080-\U0010ffff",
}


def quote_pattern(text: str) -> str:
    """``text`` as a pattern that matches only itself."""
    return "".join("\\" + c if c in _PATTERN_SPECIALS else c for c in text)


def unquote_pattern(pattern: str) -> str:
    """The word bash leaves when a pattern matches nothing (quote removal)."""
    if "\\" not in pattern:
        return pattern
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
            continue
        out.append(pattern[i])
        i += 1
    return "".join(out)


def split_pattern(pattern: str) -> list[str]:
    """Split on ``/`` (an escaped ``/`` separates too, as in bash)."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            if pattern[i + 1] == "/":
                parts.append("".join(cur))
                cur = []
            else:
                cur.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "/":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def has_glob(pattern: str) -> bool:
    """Whether a pattern holds an unescaped ``*``, ``?`` or bracket expression."""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c in "*?":
            return True
        if c == "[" and _bracket(pattern, i) is not None:
            return True
        i += 1
    return False


def has_brace(pattern: str) -> bool:
    """Whether brace expansion changes the pattern (``{a,b}``, ``{1..3}``)."""
    if "{" not in pattern:
        return False
    try:
        return _first_brace(pattern) is not None
    except GlobTooBroad:
        return True


def _bracket(seg: str, i: int) -> tuple[str, int] | None:
    """The regex of the bracket expression at ``seg[i]`` and the index after it (None: literal ``[``)."""
    j = i + 1
    n = len(seg)
    negate = j < n and seg[j] in "!^"
    if negate:
        j += 1
    items: list[str] = []
    first = True
    while j < n:
        c = seg[j]
        if c == "]" and not first:
            body = "".join(items)
            if not body:
                return ("[^/]" if negate else "(?!)"), j + 1
            return f"[{'^' if negate else ''}{body}]", j + 1
        first = False
        if c == "[" and j + 1 < n and seg[j + 1] == ":":
            end = seg.find(":]", j + 2)
            if end != -1 and seg[j + 2 : end].isalpha():
                items.append(_POSIX_CLASSES.get(seg[j + 2 : end], ""))
                j = end + 2
                continue
        if c == "\\" and j + 1 < n:
            j += 1
            c = seg[j]
        lo = c
        if j + 2 < n and seg[j + 1] == "-" and seg[j + 2] != "]":
            hi_at = j + 2
            hi = seg[hi_at]
            if hi == "\\" and hi_at + 1 < n:
                hi_at += 1
                hi = seg[hi_at]
            if ord(lo) <= ord(hi):
                items.append(f"{re.escape(lo)}-{re.escape(hi)}")
            j = hi_at + 1
            continue
        items.append(re.escape(lo))
        j += 1
    return None


@lru_cache(maxsize=2048)
def _segment_regex(seg: str, nocase: bool, escapes: bool) -> re.Pattern[str]:
    """A regex for one path segment of a glob (``escapes``: backslash quotes the next character)."""
    out: list[str] = []
    i = 0
    n = len(seg)
    while i < n:
        c = seg[i]
        if c == "\\" and escapes:
            out.append(re.escape(seg[i + 1]) if i + 1 < n else re.escape("\\"))
            i += 2
            continue
        if c == "*":
            if not out or out[-1] != ".*":
                out.append(".*")
            i += 1
            continue
        if c == "?":
            out.append(".")
            i += 1
            continue
        if c == "[":
            br = _bracket(seg, i)
            if br is not None:
                out.append(br[0])
                i = br[1]
                continue
        out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if nocase else 0))


def fnmatch_name(pattern: str, name: str, *, nocase: bool = False) -> bool:
    """fnmatch(3) without FNM_PERIOD, as ``find -name`` and ``grep --include`` match names."""
    return _segment_regex(pattern, nocase, True).fullmatch(name) is not None


def _first_brace(s: str) -> tuple[int, int, list[str]] | None:
    """The first brace expression that expands: (start, end, alternatives)."""
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth = 0
            commas: list[int] = []
            j = i
            while j < n:
                d = s[j]
                if d == "\\":
                    j += 2
                    continue
                if d == "{":
                    depth += 1
                elif d == "}":
                    depth -= 1
                    if depth == 0:
                        break
                elif d == "," and depth == 1:
                    commas.append(j)
                j += 1
            if j < n:
                if commas:
                    bounds = [i, *commas, j]
                    return i, j, [s[a + 1 : b] for a, b in pairwise(bounds)]
                seq = _sequence(s[i + 1 : j])
                if seq is not None:
                    return i, j, seq
        i += 1
    return None


_SEQ_RE = re.compile(r"^(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])(?:\.\.(-?\d+))?$")


def _sequence(body: str) -> list[str] | None:
    m = _SEQ_RE.match(body)
    if m is None:
        return None
    a, b, step_text = m.group(1), m.group(2), m.group(3)
    step = abs(int(step_text)) if step_text else 1
    step = step or 1
    if a.lstrip("-").isdigit() and b.lstrip("-").isdigit():
        lo, hi = int(a), int(b)
        count = abs(hi - lo) // step + 1
        if count > MAX_BRACE_WORDS:
            raise GlobTooBroad(body)
        width = max(len(a), len(b)) if (a.lstrip("-").startswith("0") or b.lstrip("-").startswith("0")) else 0
        rng = range(lo, hi + 1, step) if lo <= hi else range(lo, hi - 1, -step)
        return [str(v).zfill(width) if width else str(v) for v in rng]
    if a.isalpha() and b.isalpha():
        lo, hi = ord(a), ord(b)
        rng = range(lo, hi + 1, step) if lo <= hi else range(lo, hi - 1, -step)
        return [quote_pattern(chr(v)) for v in rng]
    return None


def brace_expand(pattern: str, limit: int = MAX_BRACE_WORDS) -> list[str]:
    """Bash brace expansion of a pattern (``a{b,c}d`` -> ``abd``, ``acd``); escapes stay.

    Raises ``GlobTooBroad`` past ``limit`` words.
    """
    found = _first_brace(pattern)
    if found is None:
        return [pattern]
    start, end, alternatives = found
    prefix, suffix = pattern[:start], pattern[end + 1 :]
    tails = brace_expand(suffix, limit)
    out: list[str] = []
    for alt in alternatives:
        for middle in brace_expand(alt, limit):
            for tail in tails:
                out.append(prefix + middle + tail)
                if len(out) > limit:
                    raise GlobTooBroad(pattern)
    return out
