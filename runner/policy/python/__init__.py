"""Static analysis of Python source for policy derivation (issue 9).

The source is parsed with Python's own ``ast`` and walked once by an abstract
evaluator: names bound to simple constants (module and function scopes, last
binding wins, branches merged, anything dynamic stays dynamic), imports and
aliases, ``pathlib``/``os.path`` arithmetic, f-strings and concatenation are
resolved. Nothing is executed or imported. The result lists

* ``paths``: literal targets of file APIs (``open``, ``pathlib``, ``os``,
  ``shutil``, ``glob``, ``sqlite3``, ``tarfile``/``zipfile`` ...). ``inferred``
  facts are values that flow into code not modelled here (a ``Path`` passed to an
  unknown function, a path-like string argument of an unknown call): maybe read;
* ``hosts``: hosts of sockets, ``urllib``, ``http.client``, ``requests``,
  ``httpx``, ``aiohttp``, ``smtplib``, ``ftplib``, ``paramiko`` ...;
* ``commands``: ``subprocess``/``os.system``/``os.exec*`` argument lists and
  shell strings, for the caller to analyse as shell;
* ``env_dump``: the whole environment is read (iterated, copied out, printed);
* ``opaque``: what cannot be resolved and matters: a dynamic target of a file,
  network or process API, ``eval``/``exec`` of non-constant code, dynamic
  imports, native code, deserialisation, a syntax error, a source too large or
  too complex for the bounds.

Bounds: ``max_bytes`` of source, an estimated token budget before parsing
(``ast.parse`` cost is linear in tokens), ``MAX_NODES`` node visits, nesting
``MAX_DEPTH``; past a bound the result is opaque, never an exception.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence

from runner.policy.python.values import (
    MAX_COST,
    MAX_DEPTH,
    MAX_FACTS,
    MAX_NODES,
    MAX_STR,
    PyCommand,
    PyHost,
    PyOpaque,
    PyPath,
    PythonAnalysis,
)
from runner.policy.python.walker import _Walker

__all__ = ["MAX_COST", "MAX_DEPTH", "MAX_FACTS", "MAX_NODES", "MAX_STR", "PyCommand", "PyHost",
           "PyOpaque", "PyPath", "PythonAnalysis", "analyze_python"]


def analyze_python(source: str, *, cwd: str = "/workspace", argv: Sequence[str] = (),
                   max_bytes: int = 64 * 1024) -> PythonAnalysis:
    """Facts about what Python `source` would touch, run and connect to; never raises.

    `argv` is the interpreter's `sys.argv`: `[script, *args]` for a file (its path, as
    given, relative to `cwd`, is also `__file__`), `["-c", *args]` for `-c`, `["-", *args]`
    for a program on stdin.
    """
    size = len(source) if len(source) > max_bytes else len(source.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        return PythonAnalysis(opaque=(PyOpaque("python-too-large",
                                               f"{size} bytes of Python (limit {max_bytes})"),))
    an = _Walker(cwd, argv)
    collecting = gc.isenabled()
    gc.disable()  # a full collection of a large host heap would dwarf the analysis
    try:
        an.run(source)
    except RecursionError:
        an.dry = 0
        an.add_opaque("python-too-deep", "nesting too deep to follow")
    finally:
        if collecting:
            gc.enable()
    return an.result()
