"""Shell words: :class:`Word`, quote removal, ANSI-C decoding, getopt-style option parsing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from tree_sitter import Node


@dataclass(frozen=True, slots=True)
class Bound:
    """What a dynamic word is known to stand for: paths somewhere under ``roots``.

    Made for the output of a bounded producer (``$(find backend -name x)``, ``grep -rl x
    backend | xargs ...``) and for ``find ROOT -exec ... {}``: every value is a path
    under one of the roots (which are literal words, relative to the working directory),
    and only names passing ``keep`` are produced (a directory whose name passes brings
    everything under it when ``keep_dirs``).
    """

    roots: tuple[str, ...]
    keep: Callable[[str], bool] | None = None
    keep_dirs: bool = True
    producer: str = ""  # what produces the values, for messages


@dataclass(frozen=True, slots=True)
class Word:
    """One shell word after quote removal. ``dynamic``: holds an expansion or glob."""

    text: str
    dynamic: bool = False
    procsub: bool = False  # <(...) / >(...): a /dev/fd path, not a file name
    glob: str | None = None  # the word as a bash pattern, when it holds a glob or braces
    bound: Bound | None = None  # a dynamic word whose values are paths under known roots

    def sub(self, text: str) -> Word:
        return Word(text, self.dynamic, self.procsub)


_DQ_ESCAPE = re.compile(r"\\([$`\"\\\n])")
_ANSI_SIMPLE = {
    "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
    "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?",
}


def _unescape_word(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            if text[i + 1] != "\n":
                out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _unescape_dq(text: str) -> str:
    if "\\" not in text:
        return text
    return _DQ_ESCAPE.sub(lambda m: "" if m.group(1) == "\n" else m.group(1), text)


def _decode_ansi_c(body: str) -> str:
    out: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        i += 2
        if e in _ANSI_SIMPLE:
            out.append(_ANSI_SIMPLE[e])
        elif e in "01234567":
            j = i - 1
            while j < n and j < i + 2 and body[j] in "01234567":
                j += 1
            out.append(chr(int(body[i - 1 : j], 8) & 0xFF))
            i = j
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            j = i
            while j < n and j < i + width and body[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i:
                out.append("\\" + e)
            else:
                code = int(body[i:j], 16)
                out.append(chr(code) if code < 0x110000 and not 0xD800 <= code < 0xE000 else "?")
                i = j
        elif e == "c" and i < n:
            out.append(chr(ord(body[i]) & 0x1F))
            i += 1
        else:
            out.append("\\" + e)
    return "".join(out)


def getopt(
    args: Sequence[Word],
    short_val: str = "",
    long_val: Iterable[str] = (),
    *,
    stop_at_positional: bool = False,
) -> tuple[list[tuple[str, Word | None]], list[Word]]:
    """Split ``args`` into options and positionals, getopt-style.

    ``short_val``: short options that take a value (attached or next word);
    ``long_val``: long options that take a value when not given with ``=``.
    """
    long_set = frozenset(long_val)
    opts: list[tuple[str, Word | None]] = []
    pos: list[Word] = []
    i = 0
    n = len(args)
    while i < n:
        w = args[i]
        t = w.text
        if w.dynamic or w.procsub or t == "-" or not t.startswith("-"):
            pos.append(w)
            if stop_at_positional:
                pos.extend(args[i + 1 :])
                break
            i += 1
            continue
        if t == "--":
            pos.extend(args[i + 1 :])
            break
        if t.startswith("--"):
            name, eq, val = t.partition("=")
            if eq:
                opts.append((name, w.sub(val)))
            elif name in long_set and i + 1 < n:
                opts.append((name, args[i + 1]))
                i += 1
            else:
                opts.append((name, None))
            i += 1
            continue
        j = 1
        while j < len(t):
            c = t[j]
            if c in short_val:
                rest = t[j + 1 :]
                if rest:
                    opts.append(("-" + c, w.sub(rest)))
                elif i + 1 < n:
                    opts.append(("-" + c, args[i + 1]))
                    i += 1
                else:
                    opts.append(("-" + c, None))
                break
            opts.append(("-" + c, None))
            j += 1
        i += 1
    return opts, pos


def _has(opts: Sequence[tuple[str, Word | None]], *names: str) -> bool:
    return any(o in names for o, _ in opts)


def _vals(opts: Sequence[tuple[str, Word | None]], *names: str) -> list[Word]:
    return [v for o, v in opts if o in names and v is not None]


def _text(node: Node) -> str:
    data = node.text
    return data.decode("utf-8", "surrogatepass") if data is not None else ""
