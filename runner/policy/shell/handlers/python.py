"""Python code a command runs, analysed with :mod:`runner.policy.python` (``ast``).

The code comes from the script file the interpreter runs (read from the workspace
through the resolver, like shell scripts), ``-c CODE``, a heredoc/here-string or
``< file`` on stdin, the module file ``-m NAME`` finds under the working directory
(or ``PYTHONPATH``), ``manage.py shell -c CODE``. Its facts join the command's:

* paths: a path fact of the interpreter's call per file the code opens, writes,
  deletes or runs (a pattern expands as the shell's would; a directory copied or
  removed whole is read/written recursively);
* hosts: a host fact per socket/HTTP client target;
* commands: a ``subprocess`` argument list is analysed as a simple command, a shell
  string as a shell command, both under the ``cwd`` the call gives;
* ``env_dump``: the environment read whole, as ``printenv`` (``/proc/self/environ``);
* opaque constructs for what the analysis cannot resolve.

Only the file run is analysed: modules it imports from the workspace are not followed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from runner.policy.pathnames import absolute, normalize
from runner.policy.python import analyze_python
from runner.policy.python.values import _cost
from runner.policy.shell.context import _Call, _Stdin
from runner.policy.shell.expansion import ALL
from runner.policy.shell.scripts import MAX_DEPTH, MAX_SCRIPT_BYTES
from runner.policy.shell.walker import _Walker
from runner.policy.shell.words import Word, _vals, getopt


def analyse_python(w: _Walker, call: _Call, source: str, argv: Sequence[Word]) -> None:
    """Add the facts of Python ``source`` run by ``call`` with ``sys.argv`` = ``argv``."""
    label = " ".join(a.text for a in call.argv)
    if not w.charge(_cost(source[: MAX_SCRIPT_BYTES + 1]), "the Python program"):
        return
    cwd = call.ctx.cwds[0]
    # a value only known when the command runs cannot be given to the analysis as text
    known = [] if any(a.dynamic for a in argv) else [a.text for a in argv]
    result = analyze_python(source, cwd=cwd, argv=known, max_bytes=MAX_SCRIPT_BYTES)
    for p in result.paths:
        word = Word(p.raw, True, False, p.raw) if p.glob else Word(p.raw)
        w.add_path(word, p.op, call, inferred=p.inferred, recursive=ALL if p.recursive else None)
        if p.op == "exec" and not p.glob:
            _run_path(w, call, word, p.via, label)
    for h in result.hosts:
        w.add_host(h.host, h.port, h.via)
    for c in result.commands:
        ctx = call.ctx.child_shell()
        if c.cwd is not None:
            ctx.cwds = [normalize(absolute(c.cwd, d)) for d in call.ctx.cwds]
        stdin = (
            _Stdin("herestring", c.stdin) if c.stdin is not None
            else _Stdin("pipe", upstream=((call.name, tuple(a.text for a in call.argv)),))
            if c.stdin_dynamic else None
        )
        if c.argv is not None and c.argv:
            w.execute([Word(a) for a in c.argv], ctx, stdin, call.depth + 1, {}, call.name)
        elif c.shell is not None:
            w.run_script(c.shell, ctx, call.depth + 1, stdin)
    if result.env_dump:
        w.environ_read(call)
    for o in result.opaque:
        w.add_opaque(o.construct, f"{o.text} ({label})")


def _run_path(w: _Walker, call: _Call, path: Word, via: str, label: str) -> None:
    """A file the Python code runs itself: Python source (``runpy.run_path``, a module loaded
    from a file) is analysed in turn; native code in the workspace cannot be read."""
    if via in _LOADS_PYTHON:
        if call.depth + 1 > MAX_DEPTH:
            w.add_opaque("nesting-too-deep", f"{path.text} ({label})")
            return
        inner = _Call(call.name, call.argv, call.ctx, None, call.depth + 1, call.env)
        text = w.script_text(path, inner)
        if text is not None:
            analyse_python(w, inner, text, [path])
        return
    if any(w.resolver.fact(path.text, "exec", cwd=c).inside_workspace for c in call.ctx.cwds):
        w.add_opaque("python-native-code", f"{path.text} is native code, it cannot be read ({label})")


_LOADS_PYTHON = frozenset({"python-runpy", "python-importlib.util", "python-importlib.machinery",
                           "python-importlib"})
# modules whose command line runs a script file given as the first positional (after options)
_RUNS_SCRIPT = {"pdb": "cm", "cProfile": "os", "profile": "os", "trace": "fCs"}


def python_file(w: _Walker, call: _Call, script: Word, args: Sequence[Word]) -> None:
    """``python FILE ARGS``: the file (a directory's ``__main__.py``) is analysed."""
    path = script
    for cwd in call.ctx.cwds[:1]:
        if w.resolver.is_directory(normalize(absolute(script.text, cwd))) is True:
            path = Word(posixpath.join(script.text, "__main__.py"))
    text = w.script_text(path, call)
    if text is None:
        return
    analyse_python(w, call, text, [script, *args])
    if posixpath.basename(script.text) == "manage.py":
        _django_shell(w, call, list(args))


def python_module(w: _Walker, call: _Call, module: str, args: Sequence[Word]) -> bool:
    """``python -m NAME``: the module file under the working directory (``sys.path[0]``) or a
    literal ``PYTHONPATH`` entry, if there is one, is analysed. True if one was found."""
    rel = module.replace(".", "/")
    dirs = [""] + [d for d in call.env.get("PYTHONPATH", "").split(":") if d and "$" not in d]
    for d in dirs:
        for candidate in (f"{rel}.py", f"{rel}/__main__.py"):
            name = posixpath.join(d, candidate) if d else candidate
            if w.written_before(name, call.ctx.cwds[0]):
                w.script_text(Word(name), call)  # opaque: written by this command
                return True
            exists = any(
                w.resolver.resolve(absolute(name, c)).exists for c in call.ctx.cwds
            )
            if exists:
                w.add_path(Word(name), "exec", call)
                text = w.script_text(Word(name), call)
                if text is not None:
                    analyse_python(w, call, text, [Word(name), *args])
                return True
    return False


def python_tool_module(w: _Walker, call: _Call, module: str, args: Sequence[Word]) -> bool:
    """Standard modules that run code from the command line: ``-m pdb|cProfile|profile|trace
    FILE`` runs FILE, ``-m timeit [-s SETUP] STMT`` runs Python statements. True if handled."""
    if module == "timeit":
        opts, pos = getopt(list(args), "nrsupt", ["--number", "--repeat", "--setup",
                                                  "--unit", "--process", "--time"])
        for code in [*_vals(opts, "-s", "--setup"), *pos]:
            if code.dynamic:
                w.add_opaque("inline-interpreter", " ".join(a.text for a in call.argv))
            else:
                analyse_python(w, call, code.text, [Word("-c")])
        return True
    if module not in _RUNS_SCRIPT:
        return False
    _, pos = getopt(list(args), _RUNS_SCRIPT[module], stop_at_positional=True)
    if pos and module == "pdb" and any(a.text == "-m" for a in args):
        return False  # pdb -m MODULE
    if pos:
        script = pos[0]
        if script.dynamic or script.procsub:
            w.add_opaque("dynamic-source", " ".join(a.text for a in call.argv))
        else:
            w.add_path(script, "exec", call)
            python_file(w, call, script, pos[1:])
    return True


def python_stdin(w: _Walker, call: _Call, args: Sequence[Word]) -> None:
    """A program on stdin (``python3 - <<EOF``, ``python3 < x.py``)."""
    w.stdin_program(call, shell=False,
                    run=lambda text: analyse_python(w, call, text, [Word("-"), *args]))


def _django_shell(w: _Walker, call: _Call, args: list[Word]) -> None:
    """``manage.py shell -c CODE`` (or code on stdin) runs Python in the project."""
    if not args or args[0].text not in ("shell", "shell_plus"):
        return
    rest = args[1:]
    for i, a in enumerate(rest):
        code: Word | None = None
        if a.text in ("-c", "--command") and i + 1 < len(rest):
            code = rest[i + 1]
        elif a.text.startswith("--command="):
            code = a.sub(a.text.partition("=")[2])
        elif a.text.startswith("-c") and len(a.text) > 2:
            code = a.sub(a.text[2:])
        if code is not None:
            if code.dynamic:
                w.add_opaque("inline-interpreter", " ".join(x.text for x in call.argv))
            else:
                analyse_python(w, call, code.text, [Word("-c")])
            return
    python_stdin(w, call, [])
