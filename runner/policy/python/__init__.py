"""Static analysis of Python source for policy derivation (issue 9).

``analyze_python(source, cwd=, argv=)`` parses with Python's own ``ast`` and walks
the tree with an abstract evaluator; nothing is executed or imported. It resolves
what simple code makes constant: names bound in module, class and function scopes
(the last binding wins; alternatives after ``if``/``try``/``match``/loops merge,
alternative strings into a brace pattern ``{a,b}``, anything else into "dynamic"),
imports and aliases (``import os as o``, ``from os import *``, ``__import__``,
``sys.modules[...]``, ``getattr(os, "sy" + "stem")``), ``pathlib``/``os.path``
arithmetic, f-strings, ``%``/``format``/``join``/concatenation, ``__file__`` and
``sys.argv`` (from ``argv``), ``exec``/``eval``/``compile`` of constant strings.
Function bodies are walked after the code that calls them, their parameters
holding what every call passes (a function passed around as a value gets unknown
parameters). The result (``PythonAnalysis``):

* ``paths``: targets of file APIs (``open``, ``pathlib``, ``os``, ``shutil``,
  ``glob``, ``sqlite3``, ``tarfile``/``zipfile``, ``tempfile``, ``runpy`` ...) with
  their operation. ``raw`` is the resolved string, relative to ``cwd`` unless
  absolute (``..`` and ``~`` left for the caller); ``glob``: a pattern, its
  matches are the targets; ``recursive``: a directory read/written whole;
  ``inferred``: a value that flowed into code not modelled here (a ``Path``
  passed to an unknown function, a path-like string given to a third-party call,
  ``df.to_csv("x")``): maybe read (or written);
* ``hosts``: hosts and ports of sockets, ``urllib``, ``http.client``,
  ``requests``, ``httpx``, ``aiohttp``, ``smtplib``, ``ftplib``, ``paramiko`` ...;
* ``commands``: ``subprocess``/``os.system``/``os.exec*``/``pty.spawn`` argument
  lists (``argv``) and shell strings (``shell``), with ``cwd`` and ``stdin``;
* ``env_dump``: the whole environment is read (iterated, copied out, printed,
  passed on, ``/proc/*/environ``); one variable is not;
* ``opaque``: what cannot be resolved and matters: a dynamic target of a file,
  network or process API, a sensitive function or client passed as a value,
  ``eval``/``exec`` of non-constant code, dynamic imports, native code,
  deserialisation, a syntax error (``python-syntax-error``), a source too large,
  too complex or too deep for the bounds;
* ``imports``: top-level modules imported.

Wiring (the shell walker): a script run by path is read from the workspace and
analysed with ``argv=[script-as-given, *args]``; ``python -c CODE args`` with
``argv=["-c", *args]``; a heredoc/here-string/stdin program with
``argv=["-", *args]``, all with the command's ``cwd``. Each ``paths`` entry is a
path fact of the interpreter's call (``via`` the Python API), each ``hosts`` entry
a host fact; ``commands`` go back to the shell analysis: an ``argv`` as a simple
command (as if after ``exec``), a ``shell`` string as ``sh -c`` (with ``stdin`` as
its heredoc), both under ``cwd``. ``opaque`` entries become opaque constructs.

Bounds: ``max_bytes`` of source; an estimated parse cost (``MAX_COST`` tokens,
sources and ``exec``'d strings together) checked before parsing, as ``ast.parse``
is linear in tokens but slow; ``MAX_NODES`` weighted node visits; nesting
``MAX_DEPTH``; ``MAX_FACTS`` facts of each kind. Past a bound the result is
opaque, never an exception (``bench/python_analysis.py`` measures the worst cases).
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
    except Exception as exc:  # a bug here must not decide: fail closed
        an.dry = 0
        an.add_opaque("python-analysis-error", f"{type(exc).__name__}: {exc}"[:200])
    finally:
        if collecting:
            gc.enable()
    return an.result()
