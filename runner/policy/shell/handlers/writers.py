"""Programs that write files as part of their job: formatters and fixers (black, ruff,
isort, autopep8, yapf, pre-commit), test and coverage tools with their reports and caches
(pytest, coverage, mypy), ``python -m`` modules that write (compileall, py_compile, gzip,
zipfile, tarfile, json.tool), splitters (csplit, split), sphinx-build, tox and nox.
(sqlite3 and the other database clients, with the files their SQL reaches:
handlers/databases.py.)

The option tables are data (:class:`ToolSpec`): which options take a value, which option
values are written or read, whether the operands are written (a formatter) or read (a
checker), which flags turn one into the other (``--check``, ``-i``), and what the tool
writes by default (``htmlcov/`` for ``coverage html``). Where a tool writes without being
told (a cache, a data file), the write is ``implicit``; where that place depends on the
project (pytest's rootdir), it is found as the tool finds it.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from runner.hostfs import HostReadRefused
from runner.policy.models import PathOp
from runner.policy.pathnames import absolute, is_inside, normalize
from runner.policy.shell.context import _Call
from runner.policy.shell.expansion import Recursion
from runner.policy.shell.walker import Handler, _Walker
from runner.policy.shell.words import Bound, Word, _has, _vals, getopt

MAX_CONFIG_BYTES = 256 * 1024  # larger project configs are not read for cache/report settings
_PY_SOURCES = (".py", ".pyi", ".ipynb")


def _python_sources(name: str) -> bool:
    return name.endswith(_PY_SOURCES)


PY_TREE = Recursion(keep=_python_sources)  # a formatter rewrites the Python files under a dir


@dataclass(frozen=True)
class ToolSpec:
    """How a tool treats its options and operands."""

    short_val: str = ""  # short options that take a value
    long_val: frozenset[str] = frozenset()  # long options that take a value (when not =)
    operands: PathOp | None = "write"  # what its positionals are (None: not files)
    in_place: frozenset[str] = frozenset()  # operands are written only with one of these
    report: frozenset[str] = frozenset()  # flags that make the operands reads (--check)
    default: tuple[str, ...] = ()  # operands when none are given
    write_opts: frozenset[str] = frozenset()  # options whose value is written
    read_opts: frozenset[str] = frozenset()  # options whose value is read
    tree: Recursion | None = PY_TREE  # how a directory operand is written throughout


def _spec(short_val: str = "", long_val: str = "", **kw: object) -> ToolSpec:
    conv = {k: frozenset(str(v).split()) if isinstance(v, str) and k not in ("operands",) else v
            for k, v in kw.items()}
    return ToolSpec(short_val, frozenset(long_val.split()), **conv)  # type: ignore[arg-type]


_INFO = frozenset({"--version", "--help", "-h", "-V", "--help-all", "--show-config",
                   "--show-settings"})


def informational(args: Sequence[Word]) -> bool:
    """``--version``, ``--help``: the tool prints and exits, touching nothing."""
    return any(a.text in _INFO for a in args)


def _tool(w: _Walker, call: _Call, spec: ToolSpec, args: Sequence[Word] | None = None
          ) -> tuple[list[tuple[str, Word | None]], list[Word]]:
    """Record what a tool reads and writes by its table; the options and operands for more."""
    opts, pos = getopt(call.args if args is None else args, spec.short_val, spec.long_val)
    if informational(call.args if args is None else args):
        return [], []
    for v in _vals(opts, *spec.read_opts):
        w.add_path(v, "read", call)
    for v in _vals(opts, *spec.write_opts):
        if v.text not in ("-", "/dev/null", "/dev/stdout", "/dev/stderr"):
            w.add_path(v, "write", call)
    op = spec.operands
    if op == "write" and (
        (spec.in_place and not _has(opts, *spec.in_place)) or _has(opts, *spec.report)
    ):
        op = "read"
    if op is not None:
        operands = pos or [Word(d) for d in spec.default]
        for p in operands:
            if p.text.isdigit() or p.text.startswith("-"):
                continue
            w.add_path(p, op, call, inferred=op == "read",
                       recursive=spec.tree if op == "write" else None, implicit=not pos,
                       note=None if pos else f"{call.name} with no path works on the whole "
                       "working directory; name the paths (for example backend/app)")
    return opts, pos


def _table_handler(spec: ToolSpec) -> Handler:
    def handler(w: _Walker, call: _Call) -> None:
        _tool(w, call, spec)
    return handler


def _not_informational(handler: Handler) -> Handler:
    def checked(w: _Walker, call: _Call) -> None:
        if not informational(call.args):
            handler(w, call)
    return checked


def _implicit(w: _Walker, call: _Call, path: str, note: str, *, cwd: str | None = None,
              recursive: Recursion | None = None) -> None:
    """A file or directory the tool writes without being told (a cache, a data file)."""
    w.add_path(Word(path), "write", call, implicit=True, recursive=recursive,
               cwds=[cwd] if cwd is not None else None, note=note)


_IN_BACKEND = "run it from a writable directory (cd backend && ...)"


def _env(call: _Call, name: str) -> str | None:
    """An environment variable the command sets (FOO=x cmd, or assigned earlier)."""
    if name in call.env:
        return call.env[name]
    return call.ctx.vars.get(name)


def _read(w: _Walker, container_path: str) -> str | None:
    """A project configuration file's text (once per command)."""
    if not is_inside(container_path):
        return None
    key = ("config", container_path)
    if key not in w.memo:
        try:
            w.memo[key] = w.resolver.read_text(container_path, MAX_CONFIG_BYTES)
        except HostReadRefused:
            w.memo[key] = None
    text: str | None = w.memo[key]
    return text


