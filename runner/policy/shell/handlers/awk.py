"""awk: what a program does beyond reading its input files and printing.

The program is tokenised (string and regex literals, names, operators; comments
dropped) so that a name inside a literal is text, not a call (``/os.system/``). Then:

* ``system("cmd")``, ``"cmd" | getline``, ``print | "cmd"`` with one literal command
  run it as shell; a computed command (or ``|&``) is opaque;
* ``print > "file"`` / ``>>`` writes the file, ``getline < "file"`` reads it; a
  computed target is opaque;
* ``ENVIRON`` iterated, subscripted with a computed key or used whole is the process
  environment (as ``printenv`` alone); ``ENVIRON["NAME"]`` is the command ``printenv NAME``
  for the policy (one variable; a credential-like name is judged as the environment);
* ``@include``/``@load``, ``-l`` (native extensions) are opaque; ``-f``/``-E``/``-i``
  program files are read from the workspace and analysed the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.policy.shell.context import _Call, _Stdin
from runner.policy.shell.walker import _Walker
from runner.policy.shell.words import Word, _vals, getopt

_NOT_OPERAND = frozenset({"print", "printf", "return", "in", "getline", "case", "do", "else"})
MAX_TOKENS = 20_000


@dataclass(frozen=True, slots=True)
class Tok:
    kind: str  # "str", "re", "name", "num", "op", "nl"
    text: str


class AwkSyntax(ValueError):
    """A program the tokenizer cannot follow (unterminated literal)."""


_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r]+|\\\n)
    |(?P<nl>\n)
    |(?P<comment>\#[^\n]*)
    |(?P<str>"(?:[^"\\\n]|\\.)*")
    |(?P<name>[A-Za-z_]\w*)
    |(?P<num>\.?\d[\w.]*)
    |(?P<op>\|&|>>|&&|\|\||==|!=|<=|>=|!~|\+\+|--|\+=|-=|\*=|/=|%=|\^=|\*\*|[^\s\w])""",
    re.X | re.S,
)
_REGEX = re.compile(r"/((?:[^/\\\n\[]|\\.|\[\^?\]?(?:[^\]\n\\]|\\.)*\])*)/")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "/": "/"}


def tokenize(prog: str) -> list[Tok]:
    """awk tokens; a ``/`` after an operand is division, elsewhere it starts a regex."""
    toks: list[Tok] = []
    pos, n = 0, len(prog)
    while pos < n:
        if len(toks) > MAX_TOKENS:
            raise AwkSyntax("too long")
        if prog[pos] == "/" and not _after_operand(toks):
            m = _REGEX.match(prog, pos)
            if m is None:
                raise AwkSyntax("unterminated regex")
            toks.append(Tok("re", m.group(1)))
            pos = m.end()
            continue
        m = _TOKEN.match(prog, pos)
        if m is None or (prog[pos] == '"' and m.lastgroup != "str"):
            raise AwkSyntax("unterminated string")
        kind = m.lastgroup or "op"
        pos = m.end()
        if kind in ("ws", "comment"):
            continue
        text = m.group()
        if kind == "str":
            text = re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), "\\" + e.group(1)),
                          text[1:-1])
        toks.append(Tok(kind, text))
    return toks


def _after_operand(toks: list[Tok]) -> bool:
    if not toks:
        return False
    t = toks[-1]
    if t.kind in ("str", "re", "num"):
        return True
    if t.kind == "name":
        return t.text not in _NOT_OPERAND
    return t.kind == "op" and t.text in (")", "]", "$", "++", "--")


_END = frozenset({";", "}", "{"})


def _ends(toks: list[Tok], i: int) -> bool:
    """Whether token ``i`` ends a statement (or the program)."""
    return i >= len(toks) or toks[i].kind == "nl" or (toks[i].kind == "op" and toks[i].text in _END)


def _literal_at(toks: list[Tok], i: int) -> str | None:
    """A string literal at ``i`` that is a whole expression (nothing concatenated after it)."""
    if i < len(toks) and toks[i].kind == "str" and _ends_expr(toks, i + 1):
        return toks[i].text
    return None


def _ends_expr(toks: list[Tok], i: int) -> bool:
    return _ends(toks, i) or (toks[i].kind == "op" and toks[i].text in (")", ",", "|", ">", ">>"))


