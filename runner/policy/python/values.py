"""Facts, abstract values and bounds of the Python analysis."""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from runner.policy.models import PathOp
from runner.policy.python.tables import (
    _CLIENTS,
    _ENVIRON,
    _SENS_CALLS,
    _SENS_MODULES,
)

MAX_COST = 8_000  # estimated tokens parsed (sources and exec'd strings together)
MAX_NODES = 8_000  # node visits, weighted by cost (loop bodies are walked twice)
MAX_DEPTH = 100  # nesting of statements/expressions followed
MAX_FACTS = 256  # per kind of fact
MAX_STR = 4096  # longest constant folded
_SNIPPET = 120
_TOKEN = re.compile(r"\w+|[^\w\s]")
_FSPEC = re.compile(r"[<>^=]?[+\- ]?#?0?\d{0,3}(?:\.\d{1,3})?[bcdeEfFgGnosxX%]?")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
_PATHLIKE = re.compile(r"[^\s]{1,4096}")


@dataclass(frozen=True)
class PyPath:
    raw: str  # as resolved: `'/workspace' + '/.env'` is "/workspace/.env"
    op: PathOp
    via: str  # "python-open", "python-pathlib", "python-os" ...
    glob: bool = False  # a pattern (`*`, `**`, `{a,b}`): matches of it are the targets
    inferred: bool = False  # flowed into code not modelled here: maybe read (or written)
    recursive: bool = False  # a directory read or written whole (copytree, rmtree, tar add ...)


@dataclass(frozen=True)
class PyHost:
    host: str
    port: int | None
    via: str


@dataclass(frozen=True)
class PyCommand:
    via: str
    argv: tuple[str, ...] | None = None  # a program and its arguments (no shell)
    shell: str | None = None  # a shell command line (`shell=True`, os.system ...)
    cwd: str | None = None
    stdin: str | None = None  # constant `input=` text
    stdin_dynamic: bool = False  # stdin fed from the program (PIPE, a file, dynamic input)


@dataclass(frozen=True)
class PyOpaque:
    construct: str
    text: str


@dataclass(frozen=True)
class PythonAnalysis:
    paths: tuple[PyPath, ...] = ()
    hosts: tuple[PyHost, ...] = ()
    commands: tuple[PyCommand, ...] = ()
    opaque: tuple[PyOpaque, ...] = ()
    imports: frozenset[str] = frozenset()
    env_dump: bool = False


# --- abstract values ---------------------------------------------------------------------


class _Dyn:
    """Unknown. `sensitive`: may be a module, function, path or client (calling it is opaque)."""

    __slots__ = ("sensitive",)

    def __init__(self, sensitive: bool) -> None:
        self.sensitive = sensitive


DYN, SDYN = _Dyn(False), _Dyn(True)


@dataclass(frozen=True, slots=True)
class _C:
    v: object


@dataclass(frozen=True, slots=True)
class _Pre:  # a string whose start is known
    prefix: str


@dataclass(frozen=True, slots=True)
class _Seq:
    items: tuple[Val, ...]


@dataclass(frozen=True, slots=True)
class _Dict:
    items: tuple[tuple[Val, Val], ...]


@dataclass(frozen=True, slots=True)
class _Ref:  # a module or a module-level callable, canonical name ("os.path.join")
    name: str


@dataclass(frozen=True, slots=True)
class _Path:  # a path (pathlib or str); None: dynamic
    path: str | None
    glob: bool = False  # a pattern: one of its matches
    tree: bool = False  # some path under `path` (what os.walk, listdir, iterdir yield)


@dataclass(frozen=True, slots=True)
class _Obj:  # an instance whose methods matter: socket, session, archive, environ copy ...
    kind: str
    via: str = ""
    data: Val | None = None


@dataclass(frozen=True, slots=True)
class _Meth:
    recv: Val
    name: str


@dataclass(frozen=True, slots=True)
class _Iter:  # an iterable whose elements are known to be `elem`
    elem: Val


@dataclass(frozen=True, slots=True)
class _Func:  # a function defined in the source (index into `_State.fns`)
    key: int


Val = _Dyn | _C | _Pre | _Seq | _Dict | _Ref | _Path | _Obj | _Meth | _Iter | _Func
_MISSING = _C(object())  # marks an unbound name in scope merges (compared by identity)
_PLAIN = (_Dyn, _C, _Pre)