# --- formatters and fixers ------------------------------------------------------------

BLACK = _spec(
    "lctWS", "--line-length --target-version --include --exclude --extend-exclude "
    "--force-exclude --stdin-filename --workers --python-cell-magics --required-version "
    "--config --code",
    report="--check --diff", read_opts="--config",
)
ISORT = _spec(
    "abfijlmoprstw",
    "--add-import --builtin --future --indent --jobs --line-length --line-width --multi-line "
    "--thirdparty --project --remove-import --rm --skip --force-to-top --settings-path --sp "
    "--settings-file --src --src-path --skip-glob --sg --profile --py --python-version "
    "--virtual-env --conda-env --ext --extension --supported-extension --blocked-extension "
    "--wrap-length --section-default --known-local-folder --default-section "
    "--lines-after-imports --lai --lines-between-types --lbt --filename --only-sections",
    report="-c --check-only --check --diff --df --stdout -d --show-diff --show-files "
    "--show-config",
    read_opts="--settings-path --sp --settings-file",
)
AUTOPEP8 = _spec(
    "jp", "--global-config --max-line-length --select --ignore --exclude --jobs --pep8-passes "
    "--line-range --indent-size",
    in_place="-i --in-place", report="-d --diff", read_opts="--global-config",
)
YAPF = _spec(
    "el", "--style --exclude --lines", in_place="-i --in-place", report="-d --diff",
)
# more formatters and fixers: in place always, or with a flag, or unless a check flag
_ALL_FILES = Recursion()
MORE_FORMATTERS: dict[str, ToolSpec] = {
    "autoflake": _spec("j", "--imports --exclude --jobs --config", in_place="-i --in-place",
                       report="--check --check-diff", read_opts="--config"),
    "docformatter": _spec("", "--wrap-summaries --wrap-descriptions --range --docstring-length "
                          "--config --style --tab-width --exclude", in_place="-i --in-place",
                          report="-c --check", read_opts="--config"),
    "pyupgrade": _spec(),
    "pycln": _spec("", "--config --include --exclude --extend-exclude --skip-imports",
                   report="--check -c --diff -d", read_opts="--config"),
    "flynt": _spec("", "--line-length --exclude", report="--dry-run --stdout"),
    "add-trailing-comma": _spec(),
    "reorder-python-imports": _spec("", "--application-directories --add-import "
                                    "--remove-import --replace-import"),
    "blacken-docs": _spec("lt", "--line-length --target-version", tree=_ALL_FILES),
    "djhtml": _spec("t", "--tabwidth", report="--check", tree=_ALL_FILES),
    "mdformat": _spec("", "--wrap --end-of-line --extensions --codeformatters", report="--check",
                      tree=_ALL_FILES),
    "codespell": _spec("LISDxABC", "--ignore-words-list --ignore-words --skip "
                       "--dictionary --exclude-file --uri-ignore-words-list",
                       in_place="-w --write-changes", read_opts="-I --ignore-words -D "
                       "--dictionary -x --exclude-file", tree=_ALL_FILES),
    "prettier": _spec("", "--config --ignore-path --plugin --parser --print-width --tab-width "
                      "--stdin-filepath --log-level --cache-location --cache-strategy",
                      in_place="--write -w", report="--check -c --list-different -l",
                      read_opts="--config --ignore-path", write_opts="--cache-location",
                      tree=_ALL_FILES),
    "eslint": _spec("cfo", "--config --ext --ignore-path --rulesdir --format --output-file "
                    "--resolve-plugins-relative-to --cache-location --parser --plugin --rule "
                    "--env --global --max-warnings", in_place="--fix --fix-dry-run",
                    report="--fix-dry-run", read_opts="-c --config --ignore-path",
                    write_opts="-o --output-file --cache-location", tree=_ALL_FILES),
    "gofmt": _spec("r", in_place="-w", tree=_ALL_FILES),
    "rustfmt": _spec("", "--edition --config-path --emit --config --color",
                     report="--check", read_opts="--config-path", tree=None),
    "clang-format": _spec("", in_place="-i", tree=None),
}

