"""Build the policy input (docs/design.md "Policy input") from a raw tool call.

Never raises: malformed input and any failure while deriving facts become
entries in ``PolicyInput.errors``, and policies deny when that list is not
empty (fail closed).

Paths come from the tool's own arguments (``via="tool"``) and, for Bash, from
the shell analysis (:mod:`runner.policy.shell`). Secrets are scanned in what is
written (``Write.content``, ``Edit.new_string``) and in ``Bash.command``.

Conventions (the Rego policies rely on them):

* ``path``/``real``: workspace-relative without a leading ``./`` inside the
  workspace, ``"."`` for its root; absolute outside it (``~`` is ``/home/agent``).
  ``real`` is resolved on the host, symlink by symlink; ``inside_workspace``
  describes ``real``. ``special`` is ``proc``/``dev``/``sys`` for kernel paths.
* ``op``: Read/Glob/Grep/LS read, Write/Edit write; in Bash, per program (see
  ``shell.FILE_PROGRAMS`` and the handlers): redirect ``>``/``>>``/``&>``/``>|``
  write and ``<`` read; programs run by path, scripts given to shells and
  interpreters, ``source`` and Makefiles exec.
* Extra flags: ``dynamic`` (holds ``$VAR``, ``$(...)``, a glob or ``{}``: only
  known when it runs), ``inferred`` (argument of a program whose arguments are
  not known to be files: recorded as a read in case it is one), ``implicit``
  (not written in the call: ``~/.netrc`` for ``curl -n``, ``/proc/self/environ``
  for ``printenv``), ``measured`` (what the agent saw; never trusted).
* Bash patterns (``cat .e*``, ``cat {a,b}``) are expanded against the workspace as
  bash would: one more fact per match, ``raw`` the pattern, ``dynamic`` true, beside
  the lexical fact. Past the bounds: the opaque construct ``glob-too-broad``. When
  every word the pattern can give is listed so (and none can be ``.``/``..``), its
  facts have ``bounded: true``: a write through them is a write of what they list.
* A value known only as "paths under a directory" (``find backend ... -delete``,
  find's ``{}``, ``xargs``/``$(...)``/``while read`` fed by a bounded producer such as
  ``find``, ``grep -l``, ``git ls-files`` or ``mktemp``) is the directory's fact with
  ``under: true`` and ``recursive: true``: the operation applies anywhere under it;
  ``contents`` lists what is there (not for a delete). A recursive write's contents
  must all be writable.
* A path an earlier program of the same command may have turned into a symlink whose
  target is unknown (an archive extracted there, a tree copied with its links) has
  ``new_link`` (that program); links made with a known target (``ln -s``, ``cp -s``,
  a link moved) are resolved through in ``real``.
* ``note``: why a tool writes there when the call does not say it (a default output).
  Tool arguments (``Read.file_path`` ...) are file names, never patterns.
* A directory a program reads recursively (``grep -r``, ``rg``, ``cp -r``,
  ``tar c``, ``zip -r``, ``rsync -r``, ``diff -r``, ``git grep``, ``find -exec``, the
  Grep tool, whose ``glob`` narrows the listing and names its matches as reads)
  has ``recursive: true`` and ``contents``: the workspace-relative paths of the
  files (and symlinks with their targets) under it, walked on the host within
  ``paths.MAX_WALK_ENTRIES``; ``contents_truncated: true`` when the walk was cut
  short (the policies cannot rule secret files out then). A masked directory it
  reaches is listed as itself with a trailing ``/`` (it is empty in the container).
* The workspace is hostile: every look at it goes through ``runner.hostfs.WorkspaceFS``
  (see ``paths``), masked paths are what the container sees (empty), and a script
  that is there but cannot be read safely is the opaque construct ``unreadable-script``.
* ``shell.commands`` lists wrappers and the commands they wrap (``wrapper`` set).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runner.hostfs import WorkspaceFS
from runner.policy import secrets
from runner.policy.models import (
    TOOL_INPUTS,
    TOOL_NAMES,
    HostFact,
    PathFact,
    PolicyInput,
    RunInfo,
    ToolCall,
)
from runner.policy.pathnames import CONTAINER_WORKSPACE, normalize
from runner.policy.paths import (
    MAX_GLOB_MATCHES,
    MAX_WALK_ENTRIES,
    PathResolver,
    attach_measurements,
)
from runner.policy.patterns import GlobTooBroad, brace_expand
from runner.protocol import MeasuredPath, ToolField, tool_fields

MAX_COMMAND_BYTES = 32 * 1024  # real commands are far shorter; parsing grows faster than size

# Each tool's arguments, from its input model (runner/protocol.py "Tool inputs"; Claude
# Code's own tools: runner/policy/models.py). Keys of a call beyond them are not checked.
FIELDS: dict[str, tuple[ToolField, ...]] = {name: tool_fields(m) for name, m in TOOL_INPUTS.items()}
_TYPE_WORDS = {"array": "list"}  # a JSON type as the error messages name it
WEB_SCHEMES = {"http": 80, "https": 443}
_PATH_FIELDS = {"Read": "file_path", "Write": "file_path", "Edit": "file_path", "LS": "path"}
_GLOB_CHARS = frozenset("*?[{")


def derive_input(
    call: ToolCall,
    *,
    workspace: Path | None,
    run: RunInfo,
    cwd: str = CONTAINER_WORKSPACE,
    measured: Sequence[MeasuredPath] = (),
    entropy: bool = False,
    masks: Sequence[str] = (),
    fs: WorkspaceFS | None = None,
) -> PolicyInput:
    """The policy input for ``call``.

    ``workspace``: the host directory mounted as ``/workspace`` (None: lexical only).
    ``masks``: the run's masked paths (``find_secret_paths``): derivation sees them as
    the container does (an empty file or directory) and never reads or lists them.
    ``cwd``: the container directory relative paths start from.
    ``measured``: what the agent saw of the paths inside the container; recorded
    beside the host's resolution, which stays authoritative.
    ``entropy``: also run detect-secrets' high-entropy plugins.
    ``fs``: the handle on ``workspace`` every look goes through (``paths.workspace_fs`` with
    these ``masks``; ``runner.policy.derived`` passes one that records the looks).
    """
    result = PolicyInput(tool=call, run=run)
    try:
        resolver = PathResolver(workspace, masks=masks, fs=fs)
        with resolver.looking():
            _derive(result, call, resolver, cwd, measured, entropy)
    except Exception as exc:  # fail closed: a deny with the reason, never a crash
        result.errors.append(f"derivation failed: {type(exc).__name__}: {exc}")
    return result


def warm_up() -> None:
    """Load the parser and the secret plugins now, so the first decision is not slow."""
    from runner.policy import shell

    secrets.warm_up()
    shell.analyze("true", PathResolver(None))


def validate(call: ToolCall) -> list[str]:
    """Problems with the call's shape: unknown tool, missing or mistyped fields, bad text."""
    errors: list[str] = []
    fields = FIELDS.get(call.name)
    if fields is None:
        errors.append(f"unknown tool {call.name!r} (known: {', '.join(TOOL_NAMES)})")
        return errors
    for f in fields:
        if f.name not in call.input or (call.input[f.name] is None and not f.required):
            if f.required:
                errors.append(f"{call.name}: missing required field {f.name!r}")
            continue
        value, types = call.input[f.name], f.accepts
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            errors.append(f"{call.name}: field {f.name!r} must be a "
                          f"{_TYPE_WORDS.get(f.json_type, f.json_type)}, got {type(value).__name__}")
    for f in fields:
        if f.path and call.input.get(f.name) == "":
            errors.append(f"{call.name}: field {f.name!r} is empty")
    _check_text(call.input, f"{call.name}.input", errors)
    command = call.input.get("command")
    if call.name == "Bash" and isinstance(command, str):
        size = len(command.encode("utf-8", "surrogatepass"))
        if size > MAX_COMMAND_BYTES:
            errors.append(f"Bash: command is {size} bytes, longer than {MAX_COMMAND_BYTES} "
                          "(write long content with the Write tool, then run it)")
    return errors


