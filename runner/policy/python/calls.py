"""Calls: the file, network and process APIs, string and path arithmetic, `exec`."""

from __future__ import annotations

import ast
import posixpath
import re
import string
from collections.abc import Callable
from pathlib import PurePosixPath

from runner.policy.models import PathOp
from runner.policy.python.sinks import _Sinks
from runner.policy.python.tables import (
    _ADDR,
    _CODE_ARGS,
    _CONTAINERS,
    _DESERIALIZE,
    _DYN_CONNECT,
    _DYN_READ,
    _DYN_WRITE,
    _DYN_WRITERS,
    _EXEC_APIS,
    _EXECS,
    _HOSTPORT,
    _INERT,
    _PATH_ARGS,
    _PATH_METHODS,
    _PRINTS,
    _PURE_MODULES,
    _RECURSIVE,
    _SESSIONS,
    _SHELL_FUNCS,
    _SQL_FILE,
    _STR_METHODS,
    _SUBPROCESS,
    _URLS,
    _VERBS,
    _canon,
)
from runner.policy.python.values import (
    _C,
    _MISSING,
    DYN,
    MAX_STR,
    SDYN,
    PyCommand,
    Val,
    _Args,
    _cstr,
    _Dict,
    _Dyn,
    _Func,
    _is_env,
    _Iter,
    _join,
    _Meth,
    _Obj,
    _Path,
    _pathlike,
    _Pre,
    _pstr,
    _Ref,
    _sensitive,
    _Seq,
    _text,
    _under,
)