_RUFF_VAL = (
    "--config --select --ignore --extend-select --extend-ignore --per-file-ignores "
    "--extend-per-file-ignores --fixable --unfixable --extend-fixable --exclude "
    "--extend-exclude --line-length --target-version --output-format --output-file "
    "--cache-dir --stdin-filename --dummy-variable-rgx --range --extension --python "
    "--ignore-noqa --respect-gitignore"
)
RUFF_CHECK = _spec(
    "o", _RUFF_VAL, in_place="--fix --fix-only --add-noqa", report="--diff --no-fix --watch "
    "--show-files --show-settings --statistics",
    default=(".",), write_opts="-o --output-file --cache-dir",
)
RUFF_FORMAT = _spec(
    "o", _RUFF_VAL, report="--check --diff --show-files --show-settings", default=(".",),
    write_opts="-o --output-file --cache-dir",
)
_RUFF_SUBCOMMANDS = frozenset({
    "check", "format", "rule", "config", "linter", "clean", "version", "help", "server",
    "analyze",
})


def _h_ruff(w: _Walker, call: _Call) -> None:
    args = list(call.args)
    sub = next((i for i, a in enumerate(args) if not a.text.startswith("-")), None)
    name = args[sub].text if sub is not None else ""
    if name not in _RUFF_SUBCOMMANDS:
        name, rest = "check", args  # `ruff PATH`: check (older ruff)
    else:
        assert sub is not None
        rest = args[:sub] + args[sub + 1 :]
    if name == "check":
        _ruff_config(w, call, _tool(w, call, RUFF_CHECK, rest)[0])
    elif name == "format":
        _ruff_config(w, call, _tool(w, call, RUFF_FORMAT, rest)[0])
    elif name == "clean":
        # the .ruff_cache directories in the working directory and under it
        w.add_path(Word(".", True, bound=Bound((".",), None, True, "ruff clean")), "write",
                   call, program="rm", implicit=True)


def _ruff_config(w: _Walker, call: _Call, opts: list[tuple[str, Word | None]]) -> None:
    for v in _vals(opts, "--config"):
        if "=" not in v.text or v.text.endswith(".toml"):  # else an inline KEY = VALUE
            w.add_path(v, "read", call)


def _h_pre_commit(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "c", ["--config", "--color", "--hook-type", "--hook-stage",
                                        "--from-ref", "--to-ref", "--source", "--origin",
                                        "--remote-name", "--remote-url", "--repo", "--files"])
    for v in _vals(opts, "-c", "--config"):
        w.add_path(v, "read", call)
    sub = pos[0].text if pos else "run"
    if sub in ("run", "try-repo"):
        # its hooks rewrite any file of the repository (and run what the config says)
        w.add_path(Word("."), "write", call, implicit=True,
                   note="its hooks may rewrite any file of the repository; run the formatters "
                   "and linters it lists on backend/ paths instead")
    elif sub in ("install", "install-hooks", "uninstall", "init-templatedir"):
        target = pos[1] if sub == "init-templatedir" and len(pos) > 1 else Word(".git/hooks")
        w.add_path(target, "write", call, implicit=sub != "init-templatedir")
    elif sub in ("autoupdate", "migrate-config"):
        cfg = _vals(opts, "-c", "--config")
        w.add_path(cfg[-1] if cfg else Word(".pre-commit-config.yaml"), "write", call,
                   implicit=not cfg)


# --- coverage ---------------------------------------------------------------------------

_COV_VAL = [
    "--concurrency", "--context", "--data-file", "--include", "--omit", "--rcfile", "--source",
    "--debug", "--save-signal", "--directory", "--title", "--precision", "--fail-under",
    "--contexts", "--format", "--sort",
]
_COV_REPORTS = {"html": "htmlcov", "xml": "coverage.xml", "json": "coverage.json",
                "lcov": "coverage.lcov"}


