"""Agent definition files: Claude-Code-style markdown with YAML frontmatter.

Frontmatter keys: ``name`` (required), ``description``, ``tools`` (a
comma-separated string or a YAML list; absent means every tool), ``model``
(an id or an alias: opus, sonnet, haiku, inherit) and ``color``. The body is
the system prompt. Claude Code reads frontmatter leniently: agent files in the
wild carry unquoted descriptions with ``: `` inside (the bundled
``backend-implementer`` does). When strict YAML fails on such a file, each
``key: value`` line is taken literally; anything else is a YAML error.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from frontmatter.default_handlers import YAMLHandler
from pydantic import BaseModel, ConfigDict

from runner.config import DEFAULT_MODEL
from runner.errors import AgentFileError
from runner.policy.models import TOOL_NAMES
from runner.resources import agents_dir

KNOWN_KEYS = ("name", "description", "tools", "model", "color")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_LINE_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*):(?:\s+(.*))?$")
_LIST_ITEM_RE = re.compile(r"^\s+-\s+(.*)$")
_YAML_INDICATORS = tuple("[{\"'|>&*!%@`")


class AgentDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    tools: list[str] | None = None  # None: every tool
    model: str | None = None
    color: str | None = None
    system_prompt: str
    source: Path
    sha256: str

    def tool_list(self) -> list[str]:
        """The tools this agent may use (all tools when the file names none)."""
        return list(self.tools) if self.tools is not None else list(TOOL_NAMES)


def load_agent(name_or_path: str) -> AgentDefinition:
    """Load a bundled agent by name (``backend-implementer``) or an agent file by path."""
    path = _locate(name_or_path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AgentFileError(exc.strerror or str(exc), path=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AgentFileError("not UTF-8 text", path=path) from None
    meta, body = _split(text, path)
    return _build(meta, body, path, hashlib.sha256(raw).hexdigest())


def resolve_model(agent_model: str | None, cli_model: str | None, aliases: Mapping[str, str]) -> str:
    """The model id for a run: the CLI flag wins, then the agent file; aliases are mapped."""
    chosen = cli_model or agent_model
    if chosen is None or chosen == "inherit":
        return DEFAULT_MODEL
    return aliases.get(chosen, chosen)


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


def system_prompt_for(agent: AgentDefinition, writable: list[str], test_command: str | None = None) -> str:
    """The agent's body followed by the sandbox section."""
    return agent.system_prompt.rstrip() + sandbox_section(writable, test_command)


# --- internals -----------------------------------------------------------------------


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


def _split(text: str, path: Path) -> tuple[dict[str, Any], str]:
    handler = frontmatter.detect_format(text.lstrip("\ufeff"), frontmatter.handlers)
    if not isinstance(handler, YAMLHandler):
        raise AgentFileError("no YAML frontmatter (the file must start with a '---' block)", path=path)
    try:
        fm, body = handler.split(text.lstrip("\ufeff"))
    except ValueError:
        raise AgentFileError("unterminated frontmatter (no closing '---')", path=path) from None
    try:
        meta = yaml.safe_load(fm)
    except yaml.YAMLError as exc:
        lenient = _lenient(fm)
        if lenient is None:
            raise AgentFileError(f"bad YAML frontmatter: {_yaml_msg(exc)}", path=path) from None
        meta = lenient
    if not isinstance(meta, dict):
        raise AgentFileError("frontmatter must be a mapping of keys to values", path=path)
    return meta, body


def _lenient(fm: str) -> dict[str, Any] | None:
    """Claude-Code-style reading of ``key: value`` lines; None when the text is not that."""
    out: dict[str, Any] = {}
    current: str | None = None
    for line in fm.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = _LIST_ITEM_RE.match(line)
        if item and current is not None and isinstance(out.get(current), list):
            out[current].append(item.group(1).strip())
            continue
        match = _LINE_RE.match(line)
        if not match or match.group(1) not in KNOWN_KEYS:
            return None
        key, value = match.group(1), (match.group(2) or "").strip()
        if value.startswith(_YAML_INDICATORS):
            return None
        current = key
        out[key] = value.replace("\\n", "\n") if value else []
    return out


def _yaml_msg(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"line {mark.line + 2}, column {mark.column + 1}: {problem}"
    return str(problem)


def _build(meta: dict[str, Any], body: str, path: Path, digest: str) -> AgentDefinition:
    # Unknown keys (permissionMode, ...) are ignored, as Claude Code does.
    name = meta.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AgentFileError("frontmatter has no 'name'", path=path)
    if not _NAME_RE.match(name.strip()):
        raise AgentFileError(f"invalid agent name {name!r}", path=path)
    if not body.strip():
        raise AgentFileError("empty body: the body is the agent's system prompt", path=path)
    return AgentDefinition(
        name=name.strip(),
        description=_opt_str(meta, "description", path) or "",
        tools=_tools(meta.get("tools"), path),
        model=_opt_str(meta, "model", path),
        color=_opt_str(meta, "color", path),
        system_prompt=body.strip() + "\n",
        source=path.resolve(),
        sha256=digest,
    )


def _opt_str(meta: dict[str, Any], key: str, path: Path) -> str | None:
    value = meta.get(key)
    if value is None or value == []:
        return None
    if not isinstance(value, str):
        raise AgentFileError(f"'{key}' must be a string", path=path)
    return value.strip() or None


def _tools(value: Any, path: Path) -> list[str] | None:
    if value is None or value == [] or value == "":
        return None
    if isinstance(value, str):
        names = [t.strip() for t in value.split(",")]
    elif isinstance(value, list) and all(isinstance(t, str) for t in value):
        names = [t.strip() for t in value]
    else:
        raise AgentFileError("'tools' must be a comma-separated string or a list of names", path=path)
    names = [n for n in names if n]
    bad = [n for n in names if n not in TOOL_NAMES]
    if bad:
        raise AgentFileError(
            f"unknown tool(s) {', '.join(bad)}; supported: {', '.join(TOOL_NAMES)}", path=path
        )
    return list(dict.fromkeys(names))
