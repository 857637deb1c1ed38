"""Decide a raw tool call: derive the policy input, then evaluate it.

:class:`Decider` is what the gateway and ``policy eval`` call. It never raises
for a tool call: a failure while deriving or evaluating is a deny
(``Decision.failed``), and the input it returns records what was derived.

``parse_tool_calls`` reads the ``policy eval`` input format: one JSON tool call
``{"tool": "Bash", "input": {...}}``, or JSON lines with one call each.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runner.errors import InputError
from runner.policy.engine import PolicyEngine
from runner.policy.models import Decision, PolicyInput, RunInfo, ToolCall
from runner.protocol import MeasuredPath


class Decider:
    def __init__(self, engine: PolicyEngine, *, workspace: Path | None, run: RunInfo) -> None:
        self.engine = engine
        self.workspace = workspace
        self.run = run

    @property
    def bundle_hash(self) -> str:
        return self.engine.bundle_hash

    def derive(
        self, call: ToolCall, *, cwd: str = "/workspace", measured: Sequence[MeasuredPath] = ()
    ) -> PolicyInput:
        """The policy input for ``call``; a derivation failure is recorded in ``errors``."""
        try:
            from runner.policy.derive import derive_input

            return derive_input(
                call, workspace=self.workspace, run=self.run, cwd=cwd, measured=measured
            )
        except Exception as exc:  # fail closed: derive_input should not raise, but
            return PolicyInput(
                tool=call,
                run=self.run,
                errors=[f"derivation failed: {type(exc).__name__}: {exc}"],
            )

    def decide(
        self, call: ToolCall, *, cwd: str = "/workspace", measured: Sequence[MeasuredPath] = ()
    ) -> tuple[PolicyInput, Decision, float]:
        """(policy input, decision, milliseconds spent deriving and evaluating)."""
        start = time.perf_counter()
        policy_input = self.derive(call, cwd=cwd, measured=measured)
        try:
            decision = self.engine.evaluate(policy_input)
        except Exception as exc:  # engines never raise; if one does, deny
            decision = Decision.failed(f"{type(exc).__name__}: {exc}")
        if policy_input.errors and decision.allow:  # belt and braces: malformed is a deny
            decision = Decision.failed("malformed input: " + "; ".join(policy_input.errors))
        return policy_input, decision, (time.perf_counter() - start) * 1000


def tool_call_from_json(value: Any) -> ToolCall:
    """``{"tool": NAME, "input": {...}}`` (or the Messages API's ``name``) as a ToolCall.

    Anything that is an object is a tool call; a missing or odd name or input is left
    for the policies to deny (an unknown tool is a deny, not bad input).
    """
    name = value.get("tool", value.get("name", ""))
    raw_input = value.get("input", {})
    return ToolCall(
        name=name if isinstance(name, str) else json.dumps(name),
        input=raw_input if isinstance(raw_input, dict) else {},
    )


def parse_tool_calls(text: str, *, source: str = "<input>") -> list[ToolCall]:
    """One JSON tool call or JSON lines; invalid JSON is an InputError with the line."""
    stripped = text.strip()
    if not stripped:
        raise InputError("no tool call given", path=source)
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        whole = None
    else:
        if not isinstance(whole, dict):
            raise InputError('expected a JSON object {"tool": ..., "input": {...}}', path=source)
        return [tool_call_from_json(whole)]
    calls: list[ToolCall] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"line {lineno}: invalid JSON: {exc.msg} (column {exc.colno})", path=source
            ) from None
        if not isinstance(value, dict):
            raise InputError(f"line {lineno}: expected a JSON object", path=source)
        calls.append(tool_call_from_json(value))
    return calls


def read_tool_calls(source: str) -> list[ToolCall]:
    """The tool calls of a file, or of stdin for ``-`` (see ``parse_tool_calls``)."""
    if source == "-":
        text = sys.stdin.read()
        name = "<stdin>"
    else:
        name = source
        try:
            text = Path(source).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError("not valid UTF-8", path=source) from None
        except OSError as exc:
            raise InputError(exc.strerror or str(exc), path=source) from None
    return parse_tool_calls(text, source=name)


def check_workspace(workspace: Path | None) -> Path | None:
    """The workspace directory, resolved; a missing one is bad input."""
    if workspace is None:
        return None
    if not workspace.is_dir():
        raise InputError("workspace is not a directory", path=workspace)
    return workspace.resolve()
