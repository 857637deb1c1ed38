"""The decision service: one fail-closed path, one reason shape, one lock (real regorus, real log)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from runner.audit import DecisionLog, verify_log
from runner.audit.log import read_log
from runner.decisions import UNLOGGED, DecisionService, Gate, SandboxNotChecked
from runner.errors import AuditLogFull, RunFailed
from runner.policy.bundle import load_bundle
from runner.policy.decider import Decider
from runner.policy.models import ConnectTarget, RunInfo
from runner.policy.regorus_engine import RegorusEngine
from runner.protocol import DecideRequest, DecideResponse

SECRET = "hunter2-s3cr3t-value"


class _Redactor:
    """The run's redactor, reduced to one known secret."""

    def redact_text(self, text: str) -> tuple[str, dict[str, int]]:
        return text.replace(SECRET, "[REDACTED:test]"), {"test": text.count(SECRET)}

    def finds_any(self, texts: Sequence[str]) -> bool:
        return any(SECRET in t for t in texts)


@pytest.fixture(scope="module")
def engine() -> Iterator[RegorusEngine]:
    eng = RegorusEngine(load_bundle([]))
    yield eng
    eng.close()


class _Shown:
    def __init__(self) -> None:
        self.lines: list[tuple[str, bool, list[str]]] = []

    def decision(self, tool: str, data: dict[str, Any], allow: bool, reasons: list[str]) -> None:
        self.lines.append((tool, allow, reasons))

    def connection(self, target: dict[str, Any], allow: bool, reasons: list[str]) -> None:
        self.lines.append((f"connect {target.get('host')}", allow, reasons))


class _Service:
    """A service over a real engine and log in ``tmp_path``; ``ended``: what ended the run."""

    def __init__(self, engine: RegorusEngine, tmp_path: Path, **log_args: Any) -> None:
        (tmp_path / "backend").mkdir(exist_ok=True)
        self.path = tmp_path / "decisions.jsonl"
        self.log = DecisionLog(self.path, labels={"run_id": "t"}, bundle_hash="x", **log_args)
        self.decider = Decider(engine, workspace=tmp_path, run=RunInfo(id="t", agent="a"),
                               redactor=_Redactor())
        self.ended: list[RunFailed] = []
        self.shown = _Shown()
        self.service = DecisionService(self.decider, log=self.log, requested_by="agent:builtin",
                                       display=self.shown, on_log_failure=self.ended.append)

    def lines(self) -> list[dict[str, Any]]:
        self.log.close()
        return [json.loads(line) for line in self.path.read_text().splitlines()]


def _boom(*args: object, **kwargs: object) -> Any:
    raise RuntimeError(f"fell over near {SECRET}")


def _read(path: str = "backend/x.py", **extra: Any) -> DecideRequest:
    return DecideRequest(tool="Read", input={"file_path": path}, tool_use_id="toolu_1", **extra)


def _connect() -> ConnectTarget:
    return ConnectTarget(host="pypi.org", port=443, phase="agent")


def _assert_failure_shape(answer: DecideResponse, line: dict[str, Any]) -> None:
    """The one reason shape, the same in the answer and the log, redacted in both."""
    assert not answer.allow and len(answer.reasons) == 1
    reason = answer.reasons[0]
    assert (reason.policy, reason.rule) == ("engine", "evaluation_failed")
    assert reason.msg.startswith("policy evaluation failed: RuntimeError: fell over near ")
    assert line["decision_id"] == answer.decision_id
    assert line["result"] == {"allow": False, "reasons": [r.model_dump() for r in answer.reasons]}
    assert SECRET not in json.dumps(line) and SECRET not in reason.msg
    assert "/result/reasons/0/msg" in line["masked"]


