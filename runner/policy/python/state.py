"""The analysis state: recorded facts, scopes and their merging, the work bounds."""

from __future__ import annotations

import ast
import builtins
import re
from abc import abstractmethod
from collections import deque
from collections.abc import Sequence
from typing import Any

from runner.policy.models import PathOp
from runner.policy.python.tables import (
    _CLIENTS,
    _ENVIRON,
    _NATIVE,
    _POISON,
    _SENS_CALLS,
    _SENS_MODULES,
    _SPECIAL,
    _canon,
)
from runner.policy.python.values import (
    _C,
    _MISSING,
    _SNIPPET,
    DYN,
    MAX_COST,
    MAX_DEPTH,
    MAX_FACTS,
    MAX_NODES,
    SDYN,
    PyCommand,
    PyHost,
    PyOpaque,
    PyPath,
    Val,
    _alternatives,
    _cost,
    _Dict,
    _Dyn,
    _Fn,
    _Func,
    _is_env,
    _Iter,
    _merge,
    _Meth,
    _Obj,
    _Path,
    _pathlike,
    _Ref,
    _Scope,
    _sensitive,
    _sensitive_ref,
    _Seq,
    _Stop,
    _target_names,
)

_CONSTS = {"sys.executable": _C("python3"), "os.sep": _C("/"), "os.curdir": _C("."),
           "os.pardir": _C(".."), "os.devnull": _C("/dev/null"), "os.path.sep": _C("/"),
           "tempfile.tempdir": _C("/tmp")}
_BUILTINS = frozenset(dir(builtins))
_KNOWN = frozenset({*_SENS_CALLS, *_SPECIAL, *_ENVIRON, *_CONSTS, "sys.argv", "sys.modules",
                    *_SENS_MODULES})


