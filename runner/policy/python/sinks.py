"""Sinks: the path, host and command arguments of the APIs, recorded or opaque."""

from __future__ import annotations

import ast
from urllib.parse import urljoin

from runner.policy.models import PathOp
from runner.policy.python.state import _State
from runner.policy.python.values import (
    _C,
    PyCommand,
    Val,
    _Args,
    _Obj,
    _Path,
    _Pre,
    _pstr,
    _Ref,
    _Seq,
    _url_host,
)


class _Sinks(_State):
    """What a file, network or process API is given: recorded as a fact, or opaque."""

    def mode_op(self, mode: Val | None) -> PathOp:
        if mode is None or mode == _C(None):
            return "read"
        m = _pstr(mode)
        return "read" if m is not None and not set(m) & set("wax+") else "write"

    def target(self, v: Val | None, op: PathOp, via: str, node: ast.AST, *,
               recursive: bool = False) -> None:
        """A file API's path argument."""
        if v is None or isinstance(v, _Obj) or (isinstance(v, _C) and type(v.v) is int):
            return  # absent, a file object, a file descriptor
        s = _pstr(v)
        if s is not None:
            self.add_path(s, op, via, recursive=recursive)
        elif isinstance(v, _Path) and (v.glob or v.tree) and v.path:
            self.add_path(v.path, op, via, glob=v.glob, recursive=recursive or v.tree)
        else:
            self.add_opaque("python-dynamic-path", node)

    def host(self, h: Val | None, port: Val | None, via: str, node: ast.AST) -> None:
        s = _pstr(h) if h is not None else None
        if s is None or isinstance(h, _Path):
            self.add_opaque("python-dynamic-host", node)
            return
        p = port.v if isinstance(port, _C) else None
        if isinstance(p, str) and p.isdigit():
            p = int(p)
        self.add_host(s, p if type(p) is int else None, via)

    def addr(self, v: Val | None, via: str, node: ast.AST) -> None:
        if isinstance(v, _Seq) and len(v.items) >= 2:
            self.host(v.items[0], v.items[1], via, node)
        elif isinstance(v, _C) and isinstance(v.v, str | bytes) and via == "python-socket":
            self.target(v, "write", via, node)  # an AF_UNIX socket path
        elif isinstance(v, _C) and isinstance(v.v, str):
            host, _, port = v.v.rpartition(":") if ":" in v.v else (v.v, "", "")
            self.host(_C(host), _C(port), via, node)
        elif v is not None:
            self.add_opaque("python-dynamic-host", node)

    def url(self, v: Val | None, base: Val | None, via: str, node: ast.AST) -> None:
        if v is None or isinstance(v, _Obj):
            return  # absent, or a Request object (its URL was recorded)
        s = _pstr(v) if isinstance(v, _C) else None
        b = _pstr(base) if base is not None else None
        if s is not None:
            if base is not None and "://" not in s and not s.startswith("//"):
                if b is None:
                    self.add_opaque("python-dynamic-host", node)
                    return
                s = urljoin(b, s)
            found = _url_host(s)
            if found is not None:
                self.add_host(found[0], found[1], via)
            return
        if isinstance(v, _Pre):
            authority = v.prefix.partition("://")[2]
            if authority and set(authority) & set("/?#"):
                found = _url_host(v.prefix)
                if found is not None:
                    self.add_host(found[0], found[1], via)
                    return
            elif "://" not in v.prefix and b is not None and v.prefix.startswith("/"):
                return  # a path under a constant base URL (recorded with the session)
        self.add_opaque("python-dynamic-host", node)

    def argv_of(self, v: Val | None) -> list[str] | None:
        s = _pstr(v) if v is not None else None
        if s is not None:
            return [s]
        if not isinstance(v, _Seq):
            return None
        out: list[str] = []
        for i in v.items:
            t = _pstr(i) if not (isinstance(i, _C) and type(i.v) is int) else str(i.v)
            if t is None:
                return None
            out.append(t)
        return out

    def command(self, args: Val | None, shell: bool, via: str, a: _Args) -> None:
        node = a.node
        cwd_v, exe = a.kw.get("cwd"), a.kw.get("executable")
        cwd = _pstr(cwd_v) if cwd_v is not None and cwd_v != _C(None) else None
        if cwd_v is not None and cwd_v != _C(None) and cwd is None:
            self.add_opaque("python-dynamic-command", node)
            return
        inp, stdin = a.kw.get("input"), a.kw.get("stdin")
        text = _pstr(inp) if inp is not None else None
        mode = a.get(1, "mode") if via == "python-os" else None
        stdin_dyn = (inp is not None and text is None) or (
            stdin is not None and stdin not in (_C(None), _Ref("subprocess.DEVNULL"))) or (
            mode is not None and self.mode_op(mode) == "write")
        if shell:
            first = args.items[0] if isinstance(args, _Seq) and args.items else args
            line = _pstr(first) if first is not None else None
            if line is None:
                self.add_opaque("python-dynamic-command", node)
            else:
                self.add_command(PyCommand(via, None, line, cwd, text, stdin_dyn))
            return
        argv = self.argv_of(args)
        if argv is not None and exe is not None and exe != _C(None):
            e = _pstr(exe)
            argv = None if e is None else [e, *argv[1:]]
        if argv is None:
            self.add_opaque("python-dynamic-command", node)
        elif argv:
            self.add_command(PyCommand(via, tuple(argv), None, cwd, text, stdin_dyn))

    def exec_call(self, name: str, via: str, a: _Args) -> None:
        shift = 1 if name.startswith("spawn") else 0
        letters = name.removeprefix("spawn").removeprefix("exec").removeprefix("posix_spawn")
        path = a.get(shift, "path")
        if name.startswith("posix_spawn") or "v" in letters:
            rest = a.get(shift + 1, "argv" if name.startswith("posix") else "args")
        else:
            items = a.pos[shift + 1:len(a.pos) - (1 if "e" in letters else 0)]
            rest = _Seq(tuple(items)) if a.star is None else None
        p = _pstr(path) if path is not None else None
        argv = self.argv_of(rest) if rest is not None else None
        if p is None or argv is None:
            self.add_opaque("python-dynamic-command", a.node)
        else:
            self.add_command(PyCommand(via, (p, *argv[1:])))
