"""Deciding a call ahead (Decider.prepare, DecisionService.prepare): the agent's own request
is then decided from what was kept, and only when every check a repeat makes holds; what a
preparation decided is never logged or answered by itself; the agent's measurements are
logged, never decided on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runner.agent.paths import Workspace
from runner.agent.tools import Toolbox
from runner.audit.log import DecisionLog
from runner.config import PolicyConfig
from runner.decisions import DecisionService
from runner.policy.bundle import load_bundle
from runner.policy.decider import (
    AHEAD_METRIC,
    CACHE_HIT_METRIC,
    DECISION_TIMER,
    Decider,
    workspace_decider,
)
from runner.policy.engine import PolicyEngine, input_json, load_engine
from runner.policy.models import RunInfo, ToolCall
from runner.protocol import BUILTIN_TOOLS, DecideRequest, MeasuredPath

RUN = RunInfo(id="ahead")
REPO = Path(__file__).resolve().parents[2]
BUNDLE = load_bundle([])


@pytest.fixture
def engine(regorus_engine: PolicyEngine) -> PolicyEngine:
    """The session's regorus engine (tests/policy/conftest.py): the bundled policies."""
    assert regorus_engine.bundle_hash == BUNDLE.hash
    return regorus_engine


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "backend").mkdir(parents=True)
    (root / "backend" / "app.py").write_text("x = 1\n")
    (root / "frontend").mkdir()
    (root / ".env").write_text("API_KEY=sk-not-a-real-key-0123456789\n")
    return root


def measure(workspace: Path, call: ToolCall) -> list[MeasuredPath]:
    """The built-in agent's own measurements of ``call`` (Toolbox.measure)."""
    box = Toolbox(Workspace(workspace), enabled=list(BUILTIN_TOOLS), output_limit=1000,
                  bash_timeout=1)
    return box.measure(call.name, call.input)


def deciders(engine: PolicyEngine, ws: Path) -> tuple[Decider, Decider]:
    run = workspace_decider(engine, workspace=ws, run=RUN, bundle=BUNDLE)
    cold = Decider(engine, workspace=ws, run=RUN, masks=run.masks, redactor=run.redactor,
                   cache_size=0)
    return run, cold


CALLS = [
    ToolCall(name="Read", input={"file_path": "backend/app.py"}),
    ToolCall(name="Write", input={"file_path": "backend/new.py", "content": "y = 2\n"}),
    ToolCall(name="Write", input={"file_path": "frontend/x.js", "content": "1\n"}),
    ToolCall(name="Read", input={"file_path": ".env"}),
    ToolCall(name="Bash", input={"command": "grep -rn TODO backend/ && cat .env"}),
    ToolCall(name="Grep", input={"pattern": "x", "path": "backend", "glob": "*.py"}),
]


@pytest.mark.parametrize("call", CALLS, ids=lambda c: f"{c.name}:{json.dumps(c.input)[:30]}")
def test_a_prepared_call_is_decided_from_what_was_kept_as_a_cold_decider_decides(
        engine: PolicyEngine, ws: Path, call: ToolCall) -> None:
    run, cold = deciders(engine, ws)
    assert run.prepare(call)
    assert run.ahead_made == 1 and run.derived is not None
    hits = run.derived.hits
    asked = run.decide_logged(call, measured=measure(ws, call))
    want = cold.decide_logged(call, measured=measure(ws, call))
    assert asked.input == want.input and asked.decision == want.decision
    assert (asked.masked, asked.erased) == (want.masked, want.erased)
    assert asked.cached and asked.ahead and run.derived.hits == hits + 1
    assert asked.metrics == {CACHE_HIT_METRIC: 1, AHEAD_METRIC: 1,
                             DECISION_TIMER: int(asked.ms * 1e6)}
    assert run.ahead_used == 1
    again = run.decide_logged(call, measured=measure(ws, call))
    assert again.cached and not again.ahead  # a repeat of the asked call: not ahead any more