def _check_text(value: Any, where: str, errors: list[str], depth: int = 0) -> None:
    if depth > 20:
        errors.append(f"{where}: nested too deeply")
        return
    if isinstance(value, str):
        if "\x00" in value:
            errors.append(f"{where}: contains a NUL byte")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            errors.append(f"{where}: invalid text (unpaired surrogate / undecodable bytes)")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_text(k, f"{where}", errors, depth + 1)
            _check_text(v, f"{where}.{k}", errors, depth + 1)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_text(v, f"{where}[{i}]", errors, depth + 1)


def _derive(
    result: PolicyInput,
    call: ToolCall,
    resolver: PathResolver,
    cwd: str,
    measured: Sequence[MeasuredPath],
    entropy: bool,
) -> None:
    errors = validate(call)
    result.errors.extend(errors)
    if not isinstance(cwd, str) or not cwd.startswith("/") or "\x00" in cwd:
        result.errors.append(f"cwd must be an absolute container path, got {cwd!r}")
        return
    cwd = normalize(cwd)
    if call.name not in FIELDS:
        return
    inp = call.input

    def text(name: str) -> str | None:
        v = inp.get(name)
        return v if isinstance(v, str) and "\x00" not in v and _encodable(v) else None

    def tool_path(raw: str, op: Any, *, dynamic: bool = False) -> None:
        result.paths.append(resolver.fact(raw, op, cwd=cwd, via="tool", dynamic=dynamic))

    name = call.name
    if name in _PATH_FIELDS:
        raw = text(_PATH_FIELDS[name])
        if raw:
            tool_path(raw, "write" if name in ("Write", "Edit") else "read")
    elif name == "Grep":
        result.paths.extend(_grep_paths(resolver, text("path") or ".", text("glob"), cwd))
    elif name == "Glob":
        base = text("path") or "."
        tool_path(base, "read")
        pattern = text("pattern")
        if name == "Glob" and pattern:
            for reach in {_static_prefix(pattern), _glob_reach(pattern)} - {""}:
                joined = reach if reach.startswith(("/", "~")) else posixpath.join(base, reach)
                tool_path(joined, "read", dynamic=True)
    elif name == "WebFetch":
        url = text("url")
        if url is not None:
            result.hosts.append(_url_host(url))
    elif name == "Bash":
        command = text("command")
        if command is not None and len(command.encode("utf-8")) <= MAX_COMMAND_BYTES:
            from runner.policy import shell  # the parser and its handlers: on the first Bash

            analysis = shell.analyze(command, resolver, cwd)
            result.shell = analysis.facts
            result.paths.extend(analysis.paths)
            result.hosts.extend(analysis.hosts)

    scans: dict[str, tuple[str, str]] = {
        "Write": ("content", "input.content"),
        "Edit": ("new_string", "input.new_string"),
        "Bash": ("command", "input.command"),
    }
    if name in scans:
        field, where = scans[name]
        body = text(field)
        if body and not (name == "Bash" and errors):
            result.secrets.extend(
                secrets.scan(body, where, filename=text("file_path") or "", entropy=entropy)
            )
    if measured:
        attach_measurements(result.paths, measured)
    _dedupe(result.paths)


