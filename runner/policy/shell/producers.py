"""Bounded producers: commands whose output is a list of paths under known roots.

``find backend -name '*.py'``, ``grep -rl x backend``, ``git ls-files backend``: what they
print are paths under the directories they are given (as given: relative to the working
directory), possibly narrowed by name tests. Filters in a pipeline after them (``grep``
on stdin, ``sort``, ``uniq``, ``head``, ``tail``) print a subset of those lines. When such a
pipeline feeds ``xargs`` or a command substitution, the consumer's arguments are "paths
under the roots" (:class:`~runner.policy.shell.words.Bound`) instead of unknowable text.
Anything else (a producer printing other text, ``-printf``, ``grep -o``, a ``cd`` in the
pipeline, a dynamic argument) gives no bound.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence

from runner.policy.patterns import fnmatch_name, has_glob
from runner.policy.shell.words import Bound, Word, _has, _vals, getopt

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



# find's actions and options that print something else than the found paths, or run things
_FIND_OTHER_OUTPUT = frozenset({
    "-printf", "-fprintf", "-ls", "-fls", "-exec", "-execdir", "-ok", "-okdir", "-delete",
    "-fprint", "-fprint0", "-files0-from",
})
_FIND_OPERATORS = frozenset({"-o", "-or", "-not", "!", "(", ")", ","})


def _find_output(args: Sequence[Word]) -> Bound | None:
    i = 0
    while i < len(args) and args[i].text in ("-H", "-L", "-P") and not args[i].dynamic:
        i += 1
    roots: list[str] = []
    while i < len(args) and not args[i].text.startswith(("-", "(", "!", ",")):
        roots.append(args[i].text)
        i += 1
    expr = args[i:]
    j = 0
    while j < len(expr):
        t = expr[j].text
        if t in _FIND_OTHER_OUTPUT:
            return None
        if t in _FIND_VALUED:
            j += 2
            continue
        if t not in _FIND_FLAGS and t not in _FIND_OPERATORS:
            return None
        j += 1
    keep, keep_dirs = _find_filter(expr)
    return Bound(tuple(roots or ["."]), keep, keep_dirs, "find")


_GREP_VAL = "efABCmdD"
_GREP_LONG = [
    "--regexp", "--file", "--after-context", "--before-context", "--context", "--max-count",
    "--include", "--exclude", "--exclude-from", "--exclude-dir", "--label", "--devices",
    "--directories", "--binary-files", "--group-separator",
]
# grep options that keep its output to whole input lines (as a filter) or file names (-l)
_GREP_PLAIN = frozenset({
    "-v", "--invert-match", "-E", "--extended-regexp", "-F", "--fixed-strings", "-G",
    "--basic-regexp", "-P", "--perl-regexp", "-i", "--ignore-case", "-y", "--no-ignore-case",
    "-w", "--word-regexp", "-x", "--line-regexp", "-e", "--regexp", "-f", "--file", "-s",
    "--no-messages", "-a", "--text", "-I", "--color", "--colour", "-m", "--max-count",
    "-z", "--null-data", "-U", "--binary", "--line-buffered",
})
_GREP_LIST = frozenset({
    "-l", "--files-with-matches", "-L", "--files-without-match", "-r", "--recursive", "-R",
    "--dereference-recursive", "--include", "--exclude", "--exclude-dir", "--exclude-from",
    "-Z", "--null", "-d", "--directories", "-D", "--devices", "--binary-files",
})


def _grep_output(name: str, args: Sequence[Word], *, first: bool) -> Bound | str | None:
    """A grep printing file names (a Bound), a filter on stdin ("filter"), or None."""
    opts, pos = getopt(args, _GREP_VAL, _GREP_LONG)
    if not _has(opts, "-e", "--regexp", "-f", "--file"):
        pos = pos[1:]  # the pattern
    names = {o for o, _ in opts}
    if not first:
        return "filter" if not pos and names <= _GREP_PLAIN else None
    if not _has(opts, "-l", "--files-with-matches", "-L", "--files-without-match"):
        return None
    if not names <= _GREP_PLAIN | _GREP_LIST:
        return None
    recursive = name == "rgrep" or _has(opts, "-r", "-R", "--recursive",
                                        "--dereference-recursive")
    if not pos and not recursive:
        return None  # names of stdin
    include = [v.text for v in _vals(opts, "--include")]
    keep: Callable[[str], bool] | None = None
    if include and not any(c in p for p in include for c in "/$`"):
        def keep(n: str) -> bool:
            return any(fnmatch_name(p, n) for p in include)
    return Bound(tuple(p.text for p in pos) or (".",), keep, False, name)


_RG_VAL = "efgtTjmMACrEd"
_RG_LONG = [
    "--regexp", "--file", "--glob", "--iglob", "--type", "--type-not", "--threads",
    "--max-count", "--max-depth", "--type-add", "--ignore-file", "--sort", "--sortr",
    "--max-filesize",
]


def _rg_output(args: Sequence[Word]) -> Bound | None:
    opts, pos = getopt(args, _RG_VAL, _RG_LONG)
    files = _has(opts, "--files")
    if not files and not _has(opts, "-l", "--files-with-matches", "--files-without-match"):
        return None
    if _has(opts, "--pre", "--null-data", "--json", "--vimgrep", "-r", "--replace"):
        return None
    if not files and not _has(opts, "-e", "--regexp", "-f", "--file"):
        pos = pos[1:]
    return Bound(tuple(p.text for p in pos) or (".",), None, True, "rg")


_GIT_LS_FLAGS = frozenset({
    "-z", "-c", "--cached", "-o", "--others", "-m", "--modified", "-d", "--deleted", "-i",
    "--ignored", "--exclude-standard", "--directory", "--no-empty-directory", "--error-unmatch",
    "--recurse-submodules", "-x", "--exclude", "-X", "--exclude-from",
})


def _git_output(args: Sequence[Word]) -> Bound | None:
    texts = [a.text for a in args]
    if not texts or texts[0] != "ls-files":
        return None
    opts, pos = getopt(args[1:], "xX", ["--exclude", "--exclude-from"])
    if not {o for o, _ in opts} <= _GIT_LS_FLAGS:
        return None
    roots: list[str] = []
    for p in pos:
        if p.text.startswith(":"):
            return None  # pathspec magic (:/ is the top of the repository)
        static = _static_dir(p.text)
        if static is None:
            return None
        roots.append(static)
    return Bound(tuple(roots) or (".",), None, True, "git ls-files")


def _static_dir(spec: str) -> str | None:
    """The directory part of a (git pathspec or glob) pattern before any wildcard."""
    if not has_glob(spec):
        return spec
    parts: list[str] = []
    for part in spec.split("/"):
        if has_glob(part):
            break
        parts.append(part)
    if ".." in spec.split("/")[len(parts) :]:
        return None
    return "/".join(parts) or "."


_FILTERS: dict[str, tuple[str, frozenset[str]]] = {
    # program: (short options with a value, allowed options); no file operands
    "sort": ("kStT", frozenset({
        "-u", "--unique", "-r", "--reverse", "-n", "--numeric-sort", "-V", "--version-sort",
        "-z", "--zero-terminated", "-f", "--ignore-case", "-d", "-s", "--stable", "-k", "--key",
        "-t", "--field-separator", "-S", "--buffer-size", "-T", "--temporary-directory", "-h",
        "--human-numeric-sort", "-g", "-b", "-M",
    })),
    "uniq": ("", frozenset({"-z", "--zero-terminated", "-u", "--unique", "-d", "--repeated"})),
    "head": ("nc", frozenset({"-n", "--lines", "-z", "--zero-terminated", "-q"})),
    "tail": ("n", frozenset({"-n", "--lines", "-z", "--zero-terminated", "-q"})),
    "cat": ("", frozenset()),
    "tac": ("", frozenset()),
}


def _filter_ok(name: str, args: Sequence[Word]) -> bool:
    spec = _FILTERS.get(name)
    if spec is None:
        return False
    opts, pos = getopt(args, spec[0], ["--lines", "--key", "--field-separator"])
    return not pos and {o for o, _ in opts} <= spec[1]


def extend(bound: Bound, tail: str) -> Bound | None:
    """The bound of a value followed by ``tail`` (``"$f/x"``, ``{}.bak``), None if it may
    leave the roots: a ``..`` or a pattern in it, or a suffix on a name that may be a root
    itself (``find backend`` prints ``backend``, and ``backend.bak`` is not under it)."""
    if not tail:
        return bound
    if ".." in tail.split("/") or has_glob(tail) or "$" in tail or "`" in tail:
        return None
    if not tail.startswith("/") and bound.producer != "mktemp" and (
        bound.keep is None
        or any(bound.keep(posixpath.basename(r.rstrip("/")) or r) for r in bound.roots)
    ):
        return None
    return Bound(bound.roots, None, True, bound.producer)


def mktemp_target(args: Sequence[Word]) -> tuple[str, bool, bool] | None:
    """What ``mktemp ARGS`` creates: (path template, template given, dry run); None when
    a part of it is only known when the command runs."""
    opts, pos = getopt(args, "p", ["--tmpdir", "--suffix"])
    if any(p.dynamic for p in pos) or any(v.dynamic for v in _vals(opts, "-p", "--tmpdir")):
        return None
    tmp = _vals(opts, "-p", "--tmpdir")
    # -p DIR / --tmpdir[=DIR] / -t: the template is relative to DIR ($TMPDIR, /tmp)
    base = tmp[-1].text if tmp else (
        "/tmp" if _has(opts, "-t", "--tmpdir") or not pos else None
    )
    template = pos[0].text if pos else "tmp.XXXXXXXXXX"
    text = template if base is None or "/" in template else f"{base.rstrip('/')}/{template}"
    return text, bool(pos), _has(opts, "-u", "--dry-run")


def pipeline_output(commands: Sequence[tuple[str, Sequence[Word]]]) -> Bound | None:
    """What a pipeline prints, when it is paths under known roots (None: anything).

    ``commands``: (program name, arguments) of each command of the pipeline, in order;
    the first must be a producer and every later one a filter. A dynamic argument
    anywhere, or a root that is not a literal path, gives None.
    """
    if not commands:
        return None
    out: Bound | None = None
    for i, (program, args) in enumerate(commands):
        name = posixpath.basename(program)
        if any(a.dynamic or a.procsub for a in args) or "$" in program or "`" in program:
            return None
        if i == 0:
            if name == "find":
                out = _find_output(args)
            elif name in ("grep", "egrep", "fgrep", "rgrep"):
                found = _grep_output(name, args, first=True)
                out = found if isinstance(found, Bound) else None
            elif name == "rg":
                out = _rg_output(args)
            elif name == "git":
                out = _git_output(args)
            elif name == "mktemp":
                made = mktemp_target(args)
                if made is not None:
                    out = Bound((posixpath.dirname(made[0]) or ".",), None, True, "mktemp")
            if out is None:
                return None
            continue
        if name in ("grep", "egrep", "fgrep"):
            if _grep_output(name, args, first=False) != "filter":
                return None
        elif not _filter_ok(name, args):
            return None
    if out is None or any(not r or has_glob(r) or "$" in r or "`" in r for r in out.roots):
        return None
    return out
