"""Command substitutions whose output is known without running anything.

Scripts locate themselves with ``$(dirname "$0")``, ``$(cd "$(dirname "$0")/.." && pwd)``,
``$(realpath "$0")``: once ``$0`` is known (a script file the command runs) these are
plain paths, and the ``cd`` they feed is no longer dynamic. Only these read-only
commands are computed, with every word known; anything else stays dynamic.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from tree_sitter import Node

from runner.policy.pathnames import absolute, normalize
from runner.policy.paths import PathResolver
from runner.policy.shell.context import _Ctx
from runner.policy.shell.words import _text

Evaluate = Callable[[Node, _Ctx], tuple[str, bool, str]]  # (text, dynamic, unquoted)

_QUIET_REDIRECTS = frozenset({"/dev/null", "1", "2", "-"})
MAX_STEPS = 8  # commands in one substitution
MAX_TEXT = 1024  # longer substitutions are not computed (the idioms above are short)
MAX_NESTED = 3  # nor ones holding more substitutions: each level would evaluate all below it


def computable(raw: str) -> bool:
    """Whether a substitution is short and shallow enough to be looked into: the idioms are
    short, and each nested level would evaluate every level below it again."""
    return len(raw) <= MAX_TEXT and raw.count("$(") + raw.count("`") <= MAX_NESTED


def static_output(node: Node, ctx: _Ctx, evaluate: Evaluate,
                  resolver: PathResolver | None) -> str | None:
    """The output of ``$(...)`` when it is computable here (trailing newlines removed, as
    the shell does); None when it is not."""
    raw = _text(node)
    if not computable(raw):
        return None
    body = [c for c in node.named_children if c.type != "comment"]
    if len(body) != 1 or raw.startswith("`"):
        return None
    steps: list[tuple[str, list[str]]] = []  # (operator before, argv)
    if not _flatten(body[0], "", ctx, evaluate, steps) or not steps:
        return None
    cwd: str | None = ctx.cwds[0] if len(ctx.cwds) == 1 and not ctx.cwd_dynamic else None
    out: str | None = None
    for i, (_op, argv) in enumerate(steps):
        last = i == len(steps) - 1
        name, args = argv[0], argv[1:]
        if name == "cd" and not last and len(args) == 1 and args[0] not in ("", "-"):
            if cwd is None and not args[0].startswith("/"):
                return None
            cwd = normalize(absolute(args[0], cwd or "/"))
            if resolver is None or resolver.is_directory(cwd) is not True:
                return None  # cd may fail: what follows is not knowable
            continue
        if not last:
            return None
        out = _run(name, args, cwd, resolver)
    return None if out is None else out.rstrip("\n")


def _flatten(node: Node, op: str, ctx: _Ctx, evaluate: Evaluate,
             steps: list[tuple[str, list[str]]]) -> bool:
    """The commands of ``a && b`` / ``a; b`` with known words (False: anything else)."""
    if len(steps) > MAX_STEPS:
        return False
    if node.type == "list":
        current = op
        for c in node.children:
            if not c.is_named:
                if c.type not in ("&&", ";"):
                    return False
                current = c.type
                continue
            if not _flatten(c, current, ctx, evaluate, steps):
                return False
        return True
    if node.type == "redirected_statement":
        body = node.child_by_field_name("body")
        for c in node.children:
            if c is body or c == body:
                continue
            if c.type != "file_redirect":
                return False
            dests = c.children_by_field_name("destination")
            if not dests or _text(dests[0]) not in _QUIET_REDIRECTS:
                return False
        return body is not None and _flatten(body, op, ctx, evaluate, steps)
    if node.type != "command":
        return False
    argv: list[str] = []
    for i, c in enumerate(node.children):
        field = node.field_name_for_child(i)
        if field not in ("name", "argument"):
            return False  # assignments, redirects
        text, dynamic, _ = evaluate(c, ctx)
        if dynamic:
            return False
        argv.append(text)
    if not argv:
        return False
    steps.append((op, argv))
    return True


def _run(name: str, args: list[str], cwd: str | None, resolver: PathResolver | None) -> str | None:
    if name == "dirname" and len(args) == 1:
        return _dirname(args[0])
    if name == "basename" and 1 <= len(args) <= 2 and not args[0].startswith("-"):
        base = _basename(args[0])
        if len(args) == 2 and base.endswith(args[1]) and base != args[1]:
            base = base[: -len(args[1])]
        return base
    if name == "pwd" and args in ([], ["-L"], ["-P"]):
        if cwd is None:
            return None
        return _physical(cwd, resolver) if args == ["-P"] else cwd
    physical = (name == "realpath" and len(args) == 1) or (
        name == "readlink" and len(args) == 2 and args[0] in ("-f", "-e", "-m")
    )
    if physical:
        target = args[-1]
        if target.startswith("-") or (cwd is None and not target.startswith("/")):
            return None
        return _physical(normalize(absolute(target, cwd or "/")), resolver)
    return None


def _physical(path: str, resolver: PathResolver | None) -> str | None:
    if resolver is None:
        return None
    res = resolver.resolve(path)
    return None if res.loop else res.real


def _dirname(path: str) -> str:
    """As coreutils ``dirname``."""
    if not path:
        return "."
    stripped = path.rstrip("/")
    if not stripped:
        return "/"
    head = posixpath.dirname(stripped).rstrip("/")
    if not head:
        return "/" if stripped.startswith("/") else "."
    return head


def _basename(path: str) -> str:
    stripped = path.rstrip("/")
    if not stripped:
        return "/" if path else ""
    return posixpath.basename(stripped)