def _sensitive(v: Val) -> bool:
    if isinstance(v, _Dyn):
        return v.sensitive
    if isinstance(v, _Seq):
        return any(_sensitive(i) for i in v.items)
    if isinstance(v, _Dict):
        return any(_sensitive(i) for _, i in v.items)
    if isinstance(v, _Iter | _Meth):
        return _sensitive(v.elem if isinstance(v, _Iter) else v.recv)
    if isinstance(v, _Ref):
        return _sensitive_ref(v.name)
    if isinstance(v, _Obj):
        return v.kind in _CLIENTS or v.kind in ("archive", "sqlite", "environ")
    return isinstance(v, _Path)


def _sensitive_ref(name: str) -> bool:
    """A module or function that does I/O, runs code or connects."""
    return name in _SENS_CALLS or name in _SENS_MODULES or name.endswith(".__dict__")


def _merge(a: Val, b: Val) -> Val:
    """What a name holds after two paths; alternative strings and paths make a pattern."""
    if a is _MISSING:
        return b
    if b is _MISSING or a is b or a == b:
        return a
    if type(a) in _PLAIN and type(b) in _PLAIN and not (
            isinstance(a, _C) and isinstance(b, _C)
            and isinstance(a.v, str) and isinstance(b.v, str)):
        return SDYN if a is SDYN or b is SDYN else DYN  # the common case, first
    if _is_env(a) or _is_env(b):
        return _Obj("environ")  # maybe the environment: dumped if printed or iterated
    sa, sb = _strs(a), _strs(b)
    if sa is not None and sb is not None:
        alt = _alternatives(sa + sb)
        if isinstance(alt, _C) and (isinstance(a, _Path) or isinstance(b, _Path)):
            return _Path(sa[0])  # the same path as a str and as a Path
        if alt is not None:
            return alt
    if (isinstance(a, _Path) and not _sensitive(b)) or (isinstance(b, _Path) and not _sensitive(a)):
        return _Path(None)  # a path, or something else not sensitive: a dynamic path
    if isinstance(a, _Seq | _Iter) and isinstance(b, _Seq | _Iter):
        elem: Val = _MISSING
        for x in (*_elems(a), *_elems(b)):
            elem = _merge(elem, x)
        return _Iter(DYN if elem is _MISSING else elem)
    return SDYN if _sensitive(a) or _sensitive(b) else DYN


def _elems(v: _Seq | _Iter) -> tuple[Val, ...]:
    return v.items if isinstance(v, _Seq) else (v.elem,)


def _strs(v: Val) -> list[str] | None:
    if isinstance(v, _Path) and v.tree:
        return None
    if isinstance(v, _C) and isinstance(v.v, str):
        return [v.v]
    p = v.path if isinstance(v, _Path) else None
    if p and isinstance(v, _Path) and v.glob:
        return p[1:-1].split(",") if p[0] == "{" and p[-1] == "}" and not set(p[1:-1]) & set(
            "{}") else None
    return [p] if p else None


def _alternatives(strs: Sequence[str]) -> Val | None:
    """One of several strings: a brace pattern (`{a,b}`), as the shell would expand it."""
    if not strs or len(strs) > 16 or any(not x or set(x) & set("{},*?[") for x in strs):
        return None
    uniq = list(dict.fromkeys(strs))
    return _C(uniq[0]) if len(uniq) == 1 else _Path("{" + ",".join(uniq) + "}", True)


def _pstr(v: Val) -> str | None:
    """The string of a constant path-like value (str, bytes, non-pattern Path)."""
    if isinstance(v, _C):
        if isinstance(v.v, str):
            return v.v
        if isinstance(v.v, bytes):
            return v.v.decode("utf-8", "replace")
    if isinstance(v, _Path) and not v.glob and not v.tree:
        return v.path
    return None


def _under(v: Val) -> _Path:
    """Some path under `v` (a directory listed or walked)."""
    s = _pstr(v)
    if s is not None:
        return _Path(s, tree=True)
    return v if isinstance(v, _Path) and v.tree else _Path(None)


def _is_env(v: Val) -> bool:
    return (isinstance(v, _Ref) and v.name in _ENVIRON) or (isinstance(v, _Obj)
                                                             and v.kind == "environ")


def _pathlike(s: str) -> bool:
    return (_PATHLIKE.fullmatch(s) is not None and "://" not in s and not s.startswith("-")
            and (s.startswith((".", "/", "~")) or "/" in s))


def _cstr(s: str) -> Val:
    return _C(s) if len(s) <= MAX_STR else DYN


