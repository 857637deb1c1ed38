"""Shell state along one path of the walk (:class:`_Ctx`), stdin (:class:`_Stdin`) and
the simple command being interpreted (:class:`_Call`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from tree_sitter import Node

from runner.policy.pathnames import CONTAINER_HOME
from runner.policy.shell.words import Bound, Word

MAX_CWDS = 16  # possible working directories tracked at once
MAX_ALTERNATIVES = 8  # possible values kept for a variable assigned differently in branches


class _Vars(dict[str, str | None]):
    """Shell variables: a known value, or None (unknown). ``alts`` keeps the possible values
    of a variable that branches of this command assign differently (its value is None);
    any other assignment or ``unset`` forgets them."""

    def __init__(self, values: dict[str, str | None] | None = None,
                 alts: dict[str, tuple[str, ...]] | None = None) -> None:
        super().__init__(values or {})
        self.alts: dict[str, tuple[str, ...]] = dict(alts or {})

    def __setitem__(self, key: str, value: str | None) -> None:
        self.alts.pop(key, None)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.alts.pop(key, None)
        super().__delitem__(key)

    def pop(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self.alts.pop(key, None)
        return super().pop(key, default)

    def copy(self) -> _Vars:
        return _Vars(self, self.alts)

    def possible(self, key: str) -> tuple[str, ...] | None:
        """Every value the variable may hold here, if that is known."""
        value = self.get(key)
        if value is not None:
            return (value,)
        return self.alts.get(key) if key in self else None

    def set_alternatives(self, key: str, *options: tuple[str, ...] | None) -> None:
        """Unknown from here, but one of the options' values (if each is known, and few)."""
        self[key] = None
        merged: list[str] = []
        for o in options:
            if o is None:
                return
            merged.extend(v for v in o if v not in merged)
        if len(merged) <= MAX_ALTERNATIVES:
            self.alts[key] = tuple(merged)


@dataclass
class _Ctx:
    """Shell state along one path of the walk."""

    cwds: list[str]  # every directory the shell may be in (container paths, normalised)
    fail: list[str] = field(default_factory=list)  # kept if a pending `cd` failed (after `;`)
    oldpwd: list[str] | None = None
    dirstack: list[list[str]] = field(default_factory=list)
    cwd_dynamic: bool = False
    vars: _Vars = field(default_factory=lambda: _Vars({"HOME": CONTAINER_HOME}))
    funcs: dict[str, Node] = field(default_factory=dict)
    conditional: int = 0
    shared: dict[str, bool] = field(default_factory=dict)  # one per analysis, across copies
    # variables of unknown value known to hold a path under some roots (`... | while read f`)
    bounds: dict[str, Bound] = field(default_factory=dict)

    def copy(self) -> _Ctx:
        return _Ctx(
            cwds=list(self.cwds),
            fail=list(self.fail),
            oldpwd=list(self.oldpwd) if self.oldpwd is not None else None,
            dirstack=[list(d) for d in self.dirstack],
            cwd_dynamic=self.cwd_dynamic,
            vars=self.vars.copy(),
            funcs=dict(self.funcs),
            conditional=self.conditional,
            shared=self.shared,
            bounds=dict(self.bounds),
        )

    def child_shell(self) -> _Ctx:
        """A new shell process started from here: same directory, fresh variables."""
        return _Ctx(cwds=list(self.cwds), cwd_dynamic=self.cwd_dynamic, shared=self.shared)

    def cap(self) -> None:
        """Too many possible directories (cd in branches and loops): stop tracking them."""
        if len(self.cwds) + len(self.fail) > MAX_CWDS or len(self.oldpwd or ()) > MAX_CWDS:
            self.shared["cwd_overflow"] = True
            self.cwd_dynamic = True
            self.cwds = self.cwds[:MAX_CWDS]
            self.fail = self.fail[: max(0, MAX_CWDS - len(self.cwds))]
            if self.oldpwd is not None:
                self.oldpwd = self.oldpwd[:MAX_CWDS]

    def boundary(self) -> None:
        """End of a statement: a `cd` that may have failed leaves the old directory possible."""
        if self.fail:
            self.cwds = _union(self.cwds, self.fail)
            self.fail = []
            self.cap()

    def absorb(self, *others: _Ctx) -> None:
        """Merge alternative outcomes (branches, optional commands) into this context."""
        for o in others:
            self.cwds = _union(self.cwds, o.cwds)
            self.fail = _union(self.fail, o.fail)
            self.cwd_dynamic = self.cwd_dynamic or o.cwd_dynamic
            for k in set(self.vars) | set(o.vars):
                if self.vars.get(k) != o.vars.get(k) or self.vars.alts.get(k) != o.vars.alts.get(k):
                    mine = self.vars.possible(k)
                    self.vars.set_alternatives(k, mine, o.vars.possible(k))
            for k in set(self.bounds) | set(o.bounds):
                if self.bounds.get(k) != o.bounds.get(k):
                    self.bounds.pop(k, None)
            self.funcs.update(o.funcs)
            if o.oldpwd is not None:
                self.oldpwd = _union(self.oldpwd or [], o.oldpwd)
        self.cap()

    def replace_with(self, o: _Ctx) -> None:
        self.cwds, self.fail, self.oldpwd = o.cwds, o.fail, o.oldpwd
        self.dirstack, self.cwd_dynamic, self.vars, self.funcs = (
            o.dirstack, o.cwd_dynamic, o.vars, o.funcs,
        )
        self.bounds = o.bounds


def _union(a: Sequence[str], b: Sequence[str]) -> list[str]:
    out = list(a)
    for x in b:
        if x not in out:
            out.append(x)
    return out


StdinKind = Literal["heredoc", "herestring", "pipe", "file"]


@dataclass(frozen=True)
class _Stdin:
    kind: StdinKind
    text: str | None = None  # literal script text (heredoc/herestring); None when dynamic
    upstream: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (program, argv) feeding a pipe
    word: Word | None = None  # `< file`


@dataclass
class _Call:
    """One simple command being interpreted."""

    name: str  # basename of the program
    argv: list[Word]  # argv[0] is the program word
    ctx: _Ctx
    stdin: _Stdin | None
    depth: int
    env: dict[str, str]  # literal assignments in front of it (FOO=bar cmd)

    @property
    def args(self) -> list[Word]:
        return self.argv[1:]
