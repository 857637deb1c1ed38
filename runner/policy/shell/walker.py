"""Shell analysis: what a Bash tool call would run, touch and connect to.

The command is parsed with tree-sitter-bash (never regexes or shlex for its
structure). The walk collects:

* every simple command, in lists, pipelines, subshells, ``$(...)``, backticks,
  ``<(...)``/``>(...)``, heredocs, function bodies and ``bash -c`` strings (parsed
  recursively), seen through wrappers (``env``, ``timeout``, ``sudo``, ``xargs``,
  ``find -exec`` ...). A wrapper is listed itself *and* the command it runs is
  listed with ``wrapper`` set to the wrapper's name;
* path facts: redirect targets, the file arguments of common programs with
  their operation, and scripts/programs run by path (``exec``);
* hosts: URLs anywhere in an argument, network programs, package installers
  and their implicit registries, ``/dev/tcp``, DNS tools;
* opaque constructs: what cannot be seen through (eval, a variable as the
  program, ``python -c``, ``base64 -d | sh``, parse errors ...).

``cd`` is followed: relative paths after it resolve against every directory the
shell may be in at that point (a ``cd`` that may fail keeps the old directory
as a possibility after ``;``, but not on the right of ``&&``). Variables
assigned a literal value unconditionally are expanded; anything else stays
dynamic (``PathFact.dynamic``).

Patterns are expanded as bash would (when a workspace is given): brace expansion,
then pathname expansion against the host workspace (``*``, ``?``, ``[...]``; dot
files only for a segment starting with ``.``; ``dotglob``, ``nocaseglob`` and
``globstar`` are assumed on when the command mentions them). Each match is one more
fact (``raw`` the word as written, ``dynamic`` true) beside the lexical one. A
pattern past ``MAX_GLOB_MATCHES`` matches (or ``MAX_EXPANDED_FACTS`` for the whole
command) is the opaque construct ``glob-too-broad``.

Programs that read whole directories (``grep -r``, ``rg``, ``cp -r``, ``tar c``,
``zip -r``, ``rsync -r``, ``diff -r``, ``git grep``, ``find ... -exec``) mark the
directory's fact ``recursive: true`` and list what they may read under it in
``contents`` (workspace-relative paths of files, symlinks and their targets;
``contents_truncated: true`` when the walk hit its bound). ``xargs`` running a
program that touches files takes the file names from data: the opaque construct
``xargs-dynamic-args`` (likewise ``cpio -o``, ``tar -T -``, ``zip -@``:
``file-list-from-input``).
"""

from __future__ import annotations

import posixpath
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from runner.hostfs import HostReadRefused
from runner.policy.models import (
    HostFact,
    OpaqueConstruct,
    PathFact,
    PathOp,
    PathVia,
    ShellCommand,
    ShellFacts,
)
from runner.policy.paths import (
    CONTAINER_HOME,
    CONTAINER_WORKSPACE,
    MAX_GLOB_MATCHES,
    MAX_WALK_ENTRIES,
    GlobTooBroad,
    PathResolver,
    WalkResult,
    absolute,
    brace_expand,
    fnmatch_name,
    has_brace,
    has_glob,
    normalize,
    quote_pattern,
    unquote_pattern,
)

MAX_DEPTH = 16  # nested substitutions / shell strings / function calls
MAX_NODE_DEPTH = 200  # syntax nesting (keeps the walk far from Python's recursion limit)
MAX_VISITS = 20_000  # syntax nodes walked per command (loops, functions, shells re-walk some)
MAX_CWDS = 16  # possible working directories tracked at once
MAX_SCRIPT_BYTES = 64 * 1024  # larger scripts run by a command are not analysed
MAX_GIT_CONFIG_BYTES = 1 << 20  # a larger .git/config names no remote here
MAX_EXPANDED_FACTS = 512  # path facts from pattern expansion, per command
MAX_WALKED_ENTRIES = 4 * MAX_WALK_ENTRIES  # entries looked at by recursive reads, per command
_SNIPPET = 200

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


# --- results -------------------------------------------------------------------------------


@dataclass
class ShellAnalysis:
    facts: ShellFacts
    paths: list[PathFact]
    hosts: list[HostFact]


def analyze(command: str, resolver: PathResolver, cwd: str = CONTAINER_WORKSPACE) -> ShellAnalysis:
    """Analyse one Bash command as run in ``cwd`` (a container path)."""
    walker = _Walker(resolver)
    ctx = _Ctx(cwds=[normalize(cwd)])
    walker.run_script(command, ctx, depth=0)
    if ctx.shared.get("cwd_overflow"):
        walker.add_opaque("dynamic-cd", f"more than {MAX_CWDS} possible working directories")
    facts = ShellFacts(
        parsed=not walker.parse_error, opaque=walker.opaque, commands=walker.commands
    )
    return ShellAnalysis(facts=facts, paths=walker.paths, hosts=walker.hosts)


# --- words ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Word:
    """One shell word after quote removal. ``dynamic``: holds an expansion or glob."""

    text: str
    dynamic: bool = False
    procsub: bool = False  # <(...) / >(...): a /dev/fd path, not a file name
    glob: str | None = None  # the word as a bash pattern, when it holds a glob or braces

    def sub(self, text: str) -> Word:
        return Word(text, self.dynamic, self.procsub)


@dataclass(frozen=True)
class Recursion:
    """How a program reads the directories it is given: everything under them."""

    hidden: bool = True  # also names starting with "." (rg and ag skip them)
    follow: bool = True  # symlinks below the top are read through (grep -R, zip -r)
    keep: Callable[[str], bool] | None = None  # only files whose name passes (find -name ...)
    keep_dirs: bool = False  # a directory whose name passes brings everything under it


ALL = Recursion()
NO_LINKS = Recursion(follow=False)  # symlinks below the top are skipped or copied as links


_GLOB_CHARS = re.compile(r"(?<!\\)[*?\[]")
# shopt options that change pathname expansion: assumed on once a command mentions them
_GLOB_OPTIONS = ("dotglob", "globstar", "nocaseglob", "extglob")
_BRACE = re.compile(r"\{[^{}]*(,|\.\.)[^{}]*\}")
_DQ_ESCAPE = re.compile(r"\\([$`\"\\\n])")
_ANSI_SIMPLE = {
    "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
    "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?",
}


def _unescape_word(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            if text[i + 1] != "\n":
                out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _unescape_dq(text: str) -> str:
    if "\\" not in text:
        return text
    return _DQ_ESCAPE.sub(lambda m: "" if m.group(1) == "\n" else m.group(1), text)


def _decode_ansi_c(body: str) -> str:
    out: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        i += 2
        if e in _ANSI_SIMPLE:
            out.append(_ANSI_SIMPLE[e])
        elif e in "01234567":
            j = i - 1
            while j < n and j < i + 2 and body[j] in "01234567":
                j += 1
            out.append(chr(int(body[i - 1 : j], 8) & 0xFF))
            i = j
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            j = i
            while j < n and j < i + width and body[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i:
                out.append("\\" + e)
            else:
                code = int(body[i:j], 16)
                out.append(chr(code) if code < 0x110000 and not 0xD800 <= code < 0xE000 else "?")
                i = j
        elif e == "c" and i < n:
            out.append(chr(ord(body[i]) & 0x1F))
            i += 1
        else:
            out.append("\\" + e)
    return "".join(out)


# --- context -------------------------------------------------------------------------------


@dataclass
class _Ctx:
    """Shell state along one path of the walk."""

    cwds: list[str]  # every directory the shell may be in (container paths, normalised)
    fail: list[str] = field(default_factory=list)  # kept if a pending `cd` failed (after `;`)
    oldpwd: list[str] | None = None
    dirstack: list[list[str]] = field(default_factory=list)
    cwd_dynamic: bool = False
    vars: dict[str, str | None] = field(default_factory=lambda: {"HOME": CONTAINER_HOME})
    funcs: dict[str, Node] = field(default_factory=dict)
    conditional: int = 0
    shared: dict[str, bool] = field(default_factory=dict)  # one per analysis, across copies

    def copy(self) -> _Ctx:
        return _Ctx(
            cwds=list(self.cwds),
            fail=list(self.fail),
            oldpwd=list(self.oldpwd) if self.oldpwd is not None else None,
            dirstack=[list(d) for d in self.dirstack],
            cwd_dynamic=self.cwd_dynamic,
            vars=dict(self.vars),
            funcs=dict(self.funcs),
            conditional=self.conditional,
            shared=self.shared,
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
                if self.vars.get(k) != o.vars.get(k):
                    self.vars[k] = None
            self.funcs.update(o.funcs)
            if o.oldpwd is not None:
                self.oldpwd = _union(self.oldpwd or [], o.oldpwd)
        self.cap()

    def replace_with(self, o: _Ctx) -> None:
        self.cwds, self.fail, self.oldpwd = o.cwds, o.fail, o.oldpwd
        self.dirstack, self.cwd_dynamic, self.vars, self.funcs = (
            o.dirstack, o.cwd_dynamic, o.vars, o.funcs,
        )


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


# --- program tables ------------------------------------------------------------------------

SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "ash", "mksh", "yash", "posh", "rbash"})
_PY_RE = re.compile(r"^(python|pypy|pip)(\d+(\.\d+)*)?$")
_NO_FILE_PROGRAMS = frozenset({
    "echo", "printf", "true", "false", ":", "test", "[", "[[", "expr", "seq", "sleep", "yes",
    "id", "whoami", "date", "uname", "hostname", "which", "whereis", "type", "hash", "alias",
    "unalias", "read", "wait", "jobs", "fg", "bg", "kill", "pkill", "pgrep", "ps", "top", "free",
    "uptime", "nproc", "tput", "clear", "reset", "history", "exit", "return", "break",
    "continue", "shift", "getopts", "let", "shopt", "umask", "ulimit", "times", "logout", "pwd",
    "dirs", "basename", "dirname", "groups", "tty", "stty", "arch", "lscpu", "df", "mount",
    "sync", "disown", "suspend", "enable", "help", "caller", "complete", "compopt", "bind",
    "fc", "mapfile", "readarray", "logname", "users", "who", "w", "last", "lsof", "vmstat",
    "getconf", "locale", "true.exe", "tr", "notify-send", "usleep", "factor",
})
_RR_TYPES = frozenset({
    "A", "AAAA", "MX", "TXT", "NS", "ANY", "CNAME", "SOA", "PTR", "SRV", "CAA", "DS",
    "DNSKEY", "NSEC", "NSEC3", "RRSIG", "TLSA", "SSHFP", "NAPTR", "HINFO", "AXFR", "IXFR",
    "SPF", "HTTPS", "SVCB", "URI", "LOC", "CERT", "DNAME", "IN", "CH", "HS", "CS",
})
_DEFAULT_PORTS = {
    "http": 80, "https": 443, "ftp": 21, "ftps": 990, "sftp": 22, "ssh": 22, "scp": 22,
    "git": 9418, "rsync": 873, "ws": 80, "wss": 443, "telnet": 23, "ldap": 389, "ldaps": 636,
    "smtp": 25, "smtps": 465, "imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995,
    "redis": 6379, "rediss": 6379, "mongodb": 27017, "postgres": 5432, "postgresql": 5432,
    "mysql": 3306, "amqp": 5672, "amqps": 5671, "mqtt": 1883, "nats": 4222, "gopher": 70,
    "dict": 2628, "socks4": 1080, "socks4a": 1080, "socks5": 1080, "socks5h": 1080,
    "tftp": 69, "svn": 3690, "irc": 6667, "ircs": 6697, "tcp": None, "udp": None,
}
_URL_RE = re.compile(r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]{0,30})://[^\s'\"<>]*")
_PROXY_VARS = frozenset({
    "http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "socks_proxy", "rsync_proxy",
})
_INDEX_VARS = {
    "pip_index_url": "pip-index", "pip_extra_index_url": "pip-index", "uv_index_url": "pip-index",
    "uv_default_index": "pip-index", "uv_extra_index_url": "pip-index", "uv_index": "pip-index",
    "npm_config_registry": "npm-registry", "yarn_registry": "npm-registry",
    "pip_find_links": "pip-find-links", "pip_proxy": "proxy-env",
}
_REDIRECT_IGNORE = frozenset({
    "/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero",
    "/dev/full", "/dev/random", "/dev/urandom",
})
_WRITE_REDIRECTS = frozenset({">", ">>", "&>", "&>>", ">|", "<>"})
_RISKY_GIT_KEYS = re.compile(
    r"^(core\.(fsmonitor|hookspath|sshcommand|pager|editor|askpass|gitproxy|"
    r"alternaterefscommand)|sequence\.editor|diff\.external|diff\..*\.(textconv|command)|"
    r"filter\..*\.(clean|smudge|process)|merge\..*\.driver|credential\..*|gpg\..*program|"
    r"uploadpack\..*|receivepack\..*|protocol\..*\.allow|alias\..*|pager\..*|"
    r"interactive\.difffilter|url\..*\.insteadof|url\..*\.pushinsteadof|remote\..*\.(uploadpack|receivepack|proxy)|"
    r"include\.path|includeif\..*|http\..*proxy|https\..*proxy|core\.hookspath|ssh\..*|"
    r"sendemail\..*|web\.browser|browser\..*|man\..*|init\.templatedir|submodule\..*\.update)$",
    re.IGNORECASE,
)
_GIT_READ = frozenset({
    "status", "log", "diff", "show", "blame", "annotate", "grep", "ls-files", "ls-tree",
    "rev-parse", "describe", "shortlog", "cat-file", "rev-list", "whatchanged", "count-objects",
    "fsck", "check-ignore", "check-attr", "diff-tree", "diff-files", "diff-index", "name-rev",
    "for-each-ref", "show-ref", "show-branch", "var", "verify-commit", "verify-tag", "help",
    "version", "merge-base", "cherry", "range-diff", "ls-remote", "archive", "bugreport",
    "format-patch", "get-tar-commit-id", "check-ref-format", "column", "hash-object",
    "verify-pack", "check-mailmap",
})
_GIT_NETWORK = frozenset({"clone", "fetch", "pull", "push", "ls-remote"})
_GIT_CONFIG_READ_FLAGS = frozenset({
    "--get", "--get-all", "--get-regexp", "--get-urlmatch", "--list", "-l", "--get-color",
    "--get-colorbool", "--show-origin", "--show-scope", "--name-only",
})
_DECODERS = ("base64", "base32", "basenc", "uudecode")
# Programs that never open a connection themselves: a URL in their arguments is text
# (a grep pattern, a commit message). Their own network semantics are handled (git).
_NO_URL_SCAN_EXTRA = frozenset({"git", "cd", "pushd", "popd", "set", "export", "trap"})


def _family(name: str) -> str:
    m = _PY_RE.match(name)
    if m:
        return m.group(1).replace("pypy", "python")
    if name.startswith("python"):
        return "python"
    return name


# --- option parsing ------------------------------------------------------------------------


def getopt(
    args: Sequence[Word],
    short_val: str = "",
    long_val: Iterable[str] = (),
    *,
    stop_at_positional: bool = False,
) -> tuple[list[tuple[str, Word | None]], list[Word]]:
    """Split ``args`` into options and positionals, getopt-style.

    ``short_val``: short options that take a value (attached or next word);
    ``long_val``: long options that take a value when not given with ``=``.
    """
    long_set = frozenset(long_val)
    opts: list[tuple[str, Word | None]] = []
    pos: list[Word] = []
    i = 0
    n = len(args)
    while i < n:
        w = args[i]
        t = w.text
        if w.dynamic or w.procsub or t == "-" or not t.startswith("-"):
            pos.append(w)
            if stop_at_positional:
                pos.extend(args[i + 1 :])
                break
            i += 1
            continue
        if t == "--":
            pos.extend(args[i + 1 :])
            break
        if t.startswith("--"):
            name, eq, val = t.partition("=")
            if eq:
                opts.append((name, w.sub(val)))
            elif name in long_set and i + 1 < n:
                opts.append((name, args[i + 1]))
                i += 1
            else:
                opts.append((name, None))
            i += 1
            continue
        j = 1
        while j < len(t):
            c = t[j]
            if c in short_val:
                rest = t[j + 1 :]
                if rest:
                    opts.append(("-" + c, w.sub(rest)))
                elif i + 1 < n:
                    opts.append(("-" + c, args[i + 1]))
                    i += 1
                else:
                    opts.append(("-" + c, None))
                break
            opts.append(("-" + c, None))
            j += 1
        i += 1
    return opts, pos