def _join(parts: Sequence[Val]) -> _Path:
    """pathlib joining (lexical, like Python's own). A pattern part makes a pattern; relative
    parts after a path under a directory stay under it (unless they hold `..`)."""
    strs: list[str] = []
    glob = tree = False
    for p in parts:
        s, pglob, ptree = _pstr(p), False, False
        if s is None and isinstance(p, _Path) and p.path is not None and (p.glob or p.tree):
            if tree and p.tree and p.path == ".":
                continue  # a name under the directory
            s, pglob, ptree = p.path, p.glob, p.tree
        if s is None:
            return _Path(None)
        if s.startswith("/"):  # an absolute part restarts the path
            strs, glob, tree = [], False, False
        elif (tree and (pglob or ptree or ".." in s.split("/"))) or (glob and ptree):
            return _Path(None)
        elif tree:
            continue  # still under the directory
        strs.append(s)
        glob, tree = glob or pglob, ptree
    text = str(PurePosixPath(*strs)) if strs else "."
    return _Path(text, glob, tree) if len(text) <= MAX_STR else _Path(None)


def _text(v: Val | None, spec: str | None, conv: str | None) -> str | None:
    """The text of a constant value as str()/format() would give it; None if not constant."""
    if isinstance(v, _Path) and v.path is not None and not v.glob and not v.tree:
        v = _C(v.path)
    if not isinstance(v, _C) or v is _MISSING or isinstance(v.v, bytes):
        return None
    x: object = v.v
    if conv == "r":
        x = repr(x)
    elif conv in ("s", "a"):
        x = str(x)
    try:
        return format(x, spec or "") if spec is None or _FSPEC.fullmatch(spec) else None
    except (ValueError, TypeError, OverflowError):
        return None


def _url_host(url: str) -> tuple[str, int | None] | None:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    return host, port if port is not None else _DEFAULT_PORTS.get(parts.scheme.lower())


def _cost(src: str) -> int:
    """Estimated parse cost: tokens, f-string fields weigh more (each is parsed apart)."""
    return len(_TOKEN.findall(src)) + 4 * src.count("{")


class _Stop(Exception):
    def __init__(self, construct: str, text: str) -> None:
        super().__init__(construct)
        self.construct, self.text = construct, text


class _Scope:
    __slots__ = ("globals", "hist", "is_class", "late", "parent", "vars")

    def __init__(self, parent: _Scope | None, late: bool, is_class: bool = False) -> None:
        self.vars: dict[str, Val] = {}
        self.hist: dict[str, Val] = {}  # every value a name was bound to, merged
        self.parent, self.late, self.is_class = parent, late, is_class
        self.globals: set[str] = set()


class _Fn:
    __slots__ = ("defaults", "escaped", "node", "params", "parent", "src", "state")

    def __init__(self, node: ast.FunctionDef | ast.AsyncFunctionDef, parent: _Scope, src: str,
                 defaults: dict[str, Val], escaped: bool) -> None:
        self.node, self.parent, self.src, self.defaults = node, parent, src, defaults
        self.params: dict[str, Val] = {}  # merged over the call sites seen
        self.escaped = escaped  # called from code not followed here: parameters are unknown
        self.state = ""  # "queued", "done"


class _Args:
    __slots__ = ("kw", "kwstar", "node", "pos", "star")

    def __init__(self, pos: list[Val], kw: dict[str, Val], node: ast.Call, star: int | None,
                 kwstar: bool) -> None:
        self.pos, self.kw, self.node, self.star, self.kwstar = pos, kw, node, star, kwstar

    def get(self, i: int, kw: str = "") -> Val | None:
        """The argument at position `i` (-1: keyword only) or keyword `kw`; None: absent."""
        if kw and kw in self.kw:
            return self.kw[kw]
        if 0 <= i < len(self.pos) and (self.star is None or i < self.star):
            return self.pos[i]
        if (self.star is not None and i >= self.star) or self.kwstar:
            return DYN
        return None

    def values(self) -> list[Val]:
        return [*self.pos, *self.kw.values()]


def _target_names(t: ast.expr) -> frozenset[str]:
    if isinstance(t, ast.Name):
        return frozenset((t.id,))
    if isinstance(t, ast.Tuple | ast.List):
        return frozenset().union(*(_target_names(e) for e in t.elts))
    if isinstance(t, ast.Starred):
        return _target_names(t.value)
    return frozenset()
