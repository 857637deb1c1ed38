"""Shell analysis: what a Bash tool call would run, touch and connect to.

The command is parsed with tree-sitter-bash (never regexes or shlex for its
structure). The walk collects:

* every simple command, in lists, pipelines, subshells, ``$(...)``, backticks,
  ``<(...)``/``>(...)``, heredocs, function bodies and ``bash -c`` strings (parsed
  recursively), seen through wrappers (``env``, ``timeout``, ``sudo``, ``xargs``,
  ``find -exec`` ...). A wrapper is listed itself *and* the command it runs is
  listed with ``wrapper`` set to the wrapper's name;
* path facts: redirect targets, the file arguments of common programs with
  their operation, and scripts/programs run by path (``exec``);
* hosts: URLs anywhere in an argument, network programs, package installers
  and their implicit registries, ``/dev/tcp``, DNS tools;
* opaque constructs: what cannot be seen through (eval, a variable as the
  program, ``python -c``, ``base64 -d | sh``, parse errors ...).

``cd`` is followed: relative paths after it resolve against every directory the
shell may be in at that point (a ``cd`` that may fail keeps the old directory
as a possibility after ``;``, but not on the right of ``&&``). Variables
assigned a literal value unconditionally are expanded; anything else stays
dynamic (``PathFact.dynamic``).

Patterns are expanded as bash would (when a workspace is given): brace expansion,
then pathname expansion against the host workspace (``*``, ``?``, ``[...]``; dot
files only for a segment starting with ``.``; ``dotglob``, ``nocaseglob`` and
``globstar`` are assumed on when the command mentions them). Each match is one more
fact (``raw`` the word as written, ``dynamic`` true) beside the lexical one. A
pattern past ``MAX_GLOB_MATCHES`` matches (or ``MAX_EXPANDED_FACTS`` for the whole
command) is the opaque construct ``glob-too-broad``.

Programs that read whole directories (``grep -r``, ``rg``, ``cp -r``, ``tar c``,
``zip -r``, ``rsync -r``, ``diff -r``, ``git grep``, ``find ... -exec``) mark the
directory's fact ``recursive: true`` and list what they may read under it in
``contents`` (workspace-relative paths of files, symlinks and their targets;
``contents_truncated: true`` when the walk hit its bound). ``xargs`` running a
program that touches files takes the file names from data: the opaque construct
``xargs-dynamic-args`` (likewise ``cpio -o``, ``tar -T -``, ``zip -@``:
``file-list-from-input``).

Modules:

* :mod:`.words`: :class:`Word`, quote removal, ANSI-C decoding, ``getopt``;
* :mod:`.expansion`: recursion specs, glob/brace detection, word expansion;
* :mod:`.context`: the shell state along the walk (``cd``, variables, functions), stdin,
  the simple command being interpreted;
* :mod:`.hosts`: host, URL and scp-remote parsing;
* :mod:`.tables`: program tables shared by the walker and the registry;
* :mod:`.facts`: recording facts, with pattern expansion and recursive listings;
* :mod:`.walker`: the syntax walk; it is given a :class:`~.walker.Registry` and does
  not import the handlers;
* :mod:`.handlers`: per-family program handlers (``files``, ``wrappers``,
  ``interpreters``, ``builtins``, ``git``, ``network``, ``packages``) with their option
  tables;
* :mod:`.registry`: the program -> handler mapping assembled from the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.policy.models import HostFact, PathFact, ShellFacts
from runner.policy.pathnames import CONTAINER_WORKSPACE, normalize
from runner.policy.paths import PathResolver
from runner.policy.shell.context import MAX_CWDS, StdinKind, _Ctx
from runner.policy.shell.expansion import ALL, NO_LINKS, Recursion
from runner.policy.shell.facts import MAX_EXPANDED_FACTS, MAX_WALKED_ENTRIES
from runner.policy.shell.handlers.files import FILE_PROGRAMS, FileSpec
from runner.policy.shell.handlers.git import MAX_GIT_CONFIG_BYTES
from runner.policy.shell.hosts import scp_remote, split_host_port, url_host, urlsplit_path
from runner.policy.shell.registry import REGISTRY
from runner.policy.shell.tables import SHELLS
from runner.policy.shell.walker import (
    MAX_DEPTH,
    MAX_NODE_DEPTH,
    MAX_SCRIPT_BYTES,
    MAX_VISITS,
    Handler,
    Registry,
    _Walker,
)
from runner.policy.shell.words import Word, getopt

__all__ = [
    "ALL",
    "FILE_PROGRAMS",
    "MAX_CWDS",
    "MAX_DEPTH",
    "MAX_EXPANDED_FACTS",
    "MAX_GIT_CONFIG_BYTES",
    "MAX_NODE_DEPTH",
    "MAX_SCRIPT_BYTES",
    "MAX_VISITS",
    "MAX_WALKED_ENTRIES",
    "NO_LINKS",
    "REGISTRY",
    "SHELLS",
    "FileSpec",
    "Handler",
    "Recursion",
    "Registry",
    "ShellAnalysis",
    "StdinKind",
    "Word",
    "analyze",
    "getopt",
    "scp_remote",
    "split_host_port",
    "url_host",
    "urlsplit_path",
]


@dataclass
class ShellAnalysis:
    facts: ShellFacts
    paths: list[PathFact]
    hosts: list[HostFact]


def analyze(command: str, resolver: PathResolver, cwd: str = CONTAINER_WORKSPACE) -> ShellAnalysis:
    """Analyse one Bash command as run in ``cwd`` (a container path)."""
    walker = _Walker(resolver, REGISTRY)
    ctx = _Ctx(cwds=[normalize(cwd)])
    walker.run_script(command, ctx, depth=0)
    if ctx.shared.get("cwd_overflow"):
        walker.add_opaque("dynamic-cd", f"more than {MAX_CWDS} possible working directories")
    facts = ShellFacts(
        parsed=not walker.parse_error, opaque=walker.opaque, commands=walker.commands
    )
    return ShellAnalysis(facts=facts, paths=walker.paths, hosts=walker.hosts)
