"""Agent definition files, read the way Claude Code reads them.

An agent file is markdown with a YAML frontmatter block; the body is the system prompt.
The keys follow Claude Code's subagent files (and its own loader, where the documentation
is silent):

- ``name``: required; a file without one is named after the file (as Claude Code names
  plugin agents). ``description``: expected; its literal ``\\n`` become newlines.
- ``tools``: an allowlist, a comma-separated string or a list (``Read, Grep`` or
  ``["Read", "Grep"]``). Absent (or ``*``): every tool of the runtime. Present but empty
  (``tools: []``, ``tools:``, ``tools: ""``): no tools at all, as in Claude Code.
- ``disallowedTools``: removed from the pool first; ``tools`` then picks from what is left,
  so a tool in both is removed. An entry with an argument (``Bash(rm:*)``) removes the whole
  tool, as Claude Code resolves the pool.
- ``MultiEdit`` is Edit here. ``Bash(git:*)``-style arguments name their tool: the tool is
  granted and the argument is *not* enforced (a warning says so); the policies decide every
  call anyway. Claude Code tools this runtime does not have (WebFetch, WebSearch, Task,
  TodoWrite, NotebookEdit, ``mcp__*`` ...) are dropped with the reason, never refused.
- ``model``: an alias (``opus``, ``sonnet``, ``haiku``, ``fable``, ``best``; case-insensitive,
  mapped through ``model_aliases``, overridable in config), ``inherit`` (the default model),
  or a model id. ``--model`` wins over the file.
- ``maxTurns``: the run's turn limit unless ``--max-turns`` / config set one.
- ``color``: kept (display only).
- Everything else (``permissionMode``, ``skills``, ``hooks``, ``mcpServers``, ``memory``,
  unknown keys ...) is reported as ignored, with why; nothing is dropped silently.

Frontmatter in the wild is often not YAML: unquoted ``: `` in descriptions, descriptions
whose example lines run on at column 0, ``tools: ["Read", "Grep"]`` beside them. When
strict YAML fails, the block is read key by key (:func:`_lenient`): every key survives,
continuation lines join their key's value, flow lists stay lists, and errors name the line
of the file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from runner.config import DEFAULT_MODEL, MODEL_ALIASES
from runner.errors import AgentFileError
from runner.resources import agents_dir
from runner.runtime_tools import BUILTIN_UNAVAILABLE, RUNTIME_TOOLS, Runtime, unavailable_reason
from runner.runtime_tools import TOOL_ALIASES as RUNTIME_ALIASES

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAX_NAME = 128
_LONG_CONTEXT = "[1m]"
_KEY_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:(?:[ \t]+(.*?))?[ \t]*$")
_SPEC_RE = re.compile(r"^([^()]+)\((.*)\)$")

# The built-in runtime's aliases and unavailable tools (runner/runtime_tools.py has both runtimes').
TOOL_ALIASES: dict[str, str] = RUNTIME_ALIASES["builtin"]
UNAVAILABLE_TOOLS: dict[str, str] = BUILTIN_UNAVAILABLE

# Keys this runtime reads; every other key is reported as ignored.
HANDLED_KEYS = ("name", "description", "tools", "disallowedTools", "model", "color", "maxTurns")
# Why the Claude Code keys this runtime does not use are ignored.
IGNORED_KEYS: dict[str, str] = {
    "permissionMode": "every tool call is decided by the policies; there is no permission mode",
    "skills": "no skills in this runtime",
    "hooks": "hooks do not run in this runtime; the policies decide every tool call",
    "mcpServers": "no MCP servers in the sandbox",
    "memory": "no persistent memory in this runtime",
    "background": "runs are always unattended",
    "isolation": "the sandbox is the isolation",
    "effort": "no effort setting in this runtime",
    "initialPrompt": "the task comes from --task",
    "allowedTools": "not a Claude Code agent key (tools are granted by 'tools'); "
                    "Claude Code ignores it too",
    "allowed-tools": "a skill key, not an agent key (tools are granted by 'tools')",
}
# Keys whose value is free text: lines that run on (even at column 0) belong to them.
_TEXT_KEYS = ("description", "when-to-use", "whenToUse", "initialPrompt")
# Keys whose value is one token: a line running on from them is an error.
_TOKEN_KEYS = ("name", "model", "color")
# Column-0 words of example dialogues inside descriptions, never keys of their own there.
_DIALOGUE = frozenset(("user", "assistant", "human", "context", "commentary", "example",
                       "examples", "note"))
_KNOWN_KEYS = frozenset((*HANDLED_KEYS, *IGNORED_KEYS, *_TEXT_KEYS))


class AgentDefinition(BaseModel):
    """An agent file as written (tool specs as listed, model as named)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    tools: list[str] | None = None  # None: every tool of the runtime; []: none
    disallowed_tools: list[str] | None = None
    model: str | None = None  # as written: an alias, "inherit" or an id
    color: str | None = None
    max_turns: int | None = None
    system_prompt: str
    source: Path
    sha256: str


