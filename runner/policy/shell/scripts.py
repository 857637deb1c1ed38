"""Scripts a command runs: shell text (parsed and walked), script files read from the
workspace, programs fed on stdin.

:class:`_Scripts` is the walker's base for everything that turns text into analysis:
``run_script`` (parse, then walk), the script files run by ``bash FILE``, ``source FILE``,
``< FILE`` or by path (read through the resolver, never opened another way), the
``$0``/``BASH_SOURCE`` a script sees, and the paths this command writes before it runs a
script (such a script is opaque: what runs is not what the file holds at decision time).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import threading
from abc import abstractmethod
from collections.abc import Callable, Sequence

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from runner.hostfs import HostReadRefused
from runner.policy.models import PathFact, PathOp, PathVia
from runner.policy.pathnames import absolute, is_inside
from runner.policy.paths import PathResolver
from runner.policy.shell.context import _Call, _Ctx, _Stdin
from runner.policy.shell.expansion import _GLOB_OPTIONS, Recursion
from runner.policy.shell.facts import _Facts
from runner.policy.shell.tables import _DECODERS
from runner.policy.shell.words import Word

MAX_DEPTH = 16  # nested substitutions / shell strings / function calls
MAX_SCRIPT_BYTES = 64 * 1024  # larger scripts run by a command are opaque

# The analysis' work budget: the command, the scripts and makefiles it runs and the code
# they start, together. A unit is about 1-2 us of analysis on a loaded 2-core machine
# (0.6-1 us idle); the largest benign command of the corpora costs under 800. Past the
# budget the analysis stops and `too-complex` is opaque, so a decision stays within its
# time bound whatever the input (issue 9: <= 50 ms), a 64 KiB script included.
MAX_COST = 12_000
COST_TOKEN = 1  # a word or line parsed (tree-sitter-bash costs about this per token)
COST_VISIT = 3  # a syntax node walked
COST_COMMAND = 5  # a simple command interpreted
COST_PATH = 40  # a path resolved against the workspace (per possible directory)
COST_READ = 50  # a script file read (plus COST_TOKEN per 64 bytes)

_local = threading.local()
_LANGUAGE: Language | None = None


def _parser() -> Parser:
    """One parser per thread (tree-sitter parsers are not thread-safe), created once."""
    global _LANGUAGE
    parser: Parser | None = getattr(_local, "parser", None)
    if parser is None:
        if _LANGUAGE is None:
            _LANGUAGE = Language(tree_sitter_bash.language())
        parser = Parser(_LANGUAGE)
        _local.parser = parser
    return parser


_SUBSTRING_VAR = re.compile(rb"(\$\{[#!]?(?:[A-Za-z_]\w*|[0-9@*])(?:\[[^\]\s]*\])?:[ \t]*)\$(?=[A-Za-z_])")
_DYNAMIC_CHARS = re.compile(r"[$`*?\[{]")


def _tokens(data: bytes) -> int:
    """An estimate of what parsing costs: words and lines (cheap to count, in C)."""
    return len(data.split()) + data.count(b"\n")


def _static_prefix(path: str) -> str:
    """The directory above the first dynamic part of a path (``backend/$X/y`` -> ``backend``)."""
    m = _DYNAMIC_CHARS.search(path)
    if m is None:
        return path
    return posixpath.dirname(path[: m.start()]) or "."


class _Scripts(_Facts):
    """Text to analysis; the syntax walk itself is the subclass's (:class:`_Walker`)."""

    def __init__(self, resolver: PathResolver) -> None:
        super().__init__(resolver)
        self._written: set[str] = set()  # paths (and directories) written so far
        self._written_patterns: set[str] = set()  # glob patterns written so far
        self.budgets: dict[str, int] = {}  # per-analysis counters of costly steps (make runs)
        self.cost = 0  # work done so far (see MAX_COST)
        self.exhausted = False  # the budget is spent: nothing more is analysed
        self._seen_paths: set[tuple[object, ...]] = set()

    def charge(self, units: int, what: str) -> bool:
        """Account for work about to be done; False (and the analysis stops) past MAX_COST."""
        if self.exhausted:
            return False
        self.cost += units
        if self.cost > MAX_COST:
            self.exhausted = True
            self.add_opaque(
                "too-complex",
                f"too much to analyse in time ({what}); run smaller steps, smaller scripts",
            )
            return False
        return True

    def add_path(
        self,
        w: Word,
        op: PathOp,
        call: _Call | None,
        *,
        ctx: _Ctx | None = None,
        via: PathVia = "argument",
        program: str | None = None,
        inferred: bool = False,
        implicit: bool = False,
        cwds: Sequence[str] | None = None,
        recursive: Recursion | None = None,
        note: str | None = None,
    ) -> None:
        """``_Facts.add_path``, charged to the budget; the same fact twice is looked up once
        (not across a link the command made in between: it may resolve differently)."""
        context = ctx if ctx is not None else call.ctx if call is not None else None
        if context is None or self.exhausted:
            return
        where = tuple(cwds if cwds is not None else context.cwds)
        prog = program if program is not None else call.name if call is not None else None
        key = (w, op, via, prog, inferred, implicit, where, context.cwd_dynamic, recursive, note,
               len(self.links.items))
        if key in self._seen_paths:
            return
        self._seen_paths.add(key)
        before = len(self.paths)
        if not self.charge(COST_PATH * len(where), f"the path {w.text}"):
            return
        super().add_path(w, op, call, ctx=ctx, via=via, program=program, inferred=inferred,
                         implicit=implicit, cwds=cwds, recursive=recursive, note=note)
        extra = len(self.paths) - before - len(where)
        if extra > 0:  # pattern expansion: one resolution per match
            self.charge(COST_PATH * extra, f"the pattern {w.text}")

    @abstractmethod
    def walk(self, node: Node, ctx: _Ctx, stdin: _Stdin | None, depth: int) -> None:
        """Provided by the walker."""

    def run_script(self, text: str, ctx: _Ctx, depth: int, stdin: _Stdin | None = None) -> None:
        if depth > MAX_DEPTH:
            self.add_opaque("nesting-too-deep", text)
            return
        for option in _GLOB_OPTIONS:
            if option in text:
                self.glob_flags.add(option)
        if "GLOBIGNORE" in text:
            self.glob_flags.add("dotglob")  # setting GLOBIGNORE turns dotglob on
        data = text.encode("utf-8", "surrogatepass")
        if not self.charge(_tokens(data) * COST_TOKEN, "parsing"):
            return
        root = _parser().parse(data).root_node
        if root.has_error:
            # `${s:$i:1}`: bash takes a substring offset/length as arithmetic, where `$i`
            # and `i` are the same; the grammar rejects the `$` form, so parse the other
            fixed = _SUBSTRING_VAR.sub(rb"\1 ", data)
            if fixed != data:
                retry = _parser().parse(fixed).root_node
                if not retry.has_error:
                    root, text = retry, fixed.decode("utf-8", "surrogatepass")
        if root.has_error:
            self.parse_error = True
            self.add_opaque("parse-error", _error_snippet(root, text))
        self.walk(root, ctx, stdin, depth)

    def script_text(self, w: Word, call: _Call, *, cwd: str | None = None) -> str | None:
        """The text of a script file a command runs (or feeds to an interpreter), read from
        the workspace on the host, or None when there is nothing to analyse.

        A file this command wrote before running it, one over ``MAX_SCRIPT_BYTES``, one
        that cannot be read safely (a FIFO, a link swapped in) or a name that is a
        different file in another possible working directory is opaque (None). A file
        outside the workspace or missing is None without more: the exec fact is the
        policy's to judge (and a missing script does not run). A masked file is empty.
        """
        label = " ".join(a.text for a in call.argv)
        if w.dynamic or w.procsub:
            self.add_opaque("process-substitution-script" if w.procsub else "dynamic-source", label)
            return None
        cwds = [cwd] if cwd is not None else call.ctx.cwds
        for c in cwds:
            if self.written_before(w.text, c):
                self.add_opaque(
                    "script-written-in-command",
                    f"{w.text} is written earlier in this command; write it, then run it in "
                    "a later call",
                )
                return None
        if self.resolver.workspace is None:
            return None
        text = self._read_script(w.text, cwds[0], label)
        for c in cwds[1:]:  # the same name may be a different file elsewhere
            other = self._read_script(w.text, c, label)
            if other != text:
                self.add_opaque("dynamic-source", label)
                return None
        return text

    def _read_script(self, raw: str, cwd: str, label: str) -> str | None:
        path = absolute(raw, cwd)
        if not self.charge(COST_READ, f"reading {raw}"):
            return None
        try:
            text = self.resolver.read_text(path, MAX_SCRIPT_BYTES)
        except HostReadRefused as exc:
            self.add_opaque("unreadable-script", f"{raw}: {exc.reason}")
            return None
        if text is not None:
            self.charge(len(text) // 64, f"reading {raw}")
        else:
            res = self.resolver.resolve(path)
            if res.exists and not res.is_dir and not res.loop and is_inside(res.real):
                self.add_opaque(
                    "script-too-large",
                    f"{raw} is over {MAX_SCRIPT_BYTES // 1024} KiB; split it into smaller "
                    f"scripts ({label})",
                )
        return text

    def written_before(self, raw: str, cwd: str) -> bool:
        """Whether this command, before this point, writes ``raw`` (or a directory above it)."""
        if not self._written and not self._written_patterns:
            return False
        fact = self.resolver.fact(raw, "exec", cwd=cwd)
        for p in {fact.path, fact.real}:
            for d in self._written:
                if p == d or d == "." or p.startswith(d.rstrip("/") + "/"):
                    return True
            if any(fnmatch.fnmatchcase(p, pat) for pat in self._written_patterns):
                return True
        return False

    def _record(self, fact: PathFact, recursive: Recursion | None) -> None:
        if fact.op == "write":
            for p in {fact.path, fact.real}:
                if not fact.dynamic or not _DYNAMIC_CHARS.search(p):
                    self._written.add(p)
                elif "$" in p or "`" in p or "{" in p:
                    self._written.add(_static_prefix(p))
                else:
                    self._written_patterns.add(p)
        super()._record(fact, recursive)

    def run_shell_file(self, text: str, call: _Call, *, same_shell: bool, name: str) -> None:
        """Analyse a shell script's text as run by ``bash NAME`` (a new shell whose ``$0`` is
        NAME) or ``source NAME`` (this shell; ``BASH_SOURCE`` is NAME)."""
        ctx = call.ctx if same_shell else call.ctx.child_shell()
        saved = {k: ctx.vars.get(k) for k in ("0", "BASH_SOURCE")} if same_shell else {}
        if not same_shell:
            ctx.vars["0"] = name
        ctx.vars["BASH_SOURCE"] = name
        self.run_script(text, ctx, call.depth + 1)
        for k, v in saved.items():  # back in the sourcing shell
            if v is None:
                ctx.vars.pop(k, None)
            else:
                ctx.vars[k] = v

    def shell_string(self, w: Word | None, call: _Call, construct_text: str) -> None:
        """A command string run by a new shell (``bash -c``, ``su -c``, ``watch``, ``trap``)."""
        if w is None:
            return
        if w.dynamic or w.procsub:
            self.add_opaque("dynamic-shell-string", construct_text)
            return
        self.run_script(w.text, call.ctx.child_shell(), call.depth + 1)

    def stdin_program(
        self, call: _Call, shell: bool, *, run: Callable[[str], None] | None = None
    ) -> None:
        """A shell or interpreter that reads its program from stdin (a heredoc, a here-string,
        ``< file``, a pipe). ``run`` analyses the program text of an interpreter that is
        not a shell (Python); without it such a program is opaque."""
        s = call.stdin
        if s is None:
            return
        label = " ".join(w.text for w in call.argv)
        analyse: Callable[[str], None] | None = run
        if shell:
            def analyse(text: str) -> None:
                self.run_shell_file(text, call, same_shell=False, name=call.name)
        if s.kind == "pipe":
            decoded = any(_is_decoder(p, argv) for p, argv in s.upstream)
            self.add_opaque("base64-to-shell" if decoded else "pipe-to-shell", label)
        elif s.kind == "file":
            if s.word is None:
                return
            if s.word.procsub:
                self.add_opaque("process-substitution-script", label)
                return
            self.add_path(s.word, "exec", call, via="redirect")
            if analyse is not None:
                text = self.script_text(s.word, call)
                if text is not None:
                    analyse(text)
        elif analyse is None:
            self.add_opaque("inline-interpreter", label)
        elif s.text is None:
            self.add_opaque("dynamic-shell-string" if shell else "dynamic-inline-code", label)
        else:
            analyse(s.text)


def _is_decoder(program: str, argv: Sequence[str]) -> bool:
    args = argv[1:]
    if program in _DECODERS:
        return program == "uudecode" or any(
            a in ("-d", "--decode", "-D") or (a.startswith("-") and not a.startswith("--") and "d" in a)
            for a in args
        )
    if program == "xxd":
        return any(a.startswith("-") and "r" in a for a in args)
    if program == "openssl":
        return any(a in ("-d", "-base64", "base64", "-a") for a in args)
    return False


def _error_snippet(root: Node, text: str) -> str:
    stack = [root]
    while stack:
        n = stack.pop()
        if n.type == "ERROR" or n.is_missing:
            start = max(0, n.start_byte - 20)
            data = text.encode("utf-8", "surrogatepass")
            return data[start : n.end_byte + 20].decode("utf-8", "replace")
        if n.has_error:
            stack.extend(reversed(n.children))
    return text