def _url_host(url: str) -> HostFact:
    """The host a WebFetch contacts, with the URL's scheme and port (its scheme's default
    when the URL names none); an empty host when the URL has none or cannot be read."""
    try:
        parts = urlsplit(url.strip())
        host, port = (parts.hostname or "").rstrip("."), parts.port
    except ValueError:
        return HostFact(host="", via="webfetch", scheme="")
    scheme = parts.scheme.lower()
    if port is None:
        port = WEB_SCHEMES.get(scheme)
    return HostFact(host=host, port=port, via="webfetch", scheme=scheme)


def _encodable(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _grep_paths(resolver: PathResolver, base: str, glob: str | None, cwd: str) -> list[PathFact]:
    """What the Grep tool reads: everything under ``path`` (recursive), narrowed by ``glob``
    (what either Grep selects, :func:`_grep_glob`: a pattern without ``/`` matches a file name
    at any depth, one with ``/`` the path under ``path``; ``**`` any directories; braces). The recursive
    read's ``contents`` are what the glob selects (the target of a file link only when the
    glob selects the link, through which it is read); of those, the links, the masked
    directories and what lies outside ``path`` are also named reads of their own (a link's
    target is then checked as its ``real``). A plain file under ``path`` is named in
    ``contents`` only, as it is for a Grep without a glob."""
    fact = resolver.fact(base, "read", cwd=cwd, via="tool", program="Grep")
    facts = [fact]
    if not fact.inside_workspace or fact.special or fact.real.startswith("/"):
        return facts
    top = CONTAINER_WORKSPACE if fact.real == "." else f"{CONTAINER_WORKSPACE}/{fact.real}"
    found = resolver.walk(top, hidden=True, follow=True, limit=MAX_WALK_ENTRIES)
    if found is None:
        return facts  # a file: read as itself
    match = _grep_glob(glob) if glob else None
    prefix = "" if fact.real == "." else fact.real.rstrip("/") + "/"

    def selected(c: str) -> bool:
        # a masked directory, or what is reached through a linked directory: kept
        return match is None or c.endswith("/") or not c.startswith(prefix) \
            or match(c[len(prefix):])

    # a file link's target is read through the link: only when the glob selects the link
    contents = [
        c for c in found.contents
        if ((c in found.listed or c not in found.link_targets) and selected(c))
        or any(selected(link) for link in found.link_targets.get(c, ()))
    ]
    fact.recursive = True
    fact.contents = contents
    fact.contents_truncated = found.truncated
    if match is not None and len(contents) <= MAX_GLOB_MATCHES:
        for c in contents:
            if c.startswith(prefix) and c in found.listed and c not in found.links:
                continue  # a plain file under the searched directory: in ``contents``
            named = resolver.fact(c.rstrip("/"), "read", cwd=CONTAINER_WORKSPACE, via="tool",
                                  program="Grep", dynamic=True)
            named.raw = glob or named.raw
            facts.append(named)
    return facts


def _grep_glob(glob: str) -> Callable[[str], bool] | None:
    """What a Grep ``glob`` may select, by either implementation: ripgrep's ``--glob``
    (Claude Code) or the builtin Grep's wcmatch pattern (backslash escapes, POSIX classes,
    ``//`` ...). A path either selects is selected (None: everything)."""
    rg = _rg_glob(glob)
    if rg is None:
        return None
    from wcmatch import glob as wcglob  # on the first Grep with a glob (14 ms of imports)

    from runner.toolglob import BRACE_LIMIT, GREP_GLOB_FLAGS

    try:
        builtin = wcglob.compile(glob, flags=GREP_GLOB_FLAGS, limit=BRACE_LIMIT)
    except Exception:
        return None
    return lambda rel: rg(rel) or builtin.match(rel)


def _rg_glob(glob: str) -> Callable[[str], bool] | None:
    """ripgrep's --glob as a test of a path relative to the searched directory (None: it
    selects everything: a negated glob only excludes)."""
    if glob.startswith("!"):
        return None
    try:
        alternatives = brace_expand(glob)
    except GlobTooBroad:
        return None
    regexes: list[re.Pattern[str]] = []
    for alt in alternatives:
        anchored = "/" in alt.rstrip("/")
        body = alt.strip("/")
        out = "" if anchored else "(?:.*/)?"
        i = 0
        while i < len(body):
            if body.startswith("**/", i):
                out += "(?:.*/)?"
                i += 3
            elif body.startswith("**", i):
                out += ".*"
                i += 2
            elif body[i] == "*":
                out += "[^/]*"
                i += 1
            elif body[i] == "?":
                out += "[^/]"
                i += 1
            elif body[i] == "\\" and i + 1 < len(body):  # an escaped character: itself
                out += re.escape(body[i + 1])
                i += 2
            elif body[i] == "[":
                end = body.find("]", i + 2)
                if end < 0:
                    out += re.escape("[")
                    i += 1
                else:
                    # literal in a class; escaped, so Python does not read a nested
                    # set or a set operation (`[[`, `&&`, `~~`, `||`) into them
                    inner = body[i + 1 : end].replace("\\", "\\\\")
                    for c in "[&~|":
                        inner = inner.replace(c, "\\" + c)
                    out += "[" + ("^" + inner[1:] if inner.startswith("!") else inner) + "]"
                    i = end + 1
            else:
                out += re.escape(body[i])
                i += 1
        regexes.append(re.compile(out + "(?:/.*)?", re.DOTALL))
    return lambda rel: any(r.fullmatch(rel) for r in regexes)


def _static_prefix(pattern: str) -> str:
    """The directory part of a glob pattern before its first wildcard component."""
    parts = pattern.split("/")
    static: list[str] = []
    for part in parts[:-1]:
        if any(c in _GLOB_CHARS for c in part):
            break
        static.append(part)
    if pattern.startswith("/") and static == [""]:
        return "/"
    return "/".join(static)


def _glob_reach(pattern: str) -> str:
    """Where a pattern with `..` after a wildcard can climb to ("" when it has none).

    ``*`` stands for one directory level and ``**`` for none (its shallowest match,
    from which a following ``..`` climbs highest).
    """
    parts = pattern.split("/")[:-1]
    if ".." not in parts:
        return ""
    kept = [("_" if any(c in _GLOB_CHARS for c in p) else p) for p in parts if p != "**"]
    reach = "/".join(kept)
    return reach if reach.startswith("/") else reach or "."


def _dedupe(paths: list[PathFact]) -> None:
    seen: set[tuple[str, str, str, str, str, str]] = set()
    out: list[PathFact] = []
    for p in paths:
        # a path after an earlier program may have made it a link is another fact
        key = (p.raw, p.path, p.real, p.op, p.via, p.new_link or "")
        if key not in seen:
            seen.add(key)
            out.append(p)
    paths[:] = out