def _has(opts: Sequence[tuple[str, Word | None]], *names: str) -> bool:
    return any(o in names for o, _ in opts)


def _vals(opts: Sequence[tuple[str, Word | None]], *names: str) -> list[Word]:
    return [v for o, v in opts if o in names and v is not None]


# --- host parsing --------------------------------------------------------------------------


def split_host_port(text: str, default_port: int | None = None) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]:port``, ``user@host:port``, bare IPv6 literals."""
    s = text.strip()
    if "@" in s:
        s = s.rpartition("@")[2]
    if s.startswith("["):
        host, _, rest = s[1:].partition("]")
        port = _port(rest[1:]) if rest.startswith(":") else None
        return host, port if port is not None else default_port
    if s.count(":") == 1:
        host, _, p = s.partition(":")
        port = _port(p)
        return host, port if port is not None else default_port
    return s, default_port


def _port(text: str) -> int | None:
    m = re.match(r"^(\d{1,5})", text)
    if not m:
        return None
    v = int(m.group(1))
    return v if 0 < v < 65536 else None


def url_host(url: str) -> tuple[str, int | None, str] | None:
    """(host, port, scheme) of a URL, or None when it names no host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    transport = scheme.rpartition("+")[2] if "+" in scheme else scheme
    host = parts.hostname
    if not host:
        netloc = parts.netloc.rpartition("@")[2]
        if netloc.startswith("["):
            host = netloc[1:].partition("]")[0]
        else:
            host = netloc.partition(":")[0] if netloc.count(":") <= 1 else netloc
    if not host or transport == "file":
        return None
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = _DEFAULT_PORTS.get(transport)
    return host, port, transport


def scp_remote(text: str) -> str | None:
    """The host of an scp/rsync-style remote ``[user@]host:path`` (None: a local path)."""
    if "://" in text:
        return None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host if rest.startswith(":") and host else None
    head, sep, _ = text.partition(":")
    if not sep or "/" in head or not head:
        return None
    host = head.rpartition("@")[2]
    return host or None


# --- the walker ----------------------------------------------------------------------------

Handler = Callable[["_Walker", "_Call"], None]


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


