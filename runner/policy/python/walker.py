"""The walk: statements and expressions, in the order Python would run them."""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Callable, Sequence
from typing import Any

from runner.policy.python.calls import _Calls
from runner.policy.python.state import _KNOWN
from runner.policy.python.tables import _canon
from runner.policy.python.values import (
    _C,
    _MISSING,
    DYN,
    MAX_STR,
    SDYN,
    PyCommand,
    PyPath,
    PythonAnalysis,
    Val,
    _Dict,
    _Dyn,
    _Fn,
    _Func,
    _is_env,
    _Iter,
    _join,
    _Obj,
    _Path,
    _Pre,
    _Ref,
    _Scope,
    _sensitive,
    _Seq,
    _Stop,
    _target_names,
    _text,
)


class _Walker(_Calls):
    """Statements and expressions; the driver (`run`) and the result."""

    def run(self, source: str) -> None:
        m = self.module
        if self.argv and self.argv[0] not in ("-c", "-", ""):
            m.vars["__file__"] = m.hist["__file__"] = _C(posixpath.join(self.cwd, self.argv[0]))
        m.vars["__name__"] = m.hist["__name__"] = _C("__main__")
        try:
            tree = self.parse(source, "exec")
            if tree is None:
                return
            self.source(source)
            assert isinstance(tree, ast.Module)
            self.block(tree.body)
            # Function bodies, after the code that calls them: first (recording nothing) until
            # every parameter holds what all calls pass, then once more recording facts.
            self.dry += 1
            self.drain()
            self.dry -= 1
            for fn in self.fns:
                fn.state = "done"
                self.requeue(fn)
            self.drain()
        except _Stop as e:
            self.dry = 0
            self.add_opaque(e.construct, e.text)

    def result(self) -> PythonAnalysis:
        """The facts; relative paths also under each directory `os.chdir` may have moved to."""
        paths = list(self.paths)
        paths += [PyPath(posixpath.join(d, p.raw), p.op, p.via, p.glob, p.inferred, p.recursive)
                  for d in self.cwds[1:] for p in paths if not p.raw.startswith(("/", "~"))]
        commands = list(self.commands)
        for c in list(commands):
            if c.cwd is None:
                commands += [PyCommand(c.via, c.argv, c.shell, d, c.stdin, c.stdin_dynamic)
                             for d in self.cwds[1:]]
        return PythonAnalysis(tuple(dict.fromkeys(paths)), tuple(self.hosts),
                              tuple(dict.fromkeys(commands)),
                              tuple(self.opaque), frozenset(self.imports), self.env_dump)

    def drain(self) -> None:
        while self.queue:
            fn = self.queue.popleft()
            fn.state = "done"
            self.source(fn.src)
            self.function(fn)

    def generic(self, node: ast.AST) -> None:
        for c in ast.iter_child_nodes(node):
            if isinstance(c, ast.expr):
                self.ev(c)
            elif isinstance(c, ast.stmt):
                self.block([c])
            elif not isinstance(c, (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop,
                                    ast.boolop)):
                self.tick(c)
                self.generic(c)

    def block(self, body: Sequence[ast.stmt]) -> None:
        for s in body:
            self.tick(s)
            self.depth += 1
            try:
                h = _STMTS.get(type(s))
                if h is None:
                    self.generic(s)
                else:
                    h(self, s)
            finally:
                self.depth -= 1

    def s_expr(self, node: ast.Expr) -> None:
        self.ev(node.value)

    def s_assign(self, node: ast.Assign) -> None:
        v = self.ev(node.value)
        for t in node.targets:
            self.assign(t, v, node)

    def s_annassign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.assign(node.target, self.ev(node.value), node)

    def s_augassign(self, node: ast.AugAssign) -> None:
        v = self.ev(node.value)
        if isinstance(node.target, ast.Name):
            self.bind(node.target.id, self.binop(node.op, self.lookup(node.target.id), v))
        else:
            self.assign(node.target, v, node)

    def assign(self, t: ast.expr, v: Val, node: ast.AST) -> None:
        if isinstance(t, ast.Name):
            self.bind(t.id, v)
        elif isinstance(t, (ast.Tuple, ast.List)):
            starred = any(isinstance(e, ast.Starred) for e in t.elts)
            if isinstance(v, _Seq) and not starred and len(v.items) == len(t.elts):
                for e, x in zip(t.elts, v.items, strict=True):
                    self.assign(e, x, node)
                return
            elem = v.elem if isinstance(v, _Iter) else SDYN if _sensitive(v) else DYN
            if isinstance(v, _Seq):
                self.escape(v, node)
            for e in t.elts:
                self.assign(e.value if isinstance(e, ast.Starred) else e, elem, node)
        elif isinstance(t, ast.Starred):
            self.assign(t.value, DYN, node)
        else:
            self.generic(t)
            self.escape(v, node)

    def s_if(self, node: ast.If) -> None:
        self.ev(node.test)
        self.branches(node, [node.body, node.orelse])

    def s_match(self, node: ast.Match) -> None:
        self.ev(node.subject)
        bodies: list[list[ast.stmt]] = [[]]
        binds: list[list[str]] = [[]]
        for case in node.cases:
            binds.append([n for p in ast.walk(case.pattern) for n in [getattr(p, "name", None)]
                          if isinstance(n, str)])
            bodies.append(case.body)
            if case.guard is not None:
                self.ev(case.guard)
        self.branches(node, bodies, binds)

    def s_for(self, node: ast.For | ast.AsyncFor) -> None:
        self.loop(node, node.target, self.iter_elem(self.ev(node.iter), node))

    def s_while(self, node: ast.While) -> None:
        self.ev(node.test)
        self.loop(node, None, DYN)

    def loop(self, node: ast.For | ast.AsyncFor | ast.While, target: ast.expr | None,
             elem: Val) -> None:
        """Names the body binds may hold, at its start, what a previous iteration left."""
        sc = self.scope
        names = self.stored(node.body) | (_target_names(target) if target else frozenset())
        self.tick(node, 4 + 2 * len(names))
        pre = {n: self.prior(sc, n) for n in names}
        end: dict[str, Val] = {}
        if not self.dry:  # a first pass (recording nothing) tells what an iteration leaves
            mark = len(self.undo)
            self.dry += 1
            try:
                self.iteration(target, elem, node)
            finally:
                self.dry -= 1
            end = {n: sc.vars.get(n, _MISSING) for n in names}
            self.rewind(mark)
        head = {n: self.merge(pre[n], end.get(n, DYN)) for n in names}
        for n, v in head.items():
            self.setvar(sc, n, v)
        self.iteration(target, elem, node)
        self.block(node.orelse)
        for n in names:
            self.setvar(sc, n, self.merge(head[n], sc.vars.get(n, _MISSING)))

    def iteration(self, target: ast.expr | None, elem: Val, node: ast.AST) -> None:
        if target is not None:
            self.assign(target, elem, node)
        assert isinstance(node, (ast.For, ast.AsyncFor, ast.While))
        self.block(node.body)

    def s_try(self, node: ast.Try) -> None:
        sc = self.scope
        names = self.stored(node.body)
        self.tick(node, 10 + 2 * len(names) * (1 + len(node.handlers)))
        pre = {n: self.prior(sc, n) for n in names}
        mark = len(self.undo)
        self.block(node.body)
        start = {n: self.merge(self.merge(pre[n], sc.vars.get(n, _MISSING)), DYN) for n in names}
        self.block(node.orelse)
        results = [self.rewind(mark)]
        for h in node.handlers:  # the body may have stopped anywhere
            mark = len(self.undo)
            for n, v in start.items():
                self.setvar(sc, n, v)
            if h.type is not None:
                self.ev(h.type)
            if h.name:
                self.bind(h.name, DYN)
            self.block(h.body)
            results.append(self.rewind(mark))
        self.join_paths(results)
        self.block(node.finalbody)

    def s_with(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            v = self.ev(item.context_expr)
            if isinstance(v, _Obj) and v.kind == "tempdir" and v.data is not None:
                v = v.data
            if item.optional_vars is not None:
                self.assign(item.optional_vars, v, node)
        self.block(node.body)

    def s_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in node.decorator_list:
            self.escape(self.ev(d), d)
        a = node.args
        pos = [*a.posonlyargs, *a.args]
        defaults = {x.arg: self.ev(d) for x, d in zip(pos[len(pos) - len(a.defaults):], a.defaults,
                                                       strict=True)}
        defaults.update({x.arg: self.ev(d) for x, d in zip(a.kwonlyargs, a.kw_defaults,
                                                           strict=True) if d is not None})
        parent = (self.scope.parent if self.scope.is_class else self.scope) or self.module
        key = self.fn_index.get(id(node))
        if key is None:
            key = self.fn_index[id(node)] = len(self.fns)
            self.fns.append(_Fn(node, parent, self.src, defaults, bool(node.decorator_list)))
        fn = self.fns[key]
        fn.parent = parent
        self.bind(node.name, _Func(key))
        if not fn.state:
            self.requeue(fn)

    def function(self, fn: _Fn) -> None:
        self.tick(fn.node, 4)
        sc = _Scope(fn.parent, True)
        a = fn.node.args
        for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg):
            if arg is not None:
                sc.vars[arg.arg] = DYN if fn.escaped else fn.params.get(arg.arg, DYN)
        saved, self.scope = self.scope, sc
        try:
            self.block(fn.node.body)
        finally:
            self.scope = saved

    def s_class(self, node: ast.ClassDef) -> None:
        """A class body runs now; what it binds is reachable from anywhere (escapes)."""
        bases = [self.ev(x) for x in node.bases]
        for x in (*(k.value for k in node.keywords), *node.decorator_list):
            self.escape(self.ev(x), x)
        # a subclass of Path, socket, Session ... is taken for its base
        known = [b for b in bases if isinstance(b, _Ref) and b.name in _KNOWN]
        saved, self.scope = self.scope, _Scope(self.scope, False, is_class=True)
        try:
            self.block(node.body)
            for v in self.scope.vars.values():
                self.escape(v, node, strings=False)
        finally:
            self.scope = saved
        self.bind(node.name, known[0] if known else DYN)

    def s_return(self, node: ast.Return) -> None:
        if node.value is not None:
            self.escape(self.ev(node.value), node)

    def s_delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            if isinstance(t, ast.Name):
                self.setvar(self.scope, t.id, _MISSING)
            else:
                self.generic(t)

    def s_global(self, node: ast.Global) -> None:
        self.scope.globals.update(node.names)

    def s_import(self, node: ast.Import) -> None:
        for a in node.names:
            self.note_import(a.name, node)
            if a.asname:
                self.bind(a.asname, self.ref(_canon(a.name)))
            else:
                top = a.name.split(".")[0]
                self.bind(top, self.ref(_canon(top)))

    def s_importfrom(self, node: ast.ImportFrom) -> None:
        mod = node.module or ""
        if not node.level:
            self.note_import(mod, node)
        for a in node.names:
            if a.name == "*":
                if not node.level:
                    self.stars.append(_canon(mod))
            else:
                self.bind(a.asname or a.name,
                          DYN if node.level else self.ref(_canon(f"{mod}.{a.name}")))

    def ev(self, node: ast.expr) -> Val:
        self.tick(node)
        self.depth += 1
        try:
            h = _EXPRS.get(type(node))
            if h is not None:
                return h(self, node)
            self.generic(node)
            return DYN
        finally:
            self.depth -= 1

    def e_const(self, node: ast.Constant) -> Val:
        v = node.value
        return DYN if isinstance(v, str | bytes) and len(v) > MAX_STR else _C(v)

    def e_name(self, node: ast.Name) -> Val:
        return self.lookup(node.id)

    def e_attr(self, node: ast.Attribute) -> Val:
        return self.attr(self.ev(node.value), node.attr, node)

    def e_subscript(self, node: ast.Subscript) -> Val:
        v = self.ev(node.value)
        sl = node.slice
        k = self.e_slice(sl) if isinstance(sl, ast.Slice) else self.ev(sl)
        key = k.v if isinstance(k, _C) else None
        if isinstance(v, _Ref) and (v.name == "sys.modules" or v.name.endswith(".__dict__")
                                    or v.name == "builtins"):
            base = "" if v.name == "sys.modules" else v.name.removesuffix(".__dict__") + "."
            if isinstance(key, str):
                return self.ref(_canon(base + key))
            self.add_opaque("python-dynamic-import" if not base else "python-dynamic-call", node)
            return SDYN
        if isinstance(v, _Seq | _C) and isinstance(k, _Seq):  # a slice
            bounds = [x.v for x in k.items
                      if isinstance(x, _C) and (x.v is None or type(x.v) is int)]
            if len(bounds) != 3:
                return _Iter(self.iter_elem(v, node)) if isinstance(v, _Seq) else DYN
            cut = slice(*bounds)
            if isinstance(v, _Seq):
                return _Seq(v.items[cut])
            return _C(v.v[cut]) if isinstance(v.v, str | bytes) else DYN
        if isinstance(v, _Seq | _Dict):
            items = v.items if isinstance(v, _Seq) else tuple(x for _, x in v.items)
            if isinstance(v, _Seq) and type(key) is int:
                return items[key] if -len(items) <= key < len(items) else DYN
            for dk, dv in v.items if isinstance(v, _Dict) and key is not None else ():
                if isinstance(dk, _C) and dk.v == key:
                    return dv
            out: Val = _MISSING  # an unknown key: any of the values
            for x in items:
                out = self.merge(out, x)
            return DYN if out is _MISSING else out
        if isinstance(v, _C) and isinstance(v.v, str) and isinstance(key, int):
            return _C(v.v[key]) if -len(v.v) <= key < len(v.v) else DYN
        if isinstance(v, _Iter):
            return v.elem
        return SDYN if isinstance(v, _Dyn) and v.sensitive else DYN

    def e_slice(self, node: ast.Slice) -> Val:
        return _Seq(tuple(self.ev(x) if x is not None else _C(None)
                          for x in (node.lower, node.upper, node.step)))

    def e_seq(self, node: ast.List | ast.Tuple | ast.Set) -> Val:
        items: list[Val] = []
        for e in node.elts:
            if isinstance(e, ast.Starred):
                v = self.ev(e.value)
                if isinstance(v, _Seq):
                    items.extend(v.items)
                else:
                    items.append(self.iter_elem(v, e))  # one element of unknown count
            else:
                items.append(self.ev(e))
        return self.seq(items, node)

    def e_dict(self, node: ast.Dict) -> Val:
        items: list[tuple[Val, Val]] = []
        env = False
        for k, x in zip(node.keys, node.values, strict=True):
            v = self.ev(x)
            if k is None:
                env = env or _is_env(v)
                if isinstance(v, _Dict):
                    items.extend(v.items)
                elif not _is_env(v):
                    self.escape(v, node)
            else:
                items.append((self.ev(k), v))
        if env:
            return _Obj("environ")
        if len(items) <= 256:
            return _Dict(tuple(items))
        for _, v in items:
            self.escape(v, node)
        return DYN

    def e_ifexp(self, node: ast.IfExp) -> Val:
        self.ev(node.test)
        return self.merge(self.ev(node.body), self.ev(node.orelse))

    def e_boolop(self, node: ast.BoolOp) -> Val:
        v: Val = _MISSING
        for x in node.values:
            v = self.merge(v, self.ev(x))
        return v

    def e_compare(self, node: ast.Compare) -> Val:
        self.ev(node.left)
        for c in node.comparators:
            self.ev(c)
        return DYN

    def e_unary(self, node: ast.UnaryOp) -> Val:
        v = self.ev(node.operand)
        if isinstance(node.op, ast.USub) and isinstance(v, _C) and type(v.v) is int:
            return _C(-v.v)
        return DYN

    def e_binop(self, node: ast.BinOp) -> Val:
        return self.binop(node.op, self.ev(node.left), self.ev(node.right))

    def binop(self, op: ast.operator, a: Val, b: Val) -> Val:
        x = a.v if isinstance(a, _C) else None
        y = b.v if isinstance(b, _C) else None
        if isinstance(op, ast.Div) and (isinstance(a, _Path) or (isinstance(b, _Path)
                                                                and isinstance(x, str))):
            return _join([a, b])
        if isinstance(op, ast.BitOr) and (_is_env(a) or _is_env(b)):
            return _Obj("environ")
        if isinstance(op, ast.Add):
            if isinstance(x, str | bytes) and type(x) is type(y):
                return _C(x + y) if len(x) + len(y) <= MAX_STR else DYN  # type: ignore[operator]
            if isinstance(a, _Path) and a.tree and (
                    (isinstance(y, str) and y.startswith("/") and ".." not in y.split("/"))
                    or b == _Path(".", tree=True)):
                return a  # root + "/" + name (os.walk): still under root
            if isinstance(a, _Path) and a.glob and a.path and isinstance(y, str):
                return _Path(a.path + y, True)
            if isinstance(b, _Path) and b.glob and b.path and isinstance(x, str):
                return _Path(x + b.path, True)
            prefix = x if isinstance(x, str) else a.prefix if isinstance(a, _Pre) else ""
            if prefix and not isinstance(b, _C):
                return _Pre(prefix)
            if isinstance(a, _Pre):
                return a
        if isinstance(op, ast.Mod) and isinstance(x, str):
            return self.percent(x, b)
        if isinstance(op, ast.Mult) and isinstance(x, str | bytes) and type(y) is int:
            return _C(x * y) if len(x) * y <= MAX_STR else DYN
        if (type(x) is int and type(y) is int and abs(x) < 2**31 and abs(y) < 2**31
                and isinstance(op, ast.Add | ast.Sub | ast.Mult)):
            return _C(x + y if isinstance(op, ast.Add) else x - y if isinstance(op, ast.Sub)
                          else x * y)
        return DYN

    def e_fstr(self, node: ast.JoinedStr) -> Val:
        out: list[str] = []
        glob, dyn = False, -1
        tree: _Path | None = None  # f"{root}/{name}" (os.walk): under root
        for part in node.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value))
                continue
            assert isinstance(part, ast.FormattedValue)
            v = self.ev(part.value)
            spec = None
            if part.format_spec is not None:
                sv = self.ev(part.format_spec)
                spec = sv.v if isinstance(sv, _C) and isinstance(sv.v, str) else "?"
            conv = chr(part.conversion) if part.conversion != -1 else None
            if isinstance(v, _Path) and v.tree and not spec and not conv:
                if not out and tree is None:
                    tree = v
                    continue
                if v.path == "." and tree is not None:
                    out.append("x")
                    continue
            if isinstance(v, _Path) and v.glob and v.path and not spec and not conv:
                out.append(v.path)
                glob = True
                continue
            t = _text(v, spec, conv)
            if t is None:
                if _is_env(v):
                    self.dump_env()
                if isinstance(v, _Pre) and dyn < 0 and not spec and not conv:
                    out.append(v.prefix)
                dyn = len(out) if dyn < 0 else dyn
                t = ""
            out.append(t)
        if tree is not None:
            rest = "".join(out)
            ok = dyn < 0 and not glob and (not rest or rest.startswith("/"))
            return tree if ok and ".." not in rest.split("/") else DYN
        if dyn >= 0:
            prefix = "".join(out[:dyn])
            return _Pre(prefix) if prefix else DYN
        s = "".join(out)
        return (_Path(s, True) if glob else _C(s)) if len(s) <= MAX_STR else DYN

    def e_lambda(self, node: ast.Lambda) -> Val:
        for x in (*node.args.defaults, *node.args.kw_defaults):
            if x is not None:
                self.ev(x)
        sc = _Scope(self.scope, False)
        a = node.args
        for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg):
            if arg is not None:
                sc.vars[arg.arg] = DYN
        saved, self.scope = self.scope, sc
        try:
            self.escape(self.ev(node.body), node)
        finally:
            self.scope = saved
        return DYN

    def e_comp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> Val:
        saved, self.scope = self.scope, _Scope(self.scope, False)
        try:
            for g in node.generators:
                self.assign(g.target, self.iter_elem(self.ev(g.iter), g.iter), node)
                for c in g.ifs:
                    self.ev(c)
            if isinstance(node, ast.DictComp):
                self.ev(node.key)
                self.escape(self.ev(node.value), node)
                return DYN
            return _Iter(self.ev(node.elt))
        finally:
            self.scope = saved

    def e_namedexpr(self, node: ast.NamedExpr) -> Val:
        v = self.ev(node.value)
        self.bind(node.target.id, v)
        return v

    def e_await(self, node: ast.Await) -> Val:
        return self.ev(node.value)

    def e_yield(self, node: ast.Yield | ast.YieldFrom) -> Val:
        if node.value is not None:
            self.escape(self.ev(node.value), node)
        return DYN


