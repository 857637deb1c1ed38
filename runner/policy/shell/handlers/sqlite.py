"""sqlite3: the database file it opens (written unless ``-readonly``) and what its SQL and
dot-commands read, write and run.

The SQL comes from the arguments, ``-cmd``, ``-init FILE``, a heredoc or here-string, a
file on stdin, or ``echo``/``printf`` piped in; anything else piped in is opaque. In it:
``.read``/``.import``/``.restore`` read a file, ``.output``/``.once``/``.save``/``.backup``/
``.open``/``.clone``/``.log``/``.trace`` write one, ``.shell``/``.system``/``.load``/
``.excel``/``.archive``, a ``|command`` target and the ``edit()``/``load_extension()``
functions run programs (opaque); ``readfile('F')``, ``fsdir('D')`` and ``zipfile('F')``
read, ``writefile('F', ...)``, ``ATTACH 'F'`` and ``VACUUM INTO 'F'`` write. A file
function whose argument is not a literal is opaque.
"""

from __future__ import annotations

import re
import shlex

from runner.hostfs import HostReadRefused
from runner.policy.models import PathOp
from runner.policy.paths import absolute
from runner.policy.shell.context import _Call
from runner.policy.shell.expansion import ALL
from runner.policy.shell.walker import _Walker
from runner.policy.shell.words import Word

MAX_SQL_BYTES = 256 * 1024
MAX_SQL_DEPTH = 3  # .read of a file that .reads another ...
MAX_SQL_FILES = 8  # SQL files looked into per command (more: opaque)
_VALUED = frozenset({
    "-cmd", "-init", "-separator", "-newline", "-nullvalue", "-mmap", "-heap", "-vfs",
    "-maxsize", "-escape",
})
_TWO_VALUES = frozenset({"-pagecache", "-lookaside"})
_DOT_READ = {".read": True, ".import": False, ".restore": False}
_DOT_WRITE = frozenset({".output", ".once", ".save", ".backup", ".open", ".clone", ".log",
                        ".trace", ".iotrace"})
_DOT_RUN = frozenset({".shell", ".system", ".load", ".excel", ".archive", ".ar", ".cd",
                      ".edit"})
_FILE_FUNC = re.compile(r"\b(readfile|writefile|fsdir|zipfile|edit|load_extension)\s*\(",
                        re.IGNORECASE)
_LITERAL_ARG = re.compile(r"\s*'((?:[^']|'')*)'\s*[,)]")
_ATTACH = re.compile(r"\b(?:attach(?:\s+database)?|vacuum(?:\s+\w+)?\s+into)\s+'((?:[^']|'')*)'",
                     re.IGNORECASE)


def _h_sqlite3(w: _Walker, call: _Call) -> None:
    label = " ".join(a.text for a in call.argv)
    args = call.args
    opts: dict[str, list[Word]] = {}
    pos: list[Word] = []
    i = 0
    while i < len(args):
        a = args[i]
        name = "-" + a.text.lstrip("-") if a.text.startswith("-") and not a.dynamic else ""
        if name in _VALUED and i + 1 < len(args):
            opts.setdefault(name, []).append(args[i + 1])
            i += 2
            continue
        if name in _TWO_VALUES:
            i += 3
            continue
        if name:
            opts.setdefault(name, [])
        else:
            pos.append(a)
        i += 1
    if "-A" in opts or "-archive" in opts or any(o.startswith("-A") for o in opts):
        w.add_opaque("inline-interpreter", label)  # archive mode: extracts and runs commands
        return
    if pos:
        db = pos[0]
        text = db.text.removeprefix("file:").partition("?")[0]
        if text and text != ":memory:":
            ro = "-readonly" in opts or "mode=ro" in db.text
            w.add_path(db.sub(text), "read" if ro or "-deserialize" in opts else "write", call)
    sources: list[Word] = [*pos[1:], *opts.get("-cmd", [])]
    for f in opts.get("-init", []):
        w.add_path(f, "read", call)
        _sql_file(w, call, f, 1)
    for s in sources:
        if s.dynamic:
            w.add_opaque("inline-interpreter", label)
        else:
            _scan(w, call, s.text, 0)
    stdin = call.stdin
    if stdin is None or len(pos) > 1:
        return
    if stdin.kind in ("heredoc", "herestring"):
        if stdin.text is None:
            w.add_opaque("inline-interpreter", label)
        else:
            _scan(w, call, stdin.text, 0)
    elif stdin.kind == "file" and stdin.word is not None:
        _sql_file(w, call, stdin.word, 1)
    elif stdin.kind == "pipe":
        texts = [argv[1:] for program, argv in stdin.upstream if program in ("echo", "printf")]
        if len(texts) != len(stdin.upstream):
            w.add_opaque("inline-interpreter",
                         f"{label}: SQL piped in from a program; pass it as an argument "
                         "or with < file.sql")
        for t in texts:
            _scan(w, call, " ".join(t).replace("\\n", "\n"), 0)


