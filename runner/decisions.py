"""The decision service: every tool call and connection decided, logged and answered in one place.

:class:`DecisionService` owns the three parts of one decision: the
:class:`~runner.policy.decider.Decider` (map a runtime's call, derive the policy input,
evaluate it, redact), the :class:`~runner.audit.log.DecisionLog` (one hash-chained line) and
the answer (:class:`~runner.protocol.DecideResponse`: to the agent through the gateway's
``/v1/decide``, to the egress proxy for a connection). A run has one (the setup phase's and
the agent phase's deciders and logs are handed to it in turn); ``env build`` has its own for
the setup phase's connections.

- **One path.** :meth:`DecisionService.decide` (input kind ``tool``) and
  :meth:`DecisionService.decide_connect` (kind ``connect``) differ only in how they decide
  and what they show; the rest is :meth:`DecisionService._settle`.
- **Fail closed, once.** An exception anywhere while mapping, deriving, evaluating or
  redacting is a deny (:func:`failure`), logged with what was asked (redacted) and the error.
  A line the log refuses is replaced by a brief one (what was asked without its input). When
  the log itself fails (full: ``gateway.max_log_mb``; closed; unwritable) the call is denied
  unlogged (``decision_id`` ``"unlogged"``) and ``on_log_failure`` ends the run: nothing may
  run unlogged. The service never raises (``KeyboardInterrupt``/``SystemExit`` aside).
- **One reason shape.** Every answer is made from a :class:`~runner.policy.models.Decision`
  by :func:`answer`; every failure becomes one by :func:`failure`: ``audit/log_full`` for a
  full log, ``sandbox/not_checked`` for a call the gate refused, else
  ``engine/evaluation_failed`` ``"policy evaluation failed: <Type>: <msg>"`` (redacted like
  any decision).
- **One lock.** A decision is made, logged and answered under the service's lock, so the log's
  order is the order of the decisions, and swapping a phase's decider or log
  (:attr:`DecisionService.decider`, :attr:`DecisionService.log`) never splits one. The
  engine's and the log writer's own locks stay (each is safe on its own for its other users)
  but are never contended under it. The display is told after the lock is released.
- **No tool call before the sandbox is checked.** While the service's gate is held
  (:class:`Gate`: the agent phase, from before its gateway listens until the sandbox
  self-check passed) a tool call waits, outside the lock, until the gate is released
  (decided as any) or refused (the check failed, the phase ended, or it waited
  ``HOLD_SECONDS``): then it is denied (``sandbox/not_checked``) and logged like any
  failure. The agent's first model request may travel while the check runs; no tool call is
  decided, logged or answered before it passed (:meth:`prepare` may derive and evaluate a
  call of the first answer ahead: nothing is logged or answered, and the call still waits
  here when asked). Connections are not held: they are decided by the allowlist
  whenever they come (the self-check itself asks the proxy for one it must refuse), and
  nothing the model asks for can open one before a tool call was allowed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from runner.audit.log import DecisionLog
from runner.errors import AuditLogFull, RunFailed
from runner.policy.claude_code import RUNTIME as CLAUDE_CODE
from runner.policy.claude_code import Mapped, asked_forms, map_call
from runner.policy.decider import Decided, Decider
from runner.policy.models import ConnectTarget, Decision, ToolCall
from runner.protocol import DecideReason, DecideRequest, DecideResponse, Runtime

UNLOGGED = "unlogged"  # the decision_id of a deny the log could not take
HOLD_SECONDS = 300.0  # the longest a call waits for the sandbox self-check


class SandboxNotChecked(RuntimeError):
    """A call asked while the sandbox self-check had not passed (it failed, or never ended)."""


class Gate:
    """Open (decide), held (wait) or refused (deny): :class:`DecisionService`'s tool calls
    wait on it while the sandbox self-check runs. Thread-safe; starts open."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held = False
        self._refused: str | None = None
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """How many calls wait on it now."""
        with self._cond:
            return self._waiting

    def hold(self) -> None:
        with self._cond:
            self._held, self._refused = True, None

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()

    def refuse(self, why: str) -> None:
        """Deny every waiting and later call (until :meth:`hold` or :meth:`release`)."""
        with self._cond:
            self._held, self._refused = False, why
            self._cond.notify_all()

    def end(self, why: str) -> None:
        """:meth:`refuse` when still held (the phase ends before its check passed)."""
        with self._cond:  # (reentrant: the check and the refusal are one step)
            if self._held:
                self.refuse(why)

    def wait(self, timeout: float = HOLD_SECONDS) -> None:
        """Return once open; :class:`SandboxNotChecked` when refused or still held after
        ``timeout`` seconds."""
        with self._cond:
            self._waiting += 1
            try:
                if not self._cond.wait_for(lambda: not self._held, timeout):
                    raise SandboxNotChecked(
                        f"the sandbox self-check did not end within {timeout:g} s")
            finally:
                self._waiting -= 1
            if self._refused is not None:
                raise SandboxNotChecked(self._refused)