def _h_coverage(w: _Walker, call: _Call) -> None:
    args = list(call.args)
    i = next((k for k, a in enumerate(args) if not a.text.startswith("-")), None)
    if i is None:
        return
    sub = args[i].text
    rest = args[i + 1 :]
    opts, pos = getopt(rest, "do", [*_COV_VAL, "--output"],
                       stop_at_positional=sub == "run")
    for v in _vals(opts, "--rcfile"):
        w.add_path(v, "read", call)
    data = _vals(opts, "--data-file")
    data_file = data[-1] if data else Word(_env(call, "COVERAGE_FILE") or ".coverage")
    data_note = None if data else ("coverage's data file, in the working directory; " + _IN_BACKEND
                                   + " or pass --data-file=backend/.coverage")
    if sub == "run":
        if _has(opts, "-p", "--parallel-mode"):
            folder = posixpath.dirname(data_file.text) or "."
            base = posixpath.basename(data_file.text)
            w.add_path(Word(data_file.text + ".*", True, bound=Bound(
                (folder,), lambda n: n.startswith(base), False, "coverage")), "write", call,
                implicit=not data, note=data_note)
        else:
            w.add_path(data_file, "write", call, implicit=not data, note=data_note)
        if pos:
            inner = [Word("python"), Word("-m"), *pos] if _has(opts, "-m", "--module") else [
                Word("python"), *pos]
            w.inner(call, inner, "coverage")
    elif sub in ("combine", "erase"):
        w.add_path(data_file, "write", call, implicit=not data, note=data_note)
        for p in pos:  # the data files (or directories of them) combined, then deleted
            w.add_path(p, "read" if _has(opts, "--keep") else "write", call)
    elif sub in _COV_REPORTS or sub == "annotate":
        w.add_path(data_file, "read", call, implicit=not data)
        out = _vals(opts, "-d", "--directory") if sub in ("html", "annotate") else _vals(
            opts, "-o", "--output")
        if out and out[-1].text != "-":
            w.add_path(out[-1], "write", call)
        elif not out and sub == "annotate":
            w.add_path(Word("."), "write", call, implicit=True)  # ,cover files by each source
        elif not out:
            flag = "-d" if sub == "html" else "-o"
            w.add_path(Word(_COV_REPORTS[sub]), "write", call, implicit=True,
                       note=f"coverage {sub} writes {_COV_REPORTS[sub]} in the working directory; "
                       f"{_IN_BACKEND} or pass {flag} backend/{_COV_REPORTS[sub]}")
    elif sub == "report":
        w.add_path(data_file, "read", call, implicit=not data)


# --- pytest -----------------------------------------------------------------------------

PYTEST = _spec(
    "kmcpWorn",
    "--junitxml --junit-xml --basetemp --rootdir --confcutdir --deselect --ignore "
    "--ignore-glob --tb --durations --durations-min --maxfail --log-level --log-file "
    "--log-format --log-date-format --log-cli-level --log-cli-format --log-file-level "
    "--cov-report --cov-config --cov-fail-under --cov-context --override-ini --config-file "
    "--import-mode --numprocesses --dist --maxprocesses --report-log --html --json-report-file "
    "--capture --color --code-highlight --pastebin --result-log --timeout --reruns "
    "--randomly-seed --hypothesis-seed --doctest-glob --junit-prefix --show-capture "
    "--strict-config --cache-show --ignore-glob --tx --rsyncdir --max-worker-restart "
    "--dist --benchmark-json --benchmark-save --benchmark-storage",
    operands="read",
    write_opts="--junitxml --junit-xml --log-file --report-log --result-log --html "
    "--json-report-file --benchmark-json",
    read_opts="-c --config-file --cov-config",
    tree=None,
)
_PYTEST_INI = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
_PYTEST_SECTION = {"pyproject.toml": ("[tool.pytest.ini_options]", "[tool.pytest]"),
                   "tox.ini": ("[pytest]",), "setup.cfg": ("[tool:pytest]",)}


