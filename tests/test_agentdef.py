"""Agent files: the bundled backend-implementer, variants, and every malformed shape."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from runner.agentdef import load_agent, resolve_model, sandbox_section, system_prompt_for
from runner.config import DEFAULT_MODEL, MODEL_ALIASES
from runner.errors import AgentFileError
from runner.policy.models import TOOL_NAMES
from runner.resources import agents_dir


def write(tmp_path: Path, text: str, name: str = "agent.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_backend_implementer_loads_by_name() -> None:
    agent = load_agent("backend-implementer")
    source = agents_dir() / "backend-implementer.md"
    assert agent.name == "backend-implementer"
    assert agent.model == "opus"
    assert agent.color == "red"
    assert agent.tools is None and agent.tool_list() == list(TOOL_NAMES)
    # the description has unquoted ': ' inside; it is read leniently, as Claude Code does
    assert "Context: User wants to add a new API endpoint" in agent.description
    assert agent.system_prompt.startswith("You are an elite Backend Engineer")
    assert "---" not in agent.system_prompt.splitlines()[0]
    assert agent.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert agent.source == source.resolve()


def test_load_by_path_with_yaml_list_tools(tmp_path: Path) -> None:
    path = write(tmp_path, "---\nname: reviewer\ndescription: reads code\ntools:\n  - Read\n  - Grep\n"
                           "model: sonnet\n---\nYou review code.\n")
    agent = load_agent(str(path))
    assert agent.tools == ["Read", "Grep"]
    assert agent.model == "sonnet"
    assert agent.system_prompt == "You review code.\n"


def test_comma_separated_tools_and_lenient_list(tmp_path: Path) -> None:
    path = write(tmp_path, "---\nname: a\ndescription: x: y\ntools: Read, Write, Bash\n---\nBody\n")
    assert load_agent(str(path)).tools == ["Read", "Write", "Bash"]


def test_unknown_keys_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "---\nname: a\npermissionMode: plan\n---\nBody\n")
    assert load_agent(str(path)).name == "a"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Just a body, no frontmatter.\n", "no YAML frontmatter"),
        ("---\nname: a\nBody without end\n", "frontmatter"),
        ("---\ndescription: no name\n---\nBody\n", "no 'name'"),
        ("---\nname: a\ntools: [Read, Write\n---\nBody\n", "bad YAML"),
        ("---\nname: a\n  bad: indentation: here\n---\nBody\n", "bad YAML"),
        ("---\nname: a\ntools: Read, Fly\n---\nBody\n", "unknown tool(s) Fly"),
        ("---\nname: a\ntools:\n  - WebFetch\n---\nBody\n", "unknown tool(s) WebFetch"),
        ("---\nname: a\n---\n\n   \n", "empty body"),
        ("---\n- a\n- b\n---\nBody\n", "mapping"),
        ("---\nname: [x]\n---\nBody\n", "no 'name'"),
        ("---\nname: 'bad name!'\n---\nBody\n", "invalid agent name"),
        ("---\nname: a\nmodel: 3\n---\nBody\n", "'model' must be a string"),
    ],
)
def test_malformed_agent_files(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(AgentFileError) as info:
        load_agent(str(path))
    assert problem in str(info.value)
    assert str(path) in str(info.value)  # the message names the file
    assert info.value.exit_code == 2


def test_missing_agent_name_and_path(tmp_path: Path) -> None:
    with pytest.raises(AgentFileError, match=r"no such agent: 'nope'.*backend-implementer"):
        load_agent("nope")
    with pytest.raises(AgentFileError, match="no such agent file"):
        load_agent(str(tmp_path / "missing.md"))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bin.md"
    path.write_bytes(b"---\nname: a\n---\n\xff\xfe\n")
    with pytest.raises(AgentFileError, match="not UTF-8"):
        load_agent(str(path))


def test_resolve_model() -> None:
    assert resolve_model("opus", None, MODEL_ALIASES) == MODEL_ALIASES["opus"]
    assert resolve_model("inherit", None, MODEL_ALIASES) == DEFAULT_MODEL
    assert resolve_model(None, None, MODEL_ALIASES) == DEFAULT_MODEL
    assert resolve_model("opus", "haiku", MODEL_ALIASES) == MODEL_ALIASES["haiku"]
    assert resolve_model("opus", "scripted:x.yaml", MODEL_ALIASES) == "scripted:x.yaml"
    assert resolve_model("claude-custom-1", None, {"opus": "o"}) == "claude-custom-1"


def test_sandbox_section_and_prompt() -> None:
    section = sandbox_section(["backend/", "issues.md"], None)
    assert "/workspace/backend/" in section and "/workspace/issues.md" in section
    assert "no network" in section.lower()
    assert "cd /workspace && python -m pytest backend" in section
    assert "Denied" in section or "denied" in section
    custom = sandbox_section(["api/"], "make test")
    assert "make test" in custom and "/workspace/api/" in custom
    agent = load_agent("backend-implementer")
    prompt = system_prompt_for(agent, ["backend/"])
    assert prompt.startswith(agent.system_prompt.rstrip())
    assert prompt.endswith(sandbox_section(["backend/"]))
    assert prompt.count("## Sandbox") == 1
