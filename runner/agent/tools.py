"""The agent's tools (names and arguments as in Claude Code agent files).

Every failure a tool meets (bad input, file not found, permission denied,
read-only file system, a path changed since the policy decided) is a
:class:`ToolError`: it goes back to the model as an ``is_error`` tool result
and never ends the loop.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import bracex
from pydantic import ValidationError
from wcmatch import glob
from wcmatch._wcparse import PatternLimitException  # raised by glob (not re-exported)

from runner.agent.bash import clamp_timeout, minimal_env, run_bash
from runner.agent.paths import Workspace
from runner.protocol import (
    BUILTIN_TOOL_INPUTS,
    BashInput,
    EditInput,
    GlobInput,
    GrepInput,
    LSInput,
    MeasuredPath,
    ReadInput,
    WriteInput,
    tool_fields,
)
from runner.toolglob import BRACE_LIMIT, GLOB_FLAGS, GREP_GLOB_FLAGS

READ_DEFAULT_LINES = 2000
LINE_CHARS = 2000
GREP_LINE_CHARS = 300
MAX_LISTED = 1000
MAX_GREP_MATCHES = 500
MAX_SCAN_FILE_BYTES = 5 << 20
SKIP_DIRS = frozenset({".git", "__pycache__", "node_modules", ".sandbox-runner", ".pytest_cache"})
# Glob/Grep patterns as Claude Code reads them (runner/toolglob.py: shared with the policy's
# derivation): `**` spans directories, `{a,b}` braces, `[...]` classes, dotfiles matched, no
# extglob; links are not followed by `**`.


class ToolError(Exception):
    """A tool failure the model sees (is_error result)."""


@dataclass(frozen=True)
class ToolOutput:
    text: str
    is_error: bool = False


# --- inputs and schemas: runner/protocol.py "Tool inputs" ------------------------------

# the arguments naming a container path: measured before the call is decided
PATH_ARGS: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in tool_fields(model) if f.path)
    for name, model in BUILTIN_TOOL_INPUTS.items()
}


def clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = max(1, limit // 2)
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters omitted ...]\n{text[-half:]}"


# --- the toolbox ---------------------------------------------------------------------


class Toolbox:
    def __init__(self, ws: Workspace, *, enabled: list[str], output_limit: int, bash_timeout: float) -> None:
        self.ws = ws
        self.enabled = [t for t in enabled if t in BUILTIN_TOOL_INPUTS]
        self.output_limit = output_limit
        self.bash_timeout = bash_timeout
        self._impl: dict[str, Callable[[Any, dict[str, MeasuredPath]], str]] = {
            "Read": self._read, "Write": self._write, "Edit": self._edit, "Glob": self._glob,
            "Grep": self._grep, "LS": self._ls, "Bash": self._bash,
        }

    def measure(self, name: str, tool_input: dict[str, Any]) -> list[MeasuredPath]:
        """Facts about the call's path arguments, for the policy decision."""
        out = []
        for arg in PATH_ARGS.get(name, ()):
            raw = tool_input.get(arg)
            if isinstance(raw, str) and raw and "\x00" not in raw:
                try:
                    out.append(self.ws.measure(raw))
                except (OSError, ValueError):
                    continue
        return out

    def run(self, name: str, tool_input: dict[str, Any], measured: list[MeasuredPath]) -> ToolOutput:
        if name not in BUILTIN_TOOL_INPUTS:
            return ToolOutput(f"Unknown tool {name!r}. Available tools: {', '.join(self.enabled)}", True)
        if name not in self.enabled:
            return ToolOutput(f"Tool {name!r} is not available to this agent. "
                              f"Available tools: {', '.join(self.enabled)}", True)
        try:
            args = BUILTIN_TOOL_INPUTS[name].model_validate(tool_input)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}"
                                 for e in exc.errors())
            return ToolOutput(f"Invalid input for {name}: {problems}", True)
        try:
            text = self._impl[name](args, {m.raw: m for m in measured})
        except _BashFailed as exc:
            return ToolOutput(clip(str(exc), self.output_limit), True)
        except ToolError as exc:
            return ToolOutput(clip(str(exc), self.output_limit), True)
        except OSError as exc:
            where = exc.filename if isinstance(exc.filename, str) else ""
            shown = f": {self.ws.to_virtual(where)}" if where else ""
            return ToolOutput(f"{exc.strerror or type(exc).__name__}{shown}", True)
        except (ValueError, RecursionError, MemoryError) as exc:
            return ToolOutput(f"{name} failed: {type(exc).__name__}: {exc}", True)
        return ToolOutput(clip(text, self.output_limit))

    # --- path checks ----------------------------------------------------------------

    def _checked(self, raw: str, decided: dict[str, MeasuredPath]) -> str:
        """The on-disk real path, refusing when it changed since the policy decided (symlink swap)."""
        if "\x00" in raw:
            raise ToolError("path contains a NUL byte")
        now = self.ws.measure(raw)
        before = decided.get(raw)
        if before is not None and before.real != now.real:
            raise ToolError(f"{raw}: the path changed since the policy decision "
                            f"({before.real} -> {now.real}); nothing was done")
        return self.ws.real_disk(raw)

    # --- tools ----------------------------------------------------------------------

    def _read(self, a: ReadInput, decided: dict[str, MeasuredPath]) -> str:
        path = self._checked(a.file_path, decided)
        if os.path.isdir(path):
            raise ToolError(f"{a.file_path} is a directory; use LS to list it")
        start = max(1, a.offset or 1)
        limit = a.limit or READ_DEFAULT_LINES
        with open(path, "rb") as fh:
            if b"\x00" in fh.read(8192):
                size = os.fstat(fh.fileno()).st_size
                raise ToolError(f"{a.file_path} is a binary file ({size} bytes); not shown")
            fh.seek(0)
            lines, n, budget = [], 0, self.output_limit
            for n, raw_line in enumerate(fh, start=1):
                if n < start:
                    continue
                if n >= start + limit or budget <= 0:
                    lines.append(f"[... more lines; continue with offset={n}]")
                    break
                line = raw_line.decode("utf-8", errors="replace").rstrip("\r\n")
                if len(line) > LINE_CHARS:
                    line = line[:LINE_CHARS] + " [line truncated]"
                entry = f"{n:6}\t{line}"
                budget -= len(entry) + 1
                lines.append(entry)
        if n == 0:
            return "(empty file)"
        if not lines:
            return f"(the file has {n} lines; offset {start} is past the end)"
        return "\n".join(lines)

    def _write(self, a: WriteInput, decided: dict[str, MeasuredPath]) -> str:
        path = self._checked(a.file_path, decided)
        parent = os.path.dirname(path)
        if os.path.lexists(parent) and not os.path.isdir(parent):
            raise ToolError(f"Not a directory: {self.ws.to_virtual(parent)}")
        os.makedirs(parent, exist_ok=True)
        data = a.content.encode("utf-8", errors="surrogatepass")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return f"Wrote {len(data)} bytes to {self.ws.to_virtual(path)}"

    def _edit(self, a: EditInput, decided: dict[str, MeasuredPath]) -> str:
        path = self._checked(a.file_path, decided)
        if a.old_string == "":
            raise ToolError("old_string is empty; use Write to create a file")
        if a.old_string == a.new_string:
            raise ToolError("old_string and new_string are the same; nothing to do")
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError(f"{a.file_path} is not UTF-8 text; cannot edit it") from None
        count = text.count(a.old_string)
        if count == 0:
            raise ToolError(f"old_string not found in {a.file_path}")
        if count > 1 and not a.replace_all:
            raise ToolError(f"old_string occurs {count} times in {a.file_path}; include more context "
                            "to make it unique, or set replace_all")
        new = text.replace(a.old_string, a.new_string, -1 if a.replace_all else 1)
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
        with os.fdopen(fd, "wb") as fh:
            fh.write(new.encode("utf-8"))
        n = count if a.replace_all else 1
        return f"Edited {self.ws.to_virtual(path)}: {n} replacement{'s' if n != 1 else ''}"

    def _glob(self, a: GlobInput, decided: dict[str, MeasuredPath]) -> str:
        if os.path.isabs(a.pattern) or a.pattern.startswith("~"):
            raise ToolError("pattern must be relative; pass the directory as path")
        if "{" in a.pattern and ".." in a.pattern and _braced_parent(a.pattern):
            # the policy sees '..' only as a literal segment (derive._glob_reach)
            raise ToolError("'..' inside a brace expression is not supported; "
                            "pass the directory as path")
        base = self._checked(a.path, decided) if a.path else self.ws.disk
        if not os.path.isdir(base):
            raise ToolError(f"{a.path} is not a directory")
        found: list[tuple[float, str]] = []
        try:
            matches = glob.iglob(a.pattern, root_dir=base, flags=GLOB_FLAGS, limit=BRACE_LIMIT)
            for i, rel in enumerate(matches):
                if i >= MAX_LISTED * 20:
                    break
                path = os.path.join(base, rel)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    found.append((st.st_mtime, path))
        except PatternLimitException:
            raise ToolError(f"pattern expands to more than {BRACE_LIMIT} patterns") from None
        if not found:
            return "No files found"
        found.sort(key=lambda t: (-t[0], t[1]))
        shown = [self.ws.relative(p) for _, p in found[:MAX_LISTED]]
        more = len(found) - len(shown)
        return "\n".join(shown) + (f"\n[... {more} more files not shown]" if more > 0 else "")

    def _grep(self, a: GrepInput, decided: dict[str, MeasuredPath]) -> str:
        try:
            regex = re.compile(a.pattern)
        except re.error as exc:
            raise ToolError(f"invalid regular expression: {exc}") from None
        base = self._checked(a.path, decided) if a.path else self.ws.disk
        if not os.path.exists(base):
            raise ToolError(f"{a.path} does not exist")
        try:
            matcher = glob.compile(a.glob, flags=GREP_GLOB_FLAGS,
                                   limit=BRACE_LIMIT) if a.glob else None
        except PatternLimitException:
            raise ToolError(f"glob expands to more than {BRACE_LIMIT} patterns") from None
        out: list[str] = []
        budget = self.output_limit
        for path in _walk_files(base):
            if matcher is not None and not matcher.match(os.path.relpath(path, base)):
                continue
            for lineno, line in _text_lines(path):
                if regex.search(line):
                    entry = f"{self.ws.relative(path)}:{lineno}:{line[:GREP_LINE_CHARS]}"
                    out.append(entry)
                    budget -= len(entry) + 1
                    if len(out) >= MAX_GREP_MATCHES or budget <= 0:
                        return "\n".join(out) + "\n[... more matches not shown; narrow the search]"
        return "\n".join(out) if out else "No matches found"

    def _ls(self, a: LSInput, decided: dict[str, MeasuredPath]) -> str:
        path = self._checked(a.path, decided)
        if not os.path.isdir(path):
            raise ToolError(f"{a.path} is not a directory")
        entries = []
        with os.scandir(path) as it:
            for entry in sorted(it, key=lambda e: e.name):
                if entry.is_symlink():
                    entries.append(f"{entry.name} -> {os.readlink(entry.path)}")
                elif entry.is_dir():
                    entries.append(f"{entry.name}/")
                else:
                    entries.append(entry.name)
        if not entries:
            return f"{self.ws.to_virtual(path)}/ (empty)"
        more = len(entries) - MAX_LISTED
        body = "\n".join(f"  {e}" for e in entries[:MAX_LISTED])
        return f"{self.ws.to_virtual(path)}/\n{body}" + (f"\n  [... {more} more]" if more > 0 else "")

    def _bash(self, a: BashInput, decided: dict[str, MeasuredPath]) -> str:
        if "\x00" in a.command:
            raise ToolError("command contains a NUL byte")
        timeout = clamp_timeout(a.timeout, self.bash_timeout)
        keep = max(200, self.output_limit - 300)  # room for the notes below
        res = run_bash(a.command, cwd=self.ws.disk, timeout=timeout, limit=keep,
                       env=minimal_env())
        text = res.output.rstrip("\n")
        if res.timed_out:
            raise _BashFailed(f"{text}\n[command timed out after {timeout:g}s; its process group was killed]")
        if res.exit_code != 0:
            raise _BashFailed(f"{text}\n[exit code {res.exit_code}]".lstrip("\n"))
        return text or "(no output)"


class _BashFailed(ToolError):
    """A command that ran but failed: its output, marked as an error."""


def _walk_files(base: str) -> Iterator[str]:
    if os.path.isfile(base):
        yield base
        return
    for root, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            yield os.path.join(root, name)


def _text_lines(path: str) -> Iterator[tuple[int, str]]:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_SCAN_FILE_BYTES:
            return
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return
    if b"\x00" in data[:8192]:
        return
    yield from enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1)


def _braced_parent(pattern: str) -> bool:
    """Whether a brace alternative of ``pattern`` has a '..' segment the literal text hides."""
    try:
        alternatives = bracex.expand(pattern, limit=BRACE_LIMIT)
    except bracex.ExpansionLimitException:  # wcmatch refuses it anyway
        return True
    return any(".." in alt.split("/") for alt in alternatives)