class _Calls(_Sinks):
    """Calls of functions and methods, by what is called."""

    def attr(self, v: Val, a: str, node: ast.AST) -> Val:
        if _is_env(v) or isinstance(v, (_C, _Seq, _Dict, _Iter)):
            return _Meth(v, a)
        if isinstance(v, _Ref):
            return self.ref(_canon(f"{v.name}.{a}"))
        if isinstance(v, _Path) and v.tree:  # (also a DirEntry of os.scandir)
            if a == "name":
                return _Path(".", tree=True)
            return v if a == "path" else _Path(None) if a == "parent" else _Meth(v, a)
        if isinstance(v, _Path):
            p = v.path
            if a == "parent":
                return _Path(None if p is None else str(PurePosixPath(p).parent), v.glob)
            if a == "parents" and p is not None:
                return _Seq(tuple(_Path(str(x), v.glob) for x in PurePosixPath(p).parents))
            if a in ("name", "stem", "suffix"):
                return _C(getattr(PurePosixPath(p), a)) if p is not None and not v.glob else DYN
            if a == "parts" and p is not None and not v.glob:
                return _Seq(tuple(_C(x) for x in PurePosixPath(p).parts))
            return _Meth(v, a)
        if isinstance(v, _Obj):
            if a == "name" and v.kind in ("tmpfile", "tempdir") and v.data is not None:
                return v.data
            return _Meth(v, a)
        return v if isinstance(v, _Dyn) else DYN

    def e_call(self, node: ast.Call) -> Val:
        self.tick(node)
        f = self.ev(node.func)
        pos: list[Val] = []
        star: int | None = None
        for x in node.args:
            if isinstance(x, ast.Starred):
                v = self.ev(x.value)
                if isinstance(v, _Seq) and star is None:
                    pos.extend(v.items)
                    continue
                star = len(pos) if star is None else star
                self.escape(self.iter_elem(v, x), x)
            else:
                pos.append(self.ev(x))
        kw: dict[str, Val] = {}
        kwstar = env = False
        for k in node.keywords:
            v = self.ev(k.value)
            if k.arg is not None:
                kw[k.arg] = v
            elif isinstance(v, _Dict) and all(isinstance(a, _C) and isinstance(a.v, str)
                                              for a, _ in v.items):
                kw.update((str(a.v), b) for a, b in v.items if isinstance(a, _C))
            else:
                kwstar, env = True, env or _is_env(v)
                if not _is_env(v):
                    self.escape(v, node)
        a = _Args(pos, kw, node, star, kwstar)
        if env and not (isinstance(f, _Ref) and f.name in ("builtins.dict", *_SUBPROCESS)):
            self.dump_env()
        if isinstance(f, _Ref):
            r = self.call_ref(f.name, a)
            return _Obj("environ") if env and f.name == "builtins.dict" else r
        if isinstance(f, _Meth):
            return self.call_meth(f.recv, f.name, a)
        if isinstance(f, _Func):
            return self.call_fn(f, a)
        name = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        if isinstance(f, _Dyn) and f.sensitive:
            self.add_opaque("python-dynamic-call", node)
        elif name in _DYN_WRITERS:
            self.add_opaque("python-dynamic-path", node)  # maybe a pathlib write
        elif name in _DYN_CONNECT:
            self.add_opaque("python-dynamic-host", node)  # maybe an event loop's
        for v in a.values():
            self.escape(v, node)
        if name.startswith(_DYN_READ + _DYN_WRITE):  # df.to_csv("x"), spark.read_csv("x") ...
            op: PathOp = "write" if name.startswith(_DYN_WRITE) else "read"
            for v in a.values():
                s = _pstr(v) if isinstance(v, _C) else None
                if s is not None and _pathlike(s):
                    self.add_path(s, op, "python-argument", inferred=True)
        return DYN

    def call_fn(self, f: _Func, a: _Args) -> Val:
        """A call of a function of the source: its parameters may hold these arguments."""
        fn = self.fns[f.key]
        spec = fn.node.args
        names = [x.arg for x in (*spec.posonlyargs, *spec.args)]
        given = dict(zip(names, a.pos, strict=False))
        for v in a.pos[len(names):]:
            self.escape(v, a.node)
        for k, v in a.kw.items():
            if k in names or any(k == x.arg for x in spec.kwonlyargs):
                given[k] = v
            else:
                self.escape(v, a.node)
        if a.star is not None or a.kwstar:
            self.escape(f, a.node)
        for n in (*names, *(x.arg for x in spec.kwonlyargs)):
            old = fn.params.get(n, _MISSING)
            new = self.merge(old, given.get(n) or fn.defaults.get(n) or DYN)
            if new != old:
                fn.params[n] = new
                if fn.state == "done":
                    self.requeue(fn)
        return DYN

    def call_ref(self, q: str, a: _Args) -> Val:
        h = _HANDLERS.get(q)
        if h is not None:
            return h(self, a)
        node, via = a.node, "python-" + q.rpartition(".")[0]
        handled = False
        if q in _PATH_ARGS:
            for i, k, op, default in _PATH_ARGS[q]:
                v = a.get(i, k)
                self.target(_C(default) if v is None and default else v, op, via, node,
                            recursive=(q, i) in _RECURSIVE)
            handled = True
            top = _under(a.get(0, "top" if "walk" in q else "path") or _C("."))
            if q in ("os.walk", "os.fwalk"):
                names = _Iter(_Path(".", tree=True))
                return _Iter(_Seq((top, names, names, DYN)[:4 if q == "os.fwalk" else 3]))
            if q in ("os.listdir", "os.scandir"):
                return _Iter(_Path(".", tree=True) if q == "os.listdir" else top)
        if q in _CODE_ARGS:
            for i, k in _CODE_ARGS[q]:
                if a.get(i, k) is not None:
                    self.run_string(a, "exec", i, k)
            return DYN
        if q in _EXEC_APIS:
            self.add_opaque("python-code-object", node)
            return SDYN
        if q.startswith("pathlib.Path.") and a.pos:  # Path.read_text(p): an unbound method
            p = a.pos[0]
            recv = p if isinstance(p, _Path) else _join([p])
            return self.path_method(recv, q[13:], _Args(a.pos[1:], a.kw, node, None, a.kwstar))
        if q in _URLS:
            self.url(a.get(_URLS[q], "url"), None, via, node)
            handled = True
        if q in _HOSTPORT:
            hi, pi = _HOSTPORT[q]
            h_ = a.get(hi, "host")
            if h_ is not None and not (isinstance(h_, _C) and h_.v in ("", None)):
                self.host(h_, a.get(pi, "port") if pi is not None else None, via, node)
            return _Obj("client", via) if q.rpartition(".")[2][:1].isupper() else DYN
        if q in _ADDR:
            self.addr(a.get(0, "address"), via, node)
            return _Obj("socket", via)
        if q in _SESSIONS:
            base = a.get(0 if q.startswith("aiohttp") else -1, "base_url")
            if base is not None:
                self.url(base, None, via, node)
            return _Obj("session", via, base)
        if q in _SUBPROCESS:
            shell = a.kw.get("shell")
            self.command(a.get(0, "args"), shell is not None and shell != _C(False)
                         and shell != _C(None) and shell != _C(0), via, a)
            return _Obj("proc")
        if q in _SHELL_FUNCS:
            self.command(a.get(0, "cmd") or a.kw.get("command"), True, via, a)
            return DYN
        if q in _EXECS:
            self.exec_call(_EXECS[q], via, a)
            return DYN
        if q in _DESERIALIZE:
            self.add_opaque("python-deserialize", node)
            return DYN
        if handled:
            return _Obj("request") if q.endswith("Request") else DYN
        if q.startswith("os.path."):
            return self.ospath(q[8:], a)
        if q in _INERT:
            return DYN
        if q in _PRINTS:
            if any(_is_env(v.recv if isinstance(v, _Meth) else v) for v in a.values()):
                self.dump_env()
            if q in ("builtins.str", "os.fspath", "os.fsdecode") and len(a.pos) == 1:
                t = _text(a.pos[0], None, None)
                return _C(t) if t is not None else DYN
            return DYN
        if q in _CONTAINERS:
            v = a.get(0)
            if v is None:
                return _Seq(())
            if isinstance(v, _Seq | _Iter) and q != "builtins.iter":
                return v
            return _Iter(self.iter_elem(v, node))
        for v in a.values():
            self.escape(v, node, strings=q.partition(".")[0] not in _PURE_MODULES)
        return DYN

    def call_meth(self, recv: Val, name: str, a: _Args) -> Val:
        node = a.node
        if isinstance(recv, _Path):
            return self.path_method(recv, name, a)
        if _is_env(recv):
            if name == "copy":
                return _Obj("environ")
            if name not in ("get", "pop", "setdefault", "update", "__getitem__", "__contains__",
                            "__setitem__", "__delitem__", "clear"):
                self.dump_env()
            return DYN
        if isinstance(recv, _C):
            return self.str_method(recv, name, a)
        if isinstance(recv, _Obj):
            return self.obj_method(recv, name, a)
        if isinstance(recv, _Dict) and name == "get" and a.pos:
            for k, v in recv.items:
                if k == a.pos[0] and isinstance(k, _C):
                    return v
        self.escape(recv, node)
        for v in a.values():
            self.escape(v, node)
        return DYN

    def obj_method(self, o: _Obj, name: str, a: _Args) -> Val:
        node, k, via = a.node, o.kind, o.via
        if k == "socket" and name in ("connect", "connect_ex", "sendto"):
            self.addr(a.pos[-1] if name == "sendto" and a.pos else a.get(0, "address"), via, node)
        elif k == "session" and name in (*_VERBS, "ws_connect", "request", "stream", "urlopen",
                                         "open"):
            i = 1 if name in ("request", "stream", "urlopen") else 0
            self.url(a.get(i, "url"), o.data, via, node)
        elif k in ("client", "ssh") and name == "connect":
            self.host(a.get(0, "hostname" if k == "ssh" else "host"), a.get(1, "port"), via, node)
        elif k == "archive" and name in ("extractall", "extract"):
            v = a.get(0 if name == "extractall" else 1, "path")
            self.target(v if v is not None and v != _C(None) else _C("."), "write", via, node,
                        recursive=True)
        elif k == "archive" and name in ("add", "write"):
            self.target(a.get(0, "name" if name == "add" else "filename"), "read", via, node,
                        recursive=name == "add")
        elif k == "sqlite" and name in ("execute", "executescript", "executemany"):
            sql = _pstr(a.get(0, "sql") or _C(None))
            for m in _SQL_FILE.finditer(sql or ""):
                if m.group(1) not in ("", ":memory:"):
                    self.add_path(m.group(1).removeprefix("file:").partition("?")[0], "write", via)
            return o
        elif k == "sqlite" and name == "cursor":
            return o
        elif k == "sqlite" and name == "load_extension":
            self.target(a.get(0, "path"), "exec", via, node)
        elif k not in ("file", "proc", "request", "environ", "tmpfile", "tempdir"):
            for v in a.values():
                self.escape(v, node)
        return DYN

    def path_method(self, p: _Path, name: str, a: _Args) -> Val:
        node, via = a.node, "python-pathlib"
        op = _PATH_METHODS.get(name)
        if name == "open":
            op = self.mode_op(a.get(0, "mode"))
        if name in ("glob", "rglob", "iterdir") and p.tree and p.path:
            self.add_path(p.path, "read", via, recursive=True)
            return _Iter(p)
        if name in ("glob", "rglob"):
            pat = _pstr(a.get(0, "pattern") or _C(None))
            g = _join([p, _C("**") if name == "rglob" else _C("."), _C(pat or "")])
            if g.path is None or pat is None:
                self.add_opaque("python-dynamic-path", node)
                return _Iter(_Path(None))
            self.add_path(g.path, "read", via, glob=True)
            return _Iter(_Path(g.path, True))
        if op is not None:
            self.target(p, op, via, node)
            if name in ("rename", "replace", "hardlink_to", "symlink_to"):
                t = a.get(0, "target")
                self.target(t, "read" if name == "symlink_to" else "write", via, node)
                return _join([t]) if t is not None and name != "symlink_to" else DYN
            if name == "iterdir":
                return _Iter(_under(p))
            return _Obj("file") if name == "open" else DYN
        if p.path is None:
            return _Path(None) if name in ("joinpath", "resolve", "absolute", "expanduser",
                                           "with_name", "with_suffix", "with_stem") else DYN
        if name == "joinpath":
            return _join([p, *a.pos]) if a.star is None else _Path(None)
        if name in ("with_name", "with_suffix", "with_stem"):
            arg = _pstr(a.get(0) or _C(None))
            if arg is None:
                return _Path(None)
            try:
                return _Path(str(getattr(PurePosixPath(p.path), name)(arg)), p.glob)
            except ValueError:
                return DYN
        if name in ("resolve", "absolute"):
            return _Path(posixpath.join(self.cwd, p.path), p.glob, p.tree)
        if p.tree:
            return _Path(None) if name.startswith("with_") else DYN
        if name == "expanduser":
            return p
        if name in ("as_posix", "__str__", "__fspath__") and not p.glob:
            return _C(p.path)
        return DYN

    def str_method(self, s: _C, name: str, a: _Args) -> Val:
        x = s.v
        if name == "format" and isinstance(x, str):
            return self.format(x, a)
        if name == "join" and isinstance(x, str) and len(a.pos) == 1:
            items = a.pos[0].items if isinstance(a.pos[0], _Seq) else None
            parts = [i.v for i in items or () if isinstance(i, _C) and isinstance(i.v, str)]
            if items is None or len(parts) != len(items) or (
                    sum(map(len, parts)) + len(x) * len(parts) > MAX_STR):
                return DYN
            return _C(x.join(parts))
        args = [v.v for v in a.pos if isinstance(v, _C)]
        if len(args) != len(a.pos) or a.kw or a.star is not None:
            return DYN
        if name == "replace" and isinstance(x, str) and len(args) == 2 and all(
                isinstance(y, str) for y in args):
            old, new = str(args[0]), str(args[1])
            if old and len(x) + x.count(old) * max(0, len(new) - len(old)) <= MAX_STR:
                return _C(x.replace(old, new))
            return DYN
        if name in ("encode", "decode") and isinstance(x, str | bytes) and all(
                isinstance(y, str) and y.lower().replace("-", "").replace("_", "") in
                ("utf8", "ascii", "latin1") for y in args[:1]):
            try:
                return _C(x.encode() if isinstance(x, str) else x.decode())
            except UnicodeError:
                return DYN
        if name in _STR_METHODS and isinstance(x, str) and all(isinstance(y, str | int | None)
                                                              for y in args):
            try:
                r = getattr(x, name)(*args)
            except (TypeError, ValueError):
                return DYN
            return self.seq([_C(i) for i in r], a.node) if isinstance(r, list) else _C(r)
        return DYN

    def format(self, fmt: str, a: _Args) -> Val:
        out: list[str] = []
        auto = 0
        try:
            parsed = list(string.Formatter().parse(fmt))
        except ValueError:
            return DYN
        for lit, field, spec, conv in parsed:
            out.append(lit)
            if field is None:
                continue
            if field == "":
                v, auto = a.get(auto), auto + 1
            elif field.isdigit():
                v = a.get(int(field))
            else:
                v = a.kw.get(field) if field.isidentifier() else None
            t = _text(v, spec or None, conv)
            if t is None or sum(map(len, out)) > MAX_STR:
                prefix = "".join(out)
                return _Pre(prefix) if prefix and len(prefix) <= MAX_STR else DYN
            out.append(t)
        return _cstr("".join(out))

    def percent(self, fmt: str, v: Val) -> Val:
        if re.fullmatch(r"(?:[^%]|%%|%[sdr])*", fmt) is None:
            return DYN
        vals = list(v.items) if isinstance(v, _Seq) else [v]
        texts = [x.v if isinstance(x, _C) and isinstance(x.v, int | float) else _text(x, None, None)
                 for x in vals]
        if any(t is None for t in texts) or sum(len(str(t)) for t in texts) > MAX_STR:
            return DYN
        try:
            return _cstr(fmt % tuple(texts))
        except (TypeError, ValueError):
            return DYN

    def ospath(self, fn: str, a: _Args) -> Val:
        if fn == "join" and any(isinstance(p, _Path) and p.tree for p in a.pos):
            return _join(a.pos) if a.star is None else DYN
        if fn == "join":  # exactly as Python joins (no normalisation)
            parts: list[str] = []
            glob = False
            for p in a.pos if a.star is None else [DYN]:
                t = _pstr(p)
                if t is None and isinstance(p, _Path) and p.glob and p.path:
                    t, glob = p.path, True
                if t is None:
                    return DYN
                parts.append(t)
            r = posixpath.join(*parts) if parts else None
            return DYN if r is None or len(r) > MAX_STR else _Path(r, True) if glob else _C(r)
        v = a.get(0, "path")
        if isinstance(v, _Path) and v.tree and v.path:
            if fn in ("abspath", "realpath", "normpath", "expanduser"):
                return _Path(posixpath.join(self.cwd, v.path), tree=True)
            return _Path(".", tree=True) if fn == "basename" else DYN
        s = _pstr(v) if v is not None else None
        g = v.path if isinstance(v, _Path) and v.glob else None
        text = s if s is not None else g
        if text is None:
            return DYN
        funcs: dict[str, Callable[[str], str]] = {
            "dirname": posixpath.dirname, "normpath": posixpath.normpath,
            "abspath": lambda p: posixpath.normpath(posixpath.join(self.cwd, p)),
            "realpath": lambda p: posixpath.join(self.cwd, p), "expanduser": lambda p: p,
            "basename": posixpath.basename,
        }
        f = funcs.get(fn)
        if f is None or (g is not None and fn == "basename"):
            return DYN
        r = f(text)
        return _Path(r, True) if g is not None else _C(r)

    def h_open(self, a: _Args) -> Val:
        self.target(a.get(0, "file"), self.mode_op(a.get(1, "mode")), "python-open", a.node)
        return _Obj("file")

    def h_os_open(self, a: _Args) -> Val:
        flags = a.node.args[1] if len(a.node.args) > 1 else next(
            (k.value for k in a.node.keywords if k.arg == "flags"), None)
        write = flags is not None and any(
            (isinstance(n, ast.Name | ast.Attribute) and getattr(n, "id", getattr(n, "attr", ""))
             not in ("os", "O_RDONLY", "O_CLOEXEC", "O_NOFOLLOW", "O_NONBLOCK", "O_DIRECTORY",
                     "O_NOCTTY", "O_NOATIME", "O_PATH", "O_LARGEFILE"))
            or (isinstance(n, ast.Constant) and n.value != 0) for n in ast.walk(flags))
        self.target(a.get(0, "path"), "write" if write else "read", "python-os", a.node)
        return DYN

    def h_sqlite(self, a: _Args) -> Val:
        v = a.get(0, "database")
        s = _pstr(v) if v is not None else None
        if s is not None and s.startswith("file:"):
            path, _, query = s[5:].partition("?")
            if path and path != ":memory:" and "mode=memory" not in query:
                self.add_path(path, "read" if "mode=ro" in query else "write", "python-sqlite3")
        elif s not in ("", ":memory:"):
            self.target(v, "write", "python-sqlite3", a.node)
        return _Obj("sqlite", "python-sqlite3")

    def h_archive(self, a: _Args, via: str, name_kw: str) -> Val:
        v, mode = a.get(0, name_kw), a.get(1, "mode")
        m = _pstr(mode) if mode is not None else "r"
        op: PathOp = "read" if m is not None and m[:1] not in ("w", "a", "x") else "write"
        if v is not None and v != _C(None):
            self.target(v, op, via, a.node)
        return _Obj("archive", via)

    def h_tar(self, a: _Args) -> Val:
        return self.h_archive(a, "python-tarfile", "name")

    def h_zip(self, a: _Args) -> Val:
        return self.h_archive(a, "python-zipfile", "file")

    def h_chdir(self, a: _Args) -> Val:
        s = _pstr(a.get(0, "path") or DYN)
        if s is None:
            self.add_opaque("python-dynamic-path", a.node)
        elif not self.dry and len(self.cwds) < 8:
            new = [posixpath.join(d, s) for d in self.cwds]
            self.cwds += [d for d in dict.fromkeys(new) if d not in self.cwds]
        return DYN

    def h_path(self, a: _Args) -> Val:
        return _join(a.pos) if a.star is None and not a.kwstar else _Path(None)

    def h_cwd(self, a: _Args) -> Val:
        return _Path(self.cwd)

    def h_getcwd(self, a: _Args) -> Val:
        return _C(self.cwd)

    def h_home(self, a: _Args) -> Val:
        return _Path("~")

    def h_glob(self, a: _Args) -> Val:
        pat, root = a.get(0, "pathname") or DYN, a.kw.get("root_dir") or _C(None)
        g = _join([pat] if root == _C(None) else [root, pat])
        if g.path is None:
            self.add_opaque("python-dynamic-path", a.node)
            return _Iter(_Path(None))
        self.add_path(g.path, "read", "python-glob", glob=True)
        return _Iter(_Path(g.path, True))

    def h_tempdir(self, a: _Args) -> Val:
        d = a.get(2, "dir")
        if d is None or d == _C(None):
            return _Path("/tmp/tmp*", True)
        s = _pstr(d)
        if s is None:
            return _Path(None)
        self.add_path(posixpath.join(s, "tmp*"), "write", "python-tempfile", glob=True)
        return _Path(posixpath.join(s, "tmp*"), True)

    def h_mkstemp(self, a: _Args) -> Val:
        return _Seq((DYN, self.h_tempdir(a)))

    def h_tmpfile(self, a: _Args) -> Val:
        return _Obj("tmpfile", "", self.h_tempdir(_Args([], {"dir": a.kw.get("dir", _C(None))},
                                                          a.node, None, False)))

    def h_tmpdir_obj(self, a: _Args) -> Val:
        return _Obj("tempdir", "", self.h_tempdir(a))

    def h_eval(self, a: _Args) -> Val:
        return self.run_string(a, "eval")

    def h_exec(self, a: _Args) -> Val:
        return self.run_string(a, "exec")

    def h_compile(self, a: _Args) -> Val:
        v = a.get(0, "source")
        if isinstance(v, _C) and isinstance(v.v, str | bytes):
            return v  # exec(compile(s, ...)) is exec(s)
        self.add_opaque("python-dynamic-exec", a.node)
        return SDYN

    def h_import(self, a: _Args, top: bool = True) -> Val:
        v = a.get(0, "name")
        s = _pstr(v) if v is not None else None
        if s is None or s.startswith("."):
            self.add_opaque("python-dynamic-import", a.node)
            return SDYN
        self.note_import(s, a.node)
        if top and a.get(3, "fromlist") in (None, _C(None), _Seq(()), _C(())):
            s = s.split(".")[0]  # __import__("a.b") is a
        return self.ref(_canon(s))

    def h_import_module(self, a: _Args) -> Val:
        return self.h_import(a, top=False)

    def h_pty(self, a: _Args) -> Val:
        argv = self.argv_of(a.get(0, "argv"))
        if argv is None:
            self.add_opaque("python-dynamic-command", a.node)
        elif argv:
            self.add_command(PyCommand("python-pty", tuple(argv)))
        return DYN

    def h_async_exec(self, a: _Args) -> Val:
        self.command(_Seq(tuple(a.pos)) if a.star is None else None, False, "python-asyncio", a)
        return _Obj("proc")

    def h_socket(self, a: _Args) -> Val:
        return _Obj("socket", "python-socket")

    def h_ssh(self, a: _Args) -> Val:
        return _Obj("ssh", "python-paramiko")

    def h_getattr(self, a: _Args) -> Val:
        o, n = a.get(0), a.get(1)
        if o is None:
            return DYN
        if isinstance(n, _C) and isinstance(n.v, str):
            if isinstance(o, _Dyn) and n.v in _DYN_WRITERS:
                return SDYN  # maybe a pathlib write: calling it is opaque
            return self.attr(o, n.v, a.node)
        if _sensitive(o):
            self.add_opaque("python-dynamic-call", a.node)
            return SDYN
        return DYN

    def h_type(self, a: _Args) -> Val:
        v = a.get(0)
        if isinstance(v, _Path):
            return _Ref("pathlib.Path")
        return SDYN if len(a.pos) == 1 and v is not None and _sensitive(v) else DYN

    def h_methodcaller(self, a: _Args) -> Val:
        n = a.get(0, "name")
        if not isinstance(n, _C) or n.v in _PATH_METHODS or n.v in _DYN_WRITERS:
            self.add_opaque("python-dynamic-call", a.node)
        return DYN

    def h_setattr(self, a: _Args) -> Val:
        for v in a.pos[2:]:
            self.escape(v, a.node)
        return DYN

    def h_namespace(self, a: _Args) -> Val:
        self.add_opaque("python-dynamic-namespace", a.node)
        return SDYN

    def h_vars(self, a: _Args) -> Val:
        v = a.get(0)
        if isinstance(v, _Ref):
            return _Ref(v.name + ".__dict__")
        return self.h_namespace(a) if v is None else DYN

    def h_dict(self, a: _Args) -> Val:
        v = a.get(0)
        if v is not None and _is_env(v):
            return _Obj("environ")
        if isinstance(v, _Dict):
            return _Dict(v.items + tuple((_C(k), x) for k, x in a.kw.items()))
        if v is None and not a.kwstar:
            return _Dict(tuple((_C(k), x) for k, x in a.kw.items()))
        for x in a.values():
            self.escape(x, a.node)
        return DYN

    def h_copy(self, a: _Args) -> Val:
        v = a.get(0)
        return _Obj("environ") if v is not None and _is_env(v) else v or DYN

    def h_enumerate(self, a: _Args) -> Val:
        v = a.get(0)
        return _Iter(_Seq((DYN, self.iter_elem(v, a.node)))) if v is not None else DYN

    def run_string(self, a: _Args, mode: str, pos: int = 0, kw: str = "source") -> Val:
        v = a.get(pos, kw)
        src = _pstr(v) if isinstance(v, _C) else None
        if src is None:
            arg = a.node.args[pos] if len(a.node.args) > pos else a.node
            encoded = any(isinstance(n, ast.Attribute | ast.Name) and re.search(
                r"decode|decompress|loads|fromhex|unhexlify|b\d+decode", getattr(
                    n, "attr", getattr(n, "id", ""))) for n in ast.walk(arg))
            self.add_opaque("python-encoded-exec" if encoded else "python-dynamic-exec", a.node)
            return SDYN
        if self.nested_depth >= 3:
            self.add_opaque("python-too-deep", a.node)
            return SDYN
        tree = self.parse(src, mode, a.node)
        if tree is None:
            return SDYN
        saved = self.src, self.lines
        self.source(src)
        self.nested_depth += 1
        try:
            if isinstance(tree, ast.Expression):
                return self.ev(tree.body)
            assert isinstance(tree, ast.Module)
            self.block(tree.body)
            return _C(None)
        finally:
            self.nested_depth -= 1
            self.src, self.lines = saved