def _h_pytest(w: _Walker, call: _Call) -> None:
    cwd = call.ctx.cwds[0]
    first, pos = getopt(call.args, PYTEST.short_val, PYTEST.long_val)
    inifile = _vals(first, "-c", "--config-file")
    rootdir_arg = _vals(first, "--rootdir")
    paths = [p.text.partition("::")[0] for p in pos if not p.dynamic]
    setup = (cwd, inifile[-1].text if inifile else "", rootdir_arg[-1].text if rootdir_arg else "",
             *paths)
    key = ("pytest-setup", *setup)
    if key not in w.memo:
        w.memo[key] = _pytest_rootdir(w, cwd, paths, inifile[-1].text if inifile else None,
                                      rootdir_arg[-1].text if rootdir_arg else None)
    rootdir, ini = w.memo[key]
    # addopts from the project's configuration and PYTEST_ADDOPTS come before the command's
    extra: list[Word] = []
    for added in (_ini_value(ini, "addopts", lists=True) if ini is not None else None,
                  _env(call, "PYTEST_ADDOPTS")):
        try:
            extra += [Word(t) for t in shlex.split(added or "")]
        except ValueError:
            w.add_opaque("dynamic-option", f"pytest options that cannot be read: {added}")
    opts, pos = _tool(w, call, PYTEST, [*extra, *call.args])
    for p in pos:
        name = p.text.partition("::")[0]
        if name != p.text:
            w.add_path(p.sub(name), "read", call, inferred=True)
    for v in _vals(opts, "--basetemp"):
        w.add_path(v, "write", call, recursive=Recursion(listed=False))  # emptied first
    for v in _vals(opts, "--debug"):
        w.add_path(v, "write", call)
    if _has(opts, "--debug") and not _vals(opts, "--debug"):
        _implicit(w, call, "pytestdebug.log", f"pytest --debug writes it in the working directory; {_IN_BACKEND} or pass --debug=FILE")
    for v in _vals(opts, "--cov-report"):
        kind, _, dest = v.text.partition(":")
        if kind in ("term", "term-missing", ""):
            continue
        if dest:
            w.add_path(v.sub(dest), "write", call)
        elif kind in _COV_REPORTS:
            _implicit(w, call, _COV_REPORTS[kind], f"the {kind} report goes to the working directory by default; {_IN_BACKEND} or name it: --cov-report={kind}:backend/...")
        elif kind == "annotate":
            _implicit(w, call, ".", "annotations are written next to each source")
    if _has(opts, "--cov") or _vals(opts, "--cov"):
        _implicit(w, call, _env(call, "COVERAGE_FILE") or ".coverage", f"pytest-cov writes its data file in the working directory; {_IN_BACKEND} or set COVERAGE_FILE=backend/.coverage")
    plugins = {v.text.replace(" ", "") for v in _vals(opts, "-p")}
    overrides = [v.text for v in _vals(opts, "-o", "--override-ini")]
    cache = next((o.partition("=")[2] for o in reversed(overrides)
                  if o.partition("=")[0].strip() == "cache_dir"), None)
    if cache is None and ini is not None:
        cache = _ini_value(ini, "cache_dir")
    if cache is not None and "no:cacheprovider" not in plugins:
        # a cache put somewhere on purpose (the default .pytest_cache in the rootdir is a
        # by-product nobody asked for: where the container refuses it, pytest carries on)
        w.add_path(Word(cache), "write", call, cwds=[rootdir], recursive=Recursion(listed=False),
                   note=None if overrides else "cache_dir in pytest's configuration")


def _pytest_rootdir(w: _Walker, cwd: str, paths: list[str], inifile: str | None,
                    rootdir_arg: str | None) -> tuple[str, str | None]:
    """pytest's rootdir and configuration text, found as pytest finds them (its
    ``determine_setup``): the configuration file given or the first one upwards from the
    common ancestor of the path arguments, else a setup.py upwards, else the common
    ancestor of the working directory and those paths."""
    if inifile is not None:
        path = normalize(absolute(inifile, cwd, w.resolver.home))
        root = posixpath.dirname(path)
        text = _read(w, path)
    else:
        dirs = []
        for p in paths:
            full = normalize(absolute(p, cwd, w.resolver.home))
            res = w.resolver.resolve(full, "/")
            if res.exists:
                dirs.append(full if res.is_dir else posixpath.dirname(full))
        ancestor = posixpath.commonpath(dirs) if dirs else cwd
        found = _locate_ini(w, ancestor)
        if found is not None:
            root, text = found
        else:
            text = None
            root = next((d for d in _upwards(ancestor)
                         if w.resolver.resolve(f"{d}/setup.py", "/").exists), "")
            if not root:
                root = posixpath.commonpath([cwd, ancestor])
                if root == "/":
                    root = ancestor
    if rootdir_arg is not None:
        root = normalize(absolute(rootdir_arg, cwd, w.resolver.home))
    return root, text


def _upwards(directory: str) -> list[str]:
    out = [directory]
    while directory not in ("/", ""):
        directory = posixpath.dirname(directory)
        out.append(directory)
    return out


def _locate_ini(w: _Walker, start: str) -> tuple[str, str] | None:
    key = ("pytest-ini", start)
    if key not in w.memo:
        w.memo[key] = _search_ini(w, start)
    found: tuple[str, str] | None = w.memo[key]
    return found


def _search_ini(w: _Walker, start: str) -> tuple[str, str] | None:
    pyproject: tuple[str, str] | None = None
    for base in _upwards(start):
        if not is_inside(base):
            break
        listed = w.resolver.names(base)  # one listing instead of a look per name
        # by casefold: on a case-insensitive filesystem PYTEST.INI answers for pytest.ini
        present = None if listed is None else {n.casefold() for n in listed}
        for name in _PYTEST_INI:
            if present is not None and name.casefold() not in present:
                continue  # not there: nothing to read
            text = _read(w, f"{base}/{name}" if base != "/" else f"/{name}")
            if text is None:
                continue
            if name == "pyproject.toml" and pyproject is None:
                pyproject = (base, text)
            sections = _PYTEST_SECTION.get(name)
            if sections is None or any(s in text for s in sections):
                return base, text
    return pyproject


