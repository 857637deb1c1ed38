"""Agent files, read with Claude Code's semantics: the bundled backend-implementer, each rule
of tools/disallowedTools/model/maxTurns, the lenient reader and every malformed shape."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from runner.agentdef import (
    AgentLoad,
    load_agent,
    load_agent_file,
    resolve_model,
    resolve_tools,
    sandbox_section,
)
from runner.config import DEFAULT_MODEL, MODEL_ALIASES
from runner.errors import AgentFileError
from runner.protocol import BUILTIN_TOOLS
from runner.resources import agents_dir

ALL = list(BUILTIN_TOOLS)


def write(tmp_path: Path, text: str, name: str = "agent.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, frontmatter: str, body: str = "You do things.\n") -> AgentLoad:
    return load_agent_file(str(write(tmp_path, f"---\n{frontmatter}---\n{body}")))


def dropped(load: AgentLoad) -> dict[str, str]:
    return {d.tool: d.reason for d in load.tools_dropped}


# --- the bundled agent -----------------------------------------------------------------------


def test_bundled_backend_implementer_loads_by_name() -> None:
    load = load_agent_file("backend-implementer")
    agent = load.definition
    source = agents_dir() / "backend-implementer.md"
    assert agent.name == "backend-implementer"
    assert agent.model == "opus" and load.model == MODEL_ALIASES["opus"]
    assert agent.color == "red"
    assert agent.tools is None and load.tools == ALL
    # the description has unquoted ': ' inside; it is read leniently, as Claude Code does
    assert "Context: User wants to add a new API endpoint" in agent.description
    assert "\n<example>\n" in agent.description  # its literal \n are newlines
    assert agent.system_prompt.startswith("You are an elite Backend Engineer")
    assert "---" not in agent.system_prompt.splitlines()[0]
    assert agent.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert agent.source == source.resolve()
    assert load.tools_dropped == [] and load.keys_ignored == []
    assert len(load.warnings) == 1 and "not valid YAML (line 3" in load.warnings[0]
    assert load_agent("backend-implementer") == agent


def test_the_seed_is_the_bundled_copy() -> None:
    seed = Path("/work/shared/seeds/backend-implementer.md")
    if not seed.is_file():
        pytest.skip("no seed on this machine")
    assert seed.read_bytes() == (agents_dir() / "backend-implementer.md").read_bytes()


# --- tools: an allowlist ------------------------------------------------------------------------


def test_yaml_list_and_comma_separated_tools(tmp_path: Path) -> None:
    listed = load_text(tmp_path, "name: reviewer\ndescription: reads code\ntools:\n  - Read\n"
                                 "  - Grep\nmodel: sonnet\n", "You review code.\n")
    assert listed.definition.tools == ["Read", "Grep"] and listed.tools == ["Read", "Grep"]
    assert listed.definition.model == "sonnet"
    assert listed.definition.system_prompt == "You review code.\n"
    commas = load_text(tmp_path, "name: a\ndescription: x: y\ntools: Read, Write, Bash\n")
    assert commas.tools == ["Read", "Write", "Bash"]
    spaces = load_text(tmp_path, "name: a\ndescription: x\ntools: Read Grep,Glob\n")
    assert spaces.tools == ["Read", "Grep", "Glob"]  # Claude Code splits on spaces too


def test_absent_tools_grant_every_tool(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\ndescription: d\n")
    assert load.definition.tools is None and load.tools == ALL
    star = load_text(tmp_path, "name: a\ndescription: d\ntools: '*'\n")
    assert star.definition.tools is None and star.tools == ALL


@pytest.mark.parametrize("value", ["[]", "", "''", '""'])
def test_empty_tools_grant_no_tool(tmp_path: Path, value: str) -> None:
    """Claude Code: present but empty is an empty allowlist (omit the key for every tool)."""
    load = load_text(tmp_path, f"name: a\ndescription: d\ntools: {value}\n")
    assert load.definition.tools == [] and load.tools == []
    assert any("no tools" in w for w in load.warnings)


def test_tools_order_and_duplicates(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\ndescription: d\ntools: Bash, Read, Bash, Read\n")
    assert load.tools == ["Bash", "Read"]


# --- disallowedTools ----------------------------------------------------------------------------


def test_disallowed_tools_are_removed_from_every_tool(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\ndescription: d\ndisallowedTools: Write, Edit\n")
    assert load.tools == ["Read", "Glob", "Grep", "LS", "Bash"]
    assert dropped(load) == {"Write": "removed by disallowedTools",
                             "Edit": "removed by disallowedTools"}
    listed = load_text(tmp_path, "name: a\ndescription: d\ndisallowedTools:\n  - Bash\n")
    assert "Bash" not in listed.tools and len(listed.tools) == len(ALL) - 1


def test_disallowed_wins_over_tools(tmp_path: Path) -> None:
    """Claude Code applies the denylist first; a tool in both lists is removed."""
    load = load_text(tmp_path, "name: a\ndescription: d\ntools: Read, Write, Bash\n"
                               "disallowedTools: [Write]\n")
    assert load.tools == ["Read", "Bash"]
    assert dropped(load) == {"Write": "removed by disallowedTools"}


def test_disallowed_with_an_argument_removes_the_whole_tool(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\ndescription: d\ndisallowedTools: Bash(rm:*)\n")
    assert "Bash" not in load.tools
    assert any("removes the whole Bash tool" in w for w in load.warnings)


def test_disallowed_multiedit_removes_edit(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\ndescription: d\ndisallowedTools: MultiEdit\n")
    assert "Edit" not in load.tools


# --- mapping and dropping -------------------------------------------------------------------------


def test_multiedit_is_edit(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\ndescription: d\ntools: Read, MultiEdit, Edit\n")
    assert load.tools == ["Read", "Edit"]
    assert any("MultiEdit is granted as Edit" in w for w in load.warnings)


def test_tool_arguments_name_their_tool_and_are_not_enforced(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\ndescription: d\n"
                               "tools: Read, Bash(git diff:*), Bash(git log:*), Grep(*)\n")
    assert load.tools == ["Read", "Bash", "Grep"]
    assert load.definition.tools == ["Read", "Bash(git diff:*)", "Bash(git log:*)", "Grep(*)"]
    notes = [w for w in load.warnings if "not enforced" in w]
    assert len(notes) == 2 and "git diff:*" in notes[0]


def test_tools_this_runtime_lacks_are_dropped_with_why(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\ndescription: d\ntools: Read, WebFetch, WebSearch, Task, "
                               "TodoWrite, NotebookEdit, mcp__context7__get-library-docs, Agent, "
                               "Frobnicate, read, WebFetch(domain:x.example)\n")
    assert load.tools == ["Read"]
    why = dropped(load)
    assert "network" in why["WebFetch"] and "network" in why["WebSearch"]
    assert "subagents" in why["Task"] and "subagents" in why["Agent"]
    assert "todo" in why["TodoWrite"] and "notebook" in why["NotebookEdit"]
    assert "MCP" in why["mcp__context7__get-library-docs"]
    assert why["Frobnicate"].startswith("unknown tool")
    assert "case-sensitive: Read?" in why["read"]
    assert "network" in why["WebFetch(domain:x.example)"]


def test_resolve_tools_against_another_runtime() -> None:
    res = resolve_tools(["Read", "WebFetch"], None, runtime="claude-code")
    assert res.granted == ["Read", "WebFetch"] and res.dropped == []


# --- model ---------------------------------------------------------------------------------------


def test_model_aliases_are_current_and_overridable(tmp_path: Path) -> None:
    assert MODEL_ALIASES["opus"].startswith("claude-opus-")
    assert MODEL_ALIASES["sonnet"].startswith("claude-sonnet-")
    assert MODEL_ALIASES["haiku"].startswith("claude-haiku-")
    assert "4-1" not in MODEL_ALIASES["opus"]  # not the old opus
    path = write(tmp_path, "---\nname: a\ndescription: d\nmodel: Opus\n---\nBody\n")
    assert load_agent_file(str(path)).model == MODEL_ALIASES["opus"]  # case-insensitive
    assert load_agent_file(str(path), aliases={"opus": "claude-opus-x"}).model == "claude-opus-x"
    assert load_agent_file(str(path), model="haiku").model == MODEL_ALIASES["haiku"]
    assert load_agent_file(str(path), model="scripted").model == "scripted"


def test_model_aliases_in_the_config_override_one_alias(tmp_path: Path) -> None:
    from runner.config import build_run_config

    (tmp_path / "sandbox-runner.toml").write_text(
        'model_aliases = { opus = "claude-opus-mine", inherit = "claude-default-mine" }\n')
    aliases = build_run_config(tmp_path, {}).model_aliases
    assert aliases["opus"] == "claude-opus-mine" and aliases["sonnet"] == MODEL_ALIASES["sonnet"]
    assert resolve_model("opus", None, aliases) == "claude-opus-mine"
    assert resolve_model(None, None, aliases) == "claude-default-mine"


@pytest.mark.parametrize(("written", "resolved"), [
    ("inherit", DEFAULT_MODEL), ("INHERIT", DEFAULT_MODEL), (None, DEFAULT_MODEL),
    ("sonnet", MODEL_ALIASES["sonnet"]), ("haiku", MODEL_ALIASES["haiku"]),
    ("claude-sonnet-4-20250514", "claude-sonnet-4-20250514"),
    ("sonnet[1m]", MODEL_ALIASES["sonnet"]), ("fable", MODEL_ALIASES["fable"]),
])
def test_model_resolution(tmp_path: Path, written: str | None, resolved: str) -> None:
    model = f"model: {written}\n" if written else ""
    assert load_text(tmp_path, f"name: a\ndescription: d\n{model}").model == resolved


def test_resolve_model() -> None:
    assert resolve_model("opus", None, MODEL_ALIASES) == MODEL_ALIASES["opus"]
    assert resolve_model("inherit", None, MODEL_ALIASES) == DEFAULT_MODEL
    assert resolve_model(None, None, MODEL_ALIASES) == DEFAULT_MODEL
    assert resolve_model("inherit", None, {"inherit": "claude-mine"}) == "claude-mine"
    assert resolve_model("opus", "haiku", MODEL_ALIASES) == MODEL_ALIASES["haiku"]
    assert resolve_model("opus", "scripted:x.yaml", MODEL_ALIASES) == "scripted:x.yaml"
    assert resolve_model("claude-custom-1", None, {"opus": "o"}) == "claude-custom-1"


def test_model_not_a_string_is_the_default_with_a_warning(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\ndescription: d\nmodel: 3\n")
    assert load.definition.model is None and load.model == DEFAULT_MODEL
    assert any("'model' 3" in w for w in load.warnings)


# --- maxTurns and ignored keys -------------------------------------------------------------------


def test_max_turns(tmp_path: Path) -> None:
    assert load_text(tmp_path, "name: a\ndescription: d\nmaxTurns: 12\n").definition.max_turns == 12
    assert load_text(tmp_path, "name: a\ndescription: d\nmaxTurns: '7'\n").definition.max_turns == 7
    for bad in ("0", "-3", "many", "true"):
        load = load_text(tmp_path, f"name: a\ndescription: d\nmaxTurns: {bad}\n")
        assert load.definition.max_turns is None
        assert any("maxTurns" in w for w in load.warnings), bad


def test_keys_ignored_are_reported_not_dropped_silently(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\ndescription: d\npermissionMode: plan\nskills:\n  - x\n"
                               "hooks:\n  PreToolUse:\n    - matcher: Bash\nmcpServers:\n  - github\n"
                               "version: 2\n")
    ignored = {k.key: k for k in load.keys_ignored}
    assert list(ignored) == ["permissionMode", "skills", "hooks", "mcpServers", "version"]
    assert "policies" in ignored["permissionMode"].reason
    assert "MCP" in ignored["mcpServers"].reason
    assert ignored["version"].reason == "not an agent file key"
    assert ignored["permissionMode"].line == 4 and ignored["version"].line == 12
    assert load.tools == ALL


def test_allowed_tools_is_not_tools(tmp_path: Path) -> None:
    """Claude Code ignores ``allowedTools`` in an agent file: every tool stays granted."""
    load = load_text(tmp_path, "name: a\ndescription: d\nallowedTools:\n  - Read\n")
    assert load.tools == ALL
    assert [k.key for k in load.keys_ignored] == ["allowedTools"]


# --- names and descriptions ----------------------------------------------------------------------


def test_no_name_is_named_after_the_file(tmp_path: Path) -> None:
    load = load_agent_file(str(write(tmp_path, "---\ndescription: d\n---\nBody\n", "my-agent.md")))
    assert load.definition.name == "my-agent"
    assert any("named 'my-agent' after its file" in w for w in load.warnings)


def test_a_name_that_is_not_an_identifier_is_kept_with_a_warning(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: Code Reviewer\ndescription: d\n")
    assert load.definition.name == "Code Reviewer"
    assert any("not an identifier" in w for w in load.warnings)
    assert load_agent_file(str(write(tmp_path, "---\ndescription: d\n---\nB\n", "my agent+.md"))
                           ).definition.name == "my agent+"


def test_no_description_is_a_warning(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\n")
    assert load.definition.description == ""
    assert any("description" in w for w in load.warnings)


# --- the lenient reader ---------------------------------------------------------------------------


def test_lenient_reader_keeps_every_key(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\ndescription: Use when: things happen\n"
                               "tools: Read, Grep\nmodel: haiku\ncolor: blue\nmaxTurns: 9\n"
                               "disallowedTools: Grep\npermissionMode: plan\nfoo: bar: baz\n")
    agent = load.definition
    assert agent.description == "Use when: things happen"
    assert load.tools == ["Read"] and agent.model == "haiku" and agent.color == "blue"
    assert agent.max_turns == 9
    assert [k.key for k in load.keys_ignored] == ["permissionMode", "foo"]
    assert any("not valid YAML" in w for w in load.warnings)


def test_lenient_reader_json_style_lists(tmp_path: Path) -> None:
    load = load_text(tmp_path, 'name: a\ndescription: Use: it\ntools: ["Read", "Grep"]\n'
                               "disallowedTools: [Grep]\n")
    assert load.definition.tools == ["Read", "Grep"] and load.tools == ["Read"]


def test_lenient_reader_continuation_lines(tmp_path: Path) -> None:
    text = ("name: a\n"
            "description: Use this agent when: you need it. Examples:\n"
            "\n"
            "<example>\n"
            "Context: the user asks\n"
            "user: \"Do it\"\n"
            "assistant: \"I will\"\n"
            "</example>\n"
            "  indented: more text\n"
            "model: opus\n"
            "tools: Read,\n"
            "  Write\n"
            "skills:\n"
            "  - one\n"
            "  - two\n")
    load = load_text(tmp_path, text)
    desc = load.definition.description
    assert desc.startswith("Use this agent when: you need it. Examples:\n\n<example>\n")
    assert 'Context: the user asks\nuser: "Do it"\nassistant: "I will"\n</example>' in desc
    assert desc.endswith("indented: more text")
    assert load.definition.model == "opus" and load.tools == ["Read", "Write"]
    assert [k.key for k in load.keys_ignored] == ["skills"]


def test_lenient_reader_unknown_blocks_do_not_swallow_keys(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\ndescription: x: y\nvariants:\n  - one\n  - two\n"
                               "sandbox: open\nnote-to-self: remember: this\n  and this\n"
                               "tools: Read\n")
    assert [k.key for k in load.keys_ignored] == ["variants", "sandbox", "note-to-self"]
    assert load.tools == ["Read"]


def test_lenient_reader_dialogue_right_after_the_description(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\ndescription: Examples: see\nuser: hi\nassistant: ok\n"
                               "model: haiku\n")
    assert load.definition.description == "Examples: see\nuser: hi\nassistant: ok"
    assert load.keys_ignored == [] and load.definition.model == "haiku"


def test_lenient_reader_block_scalars_and_comments(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\n# a comment\ndescription: |\n  Line one: x\n  Line two\n"
                               "model: sonnet # the fast one\ntools: Read: Grep\n")
    assert load.definition.description == "Line one: x\nLine two"
    assert load.definition.model == "sonnet"


def test_crlf_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(b"\xef\xbb\xbf---\r\nname: a\r\ndescription: x: y\r\ntools: Read\r\n---\r\nBody\r\n")
    load = load_agent_file(str(path))
    assert load.definition.name == "a" and load.tools == ["Read"]


# --- malformed files: file:line: problem ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("Just a body, no frontmatter.\n", 1, "no YAML frontmatter"),
        ("---\nname: a\nBody without end\n", 1, "unterminated frontmatter"),
        ("---\nname: a\ntools: [Read, Write\n---\nBody\n", 3, "unterminated list"),
        ("---\nname: a\ndescription: x\n  bad: indentation: here\n---\nBody\n", None, None),
        ("---\nname: a\n  bad: indentation: here\n---\nBody\n", 3, "'name' takes one value"),
        ("---\ndescription: a: b\n  more\nmodel: opus\nstray line\n---\nBody\n", 5,
         "'model' takes one value"),
        ("---\n- a\n- b\n---\nBody\n", 2, "mapping"),
        ("---\nname: [x]\n---\nBody\n", 2, "'name' must be a string"),
        ("---\nname: \"bad\\tname\"\n---\nBody\n", 2, "invalid agent name"),
        ("---\nname: \"" + "x" * 129 + "\"\n---\nBody\n", 2, "invalid agent name"),
        ("---\nname: a\ntools: {Read: 1}\n---\nBody\n", 3, "'tools' must be"),
        ("---\nname: a\n---\n\n   \n", 4, "empty body"),
        ("---\n{broken\n---\nBody\n", 2, "expected 'key: value'"),
    ],
)
def test_malformed_agent_files(tmp_path: Path, text: str, line: int | None,
                               problem: str | None) -> None:
    path = write(tmp_path, text)
    if problem is None:  # lenient enough to load
        assert load_agent_file(str(path)).definition.system_prompt == "Body\n"
        return
    with pytest.raises(AgentFileError) as info:
        load_agent_file(str(path))
    assert problem in str(info.value)
    assert str(info.value).startswith(f"{path}:{line}: ")  # file:line: problem
    assert info.value.line == line and info.value.file == str(path)
    assert info.value.exit_code == 2


def test_yaml_error_line_numbers_are_the_files(tmp_path: Path) -> None:
    """The frontmatter's first line is the file's line 2 (line 1 is '---')."""
    path = write(tmp_path, "---\nname: a\ndescription: x: y\n---\nBody\n")
    load = load_agent_file(str(path))
    assert any("line 3:" in w for w in load.warnings), load.warnings
    bad = write(tmp_path, "---\nname: a\ndescription: d\nmodel: m\n\ncolor: [red\n---\nB\n", "b.md")
    with pytest.raises(AgentFileError) as info:
        load_agent_file(str(bad))
    assert info.value.line == 6


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


# --- the prompt -----------------------------------------------------------------------------------


def test_sandbox_section_and_prompt() -> None:
    section = sandbox_section(["backend/", "issues.md"], None)
    assert "/workspace/backend/" in section and "/workspace/issues.md" in section
    assert "no network" in section.lower()
    assert "cd /workspace && python -m pytest backend" in section
    assert "Denied" in section or "denied" in section
    custom = sandbox_section(["api/"], "make test")
    assert "make test" in custom and "/workspace/api/" in custom


def test_summary_and_report(tmp_path: Path) -> None:
    load = load_text(tmp_path, "name: a\ndescription: d\ntools: Read, WebFetch\nmaxTurns: 3\n"
                               "hooks: {}\n")
    summary = load.summary()
    assert summary["loadable"] and summary["name"] == "a" and summary["tools"] == ["Read"]
    assert summary["tools_dropped"][0]["tool"] == "WebFetch"
    assert summary["keys_ignored"][0]["key"] == "hooks" and summary["max_turns"] == 3
    text = "\n".join(load.report_lines())
    assert "tools granted: Read" in text and "WebFetch: not available" in text
    assert "hooks: hooks do not run" in text and f"model: {DEFAULT_MODEL} (default)" in text
