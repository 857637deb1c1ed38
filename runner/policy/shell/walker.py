"""The syntax walk: what a Bash command runs, touches and connects to, node by node.

:class:`_Walker` walks the tree-sitter-bash tree of a command (lists, pipelines,
substitutions, redirects, compound statements, functions), tracks the shell state
(:mod:`.context`) and interprets each simple command. What a program does with its
arguments is left to the handler registered for it: the walker is given a
:class:`Registry` (built by :mod:`runner.policy.shell.registry`) and never imports the
handler modules, which import the walker's types instead.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from tree_sitter import Node

from runner.policy.models import PathOp
from runner.policy.pathnames import normalize
from runner.policy.paths import PathResolver
from runner.policy.shell.context import _Call, _Ctx, _Stdin, _union
from runner.policy.shell.expansion import _Expander
from runner.policy.shell.hosts import _port, scp_remote
from runner.policy.shell.scripts import (
    COST_COMMAND,
    COST_VISIT,
    MAX_DEPTH,
    MAX_SCRIPT_BYTES,
    _Scripts,
)
from runner.policy.shell.tables import (
    _INDEX_VARS,
    _NO_FILE_PROGRAMS,
    _PROXY_VARS,
    _REDIRECT_IGNORE,
    _WRITE_REDIRECTS,
    _family,
)
from runner.policy.shell.words import Word, _text

__all__ = ["MAX_DEPTH", "MAX_NODE_DEPTH", "MAX_SCRIPT_BYTES", "MAX_VISITS", "Handler", "Registry"]

MAX_NODE_DEPTH = 200  # syntax nesting (keeps the walk far from Python's recursion limit)
MAX_VISITS = 20_000  # syntax nodes walked per command (loops, functions, shells re-walk some)
MAX_LOOP_VALUES = 32  # a `for` loop's body is analysed once per value up to this many
MAX_LOOP_WALKS = 64  # ... and loop bodies are walked per value this many times per command

Handler = Callable[["_Walker", "_Call"], None]


@dataclass(frozen=True)
class Registry:
    """What the walker knows about programs, keyed by program family (``python3`` -> ``python``)."""

    handlers: Mapping[str, Handler]  # how a program's arguments are interpreted
    no_url_scan: frozenset[str]  # programs whose arguments are not scanned for URLs
    # a program run by its path (`./x.sh`, `backend/run`): reads the file and, by its
    # shebang, analyses it as shell or Python (or marks it opaque)
    run_file: Handler | None = None


class _Walker(_Scripts, _Expander):
    def __init__(self, resolver: PathResolver, registry: Registry) -> None:
        super().__init__(resolver)
        self.registry = registry
        self._nodes = 0  # current syntax nesting
        self._visits = 0  # nodes walked so far

    # --- syntax walk -----------------------------------------------------------------

    def walk(self, node: Node, ctx: _Ctx, stdin: _Stdin | None, depth: int) -> None:
        if not self.charge(COST_VISIT, "walking the command"):
            return
        self._visits += 1
        if self._visits > MAX_VISITS:
            self.exhausted = True
            self.add_opaque("too-complex", f"more than {MAX_VISITS} syntax nodes to analyse")
            return
        self._nodes += 1
        try:
            if self._nodes > MAX_NODE_DEPTH:
                self.add_opaque("nesting-too-deep", _text(node))
                return
            self._dispatch(node, ctx, stdin, depth)
        finally:
            self._nodes -= 1

    def _dispatch(self, node: Node, ctx: _Ctx, stdin: _Stdin | None, depth: int) -> None:
        t = node.type
        if t in ("program", "compound_statement", "do_group"):
            self._statements(node.named_children, ctx, stdin, depth)
        elif t == "subshell":
            self._statements(node.named_children, ctx.copy(), stdin, depth)
        elif t == "list":
            self._list(node, ctx, stdin, depth)
        elif t == "pipeline":
            self._pipeline(node, ctx, stdin, depth)
        elif t == "redirected_statement":
            self._redirected(node, ctx, stdin, depth)
        elif t == "command":
            self._command(node, ctx, stdin, depth, [])
        elif t in ("command_substitution", "process_substitution"):
            self._substitution(node, ctx, depth)
        elif t == "if_statement":
            self._if(node, ctx, stdin, depth)
        elif t in ("while_statement", "for_statement", "c_style_for_statement"):
            self._loop(node, ctx, stdin, depth)
        elif t == "case_statement":
            self._case(node, ctx, stdin, depth)
        elif t == "function_definition":
            self._function(node, ctx, depth)
        elif t == "variable_assignment":
            self._assignment(node, ctx, depth, export=False)
        elif t == "declaration_command":
            self._declaration(node, ctx, depth)
        elif t == "unset_command":
            for c in node.named_children:
                ctx.vars.pop(_text(c), None)
                ctx.bounds.pop(_text(c), None)
                ctx.funcs.pop(_text(c), None)
        elif t in ("file_redirect", "heredoc_redirect", "herestring_redirect"):
            self._redirect(node, ctx, None, depth, None)
        elif t in ("comment", "heredoc_start", "heredoc_end"):
            return
        else:  # words, strings, expansions, tests, ERROR nodes ...: look for substitutions
            for c in node.children:
                if c.child_count or c.type in ("command_substitution", "process_substitution"):
                    self.walk(c, ctx, stdin, depth)

    def _statements(
        self, nodes: Sequence[Node], ctx: _Ctx, stdin: _Stdin | None, depth: int
    ) -> None:
        for n in nodes:
            self.walk(n, ctx, stdin, depth)
            ctx.boundary()

    def _list(self, node: Node, ctx: _Ctx, stdin: _Stdin | None, depth: int) -> None:
        left: Node | None = None
        op = ""
        for c in node.children:
            if not c.is_named and c.type in ("&&", "||"):
                op = c.type
                continue
            if not c.is_named:
                continue
            if left is None:
                left = c
                self.walk(c, ctx, stdin, depth)
                continue
            # the right side runs only if the left succeeded (&&) or failed (||)
            before = ctx.copy()
            if op == "||":
                ctx.cwds = _union(ctx.cwds, ctx.fail)
            ctx.conditional += 1
            self.walk(c, ctx, stdin, depth)
            ctx.conditional -= 1
            ctx.absorb(before)

    def _pipeline(self, node: Node, ctx: _Ctx, stdin: _Stdin | None, depth: int) -> None:
        upstream: list[tuple[str, tuple[str, ...]]] = (
            list(stdin.upstream) if stdin is not None and stdin.kind == "pipe" else []
        )
        fed = stdin
        for c in node.children:
            if c.type in ("|", "|&"):
                fed = _Stdin("pipe", upstream=tuple(upstream))
                continue
            if not c.is_named:
                continue
            start = len(self.commands)
            self.walk(c, ctx, fed, depth)
            upstream.extend((cmd.program, tuple(cmd.argv)) for cmd in self.commands[start:])

    def _redirected(self, node: Node, ctx: _Ctx, stdin: _Stdin | None, depth: int) -> None:
        body = node.child_by_field_name("body")
        redirects = [
            c for i, c in enumerate(node.children)
            if node.field_name_for_child(i) == "redirect" or c.type.endswith("_redirect")
        ]
        extra_args: list[Node] = []
        for r in redirects:
            if r.type == "file_redirect":
                dests = r.children_by_field_name("destination")
                extra_args.extend(dests[1:])  # `echo x >f y`: y is an argument of echo
            s = self._stdin_of(r, ctx)
            if s is not None:
                stdin = s
        start = len(self.commands)
        program: str | None = None
        if body is not None:
            if body.type == "command":
                program = self._command(body, ctx, stdin, depth, extra_args)
            else:
                self.walk(body, ctx, stdin, depth)
                for a in extra_args:
                    self.add_path(self.word(a, ctx), "read", None, ctx=ctx, inferred=True)
        upstream = tuple((c.program, tuple(c.argv)) for c in self.commands[start:])
        for r in redirects:
            self._redirect(r, ctx, program, depth, upstream)

    def _substitution(self, node: Node, ctx: _Ctx, depth: int) -> None:
        if depth + 1 > MAX_DEPTH:
            self.add_opaque("nesting-too-deep", _text(node))
            return
        text = _text(node)
        if text.startswith("`") and "\\`" in text:
            # nested backticks: inside `...`, \` starts another substitution
            inner = text[1:-1].replace("\\\\", "\x00").replace("\\`", "`").replace("\\$", "$")
            self.run_script(inner.replace("\x00", "\\"), ctx.copy(), depth + 1)
            return
        sub = ctx.copy()
        for c in node.named_children:
            self.walk(c, sub, None, depth + 1)
            sub.boundary()

    def _if(self, node: Node, ctx: _Ctx, stdin: _Stdin | None, depth: int) -> None:
        branches: list[list[Node]] = [[]]
        has_else = False
        in_then = False
        for i, c in enumerate(node.children):
            fname = node.field_name_for_child(i)
            if fname == "condition":
                if c.is_named:
                    self.walk(c, ctx, stdin, depth)
                continue
            if c.type == "then":
                in_then = True
                continue
            if c.type in ("elif_clause", "else_clause"):
                has_else = has_else or c.type == "else_clause"
                branches.append([c])
                continue
            if in_then and c.is_named:
                branches[0].append(c)
        outcomes = []
        for b in branches:
            sub = ctx.copy()
            sub.conditional += 1
            for n in b:
                if n.type in ("elif_clause", "else_clause"):
                    self._statements(n.named_children, sub, stdin, depth)
                else:
                    self.walk(n, sub, stdin, depth)
                    sub.boundary()
            sub.conditional -= 1
            outcomes.append(sub)
        base = ctx.copy()
        ctx.replace_with(outcomes[0])
        ctx.absorb(*outcomes[1:])
        if not has_else:
            ctx.absorb(base)

    def _loop(self, node: Node, ctx: _Ctx, stdin: _Stdin | None, depth: int) -> None:
        body = node.child_by_field_name("body")
        var = node.child_by_field_name("variable")
        if var is not None:
            ctx.vars[_text(var)] = None
            ctx.bounds.pop(_text(var), None)
        for c in node.named_children:
            if c is not body and c != body and c.type != "variable_name":
                self.walk(c, ctx, stdin, depth)
        values: list[str] | None = None
        if var is not None:
            values = []
            # `for f in .e*; do cat "$f"; done`: the body sees each value only as "$f", so
            # the values (and what their patterns match) count as reads where they are listed
            for i, c in enumerate(node.children):
                if node.field_name_for_child(i) == "value":
                    w = self.word(c, ctx)
                    if values is not None:
                        values = self._loop_values(w, ctx, values)
                    if w.dynamic and w.glob is None:
                        continue  # $(...), $VAR: nothing to see statically
                    if not w.text.startswith("-") and "://" not in w.text:
                        self.add_path(w, "read", None, ctx=ctx, program="for", inferred=True)
            if not any(node.field_name_for_child(i) == "value" for i in range(node.child_count)):
                values = None  # `for x; do`: the positional parameters
        if body is None:
            return
        for _ in range(2):  # a second pass sees what a first iteration's `cd` changed
            before = list(ctx.cwds)
            left = MAX_LOOP_WALKS - self.budgets.get("loop-walks", 0)
            if var is not None and values is not None and len(values) <= left:
                # each value in turn: the body sees "$f" as that value
                self.budgets["loop-walks"] = self.budgets.get("loop-walks", 0) + len(values)
                outcomes = []
                for value in values:
                    sub = ctx.copy()
                    sub.vars[_text(var)] = value
                    sub.conditional += 1
                    self.walk(body, sub, stdin, depth)
                    sub.conditional -= 1
                    outcomes.append(sub)
                ctx.absorb(*outcomes)
                ctx.vars[_text(var)] = None
            else:
                sub = ctx.copy()
                sub.conditional += 1
                self.walk(body, sub, stdin, depth)
                sub.conditional -= 1
                ctx.absorb(sub)
            if ctx.cwds == before:
                break

    def _loop_values(self, w: Word, ctx: _Ctx, values: list[str]) -> list[str] | None:
        """The words a `for` value gives (its expansions), None when not all knowable."""
        if (w.dynamic and w.glob is None) or len(ctx.cwds) != 1 or ctx.cwd_dynamic:
            return None
        words = [w.text] if w.glob is None else self.expand_words(w.glob, ctx.cwds[0])
        if words is None or len(values) + len(words) > MAX_LOOP_VALUES:
            return None
        return values + words

    def _case(self, node: Node, ctx: _Ctx, stdin: _Stdin | None, depth: int) -> None:
        value = node.child_by_field_name("value")
        if value is not None:
            self.walk(value, ctx, stdin, depth)
        outcomes = [ctx.copy()]
        for item in node.named_children:
            if item.type != "case_item":
                continue
            sub = ctx.copy()
            sub.conditional += 1
            stmts = [
                c for i, c in enumerate(item.children)
                if c.is_named and item.field_name_for_child(i) != "value"
            ]
            self._statements(stmts, sub, stdin, depth)
            sub.conditional -= 1
            outcomes.append(sub)
        ctx.replace_with(outcomes[0])
        ctx.absorb(*outcomes[1:])

    def _function(self, node: Node, ctx: _Ctx, depth: int) -> None:
        name = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if body is None:
            return
        if name is not None:
            ctx.funcs[_text(name)] = body
        sub = ctx.copy()  # walk it once where it is defined, too
        sub.conditional += 1
        self.walk(body, sub, None, depth)

    def _assignment(self, node: Node, ctx: _Ctx, depth: int, *, export: bool) -> None:
        name_node = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        if value is not None:
            self.walk(value, ctx, None, depth)
        if name_node is None:
            return
        name = _text(name_node)
        appending = any(c.type == "+=" for c in node.children)
        w: Word | None = None
        if value is not None and value.type != "array":
            text, dynamic, _ = self._eval(value, ctx)  # no pathname or brace expansion here
            w = Word(text, dynamic)
        ctx.bounds.pop(name, None)
        if w is None or w.dynamic or appending or value is None or value.type == "array":
            ctx.vars[name] = None
            bound = self._output_bound(value, ctx) if (
                w is not None and value is not None and not appending and not ctx.conditional
            ) else None
            if bound is not None:
                ctx.bounds[name] = bound  # f=$(mktemp), f=$(find backend -name x)
        elif ctx.conditional and ctx.vars.get(name) != w.text:
            # maybe assigned (a branch, a loop): the old value or this one
            ctx.vars.set_alternatives(name, ctx.vars.possible(name), (w.text,))
        else:
            ctx.vars[name] = w.text
        if w is not None:
            self._env_hosts({name: w.text}, dynamic=w.dynamic)

    def _declaration(self, node: Node, ctx: _Ctx, depth: int) -> None:
        keyword = node.children[0].type if node.children else "declare"
        named = [c for c in node.named_children]
        assigned = False
        flags: list[str] = []
        for c in named:
            if c.type == "variable_assignment":
                assigned = True
                self._assignment(c, ctx, depth, export=True)
            elif c.type == "variable_name":
                assigned = True
                if keyword in ("local", "declare", "typeset"):
                    ctx.vars[_text(c)] = None
                    ctx.bounds.pop(_text(c), None)
            else:
                text = _text(c)
                if text.startswith(("-", "+")):
                    flags.append(text)
                else:
                    assigned = True
                self.walk(c, ctx, None, depth)
        dumps_env = not assigned or any("p" in f.lstrip("-+") for f in flags if f.startswith("-"))
        if dumps_env and keyword in ("export", "declare", "typeset", "readonly", "local"):
            self.add_command(keyword, [keyword, *flags], None)
            self.add_path(
                Word("/proc/self/environ"), "read", None, ctx=ctx, program=keyword, implicit=True
            )

    # --- redirects -------------------------------------------------------------------

    def _stdin_of(self, r: Node, ctx: _Ctx) -> _Stdin | None:
        if r.type == "heredoc_redirect":
            start = next((c for c in r.children if c.type == "heredoc_start"), None)
            body = next((c for c in r.children if c.type == "heredoc_body"), None)
            quoted = start is not None and any(q in _text(start) for q in "'\"\\")
            text = _text(body) if body is not None else ""
            if any(c.type == "<<-" for c in r.children):
                text = "\n".join(line.lstrip("\t") for line in text.split("\n"))
            dynamic = (
                not quoted and body is not None
                and any(c.type not in ("heredoc_content",) for c in body.named_children)
            )
            return _Stdin("heredoc", None if dynamic else text)
        if r.type == "herestring_redirect":
            content = next((c for c in r.named_children), None)
            if content is None:
                return _Stdin("herestring", "")
            w = self.word(content, ctx)
            return _Stdin("herestring", None if w.dynamic else w.text)
        if r.type == "file_redirect" and _redirect_op(r) == "<":
            dests = r.children_by_field_name("destination")
            if dests:
                return _Stdin("file", word=self.word(dests[0], ctx))
        return None

    def _redirect(
        self,
        r: Node,
        ctx: _Ctx,
        program: str | None,
        depth: int,
        upstream: tuple[tuple[str, tuple[str, ...]], ...] | None,
    ) -> None:
        if r.type == "file_redirect":
            op = _redirect_op(r)
            dests = r.children_by_field_name("destination")
            if not dests:
                return
            d = dests[0]
            if d.type == "process_substitution":
                self._substitution(d, ctx, depth)
                return
            self.walk(d, ctx, None, depth)  # substitutions inside the target
            if d.type == "number" or op in ("<&", ">&-", "<&-"):
                return
            w = self.word(d, ctx)
            if op == ">&" and (w.text.isdigit() or w.text == "-"):
                return
            self._redirect_target(w, "write" if op in _WRITE_REDIRECTS or op == ">&" else "read",
                                  ctx, program)
            return
        if r.type == "herestring_redirect":
            for c in r.named_children:
                self.walk(c, ctx, None, depth)
            return
        # heredoc: its body's substitutions, plus what tree-sitter nests inside it: more
        # redirects of the same command, the rest of a pipeline, the rest of a list
        op = ""
        for i, c in enumerate(r.children):
            fname = r.field_name_for_child(i)
            if c.type == "heredoc_body":
                sub = ctx.copy()
                for s in c.named_children:
                    self.walk(s, sub, None, depth)
            elif c.type in ("file_redirect", "herestring_redirect"):
                self._redirect(c, ctx, program, depth, upstream)
            elif c.type == "pipeline":
                fed = _Stdin("pipe", upstream=upstream or ())
                self._pipeline(c, ctx, fed, depth)
            elif not c.is_named and c.type in ("&&", "||", ";", "&", "|", "|&"):
                op = c.type
                if op in ("|", "|&"):
                    upstream = upstream or ()
            elif c.is_named and fname != "redirect" and c.type not in (
                "heredoc_start", "heredoc_end", "heredoc_body",
            ):
                if op in ("|", "|&"):
                    self.walk(c, ctx, _Stdin("pipe", upstream=upstream or ()), depth)
                elif op in ("&&", "||"):
                    before = ctx.copy()
                    if op == "||":
                        ctx.cwds = _union(ctx.cwds, ctx.fail)
                    self.walk(c, ctx, None, depth)
                    ctx.absorb(before)
                else:
                    ctx.boundary()
                    self.walk(c, ctx, None, depth)

    def _redirect_target(self, w: Word, op: PathOp, ctx: _Ctx, program: str | None) -> None:
        text = w.text
        for candidate in {text, normalize(text) if text.startswith("/") else text}:
            for kind in ("tcp", "udp"):
                prefix = f"/dev/{kind}/"
                if candidate.startswith(prefix):
                    host, _, port = candidate[len(prefix) :].partition("/")
                    self.add_host(host, _port(port), f"dev-{kind}", dynamic=w.dynamic)
                    return
        if text in _REDIRECT_IGNORE or text.startswith(("/dev/fd/", "/proc/self/fd/")):
            return
        self.add_path(w, op, None, ctx=ctx, via="redirect", program=program)

    # --- simple commands -------------------------------------------------------------

    def _command(
        self,
        node: Node,
        ctx: _Ctx,
        stdin: _Stdin | None,
        depth: int,
        extra_args: list[Node],
    ) -> str | None:
        assigns: list[Node] = []
        name_node: Node | None = None
        arg_nodes: list[Node] = []
        redirects: list[Node] = []
        for i, c in enumerate(node.children):
            fname = node.field_name_for_child(i)
            if fname == "name":
                name_node = c
            elif fname == "redirect" or c.type.endswith("_redirect"):
                redirects.append(c)
            elif c.type == "variable_assignment" and name_node is None:
                assigns.append(c)
            elif c.is_named and c.type != "comment":
                arg_nodes.append(c)
        arg_nodes.extend(extra_args)
        env: dict[str, str] = {}
        for a in assigns:
            value = a.child_by_field_name("value")
            if value is not None:
                self.walk(value, ctx, None, depth)
                w = self.word(value, ctx)
                name = a.child_by_field_name("name")
                if name is not None:
                    env[_text(name)] = w.text
                    self._env_hosts({_text(name): w.text}, dynamic=w.dynamic)
        for r in redirects:
            s = self._stdin_of(r, ctx)
            if s is not None:
                stdin = s
        program: str | None = None
        if name_node is not None:
            for n in (name_node, *arg_nodes):
                if n.type == "process_substitution":
                    self._substitution(n, ctx, depth)
                elif _may_substitute(n):
                    self.walk(n, ctx, None, depth)
            args = [self.word(a, ctx) for a in arg_nodes]
            names = self._program_alternatives(name_node, ctx)
            for name_word in names:
                program = self.execute([name_word, *args], ctx, stdin, depth, env, None)
        for r in redirects:
            self._redirect(r, ctx, program, depth, None)
        return program

    def _program_alternatives(self, node: Node, ctx: _Ctx) -> list[Word]:
        """The program word, or one per possible value when it holds one variable that this
        command assigns differently in branches (``${PREFIX}ruff``)."""
        word = self.word(node, ctx)
        if not word.dynamic:
            return [word]
        names = {_text(n) for n in _variables(node)}
        candidates = [n for n in names if ctx.vars.alts.get(n)]
        if len(candidates) != 1:
            return [word]
        name = candidates[0]
        saved = ctx.vars.alts[name]
        out: list[Word] = []
        try:
            for value in saved:
                ctx.vars[name] = value
                alt = self.word(node, ctx)
                if alt.dynamic:
                    return [word]
                out.append(alt)
        finally:
            ctx.vars[name] = None
            ctx.vars.alts[name] = saved
        return out

    def execute(
        self,
        argv: list[Word],
        ctx: _Ctx,
        stdin: _Stdin | None,
        depth: int,
        env: dict[str, str],
        wrapper: str | None,
    ) -> str | None:
        """Interpret one simple command; returns the program's name."""
        if not argv or not self.charge(COST_COMMAND, "interpreting the commands"):
            return None
        if depth > MAX_DEPTH:
            self.add_opaque("nesting-too-deep", " ".join(w.text for w in argv))
            return None
        prog = argv[0]
        if prog.dynamic:
            construct = (
                "substitution-program" if ("$(" in prog.text or "`" in prog.text)
                else "variable-program" if "$" in prog.text else "glob-program"
            )
            self.add_opaque(construct, " ".join(w.text for w in argv))
            self.add_command(prog.text, [w.text for w in argv], wrapper)
            return prog.text
        name = posixpath.basename(prog.text.rstrip("/")) or prog.text
        self.add_command(name, [w.text for w in argv], wrapper)
        call = _Call(name, argv, ctx, stdin, depth, env)
        if "/" in prog.text:
            self.add_path(prog, "exec", call)
            if self.registry.run_file is not None:
                self.registry.run_file(self, call)
        elif name in ctx.funcs and wrapper is None:
            if depth + 1 > MAX_DEPTH:
                self.add_opaque("nesting-too-deep", name)
            else:
                self.walk(ctx.funcs[name], ctx, stdin, depth + 1)
            return name
        family = _family(name)
        handler = self.registry.handlers.get(family)
        if handler is not None:
            handler(self, call)
        elif name not in _NO_FILE_PROGRAMS:
            self.inferred_reads(call, call.args)
        if family not in self.registry.no_url_scan:
            self.scan_urls(call.args, "url-argument")
        return name

    def inferred_reads(self, call: _Call, words: Iterable[Word]) -> None:
        """Arguments of a program whose argument semantics are unknown: maybe files, so reads."""
        for w in words:
            t = w.text
            if t.startswith("--") and "=" in t:
                t = t.partition("=")[2]
                if "/" not in t and not t.startswith("."):
                    continue
                w = w.sub(t)
            elif t.startswith("-") or not t or t.isdigit() or "://" in t:
                continue
            elif "=" in t and "/" not in t.partition("=")[0]:
                continue  # NAME=value
            elif scp_remote(t) is not None and not t.startswith((".", "/", "~")):
                continue
            self.add_path(w, "read", call, inferred=True)

    def inner(self, call: _Call, argv: Sequence[Word], wrapper: str, *,
              ctx: _Ctx | None = None, env: dict[str, str] | None = None) -> None:
        """Run the command a wrapper wraps."""
        if not argv:
            return
        self.execute(list(argv), ctx or call.ctx, call.stdin, call.depth + 1,
                     {**call.env, **(env or {})}, wrapper)

    def _env_hosts(self, env: dict[str, str], *, dynamic: bool = False) -> None:
        for k, v in env.items():
            kl = k.lower()
            if kl in _PROXY_VARS:
                self.add_url(v, "proxy-env", dynamic=dynamic, default_scheme="http")
            elif kl in _INDEX_VARS:
                for part in v.split():
                    self.add_url(part, _INDEX_VARS[kl], dynamic=dynamic, default_scheme="https")

_PLAIN_WORDS = frozenset({"word", "raw_string", "number", "ansi_c_string"})


def _may_substitute(node: Node) -> bool:
    """Whether a word could hold a command or process substitution (else no need to walk it)."""
    if node.type in _PLAIN_WORDS:
        return False
    data = node.text or b""
    return b"$" in data or b"`" in data or b"<(" in data or b">(" in data or node.has_error


def _variables(node: Node) -> list[Node]:
    """The variable names a word expands (``$X``, ``${X}``)."""
    out: list[Node] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "variable_name":
            out.append(n)
        stack.extend(n.children)
    return out


def _redirect_op(r: Node) -> str:
    for c in r.children:
        if not c.is_named and c.type not in ("ERROR",):
            return c.type
    return ""