class DecisionDisplay(Protocol):
    """What the service tells about each decision (``runner.run.display.RunDisplay``)."""

    def decision(self, tool: str, data: dict[str, Any], allow: bool,
                 reasons: list[str]) -> None: ...

    def connection(self, target: dict[str, Any], allow: bool, reasons: list[str]) -> None: ...


def failure(exc: BaseException) -> Decision:
    """The deny of a call that could not be decided or logged (the one failure reason)."""
    if isinstance(exc, AuditLogFull):
        return Decision.deny("audit", "log_full", str(exc))
    if isinstance(exc, SandboxNotChecked):
        return Decision.deny("sandbox", "not_checked", f"the sandbox is not checked: {exc}")
    return Decision.failed(f"{type(exc).__name__}: {exc}")


def answer(decision: Decision, decision_id: str) -> DecideResponse:
    """The answer to the agent or the proxy: the decision as logged, and its id."""
    return DecideResponse(allow=decision.allow, decision_id=decision_id, reasons=[
        DecideReason(policy=r.policy, rule=r.rule, msg=r.msg) for r in decision.reasons])


def failure_answer(exc: BaseException, decision_id: str,
                   redact: Callable[[str], str]) -> DecideResponse:
    """The transports' own guard (the gateway's ``/v1/decide``, the egress proxy) for a
    decide callback that raised or answered nonsense: :func:`failure`'s deny, redacted."""
    decision = failure(exc)
    for reason in decision.reasons:
        reason.msg = redact(reason.msg)
    return answer(decision, decision_id)


@dataclass
class _Line:
    """One decision as it goes to the log (input and decision already redacted)."""

    input: dict[str, Any]
    decision: Decision
    eval_ns: int = 0
    masked: list[str] = field(default_factory=list)
    erased: list[str] = field(default_factory=list)
    metrics: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, decided: Decided[Any]) -> _Line:
        return cls(decided.input.model_dump(mode="json", exclude_none=True), decided.decision,
                   decided.eval_ns, list(decided.masked), list(decided.erased), decided.metrics)


@dataclass
class _Call:
    """What differs between a tool call and a connection."""

    decide: Callable[[Decider], Decided[Any]]
    asked: Callable[[], dict[str, Any]]  # the logged input when deciding failed (unredacted)
    brief: Callable[[], dict[str, Any]]  # ... when even that line was refused
    show: Callable[[DecisionDisplay, dict[str, Any], bool, list[str]], None]
    tool_use_id: str | None = None
    requested_by: str | None = None
    gated: bool = False  # waits on the service's gate (tool calls)