# Each stage a call passes, made to raise: (how, request or connection).
STAGES: dict[str, Callable[[pytest.MonkeyPatch, _Service], DecideRequest | ConnectTarget]] = {
    "map": lambda mp, s: (mp.setattr("runner.decisions.map_call", _boom),
                          _read(runtime="claude-code"))[1],
    "derive": lambda mp, s: (mp.setattr(s.decider, "_derive", _boom), _read())[1],
    "evaluate": lambda mp, s: (mp.setattr(s.decider.engine, "evaluate", _boom), _read())[1],
    "decide": lambda mp, s: (mp.setattr(s.decider, "decide_logged", _boom), _read())[1],
    "connect": lambda mp, s: (mp.setattr(s.decider.engine, "evaluate", _boom), _connect())[1],
    "decide_connect": lambda mp, s: (mp.setattr(s.decider, "decide_connect_logged", _boom),
                                     _connect())[1],
}
# The engine raising is caught by the Decider itself (Decision.failed: the same shape).
ENGINE_STAGES = {"evaluate", "connect"}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_an_exception_in_any_stage_is_a_logged_deny_in_one_shape(
        stage: str, engine: RegorusEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _Service(engine, tmp_path)
    asked = STAGES[stage](monkeypatch, s)
    if isinstance(asked, ConnectTarget):
        answer = s.service.decide_connect(asked)
    else:
        answer = s.service.decide(asked)
    [line] = s.lines()
    _assert_failure_shape(answer, line)
    if isinstance(asked, ConnectTarget):  # what was asked is recorded, with the error
        assert line["input"]["connect"]["host"] == "pypi.org"
        assert line["requested_by"] == "egress-proxy" and "tool_use_id" not in line
    else:
        assert line["input"]["tool"]["name"] == "Read"
        assert line["input"]["tool"]["input"] == {"file_path": "backend/x.py"}
        assert line["requested_by"] == "agent:builtin" and line["tool_use_id"] == "toolu_1"
    if stage in ENGINE_STAGES:  # the Decider's own guard: the derived input, no errors
        assert "errors" not in line["input"] or line["input"]["errors"] == []
        assert line["input"]["run"]["id"] == "t"
    else:
        assert line["input"]["errors"] == ["fell over near [REDACTED:test]"]
    assert s.ended == [] and verify_log(s.path).ok
    assert s.shown.lines[0][1] is False and SECRET not in str(s.shown.lines)


def test_redaction_failing_records_nothing_it_could_not_redact(
        engine: RegorusEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _Service(engine, tmp_path)
    monkeypatch.setattr(s.decider, "redact_logged", _boom)
    answer = s.service.decide(_read(f"backend/{SECRET}.py"))
    [line] = s.lines()
    assert not answer.allow and answer.decision_id == line["decision_id"]
    assert answer.reasons[0].msg == "policy evaluation failed: RuntimeError"
    assert line["input"] == {"errors": ["[not recorded: redaction failed]"]}
    assert SECRET not in s.path.read_text() and verify_log(s.path).ok


def test_a_line_the_log_refuses_is_replaced_by_a_brief_deny(
        engine: RegorusEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _Service(engine, tmp_path)
    real = s.log.append
    calls: list[dict[str, Any]] = []

    def refuse_first(input: Any, result: Any, **kw: Any) -> Any:
        calls.append(input)
        if len(calls) == 1:
            raise RuntimeError(f"cannot log this line ({SECRET})")
        return real(input, result, **kw)

    monkeypatch.setattr(s.log, "append", refuse_first)
    answer = s.service.decide(_read())
    after = s.service.decide(_read())
    [brief, ok] = s.lines()
    assert not answer.allow and answer.reasons[0].msg.startswith(
        "policy evaluation failed: RuntimeError: cannot log this line")
    assert brief["decision_id"] == answer.decision_id and brief["result"]["allow"] is False
    assert brief["input"] == {"tool": {"name": "Read"},
                              "errors": ["cannot log this line ([REDACTED:test])"]}
    assert after.allow and ok["decision_id"] == after.decision_id
    assert s.ended == []  # the log still works: the run goes on
    assert SECRET not in s.path.read_text() and verify_log(s.path).ok


def test_a_log_that_fails_denies_unlogged_and_ends_the_run(
        engine: RegorusEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _Service(engine, tmp_path)
    monkeypatch.setattr(s.log, "append", lambda *a, **k: _boom())
    tool = s.service.decide(_read())
    connect = s.service.decide_connect(_connect())
    for answer in (tool, connect):
        assert not answer.allow and answer.decision_id == UNLOGGED
        assert (answer.reasons[0].policy, answer.reasons[0].rule) == ("engine",
                                                                      "evaluation_failed")
        assert SECRET not in answer.reasons[0].msg
    assert len(s.ended) == 2 and all(isinstance(e, RunFailed) for e in s.ended)
    assert "the decision log failed: RuntimeError" in str(s.ended[0])
    assert s.lines() == []


def test_no_log_open_is_a_failed_log(engine: RegorusEngine, tmp_path: Path) -> None:
    s = _Service(engine, tmp_path)
    s.service.log = None
    answer = s.service.decide(_read())
    assert not answer.allow and answer.decision_id == UNLOGGED
    assert "no decision log is open" in answer.reasons[0].msg
    assert [str(e) for e in s.ended] == ["no decision log is open"]


def test_a_full_log_denies_both_kinds_and_ends_the_run(engine: RegorusEngine,
                                                       tmp_path: Path) -> None:
    s = _Service(engine, tmp_path, max_bytes=3000)
    answers = [s.service.decide(_read()) for _ in range(5)]
    answers += [s.service.decide_connect(_connect()) for _ in range(5)]
    assert answers[0].allow
    for answer in answers[-6:]:
        assert not answer.allow and answer.decision_id == UNLOGGED
        assert [(r.policy, r.rule) for r in answer.reasons] == [("audit", "log_full")]
    assert s.ended and all(isinstance(e, AuditLogFull) for e in s.ended)
    assert len(s.lines()) == sum(a.decision_id != UNLOGGED for a in answers)
    assert verify_log(s.path).ok


def test_a_display_that_raises_does_not_change_the_answer(
        engine: RegorusEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _Service(engine, tmp_path)
    monkeypatch.setattr(s.shown, "decision", _boom)
    answer = s.service.decide(_read())
    [line] = s.lines()
    assert answer.allow and line["result"]["allow"] is True
    assert line["decision_id"] == answer.decision_id


def test_two_threads_deciding_at_once_make_one_valid_chain(engine: RegorusEngine,
                                                           tmp_path: Path) -> None:
    """Tool calls and connections from two threads, started together: every answer is its own
    line (no answer carries another call's decision), and the chain verifies."""
    s = _Service(engine, tmp_path)
    per_thread = 40
    start = threading.Barrier(2)
    answers: dict[str, list[tuple[str, DecideResponse]]] = {"tool": [], "connect": []}
    errors: list[BaseException] = []

    def tools() -> None:
        start.wait()
        for i in range(per_thread):
            path = f"backend/m{i}.py" if i % 2 else ".env"  # allowed, denied, ...
            answers["tool"].append((path, s.service.decide(_read(path))))

    def connects() -> None:
        start.wait()
        for i in range(per_thread):
            host = "pypi.org" if i % 2 else f"evil{i}.example"
            answers["connect"].append((host, s.service.decide_connect(
                ConnectTarget(host=host, port=443, phase="agent"))))

    def guarded(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # handed to the test thread
                errors.append(exc)
        return run

    threads = [threading.Thread(target=guarded(f)) for f in (tools, connects)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    check = verify_log(s.path)
    assert check.ok and check.count == 2 * per_thread
    entries = {e.decision_id: e for e in read_log(s.path)}
    assert [e.seq for e in sorted(entries.values(), key=lambda e: e.seq)] == list(
        range(2 * per_thread))
    for path, answer in answers["tool"]:
        entry = entries[answer.decision_id]
        assert entry.tool_input == {"file_path": path}
        assert entry.allowed is answer.allow is path.startswith("backend/")
    for host, answer in answers["connect"]:
        entry = entries[answer.decision_id]
        assert entry.kind == "connect" and entry.tool_input["host"] == host
        assert entry.allowed is answer.allow
    s.log.close()


def test_the_transports_guard_answers_in_the_same_shape() -> None:
    """The gateway's and the proxy's own guard (a decide callback that raised) use the same
    failure, redacted by the transport's redactor."""
    from runner.decisions import failure_answer

    exc = RuntimeError(f"fell over near {SECRET}")
    got = failure_answer(exc, "failed", lambda text: _Redactor().redact_text(text)[0])
    assert not got.allow and got.decision_id == "failed"
    assert [(r.policy, r.rule, r.msg) for r in got.reasons] == [
        ("engine", "evaluation_failed",
         "policy evaluation failed: RuntimeError: fell over near [REDACTED:test]")]


# --- the gate: nothing decided before the sandbox self-check passed -------------------------

def _asked(s: _Service, kind: str) -> Callable[[], DecideResponse]:
    return (lambda: s.service.decide(_read())) if kind == "tool" else (
        lambda: s.service.decide_connect(_connect()))


def _in_thread(call: Callable[[], DecideResponse]) -> tuple[threading.Thread, list[DecideResponse]]:
    got: list[DecideResponse] = []
    thread = threading.Thread(target=lambda: got.append(call()), daemon=True)
    thread.start()
    return thread, got


def _until_waiting(s: _Service, n: int) -> None:
    """Until ``n`` calls wait on the gate (a bounded wait for a state, not a timing window)."""
    deadline = time.monotonic() + 30
    while s.service.gate.waiting != n:
        assert time.monotonic() < deadline, "the call never reached the gate"
        time.sleep(0.001)


def test_a_held_call_waits_and_is_decided_once_released(engine: RegorusEngine, tmp_path: Path) -> None:
    s = _Service(engine, tmp_path)
    s.service.gate.hold()
    thread, got = _in_thread(_asked(s, "tool"))
    _until_waiting(s, 1)
    assert got == [] and s.path.read_text() == ""  # nothing decided, nothing logged
    s.service.gate.release()
    thread.join(30)
    assert len(got) == 1 and s.service.gate.waiting == 0
    lines = s.lines()
    assert [line["decision_id"] for line in lines] == [got[0].decision_id]
    assert got[0].allow  # a read under backend/: allowed, as it would be unheld


def test_connections_are_not_held(engine: RegorusEngine, tmp_path: Path) -> None:
    """The self-check asks the proxy for a connection it must refuse: a held gate must not
    hold it (it is decided by the allowlist, here: denied, as without the gate)."""
    s = _Service(engine, tmp_path)
    s.service.gate.hold()
    answer = _asked(s, "connect")()
    assert not answer.allow and [r.rule for r in answer.reasons] != ["not_checked"]
    assert s.service.gate.waiting == 0 and len(s.lines()) == 1


def test_a_refused_gate_denies_waiting_and_later_calls_logged(
        engine: RegorusEngine, tmp_path: Path) -> None:
    kind = "tool"
    s = _Service(engine, tmp_path)
    s.service.gate.hold()
    thread, got = _in_thread(_asked(s, kind))
    _until_waiting(s, 1)
    s.service.gate.refuse("the sandbox self-check did not pass (pids_limit)")
    thread.join(30)
    later = _asked(s, kind)()
    for answer in (*got, later):
        assert not answer.allow
        assert [(r.policy, r.rule) for r in answer.reasons] == [("sandbox", "not_checked")]
        assert "pids_limit" in answer.reasons[0].msg
    lines = s.lines()
    assert len(lines) == 2 and not any(line["result"]["allow"] for line in lines)
    assert verify_log(s.path).ok


def test_the_phase_end_refuses_only_a_gate_still_held(engine: RegorusEngine, tmp_path: Path) -> None:
    s = _Service(engine, tmp_path)
    s.service.gate.hold()
    s.service.gate.release()
    s.service.gate.end("the agent phase ended")  # the check had passed: still open
    assert s.service.decide(_read()).allow
    s.service.gate.hold()
    s.service.gate.end("the agent phase ended")
    answer = s.service.decide(_read())
    assert not answer.allow and "the agent phase ended" in answer.reasons[0].msg


def test_a_gate_held_past_its_wait_is_a_deny(tmp_path: Path) -> None:
    gate = Gate()
    gate.wait(timeout=0)  # open: returns at once
    gate.hold()
    with pytest.raises(SandboxNotChecked, match="did not end within 0 s"):
        gate.wait(timeout=0)
    assert gate.waiting == 0