def analyse_awk(w: _Walker, call: _Call, prog: str, label: str) -> None:
    """Facts of one awk program text (see the module docstring)."""
    if not w.charge(len(prog) // 4, "the awk program"):
        return
    try:
        toks = tokenize(prog)
    except AwkSyntax as exc:
        w.add_opaque("awk-program", f"{exc} ({label})")
        return
    environ = False
    for i, t in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if t.kind == "name" and t.text == "system" and nxt is not None and nxt.text == "(":
            cmd = _literal_at(toks, i + 2)
            if cmd is not None and i + 3 < len(toks) and toks[i + 3].text == ")":
                w.run_script(cmd, call.ctx.child_shell(), call.depth + 1)
            else:
                w.add_opaque("awk-system", f"system() of a computed command ({label})")
        elif t.kind == "op" and t.text == "|&":
            w.add_opaque("awk-coprocess", label)
        elif t.kind == "op" and t.text == "|" and nxt is not None and nxt.text == "getline":
            before = toks[i - 1] if i else None
            prior = toks[i - 2] if i >= 2 else None
            concatenated = prior is not None and (
                prior.kind in ("str", "name", "num", "re") or prior.text in (")", "]")
            )
            if before is not None and before.kind == "str" and not concatenated:
                w.run_script(before.text, call.ctx.child_shell(), call.depth + 1)
            else:
                w.add_opaque("awk-pipe", f"a computed command piped into getline ({label})")
        elif t.kind == "name" and t.text == "getline":
            j = i + 1
            if j < len(toks) and toks[j].kind == "name":
                j += 1  # getline var < file
            if j < len(toks) and toks[j].text == "<":
                target = _literal_at(toks, j + 1)
                if target is None:
                    w.add_opaque("awk-getline-file", f"getline from a computed file ({label})")
                else:
                    w.add_path(Word(target), "read", call)
        elif t.kind == "name" and t.text in ("print", "printf"):
            _print_redirect(w, call, toks, i + 1, label)
        elif t.kind == "name" and t.text == "ENVIRON":
            key = toks[i + 2] if i + 2 < len(toks) else None
            literal = (nxt is not None and nxt.text == "[" and key is not None and key.kind == "str"
                       and i + 3 < len(toks) and toks[i + 3].text == "]")
            if not literal or key is None:
                environ = True
            else:  # one variable: what `printenv NAME` is to the policy
                w.add_command("printenv", ["printenv", key.text], call.name)
        elif t.kind == "op" and t.text == "@" and nxt is not None and nxt.text in ("include", "load"):
            w.add_opaque("awk-include", f"@{nxt.text} ({label})")
    if environ:
        w.environ_read(call)


def _print_redirect(w: _Walker, call: _Call, toks: list[Tok], i: int, label: str) -> None:
    """``print ... > "file"`` / ``>> "file"`` / ``| "cmd"`` (outside parentheses)."""
    depth = 0
    while not _ends(toks, i) or depth > 0:
        if i >= len(toks):
            return
        t = toks[i]
        if t.text in ("(", "["):
            depth += 1
        elif t.text in (")", "]"):
            depth -= 1
        elif depth == 0 and t.kind == "op" and t.text in (">", ">>", "|"):
            target = _literal_at(toks, i + 1)
            if target is None:
                w.add_opaque("awk-redirect", f"print {t.text} a computed target ({label})")
            elif t.text == "|":  # the command reads what awk prints
                fed = _Stdin("pipe", upstream=((call.name, tuple(a.text for a in call.argv)),))
                w.run_script(target, call.ctx.child_shell(), call.depth + 1, fed)
            elif target not in ("/dev/stdout", "/dev/stderr", "-"):
                w.add_path(Word(target), "write", call, via="redirect")
            return
        i += 1


def _h_awk(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "fvFEile", ["--file", "--assign", "--field-separator",
                                              "--exec", "--include", "--load", "--source"])
    label = " ".join(a.text for a in call.argv)
    for o, v in opts:
        if o in ("-l", "--load"):
            w.add_opaque("awk-extension", f"native extensions cannot be read ({label})")
        elif o in ("--dump-variables", "--profile", "--pretty-print") or (
            o in ("-d", "-p", "-o") and v is None
        ):
            default = "awkvars.out" if o in ("-d", "--dump-variables") else "awkprof.out"
            w.add_path(Word(default), "write", call)
    files = _vals(opts, "-f", "--file", "-E", "--exec", "-i", "--include")
    for f in files:
        w.add_path(f, "read", call)
        text = w.script_text(f, call)
        if text is not None:
            analyse_awk(w, call, text, label)
    sources = _vals(opts, "-e", "--source")
    for s in sources:
        _inline(w, call, s, label)
    if not files and not sources:
        if not pos:
            return
        _inline(w, call, pos[0], label)
        pos = pos[1:]
    for p in pos:
        if "=" in p.text and not p.text.startswith(("/", ".")):
            continue  # var=value operand
        w.add_path(p, "read", call)


def _inline(w: _Walker, call: _Call, prog: Word, label: str) -> None:
    if prog.dynamic:
        w.add_opaque("inline-interpreter", label)
    else:
        analyse_awk(w, call, prog.text, label)
