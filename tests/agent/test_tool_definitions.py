"""The tool definitions the model is told (the ``tools`` of every Messages API request) are
the committed golden file ``data/tool_definitions.json``: a change to a tool's input model
shows here as a diff to review. After an intended change, regenerate it with
``python -c 'import json; from runner.protocol import BUILTIN_TOOLS, tool_definitions;
print(json.dumps(tool_definitions(list(BUILTIN_TOOLS)), indent=2))'``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner.protocol import BUILTIN_TOOLS, tool_definitions

GOLDEN = Path(__file__).parent / "data" / "tool_definitions.json"


def golden() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(GOLDEN.read_text())
    return loaded


def test_the_generated_definitions_are_the_golden_file() -> None:
    assert tool_definitions(list(BUILTIN_TOOLS)) == golden()
    assert [d["name"] for d in golden()] == list(BUILTIN_TOOLS)


def test_the_model_is_told_the_golden_definitions(run_agent: Any) -> None:
    """What the real agent process sends through the real gateway, as the transcript has it."""
    run = run_agent([{"tool_calls": [{"name": "LS", "input": {"path": "."}}]}, {"text": "done"}])
    assert run.proc.returncode == 0, run.proc.stderr
    lines = [json.loads(line) for line in (run.run_dir / "transcript.jsonl").read_text().splitlines()]
    assert len(lines) == 2
    assert all(line["request"]["tools"] == golden() for line in lines)


def test_an_agent_is_told_only_its_tools_in_its_order(run_agent: Any) -> None:
    run = run_agent([{"text": "done"}], tools=["Bash", "Read", "Teleport"])
    assert run.proc.returncode == 0, run.proc.stderr
    [line] = [json.loads(line) for line in (run.run_dir / "transcript.jsonl").read_text().splitlines()]
    by_name = {d["name"]: d for d in golden()}
    assert line["request"]["tools"] == [by_name["Bash"], by_name["Read"]]
