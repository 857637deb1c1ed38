"""`sandbox-runner agent check`: the report, --json, and one line for a file that is not an agent."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from runner.cli import main
from runner.config import MODEL_ALIASES

# Frontmatter shaped like common public agent files (a long tools line with web, task and MCP
# tools; allowedTools, permissionMode, memory, skills and hooks keys).
MANY_TOOLS = """---
name: ai-engineer
description: Builds LLM features. Use PROACTIVELY for RAG systems and prompt pipelines.
tools: Read, Write, Edit, MultiEdit, Grep, Glob, Bash, LS, WebSearch, WebFetch, Task, mcp__context7__resolve-library-id, mcp__context7__get-library-docs
model: sonnet
---

# AI Engineer
"""
IGNORED_KEYS = """---
name: weather-agent
description: Use this agent when you need weather data.
allowedTools:
  - "Read"
  - "Skill"
model: sonnet
color: green
maxTurns: 5
permissionMode: acceptEdits
memory: project
skills:
  - weather-fetcher
hooks:
  PreToolUse:
    - matcher: "*"
---

Fetch the weather.
"""


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["agent", "check", *[str(a) for a in args]])


def test_check_reports_what_the_runtime_makes_of_a_file(tmp_path: Path) -> None:
    (tmp_path / "ai-engineer.md").write_text(MANY_TOOLS)
    result = run(tmp_path / "ai-engineer.md")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "name: ai-engineer" in out
    assert f"model: {MODEL_ALIASES['sonnet']} (from 'sonnet')" in out
    assert "tools granted: Read, Write, Edit, Grep, Glob, Bash, LS" in out
    assert "WebFetch: not available: no network in the sandbox" in out
    assert "mcp__context7__get-library-docs: an MCP tool" in out
    assert "MultiEdit is granted as Edit" in out


def test_check_json(tmp_path: Path) -> None:
    (tmp_path / "weather-agent.md").write_text(IGNORED_KEYS)
    result = run(tmp_path / "weather-agent.md", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["loadable"] is True and data["name"] == "weather-agent"
    assert data["max_turns"] == 5 and data["model"] == MODEL_ALIASES["sonnet"]
    assert [k["key"] for k in data["keys_ignored"]] == [
        "allowedTools", "permissionMode", "memory", "skills", "hooks"]


def test_check_a_bundled_agent_by_name() -> None:
    result = run("backend-implementer")
    assert result.exit_code == 0 and "name: backend-implementer" in result.stdout


def test_a_file_that_is_not_an_agent_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("---\nname: a\ndescription: d\ntools: [Read, Write\n---\nBody\n")
    result = run(bad)
    assert result.exit_code == 2
    assert result.stdout == ""
    problem = "bad YAML frontmatter: 'tools' has an unterminated list"
    assert result.stderr.splitlines() == [f"sandbox-runner: error: {bad}:4: {problem}"]
    for flag in (["--json"], ["--format", "json"], ["-f", "json"]):
        as_json = run(bad, *flag)
        assert as_json.exit_code == 2 and as_json.stderr == ""
        assert json.loads(as_json.stdout) == {
            "loadable": False, "file": str(bad), "line": 4, "problem": problem,
            "error": {"code": 2, "message": f"{bad}:4: {problem}", "file": str(bad), "line": 4}}
    missing = run(tmp_path / "nope.md")
    assert missing.exit_code == 2 and "no such agent file" in missing.stderr


def test_policy_eval_as_an_agent_denies_the_tools_it_is_not_granted(tmp_path: Path) -> None:
    agent = tmp_path / "reader.md"
    agent.write_text("---\nname: reader\ndescription: d\ndisallowedTools: Write, Edit\n---\nRead.\n")
    calls = "\n".join(json.dumps(c) for c in [
        {"tool": "Write", "input": {"file_path": "backend/app.py", "content": "x"}},
        {"tool": "Read", "input": {"file_path": "backend/app.py"}},
    ])
    result = CliRunner().invoke(main, ["policy", "eval", "--input", "-", "--agent", str(agent)],
                                input=calls)
    assert result.exit_code == 0, result.output
    write, read = (json.loads(line) for line in result.stdout.splitlines())
    assert not write["allow"] and write["reasons"][0]["rule"] == "tool_not_granted"
    assert "Read, Glob, Grep, LS, Bash" in write["reasons"][0]["msg"]
    assert read["allow"]
    plain = CliRunner().invoke(main, ["policy", "eval", "--input", "-"], input=calls)
    assert [json.loads(line)["allow"] for line in plain.stdout.splitlines()] == [True, True]