def _ini_value(text: str, key: str, *, lists: bool = False) -> str | None:
    """A setting's value in an ini or TOML file (the first ``key = value``, with an ini
    value's indented continuation lines; a TOML list of strings as shell words)."""
    m = re.search(rf"(?m)^[ \t]*{re.escape(key)}[ \t]*=[ \t]*(.*(?:\n[ \t]+\S.*)*)", text)
    if m is None:
        return None
    value = " ".join(m.group(1).split())
    if lists and value.startswith("["):
        items = [a or b for a, b in re.findall(r'"([^"]*)"|\'([^\']*)\'', value)]
        return " ".join(shlex.quote(i) for i in items)
    if value[:1] in ('"', "'") and value[-1:] == value[:1]:
        value = value[1:-1]
    return value or None


# --- mypy -------------------------------------------------------------------------------

_MYPY_REPORTS = (
    "--html-report --txt-report --xml-report --linecount-report --linecoverage-report "
    "--lineprecision-report --any-exprs-report --cobertura-xml-report --junit-xml"
)
MYPY = _spec(
    "pmc",
    "--config-file --cache-dir --python-version --platform --python-executable --exclude "
    "--custom-typeshed-dir --custom-typing-module --always-true --always-false "
    "--enable-error-code --disable-error-code --package-root --find-occurrences --package "
    "--module --command --follow-imports --enable-incomplete-feature --untyped-calls-exclude "
    "--soft-error-limit --shadow-file " + _MYPY_REPORTS,
    operands="read", write_opts=_MYPY_REPORTS, read_opts="--config-file", tree=None,
)
_MYPY_CONFIGS = ("mypy.ini", ".mypy.ini", "pyproject.toml", "setup.cfg")


def _h_mypy(w: _Walker, call: _Call) -> None:
    opts, _ = _tool(w, call, MYPY)
    cache = _vals(opts, "--cache-dir")
    for c in cache:
        if c.text != "/dev/null":
            w.add_path(c, "write", call, recursive=Recursion(listed=False))
    if cache:
        return
    # the default .mypy_cache is a by-product (see pytest's cache); one configured is not
    for cwd in call.ctx.cwds:
        for name in _MYPY_CONFIGS:
            text = _read(w, f"{cwd}/{name}")
            if text is not None and ("[mypy]" in text or "[tool.mypy]" in text):
                configured = _ini_value(text, "cache_dir")
                if configured and configured != "/dev/null":
                    w.add_path(Word(configured), "write", call, cwds=[cwd],
                               recursive=Recursion(listed=False),
                               note=f"cache_dir in {name}")
                break


# --- python -m modules ------------------------------------------------------------------


def _h_compileall(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "rdsepxijo", ["--invalidation-mode"])
    for v in _vals(opts, "-i"):
        if v.text == "-":
            w.add_opaque("file-list-from-input", "list the files in the command: "
                         + " ".join(a.text for a in call.argv))
        else:
            w.add_path(v, "read", call)
            w.add_path(Word(".", True), "write", call)  # the files it lists: not known
    legacy = _has(opts, "-b")
    for p in pos or [Word(".")]:  # no operand: the directories of sys.path, the cwd first
        _bytecode(w, call, p, legacy, tree=not _has(opts, "-l"))


def _h_py_compile(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args)
    for p in pos:
        if p.text != "-":
            _bytecode(w, call, p, False, tree=False)


def _bytecode(w: _Walker, call: _Call, source: Word, legacy: bool, *, tree: bool) -> None:
    """Where compiling ``source`` writes: __pycache__ under a directory (throughout), next
    to a file (``-b``: the .pyc beside it)."""
    if source.dynamic or source.bound is not None:
        w.add_path(source, "write", call, recursive=PY_TREE if tree else None)
        return
    if _is_file(w, call, source):
        target = source.text + "c" if legacy else posixpath.join(
            posixpath.dirname(source.text) or ".", "__pycache__")
        w.add_path(source.sub(target), "write", call)
    else:
        w.add_path(source, "write", call, recursive=Recursion() if tree else None)


def _is_file(w: _Walker, call: _Call, word: Word) -> bool:
    return any(
        (res := w.resolver.resolve(normalize(absolute(word.text, c)), "/")).exists
        and not res.is_dir for c in call.ctx.cwds
    ) or word.text.endswith(".py")