def _sql_file(w: _Walker, call: _Call, f: Word, depth: int) -> None:
    """SQL and dot-commands read from a workspace file (``-init``, ``< file``, ``.read``)."""
    if f.dynamic or f.procsub:
        w.add_opaque("inline-interpreter", " ".join(a.text for a in call.argv))
        return
    seen = w.budgets.get("sql-files", 0) + 1
    w.budgets["sql-files"] = seen
    if seen > MAX_SQL_FILES:
        w.add_opaque("too-complex", f"more than {MAX_SQL_FILES} SQL files to look into")
        return
    try:
        text = w.resolver.read_text(absolute(f.text, call.ctx.cwds[0]), MAX_SQL_BYTES)
    except HostReadRefused:
        text = None
    if text is None:
        return  # not in the workspace or not there: nothing it could run is known here
    if depth <= MAX_SQL_DEPTH:
        _scan(w, call, text, depth)


def _scan(w: _Walker, call: _Call, sql: str, depth: int) -> None:
    label = " ".join(a.text for a in call.argv)
    for line in sql.split("\n"):
        stripped = line.strip()
        if not stripped.startswith("."):
            continue
        try:
            words = shlex.split(stripped)
        except ValueError:
            w.add_opaque("inline-interpreter", label)
            continue
        if not words:
            continue
        cmd, rest = words[0].lower(), [x for x in words[1:] if not x.startswith("-")]
        if cmd in _DOT_RUN or any(r.startswith("|") for r in rest):
            w.add_opaque("inline-interpreter", f"{label}: {stripped[:80]}")
        elif cmd in _DOT_READ and rest:
            target = Word(rest[0] if cmd != ".restore" else rest[-1])
            w.add_path(target, "read", call)
            if _DOT_READ[cmd]:
                _sql_file(w, call, target, depth + 1)
        elif cmd in _DOT_WRITE and rest and rest[-1] not in ("stdout", "stderr", "off", "on"):
            w.add_path(Word(rest[-1]), "write", call)
    for m in _FILE_FUNC.finditer(sql):
        func = m.group(1).lower()
        if func in ("edit", "load_extension"):
            w.add_opaque("inline-interpreter", f"{label}: {func}()")
            continue
        arg = _LITERAL_ARG.match(sql, m.end())
        if arg is None:
            w.add_opaque("dynamic-read" if func != "writefile" else "inline-interpreter",
                         f"{label}: {func}() of a name only known when it runs; "
                         "name the file literally")
            continue
        op: PathOp = "write" if func == "writefile" else "read"
        target = Word(arg.group(1).replace("''", "'"))
        w.add_path(target, op, call, recursive=ALL if func == "fsdir" else None)
    for m in _ATTACH.finditer(sql):
        name = m.group(1).replace("''", "'")
        if name and name != ":memory:":
            w.add_path(Word(name.removeprefix("file:").partition("?")[0]), "write", call)