def test_a_symlink_swapped_in_after_preparing_is_decided_afresh(engine: PolicyEngine,
                                                               ws: Path) -> None:
    run, cold = deciders(engine, ws)
    read = ToolCall(name="Read", input={"file_path": "backend/notes.txt"})
    (ws / "backend" / "notes.txt").write_text("notes\n")
    assert run.prepare(read)
    (ws / "backend" / "notes.txt").unlink()
    os.symlink("../.env", ws / "backend" / "notes.txt")  # between the answer and the asking
    asked = run.decide_logged(read, measured=measure(ws, read))
    assert not asked.ahead and not asked.decision.allow
    assert asked.decision == cold.decide_logged(read, measured=measure(ws, read)).decision
    assert asked.input.paths[0].real == ".env"


def test_the_policies_never_see_what_the_agent_measured(engine: PolicyEngine, ws: Path) -> None:
    run, cold = deciders(engine, ws)
    read = ToolCall(name="Read", input={"file_path": "backend/app.py"})
    assert run.prepare(read)
    lying = [MeasuredPath(raw="backend/app.py", real="/workspace/frontend/app.py",
                          symlink=True, exists=True)]
    asked = run.decide_logged(read, measured=lying)
    assert asked.cached and asked.ahead and run.ahead_used == 1
    want = cold.decide_logged(read, measured=lying)
    assert asked.input == want.input and asked.decision == want.decision
    assert asked.decision == cold.decide_logged(read).decision
    # logged beside the host's facts for the auditor; absent from what the engine is given
    assert asked.input.paths[0].measured == {"real": "/workspace/frontend/app.py",
                                             "symlink": True, "exists": True, "agrees": False}
    assert "measured" not in input_json(asked.input)
    assert "measured" in asked.input.model_dump_json()


@pytest.mark.parametrize(("field", "allowed"), [("measured", True), ("raw", False)])
def test_a_policy_reading_measured_sees_nothing(ws: Path, tmp_path: Path, field: str,
                                                allowed: bool) -> None:
    """A bundle whose claude_code policy denies any path fact with ``field``: with the
    agent's measurements sent, ``measured`` is never there; ``raw`` (control) always is."""
    policies = tmp_path / "policies"
    policies.mkdir()
    for f in [*Path("policies").glob("*.rego"), Path("policies/data.json")]:
        (policies / f.name).write_text((REPO / f).read_text())
    (policies / "claude_code.rego").write_text(
        "package sandbox.claude_code\n\nimport rego.v1\n\n"
        f'deny := [{{"policy": "x", "rule": "{field}", "msg": "seen"}} |\n'
        f"\tsome p in input.paths\n\tp.{field}\n]\n")
    eng = load_engine(PolicyConfig(dirs=[policies]), bundle=load_bundle([policies]))
    try:
        decider = Decider(eng, workspace=ws, run=RUN)
        read = ToolCall(name="Read", input={"file_path": "backend/app.py"})
        seen = measure(ws, read)
        decided = decider.decide_logged(read, measured=seen)
        assert seen and decided.decision.allow is allowed, decided.decision
        assert allowed or [r.rule for r in decided.decision.reasons] == [field]
        assert decided.input.paths[0].measured is not None  # logged all the same
    finally:
        eng.close()


def test_outside_the_workspace_too(engine: PolicyEngine, ws: Path) -> None:
    run, cold = deciders(engine, ws)
    read = ToolCall(name="Read", input={"file_path": "/etc/hostname"})
    assert run.prepare(read)
    asked = run.decide_logged(read, measured=measure(ws, read))
    assert asked.ahead and asked.decision == cold.decide_logged(read).decision


def test_a_call_decided_before_is_not_counted_as_decided_ahead(engine: PolicyEngine,
                                                                ws: Path) -> None:
    run, _ = deciders(engine, ws)
    read = CALLS[0]
    assert not run.decide_logged(read).cached
    assert run.prepare(read)  # the model asks for the same Read again
    assert run.ahead_made == 0
    again = run.decide_logged(read)
    assert again.cached and not again.ahead and AHEAD_METRIC not in again.metrics


