"""Arguments a program takes as text, never as a file it opens (``ShellCommand.text_args``).

A secret file's *name* as text is not a read of the file (issue 9): ``echo .env >>
backend/.gitignore``, ``grep -qx '.env' .gitignore``, ``git check-ignore -v .env``,
``grep -rn 'id_rsa\\|\\.pem' backend``. The secrets policy's ``secret_argument`` rule (an
argument naming a secret file where the analysis saw no path) skips the argv indexes listed
here; the file operands of the same programs are path facts and checked as such.

What counts as text, by program:

* ``echo``, ``printf``, ``test``/``[``/``[[`` (a name tested for existence is not read),
  ``basename``, ``dirname``, ``which``, ``type``: every argument;
* grep-like searchers (``grep``, ``egrep``, ``fgrep``, ``zgrep``, ``rg``, ``ag``, ``ack``,
  ``git grep``): the pattern (``-e`` values, else the first operand unless ``-f`` gives the
  patterns) and the file-name globs of ``--include``/``--exclude``/``-g``/``--glob``;
* ``find``: the patterns of ``-name``, ``-path``, ``-regex`` and their variants;
* ``git check-ignore``, ``git check-attr``, ``git ls-files``: the path arguments (matched
  against ignore rules, attributes and the index; the files are not opened);
* ``rsync``, ``tar``, ``zip``: ``--exclude``/``--include`` (``-x``/``-i``) patterns.
"""

from __future__ import annotations

from collections.abc import Sequence

_ALL_TEXT = frozenset({"echo", "printf", "test", "[", "[[", "basename", "dirname", "which",
                       "type", "true", "false", ":"})
_GREP_LIKE = frozenset({"grep", "egrep", "fgrep", "zgrep", "zegrep", "zfgrep", "rgrep", "rg",
                        "ag", "ack", "ack-grep"})
# short options taking a value, by searcher; the value is text when in _GREP_TEXT_OPTS
_GREP_VALUE_SHORT = {"rg": "efmABCgtTMjEr", "ag": "mABCGgp", "ack": "mABC"}
_GREP_VALUE_LONG = frozenset({
    "--regexp", "--file", "--max-count", "--after-context", "--before-context", "--context",
    "--include", "--exclude", "--exclude-dir", "--exclude-from", "--label", "--binary-files",
    "--devices", "--directories", "--color", "--colour", "--group-separator", "--glob",
    "--iglob", "--type", "--type-not", "--type-add", "--max-depth", "--replace", "--sort",
    "--sortr", "--max-columns", "--threads", "--encoding", "--engine", "--path-separator",
    "--ignore-file", "--pre", "--pre-glob", "--max-filesize", "--context-separator",
    "--field-match-separator", "--ignore", "--ignore-dir", "--file-search-regex",
})
_GREP_TEXT_OPTS = frozenset({"-e", "--regexp", "--include", "--exclude", "--exclude-dir",
                             "-g", "--glob", "--iglob", "--ignore", "--ignore-dir", "-G",
                             "--file-search-regex", "--label"})
_FIND_TEXT_OPTS = frozenset({"-name", "-iname", "-path", "-ipath", "-wholename",
                             "-iwholename", "-regex", "-iregex", "-lname", "-ilname"})
_GIT_TEXT_SUBCOMMANDS = frozenset({"check-ignore", "check-attr", "ls-files"})
_GIT_VALUE_OPTS = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace",
                             "--exec-path", "--config-env"})
_EXCLUDE_OPTS = frozenset({"--exclude", "--include", "-x", "-i", "--exclude-from-pattern"})


def text_arguments(program: str, argv: Sequence[str]) -> list[int] | None:
    """The argv indexes ``program`` takes as text (None when there are none)."""
    found: list[int] = []
    if program in _ALL_TEXT:
        found = list(range(1, len(argv)))
    elif program in _GREP_LIKE:
        found = _grep(argv, 1, program)
    elif program == "find":
        found = [i + 1 for i, a in enumerate(argv[:-1]) if i > 0 and a in _FIND_TEXT_OPTS]
    elif program == "git":
        found = _git(argv)
    elif program in ("rsync", "tar", "gtar", "bsdtar", "zip"):
        found = _excludes(argv, program)
    return found or None


def _grep(argv: Sequence[str], start: int, program: str) -> list[int]:
    text: list[int] = []
    operands: list[int] = []
    patterns_given = False
    i = start
    while i < len(argv):
        a = argv[i]
        if a == "--":
            operands.extend(range(i + 1, len(argv)))
            break
        if a.startswith("--"):
            name, eq, _ = a.partition("=")
            if name in ("--regexp", "--file"):
                patterns_given = True
            if eq:
                if name in _GREP_TEXT_OPTS:
                    text.append(i)
            elif name in _GREP_VALUE_LONG and i + 1 < len(argv):
                if name in _GREP_TEXT_OPTS:
                    text.append(i + 1)
                i += 1
            i += 1
            continue
        if a.startswith("-") and len(a) > 1:
            for j, c in enumerate(a[1:], start=1):
                if c in _GREP_VALUE_SHORT.get(program, "efmABCdD"):
                    if c in "ef" and program != "ag":
                        patterns_given = True
                    attached = j + 1 < len(a)
                    if f"-{c}" in _GREP_TEXT_OPTS:
                        text.append(i if attached else i + 1)
                    if not attached:
                        i += 1
                    break
            i += 1
            continue
        operands.append(i)
        i += 1
    if not patterns_given and operands:
        text.append(operands[0])
    return text


def _git(argv: Sequence[str]) -> list[int]:
    i = 1
    while i < len(argv):
        a = argv[i]
        if a in _GIT_VALUE_OPTS:
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        break
    if i >= len(argv):
        return []
    sub = argv[i]
    if sub in _GIT_TEXT_SUBCOMMANDS:
        return [j for j in range(i + 1, len(argv)) if not argv[j].startswith("-")]
    if sub == "grep":
        return _grep(argv, i + 1, "grep")
    return []


def _excludes(argv: Sequence[str], program: str) -> list[int]:
    out: list[int] = []
    for i, a in enumerate(argv):
        if i == 0:
            continue
        name, eq, _ = a.partition("=")
        if eq and name in ("--exclude", "--include"):
            out.append(i)
        elif a in _EXCLUDE_OPTS and i + 1 < len(argv) and (program == "zip" or a.startswith("--")):
            out.append(i + 1)
    return out
