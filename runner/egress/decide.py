"""The decision service's answer to the egress proxy, for a phase outside a run.

A run decides connections in ``Run.decide_connect`` (runner/run/execute.py), through the
same log writer and lock as its tool calls. :class:`ConnectService` is the same for a phase
that has no run around it (an environment build): a :class:`~runner.policy.decider.Decider`
decides, every decision is one line of a :class:`~runner.audit.log.DecisionLog`, and a
decision that cannot be logged is a deny.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from runner.audit.log import DecisionLog
from runner.errors import AuditLogFull
from runner.policy.decider import Decider
from runner.policy.models import ConnectInput, ConnectTarget, Decision
from runner.protocol import DecideReason, DecideResponse

OnConnect = Callable[[ConnectInput, Decision], None]


def decide_response(decision: Decision, decision_id: str) -> DecideResponse:
    return DecideResponse(allow=decision.allow, decision_id=decision_id, reasons=[
        DecideReason(policy=r.policy, rule=r.rule, msg=r.msg) for r in decision.reasons])


def unlogged(exc: AuditLogFull) -> DecideResponse:
    """Nothing may happen unlogged: the deny for a decision the full log could not take."""
    return DecideResponse(allow=False, decision_id="unlogged", reasons=[DecideReason(
        policy="audit", rule="log_full", msg=str(exc))])


class ConnectService:
    """``decide_connect`` for an :class:`~runner.egress.proxy.EgressProxy`: decide, log, tell."""

    def __init__(self, decider: Decider, log: DecisionLog, *, lock: threading.Lock | None = None,
                 on_decision: OnConnect | None = None) -> None:
        self.decider = decider
        self.log = log
        self._lock = lock or threading.Lock()
        self._on_decision = on_decision

    def __call__(self, target: ConnectTarget) -> DecideResponse:
        decided = self.decider.decide_connect_logged(target)
        logged, decision = decided.input, decided.decision
        try:
            with self._lock:
                entry = self.log.append(logged.model_dump(mode="json", exclude_none=True),
                                        decision.model_dump(mode="json"),
                                        eval_ns=decided.eval_ns, masked=decided.masked,
                                        erased=decided.erased, metrics=decided.metrics)
        except AuditLogFull as exc:
            return unlogged(exc)
        if self._on_decision is not None:
            self._on_decision(logged, decision)
        return decide_response(decision, entry.decision_id)
