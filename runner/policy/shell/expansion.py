"""Expansion: recursion specs for programs reading whole directories, glob and brace
detection, and :class:`_Expander`, the walker's word expansion (parameters, quotes,
the word as a bash pattern)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tree_sitter import Node

from runner.policy.paths import PathResolver
from runner.policy.patterns import has_brace, has_glob, quote_pattern
from runner.policy.shell.context import _Ctx
from runner.policy.shell.producers import extend, pipeline_output
from runner.policy.shell.substitution import computable, static_output
from runner.policy.shell.words import (
    Bound,
    Word,
    _decode_ansi_c,
    _text,
    _unescape_dq,
    _unescape_word,
)


@dataclass(frozen=True)
class Recursion:
    """How a program reads the directories it is given: everything under them."""

    hidden: bool = True  # also names starting with "." (rg and ag skip them)
    follow: bool = True  # symlinks below the top are read through (grep -R, zip -r)
    keep: Callable[[str], bool] | None = None  # only files whose name passes (find -name ...)
    keep_dirs: bool = False  # a directory whose name passes brings everything under it
    listed: bool = True  # False: only mark it recursive (a delete: what is there does not matter)


ALL = Recursion()
NO_LINKS = Recursion(follow=False)  # symlinks below the top are skipped or copied as links

_GLOB_CHARS = re.compile(r"(?<!\\)[*?\[]")
# shopt options that change pathname expansion: assumed on once a command mentions them
_GLOB_OPTIONS = ("dotglob", "globstar", "nocaseglob", "extglob")
_BRACE = re.compile(r"\{[^{}]*(,|\.\.)[^{}]*\}")


class _Expander:
    """Word expansion (parameters, quotes, patterns) as the walker sees it."""

    resolver: PathResolver

    def word(self, node: Node, ctx: _Ctx) -> Word:
        text, dynamic, unquoted = self._eval(node, ctx)
        globbing = bool(unquoted) and bool(_GLOB_CHARS.search(unquoted) or _BRACE.search(unquoted))
        pattern: str | None = None
        if globbing or dynamic:
            pattern = self._pattern(node, ctx)
            if pattern is not None and not (has_glob(pattern) or has_brace(pattern)):
                pattern = None
        bound = self._output_bound(node, ctx) if dynamic and pattern is None else None
        return Word(text, dynamic or globbing, node.type == "process_substitution", pattern, bound)

    def names_plain(self, bound: Bound, cwds: list[str]) -> bool:  # pragma: no cover
        """Overridden by the facts (whether names under the roots survive word splitting)."""
        return False

    def _output_bound(self, node: Node, ctx: _Ctx) -> Bound | None:
        """A word that is one command substitution of a bounded producer (``$(find backend
        -name x)``): paths under its roots. Unquoted, its output is split into words, so
        only when no name there could split into others."""
        t = node.type
        if t == "command_name" and node.named_child_count == 1:
            return self._output_bound(node.named_children[0], ctx)
        if t == "concatenation" and node.children:
            # "$d/x", $(mktemp -d)/x: a known tail after a bounded value
            first, rest = node.children[0], node.children[1:]
            evaluated = [self._eval(c, ctx) for c in rest]
            if any(d for _, d, _ in evaluated):
                return None
            start = self._output_bound(first, ctx)
            return extend(start, "".join(v for v, _, _ in evaluated)) if start else None
        quoted = False
        if t == "string":
            parts = [c for c in node.children if c.type != '"']
            if not parts or not parts[0].is_named or parts[0].type == "string_content":
                return None
            head = self._output_bound(parts[0], ctx) if parts[0].type in (
                "simple_expansion", "expansion", "command_substitution") else None
            if head is None or len(parts) == 1:
                if len(parts) > 1:
                    return None
                node, quoted = parts[0], True
            else:
                tail: list[str] = []
                for c in parts[1:]:
                    if c.type != "string_content":
                        return None
                    tail.append(_unescape_dq(_text(c)))
                return extend(head, "".join(tail))
        if node.type in ("simple_expansion", "expansion"):
            names = list(node.named_children)
            if len(names) == 1 and names[0].type == "variable_name" and (
                node.type == "simple_expansion" or len(node.children) == 3
            ):
                return ctx.bounds.get(_text(names[0]))
            return None
        if node.type != "command_substitution" or "\\`" in _text(node) or not computable(_text(node)):
            return None
        statements = [c for c in node.named_children if c.type != "comment"]
        if len(statements) != 1:
            return None
        body = statements[0]
        nodes = [c for c in body.named_children] if body.type == "pipeline" else [body]
        commands: list[tuple[str, list[Word]]] = []
        for n in nodes:
            if n.type != "command":
                return None
            name: Word | None = None
            args: list[Word] = []
            for i, c in enumerate(n.children):
                field = n.field_name_for_child(i)
                if field == "name":
                    name = self.word(c, ctx)
                elif field == "redirect" or c.type.endswith("_redirect") or c.type == "variable_assignment":
                    return None
                elif c.is_named and c.type != "comment":
                    args.append(self.word(c, ctx))
            if name is None or name.dynamic:
                return None
            commands.append((name.text, args))
        bound = pipeline_output(commands)
        if bound is None or (not quoted and not self.names_plain(bound, ctx.cwds)):
            return None
        return bound

    def _pattern(self, node: Node, ctx: _Ctx) -> str | None:
        """The word as a bash pattern (literal characters escaped); None when not knowable."""
        t = node.type
        if t == "command_name" and node.named_child_count == 1:
            return self._pattern(node.named_children[0], ctx)
        raw = _text(node)
        if t == "word":
            return raw.replace("\\\n", "")
        if t in ("number", "brace_expression"):
            return raw
        if t == "raw_string":
            return quote_pattern(raw[1:-1])
        if t == "ansi_c_string":
            return quote_pattern(_decode_ansi_c(raw[2:-1]))
        if t in ("string", "translated_string"):
            parts: list[str] = []
            for c in node.children:
                if c.type == "string_content":
                    parts.append(quote_pattern(_unescape_dq(_text(c))))
                elif c.is_named:
                    value = self._plain_var(c, ctx)  # quoted: taken literally, whatever it holds
                    if value is None:
                        return None
                    parts.append(quote_pattern(value))
            return "".join(parts)
        if t == "concatenation":
            out: list[str] = []
            for c in node.children:
                sub = self._pattern(c, ctx)
                if sub is None:
                    return None
                out.append(sub)
            return "".join(out)
        if t in ("simple_expansion", "expansion"):
            value = self._plain_var(node, ctx)
            # unquoted: its glob characters are active (not braces or a tilde);
            # word splitting or backslashes: not knowable here
            if value and not any(ch.isspace() or ch == "\\" for ch in value):
                return "".join("\\" + ch if ch in "{},~" else ch for ch in value)
            return None
        return None

    def _plain_var(self, node: Node, ctx: _Ctx) -> str | None:
        """The known value of a plain ``$NAME`` / ``${NAME}`` (None: anything else)."""
        if node.type not in ("simple_expansion", "expansion"):
            return None
        names = list(node.named_children)
        if len(names) == 1 and names[0].type == "variable_name" and (
            node.type == "simple_expansion" or len(node.children) == 3
        ):
            return self._var(_text(names[0]), ctx)
        return None

    def _eval(self, node: Node, ctx: _Ctx) -> tuple[str, bool, str]:
        """(text, dynamic, unquoted literal text for glob/brace detection)."""
        t = node.type
        if t == "command_name" and node.named_child_count == 1:
            child = node.named_children[0]
            return self._eval(child, ctx)
        raw = _text(node)
        if t == "word":
            return _unescape_word(raw), False, raw
        if t == "number":
            return raw, False, ""
        if t == "raw_string":
            return raw[1:-1], False, ""
        if t == "ansi_c_string":
            return _decode_ansi_c(raw[2:-1]), False, ""
        if t in ("string", "translated_string"):
            parts: list[str] = []
            dyn = False
            for c in node.children:
                if c.type == "string_content":
                    parts.append(_unescape_dq(_text(c)))
                elif c.is_named:
                    known = self._plain_var(c, ctx)
                    if known is not None:  # quoted: no splitting or globbing
                        parts.append(known)
                        continue
                    v, d, _ = self._eval(c, ctx)
                    if c.type == "command_substitution" and d:  # quoted: no splitting
                        out = static_output(c, ctx, self._eval, self.resolver)
                        v, d = (v, d) if out is None else (out, False)
                    if c.type in ("simple_expansion", "expansion", "command_substitution") and not d:
                        parts.append(v)
                    else:
                        parts.append(_text(c))
                        dyn = dyn or d
            return "".join(parts), dyn, ""
        if t == "concatenation":
            parts, unq = [], []
            dyn = False
            for c in node.children:
                v, d, u = self._eval(c, ctx)
                parts.append(v)
                unq.append(u if c.type == "word" else "\x00")
                dyn = dyn or d
            return "".join(parts), dyn, "".join(unq)
        if t in ("simple_expansion", "expansion"):
            names = [c for c in node.named_children]
            if len(names) == 1 and names[0].type == "variable_name" and (
                t == "simple_expansion" or len(node.children) == 3
            ):
                value = self._var(_text(names[0]), ctx)
                if value is not None:
                    if any(ch.isspace() for ch in value) or _GLOB_CHARS.search(value):
                        return value, True, ""  # word splitting / globbing: unknowable
                    return value, False, ""
            if len(names) == 1 and names[0].type == "subscript" and len(node.children) == 3:
                value = self._subscript(names[0], ctx)
                if value is not None and not any(ch.isspace() for ch in value) and not (
                    _GLOB_CHARS.search(value)
                ):
                    return value, False, ""
            return raw, True, ""
        if t == "command_substitution":
            out = static_output(node, ctx, self._eval, self.resolver)
            if out is not None and not any(ch.isspace() for ch in out) and not (
                _GLOB_CHARS.search(out)
            ):
                return out, False, ""  # unquoted: split and globbed, so only a plain word
        return raw, True, ""

    def _subscript(self, node: Node, ctx: _Ctx) -> str | None:
        """``${BASH_SOURCE[0]}``: the script being read (the only array element known)."""
        name = node.child_by_field_name("name")
        index = node.child_by_field_name("index")
        if name is None or index is None or _text(name) != "BASH_SOURCE" or _text(index) != "0":
            return None
        return self._var("BASH_SOURCE", ctx)

    def _var(self, name: str, ctx: _Ctx) -> str | None:
        if name in ctx.vars:
            return ctx.vars[name]
        if name == "PWD" and len(ctx.cwds) == 1 and not ctx.cwd_dynamic:
            return ctx.cwds[0]
        return None