_A = _Calls
_HANDLERS: dict[str, Callable[[_Calls, _Args], Val]] = {
    "builtins.open": _A.h_open, "os.open": _A.h_os_open, "sqlite3.connect": _A.h_sqlite,
    "tarfile.open": _A.h_tar, "zipfile.ZipFile": _A.h_zip, "os.chdir": _A.h_chdir,
    "pathlib.Path": _A.h_path, "pathlib.Path.cwd": _A.h_cwd, "pathlib.Path.home": _A.h_home,
    "os.getcwd": _A.h_getcwd, "glob.glob": _A.h_glob, "glob.iglob": _A.h_glob,
    "tempfile.gettempdir": lambda s, a: _C("/tmp"), "tempfile.mkdtemp": _A.h_tempdir,
    "tempfile.mkstemp": _A.h_mkstemp, "tempfile.NamedTemporaryFile": _A.h_tmpfile,
    "tempfile.TemporaryFile": _A.h_tmpfile, "tempfile.SpooledTemporaryFile": _A.h_tmpfile,
    "tempfile.TemporaryDirectory": _A.h_tmpdir_obj, "builtins.eval": _A.h_eval,
    "builtins.exec": _A.h_exec, "builtins.compile": _A.h_compile,
    "builtins.__import__": _A.h_import, "importlib.import_module": _A.h_import_module,
    "pty.spawn": _A.h_pty, "asyncio.create_subprocess_exec": _A.h_async_exec,
    "socket.socket": _A.h_socket, "paramiko.SSHClient": _A.h_ssh, "builtins.type": _A.h_type,
    "operator.methodcaller": _A.h_methodcaller, "builtins.getattr": _A.h_getattr,
    "builtins.setattr": _A.h_setattr, "builtins.globals": _A.h_namespace,
    "builtins.locals": _A.h_namespace, "builtins.vars": _A.h_vars, "builtins.dict": _A.h_dict,
    "copy.copy": _A.h_copy, "copy.deepcopy": _A.h_copy, "builtins.enumerate": _A.h_enumerate,
}
