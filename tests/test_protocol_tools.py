"""The tool input models (runner/protocol.py "Tool inputs") are the one source of the tool
definitions, the agent's and the host's checks of a call and the tool names: what each
derives from them agrees."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from pydantic import Field, ValidationError

from runner.agent.paths import Workspace
from runner.agent.tools import PATH_ARGS, Toolbox
from runner.policy import derive
from runner.policy.models import TOOL_INPUTS, TOOL_NAMES, ToolCall
from runner.protocol import (
    BUILTIN_TOOL_INPUTS,
    BUILTIN_TOOLS,
    PATH_DESCRIPTION,
    ToolInput,
    tool_definition,
    tool_definitions,
    tool_fields,
)
from runner.runtime_tools import CLAUDE_CODE_TOOLS, POLICY_NAMES, RUNTIME_TOOLS, TOOL_ALIASES

# one value of each JSON type, as json.loads gives it
VALUES: dict[str, Any] = {"string": "x", "integer": 3, "number": 2.5, "boolean": True,
                          "array": ["a"], "null": None}


def _inputs(model: type[ToolInput]) -> list[dict[str, Any]]:
    """Every field with a value of each JSON type (the others at a valid value), and every
    field left out."""
    fields = tool_fields(model)
    valid = {f.name: VALUES[f.json_type] for f in fields}
    out = [valid]
    for f in fields:
        out += [{**valid, f.name: v} for v in VALUES.values()]
        out.append({k: v for k, v in valid.items() if k != f.name})
    return out


@pytest.mark.parametrize("name", BUILTIN_TOOLS)
def test_the_agent_and_the_host_accept_the_same_inputs(name: str) -> None:
    model = BUILTIN_TOOL_INPUTS[name]
    for tool_input in _inputs(model):
        try:
            model.model_validate(tool_input)
            agent_accepts = True
        except ValidationError:
            agent_accepts = False
        host_errors = derive.validate(ToolCall(name=name, input=tool_input))
        assert agent_accepts == (not host_errors), (tool_input, host_errors)


def test_bounds_are_the_agents_and_are_told_to_the_model() -> None:
    definitions = {d["name"]: d for d in tool_definitions(list(BUILTIN_TOOLS))}
    assert definitions["Read"]["input_schema"]["properties"]["offset"] == {
        "type": "integer", "minimum": 0}
    assert definitions["Bash"]["input_schema"]["properties"]["timeout"] == {
        "type": "number", "exclusiveMinimum": 0}
    for bad in ({"file_path": "a", "offset": -1}, {"file_path": "a", "limit": 0}):
        with pytest.raises(ValidationError):
            BUILTIN_TOOL_INPUTS["Read"].model_validate(bad)
    with pytest.raises(ValidationError):
        BUILTIN_TOOL_INPUTS["Bash"].model_validate({"command": "ls", "timeout": 0})


def test_path_arguments_are_measured_described_and_never_empty() -> None:
    assert PATH_ARGS == {"Read": ("file_path",), "Write": ("file_path",),
                         "Edit": ("file_path",), "Glob": ("path",), "Grep": ("path",),
                         "LS": ("path",), "Bash": ()}
    for name, args in PATH_ARGS.items():
        props = tool_definition(BUILTIN_TOOL_INPUTS[name])["input_schema"]["properties"]
        described = {k for k, v in props.items() if v.get("description") == PATH_DESCRIPTION}
        assert described == set(args)
        for arg in args:
            required = {f.name: f.required for f in tool_fields(BUILTIN_TOOL_INPUTS[name])}
            call = {f.name: VALUES[f.json_type] for f in tool_fields(BUILTIN_TOOL_INPUTS[name])
                    if f.required}
            errors = derive.validate(ToolCall(name=name, input={**call, arg: ""}))
            assert errors == [f"{name}: field {arg!r} is empty"], (name, required)


def test_a_constraint_the_model_cannot_be_told_is_refused() -> None:
    class Capped(ToolInput):
        TOOL = "Capped"
        ABOUT = "a tool whose argument has a length the schema generator does not render"
        text: str = Field(max_length=3)

    with pytest.raises(TypeError, match="no JSON schema"):
        tool_fields(Capped)

    class Mixed(ToolInput):
        TOOL = "Mixed"
        ABOUT = "a tool whose argument is one of two JSON types"
        value: int | str

    with pytest.raises(TypeError, match="not one JSON type"):
        tool_fields(Mixed)

    class NoNull(ToolInput):
        TOOL = "NoNull"
        ABOUT = "a tool with an optional argument a null would fail on the agent only"
        flag: bool = False

    with pytest.raises(TypeError, match="optional but does not take null"):
        tool_fields(NoNull)


def test_tools_the_model_is_never_told_about_have_no_definition() -> None:
    with pytest.raises(ValueError, match="not a tool the model is told about"):
        tool_definition(TOOL_INPUTS["WebFetch"])


def test_the_tool_names_come_from_the_models() -> None:
    assert TOOL_NAMES[: len(BUILTIN_TOOLS)] == BUILTIN_TOOLS == tuple(BUILTIN_TOOL_INPUTS)
    assert list(TOOL_NAMES) == list(TOOL_INPUTS) == list(derive.FIELDS)
    assert RUNTIME_TOOLS["builtin"] == BUILTIN_TOOLS
    assert set(BUILTIN_TOOLS) <= set(CLAUDE_CODE_TOOLS)
    # every name a Claude Code tool is decided as, or granted as, is a tool the policies know
    targets = set(POLICY_NAMES.values()) | set(itertools.chain.from_iterable(
        aliases.values() for aliases in TOOL_ALIASES.values()))
    assert targets <= set(TOOL_NAMES)


def test_the_toolbox_runs_every_builtin_tool(tmp_path: Any) -> None:
    box = Toolbox(Workspace(tmp_path), enabled=list(BUILTIN_TOOLS), output_limit=1000,
                  bash_timeout=10)
    assert box.enabled == list(BUILTIN_TOOLS)
    assert set(box._impl) == set(BUILTIN_TOOLS)
