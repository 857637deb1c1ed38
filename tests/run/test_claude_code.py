"""The claude-code runtime's host side: command line, agent file, stream-json → events."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from runner.agentdef import load_agent_file
from runner.run.claude_code import (
    CLAUDE_BIN,
    DUMMY_KEY,
    StreamJsonEvents,
    agent_file,
    agent_slug,
    claude_env,
    claude_launch,
)

DATA = Path(__file__).parent / "data"


def _events(lines: list[str]) -> tuple[StreamJsonEvents, list[tuple[str, dict[str, object]]]]:
    parser = StreamJsonEvents(agent_name="backend-implementer", model="scripted")
    out = [(e.kind, e.data) for line in lines for e in parser.feed(line)]
    return parser, out


def test_real_stream_json_becomes_the_builtin_runtime_events() -> None:
    lines = (DATA / "claude_code_stream.jsonl").read_text().splitlines()
    parser, events = _events(lines)
    kinds = [k for k, _ in events]
    assert kinds[0] == "agent_started"
    assert kinds[-1] == "agent_finished"
    assert events[-1][1]["reason"] == "end_turn"
    assert parser.outcome.subtype == "success" and not parser.outcome.is_error
    assert parser.outcome.turns == 22
    calls = [d for k, d in events if k == "tool_call"]
    results = [d for k, d in events if k == "tool_result"]
    assert [c["name"] for c in calls][:3] == ["LS", "Read", "Glob"]
    assert len(calls) == len(results) == 21
    by_id = {c["id"]: c["name"] for c in calls}
    assert all(r["name"] == by_id[r["id"]] for r in results)
    assert any(r["is_error"] and not r["denied"] for r in results)  # "No such tool: LS"
    assert sum(1 for k in kinds if k == "turn") >= 13
    assert parser.skipped == 0


def test_a_hook_deny_is_a_denied_tool_result() -> None:
    deny = {"type": "user", "message": {"role": "user", "content": [{
        "type": "tool_result", "is_error": True, "tool_use_id": "toolu_1",
        "content": "<tool_use_error>PreToolUse:Bash hook error: secrets/read: .env is masked"
                   "</tool_use_error>"}]}}
    _, events = _events([json.dumps(deny)])
    assert events == [("tool_result", {"id": "toolu_1", "name": "", "is_error": True,
                                       "chars": len(deny["message"]["content"][0]["content"]),
                                       "denied": True,
                                       "summary": deny["message"]["content"][0]["content"]})]


def test_hostile_lines_are_skipped_and_clipped() -> None:
    huge = "x" * 50_000
    lines = ["not json", "[1, 2]", json.dumps({"type": "assistant", "message": "nope"}),
             json.dumps({"type": "assistant", "message": {"id": "m1", "content": [
                 {"type": "text", "text": huge},
                 {"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": huge}}]}}),
             json.dumps({"type": "result", "subtype": "error_during_execution", "is_error": True,
                         "result": "boom", "num_turns": True})]
    parser, events = _events(lines)
    assert parser.skipped == 3
    text = next(d for k, d in events if k == "text")["text"]
    assert isinstance(text, str) and len(text) < 5000
    call = next(d for k, d in events if k == "tool_call")
    assert len(json.dumps(call)) < 2000
    assert events[-1][0] == "agent_error" and parser.outcome.is_error
    assert parser.outcome.turns == 0  # a bool is not a count


def test_max_turns_is_a_finish_not_an_error() -> None:
    _parser, events = _events([json.dumps({"type": "result", "subtype": "error_max_turns",
                                          "is_error": True, "num_turns": 5})])
    assert events == [("agent_finished", {"reason": "max_turns", "turns": 5})]


def test_agent_file_is_normalised_and_keeps_the_body(tmp_path: Path) -> None:
    src = tmp_path / "odd.md"
    src.write_text("---\nname: Odd Agent: v2\ndescription: has: colons\n  and a continuation\n"
                   "tools: Read, Bash, WebFetch\nmodel: opus\n---\nBe careful.\n")
    load = load_agent_file(str(src))
    text = agent_file(load.definition, tools=["Read", "Bash"], model="claude-opus-5-5")
    front, body = text.split("---\n")[1], text.split("---\n", 2)[2]
    meta = yaml.safe_load(front)
    assert meta["name"] == agent_slug("Odd Agent: v2") == "odd-agent-v2"
    assert meta["tools"] == "Read, Bash" and meta["model"] == "claude-opus-5-5"
    assert "colons" in meta["description"]
    assert body.strip() == "Be careful."


def test_launch_has_no_secret_and_names_the_binary(tmp_path: Path) -> None:
    load = load_agent_file("backend-implementer")
    launch = claude_launch(load.definition, tools=["Read", "Edit", "Agent", "Bash"],
                           model=None, task="do it", max_turns=7, append_prompt="## Sandbox",
                           proxy_env={})
    assert launch.command[0] == CLAUDE_BIN
    tools = launch.command[launch.command.index("--tools") + 1]
    assert tools == "Read,Edit,Agent,Bash"
    disallowed = launch.command[launch.command.index("--disallowedTools") + 1].split(",")
    assert "Write" in disallowed and "WebFetch" in disallowed and "Read" not in disallowed
    assert launch.command[launch.command.index("--max-turns") + 1] == "7"
    assert "--model" not in launch.command
    assert launch.env["ANTHROPIC_API_KEY"] == DUMMY_KEY
    assert launch.env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:4141"
    assert launch.agent_path == "/home/agent/.claude/agents/backend-implementer.md"


def test_a_repeated_init_line_is_one_start() -> None:
    init = json.dumps({"type": "system", "subtype": "init", "model": "scripted",
                       "tools": ["Bash"], "claude_code_version": "2.1.332"})
    _, events = _events([init, init])
    assert [k for k, _ in events] == ["agent_started"]


def test_claude_code_runs_without_background_tasks_or_nonessential_traffic() -> None:
    # a slow command moved to the background comes back as another turn after the answer
    env = claude_env({"HTTPS_PROXY": "http://127.0.0.1:3128"})
    assert env["CLAUDE_CODE_DISABLE_BACKGROUND_TASKS"] == "1"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert env["ANTHROPIC_API_KEY"] == DUMMY_KEY and env["HTTPS_PROXY"] == "http://127.0.0.1:3128"