_A = _Walker
_STMTS: dict[type, Callable[[Any, Any], None]] = {
    ast.Expr: _A.s_expr, ast.Assign: _A.s_assign, ast.AnnAssign: _A.s_annassign,
    ast.AugAssign: _A.s_augassign, ast.If: _A.s_if, ast.Match: _A.s_match, ast.For: _A.s_for,
    ast.AsyncFor: _A.s_for, ast.While: _A.s_while, ast.Try: _A.s_try, ast.TryStar: _A.s_try,
    ast.With: _A.s_with, ast.AsyncWith: _A.s_with, ast.FunctionDef: _A.s_def,
    ast.AsyncFunctionDef: _A.s_def, ast.ClassDef: _A.s_class, ast.Return: _A.s_return,
    ast.Delete: _A.s_delete, ast.Global: _A.s_global, ast.Import: _A.s_import,
    ast.ImportFrom: _A.s_importfrom,
}
_EXPRS: dict[type, Callable[[Any, Any], Val]] = {
    ast.Constant: _A.e_const, ast.Name: _A.e_name, ast.Attribute: _A.e_attr, ast.Call: _A.e_call,
    ast.Subscript: _A.e_subscript, ast.Slice: _A.e_slice, ast.List: _A.e_seq, ast.Tuple: _A.e_seq,
    ast.Set: _A.e_seq, ast.Dict: _A.e_dict, ast.IfExp: _A.e_ifexp, ast.BoolOp: _A.e_boolop,
    ast.Compare: _A.e_compare, ast.UnaryOp: _A.e_unary, ast.BinOp: _A.e_binop,
    ast.JoinedStr: _A.e_fstr, ast.Lambda: _A.e_lambda, ast.ListComp: _A.e_comp,
    ast.SetComp: _A.e_comp, ast.GeneratorExp: _A.e_comp, ast.DictComp: _A.e_comp,
    ast.NamedExpr: _A.e_namedexpr, ast.Await: _A.e_await, ast.Yield: _A.e_yield,
    ast.YieldFrom: _A.e_yield,
}