def _h_gzip_module(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "", ["--compresslevel"])
    decompress = _has(opts, "-d", "--decompress")
    for p in pos:
        w.add_path(p, "read", call)
        if decompress:
            w.add_path(p.sub(p.text[:-3] if p.text.endswith(".gz") else p.text), "write", call)
        else:
            w.add_path(p.sub(p.text + ".gz"), "write", call)


def _h_archive_module(w: _Walker, call: _Call) -> None:
    """``python -m zipfile``/``tarfile``: -c ARCHIVE SOURCES, -e ARCHIVE [DIR], -l/-t ARCHIVE."""
    opts, pos = getopt(call.args, "", [])
    if _has(opts, "-c", "--create") and pos:
        w.add_path(pos[0], "write", call)
        for p in pos[1:]:
            w.add_path(p, "read", call, recursive=Recursion())
    elif _has(opts, "-e", "--extract") and pos:
        w.add_path(pos[0], "read", call)
        dest = pos[1] if len(pos) > 1 else Word(".")
        w.add_path(dest, "write", call)
        if call.name.endswith("tarfile"):
            w.may_hold_links(dest, call)
    else:
        for p in pos[:1]:
            w.add_path(p, "read", call)


def _h_json_tool(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "", ["--indent"])
    if pos:
        w.add_path(pos[0], "read", call)
    if len(pos) > 1:
        w.add_path(pos[1], "write", call)


# --- tox and nox -------------------------------------------------------------------------


def _h_tox(w: _Walker, call: _Call) -> None:
    """tox and nox make their environments in a work directory next to their configuration
    (.tox, .nox; --workdir/--envdir). What their sessions run comes from that configuration."""
    nox = call.name == "nox"
    opts, pos = getopt(call.args, "ecfsxpt" if not nox else "sfkpt", [
        "--conf", "--workdir", "--root", "--override", "--parallel", "--installpkg",
        "--envdir", "--noxfile", "--sessions", "--session", "--keywords", "--python",
        "--tags", "--result-json", "--report", "--runner", "--exec-in", "--default-venv-backend",
        "--force-venv-backend", "--extra-pythons", "--install-only", "--usedevelop",
    ])
    if _has(opts, "-l", "--list", "-a", "--listenvs-all", "--listenvs", "--showconfig") or (
        pos and pos[0].text in ("list", "l", "config", "c", "quickstart", "q", "depends", "de")
    ):
        return
    config = _vals(opts, "-c", "--conf", "-f", "--noxfile")
    for c in config:
        w.add_path(c, "read" if not nox else "exec", call)
    for v in _vals(opts, "--result-json", "--report"):
        w.add_path(v, "write", call)
    work = _vals(opts, "--workdir", "--envdir")
    if work:
        w.add_path(work[-1], "write", call, recursive=Recursion(listed=False))
        return
    folder = posixpath.dirname(config[-1].text) if config else ""
    name = ".nox" if nox else ".tox"
    w.add_path(Word(posixpath.join(folder, name) if folder else name), "write", call,
               implicit=True, recursive=Recursion(listed=False),
               note=f"{call.name} makes its environments there, next to its configuration; "
               f"{_IN_BACKEND} or pass --{'envdir' if nox else 'workdir'} under backend/")


# --- splitters and sphinx ---------------------------------------------------------------


def _pieces(w: _Walker, call: _Call, prefix: Word, default: bool) -> None:
    """Files named PREFIX followed by a suffix (csplit's xx00, split's xaa)."""
    if prefix.dynamic:
        w.add_path(prefix, "write", call)
        return
    folder, base = posixpath.split(prefix.text)

    def keep(name: str) -> bool:
        return name.startswith(base)

    w.add_path(Word(prefix.text + "*", True, bound=Bound((folder or ".",), keep, False,
                                                         call.name)),
               "write", call, implicit=default,
               note=f"{call.name} writes its pieces as {prefix.text}* in the working directory; "
               "name a prefix under backend/" if default else None)


def _h_csplit(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "fbn", ["--prefix", "--suffix-format", "--digits"])
    if pos:
        w.add_path(pos[0], "read", call)
    prefix = _vals(opts, "-f", "--prefix")
    _pieces(w, call, prefix[-1] if prefix else Word("xx"), not prefix)


def _h_split(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "abCdlnt", [
        "--suffix-length", "--additional-suffix", "--bytes", "--line-bytes", "--lines",
        "--number", "--separator", "--filter", "--numeric-suffixes", "--hex-suffixes",
    ])
    for f in _vals(opts, "--filter"):
        w.shell_string(f, call, f.text)  # each piece is piped to a shell command instead
    if pos and pos[0].text != "-":
        w.add_path(pos[0], "read", call)
    if not _vals(opts, "--filter"):
        _pieces(w, call, pos[1] if len(pos) > 1 else Word("x"), len(pos) < 2)