def test_a_call_that_is_never_kept_is_not_derived_ahead(engine: PolicyEngine, ws: Path) -> None:
    run, _ = deciders(engine, ws)
    assert run.derived is not None
    odd = ToolCall(name="Read", input={"file_path": "backend/app.py"}, called={"name": "X"})
    assert run.prepare(odd) is False  # an extra field: never kept, so not derived now
    assert run.derived.misses == 0


def test_prepare_never_raises_and_needs_the_caches(engine: PolicyEngine, ws: Path) -> None:
    run, cold = deciders(engine, ws)
    assert cold.prepare(CALLS[0]) is False  # no caches: nothing to fill
    assert run.prepare(ToolCall(name="Read", input={"file_path": 7})) is False  # errors
    assert run.prepare(ToolCall(name="Bash", input={"command": "ls"}), cwd="relative") is False


def test_the_service_logs_only_the_asked_call_with_the_ahead_metric(
        engine: PolicyEngine, ws: Path, tmp_path: Path) -> None:
    run, _ = deciders(engine, ws)
    with DecisionLog(tmp_path / "decisions.jsonl", bundle_hash=BUNDLE.hash, labels={}) as log:
        service = DecisionService(run, log=log, requested_by="agent:builtin")
        call = {"file_path": "backend/app.py"}
        assert service.prepare("Read", call, runtime="builtin")
        assert (tmp_path / "decisions.jsonl").read_text() == ""  # nothing logged ahead
        answer = service.decide(DecideRequest(
            tool="Read", input=call, measured=measure(ws, ToolCall(name="Read", input=call))))
    [line] = [json.loads(x) for x in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert answer.allow and line["decision_id"] == answer.decision_id
    assert line["metrics"][AHEAD_METRIC] == 1 and line["metrics"][CACHE_HIT_METRIC] == 1
    assert line["input"]["paths"][0]["measured"]["agrees"] is True


def test_claude_codes_asks_are_prepared_in_the_forms_its_hook_sends(
        engine: PolicyEngine, ws: Path, tmp_path: Path) -> None:
    """The model's Edit (a relative path, no replace_all) is asked by Claude Code's hook twice:
    with the default filled in first, then with the path absolute (docs/runtimes.md). Both
    are decided ahead; a form it was not expected to send is decided when asked."""
    run, _ = deciders(engine, ws)
    model = {"file_path": "backend/app.py", "old_string": "x = 1", "new_string": "x = 2"}
    first = {"replace_all": False, **model}
    second = {**model, "file_path": "/workspace/backend/app.py", "replace_all": False}
    unexpected = {**model, "file_path": "./backend/app.py"}
    with DecisionLog(tmp_path / "decisions.jsonl", bundle_hash=BUNDLE.hash, labels={}) as log:
        service = DecisionService(run, log=log, requested_by="agent:claude-code-hook")
        assert service.prepare("Edit", model, runtime="claude-code")
        assert run.ahead_made == 2
        answers = [service.decide(DecideRequest(tool="Edit", input=i, runtime="claude-code"))
                   for i in (first, second, unexpected)]
        cd = service.prepare("Bash", {"command": "cd /workspace && ls backend"},
                             runtime="claude-code")
        listed = service.decide(DecideRequest(tool="Bash", input={"command": "ls backend"},
                                              runtime="claude-code"))
        multi = {"file_path": "/workspace/backend/app.py",
                 "edits": [{"old_string": "x", "new_string": "y"}]}
        assert service.prepare("MultiEdit", multi, runtime="claude-code") is False  # not kept
        assert not service.prepare("NoSuchTool", {}, runtime="claude-code")
    lines = [json.loads(x) for x in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert all(a.allow for a in answers) and cd and listed.allow
    assert [line["metrics"].get(AHEAD_METRIC) for line in lines] == [1, 1, None, 1]
    assert list(lines[0]["input"]["tool"]["input"]) == list(first)  # as the hook asked