class _State:
    """Facts found so far, scopes, functions to analyse, and the work done (bounded)."""

    def __init__(self, cwd: str, argv: Sequence[str]) -> None:
        self.cwd, self.argv = cwd or "/", tuple(argv)
        self.paths: dict[PyPath, None] = {}
        self.hosts: dict[PyHost, None] = {}
        self.commands: dict[PyCommand, None] = {}
        self.opaque: dict[PyOpaque, None] = {}
        self.imports: set[str] = set()
        self.env_dump = False
        self.visits = self.depth = self.dry = self.cost = self.nested_depth = 0
        self.cwds = [""]
        self.stars: list[str] = []
        self.poisoned: set[str] = set()
        self.stores: dict[int, frozenset[str]] = {}
        self.undo: list[tuple[_Scope, str, Val]] = []
        self.trees: list[ast.AST] = []
        self.fns: list[_Fn] = []
        self.fn_index: dict[int, int] = {}
        self.queue: deque[_Fn] = deque()
        self.module = self.scope = _Scope(None, False)
        self.src = ""
        self.lines: list[str] = []

    def parse(self, src: str, mode: str, node: ast.AST | None = None) -> ast.AST | None:
        self.cost += _cost(src)
        if self.cost > MAX_COST:
            raise _Stop("python-too-complex",
                        f"about {self.cost} tokens to parse (limit {MAX_COST})")
        try:
            tree = ast.parse(src, mode=mode)
            self.trees.append(tree)  # kept alive: `stores` is keyed by node id
            return tree
        except (SyntaxError, ValueError) as e:
            line = getattr(e, "lineno", None)
            self.add_opaque("python-syntax-error", f"line {line}: {e}" if line else str(e))
        except (RecursionError, MemoryError):
            self.add_opaque("python-too-deep",
                            self.snip(node) if node else "nesting too deep to parse")
        return None

    def source(self, src: str) -> None:
        if src is not self.src:
            self.src, self.lines = src, src.split("\n")
            marked = ":=" in src or "global" in src or "nonlocal" in src  # (cheap first)
            for m in _POISON.finditer(src) if marked else ():
                self.poisoned.update(re.findall(r"\w+", m.group(1) or m.group(2)))

    def snip(self, node: ast.AST) -> str:
        line, col = getattr(node, "lineno", 0), getattr(node, "col_offset", 0)
        if not 0 < line <= len(self.lines):
            return ""
        text = self.lines[line - 1].encode("utf-8", "surrogatepass")[col:]
        if getattr(node, "end_lineno", line) == line:
            text = text[: getattr(node, "end_col_offset", len(text)) - col]
        s = text.decode("utf-8", "replace").strip()
        return s if len(s) <= _SNIPPET else s[:_SNIPPET] + "..."

    def _fact(self, facts: dict[Any, None], fact: object) -> None:
        if fact in facts:
            return
        if len(facts) >= MAX_FACTS:
            self.add_opaque("python-too-many-facts", f"more than {MAX_FACTS} of one kind")
        else:
            facts[fact] = None

    def add_path(self, raw: str, op: PathOp, via: str, *, glob: bool = False,
                 inferred: bool = False, recursive: bool = False) -> None:
        if self.dry or not raw or "\x00" in raw:
            return
        if raw.startswith("/proc/") and raw.endswith("/environ") and op == "read":
            self.env_dump = True
        self._fact(self.paths, PyPath(raw, op, via, glob, inferred, recursive))

    def add_host(self, host: str, port: int | None, via: str) -> None:
        h = host.strip().strip("[]").rstrip(".").lower()
        if not self.dry and h:
            self._fact(self.hosts, PyHost(h, port, via))

    def add_command(self, cmd: PyCommand) -> None:
        if not self.dry:
            self._fact(self.commands, cmd)

    def add_opaque(self, construct: str, where: ast.AST | str) -> None:
        if not self.dry and len(self.opaque) < MAX_FACTS:
            text = where if isinstance(where, str) else self.snip(where)
            self.opaque[PyOpaque(construct, text)] = None

    def dump_env(self) -> None:
        if not self.dry:
            self.env_dump = True

    def escape(self, v: Val, node: ast.AST, strings: bool = False) -> None:
        """`v` flows into code not followed here."""
        self.lose(v)
        if self.dry:
            return
        if isinstance(v, _C):
            if strings and isinstance(v.v, str) and _pathlike(v.v):
                self.add_path(v.v, "read", "python-argument", inferred=True)
        elif isinstance(v, _Path):
            if v.path is not None:
                self.add_path(v.path, "read", "python-argument", glob=v.glob, inferred=True,
                              recursive=v.tree)
        elif _is_env(v):
            self.env_dump = True
        elif isinstance(v, _Ref):
            if _sensitive_ref(v.name):
                self.add_opaque("python-dynamic-call", node)
        elif isinstance(v, _Obj):
            if v.kind in _CLIENTS:
                self.add_opaque("python-dynamic-host", node)
            elif v.kind in ("archive", "sqlite"):
                self.add_opaque("python-dynamic-path", node)
        elif isinstance(v, _Meth):
            self.escape(v.recv, node)
        elif isinstance(v, _Seq):
            for i in v.items:
                self.escape(i, node, strings)
        elif isinstance(v, _Dict):
            for _, i in v.items:
                self.escape(i, node, strings)
        elif isinstance(v, _Iter):
            self.escape(v.elem, node, strings)
        elif isinstance(v, _Dyn) and v.sensitive:
            self.add_opaque("python-dynamic-call", node)

    def bind(self, name: str, v: Val) -> None:
        sc = self.module if name in self.scope.globals else self.scope
        self.setvar(sc, name, v)
        sc.hist[name] = self.merge(sc.hist.get(name, _MISSING), v)

    def setvar(self, sc: _Scope, name: str, v: Val) -> None:
        """Bind (unbind: `_MISSING`) and log the old value for `rewind`."""
        self.undo.append((sc, name, sc.vars.get(name, _MISSING)))
        if v is _MISSING:
            sc.vars.pop(name, None)
        else:
            sc.vars[name] = v

    def rewind(self, mark: int) -> dict[tuple[int, str], tuple[_Scope, str, Val]]:
        """Undo the bindings made since `mark`; what each bound name held before undoing."""
        entries = self.undo[mark:]
        ends = {(id(sc), n): (sc, n, sc.vars.get(n, _MISSING)) for sc, n, _ in entries}
        for sc, n, old in reversed(entries):
            if old is _MISSING:
                sc.vars.pop(n, None)
            else:
                sc.vars[n] = old
        del self.undo[mark:]
        return ends

    def join_paths(self, results: list[dict[tuple[int, str], tuple[_Scope, str, Val]]]) -> None:
        """After alternative paths (each rewound), a name holds the merge of its ends."""
        keys = set().union(*results)
        self.visits += 2 * len(keys)
        for key in keys:
            sc, n = next(r[key] for r in results if key in r)[:2]
            before = self.prior(sc, n)
            v: Val = _MISSING
            for r in results:
                v = self.merge(v, r[key][2] if key in r and r[key][2] is not _MISSING else before)
            self.setvar(sc, n, v)

    def lookup(self, name: str) -> Val:
        if name in self.poisoned:
            v = self.module.hist.get(name, DYN)
            return SDYN if _sensitive(v) else DYN
        sc: _Scope | None = self.module if name in self.scope.globals else self.scope
        late = False
        while sc is not None:
            d = sc.hist if late else sc.vars
            if name in d:
                return d[name]
            late = late or sc.late
            sc = sc.parent
        return self.fallback(name) or DYN

    def fallback(self, name: str) -> Val | None:
        for mod in reversed(self.stars):
            q = _canon(f"{mod}.{name}")
            if q in _KNOWN:
                return self.ref(q)
        if name == "__builtins__":
            return _Ref("builtins")
        return _Ref(f"builtins.{name}") if name in _BUILTINS else None

    def ref(self, q: str) -> Val:
        if q == "sys.argv":
            return _Seq(tuple(_C(a) for a in self.argv)) if self.argv else DYN
        return _CONSTS.get(q) or _Ref(q)

    def merge(self, a: Val, b: Val) -> Val:
        """`_merge`; a function of the source merged away may be called from anywhere."""
        m = _merge(a, b)
        for v in (a, b):
            if v is not m and not isinstance(v, _C | _Dyn):
                self.lose(v)
        return m

    def lose(self, v: Val) -> None:
        if isinstance(v, _Func):
            fn = self.fns[v.key]
            if not fn.escaped:
                fn.escaped = True
                if fn.state == "done":
                    self.requeue(fn)
        elif isinstance(v, _Seq):
            for x in v.items:
                self.lose(x)
        elif isinstance(v, _Dict):
            for _, x in v.items:
                self.lose(x)
        elif isinstance(v, _Iter):
            self.lose(v.elem)

    def prior(self, sc: _Scope, name: str) -> Val:
        return sc.vars[name] if name in sc.vars else self.fallback(name) or _MISSING

    def branches(self, node: ast.stmt, bodies: list[list[ast.stmt]],
                 binds: Sequence[Sequence[str]] = ()) -> None:
        """Alternative bodies (if/else, match cases): afterwards a name holds any of their ends."""
        results = []
        for i, body in enumerate(bodies):
            self.tick(node, 2)
            mark = len(self.undo)
            for n in binds[i] if i < len(binds) else ():
                self.bind(n, DYN)
            self.block(body)
            results.append(self.rewind(mark))
        self.join_paths(results)

    def stored(self, body: Sequence[ast.AST]) -> frozenset[str]:
        """Names bound by statements of `body` (not inside nested functions/classes)."""
        out: set[str] = set()
        for s in body:
            key = id(s)
            if key not in self.stores:
                self.visits += 1
                names: set[str] = set()
                if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(s.name)
                elif isinstance(s, (ast.Import, ast.ImportFrom)):
                    names.update((a.asname or a.name).split(".")[0] for a in s.names)
                else:
                    for t in ast.iter_child_nodes(s):
                        if isinstance(t, (ast.stmt, ast.excepthandler, ast.match_case)):
                            names |= self.stored([t])
                        elif isinstance(t, ast.withitem) and t.optional_vars is not None:
                            names |= _target_names(t.optional_vars)
                    for t in getattr(s, "targets", None) or [getattr(s, "target", None)]:
                        if isinstance(t, ast.expr):
                            names |= _target_names(t)
                    if isinstance(s, ast.ExceptHandler) and s.name:
                        names.add(s.name)
                self.stores[key] = frozenset(names)
            out |= self.stores[key]
        return frozenset(out)

    def tick(self, node: ast.AST, weight: int = 1) -> None:
        self.visits += weight
        if self.visits > MAX_NODES:
            raise _Stop("python-too-complex", f"more than {MAX_NODES} syntax nodes to follow")
        if self.depth > MAX_DEPTH:
            raise _Stop("python-too-deep", self.snip(node))

    def requeue(self, fn: _Fn) -> None:
        if fn.state != "queued":
            fn.state = "queued"
            self.queue.append(fn)

    def iter_elem(self, v: Val, node: ast.AST) -> Val:
        """What a loop over `v` binds."""
        if _is_env(v):
            self.dump_env()
            return DYN
        if isinstance(v, _Iter):
            return v.elem
        if isinstance(v, _Seq | _Dict):
            items = v.items if isinstance(v, _Seq) else tuple(k for k, _ in v.items)
            strs = [i.v for i in items if isinstance(i, _C) and isinstance(i.v, str)]
            alt = _alternatives(strs) if len(strs) == len(items) else None
            if alt is not None:
                return alt
            out: Val = _MISSING
            for i in items:
                out = self.merge(out, i)
            return DYN if out is _MISSING else out
        if isinstance(v, _Dyn) and v.sensitive:
            return SDYN
        return DYN

    def note_import(self, name: str, node: ast.AST) -> None:
        top = name.split(".")[0]
        if top:
            self.imports.add(top)
        if top in _NATIVE:
            self.add_opaque("python-native-code", node)

    def seq(self, items: list[Val], node: ast.AST) -> Val:
        if len(items) <= 256:
            return _Seq(tuple(items))
        for i in items:
            self.escape(i, node)
        return DYN

    # --- provided by the walker --------------------------------------------------------------

    @abstractmethod
    def ev(self, node: ast.expr) -> Val:
        """Provided by the walker."""

    @abstractmethod
    def block(self, body: Sequence[ast.stmt]) -> None:
        """Provided by the walker."""
