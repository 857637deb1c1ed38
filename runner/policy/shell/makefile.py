"""A bounded reading of GNU Makefiles: which recipe lines ``make GOALS`` would run.

Enough of make for the policy to see the commands a target runs, and to give up
(:class:`Opaque`) wherever what runs cannot be known from the file alone:

* logical lines (backslash continuation), comments, recipe lines (a leading tab after
  a rule; ``target: prereqs ; recipe``), ``define ... endef``;
* variables: ``=`` (expanded when used), ``:=``/``::=`` (when assigned), ``?=``, ``+=``,
  ``override``/``export``, command-line ``VAR=value`` (which win), target-specific
  ``target: VAR = value``, automatic ``$@ $< $^ $+ $? $* $|`` and ``$(@D)`` ...,
  ``$(MAKE)``, ``$(CURDIR)``, ``$(MAKEFILE_LIST)``, ``$$``;
* conditionals ``ifeq/ifneq/ifdef/ifndef ... else ... endif`` are decided when both
  sides are known, otherwise both branches count (their rules are all followed, a
  variable assigned in one is unknown);
* the goals (the default: the first target not starting with ``.``, or
  ``.DEFAULT_GOAL``), their prerequisites a few levels deep, pattern rules, ``.DEFAULT``,
  double-colon rules, ``.ONESHELL``.

Opaque: ``include``, a ``$(function ...)`` where it is expanded (``$(shell)`` in an
immediate assignment or a conditional runs while the file is read, even under
``make -n``; ``!=`` likewise), a variable defined nowhere in the file (it may come from
the environment), a changed ``SHELL``/``.SHELLFLAGS``/``.RECIPEPREFIX``, too many lines,
too deep, a file that does not parse.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

MAX_LINES = 4_000  # logical lines read
MAX_RECIPE_LINES = 256  # recipe lines returned per make invocation
MAX_TARGET_DEPTH = 8  # prerequisite levels followed
MAX_TARGETS = 128  # targets visited
MAX_EXPANSION_DEPTH = 24  # nested variable references
MAX_EXPANDED = 64 * 1024  # characters produced by one expansion
MAX_REFERENCES = 20_000  # variable references expanded per makefile
MAX_NESTING = 32  # open conditionals, nested parentheses in one reference

_SHELLS = frozenset({"/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash", "sh", "bash",
                     "/bin/dash", "/usr/bin/env bash"})
_SHELLFLAGS = re.compile(r"^\s*(?:-[a-zA-Z]+\s+|-o\s+\w+\s+)*-[a-zA-Z]*c\s*$")
_AUTOMATIC = frozenset("@<^+?*|%")
_FUNCTIONS = frozenset({
    "subst", "patsubst", "strip", "findstring", "filter", "filter-out", "sort", "word",
    "wordlist", "words", "firstword", "lastword", "dir", "notdir", "suffix", "basename",
    "addsuffix", "addprefix", "join", "wildcard", "realpath", "abspath", "error", "warning",
    "info", "shell", "origin", "flavor", "foreach", "if", "or", "and", "intcmp", "call",
    "eval", "file", "value", "guile", "let",
})
_DIRECTIVES = ("ifeq", "ifneq", "ifdef", "ifndef", "else", "endif")


class Opaque(Exception):
    """What make would run cannot be known here."""

    def __init__(self, construct: str, text: str) -> None:
        super().__init__(f"{construct}: {text}")
        self.construct = construct
        self.text = text


@dataclass
class Var:
    value: str
    recursive: bool  # `=`: expanded when used; `:=`: already expanded
    command_line: bool = False
    override: bool = False


@dataclass
class Rule:
    targets: list[str]
    prereqs: str  # unexpanded (expanded when the rule is used)
    recipe: list[str] = field(default_factory=list)
    double_colon: bool = False


@dataclass
class RecipeLine:
    text: str  # expanded, prefix characters removed
    target: str
    forced: bool  # `+` or $(MAKE): runs even under -n/-q/-t


@dataclass
class Makefile:
    """One parsed makefile (or several, read in order)."""

    directory: str  # where make runs (CURDIR)
    names: list[str]  # MAKEFILE_LIST
    command_vars: dict[str, str]
    env: dict[str, str]  # literal assignments in front of the make command
    goals_given: list[str] = field(default_factory=list)
    vars: dict[str, Var | None] = field(default_factory=dict)  # None: not knowable
    rules: dict[str, list[Rule]] = field(default_factory=dict)
    patterns: list[Rule] = field(default_factory=list)
    first_target: str | None = None
    oneshell: bool = False
    target_vars: dict[str, dict[str, tuple[str, Var | None]]] = field(default_factory=dict)
    unresolved_targets: bool = False  # a rule's target names could not be expanded
    references: int = 0  # variable references expanded so far

    # --- reading ---------------------------------------------------------------------

    def read(self, text: str) -> None:
        lines = _logical_lines(text)
        if len(lines) > MAX_LINES:
            raise Opaque("makefile-too-large", f"more than {MAX_LINES} lines")
        current: list[Rule] = []
        conds: list[str] = []  # "yes" / "no" / "maybe": the open conditionals' branches
        taken: list[str] = []  # per conditional: "no" / "maybe" / "yes" a branch was taken
        define: tuple[str, str, list[str], bool] | None = None  # name, op, lines, active
        for kind, line in lines:
            state = _state(conds)
            if define is not None:
                if kind == "plain" and line.strip() == "endef":
                    name, op, body, active = define
                    define = None
                    if active:
                        self._assign(name, op, "\n".join(body), state == "maybe", False, False)
                else:
                    define[2].append(line)
                continue
            if kind == "recipe" and current:
                if state != "no":
                    for r in current:
                        r.recipe.append(line)
                continue
            stripped = _strip_comment(line).strip()
            if not stripped:
                continue
            word = stripped.split(None, 1)[0]
            if word in _DIRECTIVES:
                self._conditional(word, stripped, conds, taken)
                if len(conds) > MAX_NESTING:
                    raise Opaque("makefile-too-large", f"more than {MAX_NESTING} nested conditionals")
                continue
            if state == "no":
                if word == "define":
                    define = ("", "=", [], False)
                continue
            current = []
            self._statement(stripped, state == "maybe", current)
            if stripped.startswith("define") and word == "define":
                name, _, op = stripped[len("define"):].strip().partition(" ")
                define = (name.strip(), op.strip() or "=", [], True)
        if conds or define is not None:
            raise Opaque("makefile-syntax", "unterminated conditional or define")

    def _conditional(self, word: str, line: str, conds: list[str], taken: list[str]) -> None:
        if word == "endif":
            if not conds:
                raise Opaque("makefile-syntax", "endif without if")
            conds.pop()
            taken.pop()
            return
        if word == "else":
            if not conds:
                raise Opaque("makefile-syntax", "else without if")
            rest = line[len("else"):].strip()
            if taken[-1] == "yes":
                conds[-1] = "no"
                return
            outcome = "no" if _state(conds[:-1]) == "no" else (
                self._condition(rest) if rest else "yes"
            )
            if outcome != "no" and taken[-1] == "maybe":
                outcome = "maybe"
            conds[-1] = outcome
            taken[-1] = _most(taken[-1], outcome)
            return
        outcome = self._condition(line) if _state(conds) != "no" else "no"
        conds.append(outcome)
        taken.append(outcome)

    def _condition(self, line: str) -> str:
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        try:
            if word in ("ifdef", "ifndef"):
                name = self.expand(rest, {})
                defined = self._defined(name)
                if defined is None:
                    return "maybe"
                return "yes" if defined == (word == "ifdef") else "no"
            if word in ("ifeq", "ifneq"):
                args = _cond_args(rest)
                if args is None:
                    raise Opaque("makefile-syntax", line)
                left, right = (self.expand(a, {}).strip() for a in args)
                return "yes" if (left == right) == (word == "ifeq") else "no"
        except Opaque as exc:
            if exc.construct == "make-function":
                raise  # a function in a condition runs while the file is read
            return "maybe"
        raise Opaque("makefile-syntax", line)

    def _defined(self, name: str) -> bool | None:
        if name in self.command_vars:
            return True
        if name in self.vars:
            v = self.vars[name]
            return None if v is None else bool(v.value)
        return None if name not in self.env else bool(self.env[name])

    def _statement(self, line: str, maybe: bool, current: list[Rule]) -> None:
        word = line.split(None, 1)[0]
        if word in ("include", "-include", "sinclude"):
            raise Opaque("make-include", f"{line} (included makefiles are not read)")
        if word in ("vpath", "unexport", "undefine") or line == "export":
            if word == "undefine":
                self.vars.pop(line.split(None, 1)[-1].strip(), None)
            return
        if word == "define":
            return
        assign = _ASSIGN.match(line)
        sep = _top_level_separator(line)
        if assign is not None:  # (a name holds no ":": `a: b=c` is a rule)
            mods, name, op, value = assign.group(1), assign.group(2), assign.group(3), assign.group(4)
            self._assign(name.strip(), op, value.strip(), maybe, "override" in (mods or ""),
                         "export" in (mods or ""))
            return
        if word == "export":  # `export NAME ...`: names, not assignments
            return
        if sep is None:
            if "$(" in line or "${" in line:
                self.expand(line, {})  # a bare function call (`$(shell ...)`, `$(eval ...)`)
                return
            raise Opaque("makefile-syntax", line[:120])
        self._rule(line, sep[0], current)

    def _assign(self, name: str, op: str, value: str, maybe: bool, override: bool,
                export: bool) -> None:
        del export  # exported variables reach recipes only as environment, never expanded here
        if "$" in name:
            name = self.expand(name, {})
        if name in ("SHELL", ".SHELLFLAGS", ".RECIPEPREFIX"):
            v = self.expand(value, {}).strip() if "$" in value else value.strip()
            ok = v in _SHELLS if name == "SHELL" else (
                _SHELLFLAGS.match(v) is not None if name == ".SHELLFLAGS" else v == "\t"
            )
            if not ok:
                raise Opaque("make-shell", f"{name} {op} {value}")
            return
        if name in self.command_vars and not override:
            return  # the command line wins
        old = self.vars.get(name)
        if op == "!=":
            raise Opaque("make-function", f"{name} != {value} (runs a shell command)")
        if op == "?=":
            if name in self.vars or name in self.env:
                return
            new: Var | None = Var(value, recursive=True)
        elif op == "+=":
            if name not in self.vars:
                new = Var(value, recursive=True)
            elif old is None:
                new = None
            elif old.recursive:
                new = Var(f"{old.value} {value}".strip(), recursive=True)
            else:
                more = self._expand_now(value)
                new = None if more is None else Var(f"{old.value} {more}".strip(), recursive=False)
        elif op in (":=", "::=", ":::="):
            now = self._expand_now(value)
            new = None if now is None else Var(now, recursive=False)
        else:
            new = Var(value, recursive=True)
        if maybe and (old is None or new is None or name not in self.vars or old.value != new.value):
            new = None
        self.vars[name] = new

    def _expand_now(self, value: str) -> str | None:
        """An immediate expansion; None when a variable is unknown (a function runs: Opaque)."""
        try:
            return self.expand(value, {})
        except Opaque as exc:
            if exc.construct == "make-function":
                raise
            return None

    def _rule(self, line: str, colon: int, current: list[Rule]) -> None:
        try:
            head = self.expand(line[:colon], {})
        except Opaque as exc:
            if exc.construct == "make-function":
                raise
            self.unresolved_targets = True
            return
        rest = line[colon + 1:]
        double = rest.startswith(":")
        if double:
            rest = rest[1:]
        recipe_inline: str | None = None
        semi = _unparenthesized(rest, ";")
        if semi is not None:
            rest, recipe_inline = rest[:semi], rest[semi + 1:]
        targets = head.split()
        if not targets:
            return
        target_assign = _ASSIGN.match(rest.strip())
        if target_assign is not None:  # target-specific variable
            name, op, value = target_assign.group(2), target_assign.group(3), target_assign.group(4)
            simple = op in (":=", "::=", ":::=")
            now = self._expand_now(value.strip()) if simple else value.strip()
            for t in targets:
                self.target_vars.setdefault(t, {})[name.strip()] = (
                    op, None if now is None else Var(now, not simple)
                )
            return
        second = _unparenthesized(rest, ":")
        if second is not None:  # static pattern rule: targets: pattern: prereqs
            pattern, prereqs = rest[:second].strip(), rest[second + 1:]
            for t in targets:
                rule = Rule([t], _static_prereqs(pattern, prereqs, t), double_colon=double)
                self._add_rule(t, rule)
                current.append(rule)
        else:
            rule = Rule(targets, rest, double_colon=double)
            for t in targets:
                if t == ".ONESHELL":
                    self.oneshell = True
                if "%" in t:
                    self.patterns.append(rule)
                else:
                    self._add_rule(t, rule)
            current.append(rule)
        if recipe_inline is not None:
            for r in current:
                r.recipe.append(recipe_inline)

    def _add_rule(self, target: str, rule: Rule) -> None:
        self.rules.setdefault(target, []).append(rule)
        special = target.startswith(".") and "/" not in target
        if self.first_target is None and not special and "%" not in target:
            self.first_target = target

    # --- expansion -------------------------------------------------------------------

    def expand(self, text: str, auto: dict[str, str], depth: int = 0) -> str:
        """``text`` with every variable reference replaced; Opaque when one is unknown."""
        if "$" not in text:
            return text
        if depth > MAX_EXPANSION_DEPTH:
            raise Opaque("make-recursion", text[:120])
        out: list[str] = []
        size = 0
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c != "$":
                j = text.find("$", i)
                j = n if j < 0 else j
                out.append(text[i:j])
                size += j - i
                i = j
                continue
            if i + 1 >= n:
                out.append("$")
                break
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt in "({":
                close = _matching(text, i + 1)
                if close is None:
                    raise Opaque("makefile-syntax", f"unterminated reference: {text[i:i + 80]}")
                ref = text[i + 2:close]
                out.append(self._reference(ref, auto, depth))
                i = close + 1
            else:
                out.append(self._reference(nxt, auto, depth))
                i += 2
            size += len(out[-1])
            if size > MAX_EXPANDED:
                raise Opaque("make-recursion", "an expansion too large")
        return "".join(out)

    def _reference(self, ref: str, auto: dict[str, str], depth: int) -> str:
        self.references += 1
        if self.references > MAX_REFERENCES:
            raise Opaque("make-recursion", f"more than {MAX_REFERENCES} variable references")
        fn = ref.split(None, 1)[0] if ref.strip() else ""
        if fn in _FUNCTIONS and (len(ref) > len(fn) and ref[len(fn)] in " \t"):
            raise Opaque("make-function", f"$({ref[:120]}) is not expanded here")
        name = self.expand(ref, auto, depth + 1) if "$" in ref else ref
        if ":" in name and "=" in name:
            raise Opaque("make-function", f"$({ref[:120]}) (substitution reference)")
        if name in auto:
            return auto[name]
        if len(name) == 2 and name[0] in _AUTOMATIC and name[1] in "DF" and name[0] in auto:
            value = auto[name[0]].split()
            return " ".join(_dir(v) if name[1] == "D" else posixpath.basename(v) for v in value)
        if name in self.command_vars:
            return self.command_vars[name]
        if name in self.vars:
            v = self.vars[name]
            if v is None:
                raise Opaque("make-variable", f"$({name}) is set differently in branches")
            return self.expand(v.value, auto, depth + 1) if v.recursive else v.value
        builtin = self._builtin(name)
        if builtin is not None:
            return builtin
        if name in self.env:
            return self.env[name]
        raise Opaque("make-variable", f"$({name}) is not set in the makefile; pass it: "
                     f"make {name}=value")

    def _builtin(self, name: str) -> str | None:
        return {
            "MAKE": "make", "CURDIR": self.directory, "MAKEFILE_LIST": " ".join(self.names),
            "MAKECMDGOALS": " ".join(self.goals_given), "MAKEFLAGS": "", "MFLAGS": "",
            "MAKELEVEL": "0", "SHELL": "/bin/sh", ".SHELLFLAGS": "-c", "RM": "rm -f",
            "CC": "cc", "CXX": "g++", "AR": "ar", "MAKEOVERRIDES": "",
        }.get(name)

    # --- running ---------------------------------------------------------------------

    def recipes(self, goals: list[str], *, no_builtin_rules: bool) -> tuple[list[RecipeLine], list[str]]:
        """The recipe lines the goals run, in order, and the targets no rule makes (built-in
        rules may write them in the make directory)."""
        run = _Run(self, no_builtin_rules)
        if not goals:
            default = self.vars.get(".DEFAULT_GOAL")
            goal = default.value.strip() if default is not None and default.value.strip() else self.first_target
            if goal is None:
                if self.unresolved_targets:
                    raise Opaque("make-variable", "the default target's name cannot be expanded")
                return [], []
            goals = [goal]
        for g in goals:
            run.target(g, 0, {})
        return run.lines, run.unmade


class _Run:
    def __init__(self, mk: Makefile, no_builtin_rules: bool) -> None:
        self.mk = mk
        self.no_builtin = no_builtin_rules
        self.lines: list[RecipeLine] = []
        self.unmade: list[str] = []
        self.seen: set[str] = set()

    def target(self, name: str, depth: int,
               inherited: dict[str, tuple[str, Var | None]]) -> None:
        if name in self.seen:
            return
        self.seen.add(name)
        if depth > MAX_TARGET_DEPTH or len(self.seen) > MAX_TARGETS:
            raise Opaque("make-too-deep", f"more than {MAX_TARGET_DEPTH} levels or "
                         f"{MAX_TARGETS} targets to follow ({name})")
        mk = self.mk
        rules = mk.rules.get(name, [])
        stem = ""
        if not any(r.recipe for r in rules):
            for p in mk.patterns:
                for pat in p.targets:
                    s = _match(pat, name)
                    if s is not None and p.recipe:
                        rules = [*rules, Rule([name], p.prereqs.replace("%", s), list(p.recipe))]
                        stem = s
                        break
                if stem:
                    break
        if not rules:
            if mk.unresolved_targets:
                raise Opaque("make-variable", f"no rule for {name}, and some target names cannot be expanded")
            default = mk.rules.get(".DEFAULT", [])
            if default and any(r.recipe for r in default):
                rules = [Rule([name], "", list(default[0].recipe))]
            else:
                if not self.no_builtin:
                    self.unmade.append(name)
                return
        target_vars = {**inherited, **mk.target_vars.get(name, {})}
        saved = {k: mk.vars.get(k) for k in target_vars if k in mk.vars}
        absent = [k for k in target_vars if k not in mk.vars]
        for k, (op, v) in target_vars.items():
            if k in mk.command_vars:
                continue
            cur = mk.vars.get(k)
            if op == "+=" and v is not None and k in mk.vars:
                v = None if cur is None else Var(f"{cur.value} {v.value}".strip(), cur.recursive)
            elif op == "?=" and k in mk.vars:
                continue
            mk.vars[k] = v
        try:
            found: dict[str, None] = {}
            for r in rules:
                found.update(dict.fromkeys(mk.expand(r.prereqs.split("|", 1)[0], {}).split()))
            if len(found) + len(self.seen) > MAX_TARGETS:
                raise Opaque("make-too-deep", f"more than {MAX_TARGETS} targets to follow ({name})")
            for pre in found:
                self.target(pre, depth + 1, target_vars)
            with_recipe = [r for r in rules if r.recipe]
            if not any(r.double_colon for r in with_recipe):
                with_recipe = with_recipe[-1:]  # single-colon: the last recipe wins
            for r in with_recipe:
                own = mk.expand(r.prereqs.split("|", 1)[0], {}).split()
                auto = {"@": name, "<": own[0] if own else "", "^": " ".join(dict.fromkeys(own)),
                        "+": " ".join(own), "?": " ".join(own), "*": stem, "|": "", "%": ""}
                self._recipe(r.recipe, name, auto)
        finally:
            for k, old in saved.items():
                mk.vars[k] = old
            for k in absent:
                mk.vars.pop(k, None)

    def _recipe(self, recipe: list[str], target: str, auto: dict[str, str]) -> None:
        lines = [line for line in recipe if line.strip()]
        if self.mk.oneshell and lines:
            lines = ["\n".join(_unprefix(line)[0] for line in lines)]
        for raw in lines:
            text, forced = _unprefix(raw)
            forced = forced or "$(MAKE)" in text or "${MAKE}" in text
            expanded = self.mk.expand(text, auto)
            if len(self.lines) >= MAX_RECIPE_LINES:
                raise Opaque("make-too-deep", f"more than {MAX_RECIPE_LINES} recipe lines")
            if expanded.strip():
                self.lines.append(RecipeLine(expanded, target, forced))


# --- helpers ---------------------------------------------------------------------------

_ASSIGN = re.compile(
    r"^((?:(?:override|export|private)\s+)*)([^:#=\s][^:#=]*?)\s*(\?=|:::=|::=|:=|\+=|!=|=)(.*)$",
    re.S,
)


_SEPARATOR = re.compile(r"[:=]")
_PARENS = re.compile(r"[()]")
_BRACES = re.compile(r"[{}]")


def _most(a: str, b: str) -> str:
    order = ("no", "maybe", "yes")
    return order[max(order.index(a), order.index(b))]


def _state(conds: list[str]) -> str:
    if "no" in conds:
        return "no"
    return "maybe" if "maybe" in conds else "yes"


def _logical_lines(text: str) -> list[tuple[str, str]]:
    """(kind, line): "recipe" for lines starting with a tab (continuations kept as in the
    file, a continued line's leading tab removed), "plain" for the rest (continuations
    joined with one space)."""
    out: list[tuple[str, str]] = []
    raw = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(raw):
        line = raw[i]
        recipe = line.startswith("\t")
        parts = [line[1:] if recipe else line]
        while _continued(parts[-1]) and i + 1 < len(raw):
            i += 1
            nxt = raw[i]
            if recipe:
                parts.append(nxt[1:] if nxt.startswith("\t") else nxt)
            else:
                parts[-1] = parts[-1][:-1].rstrip()
                parts.append(nxt.strip())
        out.append(("recipe", "\n".join(parts)) if recipe else ("plain", " ".join(parts)))
        i += 1
    return out


def _continued(line: str) -> bool:
    k = len(line) - len(line.rstrip("\\"))
    return k % 2 == 1


def _strip_comment(line: str) -> str:
    i = 0
    while True:
        j = line.find("#", i)
        if j < 0:
            return line
        if j > 0 and line[j - 1] == "\\":
            i = j + 1
            continue
        return line[:j]


def _matching(text: str, open_at: int) -> int | None:
    opener = text[open_at]
    depth = 0
    for m in (_PARENS if opener == "(" else _BRACES).finditer(text, open_at):
        if m.group() == opener:
            depth += 1
            if depth > MAX_NESTING:
                return None
        else:
            depth -= 1
            if depth == 0:
                return m.start()
    return None


def _top_level_separator(line: str) -> tuple[int, str] | None:
    """The first ``:`` or ``=`` outside ``$(...)``: (index, char)."""
    if "$" not in line:
        m = _SEPARATOR.search(line)
        return None if m is None else (m.start(), m.group())
    depth = 0
    for k, ch in enumerate(line):
        if ch in "({" and k and line[k - 1] == "$":
            depth += 1
        elif ch in ")}" and depth:
            depth -= 1
        elif depth == 0 and ch in ":=":
            return k, ch
    return None


def _unparenthesized(text: str, char: str) -> int | None:
    if "(" not in text and "{" not in text:
        k = text.find(char)
        return None if k < 0 else k
    depth = 0
    for k, ch in enumerate(text):
        if ch in "({":
            depth += 1
        elif ch in ")}" and depth:
            depth -= 1
        elif depth == 0 and ch == char:
            return k
    return None


def _cond_args(rest: str) -> tuple[str, str] | None:
    rest = rest.strip()
    if rest.startswith("(") and rest.endswith(")"):
        inner = rest[1:-1]
        comma = _unparenthesized(inner, ",")
        if comma is None:
            return None
        return inner[:comma], inner[comma + 1:]
    m = re.match(r"""^(["'])(.*?)\1\s+(["'])(.*?)\3$""", rest)
    return (m.group(2), m.group(4)) if m else None


def _static_prereqs(pattern: str, prereqs: str, target: str) -> str:
    stem = _match(pattern, target)
    return prereqs if stem is None else prereqs.replace("%", stem)


def _match(pattern: str, name: str) -> str | None:
    if "%" not in pattern:
        return "" if pattern == name else None
    pre, _, post = pattern.partition("%")
    if name.startswith(pre) and name.endswith(post) and len(name) >= len(pre) + len(post):
        return name[len(pre): len(name) - len(post)]
    return None


def _unprefix(line: str) -> tuple[str, bool]:
    """A recipe line without its ``@``/``-``/``+`` prefixes; True if ``+`` was one."""
    text = line.lstrip(" \t")
    forced = False
    while text[:1] in ("@", "-", "+"):
        forced = forced or text[0] == "+"
        text = text[1:].lstrip(" \t")
    return text, forced


def _dir(path: str) -> str:
    d = posixpath.dirname(path)
    return d + "/" if d else "./"