def _h_sphinx_build(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "bdjcDAtwMCP", [
        "--builder", "--doctree-dir", "--jobs", "--conf-dir", "--define", "--html-define",
        "--tag", "--warning-file",
    ])
    make = _vals(opts, "-M")
    if len(pos) < 2:
        return
    source, out = pos[0], pos[1]
    w.add_path(source, "read", call)
    conf = _vals(opts, "-c", "--conf-dir")
    if not _has(opts, "-C", "--isolated"):
        folder = conf[-1] if conf else source
        w.add_path(folder.sub(f"{folder.text.rstrip('/')}/conf.py"), "exec", call)
    w.add_path(out, "write", call, recursive=Recursion(listed=not make))
    for v in _vals(opts, "-d", "--doctree-dir", "-w", "--warning-file"):
        w.add_path(v, "write", call)
    for p in pos[2:]:
        w.add_path(p, "read", call)


def _h_ssh_keygen(w: _Walker, call: _Call) -> None:
    """``-f FILE``: the key pair written (FILE and FILE.pub), or read with -l/-y/-F/-R."""
    opts, _ = getopt(call.args, "abCDEFfGIJjKMmNnOPRrSsTtVWwYZz", [])
    reading = _has(opts, "-l", "-y", "-F", "-R", "-B")
    for f in _vals(opts, "-f"):
        w.add_path(f, "read" if reading else "write", call)
        if not reading:
            w.add_path(f.sub(f.text + ".pub"), "write", call)


def _h_7z(w: _Walker, call: _Call) -> None:
    """``7z x|e ARCHIVE [-oDIR]`` extracts into DIR (default: the working directory);
    ``7z a|u|d ARCHIVE FILES`` writes the archive; other commands read it."""
    words = [a for a in call.args if not a.text.startswith("-")]
    outs = [a.sub(a.text[2:]) for a in call.args if a.text.startswith("-o") and len(a.text) > 2]
    if not words:
        return
    command, rest = words[0].text, words[1:]
    if command in ("x", "e"):
        for a in rest[:1]:
            w.add_path(a, "read", call)
        for target in outs or [Word(".")]:
            w.add_path(target, "write", call, recursive=Recursion(listed=False))
    elif command in ("a", "u", "d", "rn"):
        if rest:
            w.add_path(rest[0], "write", call)
        for a in rest[1:]:
            w.add_path(a, "read", call)
    else:
        for a in rest[:1]:
            w.add_path(a, "read", call)


WRITER_HANDLERS: dict[str, Handler] = {
    **{name: _table_handler(spec) for name, spec in MORE_FORMATTERS.items()},
    "black": _table_handler(BLACK),
    "isort": _table_handler(ISORT),
    "autopep8": _table_handler(AUTOPEP8),
    "yapf": _table_handler(YAPF),
    **{name: _not_informational(h) for name, h in {
        "ruff": _h_ruff,
        "pre-commit": _h_pre_commit,
        "coverage": _h_coverage,
        "pytest": _h_pytest, "py.test": _h_pytest,
        "mypy": _h_mypy, "dmypy": _h_mypy,
        "csplit": _h_csplit,
        "split": _h_split,
        "ssh-keygen": _h_ssh_keygen,
        "7z": _h_7z, "7za": _h_7z, "7zr": _h_7z,
        "sphinx-build": _h_sphinx_build,
        "tox": _h_tox, "nox": _h_tox,
        "python -m compileall": _h_compileall,
        "python -m py_compile": _h_py_compile,
        "python -m gzip": _h_gzip_module,
        "python -m zipfile": _h_archive_module,
        "python -m tarfile": _h_archive_module,
        "python -m json.tool": _h_json_tool,
    }.items()},
}

# `python -m MODULE ARGS` runs what these handlers know (key: the module name)
PYTHON_MODULES: dict[str, str] = {
    "pytest": "pytest", "coverage": "coverage", "mypy": "mypy", "black": "black",
    "isort": "isort", "ruff": "ruff", "autopep8": "autopep8", "yapf": "yapf",
    "pre_commit": "pre-commit", "sphinx": "sphinx-build", "sphinx.cmd.build": "sphinx-build",
    "compileall": "python -m compileall", "py_compile": "python -m py_compile",
    "gzip": "python -m gzip", "zipfile": "python -m zipfile", "tarfile": "python -m tarfile",
    "json.tool": "python -m json.tool", "autoflake": "autoflake", "docformatter": "docformatter",
    "pyupgrade": "pyupgrade", "pycln": "pycln", "flynt": "flynt", "mdformat": "mdformat",
    "codespell": "codespell", "djhtml": "djhtml", "tox": "tox", "nox": "nox",
}
