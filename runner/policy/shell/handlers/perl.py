"""perl: ``perl -pi -e 's/old/new/' FILES`` is a plain in-place edit; other inline code
is opaque.

The one form allowed is a stream edit (``-p`` or ``-n``, optionally ``-i``) whose
program is nothing but substitutions/transliterations (``s/a/b/g; tr/x/y/``) that
cannot run code: no ``e`` flag, no ``(?{ })`` in a pattern, no variable or array
interpolation (``$x``, ``@{[ ]}``, ``$ENV{...}``) beyond capture groups (``$1``,
``$&``). Its files are read, and written with ``-i``. Modules (``-M``), library
paths (``-I``), ``-x`` and anything else in the program are opaque, as is a program
from a variable. A script file is run as before (an exec fact).
"""

from __future__ import annotations

import re

from runner.policy.shell.context import _Call
from runner.policy.shell.walker import _Walker
from runner.policy.shell.words import Word

_FLAGS_OK = frozenset("gimsxrnladuc")
_SUBST = re.compile(r"\s*(s|tr|y)([^\w\s{(\[<])")


def _h_perl(w: _Walker, call: _Call) -> None:
    label = " ".join(a.text for a in call.argv)
    programs: list[Word] = []
    stream = inplace = False
    risky = False
    args = call.args
    i = 0
    while i < len(args):
        a = args[i]
        t = a.text
        if a.dynamic or not t.startswith("-") or t == "-":
            break
        i += 1
        if t == "--":
            break
        j = 1
        while j < len(t):
            c = t[j]
            j += 1
            if c in "eE":
                if j < len(t):
                    programs.append(a.sub(t[j:]))
                elif i < len(args):
                    programs.append(args[i])
                    i += 1
                j = len(t)
            elif c in "pn":
                stream = True
            elif c == "i":
                inplace = True
                j = len(t)  # the rest of the word is the backup suffix
            elif c in "0lC":
                while j < len(t) and (t[j].isdigit() or (c == "C" and t[j].isalpha())):
                    j += 1
            elif c == "F":
                j = len(t)
            elif c in "awWXsTtcuU":
                continue
            else:  # -M/-m (modules), -I (paths), -x, -d, -D, -S, -V, long options ...
                risky = True
                j = len(t)
    pos = list(args[i:])
    if not programs:
        if pos and not risky:  # a script file (and its arguments)
            script = pos[0]
            if script.procsub or script.dynamic:
                w.add_opaque("dynamic-source", label)
            else:
                w.add_path(script, "exec", call)
            w.inferred_reads(call, pos[1:])
        elif not pos:
            w.stdin_program(call, shell=False)
        else:
            w.add_opaque("inline-interpreter", label)
        return
    code = "\n".join(p.text for p in programs)
    if risky or not stream or any(p.dynamic for p in programs) or not plain_edit(code):
        w.add_opaque("inline-interpreter", label)
        return
    for p in pos:
        w.add_path(p, "read", call)
        if inplace:
            w.add_path(p, "write", call)


def plain_edit(code: str) -> bool:
    """Whether ``code`` is only substitutions/transliterations that cannot run code."""
    k = 0
    n = len(code)
    while True:
        while k < n and code[k] in " \t\n;":
            k += 1
        if k >= n:
            return True
        m = _SUBST.match(code, k)
        if m is None:
            return False
        op, delim = m.group(1), m.group(2)
        k = m.end()
        parts: list[str] = []
        for _ in range(2):
            part, k = _delimited(code, k, delim)
            if part is None:
                return False
            parts.append(part)
        flags_end = k
        while flags_end < n and code[flags_end].isalpha():
            flags_end += 1
        flags = code[k:flags_end]
        k = flags_end
        if op != "s":
            if set(flags) - set("cdsr"):
                return False
            continue
        if set(flags) - _FLAGS_OK or "e" in flags:
            return False
        if delim == "'":
            continue  # single quotes: nothing is interpolated
        if not _safe_pattern(parts[0]) or not _safe_replacement(parts[1]):
            return False


def _delimited(code: str, k: int, delim: str) -> tuple[str | None, int]:
    out: list[str] = []
    while k < len(code):
        c = code[k]
        if c == "\\" and k + 1 < len(code):
            out.append(code[k:k + 2])
            k += 2
            continue
        if c == delim:
            return "".join(out), k + 1
        out.append(c)
        k += 1
    return None, k


def _safe_pattern(p: str) -> bool:
    if "(?{" in p or "(??{" in p or "(*{" in p or "@" in p.replace("\\@", ""):
        return False
    k = 0
    while k < len(p):
        if p[k] == "\\":
            k += 2
            continue
        if p[k] == "$" and k + 1 < len(p) and p[k + 1] not in ")|":
            return False  # `$name`: a variable interpolated into the pattern
        k += 1
    return True


def _safe_replacement(r: str) -> bool:
    k = 0
    while k < len(r):
        c = r[k]
        if c == "\\":
            k += 2
            continue
        if c == "@":
            return False
        if c == "$":
            rest = r[k + 1:]
            m = re.match(r"\d+|&|\{\d+\}", rest)
            if m is None:
                return False
            k += 1 + m.end()
            continue
        k += 1
    return True
