"""Recording the facts of one analysis: paths (with pattern expansion and recursive
listings), hosts, opaque constructs and commands (:class:`_Facts`, the walker's base)."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from typing import Any

from runner.policy.models import HostFact, OpaqueConstruct, PathFact, PathOp, PathVia, ShellCommand
from runner.policy.pathnames import (
    CONTAINER_WORKSPACE,
    absolute,
    display,
    is_inside,
    normalize,
    special_kind,
)
from runner.policy.paths import MAX_GLOB_MATCHES, MAX_WALK_ENTRIES, PathResolver, WalkResult
from runner.policy.patterns import (
    GlobTooBroad,
    brace_expand,
    has_glob,
    quote_pattern,
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
from runner.policy.shell.links import NewLink, NewLinks, pattern_bounded
from runner.policy.shell.textargs import text_arguments
from runner.policy.shell.words import Bound, Word

MAX_EXPANDED_FACTS = 512  # path facts from pattern expansion, per command
MAX_WALKED_ENTRIES = 4 * MAX_WALK_ENTRIES  # entries looked at by recursive reads, per command
_SNIPPET = 200
MAX_LINK_PATTERNS = 32  # patterns expanded through links made by the command, per command
# Programs that only delete what they are given (a symlink is removed, never followed): a
# write under a root by them needs no listing of what is there.
DELETERS = frozenset({"rm", "rmdir", "unlink", "find"})
# Programs that read names and metadata, not what files hold: a name only known when the
# command runs is no secret read for them.
LISTERS = frozenset({
    "find", "ls", "dir", "tree", "du", "stat", "realpath", "readlink", "lsattr", "getfacl",
    "test", "[", "file",
})
_ODD_NAME_CHARS = frozenset(" \t\n\r'\"\\")


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
        self._path_keys: dict[tuple[str, str, str, str, str], PathFact] = {}
        self._host_keys: set[tuple[str, int | None]] = set()
        self._opaque_keys: set[tuple[str, str]] = set()
        self._command_keys: set[tuple[str, tuple[str, ...], str | None]] = set()
        self.glob_flags: set[str] = set()  # shell options assumed on: dotglob, globstar ...
        self._expanded = 0  # facts added by pattern expansion
        self._walk_left = MAX_WALKED_ENTRIES
        self._walks: dict[tuple[str, Recursion], WalkResult | None] = {}
        self.links = NewLinks()  # symlinks created earlier in this command
        self.budgets: dict[str, int] = {}  # per-command counters of handlers' costly looks
        self.memo: dict[tuple[str, ...], Any] = {}  # handlers' lookups, once per command
        self.odd_names = False  # a path with blanks or quotes was written by this command

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
        note: str | None = None,
    ) -> None:
        """Record what ``call`` does to the path ``w`` (``note``: why, for messages)."""
        if w.procsub or not w.text:
            return
        start = len(self.paths)
        if via != "redirect" and w.text == "-":
            return
        context = ctx if ctx is not None else call.ctx if call is not None else None
        assert context is not None
        prog = program if program is not None else call.name if call is not None else None
        if w.bound is not None:
            self._add_bounded(w, w.bound, op, context, via, prog, inferred, implicit, cwds)
            self._note(start, note)
            return
        if op == "read" and w.dynamic and w.glob is None and not inferred and (
            prog not in LISTERS
        ):
            # a file reader given a name only known when the command runs: it could be any
            # file, a secret one included
            self.add_opaque(
                "dynamic-read",
                f"{prog or 'the command'} reads {w.text}, a name only known when the command "
                "runs; name the file literally",
            )
        if op == "write" and any(c in _ODD_NAME_CHARS for c in w.text):
            self.odd_names = True
        bounded = w.glob is not None and pattern_bounded(w.glob)
        for cwd in cwds if cwds is not None else context.cwds:
            fact = self.fact(
                w.text, op, cwd=cwd, via=via, program=prog,
                dynamic=w.dynamic or context.cwd_dynamic, inferred=inferred, implicit=implicit,
            )
            if bounded and not context.cwd_dynamic:
                fact.bounded = True
            self._record(fact, recursive)
            if w.glob is not None:
                self._expand(w, w.glob, op, cwd, via, prog, inferred, implicit, recursive,
                             bounded)
        self._note(start, note)

    def _note(self, start: int, note: str | None) -> None:
        if note:
            for fact in self.paths[start:]:
                fact.note = note

    def fact(
        self, text: str, op: PathOp, *, cwd: str, via: PathVia, program: str | None,
        dynamic: bool = False, inferred: bool = False, implicit: bool = False,
    ) -> PathFact:
        """The resolver's fact, resolved through the links created earlier in this command."""
        fact = self.resolver.fact(
            text, op, cwd=cwd, via=via, program=program, dynamic=dynamic, inferred=inferred,
            implicit=implicit,
        )
        hit = self.links.hit(absolute(text, cwd, self.resolver.home))
        if hit is not None:
            self._through(fact, *hit)
        return fact

    def _through(self, fact: PathFact, link: NewLink, rest: str) -> None:
        if link.target is None:
            fact.new_link = link.program
            return
        res = self.resolver.resolve(f"{link.target}/{rest}" if rest else link.target, "/")
        fact.real = display(res.real)
        fact.inside_workspace = is_inside(res.real)
        fact.symlink = True
        fact.hardlinks = res.hardlinks
        fact.special = special_kind(res.real) or fact.special
        if res.loop:
            fact.loop = True

    def _add_bounded(
        self, w: Word, bound: Bound, op: PathOp, ctx: _Ctx, via: PathVia, program: str | None,
        inferred: bool, implicit: bool, cwds: Sequence[str] | None,
    ) -> None:
        """A word known only as "paths under these roots": the op applies under each root."""
        listed = not (op == "write" and program in DELETERS)
        for root in bound.roots:
            name = posixpath.basename(root.rstrip("/")) or root
            # the root itself is among the values when its name passes (find prints it)
            whole = bound.keep is None or (bound.keep_dirs and bound.keep(name))
            how = Recursion(listed=listed) if whole else Recursion(
                keep=bound.keep, keep_dirs=bound.keep_dirs, listed=listed)
            for cwd in cwds if cwds is not None else ctx.cwds:
                fact = self.fact(root, op, cwd=cwd, via=via, program=program,
                                 dynamic=ctx.cwd_dynamic, inferred=inferred, implicit=implicit)
                fact.raw = w.text
                fact.under = True
                if op == "write":
                    fact.note = f"{program or 'the command'} may write anything under it"
                self._record(fact, how)

    def _record(self, fact: PathFact, recursive: Recursion | None) -> None:
        key = (fact.raw, fact.real, fact.path, fact.op, fact.new_link or "")
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
        bounded: bool = False,
    ) -> None:
        """One fact per word the pattern expands to (brace, then pathname expansion)."""
        try:
            words: list[tuple[str, str]] = []  # (word, directory it is relative to)
            for p in brace_expand(pattern):
                if not has_glob(p):
                    words.append((unquote_pattern(p), cwd))
                    continue
                if "extglob" in self.glob_flags and "(" in p:
                    raise GlobTooBroad(p)  # extglob syntax is not matched here
                variants = [(p, cwd)]
                if self.links.items:
                    whole = p if p.startswith("/") else f"{quote_pattern(cwd)}/{p}"
                    through, unknown = self.links.patterns(whole)
                    used = self.budgets.get("link-patterns", 0) + len(through)
                    self.budgets["link-patterns"] = used
                    if unknown is None and used > MAX_LINK_PATTERNS:
                        unknown, through = self.links.items[-1], []
                    if unknown is not None:
                        self._unresolvable(w, op, cwd, via, program, unknown)
                    variants += [(v, "/") for v in through]
                for variant, base in variants:
                    matches = self.resolver.expand_glob(
                        variant, base, dotglob="dotglob" in self.glob_flags,
                        nocase="nocaseglob" in self.glob_flags,
                        globstar="globstar" in self.glob_flags,
                    )
                    words.extend((m, base) for m in matches)
                    if not matches and base == cwd:
                        words.append((unquote_pattern(variant), cwd))
                if len(words) > MAX_GLOB_MATCHES:
                    raise GlobTooBroad(p)
        except GlobTooBroad:
            self.add_opaque(
                "glob-too-broad",
                f"{w.text} expands to more than {MAX_GLOB_MATCHES} paths; name fewer files",
            )
            return
        for text, base in words:
            if (text == w.text and base == cwd) or not text:
                continue
            self._expanded += 1
            if self._expanded > MAX_EXPANDED_FACTS:
                self.add_opaque(
                    "glob-too-broad",
                    f"the patterns expand to more than {MAX_EXPANDED_FACTS} paths; name fewer files",
                )
                return
            fact = self.fact(
                text, op, cwd=base, via=via, program=program, dynamic=True,
                inferred=inferred, implicit=implicit,
            )
            fact.raw = w.text
            if bounded:
                fact.bounded = True
            self._record(fact, recursive)

    def expand_words(self, pattern: str, cwd: str) -> list[str] | None:
        """The words a pattern expands to, as bash gives them (None: past the limits)."""
        try:
            words: list[str] = []
            for p in brace_expand(pattern):
                if not has_glob(p):
                    words.append(unquote_pattern(p))
                    continue
                if "extglob" in self.glob_flags and "(" in p:
                    return None
                if self.links.items:
                    return None  # a link made by this command may add matches
                matches = self.resolver.expand_glob(
                    p, cwd, dotglob="dotglob" in self.glob_flags,
                    nocase="nocaseglob" in self.glob_flags,
                    globstar="globstar" in self.glob_flags,
                )
                words.extend(matches or [unquote_pattern(p)])
                if len(words) > MAX_GLOB_MATCHES:
                    return None
        except GlobTooBroad:
            return None
        return words

    def _unresolvable(self, w: Word, op: PathOp, cwd: str, via: PathVia, program: str | None,
                      link: NewLink) -> None:
        """A pattern that may reach through a link this command made, where it cannot be followed."""
        fact = self.resolver.fact(w.text, op, cwd=cwd, via=via, program=program, dynamic=True)
        fact.new_link = link.program
        self._record(fact, None)

    def _recurse(self, fact: PathFact, how: Recursion) -> None:
        """Mark a directory read recursively and list what the program may read under it.

        Outside the workspace (the image's own files, not on the host) nothing is listed: the
        fact is only marked, so that a recursive read of a directory holding kernel special
        files or the runner's directory (``/``, ``/run``) can be told from a plain listing.
        """
        if fact.real.startswith("/") and not fact.special:
            fact.recursive = True
            return
        if not fact.inside_workspace or fact.special or fact.real.startswith("/"):
            return
        container = CONTAINER_WORKSPACE if fact.real == "." else f"{CONTAINER_WORKSPACE}/{fact.real}"
        if not how.listed:
            if self.resolver.is_directory(container) is not False:
                fact.recursive = True  # a delete under it: what is there does not matter
            return
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
        fact.recursive = True
        before = fact.contents or []
        contents = {*before, *result.contents}
        truncated = result.truncated
        if how.follow and self.links.items:
            more, cut = self._new_links_under(container, how)
            contents |= more
            truncated = truncated or cut
        fact.contents = sorted(contents)
        fact.contents_truncated = truncated or fact.contents_truncated

    def _new_links_under(self, container: str, how: Recursion) -> tuple[set[str], bool]:
        """What a recursive read that follows links reaches through links this command made
        under ``container`` (second: a link whose target is not known)."""
        found: set[str] = set()
        for link in self.links.items:
            if not link.path.startswith(container.rstrip("/") + "/"):
                continue
            if link.target is None:
                return found, True
            found.add(display(link.target))
            if is_inside(link.target) and link.target != container:
                sub = self.resolver.walk(link.target, hidden=how.hidden, follow=False,
                                         keep=how.keep, keep_dirs=how.keep_dirs,
                                         limit=max(1, min(MAX_WALK_ENTRIES, self._walk_left)))
                if sub is not None:
                    self._walk_left -= max(sub.scanned, 1)
                    found.update(sub.contents)
                    if sub.truncated:
                        return found, True
        return found, False

    def add_command(self, program: str, argv: list[str], wrapper: str | None) -> None:
        key = (program, tuple(argv), wrapper)
        if key in self._command_keys:
            return
        self._command_keys.add(key)
        self.commands.append(ShellCommand(program=program, argv=argv, wrapper=wrapper,
                                          text_args=text_arguments(program, argv)))

    def new_link(self, link: Word, target: Word | None, call: _Call) -> None:
        """``link`` (as written) is made a symlink to ``target`` (None: not knowable, e.g. an
        archive's links), resolved from the link's directory."""
        if link.dynamic or link.bound is not None:
            return
        for cwd in call.ctx.cwds:
            path = normalize(absolute(link.text, cwd, self.resolver.home))
            if target is None or target.dynamic or target.bound is not None:
                self.links.add(path, None, call.name, exact=True)
                continue
            dest = absolute(target.text, posixpath.dirname(path), self.resolver.home)
            self.links.add(path, self.resolver.resolve(dest, "/").lexical, call.name)

    def may_hold_links(self, directory: Word, call: _Call, cwds: Sequence[str] | None = None) -> None:
        """After ``call``, ``directory`` may hold links nobody can list now (tar x, unzip)."""
        if directory.dynamic:
            self.links.add("/", None, call.name)
            return
        for cwd in cwds if cwds is not None else call.ctx.cwds:
            path = normalize(absolute(directory.text, cwd, self.resolver.home))
            self.links.add(path, None, call.name)

    def tree_has_links(self, container_dir: str) -> bool:
        """Whether a workspace directory holds symlinks anywhere under it (True when it
        holds more than the per-command budget lets us look at)."""
        walks = []
        for follow in (False, True):  # links are skipped, then listed with their targets
            found = self.resolver.walk(container_dir, follow=follow,
                                       limit=max(1, min(MAX_WALK_ENTRIES, self._walk_left)))
            if found is None:
                return False  # not a directory here
            self._walk_left -= max(found.scanned, 1)
            walks.append(found)
        plain, linked = walks
        return plain.truncated or linked.truncated or plain.contents != linked.contents

    def names_plain(self, bound: Bound, cwds: Sequence[str]) -> bool:
        """Whether every name under the roots survives word splitting and xargs' quoting:
        no blanks, quotes or backslashes (else one name could become several, such as
        ``.git``). False when there are more names than can be looked at."""
        if self.odd_names:
            return False  # this command itself made such a name
        odd = False

        def look(name: str) -> bool:
            nonlocal odd
            if any(c in _ODD_NAME_CHARS for c in name):
                odd = True
            return False

        for root in bound.roots:
            if any(c in _ODD_NAME_CHARS for c in root):
                return False
            for cwd in cwds:
                container = normalize(absolute(root, cwd, self.resolver.home))
                if self.links.hit(container) is not None:
                    return False
                if not is_inside(container):
                    continue
                key = ("names-plain", container)
                if key not in self.memo:
                    found = self.resolver.walk(
                        container, follow=False, keep=look,
                        limit=max(1, min(MAX_WALK_ENTRIES, self._walk_left)),
                    )
                    if found is not None:
                        self._walk_left -= max(found.scanned, 1)
                    self.memo[key] = found is None or not (odd or found.truncated)
                if not self.memo[key]:
                    return False
        return True

    def environ_read(self, call: _Call) -> None:
        self.add_path(Word("/proc/self/environ"), "read", call, implicit=True)