class _Walker:
    def __init__(self, resolver: PathResolver) -> None:
        self.resolver = resolver
        self.paths: list[PathFact] = []
        self.hosts: list[HostFact] = []
        self.opaque: list[OpaqueConstruct] = []
        self.commands: list[ShellCommand] = []
        self.parse_error = False
        self._path_keys: dict[tuple[str, str, str, str], PathFact] = {}
        self._host_keys: set[tuple[str, int | None]] = set()
        self._opaque_keys: set[tuple[str, str]] = set()
        self._command_keys: set[tuple[str, tuple[str, ...], str | None]] = set()
        self._nodes = 0  # current syntax nesting
        self._visits = 0  # nodes walked so far
        self.exhausted = False
        self.glob_flags: set[str] = set()  # shell options assumed on: dotglob, globstar ...
        self._expanded = 0  # facts added by pattern expansion
        self._walk_left = MAX_WALKED_ENTRIES
        self._walks: dict[tuple[str, Recursion], WalkResult | None] = {}

    # --- recording -------------------------------------------------------------------

    def add_opaque(self, construct: str, text: str) -> None:
        snippet = text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."
        key = (construct, snippet)
        if key not in self._opaque_keys:
            self._opaque_keys.add(key)
            self.opaque.append(OpaqueConstruct(construct=construct, text=snippet))

    def add_host(self, host: str, port: int | None, via: str, *, dynamic: bool = False) -> None:
        h = host.strip().strip("[]").rstrip(".").lower()
        if not h or any(c.isspace() for c in h):
            return
        key = (h, port)
        if key in self._host_keys:
            return
        self._host_keys.add(key)
        if dynamic or "$" in h or "`" in h:
            self.hosts.append(HostFact(host=h, port=port, via=via, dynamic=True))
        else:
            self.hosts.append(HostFact(host=h, port=port, via=via))

    def add_url(self, text: str, via: str, *, dynamic: bool = False, default_scheme: str = "") -> bool:
        """Record the host of a URL (``default_scheme`` for schemeless ones). True if one was found."""
        url = text
        if "://" not in url:
            if not default_scheme or not url or url.startswith(("/", ".", "-", "@")):
                return False
            url = f"{default_scheme}://{url}"
        found = url_host(url)
        if found is None:
            return False
        self.add_host(found[0], found[1], via, dynamic=dynamic)
        return True

    def scan_urls(self, words: Iterable[Word], via: str) -> None:
        for w in words:
            if "://" not in w.text:
                continue
            for m in _URL_RE.finditer(w.text):
                scheme = m.group(1).lower()
                if scheme.rpartition("+")[2] in _DEFAULT_PORTS or scheme in ("ext", "fd"):
                    self.add_url(m.group(0), via, dynamic=w.dynamic)

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
    ) -> None:
        if w.procsub or not w.text:
            return
        if via != "redirect" and w.text == "-":
            return
        context = ctx if ctx is not None else call.ctx if call is not None else None
        assert context is not None
        prog = program if program is not None else call.name if call is not None else None
        for cwd in cwds if cwds is not None else context.cwds:
            fact = self.resolver.fact(
                w.text, op, cwd=cwd, via=via, program=prog,
                dynamic=w.dynamic or context.cwd_dynamic, inferred=inferred, implicit=implicit,
            )
            self._record(fact, recursive)
            if w.glob is not None:
                self._expand(w, w.glob, op, cwd, via, prog, inferred, implicit, recursive)

    def _record(self, fact: PathFact, recursive: Recursion | None) -> None:
        key = (fact.raw, fact.real, fact.path, fact.op)
        known = self._path_keys.get(key)
        if known is None:
            self._path_keys[key] = known = fact
            self.paths.append(fact)
        if recursive is not None:
            self._recurse(known, recursive)

    def _expand(
        self,
        w: Word,
        pattern: str,
        op: PathOp,
        cwd: str,
        via: PathVia,
        program: str | None,
        inferred: bool,
        implicit: bool,
        recursive: Recursion | None,
    ) -> None:
        """One fact per word the pattern expands to (brace, then pathname expansion)."""
        try:
            words: list[str] = []
            for p in brace_expand(pattern):
                if not has_glob(p):
                    words.append(unquote_pattern(p))
                    continue
                if "extglob" in self.glob_flags and "(" in p:
                    raise GlobTooBroad(p)  # extglob syntax is not matched here
                matches = self.resolver.expand_glob(
                    p, cwd, dotglob="dotglob" in self.glob_flags,
                    nocase="nocaseglob" in self.glob_flags,
                    globstar="globstar" in self.glob_flags,
                )
                words.extend(matches or [unquote_pattern(p)])
                if len(words) > MAX_GLOB_MATCHES:
                    raise GlobTooBroad(p)
        except GlobTooBroad:
            self.add_opaque(
                "glob-too-broad",
                f"{w.text} expands to more than {MAX_GLOB_MATCHES} paths; name fewer files",
            )
            return
        for text in words:
            if text == w.text or not text:
                continue
            self._expanded += 1
            if self._expanded > MAX_EXPANDED_FACTS:
                self.add_opaque(
                    "glob-too-broad",
                    f"the patterns expand to more than {MAX_EXPANDED_FACTS} paths; name fewer files",
                )
                return
            fact = self.resolver.fact(
                text, op, cwd=cwd, via=via, program=program, dynamic=True,
                inferred=inferred, implicit=implicit,
            )
            fact.raw = w.text
            self._record(fact, recursive)

    def _recurse(self, fact: PathFact, how: Recursion) -> None:
        """Mark a directory read recursively and list what the program may read under it."""
        if not fact.inside_workspace or fact.special or fact.real.startswith("/"):
            return
        container = CONTAINER_WORKSPACE if fact.real == "." else f"{CONTAINER_WORKSPACE}/{fact.real}"
        key = (container, how)
        if key not in self._walks:
            if self._walk_left <= 0:
                self._walks[key] = WalkResult([], True, 0)
            else:
                self._walks[key] = self.resolver.walk(
                    container, hidden=how.hidden, follow=how.follow, keep=how.keep,
                    keep_dirs=how.keep_dirs, limit=min(MAX_WALK_ENTRIES, self._walk_left),
                )
            found = self._walks[key]
            if found is not None:
                self._walk_left -= max(found.scanned, 1)
        result = self._walks[key]
        if result is None:
            return  # not a directory (a file is read as itself)
        extra = fact.__pydantic_extra__
        assert extra is not None  # PathFact allows extra fields
        extra["recursive"] = True
        before: list[str] = extra.get("contents") or []
        extra["contents"] = sorted({*before, *result.contents})
        if result.truncated or extra.get("contents_truncated"):
            extra["contents_truncated"] = True

    def add_command(self, program: str, argv: list[str], wrapper: str | None) -> None:
        key = (program, tuple(argv), wrapper)
        if key in self._command_keys:
            return
        self._command_keys.add(key)
        self.commands.append(ShellCommand(program=program, argv=argv, wrapper=wrapper))

    def environ_read(self, call: _Call) -> None:
        self.add_path(Word("/proc/self/environ"), "read", call, implicit=True)

    # --- scripts ---------------------------------------------------------------------

    def run_script(self, text: str, ctx: _Ctx, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.add_opaque("nesting-too-deep", text)
            return
        for option in _GLOB_OPTIONS:
            if option in text:
                self.glob_flags.add(option)
        if "GLOBIGNORE" in text:
            self.glob_flags.add("dotglob")  # setting GLOBIGNORE turns dotglob on
        tree = _parser().parse(text.encode("utf-8", "surrogatepass"))
        root = tree.root_node
        if root.has_error:
            self.parse_error = True
            self.add_opaque("parse-error", _error_snippet(root, text))
        self.walk(root, ctx, None, depth)

    def run_script_file(self, w: Word, call: _Call, *, same_shell: bool,
                        require_shebang: bool) -> None:
        """Analyse a shell script the command runs, read from the workspace on the host.

        What the script will run becomes visible to the policy (it may have been
        written by the agent a moment ago). ``source`` runs it in this shell (its
        ``cd`` and variables carry on); ``bash script`` and ``./script`` in a new one.
        Scripts outside the workspace, missing or too large are left to the exec fact; a
        masked script is empty (as in the container); one that is there but cannot be read
        safely (a FIFO, or a link swapped in since it was resolved) is opaque.
        """
        if w.dynamic or w.procsub or self.resolver.workspace is None:
            return
        text = self._script_text(w, call.ctx.cwds[0])
        if text is None:
            return
        first = text.split("\n", 1)[0]
        if first.startswith("#!"):
            interpreter = first[2:].strip().split()
            names = [posixpath.basename(x) for x in interpreter[:2]]
            if not any(n in SHELLS for n in names):
                return  # a Python/Node/... script: not shell syntax
        elif require_shebang and "\x00" in text:
            return  # a binary
        for cwd in call.ctx.cwds[1:]:  # the same name may be a different file elsewhere
            other = self._script_text(w, cwd)
            if other is not None and other != text:
                self.add_opaque("dynamic-source", " ".join(a.text for a in call.argv))
        ctx = call.ctx if same_shell else call.ctx.child_shell()
        self.run_script(text, ctx, call.depth + 1)

    def _script_text(self, w: Word, cwd: str) -> str | None:
        try:
            return self.resolver.read_text(absolute(w.text, cwd), MAX_SCRIPT_BYTES)
        except HostReadRefused as exc:
            self.add_opaque("unreadable-script", f"{w.text}: {exc.reason}")
            return None

    def shell_string(self, w: Word | None, call: _Call, construct_text: str) -> None:
        """A command string run by a new shell (``bash -c``, ``su -c``, ``watch``, ``trap``)."""
        if w is None:
            return
        if w.dynamic or w.procsub:
            self.add_opaque("dynamic-shell-string", construct_text)
            return
        self.run_script(w.text, call.ctx.child_shell(), call.depth + 1)

    # --- syntax walk -----------------------------------------------------------------

    def walk(self, node: Node, ctx: _Ctx, stdin: _Stdin | None, depth: int) -> None:
        if self.exhausted:
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
        for c in node.named_children:
            if c is not body and c != body and c.type != "variable_name":
                self.walk(c, ctx, stdin, depth)
        if var is not None:
            # `for f in .e*; do cat "$f"; done`: the body sees each value only as "$f", so
            # the values (and what their patterns match) count as reads where they are listed
            for i, c in enumerate(node.children):
                if node.field_name_for_child(i) == "value":
                    w = self.word(c, ctx)
                    if w.dynamic and w.glob is None:
                        continue  # $(...), $VAR: nothing to see statically
                    if not w.text.startswith("-") and "://" not in w.text:
                        self.add_path(w, "read", None, ctx=ctx, program="for", inferred=True)
        if body is None:
            return
        for _ in range(2):  # a second pass sees what a first iteration's `cd` changed
            sub = ctx.copy()
            sub.conditional += 1
            self.walk(body, sub, stdin, depth)
            sub.conditional -= 1
            before = list(ctx.cwds)
            ctx.absorb(sub)
            if ctx.cwds == before:
                break

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
        if w is None or w.dynamic or appending or value is None or value.type == "array" or (ctx.conditional and ctx.vars.get(name) != w.text):
            ctx.vars[name] = None
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

    # --- words -----------------------------------------------------------------------

    def word(self, node: Node, ctx: _Ctx) -> Word:
        text, dynamic, unquoted = self._eval(node, ctx)
        globbing = bool(unquoted) and bool(_GLOB_CHARS.search(unquoted) or _BRACE.search(unquoted))
        pattern: str | None = None
        if globbing or dynamic:
            pattern = self._pattern(node, ctx)
            if pattern is not None and not (has_glob(pattern) or has_brace(pattern)):
                pattern = None
        return Word(text, dynamic or globbing, node.type == "process_substitution", pattern)

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
                    v, d, _ = self._eval(c, ctx)
                    if c.type in ("simple_expansion", "expansion") and not d:
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
            return raw, True, ""
        return raw, True, ""

    def _var(self, name: str, ctx: _Ctx) -> str | None:
        if name in ctx.vars:
            return ctx.vars[name]
        if name == "PWD" and len(ctx.cwds) == 1 and not ctx.cwd_dynamic:
            return ctx.cwds[0]
        return None

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
            argv = [self.word(name_node, ctx), *(self.word(a, ctx) for a in arg_nodes)]
            program = self.execute(argv, ctx, stdin, depth, env, None)
        for r in redirects:
            self._redirect(r, ctx, program, depth, None)
        return program

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
        if not argv:
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
            self.run_script_file(prog, call, same_shell=False, require_shebang=True)
        elif name in ctx.funcs and wrapper is None:
            if depth + 1 > MAX_DEPTH:
                self.add_opaque("nesting-too-deep", name)
            else:
                self.walk(ctx.funcs[name], ctx, stdin, depth + 1)
            return name
        family = _family(name)
        handler = _HANDLERS.get(family)
        if handler is not None:
            handler(self, call)
        elif name not in _NO_FILE_PROGRAMS:
            self.inferred_reads(call, call.args)
        if family not in _NO_URL_SCAN:
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

    # --- stdin scripts ---------------------------------------------------------------

    def stdin_program(self, call: _Call, shell: bool) -> None:
        """A shell or interpreter that reads its program from stdin."""
        s = call.stdin
        if s is None:
            return
        label = " ".join(w.text for w in call.argv)
        if s.kind == "pipe":
            decoded = any(_is_decoder(p, argv) for p, argv in s.upstream)
            self.add_opaque("base64-to-shell" if decoded else "pipe-to-shell", label)
        elif s.kind == "file":
            if s.word is not None:
                if s.word.procsub:
                    self.add_opaque("process-substitution-script", label)
                else:
                    self.add_path(s.word, "exec", call, via="redirect")
        elif not shell:
            self.add_opaque("inline-interpreter", label)
        elif s.text is None:
            self.add_opaque("dynamic-shell-string", label)
        else:
            self.run_script(s.text, call.ctx.child_shell(), call.depth + 1)


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


_PLAIN_WORDS = frozenset({"word", "raw_string", "number", "ansi_c_string"})


def _may_substitute(node: Node) -> bool:
    """Whether a word could hold a command or process substitution (else no need to walk it)."""
    if node.type in _PLAIN_WORDS:
        return False
    data = node.text or b""
    return b"$" in data or b"`" in data or b"<(" in data or b">(" in data or node.has_error


def _text(node: Node) -> str:
    data = node.text
    return data.decode("utf-8", "surrogatepass") if data is not None else ""


def _redirect_op(r: Node) -> str:
    for c in r.children:
        if not c.is_named and c.type not in ("ERROR",):
            return c.type
    return ""


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


# --- program handlers ----------------------------------------------------------------------


@dataclass(frozen=True)
class FileSpec:
    """How a file program treats its operands."""

    op: PathOp
    short_val: str = ""
    long_val: frozenset[str] = frozenset()
    skip_first: bool = False  # the first positional is not a file (pattern, mode, owner ...)
    skip_first_unless: frozenset[str] = frozenset()  # ... unless one of these options is given
    read_opts: frozenset[str] = frozenset()  # options whose value is a file read
    write_opts: frozenset[str] = frozenset()  # options whose value is a file written
    write_flags: frozenset[str] = frozenset()  # flags that make the operands writes (sed -i)
    read_flags: frozenset[str] = frozenset()  # flags that make the operands reads (gzip -c)
    first_only: bool = False  # only the first positional is a file (mknod)
    second_writes: bool = False  # IN [OUT]: the second positional is written (uniq, xxd)
    # how the program reads directories it is given (grep -r), None: not recursively
    recurse: Callable[[_Call, list[tuple[str, Word | None]]], Recursion | None] | None = None


def _fs(op: PathOp, short_val: str = "", long_val: str = "", **kw: object) -> FileSpec:
    conv: dict[str, object] = {}
    for k, v in kw.items():
        conv[k] = frozenset(str(v).split()) if isinstance(v, str) else v
    return FileSpec(op, short_val, frozenset(long_val.split()), **conv)  # type: ignore[arg-type]


def _name_filter(values: Sequence[Word]) -> Callable[[str], bool] | None:
    """Keep names matching any of the globs (None: unknown, keep everything)."""
    patterns = [v.text for v in values]
    if not patterns or any("$" in p or "`" in p or "/" in p for p in patterns):
        return None
    return lambda name: any(fnmatch_name(p, name) for p in patterns)


def _grep_recursion(call: _Call, opts: list[tuple[str, Word | None]]) -> Recursion | None:
    if not (
        call.name == "rgrep"
        or _has(opts, "-r", "-R", "--recursive", "--dereference-recursive")
        or any(v.text == "recurse" for v in _vals(opts, "-d", "--directories"))
    ):
        return None
    # -r follows symbolic links only on the command line, -R all of them
    follow = call.name == "rgrep" or _has(opts, "-R", "--dereference-recursive")
    return Recursion(follow=follow, keep=_name_filter(_vals(opts, "--include")))


def _rg_recursion(call: _Call, opts: list[tuple[str, Word | None]]) -> Recursion | None:
    if _has(opts, "--files", "--type-list"):
        return None  # lists names, reads no file
    names = [o for o, _ in opts]
    config = "RIPGREP_CONFIG_PATH" in call.env  # a config file may add any flag
    hidden = (
        config or _has(opts, "--hidden", "-.")
        or names.count("-u") + names.count("--unrestricted") >= 2
    )
    return Recursion(hidden=hidden, follow=config or _has(opts, "-L", "--follow"))


def _ag_recursion(call: _Call, opts: list[tuple[str, Word | None]]) -> Recursion | None:
    hidden = _has(opts, "--hidden", "-u", "--unrestricted")
    return Recursion(hidden=hidden, follow=_has(opts, "-f", "--follow"))


def _ack_recursion(call: _Call, opts: list[tuple[str, Word | None]]) -> Recursion | None:
    if _has(opts, "-n", "--no-recurse"):
        return None
    return ALL if _has(opts, "--follow") else NO_LINKS


def _diff_recursion(call: _Call, opts: list[tuple[str, Word | None]]) -> Recursion | None:
    return ALL if _has(opts, "-r", "--recursive") else None


_READ = _fs("read")
_GREP = _fs(
    "read", "efABCmdD",
    "--regexp --file --after-context --before-context --context --max-count --include "
    "--exclude --exclude-from --exclude-dir --label --devices --directories --binary-files "
    "--group-separator",
    skip_first=True, skip_first_unless="-e -f --regexp --file", read_opts="-f --file --exclude-from",
    recurse=_grep_recursion,
)
_RG = _fs(
    "read", "efgtTjmMACrEd",
    "--regexp --file --glob --iglob --type --type-not --threads --max-count --max-columns "
    "--after-context --before-context --context --replace --encoding --max-depth --type-add "
    "--ignore-file --pre --pre-glob --sort --sortr --max-filesize --path-separator --colors",
    skip_first=True, skip_first_unless="-e -f --regexp --file --files --type-list",
    read_opts="-f --file --ignore-file", recurse=_rg_recursion,
)
_WRITE = _fs("write")
FILE_PROGRAMS: dict[str, FileSpec] = {
    **{p: _READ for p in ["cat", "tac", "nl", "strings", "base32", "basenc", "md5sum", "sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum", "b2sum", "cksum", "sum", "file", "stat", "less", "more", "most", "wc", "cmp", "comm", "paste", "rev", "zcat", "bzcat", "xzcat", "zless", "zmore", "bat", "batcat", "view", "lsattr", "getfacl", "readlink", "realpath", "tsort", "expand", "unexpand", "fmt", "fold", "look", "hd", "md5", "shasum", "sha1", "dos2unix-check"]},
    "base64": _fs("read", "w", "--wrap"),
    "od": _fs("read", "AtNjw", "--address-radix --format --read-bytes --skip-bytes --width"),
    "hexdump": _fs("read", "nsef", read_opts="-f"),
    "xxd": _fs("read", "cglso", "--cols --groupsize --len --seek", second_writes=True),
    "head": _fs("read", "nc", "--lines --bytes"),
    "tail": _fs("read", "ncsF", "--lines --bytes --sleep-interval --pid --max-unchanged-stats"),
    "ls": _fs("read", "ITw", "--ignore --hide --tabsize --width --format --sort --time --color"),
    "dir": _fs("read", "ITw"),
    "tree": _fs("read", "LIPo", "--filelimit --charset", write_opts="-o"),
    "du": _fs("read", "dBt", "--max-depth --block-size --threshold --exclude --exclude-from",
              read_opts="--exclude-from -X"),
    "diff": _fs("read", "UCxXIFL", "--unified --context --exclude --exclude-from --label "
                "--ignore-matching-lines --show-function-line --from-file --to-file",
                read_opts="-X --exclude-from --from-file --to-file", recurse=_diff_recursion),
    "diff3": _fs("read", "L", "--label"),
    "sdiff": _fs("read", "ow", "--output --width", write_opts="-o --output"),
    "cut": _fs("read", "dfbc", "--delimiter --fields --bytes --characters --output-delimiter"),
    "column": _fs("read", "sctoNR"),
    "join": _fs("read", "t12joe"),
    "sort": _fs("read", "koStT", "--key --output --buffer-size --field-separator "
                "--temporary-directory --parallel --files0-from --random-source",
                write_opts="-o --output", read_opts="--files0-from --random-source"),
    "uniq": _fs("read", "fsw", "--skip-fields --skip-chars --check-chars", second_writes=True),
    "shuf": _fs("read", "nio", "--head-count --input-range --output --random-source",
                write_opts="-o --output"),
    "iconv": _fs("read", "fto", "--from-code --to-code --output", write_opts="-o --output"),
    "pr": _fs("read", "hlwoNsSeinTD"),
    "grep": _GREP, "egrep": _GREP, "fgrep": _GREP, "rgrep": _GREP, "zgrep": _GREP,
    "rg": _RG, "ag": _fs("read", "ABCGgmp", "--file-search-regex --ignore --depth --pager",
                         skip_first=True, recurse=_ag_recursion),
    "ack": _fs("read", "ABCm", "--type --ignore-dir --ignore-file", skip_first=True,
               recurse=_ack_recursion),
    "jq": _fs("read", "fL", "--from-file --arg --argjson --slurpfile --rawfile --indent --args",
              skip_first=True, skip_first_unless="-f --from-file", read_opts="-f --from-file"),
    "yq": _fs("read", "I", "--indent --output-format --input-format",
              skip_first=True, skip_first_unless="-f --from-file"),
    **{p: _WRITE for p in ["rm", "rmdir", "unlink", "tee", "sponge", "vi", "vim", "nvim", "nano", "emacs", "ed", "ex", "pico", "micro", "joe", "dos2unix", "unix2dos"]},
    "touch": _fs("write", "drt", "--date --reference", read_opts="-r --reference"),
    "mkdir": _fs("write", "m", "--mode --context"),
    "shred": _fs("write", "ns", "--iterations --size --random-source"),
    "truncate": _fs("write", "sr", "--size --reference", read_opts="-r --reference"),
    "mkfifo": _fs("write", "mZ", "--mode"),
    "mknod": _fs("write", "mZ", "--mode", first_only=True),
    "chmod": _fs("write", "", "--reference", skip_first=True,
                 skip_first_unless="--reference", read_opts="--reference"),
    "chown": _fs("write", "", "--reference --from", skip_first=True,
                 skip_first_unless="--reference", read_opts="--reference"),
    "chgrp": _fs("write", "", "--reference", skip_first=True,
                 skip_first_unless="--reference", read_opts="--reference"),
    "chattr": _fs("write", "pv", skip_first=True),
    "setfacl": _fs("write", "mMxX", "--modify --modify-file --remove --remove-file --set "
                   "--set-file", read_opts="-M -X --modify-file --remove-file --set-file"),
    "rename": _fs("write", "", skip_first=True),
    "prename": _fs("write", "", skip_first=True),
    "gzip": _fs("write", "S", "--suffix", read_flags="-c --stdout --to-stdout -l --list -t --test"),
    **{p: _fs("write", "S", "--suffix", read_flags="-c --stdout --to-stdout -l --list -t --test -k --keep")
       for p in ["gunzip", "bzip2", "bunzip2", "xz", "unxz", "lzma", "unlzma", "zstd", "unzstd", "lz4", "compress", "uncompress"]},
    "split": _fs("read", "lbnaCt", "--lines --bytes --number --suffix-length "
                 "--additional-suffix --line-bytes --separator --filter", second_writes=True),
    "csplit": _fs("read", "fbn", "--prefix --suffix-format --digits", first_only=True),
}


def _file_program(w: _Walker, call: _Call, spec: FileSpec) -> None:
    opts, pos = getopt(call.args, spec.short_val, spec.long_val)
    op = spec.op
    if spec.write_flags and _has(opts, *spec.write_flags):
        op = "write"
    if spec.read_flags and _has(opts, *spec.read_flags):
        op = "read"
    for v in _vals(opts, *spec.read_opts):
        w.add_path(v, "read", call)
    for v in _vals(opts, *spec.write_opts):
        w.add_path(v, "write", call)
    if spec.skip_first and pos and not (spec.skip_first_unless and _has(opts, *spec.skip_first_unless)):
        pos = pos[1:]
    if spec.first_only:
        pos = pos[:1]
    if spec.second_writes and len(pos) >= 2:
        w.add_path(pos[1], "write", call)
        for extra in pos[2:]:
            w.add_path(extra, "read", call, inferred=True)
        pos = pos[:1]
    recursive = spec.recurse(call, opts) if spec.recurse is not None else None
    if recursive is not None and not pos and not (call.name in ("rg", "ag", "ack") and call.stdin):
        pos = [Word(".")]  # grep -r, rg ... without a path search the working directory
    for p in pos:
        w.add_path(p, op, call, recursive=recursive)


def _wrapper_target(
    w: _Walker, call: _Call, short_val: str, long_val: str = "", *, skip: int = 0
) -> tuple[list[tuple[str, Word | None]], list[Word]]:
    opts, pos = getopt(call.args, short_val, long_val.split(), stop_at_positional=True)
    return opts, pos[skip:]


def _h_env(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "uCS", ["--unset", "--chdir", "--split-string"],
                       stop_at_positional=True)
    env: dict[str, str] = {}
    while pos and "=" in pos[0].text and not pos[0].text.startswith("="):
        k, _, v = pos[0].text.partition("=")
        env[k] = v
        pos = pos[1:]
    w._env_hosts(env)
    ctx = call.ctx
    chdir = _vals(opts, "-C", "--chdir")
    if chdir:
        ctx = _cd_ctx(w, call, chdir[-1])
    split = _vals(opts, "-S", "--split-string")
    if split:
        rest = " ".join(_shell_quote(p.text) for p in pos)
        w.shell_string(split[-1].sub(f"{split[-1].text} {rest}".strip()), call, split[-1].text)
        return
    if not pos:
        w.environ_read(call)
        return
    w.inner(call, pos, "env", ctx=ctx, env=env)


def _shell_quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def _cd_ctx(w: _Walker, call: _Call, target: Word) -> _Ctx:
    ctx = call.ctx.copy()
    if target.dynamic:
        w.add_opaque("dynamic-cd", target.text)
        ctx.cwd_dynamic = True
    ctx.cwds = [normalize(absolute(target.text, c)) for c in ctx.cwds]
    return ctx


def _simple_wrapper(short_val: str, long_val: str = "", *, skip: int = 0) -> Handler:
    def handler(w: _Walker, call: _Call) -> None:
        _, pos = _wrapper_target(w, call, short_val, long_val, skip=skip)
        w.inner(call, pos, call.name)
    return handler


def _h_time(w: _Walker, call: _Call) -> None:
    opts, pos = _wrapper_target(w, call, "fo", "--format --output")
    for v in _vals(opts, "-o", "--output"):
        w.add_path(v, "write", call)
    w.inner(call, pos, call.name)


def _h_command(w: _Walker, call: _Call) -> None:
    opts, pos = _wrapper_target(w, call, "")
    if _has(opts, "-v", "-V"):
        return  # a lookup, nothing runs
    w.inner(call, pos, call.name)


def _h_exec(w: _Walker, call: _Call) -> None:
    _, pos = _wrapper_target(w, call, "a")
    if not pos:
        w.add_opaque("exec-fd", " ".join(a.text for a in call.argv))
        return
    w.inner(call, pos, "exec")


def _h_sudo(w: _Walker, call: _Call) -> None:
    opts, pos = _wrapper_target(
        w, call, "ugCDhprtTUR",
        "--user --group --close-from --chdir --host --prompt --role --type --command-timeout "
        "--other-user --chroot",
    )
    if _has(opts, "-l", "--list", "-v", "--validate", "-k", "-K", "-e", "--edit"):
        if _has(opts, "-e", "--edit"):
            for p in pos:
                w.add_path(p, "write", call)
        return
    ctx = call.ctx
    chdir = _vals(opts, "-D", "--chdir")
    if chdir:
        ctx = _cd_ctx(w, call, chdir[-1])
    if _has(opts, "-s", "--shell", "-i", "--login"):
        if pos:
            w.shell_string(Word(" ".join(_shell_quote(p.text) for p in pos),
                                any(p.dynamic for p in pos)), call, " ".join(p.text for p in pos))
        else:
            w.stdin_program(call, shell=True)
        return
    w.inner(call, pos, call.name, ctx=ctx)


_XARGS_ADVICE = "list the files in the command, not via xargs: "
_FILE_LIST_ADVICE = "list the files in the command, not via stdin: "


def _h_xargs(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(
        call.args, "adEIiLlnPs",
        ["--arg-file", "--delimiter", "--eof", "--replace", "--max-lines", "--max-args",
         "--max-procs", "--max-chars", "--process-slot-var"],
        stop_at_positional=True,
    )
    for v in _vals(opts, "-a", "--arg-file"):
        w.add_path(v, "read", call)
    if not pos:
        pos = [Word("echo")]
    name = posixpath.basename(pos[0].text.rstrip("/")) or pos[0].text
    if pos[0].dynamic or name not in _NO_FILE_PROGRAMS:
        # the program gets names that come from data (stdin, -a FILE): not knowable here
        w.add_opaque("xargs-dynamic-args", _XARGS_ADVICE + " ".join(a.text for a in call.argv))
    repl = _vals(opts, "-I", "--replace", "-i")
    if repl or _has(opts, "-i", "--replace"):
        token = repl[-1].text if repl else "{}"
        pos = [pos[0]] + [p.sub(p.text) if token not in p.text else Word(p.text, True) for p in pos[1:]]
    else:
        pos = [*pos, Word("{}", True)]  # the items read from stdin
    w.execute(pos, call.ctx, None, call.depth + 1, call.env, "xargs")


def _h_find(w: _Walker, call: _Call) -> None:
    args = call.args
    starts: list[Word] = []
    i = 0
    while i < len(args) and not (args[i].text.startswith(("-", "(", "!", ",")) and not args[i].dynamic):
        starts.append(args[i])
        i += 1
    if not starts:
        starts = [Word(".")]
    for s in starts:
        w.add_path(s, "read", call)
    expr = args[i:]
    j = 0
    filtered = False
    while j < len(expr):
        t = expr[j].text
        if t in ("-exec", "-execdir", "-ok", "-okdir"):
            k = j + 1
            while k < len(expr) and expr[k].text not in (";", "+"):
                k += 1
            inner = expr[j + 1 : k]
            if not filtered:
                keep, keep_dirs = _find_filter(expr[:j])
                filtered = True
            prog = inner[0] if inner else None
            if prog is not None and any("{}" in a.text for a in inner[1:]) and (
                prog.dynamic or posixpath.basename(prog.text) not in _NO_FILE_PROGRAMS
            ):
                # the program gets every file the expression selects under each start
                for s in starts:
                    name = posixpath.basename(s.text.rstrip("/")) or s.text
                    top = keep is None or (keep_dirs and keep(name))
                    how = ALL if top else Recursion(keep=keep, keep_dirs=keep_dirs)
                    w.add_path(s, "read", call, recursive=how)
            for s in starts:
                base = s.text.rstrip("/") or "/"
                argv = [
                    Word(a.text.replace("{}", f"{base}/{{}}"), True) if "{}" in a.text else a
                    for a in inner
                ]
                if argv:
                    w.execute(argv, call.ctx, None, call.depth + 1, call.env, "find")
            j = k + 1
            continue
        if t == "-delete":
            for s in starts:
                w.add_path(Word(s.text, True), "write", call)
        elif t in ("-fprint", "-fprint0", "-fls", "-fprintf") and j + 1 < len(expr):
            w.add_path(expr[j + 1], "write", call)
        elif t == "-files0-from" and j + 1 < len(expr):
            w.add_path(expr[j + 1], "read", call)
        j += 1


# find's tests that take one value (two for -fprintf), and the ones that take none.
_FIND_VALUED = frozenset({
    "-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-regex", "-iregex",
    "-type", "-xtype", "-newer", "-anewer", "-cnewer", "-perm", "-user", "-group", "-uid",
    "-gid", "-size", "-mtime", "-atime", "-ctime", "-mmin", "-amin", "-cmin", "-links", "-inum",
    "-samefile", "-maxdepth", "-mindepth", "-fstype", "-lname", "-ilname", "-used", "-printf",
    "-fprint", "-fprint0", "-fls", "-context", "-regextype", "-files0-from",
})
_FIND_FLAGS = frozenset({
    "-a", "-and", "-true", "-false", "-print", "-print0", "-ls", "-depth", "-d", "-mount",
    "-xdev", "-noleaf", "-ignore_readdir_race", "-noignore_readdir_race", "-follow", "-daystart",
    "-warn", "-nowarn", "-empty", "-readable", "-writable", "-executable", "-nouser", "-nogroup",
    "-prune", "-quit",
})


def _find_filter(expr: Sequence[Word]) -> tuple[Callable[[str], bool] | None, bool]:
    """The names an -exec can get, from the tests before it: (keep, directories count too).

    Only a plain conjunction of known tests is used, and only its -name/-iname and
    ``-type f``: leaving out a conjunct selects more files, never fewer. Anything else
    (-o, !, parentheses, unknown tests) selects everything.
    """
    names: list[tuple[str, bool]] = []
    files_only = False
    i = 0
    while i < len(expr):
        t = expr[i].text
        if expr[i].dynamic and not expr[i].glob:
            return None, True
        if t in _FIND_FLAGS:
            i += 1
            continue
        if t == "-fprintf":
            i += 3
            continue
        if t not in _FIND_VALUED or i + 1 >= len(expr):
            return None, True
        value = expr[i + 1]
        if t in ("-name", "-iname") and "$" not in value.text and "`" not in value.text:
            names.append((value.text, t == "-iname"))
        elif t == "-type" and value.text == "f":
            files_only = True
        i += 2
    if not names:
        return None, not files_only
    return (lambda name: all(fnmatch_name(p, name, nocase=nc) for p, nc in names)), not files_only


def _h_watch(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "nqd", ["--interval", "--differences"], stop_at_positional=True)
    if pos:
        w.shell_string(Word(" ".join(p.text for p in pos), any(p.dynamic for p in pos)),
                       call, " ".join(p.text for p in pos))


def _h_su(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "cgGsw", ["--command", "--group", "--shell",
                                            "--supp-group", "--whitelist-environment"])
    cmd = _vals(opts, "-c", "--command")
    if cmd:
        w.shell_string(cmd[-1], call, cmd[-1].text)
    elif call.name == "runuser" and len(pos) > 1:
        w.inner(call, pos[1:], call.name)
    else:
        w.stdin_program(call, shell=True)


def _h_script(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "cEIOTtm", ["--command", "--log-in", "--log-out",
                                              "--log-timing", "--echo", "--logging-format"])
    for c in _vals(opts, "-c", "--command"):
        w.shell_string(c, call, c.text)
    for p in pos:
        w.add_path(p, "write", call)


def _h_flock(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "wEc", ["--timeout", "--conflict-exit-code", "--command"],
                       stop_at_positional=True)
    if pos:
        w.add_path(pos[0], "write", call)
    for c in _vals(opts, "-c", "--command"):
        w.shell_string(c, call, c.text)
    if len(pos) > 1:
        w.inner(call, pos[1:], "flock")


def _h_strace(w: _Walker, call: _Call) -> None:
    opts, pos = _wrapper_target(w, call, "abeEIOopPsSuUX", "--output --trace --signal")
    for v in _vals(opts, "-o", "--output"):
        w.add_path(v, "write", call)
    w.inner(call, pos, call.name)


def _h_busybox(w: _Walker, call: _Call) -> None:
    if call.args:
        w.inner(call, call.args, "busybox")


def _h_opaque(construct: str) -> Handler:
    def handler(w: _Walker, call: _Call) -> None:
        w.add_opaque(construct, " ".join(a.text for a in call.argv))
    return handler


def _h_shell(w: _Walker, call: _Call) -> None:
    args = call.args
    opts: list[str] = []
    pos: list[Word] = []
    i = 0
    while i < len(args):
        a = args[i]
        t = a.text
        if a.dynamic or not t.startswith(("-", "+")) or t in ("-", "--"):
            if t == "--":
                i += 1
            pos = list(args[i:])
            break
        if t.startswith("--"):
            if t in ("--rcfile", "--init-file") and i + 1 < len(args):
                i += 1
            opts.append(t)
        else:
            opts.append(t)
            if ("o" in t[1:] or "O" in t[1:]) and i + 1 < len(args):
                i += 1  # -o OPTION / -O SHOPT
        i += 1
    flags = "".join(o[1:] for o in opts if not o.startswith("--"))
    label = " ".join(a.text for a in call.argv)
    if "c" in flags:
        if pos:
            w.shell_string(pos[0], call, label)
        return
    if pos and "s" not in flags and pos[0].text != "-":
        script = pos[0]
        if script.procsub:
            w.add_opaque("process-substitution-script", label)
        elif script.dynamic:
            w.add_opaque("dynamic-source", label)
        else:
            w.add_path(script, "exec", call)
            w.run_script_file(script, call, same_shell=False, require_shebang=False)
        w.inferred_reads(call, pos[1:])
        return
    w.stdin_program(call, shell=True)


def _h_fish(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "cC", ["--command", "--init-command"])
    if _vals(opts, "-c", "--command", "-C", "--init-command"):
        w.add_opaque("inline-interpreter", " ".join(a.text for a in call.argv))
    elif pos:
        w.add_path(pos[0], "exec", call)
    else:
        w.stdin_program(call, shell=False)


def _h_source(w: _Walker, call: _Call) -> None:
    if not call.args:
        return
    target = call.args[0]
    label = " ".join(a.text for a in call.argv)
    if target.procsub:
        w.add_opaque("process-substitution-script", label)
    elif target.dynamic:
        w.add_opaque("dynamic-source", label)
    elif target.text in ("/dev/stdin", "-", "/proc/self/fd/0", "/dev/fd/0"):
        w.stdin_program(call, shell=True)
    else:
        w.add_path(target, "exec", call)
        w.run_script_file(target, call, same_shell=True, require_shebang=False)


def _h_trap(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args)
    if not pos or pos[0].text in ("-", ""):
        return
    w.shell_string(pos[0], call, " ".join(a.text for a in call.argv))


def _interpreter(inline: tuple[str, ...], *, short_val: str = "", long_val: str = "",
                 bundle_inline: str = "") -> Handler:
    """Interpreters: inline program options are opaque; a script argument is executed."""

    def handler(w: _Walker, call: _Call) -> None:
        label = " ".join(a.text for a in call.argv)
        opts, pos = getopt(call.args, short_val + "".join(o[1] for o in inline if len(o) == 2),
                           long_val.split() + [o for o in inline if o.startswith("--")],
                           stop_at_positional=True)
        if _has(opts, *inline) or (bundle_inline and any(
            o[1] in bundle_inline for o, _ in opts if len(o) == 2
        )):
            w.add_opaque("inline-interpreter", label)
            return
        _interpreter_script(w, call, pos, label)

    return handler


def _interpreter_script(w: _Walker, call: _Call, pos: list[Word], label: str) -> None:
    """An interpreter's script argument (executed) and its arguments, or a script on stdin."""
    if pos and pos[0].text != "-":
        script = pos[0]
        if script.procsub:
            w.add_opaque("process-substitution-script", label)
        elif script.dynamic:
            w.add_opaque("dynamic-source", label)
        else:
            w.add_path(script, "exec", call)
        w.inferred_reads(call, pos[1:])
        return
    w.stdin_program(call, shell=False)


def _h_python(w: _Walker, call: _Call) -> None:
    label = " ".join(a.text for a in call.argv)
    opts, pos = getopt(call.args, "cmWXQ", ["--check-hash-based-pycs"], stop_at_positional=True)
    if _has(opts, "-c"):
        w.add_opaque("inline-interpreter", label)
        return
    module = _vals(opts, "-m")
    if module:
        mod = module[-1].text
        if mod == "pip":
            _h_pip(w, _Call("pip", [Word("pip"), *pos], call.ctx, call.stdin, call.depth, call.env))
        elif mod == "venv" or mod == "virtualenv":
            _, vpos = getopt(pos, "p", ["--prompt", "--python"])
            for p in vpos:
                w.add_path(p, "write", call)
        else:
            w.inferred_reads(call, pos)
        return
    _interpreter_script(w, call, pos, label)


_AWK_RISKY = re.compile(r"system|getline|\|\s*\"|\|&|print[f]?[^;{}]*>|fflush|close\s*\(")


def _h_awk(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "fvFEil", ["--file", "--assign", "--field-separator",
                                              "--exec", "--include", "--load"])
    progs = _vals(opts, "-f", "--file", "-E", "--exec", "-i", "--include")
    for p in progs:
        w.add_path(p, "exec", call)
    if not progs:
        if not pos:
            return
        program, pos = pos[0], pos[1:]
        if program.dynamic or _AWK_RISKY.search(program.text):
            w.add_opaque("inline-interpreter", " ".join(a.text for a in call.argv))
    for p in pos:
        if "=" in p.text and not p.text.startswith(("/", ".")):
            continue  # var=value operand
        w.add_path(p, "read", call)


_SED_EXEC = re.compile(r"(^|[;\n{}]\s*|\d\s*|\$\s*|/\s*)e(\s|;|$)|s(.).*\3.*\3[gpiImM0-9w]*e")
_SED_WRITE = re.compile(r"(?:^|[;\n{}/]|\d)\s*[wW]\s+([^;\n}]+)|s(.)(?:.*?)\2(?:.*?)\2[gpiImM0-9]*w\s+([^;\n]+)")


def _h_sed(w: _Walker, call: _Call) -> None:
    # -i takes only an attached suffix (-i.bak), so it is parsed as a flag
    opts, pos = getopt(call.args, "efl", ["--expression", "--file", "--line-length"])
    inplace = _has(opts, "-i", "--in-place")
    scripts = _vals(opts, "-e", "--expression")
    for f in _vals(opts, "-f", "--file"):
        w.add_path(f, "read", call)
    if not scripts and not _vals(opts, "-f", "--file"):
        if not pos:
            return
        scripts, pos = [pos[0]], pos[1:]
    for s in scripts:
        if s.dynamic or _SED_EXEC.search(s.text):
            w.add_opaque("inline-interpreter", " ".join(a.text for a in call.argv))
        for m in _SED_WRITE.finditer(s.text):
            target = (m.group(1) or m.group(3) or "").strip()
            if target and target not in ("/dev/stdout", "/dev/stderr"):
                w.add_path(Word(target), "write", call)
    for p in pos:
        w.add_path(p, "write" if inplace else "read", call)


def _h_perl(w: _Walker, call: _Call) -> None:
    _interpreter(("-e", "-E"), short_val="IMmdx", bundle_inline="eE")(w, call)


def _h_cp(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "St", ["--target-directory", "--suffix", "--backup",
                                         "--reflink", "--sparse", "--preserve",
                                         "--no-preserve"])
    target = _vals(opts, "-t", "--target-directory")
    hard = _has(opts, "-l", "--link")
    src_op: PathOp = "write" if (call.name == "mv" or hard) else "read"
    recursive: Recursion | None = None
    if call.name == "cp" and _has(opts, "-r", "-R", "--recursive", "-a", "--archive"):
        # symlinks below the top are copied as links unless -L
        recursive = ALL if _has(opts, "-L", "--dereference") else NO_LINKS
    if target:
        sources = pos
        for t in target:
            w.add_path(t, "write", call)
            for s in sources:
                w.add_path(Word(f"{t.text.rstrip('/')}/{posixpath.basename(s.text.rstrip('/'))}",
                                t.dynamic or s.dynamic), "write", call)
    elif len(pos) >= 2:
        sources = pos[:-1]
        dest = pos[-1]
        w.add_path(dest, "write", call)
        if len(pos) > 2 or _is_dir(w, call, dest):
            for s in sources:
                w.add_path(dest.sub(f"{dest.text.rstrip('/')}/"
                                    f"{posixpath.basename(s.text.rstrip('/'))}"), "write", call)
    else:
        sources = pos
    for s in sources:
        w.add_path(s, src_op, call, recursive=recursive)


def _is_dir(w: _Walker, call: _Call, word: Word) -> bool:
    if word.text.endswith("/"):
        return True
    if word.dynamic:
        return False
    return any(
        w.resolver.is_directory(normalize(absolute(word.text, c))) for c in call.ctx.cwds
    )


def _h_ln(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "St", ["--target-directory", "--suffix", "--backup"])
    symbolic = _has(opts, "-s", "--symbolic")
    target_dir = _vals(opts, "-t", "--target-directory")
    links: list[Word] = []
    targets: list[Word]
    if target_dir:
        targets = pos
        links = [Word(f"{target_dir[-1].text.rstrip('/')}/{posixpath.basename(t.text.rstrip('/'))}",
                      t.dynamic or target_dir[-1].dynamic) for t in targets]
    elif len(pos) == 1:
        targets = pos
        links = [Word(posixpath.basename(pos[0].text.rstrip("/")) or ".", pos[0].dynamic)]
    elif len(pos) >= 2:
        targets = pos[:-1]
        dest = pos[-1]
        if len(pos) > 2 or (_is_dir(w, call, dest) and not _has(opts, "-T", "-n",
                                                              "--no-target-directory")):
            links = [Word(f"{dest.text.rstrip('/')}/{posixpath.basename(t.text.rstrip('/'))}",
                          t.dynamic or dest.dynamic) for t in targets]
        else:
            links = [dest]
    else:
        return
    for link in links:
        w.add_path(link, "write", call)
    for t, link in zip(targets, links, strict=False):
        if symbolic:
            # a symlink's target is resolved from the link's directory, not the cwd
            if t.text.startswith("/") or t.text.startswith("~"):
                w.add_path(t, "read", call)
            else:
                dirs = [posixpath.dirname(normalize(absolute(link.text, c))) for c in call.ctx.cwds]
                w.add_path(t, "read", call, cwds=dirs)
        else:
            w.add_path(t, "write", call)  # a hard link makes the file writable through it


def _h_install(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "mogSt", ["--mode", "--owner", "--group", "--suffix",
                                            "--target-directory", "--backup"])
    if _has(opts, "-d", "--directory"):
        for p in pos:
            w.add_path(p, "write", call)
        return
    target = _vals(opts, "-t", "--target-directory")
    if target:
        for t in target:
            w.add_path(t, "write", call)
        for s in pos:
            w.add_path(s, "read", call)
        return
    if len(pos) >= 2:
        for s in pos[:-1]:
            w.add_path(s, "read", call)
        w.add_path(pos[-1], "write", call)


def _h_dd(w: _Walker, call: _Call) -> None:
    for a in call.args:
        key, eq, val = a.text.partition("=")
        if not eq:
            continue
        if key == "if":
            w.add_path(a.sub(val), "read", call)
        elif key == "of":
            w.add_path(a.sub(val), "write", call)


_TAR_SHORT_VAL = "bCfFgHIKLNTVX"


def _h_tar(w: _Walker, call: _Call) -> None:
    args = list(call.args)
    if args and not args[0].text.startswith("-") and not args[0].dynamic:
        args[0] = args[0].sub("-" + args[0].text)  # old style: `tar czf out.tgz dir`
    opts, pos = getopt(args, _TAR_SHORT_VAL, [
        "--file", "--directory", "--files-from", "--exclude-from", "--exclude", "--transform",
        "--use-compress-program", "--to-command", "--checkpoint-action", "--info-script",
        "--new-volume-script", "--rsh-command", "--owner", "--group", "--mode", "--mtime",
        "--label", "--blocking-factor", "--format", "--listed-incremental", "--newer",
        "--after-date", "--index-file", "--volno-file", "--suffix", "--strip-components",
    ])
    label = " ".join(a.text for a in call.argv)
    if _has(opts, "--to-command", "--checkpoint-action", "--info-script", "-F",
            "--new-volume-script", "--use-compress-program", "-I", "--rsh-command"):
        w.add_opaque("inline-interpreter", label)
    create = _has(opts, "-c", "--create", "-r", "--append", "-u", "--update", "-A",
                  "--catenate", "--concatenate", "--delete")
    extract = _has(opts, "-x", "--extract", "--get")
    ctx_dirs = _vals(opts, "-C", "--directory")
    cwds = None
    if ctx_dirs:
        cwds = [normalize(absolute(ctx_dirs[-1].text, c)) for c in call.ctx.cwds]
    for f in _vals(opts, "-f", "--file"):
        if f.text == "-":
            continue
        w.add_path(f, "write" if create else "read", call)
    for f in _vals(opts, "-T", "--files-from", "-X", "--exclude-from", "--index-file"):
        w.add_path(f, "read", call)
    if create and any(f.text == "-" for f in _vals(opts, "-T", "--files-from")):
        w.add_opaque("file-list-from-input", _FILE_LIST_ADVICE + label)
    if create:
        recursive = None if _has(opts, "--no-recursion") else (
            ALL if _has(opts, "-h", "--dereference") else NO_LINKS  # links stored as links
        )
        for p in pos:
            w.add_path(p, "read", call, cwds=cwds, recursive=recursive)
    elif extract and not _has(opts, "-O", "--to-stdout"):
        dest = ctx_dirs[-1] if ctx_dirs else Word(".")
        w.add_path(dest, "write", call)
        for p in pos:
            w.add_path(p, "write", call, cwds=cwds)
    else:
        for p in pos:
            w.add_path(p, "read", call, inferred=True, cwds=cwds)


def _h_unzip(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "dxP", [])
    if pos:
        w.add_path(pos[0], "read", call)
    if _has(opts, "-l", "-t", "-p", "-v", "-Z", "-z"):
        return
    dest = _vals(opts, "-d")
    w.add_path(dest[-1] if dest else Word("."), "write", call)


def _h_cpio(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "EFHIMOR", ["--pattern-file", "--file", "--format", "--message",
                                              "--owner", "--directory"])
    create = _has(opts, "-o", "--create")
    passing = _has(opts, "-p", "--pass-through")
    for v in _vals(opts, "-E", "--pattern-file", "-I"):
        w.add_path(v, "read", call)
    for v in _vals(opts, "-O"):
        w.add_path(v, "write", call)
    for v in _vals(opts, "-F", "--file"):
        w.add_path(v, "write" if create else "read", call)
    if create or passing:
        w.add_opaque("file-list-from-input",
                     _FILE_LIST_ADVICE + " ".join(a.text for a in call.argv))
    if passing:
        w.add_path(pos[0] if pos else Word("."), "write", call)
    elif _has(opts, "-i", "--extract") and not _has(opts, "-t", "--list"):
        d = _vals(opts, "-D", "--directory")
        w.add_path(d[-1] if d else Word("."), "write", call)


def _h_zip(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "bntPxi", ["--temp-path", "--suffixes", "--password",
                                             "--exclude", "--include"])
    if _has(opts, "-@", "--names-stdin"):
        w.add_opaque("file-list-from-input",
                     _FILE_LIST_ADVICE + " ".join(a.text for a in call.argv))
    recursive: Recursion | None = None
    if _has(opts, "-r", "-R", "--recurse-paths", "--recurse-patterns"):
        # zip stores what a symlink points to unless -y
        recursive = NO_LINKS if _has(opts, "-y", "--symlinks") else ALL
    if pos:
        w.add_path(pos[0], "write", call)
        for p in pos[1:]:
            w.add_path(p, "read", call, recursive=recursive)


def _h_patch(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "pidoBrVYzDFgM", [
        "--strip", "--input", "--directory", "--output", "--prefix", "--reject-file",
        "--version-control", "--basename-prefix", "--suffix", "--ifdef", "--fuzz", "--get",
    ])
    for v in _vals(opts, "-i", "--input"):
        w.add_path(v, "read", call)
    for v in _vals(opts, "-o", "--output", "-r", "--reject-file"):
        w.add_path(v, "write", call)
    if pos:
        w.add_path(pos[0], "write", call)
        for p in pos[1:2]:
            w.add_path(p, "read", call)
    else:
        d = _vals(opts, "-d", "--directory")
        w.add_path(Word(d[-1].text if d else ".", True), "write", call)  # files named in the patch


def _h_mktemp(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "p", ["--tmpdir", "--suffix"])
    if _has(opts, "-u", "--dry-run"):
        return
    tmp = _vals(opts, "-p", "--tmpdir")
    base = tmp[-1].text if tmp else None
    if pos:
        text = pos[0].text if base is None or "/" in pos[0].text else f"{base}/{pos[0].text}"
        w.add_path(Word(text, True), "write", call)
    else:
        w.add_path(Word(f"{base or '/tmp'}/tmp.XXXXXXXXXX", True), "write", call, implicit=True)


def _h_make(w: _Walker, call: _Call) -> None:
    opts, _ = getopt(call.args, "CfIjlWoEO", ["--directory", "--file", "--makefile",
                                                "--include-dir", "--jobs", "--load-average",
                                                "--what-if", "--old-file", "--eval"])
    if _has(opts, "--eval", "-E"):
        w.add_opaque("inline-interpreter", " ".join(a.text for a in call.argv))
    d = _vals(opts, "-C", "--directory")
    cwds = [normalize(absolute(d[-1].text, c)) for c in call.ctx.cwds] if d else None
    files = _vals(opts, "-f", "--file", "--makefile")
    for f in files:
        w.add_path(f, "exec", call, cwds=cwds)
    if not files:
        w.add_path(Word("Makefile"), "exec", call, cwds=cwds, implicit=True)


def _h_eval(w: _Walker, call: _Call) -> None:
    w.add_opaque("eval", " ".join(a.text for a in call.argv))


def _h_cd(w: _Walker, call: _Call) -> None:
    ctx = call.ctx
    _, pos = getopt(call.args)
    name = call.name
    if name == "popd":
        if ctx.dirstack:
            ctx.oldpwd = ctx.cwds
            ctx.cwds = ctx.dirstack.pop()
        else:
            w.add_opaque("dynamic-cd", "popd")
            ctx.cwd_dynamic = True
        return
    if not pos:
        if name == "pushd":
            return
        target = Word(CONTAINER_HOME)
    else:
        target = pos[0]
    if target.text == "-" and not target.dynamic:
        if ctx.oldpwd is None:
            w.add_opaque("dynamic-cd", "cd -")
            ctx.cwd_dynamic = True
            return
        ctx.cwds, ctx.oldpwd = ctx.oldpwd, ctx.cwds
        return
    if target.dynamic:
        w.add_opaque("dynamic-cd", " ".join(a.text for a in call.argv))
        ctx.cwd_dynamic = True
    new = [normalize(absolute(target.text, c)) for c in ctx.cwds]
    may_fail = target.dynamic or not all(w.resolver.is_directory(n) is True for n in new)
    if name == "pushd":
        ctx.dirstack.append(list(ctx.cwds))
    ctx.oldpwd = list(ctx.cwds)
    if may_fail:
        ctx.fail = _union(ctx.fail, ctx.cwds)
    ctx.cwds = _union([], new)
    ctx.cap()


def _h_sets_vars(w: _Walker, call: _Call) -> None:
    """Builtins that assign variables: those variables are unknown from here on."""
    name = call.name
    ctx = call.ctx
    if name == "read":
        opts, pos = getopt(call.args, "adinNptu")
        names = [p.text for p in pos] + [v.text for v in _vals(opts, "-a")]
        names = names or ["REPLY"]
    elif name in ("mapfile", "readarray"):
        opts, pos = getopt(call.args, "dnOsuCc")
        names = [p.text for p in pos[-1:]] or ["MAPFILE"]
        for cb in _vals(opts, "-C"):
            w.shell_string(cb, call, cb.text)
    elif name == "printf":
        opts, _ = getopt(call.args, "v", stop_at_positional=True)
        names = [v.text for v in _vals(opts, "-v")]
    elif name == "getopts":
        names = [a.text for a in call.args[1:2]]
    else:  # let
        names = [a.text.partition("=")[0].strip("+-*/%<>&|^") for a in call.args]
    for n in names:
        ctx.vars[n.partition("[")[0]] = None


def _h_alias(w: _Walker, call: _Call) -> None:
    """``alias x='cmd'``: the body is a command that may run later, so it is analysed."""
    for a in call.args:
        _, eq, body = a.text.partition("=")
        if eq:
            w.shell_string(a.sub(body), call, a.text)


def _h_set(w: _Walker, call: _Call) -> None:
    if not call.args:
        w.environ_read(call)


def _h_printenv(w: _Walker, call: _Call) -> None:
    w.environ_read(call)


def _h_compgen(w: _Walker, call: _Call) -> None:
    if any(a.text in ("-e", "-v", "-A") for a in call.args):
        w.environ_read(call)


# --- git ---------------------------------------------------------------------------------------

_GIT_GLOBAL_VAL = ["--git-dir", "--work-tree", "--namespace", "--super-prefix", "--config-env",
                   "--exec-path", "--list-cmds", "--attr-source"]


def _h_git(w: _Walker, call: _Call) -> None:
    args = call.args
    label = " ".join(a.text for a in call.argv)
    cwds = list(call.ctx.cwds)
    git_dir: Word | None = None
    i = 0
    while i < len(args):
        a = args[i]
        t = a.text
        if a.dynamic or not t.startswith("-"):
            break
        name, eq, val = t.partition("=")
        value: Word | None = a.sub(val) if eq else None
        if name in ("-C", "-c") or (name in _GIT_GLOBAL_VAL and not eq):
            value = args[i + 1] if i + 1 < len(args) else None
            i += 1
        if name == "-C" and value is not None:
            cwds = [normalize(absolute(value.text, c)) for c in cwds]
            if value.dynamic:
                w.add_opaque("dynamic-cd", label)
        elif name == "-c" and value is not None:
            _git_config_pair(w, value, label)
        elif name == "--config-env" and value is not None:
            key = value.text.partition("=")[0]
            if _RISKY_GIT_KEYS.match(key):
                w.add_opaque("git-config-command", label)
        elif name == "--exec-path" and value is not None:
            w.add_opaque("git-config-command", label)
        elif name == "--git-dir" and value is not None:
            git_dir = value
        i += 1
    rest = list(args[i:])
    if not rest:
        return
    sub = rest[0].text
    sargs = rest[1:]
    gd = _git_dir(w, cwds, git_dir)
    repo = Word(".")

    def repo_path(op: PathOp) -> None:
        w.add_path(repo, op, call, cwds=cwds)

    def gitdir_path(suffix: str = "") -> None:
        for d in gd:
            w.add_path(Word(d + suffix), "write", call, implicit=True)

    if sub == "config":
        _git_config(w, call, sargs, cwds, gd, label)
        return
    if sub == "init":
        opts, pos = getopt(sargs, "b", ["--template", "--separate-git-dir", "--initial-branch",
                                        "--object-format", "--shared"])
        target = pos[0] if pos else Word(".")
        dirs = [normalize(absolute(target.text, c)) for c in cwds]
        for d in dirs:
            w.add_path(Word(d + "/.git"), "write", call, implicit=True)
        for v in _vals(opts, "--template"):
            w.add_path(v, "read", call, cwds=cwds)
        for v in _vals(opts, "--separate-git-dir"):
            w.add_path(v, "write", call, cwds=cwds)
        return
    if sub == "clone":
        opts, pos = getopt(sargs, "obujc", [
            "--origin", "--branch", "--upload-pack", "--reference", "--reference-if-able",
            "--separate-git-dir", "--depth", "--shallow-since", "--shallow-exclude", "--config",
            "--template", "--filter", "--jobs", "--bundle-uri", "--server-option",
            "--recurse-submodules",
        ])
        if _has(opts, "-u", "--upload-pack"):
            w.add_opaque("git-config-command", label)
        for c in _vals(opts, "-c", "--config"):
            _git_config_pair(w, c, label)
        for v in _vals(opts, "--template"):
            w.add_path(v, "read", call, cwds=cwds)
        if pos:
            _git_url(w, pos[0], label)
            if len(pos) > 1:
                dest = pos[1]
            else:
                base = posixpath.basename(pos[0].text.rstrip("/").rpartition(":")[2]) or "repo"
                dest = Word(base[:-4] if base.endswith(".git") else base, pos[0].dynamic)
            w.add_path(dest, "write", call, cwds=cwds)
            if scp_remote(pos[0].text) is None and "://" not in pos[0].text:
                w.add_path(pos[0], "read", call, cwds=cwds)  # a local repository
        return
    if sub in ("submodule",):
        repo_path("write")
        gitdir_path("/config")
        if sargs and sargs[0].text == "add":
            _, pos = getopt(sargs[1:], "b", ["--branch", "--name", "--reference", "--depth"])
            if pos:
                _git_url(w, pos[0], label)
        elif sargs and sargs[0].text == "foreach":
            _, pos = getopt(sargs[1:])
            if pos:
                w.shell_string(Word(" ".join(p.text for p in pos), any(p.dynamic for p in pos)),
                               call, label)
        elif sargs and sargs[0].text in ("update", "sync", "init"):
            _git_remote_hosts(w, gd, None, label)
        return
    if sub == "remote":
        action = sargs[0].text if sargs else ""
        if action in ("add", "set-url"):
            _, pos = getopt(sargs[1:], "tm", ["--track", "--master", "--push"])
            if len(pos) >= 2:
                _git_url(w, pos[-1], label)
            gitdir_path("/config")
        elif action in ("remove", "rm", "rename", "set-branches", "set-head", "prune", "update"):
            gitdir_path("/config")
            if action in ("update", "prune", "set-head"):
                _git_remote_hosts(w, gd, [p.text for p in sargs[1:] if not p.text.startswith("-")]
                                  or None, label)
        elif action == "show":
            names = [p.text for p in sargs[1:] if not p.text.startswith("-")]
            if "-n" not in [p.text for p in sargs]:
                _git_remote_hosts(w, gd, names or None, label)
            repo_path("read")
        else:
            repo_path("read")
        return
    if sub in _GIT_NETWORK:
        opts, pos = getopt(sargs, "oj", ["--upload-pack", "--receive-pack", "--exec", "--repo",
                                         "--push-option", "--server-option", "--depth",
                                         "--shallow-since", "--jobs", "--recurse-submodules"])
        if _has(opts, "--upload-pack", "--receive-pack", "--exec"):
            w.add_opaque("git-config-command", label)
        repo_arg = _vals(opts, "--repo")
        remote = repo_arg[-1] if repo_arg else (pos[0] if pos else None)
        if remote is not None and ("://" in remote.text or scp_remote(remote.text)
                                   or remote.text.startswith(("ext::", "fd::"))):
            _git_url(w, remote, label)
        elif remote is not None and remote.text.startswith(("/", ".", "~")):
            w.add_path(remote, "read", call, cwds=cwds)
        else:
            _git_remote_hosts(w, gd, [remote.text] if remote is not None else None, label,
                              dynamic=remote is not None and remote.dynamic)
        if sub == "ls-remote":
            return
        if sub in ("pull",):
            repo_path("write")
        gitdir_path()
        if sub == "push" and _has(opts, "-u", "--set-upstream"):
            gitdir_path("/config")
        return
    if sub in ("rebase",):
        opts, _ = getopt(sargs, "xsX", ["--exec", "--strategy", "--strategy-option", "--onto"])
        for c in _vals(opts, "-x", "--exec"):
            w.shell_string(c, call, label)
    if sub == "bisect" and len(sargs) >= 2 and sargs[0].text == "run":
        w.execute(list(sargs[1:]), call.ctx, None, call.depth + 1, call.env, "git")
    if sub == "filter-branch":
        w.add_opaque("git-config-command", label)
    if sub in ("difftool", "mergetool"):
        opts, _ = getopt(sargs, "xt", ["--extcmd", "--tool"])
        if _has(opts, "-x", "--extcmd"):
            w.add_opaque("git-config-command", label)
    if sub in ("show", "cat-file"):
        for p in sargs:
            t = p.text
            if ":" in t and not t.startswith("-") and "://" not in t:
                path = t.partition(":")[2]
                if path:
                    w.add_path(p.sub(path.lstrip("/")) if not path.startswith("./") else p.sub(path),
                               "read", call, cwds=_git_roots(w, cwds, gd))
    if sub == "grep":
        _git_grep(w, call, sargs, cwds, label)
    if sub in _GIT_READ or (sub in ("branch", "tag", "stash", "worktree", "notes", "reflog")
                            and _git_listing(sub, sargs)):
        repo_path("read")
        if "--" in [a.text for a in sargs]:
            after = [a for a in sargs[[a.text for a in sargs].index("--") + 1 :]]
            for p in after:
                w.add_path(p, "read", call, cwds=cwds)
        elif sub == "blame" and sargs:
            w.add_path(sargs[-1], "read", call, cwds=cwds)
        opts, _ = getopt(sargs, "o", ["--output", "--output-directory"])
        for v in _vals(opts, "--output", "-o", "--output-directory"):
            w.add_path(v, "write", call, cwds=cwds)
        return
    # everything else changes the repository (and usually the working tree)
    repo_path("write")
    gitdir_path()
    opts, pos = getopt(sargs, "mFtCcSo", ["--message", "--file", "--template", "--reuse-message",
                                          "--reedit-message", "--author", "--date", "--pathspec-from-file",
                                          "--fixup", "--squash", "--cleanup", "--trailer"])
    for v in _vals(opts, "-F", "--file", "-t", "--template", "--pathspec-from-file"):
        w.add_path(v, "read", call, cwds=cwds)
    if sub in ("rm", "mv", "restore", "checkout", "clean", "apply", "am"):
        names = [p.text for p in sargs]
        paths = sargs[names.index("--") + 1 :] if "--" in names else (
            pos if sub in ("rm", "mv", "restore", "apply", "am") else []
        )
        for p in paths:
            w.add_path(p, "read" if sub in ("apply", "am") else "write", call, cwds=cwds)
    elif sub in ("add", "stage", "commit"):
        names = [p.text for p in sargs]
        for p in sargs[names.index("--") + 1 :] if "--" in names else pos:
            w.add_path(p, "read", call, cwds=cwds)


def _git_grep(w: _Walker, call: _Call, sargs: Sequence[Word], cwds: list[str], label: str) -> None:
    """``git grep`` reads every tracked file under its pathspecs (the current directory by
    default), and with a revision or ``--cached`` their committed content, which the
    sandbox does not mask. Whether a file is tracked is not looked up: every file counts."""
    texts = [a.text for a in sargs]
    if any(t.startswith(("-O", "--open-files-in-pager")) for t in texts):
        w.add_opaque("git-config-command", label)  # runs a pager program on the files
    dashes = texts.index("--") if "--" in texts else len(sargs)
    opts, pos = getopt(sargs[:dashes], "efABCm", [
        "--regexp", "--file", "--after-context", "--before-context", "--context",
        "--max-count", "--max-depth", "--threads", "--color", "--colour",
    ])
    for v in _vals(opts, "-f", "--file"):
        w.add_path(v, "read", call, cwds=cwds)
    if dashes < len(sargs):
        specs = list(sargs[dashes + 1 :])
    else:
        if not _has(opts, "-e", "--regexp", "-f", "--file"):
            pos = pos[1:]  # the pattern
        specs = [
            p for p in pos  # revisions and paths: git takes an existing path as a path
            if w.resolver.workspace is None or p.dynamic or any(
                w.resolver.resolve(p.text, c).exists is not False for c in cwds
            )
        ]
    roots = [
        Word(".") if (p.dynamic or p.text.startswith(":") or has_glob(p.text)) else p
        for p in specs
    ] or [Word(".")]
    for r in roots:  # a tracked symlink is searched as its target's name, not followed
        w.add_path(r, "read", call, cwds=cwds, recursive=NO_LINKS)


def _git_listing(sub: str, sargs: Sequence[Word]) -> bool:
    texts = [a.text for a in sargs]
    if sub in ("branch", "tag"):
        return not [t for t in texts if not t.startswith("-")] or any(
            t in ("-l", "--list", "-a", "-r", "-v", "-vv", "--contains", "--merged",
                  "--no-merged", "--show-current", "-n") for t in texts
        )
    if sub == "stash":
        return bool(texts) and texts[0] in ("list", "show")
    if sub == "worktree":
        return bool(texts) and texts[0] == "list"
    if sub == "notes":
        return not texts or texts[0] in ("list", "show")
    if sub == "reflog":
        return not texts or texts[0] in ("show",) or texts[0].startswith("-")
    return False


def _git_config_pair(w: _Walker, value: Word, label: str) -> None:
    key, _, val = value.text.partition("=")
    if value.dynamic or _RISKY_GIT_KEYS.match(key):
        w.add_opaque("git-config-command", label)
    if key.lower().endswith("proxy") and val:
        w.add_url(val, "git-proxy", default_scheme="http")


def _git_config(w: _Walker, call: _Call, sargs: Sequence[Word], cwds: list[str], gd: list[str],
                label: str) -> None:
    opts, pos = getopt(sargs, "f", ["--file", "--blob", "--type", "--default", "--comment",
                                    "--value", "--fixed-value"])
    texts = [o for o, _ in opts]
    reading = any(t in _GIT_CONFIG_READ_FLAGS for t in texts) or (
        len(pos) == 1 and not any(t in ("--unset", "--unset-all", "--remove-section",
                                        "--rename-section", "--add", "--replace-all", "-e",
                                        "--edit") for t in texts)
    ) or (pos and pos[0].text in ("get", "list"))
    files: list[Word] = _vals(opts, "-f", "--file")
    if "--global" in texts:
        files.append(Word("~/.gitconfig"))
    if "--system" in texts:
        files.append(Word("/etc/gitconfig"))
    if not files:
        suffix = "/config.worktree" if "--worktree" in texts else "/config"
        files = [Word(d + suffix) for d in gd]
    for f in files:
        w.add_path(f, "read" if reading else "write", call, cwds=cwds,
                   implicit=f.text not in [v.text for v in _vals(opts, "-f", "--file")])
    if not reading and len(pos) >= 2:
        key = pos[0].text
        if pos[0].text in ("set",) and len(pos) >= 3:
            key = pos[1].text
        if _RISKY_GIT_KEYS.match(key):
            w.add_opaque("git-config-command", label)


def _git_roots(w: _Walker, cwds: list[str], gd: list[str]) -> list[str]:
    """Repository roots (`HEAD:path` is relative to them)."""
    return [posixpath.dirname(d) if d.endswith("/.git") else d for d in gd] or cwds


def _git_dir(w: _Walker, cwds: list[str], git_dir: Word | None) -> list[str]:
    """The git directory for each possible cwd: --git-dir, else the nearest `.git` upwards."""
    if git_dir is not None:
        return [normalize(absolute(git_dir.text, c)) for c in cwds]
    out: list[str] = []
    for c in cwds:
        found = None
        d = c
        while True:
            candidate = "/.git" if d == "/" else d + "/.git"
            if w.resolver.resolve(candidate).exists:
                found = candidate
                break
            if d in ("/", CONTAINER_WORKSPACE) or not d.startswith(CONTAINER_WORKSPACE):
                break
            d = posixpath.dirname(d)
        out.append(found or (c.rstrip("/") + "/.git"))
    return _union([], out)


_REMOTE_SECTION = re.compile(r'^\s*\[\s*remote\s+"([^"]*)"\s*\]', re.MULTILINE)


def _git_remote_hosts(w: _Walker, gd: list[str], names: list[str] | None, label: str, *,
                      dynamic: bool = False) -> None:
    """Hosts of named remotes, read from the workspace's git config on the host."""
    wanted = names or ["origin"]
    for name in wanted:
        urls: list[str] = []
        for d in gd:
            urls.extend(_remote_urls(w, d, name))
        if urls:
            for u in urls:
                _git_url(w, Word(u), label)
        else:
            w.add_host(name, None, "git-remote-name", dynamic=dynamic)


def _remote_urls(w: _Walker, gitdir: str, name: str) -> list[str]:
    try:  # through WorkspaceFS, as the container sees it (masked: empty)
        text = w.resolver.read_text(gitdir + "/config", MAX_GIT_CONFIG_BYTES)
    except HostReadRefused:
        text = None
    if not text:
        return []
    urls: list[str] = []
    sections = list(_REMOTE_SECTION.finditer(text))
    for idx, m in enumerate(sections):
        if m.group(1) != name:
            continue
        end = sections[idx + 1].start() if idx + 1 < len(sections) else len(text)
        body = text[m.end() : end]
        body = body.split("\n[", 1)[0]
        for line in body.splitlines():
            k, eq, v = line.partition("=")
            if eq and k.strip().lower() in ("url", "pushurl"):
                urls.append(v.strip().strip('"'))
    return urls


def _git_url(w: _Walker, url: Word, label: str) -> None:
    t = url.text
    if t.startswith(("ext::", "fd::")) or "ext::" in t:
        w.add_opaque("git-config-command", label)
        return
    if "://" in t:
        w.add_url(t, "git-remote", dynamic=url.dynamic)
        return
    host = scp_remote(t)
    if host is not None:
        w.add_host(host, 22, "git-remote", dynamic=url.dynamic)


# --- network programs ------------------------------------------------------------------------

_CURL_VAL = (
    "--url --output --upload-file --data --data-ascii --data-binary --data-raw --data-urlencode "
    "--form --form-string --proxy --preproxy --socks4 --socks4a --socks5 --socks5-hostname "
    "--proxy-user --user --header --proxy-header --user-agent --referer --cookie --cookie-jar "
    "--dump-header --config --max-time --connect-timeout --retry --retry-delay --retry-max-time "
    "--request --resolve --connect-to --cacert --capath --cert --key --cert-type --key-type "
    "--pass --output-dir --write-out --trace --trace-ascii --stderr --netrc-file --interface "
    "--local-port --limit-rate --max-filesize --range --time-cond --continue-at --speed-limit "
    "--speed-time --ciphers --noproxy --oauth2-bearer --aws-sigv4 --unix-socket "
    "--abstract-unix-socket --json --variable --hostpubmd5 --hostpubsha256 --pubkey --crlfile "
    "--dns-servers --doh-url --proxy-cacert --proxy-cert --proxy-key --mail-from --mail-rcpt "
    "--mail-auth --login-options --sasl-authzid --service-name --tls-max --tlsuser "
    "--tlspassword --telnet-option --tftp-blksize --ftp-port --ftp-account --ftp-method "
    "--keepalive-time --max-redirs --parallel-max --quote --etag-save --etag-compare "
    "--create-file-mode --ipfs-gateway --proto --proto-redir --proto-default --random-file "
    "--egd-file --dns-interface --dns-ipv4-addr --dns-ipv6-addr --krb --delegation "
    "--happy-eyeballs-timeout-ms --expect100-timeout --proxy-service-name --socks5-gssapi-service "
    "--unix-socket --curves --proxy-ciphers --hsts --alt-svc --trace-config --url-query"
)


def _h_curl(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "AbcCdDeEFHKmoPQrTtuUwxXyYz", _CURL_VAL.split())
    urls = list(pos) + _vals(opts, "--url")
    for u in urls:
        w.add_url(u.text, "curl-argument", dynamic=u.dynamic, default_scheme="http")
    for p in _vals(opts, "-x", "--proxy", "--preproxy"):
        w.add_url(p.text, "curl-proxy", dynamic=p.dynamic, default_scheme="http")
        if "://" not in p.text:
            host, port = split_host_port(p.text, 1080)
            w.add_host(host, port, "curl-proxy", dynamic=p.dynamic)
    for p in _vals(opts, "--socks4", "--socks4a", "--socks5", "--socks5-hostname"):
        host, port = split_host_port(p.text.partition("://")[2] or p.text, 1080)
        w.add_host(host, port, "curl-proxy", dynamic=p.dynamic)
    for r in _vals(opts, "--resolve"):
        parts = r.text.lstrip("+").split(":", 2)
        if len(parts) == 3:
            for addr in parts[2].split(","):
                w.add_host(addr.strip("[]"), _port(parts[1]), "curl-resolve", dynamic=r.dynamic)
    for r in _vals(opts, "--connect-to"):
        parts = r.text.split(":")
        if len(parts) >= 4 and parts[2]:
            w.add_host(parts[2], _port(parts[3]), "curl-resolve", dynamic=r.dynamic)
    for d in _vals(opts, "--doh-url"):
        w.add_url(d.text, "dns", dynamic=d.dynamic)
    for d in _vals(opts, "--dns-servers"):
        for s in d.text.split(","):
            host, port = split_host_port(s, 53)
            w.add_host(host, port, "dns", dynamic=d.dynamic)
    for v in _vals(opts, "-o", "--output", "-c", "--cookie-jar", "-D", "--dump-header",
                   "--trace", "--trace-ascii", "--stderr", "--etag-save", "--hsts", "--alt-svc"):
        w.add_path(v, "write", call)
    for v in _vals(opts, "-T", "--upload-file", "-K", "--config", "--netrc-file", "--cacert",
                   "-E", "--cert", "--key", "--etag-compare", "--unix-socket", "--crlfile",
                   "--pubkey", "--proxy-cacert", "--proxy-cert", "--proxy-key"):
        w.add_path(v, "read", call)
    for o, ov in opts:
        if ov is None:
            continue
        ref = _curl_file_ref(o, ov.text)
        if ref and ref != "-":
            w.add_path(ov.sub(ref), "read", call)
    for v in _vals(opts, "-b", "--cookie"):
        if "=" not in v.text:
            w.add_path(v, "read", call)
    if _has(opts, "-n", "--netrc", "--netrc-optional"):
        w.add_path(Word("~/.netrc"), "read", call, implicit=True)
    if _has(opts, "-O", "--remote-name", "--remote-name-all"):
        outdir = _vals(opts, "--output-dir")
        for u in urls:
            name = posixpath.basename(urlsplit_path(u.text)) or "index.html"
            text = f"{outdir[-1].text.rstrip('/')}/{name}" if outdir else name
            w.add_path(Word(text, u.dynamic), "write", call, implicit=True)


def _curl_file_ref(option: str, value: str) -> str:
    """The file an option value reads with curl's ``@file`` / ``<file`` syntax ("" if none)."""
    if option in ("-d", "--data", "--data-ascii", "--data-binary", "--json", "-w",
                  "--write-out", "-H", "--header", "--proxy-header"):
        return value[1:] if value.startswith("@") else ""
    if option in ("-F", "--form"):
        name, eq, rest = value.partition("=")
        if eq and rest[:1] in ("@", "<"):
            return rest[1:].split(";")[0]
        return ""
    if option in ("--data-urlencode", "--variable"):
        if value.startswith("@"):
            return value[1:]
        name, at, rest = value.partition("@")
        return rest if at and "=" not in name else ""
    return ""


def urlsplit_path(text: str) -> str:
    try:
        return urlsplit(text if "://" in text else "http://" + text).path
    except ValueError:
        return ""


_WGET_VAL = (
    "--output-file --append-output --output-document --directory-prefix --input-file --execute "
    "--base --tries --timeout --wait --level --quota --user-agent --accept --reject --domains "
    "--include-directories --exclude-directories --header --user --password --post-data "
    "--post-file --body-data --body-file --method --load-cookies --save-cookies --ca-certificate "
    "--certificate --private-key --config --limit-rate --referer --bind-address --dns-timeout "
    "--connect-timeout --read-timeout --waitretry --proxy-user --proxy-password --http-user "
    "--http-password --ftp-user --ftp-password --default-page --restrict-file-names --cut-dirs "
    "--progress --local-encoding --remote-encoding --ca-directory --crl-file --pinnedpubkey "
    "--random-file --egd-file --warc-file --rejected-log --secure-protocol --ciphers "
    "--exclude-domains --follow-tags --ignore-tags --use-askpass --hsts-file"
)


def _h_wget(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "oaOPiebtTwlQUARDIX", _WGET_VAL.split())
    for u in pos:
        w.add_url(u.text, "wget-argument", dynamic=u.dynamic, default_scheme="http")
    for e in _vals(opts, "-e", "--execute"):
        key, _, val = e.text.partition("=")
        if key.strip().lower() in _PROXY_VARS:
            w.add_url(val.strip(), "wget-proxy", dynamic=e.dynamic, default_scheme="http")
    for v in _vals(opts, "-o", "--output-file", "-a", "--append-output", "--save-cookies",
                   "--warc-file", "--rejected-log", "--hsts-file"):
        w.add_path(v, "write", call)
    for v in _vals(opts, "--post-file", "--body-file", "--load-cookies", "--ca-certificate",
                   "--certificate", "--private-key", "--config", "--crl-file"):
        w.add_path(v, "read", call)
    for v in _vals(opts, "-i", "--input-file"):
        if "://" in v.text:
            w.add_url(v.text, "wget-argument", dynamic=v.dynamic)
        else:
            w.add_path(v, "read", call)
    out = _vals(opts, "-O", "--output-document")
    if out:
        for v in out:
            w.add_path(v, "write", call)
        return
    prefix = _vals(opts, "-P", "--directory-prefix")
    for u in pos:
        name = posixpath.basename(urlsplit_path(u.text)) or "index.html"
        text = f"{prefix[-1].text.rstrip('/')}/{name}" if prefix else name
        w.add_path(Word(text, u.dynamic), "write", call, implicit=True)


def _h_nc(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "IiMmOPpqsTVWwXxecog", [
        "--exec", "--sh-exec", "--lua-exec", "--output", "--hex-dump", "--proxy", "--proxy-type",
        "--proxy-auth", "--source-port", "--source", "--wait", "--idle-timeout", "--max-conns",
        "--allow", "--allowfile", "--deny", "--denyfile", "--append-output", "--ssl-cert",
        "--ssl-key", "--ssl-trustfile", "--ssl-ciphers", "--ssl-servername", "--ssl-alpn",
        "--delay",
    ])
    label = " ".join(a.text for a in call.argv)
    if _has(opts, "-e", "-c", "--exec", "--sh-exec", "--lua-exec"):
        w.add_opaque("network-exec", label)
    for p in _vals(opts, "-x", "--proxy"):
        host, port = split_host_port(p.text, 1080)
        w.add_host(host, port, "nc-proxy", dynamic=p.dynamic)
    for v in _vals(opts, "-o", "--output", "--hex-dump"):
        w.add_path(v, "write", call)
    if _has(opts, "-l", "--listen"):
        return
    if pos:
        target = pos[0]
        tport = _port(pos[1].text) if len(pos) > 1 else None
        if tport is None and target.text.count(":") == 1 and len(pos) == 1:
            h, tport = split_host_port(target.text)
            w.add_host(h, tport, "nc", dynamic=target.dynamic)
        else:
            w.add_host(target.text, tport, "nc", dynamic=target.dynamic)


def _h_telnet(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "lenbkX")
    if pos:
        port = _port(pos[1].text) if len(pos) > 1 else 23
        w.add_host(split_host_port(pos[0].text)[0] if "@" in pos[0].text else pos[0].text,
                   port, "telnet", dynamic=pos[0].dynamic)


def _ssh_o(w: _Walker, call: _Call, values: Sequence[Word], label: str) -> tuple[int | None, list[str]]:
    port: int | None = None
    extra_hosts: list[str] = []
    for o in values:
        k, _, v = o.text.replace(" ", "=", 1).partition("=")
        key = k.strip().lower()
        if key in ("proxycommand", "localcommand", "knownhostscommand", "permitlocalcommand",
                   "remotecommand") and v.strip().lower() not in ("none", "no"):
            w.add_opaque("ssh-proxy-command", label)
        elif key == "port":
            port = _port(v.strip())
        elif key == "proxyjump":
            extra_hosts.extend(v.split(","))
        elif key == "hostname":
            extra_hosts.append(v.strip())
        elif key in ("identityfile", "userknownhostsfile", "certificatefile", "controlpath"):
            w.add_path(o.sub(v.strip()), "read", call)
    return port, extra_hosts


def _h_ssh(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "BbcDEeFIiJLlmOopQRSWw", [], stop_at_positional=True)
    label = " ".join(a.text for a in call.argv)
    port_vals = _vals(opts, "-p")
    port = _port(port_vals[-1].text) if port_vals else None
    oport, extra = _ssh_o(w, call, _vals(opts, "-o"), label)
    port = port or oport or 22
    for v in _vals(opts, "-i", "-F"):
        w.add_path(v, "read", call)
    for v in _vals(opts, "-E"):
        w.add_path(v, "write", call)
    for j in _vals(opts, "-J"):
        for hop in j.text.split(","):
            host, hport = split_host_port(hop.partition("://")[2] or hop, 22)
            w.add_host(host, hport, "ssh-jump", dynamic=j.dynamic)
    for h in extra:
        host, hport = split_host_port(h, 22)
        w.add_host(host, hport, "ssh-jump")
    if pos:
        dest = pos[0]
        if dest.text.startswith("ssh://"):
            w.add_url(dest.text, "ssh", dynamic=dest.dynamic)
        else:
            host = dest.text.rpartition("@")[2]
            w.add_host(host.strip("[]"), port, "ssh", dynamic=dest.dynamic)


def _h_ssh_keyscan(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "pTtf")
    pv = _vals(opts, "-p")
    for p in pos:
        for h in p.text.split(","):
            w.add_host(h, _port(pv[-1].text) if pv else 22, "ssh", dynamic=p.dynamic)


def _h_scp(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "cFiJloPSXD", [])
    label = " ".join(a.text for a in call.argv)
    if _has(opts, "-S"):
        w.add_opaque("ssh-proxy-command", label)
    pv = _vals(opts, "-P")
    port = _port(pv[-1].text) if pv else None
    oport, extra = _ssh_o(w, call, _vals(opts, "-o"), label)
    port = port or oport or 22
    for v in _vals(opts, "-i", "-F"):
        w.add_path(v, "read", call)
    for j in _vals(opts, "-J"):
        for hop in j.text.split(","):
            host, hport = split_host_port(hop, 22)
            w.add_host(host, hport, "ssh-jump", dynamic=j.dynamic)
    for h in extra:
        w.add_host(*split_host_port(h, 22), "ssh-jump")
    if call.name == "sftp":
        if pos:
            t = pos[0].text
            if t.startswith("sftp://"):
                w.add_url(t, "sftp", dynamic=pos[0].dynamic)
            else:
                w.add_host(scp_remote(t) or t.rpartition("@")[2], port, "sftp",
                           dynamic=pos[0].dynamic)
        for v in _vals(opts, "-b"):
            w.add_path(v, "read", call)
        return
    _remote_copy(w, call, pos, port, "scp", recursive=ALL if _has(opts, "-r") else None)


def _remote_copy(w: _Walker, call: _Call, pos: Sequence[Word], port: int | None, via: str,
                 daemon_port: int | None = None, recursive: Recursion | None = None) -> None:
    for i, p in enumerate(pos):
        t = p.text
        last = i == len(pos) - 1 and len(pos) > 1
        if "://" in t:
            w.add_url(t, via, dynamic=p.dynamic)
            continue
        if "::" in t and not t.startswith("["):
            module_host = t.partition("::")[0].rpartition("@")[2]
            if module_host:
                w.add_host(module_host, daemon_port or 873, via, dynamic=p.dynamic)
                continue
        host = scp_remote(t)
        if host is not None:
            w.add_host(host, port, via, dynamic=p.dynamic)
            continue
        w.add_path(p, "write" if last else "read", call, recursive=None if last else recursive)


_RSYNC_VAL = (
    "--rsh --rsync-path --port --filter --exclude --exclude-from --include --include-from "
    "--files-from --password-file --log-file --temp-dir --partial-dir --backup-dir --suffix "
    "--chmod --chown --usermap --groupmap --timeout --contimeout --bwlimit --max-size --min-size "
    "--max-delete --compare-dest --copy-dest --link-dest --block-size --modify-window "
    "--out-format --log-file-format --address --sockopts --outbuf --info --debug "
    "--compress-level --compress-choice --checksum-choice --skip-compress --remote-option "
    "--write-batch --only-write-batch --read-batch --protocol --iconv --stop-after --stop-at "
    "--copy-as --early-input"
)


def _h_rsync(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "eBfTM", _RSYNC_VAL.split())
    port = 22
    for rsh in _vals(opts, "-e", "--rsh"):
        w.shell_string(rsh, call, rsh.text)  # the remote shell program is run
        m = re.search(r"(?:^|\s)-p\s*(\d+)", rsh.text)
        if m:
            port = int(m.group(1))
    dp = _vals(opts, "--port")
    for v in _vals(opts, "--exclude-from", "--include-from", "--files-from", "--password-file",
                   "--read-batch"):
        w.add_path(v, "read", call)
    for v in _vals(opts, "--log-file", "--write-batch", "--only-write-batch"):
        w.add_path(v, "write", call)
    if any(v.text == "-" for v in _vals(opts, "--files-from")):
        w.add_opaque("file-list-from-input",
                     _FILE_LIST_ADVICE + " ".join(a.text for a in call.argv))
    recursive: Recursion | None = None
    if _has(opts, "-r", "-a", "--recursive", "--archive"):
        # links are copied as links (-a) or skipped (-r) unless -L / --copy-*links
        recursive = ALL if _has(opts, "-L", "--copy-links", "--copy-unsafe-links",
                                "--copy-dirlinks", "-k") else NO_LINKS
    _remote_copy(w, call, pos, port, "rsync", _port(dp[-1].text) if dp else None, recursive)


def _h_dns(w: _Walker, call: _Call) -> None:
    name = call.name
    if name in ("dig", "kdig", "drill"):
        opts, pos = getopt(call.args, "bcfkpqtxyo" if name != "drill" else "ckoprstwa")
        pv = _vals(opts, "-p")
        port = _port(pv[-1].text) if pv else 53
        for v in _vals(opts, "-f", "-k"):
            w.add_path(v, "read", call)
        names = [v for v in _vals(opts, "-x", "-q")]
        for p in pos:
            if p.text.startswith("@"):
                w.add_host(p.text[1:], port, "dns-server", dynamic=p.dynamic)
            elif p.text.startswith("+") or p.text.upper() in _RR_TYPES:
                continue
            else:
                names.append(p)
        for n in names:
            w.add_host(n.text, 53, "dns", dynamic=n.dynamic)
        return
    if name == "getent":
        if call.args and call.args[0].text in ("hosts", "ahosts", "ahostsv4", "ahostsv6",
                                                "networks"):
            for n in call.args[1:]:
                w.add_host(n.text, 53, "dns", dynamic=n.dynamic)
        return
    if name in ("resolvectl", "systemd-resolve"):
        args = [a for a in call.args if not a.text.startswith("-")]
        if args and args[0].text == "query":
            args = args[1:]
        for n in args:
            w.add_host(n.text, 53, "dns", dynamic=n.dynamic)
        return
    opts, pos = getopt(call.args, "cNRtWm" if name == "host" else "")
    pos = [p for p in pos if not p.text.startswith("-")]
    if pos:
        w.add_host(pos[0].text, 53, "dns", dynamic=pos[0].dynamic)
    if len(pos) > 1:
        w.add_host(pos[1].text, 53, "dns-server", dynamic=pos[1].dynamic)


def _h_whois(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "hpTtgiIsvq")
    for h in _vals(opts, "-h"):
        w.add_host(h.text, 43, "whois", dynamic=h.dynamic)
    for p in pos:
        w.add_host(p.text, 43, "whois", dynamic=p.dynamic)


def _h_ping(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "cifIlmMpQsStTwWgGzqNFmPrxAB")
    for p in pos:
        if not p.text.isdigit():
            w.add_host(p.text, None, "ping", dynamic=p.dynamic)
            return


def _h_openssl(w: _Walker, call: _Call) -> None:
    args = call.args
    if not args:
        return
    sub = args[0].text
    rest = args[1:]
    texts = [a.text for a in rest]
    for i, t in enumerate(texts):
        if i + 1 >= len(rest):
            break
        v = rest[i + 1]
        if t in ("-connect",):
            host, port = split_host_port(v.text, 443)
            w.add_host(host, port, "openssl", dynamic=v.dynamic)
        elif t in ("-host",):
            pv = texts[texts.index("-port") + 1] if "-port" in texts[:-1] else "443"
            w.add_host(v.text, _port(pv), "openssl", dynamic=v.dynamic)
        elif t in ("-proxy",):
            host, port = split_host_port(v.text, 8080)
            w.add_host(host, port, "openssl", dynamic=v.dynamic)
        elif t in ("-in", "-inkey", "-key", "-kfile", "-passin", "-CAfile", "-cert", "-signkey"):
            if not v.text.startswith(("pass:", "env:", "fd:", "stdin")):
                w.add_path(v.sub(v.text.partition("file:")[2] or v.text), "read", call)
        elif t in ("-out", "-keyout"):
            w.add_path(v, "write", call)
    if sub == "s_client" and rest and not rest[-1].text.startswith("-") and "-connect" not in texts:
        last = rest[-1]
        if ":" in last.text:
            host, port = split_host_port(last.text, 443)
            w.add_host(host, port, "openssl", dynamic=last.dynamic)


_SOCAT_HOST = re.compile(r"^(tcp[46]?|tcp-connect|tcp[46]?-connect|udp[46]?|udp-connect|"
                         r"udp[46]?-connect|udp-sendto|openssl|openssl-connect|ssl|sctp-connect|"
                         r"dccp-connect)$", re.IGNORECASE)


def _h_socat(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "dlLTbgs")
    label = " ".join(a.text for a in call.argv)
    for p in pos[:2]:
        head, _, rest = p.text.partition(":")
        kind = head.lower()
        target = rest.split(",")[0]
        if kind in ("exec", "system"):
            w.add_opaque("network-exec", label)
        elif _SOCAT_HOST.match(kind):
            host, _, port = target.rpartition(":")
            w.add_host(host or target, _port(port), "socat", dynamic=p.dynamic)
        elif kind in ("socks4", "socks4a", "socks5", "proxy", "proxy-connect", "socks"):
            fields = target.split(":")
            if fields:
                w.add_host(fields[0], 1080, "socat", dynamic=p.dynamic)
            if len(fields) >= 3:
                w.add_host(fields[1], _port(fields[2]), "socat", dynamic=p.dynamic)
        elif kind in ("open", "create", "gopen", "file"):
            w.add_path(p.sub(target), "write" if kind == "create" else "read", call)


def _h_ftp(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "PpoTuUNrqs" if call.name != "tftp" else "lmcv")
    if pos:
        t = pos[0].text
        if "://" in t:
            w.add_url(t, call.name, dynamic=pos[0].dynamic)
        else:
            port = _port(pos[1].text) if len(pos) > 1 else _DEFAULT_PORTS.get(call.name, 21)
            w.add_host(t.rpartition("@")[2], port, call.name, dynamic=pos[0].dynamic)


def _h_httpie(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "aAsvpPoh", ["--auth", "--auth-type", "--session", "--output",
                                               "--print", "--proxy", "--verify", "--cert",
                                               "--cert-key", "--style", "--timeout"])
    methods = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}
    for p in pos:
        if p.text.upper() in methods:
            continue
        scheme = "https" if call.name == "https" else "http"
        if p.text.startswith(":"):
            w.add_host("localhost", _port(p.text[1:]), "http-argument")
        else:
            w.add_url(p.text, "http-argument", dynamic=p.dynamic, default_scheme=scheme)
        break


# --- package installers ----------------------------------------------------------------------

_PIP_VAL = [
    "--requirement", "--constraint", "--editable", "--target", "--prefix", "--root", "--src",
    "--index-url", "--extra-index-url", "--find-links", "--proxy", "--platform",
    "--python-version", "--implementation", "--abi", "--upgrade-strategy", "--progress-bar",
    "--global-option", "--config-settings", "--no-binary", "--only-binary", "--report",
    "--trusted-host", "--cert", "--client-cert", "--cache-dir", "--log", "--timeout",
    "--retries", "--exists-action", "--python", "--keyring-provider", "--root-user-action",
    "--dest", "--wheel-dir", "--group", "--index", "--default-index", "--output-file",
    "--with", "--with-requirements", "--from", "--directory", "--project", "--extra",
    "--index-strategy", "--resolution", "--prerelease", "--exclude-newer", "--link-mode",
    "--python-platform", "--refresh-package", "--reinstall-package", "--upgrade-package",
    "--override", "--build-constraint", "--torch-backend",
]
_PIP_NET = frozenset({"install", "download", "wheel", "index", "search", "lock", "compile", "sync"})


def _pip_like(w: _Walker, call: _Call, args: Sequence[Word], sub: str, *,
              default_host: bool) -> None:
    opts, pos = getopt(args, "rcetidwfpC", _PIP_VAL)
    for v in _vals(opts, "-r", "--requirement", "-c", "--constraint", "--with-requirements",
                   "--override", "--build-constraint"):
        if "://" in v.text:
            w.add_url(v.text, "pip-index", dynamic=v.dynamic)
        else:
            w.add_path(v, "read", call)
    for v in _vals(opts, "-t", "--target", "--prefix", "--root", "--src", "-d", "--dest", "-w",
                   "--wheel-dir", "--report", "--log", "-o", "--output-file"):
        w.add_path(v, "write", call)
    if _has(opts, "--user"):
        w.add_path(Word("~/.local"), "write", call, implicit=True)
    for v in _vals(opts, "-e", "--editable"):
        if "://" in v.text or "+" in v.text.partition(":")[0]:
            w.scan_urls([v], "pip-index")
        else:
            w.add_path(v, "read", call)
    if sub not in _PIP_NET:
        w.inferred_reads(call, pos)
        return
    index = _vals(opts, "-i", "--index-url", "--default-index")
    if not _has(opts, "--no-index", "--offline"):
        env_index = [call.env[k] for k in call.env if k.lower() in ("pip_index_url", "uv_index_url",
                                                                      "uv_default_index")]
        if index:
            for v in index:
                w.add_url(v.text, "pip-index", dynamic=v.dynamic, default_scheme="https")
        elif env_index:
            w._env_hosts({"pip_index_url": env_index[-1]})
        elif default_host:
            w.add_host("pypi.org", 443, "pip-index")
        for v in _vals(opts, "--extra-index-url", "--index"):
            w.add_url(v.text.rpartition("=")[2] if "=" in v.text and "://" in v.text.rpartition("=")[2]
                      else v.text, "pip-index", dynamic=v.dynamic, default_scheme="https")
    for v in _vals(opts, "-f", "--find-links"):
        if "://" in v.text:
            w.add_url(v.text, "pip-find-links", dynamic=v.dynamic)
        else:
            w.add_path(v, "read", call)
    for v in _vals(opts, "--proxy"):
        w.add_url(v.text, "pip-proxy", dynamic=v.dynamic, default_scheme="http")
    for p in pos:
        t = p.text
        if "://" in t:
            continue  # URL scan
        if t.startswith((".", "/", "~")) or t.endswith((".whl", ".tar.gz", ".zip", ".tgz")):
            w.add_path(p, "read", call)


def _h_pip(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "", ["--proxy", "--cert", "--client-cert", "--cache-dir", "--log",
                                    "--timeout", "--retries", "--exists-action", "--trusted-host",
                                    "--python", "--keyring-provider"], stop_at_positional=True)
    if not pos:
        return
    sub = pos[0].text
    _pip_like(w, call, list(call.args[: len(call.args) - len(pos)]) + list(pos[1:]), sub,
              default_host=True)


def _h_uv(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "", ["--directory", "--project", "--cache-dir", "--python",
                                    "--config-file", "--color"], stop_at_positional=True)
    if not pos:
        return
    sub = pos[0].text
    rest = pos[1:]
    offline = any(a.text == "--offline" for a in call.args)
    if call.name == "uvx":
        _pip_like(w, call, call.args, "install", default_host=not offline)
        return
    if sub == "pip" and rest:
        _pip_like(w, call, rest[1:], rest[0].text, default_host=not offline)
    elif sub in ("add", "sync", "lock"):
        _pip_like(w, call, rest, "install", default_host=not offline)
    elif sub == "tool" and rest and rest[0].text in ("install", "run", "upgrade"):
        _pip_like(w, call, rest[1:], "install", default_host=not offline)
    elif sub == "run":
        opts, rpos = getopt(rest, "w", _PIP_VAL, stop_at_positional=True)
        if not offline and not _has(opts, "--no-sync", "--frozen"):
            _pip_like(w, call, [a for a in rest if a.text.startswith("-")], "install",
                      default_host=True)
        if rpos:
            w.execute(list(rpos), call.ctx, call.stdin, call.depth + 1, call.env, "uv")
    elif sub == "python" and rest and rest[0].text == "install" and not offline:
        w.add_host("github.com", 443, "uv-python")
    elif sub == "venv":
        _, vpos = getopt(rest, "p", ["--python", "--prompt", "--index-url"])
        for p in vpos:
            w.add_path(p, "write", call)


def _h_poetry(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "C", ["--directory", "--project"], stop_at_positional=True)
    if pos and pos[0].text in ("add", "install", "lock", "update", "self", "search", "sync"):
        w.add_host("pypi.org", 443, "pip-index")
    if pos and pos[0].text == "run" and len(pos) > 1:
        w.execute(list(pos[1:]), call.ctx, call.stdin, call.depth + 1, call.env, call.name)


def _h_pipx(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "", [], stop_at_positional=True)
    if pos and pos[0].text in ("install", "run", "inject", "upgrade", "upgrade-all",
                               "reinstall", "install-all"):
        _pip_like(w, call, pos[1:], "install", default_host=True)


def _h_conda(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "cnp", ["--channel", "--name", "--prefix", "--file"],
                    stop_at_positional=True)
    if pos and pos[0].text in ("install", "create", "update", "upgrade", "search", "env"):
        opts, _ = getopt(pos[1:], "cnpf", ["--channel", "--name", "--prefix", "--file"])
        channels = _vals(opts, "-c", "--channel")
        for c in channels:
            if not w.add_url(c.text, "conda-channel", dynamic=c.dynamic):
                w.add_host("conda.anaconda.org", 443, "conda-channel")
        if not channels:
            w.add_host("conda.anaconda.org", 443, "conda-channel")


_NPM_NET = frozenset({
    "install", "i", "in", "ins", "inst", "insta", "instal", "isnt", "isnta", "isntal", "isntall",
    "add", "ci", "clean-install", "install-clean", "isntall-clean", "ic", "update", "up",
    "upgrade", "udpate", "exec", "x", "create", "init", "innit", "publish", "unpublish", "view",
    "v", "info", "show", "search", "s", "se", "find", "audit", "outdated", "dist-tag",
    "deprecate", "owner", "access", "login", "adduser", "whoami", "ping", "doctor", "dedupe",
    "ddp", "install-test", "it", "install-ci-test", "cit", "dlx", "fetch", "import", "why",
    "token", "org", "team", "hook", "star", "stars", "unstar", "repo", "docs", "bugs", "fund",
})


def _h_npm(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "C", ["--registry", "--prefix", "--cwd", "--userconfig",
                                        "--globalconfig", "--cache", "--workspace"])
    name = call.name
    sub = pos[0].text if pos else ""
    net = (
        name in ("npx", "pnpx", "bunx")
        or (name == "yarn" and (not sub or sub in _NPM_NET or sub == "global"))
        or (name != "yarn" and sub in _NPM_NET)
    )
    if name == "npm" and sub == "init" and len(pos) < 2:
        net = False
    registries = _vals(opts, "--registry")
    env_reg = [v for k, v in call.env.items() if k.lower() in ("npm_config_registry",
                                                                 "yarn_registry")]
    if net:
        if registries:
            for r in registries:
                w.add_url(r.text, "npm-registry", dynamic=r.dynamic, default_scheme="https")
        elif env_reg:
            w._env_hosts({"npm_config_registry": env_reg[-1]})
        else:
            w.add_host("registry.npmjs.org", 443, "npm-registry")
    for v in _vals(opts, "--userconfig", "--globalconfig"):
        w.add_path(v, "read", call)
    for p in pos[1:]:
        if p.text.startswith((".", "/", "~")) or p.text.startswith("file:"):
            w.add_path(p.sub(p.text.removeprefix("file:")), "read", call)


def _h_apt(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "octfqy", ["--option", "--config-file", "--target-release"])
    for o in _vals(opts, "-o", "--option"):
        k, _, v = o.text.partition("=")
        if "proxy" in k.lower() and v:
            w.add_url(v, "apt-proxy", dynamic=o.dynamic, default_scheme="http")
    if pos and pos[0].text in ("install", "update", "upgrade", "dist-upgrade", "full-upgrade",
                               "download", "source", "build-dep", "reinstall", "changelog"):
        w.add_host("deb.debian.org", 80, "apt")
        for p in pos[1:]:
            if p.text.startswith((".", "/")) and p.text.endswith(".deb"):
                w.add_path(p, "read", call)


def _h_fetcher(w: _Walker, call: _Call) -> None:
    """Other URL-taking clients (aria2c, lynx, w3m, links, xh ...): positionals are URLs."""
    _, pos = getopt(call.args, "dodxsjo", [])
    for p in pos:
        if "://" in p.text or re.match(r"^[\w.-]+\.[a-z]{2,}(/|:|$)", p.text):
            w.add_url(p.text, f"{call.name}-argument", dynamic=p.dynamic, default_scheme="http")


_NO_URL_SCAN = _NO_FILE_PROGRAMS | _NO_URL_SCAN_EXTRA | frozenset(FILE_PROGRAMS) | frozenset(
    {"sed", "gsed", "awk", "gawk", "mawk", "nawk", "cp", "mv", "ln", "install", "dd", "tar",
     "unzip", "zip", "patch", "mktemp"}
)

def _file_handler(spec: FileSpec) -> Handler:
    def handler(w: _Walker, call: _Call) -> None:
        _file_program(w, call, spec)
    return handler


_HANDLERS: dict[str, Handler] = {
    **{name: _file_handler(spec) for name, spec in FILE_PROGRAMS.items()},
    "env": _h_env,
    "timeout": _simple_wrapper("sk", "--signal --kill-after", skip=1),
    "nice": _simple_wrapper("n", "--adjustment"),
    "nohup": _simple_wrapper(""),
    "setsid": _simple_wrapper(""),
    "stdbuf": _simple_wrapper("ioe", "--input --output --error"),
    "ionice": _simple_wrapper("cnp", "--class --classdata --pid"),
    "chrt": _simple_wrapper("", skip=1),
    "taskset": _simple_wrapper("", skip=1),
    "chronic": _simple_wrapper(""),
    "unbuffer": _simple_wrapper(""),
    "caffeinate": _simple_wrapper("tw"),
    "xvfb-run": _simple_wrapper("nsefwp", "--server-num --server-args --error-file --auth-file"),
    "doas": _simple_wrapper("uC"),
    "builtin": _simple_wrapper(""),
    "noglob": _simple_wrapper(""),
    "time": _h_time,
    "command": _h_command,
    "exec": _h_exec,
    "sudo": _h_sudo,
    "xargs": _h_xargs,
    "find": _h_find,
    "watch": _h_watch,
    "su": _h_su,
    "runuser": _h_su,
    "script": _h_script,
    "flock": _h_flock,
    "strace": _h_strace,
    "ltrace": _h_strace,
    "busybox": _h_busybox,
    "chroot": _h_opaque("chroot"),
    "nsenter": _h_opaque("chroot"),
    "unshare": _h_opaque("chroot"),
    "eval": _h_eval,
    **dict.fromkeys(SHELLS, _h_shell),
    "fish": _h_fish,
    "source": _h_source,
    ".": _h_source,
    "trap": _h_trap,
    "python": _h_python,
    "node": _interpreter(("-e", "-p", "--eval", "--print"), short_val="rC",
                         long_val="--require --import --loader --input-type --conditions"),
    "nodejs": _interpreter(("-e", "-p", "--eval", "--print"), short_val="r",
                           long_val="--require --import --loader"),
    "perl": _h_perl,
    "ruby": _interpreter(("-e",), short_val="IrCEFx", bundle_inline="e"),
    "php": _interpreter(("-r", "-R", "-B", "-E"), short_val="cdfz"),
    "lua": _interpreter(("-e",), short_val="l"),
    "luajit": _interpreter(("-e",), short_val="lj"),
    "Rscript": _interpreter(("-e", "--expr")),
    "R": _interpreter(("-e",)),
    "tclsh": _interpreter(()),
    "wish": _interpreter(()),
    "osascript": _interpreter(("-e",)),
    "pwsh": _interpreter(("-c", "-Command", "-command", "-EncodedCommand", "-e", "-ec"),
                         short_val="f"),
    "powershell": _interpreter(("-c", "-Command", "-command", "-EncodedCommand", "-e", "-ec")),
    "deno": _h_opaque("inline-interpreter"),
    "bun": _interpreter(("-e", "--eval", "-p", "--print")),
    "awk": _h_awk, "gawk": _h_awk, "mawk": _h_awk, "nawk": _h_awk,
    "sed": _h_sed, "gsed": _h_sed,
    "cp": _h_cp, "mv": _h_cp,
    "ln": _h_ln,
    "install": _h_install,
    "dd": _h_dd,
    "tar": _h_tar, "gtar": _h_tar, "bsdtar": _h_tar,
    "unzip": _h_unzip,
    "zip": _h_zip,
    "cpio": _h_cpio,
    "patch": _h_patch,
    "mktemp": _h_mktemp,
    "make": _h_make, "gmake": _h_make,
    "cd": _h_cd, "pushd": _h_cd, "popd": _h_cd,
    "set": _h_set,
    "printenv": _h_printenv,
    **dict.fromkeys(("read", "mapfile", "readarray", "printf", "getopts", "let"), _h_sets_vars),
    "alias": _h_alias,
    "compgen": _h_compgen,
    "git": _h_git,
    "curl": _h_curl,
    "wget": _h_wget, "wget2": _h_wget,
    "nc": _h_nc, "ncat": _h_nc, "netcat": _h_nc,
    "telnet": _h_telnet,
    "ssh": _h_ssh, "ssh-copy-id": _h_ssh, "mosh": _h_ssh, "autossh": _h_ssh,
    "ssh-keyscan": _h_ssh_keyscan,
    "scp": _h_scp, "sftp": _h_scp,
    "rsync": _h_rsync,
    "dig": _h_dns, "kdig": _h_dns, "drill": _h_dns, "nslookup": _h_dns, "host": _h_dns,
    "getent": _h_dns, "resolvectl": _h_dns, "systemd-resolve": _h_dns,
    "whois": _h_whois,
    **dict.fromkeys(("ping", "ping6", "fping", "arping", "traceroute", "traceroute6", "tracepath",
                     "tracepath6", "mtr", "hping3", "tcptraceroute", "tcping"), _h_ping),
    "openssl": _h_openssl,
    "socat": _h_socat,
    "ftp": _h_ftp, "lftp": _h_ftp, "tftp": _h_ftp,
    "http": _h_httpie, "https": _h_httpie, "xh": _h_httpie, "xhs": _h_httpie,
    **dict.fromkeys(("aria2c", "lynx", "w3m", "links", "elinks", "axel"), _h_fetcher),
    "pip": _h_pip,
    "easy_install": lambda w, c: w.add_host("pypi.org", 443, "pip-index"),
    "uv": _h_uv, "uvx": _h_uv,
    "poetry": _h_poetry, "pipenv": _h_poetry, "pdm": _h_poetry, "hatch": _h_poetry,
    "pipx": _h_pipx,
    "conda": _h_conda, "mamba": _h_conda, "micromamba": _h_conda,
    **dict.fromkeys(("npm", "npx", "yarn", "pnpm", "pnpx", "bunx"), _h_npm),
    "apt": _h_apt, "apt-get": _h_apt, "aptitude": _h_apt,
}