class DecisionService:
    """Decide, log and answer every tool call and connection (thread-safe; never raises).

    ``requested_by``: the ``requested_by`` of tool calls (``agent:builtin``...; None: the
    log's own); a connection's is the log's own, else ``egress-proxy``. ``on_log_failure``:
    called (with a RunFailed) when a decision could not be logged: the run must end.
    """

    def __init__(self, decider: Decider, *, log: DecisionLog | None = None,
                 requested_by: str | None = None, display: DecisionDisplay | None = None,
                 on_log_failure: Callable[[RunFailed], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._decider = decider
        self._log = log
        self.requested_by = requested_by
        self.display = display
        self.on_log_failure = on_log_failure
        self.gate = Gate()  # tool calls: held by the agent phase until the self-check passed

    @property
    def decider(self) -> Decider:
        with self._lock:
            return self._decider

    @decider.setter
    def decider(self, decider: Decider) -> None:
        """A phase's decider (its masks and redactor), between two decisions."""
        with self._lock:
            self._decider = decider

    @property
    def log(self) -> DecisionLog | None:
        with self._lock:
            return self._log

    @log.setter
    def log(self, log: DecisionLog | None) -> None:
        """A phase's log (None between phases: a decision then is denied unlogged)."""
        with self._lock:
            self._log = log

    # --- the two input kinds ---------------------------------------------------------

    def decide(self, req: DecideRequest) -> DecideResponse:
        """One tool call (the gateway's ``/v1/decide``): a Claude Code hook's call is mapped
        onto the policy tools first (runner/policy/claude_code.py)."""
        asked: dict[str, Any] = {"name": req.tool, "input": req.input}

        def decide(decider: Decider) -> Decided[Any]:
            nonlocal asked
            mapped = Mapped(ToolCall(name=req.tool, input=req.input))
            if req.runtime == CLAUDE_CODE:
                mapped = map_call(mapped.call)
            asked = mapped.call.model_dump(mode="json")
            return decider.decide_logged(mapped.call, cwd=req.cwd, measured=req.measured,
                                         errors=mapped.errors)

        return self._settle(_Call(
            decide=decide, asked=lambda: {"tool": asked},
            brief=lambda: {"tool": {"name": req.tool}}, show=_show_tool,
            tool_use_id=req.tool_use_id, requested_by=self.requested_by, gated=True))

    def prepare(self, tool: str, tool_input: dict[str, Any], *, runtime: Runtime) -> bool:
        """Decide a tool call the model's answer names before the agent asks for it
        (:meth:`Decider.prepare`: nothing logged or answered; the agent's own request is then
        decided, logged and answered as any, from what this kept). ``runtime``: who will ask
        (Claude Code's hook: the forms it is expected to send, ``asked_forms``, each mapped
        onto the policy tools). Never raises."""
        try:
            decider = self.decider
            call = ToolCall(name=tool, input=tool_input)
            if runtime != CLAUDE_CODE:
                return decider.prepare(call)
            made = False
            for form in asked_forms(call):  # what its hook will send
                mapped = map_call(form)
                if not mapped.errors:  # else denied as malformed when asked: nothing to keep
                    made = decider.prepare(mapped.call) or made
            return made
        except Exception:
            return False

    def decide_connect(self, target: ConnectTarget) -> DecideResponse:
        """One connection the egress proxy was asked for (input kind ``connect``)."""
        def asked() -> dict[str, Any]:
            return {"kind": "connect", "connect": target.model_dump(mode="json")}

        return self._settle(_Call(
            decide=lambda decider: decider.decide_connect_logged(target),
            asked=asked, brief=asked, show=_show_connection))

    # --- the one path ------------------------------------------------------------------

    def _settle(self, call: _Call) -> DecideResponse:
        held: SandboxNotChecked | None = None
        if call.gated:
            try:
                self.gate.wait()
            except SandboxNotChecked as exc:
                held = exc
        with self._lock:
            decider, log = self._decider, self._log
            try:
                if held is not None:
                    raise held
                line = _Line.of(call.decide(decider))
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # fail closed, and still leave a trace in the log
                line = _failed(decider, exc, call.asked)
            try:
                decision_id = self._append(log, line, call)
            except AuditLogFull as exc:  # nothing may run unlogged: deny, and end the run
                return self._unlogged(decider, exc)
            except Exception as exc:  # this line was refused: log the deny, briefly
                line = _failed(decider, exc, call.brief)
                try:
                    decision_id = self._append(log, line, call)
                except Exception as broken:  # the log itself fails
                    return self._unlogged(decider, broken)
        if self.display is not None:
            reasons = [f"{r.policy}/{r.rule}: {r.msg}" for r in line.decision.reasons]
            with contextlib.suppress(Exception):  # the display never changes an answer
                call.show(self.display, line.input, line.decision.allow, reasons)
        return answer(line.decision, decision_id)

    @staticmethod
    def _append(log: DecisionLog | None, line: _Line, call: _Call) -> str:
        if log is None:
            raise RunFailed("no decision log is open")
        entry = log.append(line.input, line.decision.model_dump(mode="json"),
                           eval_ns=line.eval_ns, tool_use_id=call.tool_use_id,
                           requested_by=call.requested_by, masked=line.masked,
                           erased=line.erased, metrics=line.metrics)
        return entry.decision_id

    def _unlogged(self, decider: Decider, exc: BaseException) -> DecideResponse:
        """The deny of a call the log could not take; the run ends (``on_log_failure``)."""
        # without its traceback: the run keeps the error, not this thread's frames
        ended = exc.with_traceback(None) if isinstance(exc, RunFailed) else RunFailed(
            f"the decision log failed: {type(exc).__name__}: {exc}")
        if self.on_log_failure is not None:
            with contextlib.suppress(Exception):
                self.on_log_failure(ended)
        return answer(_redacted(decider, failure(exc), exc)[0], UNLOGGED)


def _failed(decider: Decider, exc: BaseException,
            asked: Callable[[], dict[str, Any]]) -> _Line:
    """The logged deny of a call whose decision (or line) failed: what was asked and the
    error, redacted (the decision's reason names the error)."""
    decision, masked = _redacted(decider, failure(exc), exc)
    try:
        logged, masked_input, _ = decider.redact_logged({**asked(), "errors": [str(exc)]},
                                                        "/input")
        return _Line(logged, decision, masked=masked_input + masked)
    except Exception:  # what cannot be redacted is not recorded
        return _Line({"errors": ["[not recorded: redaction failed]"]}, decision, masked=masked)


def _redacted(decider: Decider, decision: Decision, exc: BaseException
              ) -> tuple[Decision, list[str]]:
    """``decision`` redacted, and the pointers of what was replaced; if redaction itself
    fails, only the error's type is kept."""
    try:
        redacted, masked, _ = decider.redact_logged(decision, "/result")
        return redacted, masked
    except Exception:
        return Decision.failed(type(exc).__name__), []


def _show_tool(display: DecisionDisplay, logged: dict[str, Any], allow: bool,
               reasons: list[str]) -> None:
    tool = logged.get("tool") or {}
    display.decision(str(tool.get("name", "")), tool.get("input") or {}, allow, reasons)


def _show_connection(display: DecisionDisplay, logged: dict[str, Any], allow: bool,
                     reasons: list[str]) -> None:
    display.connection(logged.get("connect") or {}, allow, reasons)


__all__ = ["UNLOGGED", "DecisionDisplay", "DecisionService", "answer", "failure", "failure_answer"]
