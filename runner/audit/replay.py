"""Re-decide every logged input under other policies (``audit replay``).

A decision *changes* when ``allow`` flips or when the set of (policy, rule) of
its reasons differs; a reworded message alone is not a change. An engine error
while replaying is a deny ("policy evaluation failed"), as in a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from runner.audit.log import LogEntry, read_log
from runner.policy.models import Decision


class Evaluator(Protocol):
    """The part of ``runner.policy.engine.PolicyEngine`` that replay uses."""

    def evaluate(self, input: dict[str, Any], /) -> Decision: ...


class ReplayChange(BaseModel):
    seq: int
    decision_id: str
    tool: str
    summary: str
    old: Decision
    new: Decision

    @property
    def allow_changed(self) -> bool:
        return self.old.allow != self.new.allow

    @property
    def transition(self) -> str:
        def word(d: Decision) -> str:
            return "allow" if d.allow else "deny"

        return f"{word(self.old)} -> {word(self.new)}"


class ReplayResult(BaseModel):
    total: int
    changes: list[ReplayChange]


def _rules(decision: Decision) -> set[tuple[str, str]]:
    return {(r.policy, r.rule) for r in decision.reasons}


def logged_decision(entry: LogEntry) -> Decision:
    """The decision as logged; a result that is not a decision counts as a deny."""
    try:
        return Decision.model_validate(entry.result)
    except ValidationError:
        return Decision.failed("logged result is not a decision")


def redecide(entry: LogEntry, engine: Evaluator) -> Decision:
    try:
        decision = engine.evaluate(entry.input)
    except Exception as exc:  # fail closed, as the gateway does
        return Decision.failed(f"{type(exc).__name__}: {exc}")
    if not isinstance(decision, Decision):
        return Decision.failed(f"engine returned {type(decision).__name__}, not a Decision")
    return decision


def replay(path: Path, engine: Evaluator) -> ReplayResult:
    from runner.audit.show import summarize_call  # the rich tables: not for every importer

    entries = read_log(path)
    changes: list[ReplayChange] = []
    for entry in entries:
        old = logged_decision(entry)
        new = redecide(entry, engine)
        if old.allow == new.allow and _rules(old) == _rules(new):
            continue
        changes.append(
            ReplayChange(
                seq=entry.seq,
                decision_id=entry.decision_id,
                tool=entry.tool_name,
                summary=summarize_call(entry.tool_name, entry.tool_input),
                old=old,
                new=new,
            )
        )
    return ReplayResult(total=len(entries), changes=changes)


def replay_log(path: Path, engine: Evaluator) -> list[ReplayChange]:
    """Every logged decision that ``engine`` decides differently, in log order."""
    return replay(path, engine).changes