class ToolDropped(BaseModel):
    model_config = ConfigDict(frozen=True)

    tool: str  # as written in the file
    reason: str


class KeyIgnored(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    reason: str
    line: int | None = None


class ToolResolution(BaseModel):
    granted: list[str]
    dropped: list[ToolDropped]
    warnings: list[str]


class AgentLoad(BaseModel):
    """A loaded agent file: the definition and what this runtime makes of it."""

    definition: AgentDefinition
    model: str  # the resolved model id
    tools: list[str]  # granted, in the order the file names them
    tools_dropped: list[ToolDropped]
    keys_ignored: list[KeyIgnored]
    warnings: list[str]
    runtime: Runtime = "builtin"

    def summary(self) -> dict[str, Any]:
        """What ``agent check --json`` prints and ``run.json`` records."""
        d = self.definition
        return {
            "loadable": True, "runtime": self.runtime, "file": str(d.source), "name": d.name,
            "sha256": d.sha256,
            "model": self.model, "model_as_written": d.model, "max_turns": d.max_turns,
            "tools": self.tools, "tools_requested": d.tools,
            "disallowed_tools": d.disallowed_tools,
            "tools_dropped": [t.model_dump() for t in self.tools_dropped],
            "keys_ignored": [k.model_dump(exclude_none=True) for k in self.keys_ignored],
            "warnings": self.warnings,
        }

    def report_lines(self) -> list[str]:
        """The human-readable report of ``agent check``."""
        d = self.definition
        lines = [f"name: {d.name}", f"file: {d.source}", f"runtime: {self.runtime}",
                 f"model: {self.model}" + (f" (from {d.model!r})" if d.model else " (default)"),
                 f"tools granted: {', '.join(self.tools) or '(none)'}"]
        if d.max_turns is not None:
            lines.append(f"max turns: {d.max_turns}")
        lines.append(f"tools dropped: {'(none)' if not self.tools_dropped else ''}".rstrip())
        lines += [f"  {t.tool}: {t.reason}" for t in self.tools_dropped]
        lines.append(f"keys ignored: {'(none)' if not self.keys_ignored else ''}".rstrip())
        lines += [f"  {k.key}: {k.reason}" for k in self.keys_ignored]
        lines.append(f"warnings: {'(none)' if not self.warnings else ''}".rstrip())
        lines += [f"  {w}" for w in self.warnings]
        return lines


def load_agent_file(
    name_or_path: str, *, aliases: Mapping[str, str] | None = None, model: str | None = None,
    runtime: Runtime = "builtin",
) -> AgentLoad:
    """Load a bundled agent by name or an agent file by path, and resolve it for ``runtime``.

    ``model`` is the ``--model`` override (it wins over the file); ``aliases`` map model
    aliases to ids (default: :data:`runner.config.MODEL_ALIASES`). Raises AgentFileError
    (exit 2) for a file that cannot be an agent, naming the file and line.
    """
    path = _locate(name_or_path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AgentFileError(exc.strerror or str(exc), path=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AgentFileError("not UTF-8 text", path=path) from None
    parsed = _parse(text, path)
    definition = _build(parsed, path, hashlib.sha256(raw).hexdigest())
    tools = resolve_tools(definition.tools, definition.disallowed_tools, runtime=runtime)
    warnings = parsed.warnings + tools.warnings
    resolved = resolve_model(definition.model, model, MODEL_ALIASES if aliases is None else aliases)
    if (model or definition.model or "").lower().endswith(_LONG_CONTEXT):
        warnings.append("the [1m] (1M-context) suffix of the model is ignored")
    if not tools.granted and definition.tools != []:
        warnings.append("the agent is granted no tools: it can only answer in text")
    return AgentLoad(definition=definition, model=resolved, tools=tools.granted,
                     tools_dropped=tools.dropped, keys_ignored=parsed.ignored, warnings=warnings,
                     runtime=runtime)


def load_agent(name_or_path: str) -> AgentDefinition:
    """The definition of a bundled agent (by name) or of an agent file (by path)."""
    return load_agent_file(name_or_path).definition


def resolve_model(agent_model: str | None, cli_model: str | None, aliases: Mapping[str, str]) -> str:
    """The model id for a run: the CLI flag wins, then the agent file; aliases are mapped
    (case-insensitively); ``inherit`` and no model are the default model (``aliases`` may
    name it as ``inherit``)."""
    chosen = (cli_model or agent_model or "inherit").strip()
    if chosen.lower().endswith(_LONG_CONTEXT):  # Claude Code's 1M-context marker: not an id
        chosen = chosen[: -len(_LONG_CONTEXT)].strip()
    key = chosen.lower()
    if key == "inherit":
        return aliases.get("inherit", DEFAULT_MODEL)
    return aliases.get(chosen, aliases.get(key, chosen))


def resolve_tools(
    tools: list[str] | None, disallowed: list[str] | None, runtime: Runtime = "builtin",
) -> ToolResolution:
    """Claude Code's tool resolution against ``runtime``'s tools: ``disallowed`` leaves the
    pool first, then ``tools`` (None or ``*``: everything) picks from the pool."""
    kind, runtime_tools = runtime, RUNTIME_TOOLS[runtime]
    aliases = RUNTIME_ALIASES[kind]
    warnings: list[str] = []
    denied: set[str] = set()
    for spec in disallowed or []:
        name, arg = _split_spec(spec)
        denied.add(aliases.get(name, name))
        if arg is not None and name in runtime_tools:
            warnings.append(f"disallowedTools {spec!r} removes the whole {name} tool "
                            "(Claude Code resolves tools by name)")
    pool = [t for t in runtime_tools if t not in denied]
    dropped: dict[str, ToolDropped] = {}
    if tools is None or tools == ["*"]:
        for name in runtime_tools:
            if name in denied:
                dropped[name] = ToolDropped(tool=name, reason="removed by disallowedTools")
        return ToolResolution(granted=pool, dropped=list(dropped.values()), warnings=warnings)
    granted: list[str] = []
    for spec in tools:
        name, arg = _split_spec(spec)
        mapped = aliases.get(name, name)
        if mapped in pool:
            if mapped not in granted:
                granted.append(mapped)
            if mapped != name:
                warnings.append(f"{name} is granted as {mapped}" + (
                    f" (this runtime's {mapped} makes one edit per call)" if name == "MultiEdit"
                    else ""))
            if arg is not None:
                warnings.append(f"{spec}: the restriction ({arg}) is not enforced by this "
                                f"runtime; {mapped} is granted and the policies decide every call")
        elif spec not in dropped:
            why = ("removed by disallowedTools" if mapped in runtime_tools
                   else unavailable_reason(name, kind))
            dropped[spec] = ToolDropped(tool=spec, reason=why)
    return ToolResolution(granted=granted, dropped=list(dropped.values()), warnings=warnings)


def sandbox_section(writable: list[str], test_command: str | None = None,
                    environment: str | None = None) -> str:
    """The short section appended to every agent's system prompt. ``environment``: what the
    project's environment holds, when the project declared it (None: the default one)."""
    paths = ", ".join(f"/workspace/{w}" for w in writable) or "(nothing)"
    toolchain = (f"The project's environment ({environment}) is installed: python, pip and "
                 "pytest on PATH are that environment's." if environment else
                 "The Python toolchain you need (pytest, pytest-cov, fastapi, sqlalchemy, ...) "
                 "is already installed.")
    tests = test_command or "cd /workspace && python -m pytest backend"
    return (
        "\n\n## Sandbox\n"
        "You are running inside a locked-down sandbox. What you need to know:\n"
        "- The project is at /workspace (your working directory). It is read-only except "
        f"for: {paths}. Relative paths are relative to /workspace.\n"
        "- There is no network: package installs, downloads and remote git do not work. "
        f"{toolchain}\n"
        "- Every tool call is checked by a policy before it runs. A denied call comes back "
        "as a tool error that names the policy, the rule and what would be allowed: adapt "
        "instead of retrying the same call. Write shell commands plainly (no eval, no "
        "`bash -c` strings, no inline interpreters) so they can be checked.\n"
        "- Secret files (.env and the like) are masked; do not try to read them.\n"
        f"- Run the tests with: `{tests}`\n"
        "- Record blockers and open questions in /workspace/issues.md.\n"
    )


# --- locating and splitting ------------------------------------------------------------


def _locate(name_or_path: str) -> Path:
    given = Path(name_or_path).expanduser()
    looks_like_path = "/" in name_or_path or name_or_path.endswith(".md") or given.exists()
    if looks_like_path:
        if not given.is_file():
            raise AgentFileError("no such agent file", path=given)
        return given
    bundled = agents_dir() / f"{name_or_path}.md"
    if not bundled.is_file():
        known = ", ".join(sorted(p.stem for p in agents_dir().glob("*.md"))) or "none"
        raise AgentFileError(f"no such agent: {name_or_path!r} (bundled agents: {known})")
    return bundled


@dataclass
class _Parsed:
    meta: dict[str, Any]
    lines: dict[str, int]  # key -> line of the file
    body: str
    body_line: int  # the file line the body starts on
    warnings: list[str] = field(default_factory=list)
    ignored: list[KeyIgnored] = field(default_factory=list)


def _parse(text: str, path: Path) -> _Parsed:
    """Split off the frontmatter and read it (strict YAML, else key by key)."""
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")
    if not lines or lines[0].rstrip() != "---":
        raise AgentFileError("no YAML frontmatter (the file must start with a '---' line)",
                             path=path, line=1)
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)
    if end is None:
        raise AgentFileError("unterminated frontmatter (no closing '---' line)", path=path, line=1)
    block = lines[1:end]  # block[i] is line i + 2 of the file
    body = "\n".join(lines[end + 1:])
    key_lines: dict[str, int] = {}
    for i, text_ in enumerate(block):
        if m := _KEY_RE.match(text_):
            key_lines.setdefault(m.group(1), i + 2)
    warnings: list[str] = []
    try:
        meta = yaml.safe_load("\n".join(block))
    except yaml.YAMLError as exc:
        meta, key_lines = _lenient(block, path)
        warnings.append(f"the frontmatter is not valid YAML ({_yaml_problem(exc)}); "
                        "it was read key by key, as Claude Code reads such files")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise AgentFileError("the frontmatter must be a mapping of keys to values",
                             path=path, line=2)
    meta = {str(k): v for k, v in meta.items()}
    ignored = [KeyIgnored(key=k, reason=IGNORED_KEYS.get(k, "not an agent file key"),
                          line=key_lines.get(k))
               for k in meta if k not in HANDLED_KEYS]
    return _Parsed(meta=meta, lines=key_lines, body=body, body_line=end + 2, warnings=warnings,
                   ignored=ignored)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"line {mark.line + 2}: {problem}"
    return str(problem)


# --- the lenient reader ------------------------------------------------------------------


@dataclass
class _Entry:
    key: str
    line: int
    value: str  # what follows "key:" on its line
    more: list[tuple[int, str]] = field(default_factory=list)  # (line, text) that run on


def _lenient(block: list[str], path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """Read ``key: value`` lines one by one, for frontmatter strict YAML refuses.

    A line at column 0 that looks like ``key:`` starts a new key, unless the value being read
    is free text running on over several lines (a description's ``<example>`` block with its
    ``Context: ...`` and ``user: ...`` lines) and the word is not a frontmatter key. Any other
    line runs on from the key before it.
    """
    entries: list[_Entry] = []
    for index, text in enumerate(block):
        lineno = index + 2
        cur = entries[-1] if entries else None
        if not text.strip():
            if cur is not None:
                cur.more.append((lineno, ""))
            continue
        if text.startswith("#") and (cur is None or not _in_text(cur)):
            continue
        match = _KEY_RE.match(text)
        if match and (cur is None or not _continues(cur, match.group(1))):
            entries.append(_Entry(match.group(1), lineno, match.group(2) or ""))
            continue
        if cur is None:
            raise AgentFileError(
                f"bad YAML frontmatter: expected 'key: value', got {text.strip()[:60]!r}",
                path=path, line=lineno)
        cur.more.append((lineno, text))
    meta: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for entry in entries:
        meta[entry.key] = _entry_value(entry, path)
        lines.setdefault(entry.key, entry.line)
    return meta, lines


def _is_text(entry: _Entry) -> bool:
    """Free text: a description, or an unknown key with a value on its own line (an unknown
    key with only an indented block below it is structure, like ``hooks``)."""
    return entry.key in _TEXT_KEYS or (entry.key not in _KNOWN_KEYS and bool(entry.value))


def _in_text(entry: _Entry) -> bool:
    """Whether ``entry`` is free text already running on past its first line."""
    return _is_text(entry) and (bool(entry.more) or entry.value.startswith(("|", ">")))


def _continues(entry: _Entry, word: str) -> bool:
    """Whether a column-0 ``word:`` line is more of ``entry``'s text, not a key of its own."""
    if word in _KNOWN_KEYS or not _is_text(entry):
        return False
    return _in_text(entry) or word.lower() in _DIALOGUE


def _entry_value(entry: _Entry, path: Path) -> Any:
    while entry.more and not entry.more[-1][1].strip():
        entry.more.pop()  # blank lines before the next key belong to nobody
    value = entry.value
    block = [text for _, text in entry.more]
    structured = entry.key in _KNOWN_KEYS and entry.key not in _TEXT_KEYS
    if value.startswith(("[", "{", "'", '"', "|", ">")) or (not value and block):
        try:  # a YAML value of its own: a flow list, a quoted string, a block
            loaded = yaml.safe_load(f"{entry.key}: {value}\n" + "\n".join(block))
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, dict) and entry.key in loaded:
            return loaded[entry.key]
        if value.startswith(("[", "{")) and structured:
            kind = "list" if value[0] == "[" else "mapping"
            raise AgentFileError(f"bad YAML frontmatter: {entry.key!r} has an unterminated {kind}",
                                 path=path, line=entry.line)
    if not block:
        return _scalar(entry.key, value)
    if entry.key in _TOKEN_KEYS:
        raise AgentFileError(f"bad YAML frontmatter: {entry.key!r} takes one value, but this "
                             "line runs on from it", path=path, line=entry.more[0][0])
    if not value:
        items = [re.match(r"^\s*-\s+(.*)$", t) for t in block if t.strip()]
        if all(items):
            return [m.group(1).strip().strip("\"'") for m in items if m]
    head = [value.lstrip("|>-+ ")] if value.strip("|>-+ ") else []
    sep = "\n" if _is_text(entry) else " "
    return sep.join(head + [t.strip() for t in block]).strip()


def _scalar(key: str, value: str) -> Any:
    """A one-line unquoted value: text, with YAML's comments, null and integers."""
    if key not in _TEXT_KEYS:
        value = re.sub(r"\s+#.*$", "", value)
    if value in ("", "~", "null", "Null", "NULL"):
        return None
    if re.fullmatch(r"[-+]?\d+", value):
        return int(value)
    if value in ("true", "false", "True", "False"):
        return value.lower() == "true"
    return value


# --- building the definition ---------------------------------------------------------------


def _build(parsed: _Parsed, path: Path, digest: str) -> AgentDefinition:
    meta, warnings = parsed.meta, parsed.warnings

    def line(key: str) -> int | None:
        return parsed.lines.get(key)

    raw_name = meta.get("name")
    if raw_name is None or raw_name == "":
        name = path.stem
        warnings.append(f"no 'name': the agent is named {name!r} after its file "
                        "(as Claude Code names plugin agents)")
    elif isinstance(raw_name, (str, int, float)) and not isinstance(raw_name, bool):
        name = str(raw_name).strip()
    else:
        raise AgentFileError("'name' must be a string", path=path, line=line("name"))
    if not name or len(name) > MAX_NAME or any(not ch.isprintable() for ch in name):
        raise AgentFileError(f"invalid agent name {name[:MAX_NAME]!r} (one printable line, "
                             f"at most {MAX_NAME} characters)", path=path, line=line("name"))
    if not _NAME_RE.match(name):
        warnings.append(f"the name {name!r} is not an identifier (letters, digits, '-', '_', '.'); "
                        "it is used as written")
    description = meta.get("description")
    if not isinstance(description, str) or not description.strip():
        warnings.append("no 'description' (Claude Code requires one outside plugins)")
        description = ""
    if not parsed.body.strip():
        raise AgentFileError("empty body: the body is the agent's system prompt",
                             path=path, line=parsed.body_line)
    tools = _tool_specs(meta, "tools", path, line("tools"), warnings)
    disallowed = _tool_specs(meta, "disallowedTools", path, line("disallowedTools"), warnings)
    return AgentDefinition(
        name=name, description=description.replace("\\n", "\n").strip(), tools=tools,
        disallowed_tools=disallowed, model=_model(meta.get("model"), warnings),
        color=(meta["color"].strip() or None) if isinstance(meta.get("color"), str) else None,
        max_turns=_max_turns(meta.get("maxTurns"), warnings),
        system_prompt=parsed.body.strip() + "\n", source=path.resolve(), sha256=digest,
    )


def _tool_specs(meta: dict[str, Any], key: str, path: Path, line: int | None,
                warnings: list[str]) -> list[str] | None:
    """The tool specs of ``tools``/``disallowedTools`` as Claude Code splits them; None when
    the key is absent (or ``*``), [] when it is present and empty."""
    if key not in meta:
        return None
    value = meta[key]
    if value is None or value == "" or value == []:
        if key == "tools":
            warnings.append("'tools' is present but empty: the agent gets no tools "
                            "(omit 'tools' to grant every tool)")
        return []
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list):
        items = [v for v in value if isinstance(v, str)]
        if len(items) != len(value):
            warnings.append(f"{key!r}: entries that are not names were skipped")
    else:
        raise AgentFileError(f"{key!r} must be a comma-separated string or a list of names",
                             path=path, line=line)
    specs = [s for item in items for s in _split_tools(item)]
    return None if "*" in specs else list(dict.fromkeys(specs))


def _split_tools(text: str) -> list[str]:
    """Split on commas and spaces outside parentheses: ``Read, Bash(git diff:*)``."""
    out: list[str] = []
    current, depth = "", 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        elif (ch == "," or ch.isspace()) and depth == 0:
            if current.strip():
                out.append(current.strip())
            current = ""
            continue
        current += ch
    if current.strip():
        out.append(current.strip())
    return out


def _split_spec(spec: str) -> tuple[str, str | None]:
    """``Bash(git:*)`` -> (``Bash``, ``git:*``); an empty or ``*`` argument is none."""
    match = _SPEC_RE.match(spec)
    if not match:
        return spec, None
    arg = match.group(2).strip()
    return match.group(1).strip(), (arg if arg not in ("", "*") else None)


def _model(value: Any, warnings: list[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        warnings.append(f"'model' {value!r} is not a name: the default model is used")
        return None
    value = value.strip()
    if not value:
        return None
    return "inherit" if value.lower() == "inherit" else value


def _max_turns(value: Any, warnings: list[str]) -> int | None:
    if value is None:
        return None
    turns = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str) and value.strip().isdigit():
        turns = int(value.strip())
    if turns is None or turns < 1:
        warnings.append(f"'maxTurns' {value!r} is not a positive integer: ignored")
        return None
    return turns
