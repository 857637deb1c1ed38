"""Recording the facts of one analysis: paths (with pattern expansion and recursive
listings), hosts, opaque constructs and commands (:class:`_Facts`, the walker's base)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from runner.policy.models import HostFact, OpaqueConstruct, PathFact, PathOp, PathVia, ShellCommand
from runner.policy.paths import (
    CONTAINER_WORKSPACE,
    MAX_GLOB_MATCHES,
    MAX_WALK_ENTRIES,
    GlobTooBroad,
    PathResolver,
    WalkResult,
    brace_expand,
    has_glob,
    unquote_pattern,
)
from runner.policy.shell.context import _Call, _Ctx
from runner.policy.shell.expansion import Recursion
from runner.policy.shell.hosts import (
    _DEFAULT_PORTS,
    _URL_RE,
    authority_is_dynamic,
    authority_of,
    url_host,
)
from runner.policy.shell.textargs import text_arguments
from runner.policy.shell.words import Word

MAX_EXPANDED_FACTS = 512  # path facts from pattern expansion, per command
MAX_WALKED_ENTRIES = 4 * MAX_WALK_ENTRIES  # entries looked at by recursive reads, per command
_SNIPPET = 200


class _Facts:
    """The facts one analysis collects, deduplicated, in the order first seen.

    Path facts are expanded as bash would expand their patterns, and a directory a
    program reads recursively lists what it holds (bounded per command).
    """

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
        self.glob_flags: set[str] = set()  # shell options assumed on: dotglob, globstar ...
        self._expanded = 0  # facts added by pattern expansion
        self._walk_left = MAX_WALKED_ENTRIES
        self._walks: dict[tuple[str, Recursion], WalkResult | None] = {}

    def add_opaque(self, construct: str, text: str) -> None:
        snippet = text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."
        key = (construct, snippet)
        if key not in self._opaque_keys:
            self._opaque_keys.add(key)
            self.opaque.append(OpaqueConstruct(construct=construct, text=snippet))

    def add_host(self, host: str, port: int | None, via: str, *, dynamic: bool = False) -> None:
        h = host.strip().strip("[]").rstrip(".")
        dynamic = dynamic or "$" in h or "`" in h
        if not dynamic:
            h = h.lower()
        if not h or (not dynamic and any(c.isspace() for c in h)):
            return
        key = (h, port)
        if key in self._host_keys:
            return
        self._host_keys.add(key)
        if dynamic:
            self.hosts.append(HostFact(host=h, port=port, via=via, dynamic=True))
        else:
            self.hosts.append(HostFact(host=h, port=port, via=via))

    def add_hidden_host(self, what: str, via: str) -> None:
        """A connection whose host the command does not show (URLs read from a file ...)."""
        self.add_host(what, None, via, dynamic=True)

    def add_url(self, text: str, via: str, *, dynamic: bool = False, default_scheme: str = "") -> bool:
        """Record the host of a URL (``default_scheme`` for schemeless ones). True if one was found.

        In a word holding an expansion, the host is dynamic only when an expansion comes
        before the end of the URL's authority (``http://$H/x``, ``$(cat url.txt)``; not
        ``http://localhost:8000/$path``); a value that word splitting may cut into several
        URLs has each of them recorded.
        """
        url = text
        if "://" not in url:
            if not default_scheme or not url or url.startswith(("/", ".", "-", "@")):
                return False
            url = f"{default_scheme}://{url}"
        if dynamic:
            authority = authority_of(url)
            if authority_is_dynamic(authority):
                self.add_host(text if len(text) <= _SNIPPET else text[:_SNIPPET] + "...", None,
                              via, dynamic=True)
                return True
            if any(c.isspace() for c in url):
                for m in _URL_RE.finditer(url[url.index("://") + 3:]):
                    self.add_url(m.group(0), via, dynamic=True)
        found = url_host(url)
        if found is None:
            return False
        self.add_host(found[0], found[1], via)
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
        """Mark a directory read recursively and list what the program may read under it.

        Outside the workspace (the image's own files, not on the host) nothing is listed: the
        fact is only marked, so that a recursive read of a directory holding kernel special
        files or the runner's directory (``/``, ``/run``) can be told from a plain listing.
        """
        if fact.real.startswith("/") and not fact.special:
            extra = fact.__pydantic_extra__
            assert extra is not None
            extra["recursive"] = True
            return
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
        self.commands.append(ShellCommand(program=program, argv=argv, wrapper=wrapper,
                                          text_args=text_arguments(program, argv)))

    def environ_read(self, call: _Call) -> None:
        self.add_path(Word("/proc/self/environ"), "read", call, implicit=True)
