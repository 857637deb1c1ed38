"""Symlinks created earlier in the same command, and bounded patterns.

A command can make a link and use it at once (``ln -s ../frontend backend/fe && echo x >
backend/fe/app.js``): the host does not have the link yet, so resolving on the host
would miss it. :class:`NewLinks` remembers the links the walk has seen created
(``ln -s``, ``cp -s``, a link moved or copied as a link) and the directories where an
earlier program may have created links nobody can list in advance (an archive
extracted, a tree copied with its links): later paths are resolved through them.

:func:`pattern_bounded`: whether every word a bash pattern can expand to is either listed
by pathname expansion or the pattern itself (nothing else can match).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from runner.policy.pathnames import normalize
from runner.policy.patterns import (
    GlobTooBroad,
    brace_expand,
    fnmatch_name,
    has_glob,
    quote_pattern,
    split_pattern,
    unquote_pattern,
)

MAX_NEW_LINKS = 64  # links remembered per command (more: every later path is suspect)


@dataclass(frozen=True, slots=True)
class NewLink:
    """A link made by this command: ``path`` leads to ``target`` (container paths).

    ``target`` None: the directory ``path`` may hold links made by ``program`` whose
    targets are not known (every path strictly under it is suspect; with ``exact``,
    ``path`` itself is such a link).
    """

    path: str
    target: str | None
    program: str
    exact: bool = False


class NewLinks:
    """The links created so far along the walk (in the order they were made)."""

    def __init__(self) -> None:
        self.items: list[NewLink] = []
        self.overflow = False

    def add(self, path: str, target: str | None, program: str, *, exact: bool = False) -> None:
        path = normalize(path)
        if path == "/" and target is not None:
            return
        if len(self.items) >= MAX_NEW_LINKS:
            self.overflow = True
            self.items[-1] = NewLink("/", None, program)  # everything is suspect from here
            return
        self.items.append(NewLink(path, normalize(target) if target is not None else None,
                                  program, exact))

    def hit(self, abs_path: str) -> tuple[NewLink, str] | None:
        """The new link a container path goes through, and the rest of the path after it.

        Components are followed left to right (``..`` lexically before the link, as the
        rest is resolved physically from the link's target).
        """
        if not self.items:
            return None
        parts = abs_path.split("/")
        cur = "/"
        for i, comp in enumerate(parts):
            if comp in ("", "."):
                continue
            cur = posixpath.dirname(cur) if comp == ".." else posixpath.join(cur, comp)
            for link in reversed(self.items):
                if link.target is None:
                    if cur.startswith(link.path.rstrip("/") + "/") or (
                        link.exact and cur == link.path
                    ):
                        return link, "/".join(parts[i + 1 :])
                elif cur == link.path:
                    return link, "/".join(parts[i + 1 :])
        return None

    def patterns(self, pattern: str) -> tuple[list[str], NewLink | None]:
        """How an absolute bash pattern reaches through new links.

        First: patterns (absolute, bash-quoted) to expand instead or as well: the pattern
        with its literal part through a new link rewritten onto the link's target, or, where
        its first glob segment can match the name of a new link, that link's target with the
        rest of the pattern. Second: a new link the pattern may reach in a way that cannot be
        expanded here (an unknown target, or a link deeper than the first glob segment).
        """
        if not self.items:
            return [], None
        segs = split_pattern(pattern)
        cur = "/"
        for i, seg in enumerate(segs):
            if seg in ("", "."):
                continue
            rest = segs[i + 1 :]
            if not has_glob(seg):
                lit = unquote_pattern(seg)
                cur = posixpath.dirname(cur) if lit == ".." else posixpath.join(cur, lit)
                for link in reversed(self.items):
                    if link.target is None and cur.startswith(link.path.rstrip("/") + "/"):
                        return [], link
                    if link.target is not None and cur == link.path:
                        return ["/".join([quote_pattern(link.target), *rest])], None
                continue
            out: list[str] = []
            below = cur.rstrip("/") + "/"
            for link in self.items:
                if not (link.path + "/").startswith(below):
                    continue
                parent, name = posixpath.split(link.path)
                matches = fnmatch_name(seg, name) and (
                    not name.startswith(".") or seg.startswith(".")
                )
                if parent != cur:
                    return out, link  # deeper than this glob segment: cannot be followed here
                if not matches:
                    continue
                if link.target is None:
                    return out, link
                out.append("/".join([quote_pattern(link.target), *rest]))
            return out, None
        return [], None


def pattern_bounded(pattern: str) -> bool:
    """Whether a bash pattern's words are only its pathname-expansion matches or itself.

    Brace expansion gives a finite list of words; pathname expansion lists what exists.
    What breaks this: a glob segment that can match ``.`` or ``..`` (older bash lets
    ``.*`` match them), and a pattern past the expansion limits.
    """
    try:
        words = brace_expand(pattern)
    except GlobTooBroad:
        return False
    for word in words:
        for seg in split_pattern(word):
            if has_glob(seg) and seg.startswith(".") and (
                fnmatch_name(seg, "..") or fnmatch_name(seg, ".")
            ):
                return False
    return True
