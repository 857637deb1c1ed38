"""Deciding a model answer's tool calls ahead (runner/gateway/ahead.py): one per gap the agent
leaves, never while a decision waits, on the decide thread; and the gateway calling it for a
non-streamed and a streamed answer over the real socket."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runner.gateway import Budget, Gateway, Redactor, RetryPolicy, ScriptedProvider
from runner.gateway.ahead import MAX_QUEUED, DecideAhead, tool_uses
from runner.gateway.scripted import Scenario
from runner.protocol import DecideRequest, DecideResponse

CALLS = [{"name": "Read", "input": {"file_path": "backend/a.py"}},
         {"name": "Bash", "input": {"command": "ls"}},
         {"name": "LS", "input": {"path": "backend"}}]


def answer(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": "x"}] + [
        {"type": "tool_use", "id": f"toolu_{i}", **c} for i, c in enumerate(calls)]}


class Manual:
    """A DecideAhead whose decide thread is run by hand (``run``)."""

    def __init__(self, *, all_at_once: bool = False) -> None:
        self.prepared: list[str] = []
        self.tasks: list[Callable[[], None]] = []
        self.ahead = DecideAhead(lambda name, _: self.prepared.append(name), self.tasks.append,
                                 all_at_once=all_at_once)

    def run(self) -> None:
        while self.tasks:
            self.tasks.pop(0)()


def test_one_call_is_prepared_when_the_answer_arrives_and_one_after_each_decision() -> None:
    m = Manual()
    m.ahead.answer(answer(*CALLS))
    m.run()
    assert m.prepared == ["Read"]  # the agent reads the answer, then asks for Read
    m.ahead.asking()
    m.run()
    assert m.prepared == ["Read"]
    m.ahead.asked()  # the agent runs Read: Bash is prepared meanwhile
    m.run()
    assert m.prepared == ["Read", "Bash"]
    m.ahead.asking()
    m.ahead.asked()
    m.run()
    assert m.prepared == ["Read", "Bash", "LS"] and m.ahead.prepared == 3


def test_nothing_starts_while_a_decision_waits() -> None:
    m = Manual()
    m.ahead.asking()  # a decision is queued on the decide thread
    m.ahead.answer(answer(*CALLS))
    m.run()
    assert m.prepared == []
    m.ahead.asked()
    m.run()
    assert m.prepared == ["Read"]


def test_a_submitted_preparation_yields_to_a_decision_that_arrived_since() -> None:
    m = Manual()
    m.ahead.answer(answer(*CALLS))
    m.ahead.asking()  # arrives after the drain was submitted, before it ran
    m.run()
    assert m.prepared == []


def test_a_new_answer_replaces_what_is_left_of_the_last() -> None:
    m = Manual()
    m.ahead.answer(answer(*CALLS))
    m.run()
    m.ahead.answer(answer({"name": "Glob", "input": {"pattern": "*.py"}}))
    m.run()
    m.ahead.asking()
    m.ahead.asked()
    m.run()
    assert m.prepared == ["Read", "Glob"]  # Bash and LS were of the old answer


def test_what_the_model_sends_is_bounded_and_odd_blocks_are_skipped() -> None:
    m = Manual()
    m.ahead.answer({"content": [{"type": "tool_use", "name": 7, "input": {}},
                                {"type": "tool_use", "name": "Read", "input": "x"},
                                "junk", {"type": "tool_use", "name": "LS", "input": {}}]})
    m.run()
    assert m.prepared == ["LS"]
    assert tool_uses(None) == [] and tool_uses({"content": "text"}) == []
    many = Manual()
    many.ahead.answer(answer(*[{"name": f"T{i}", "input": {}} for i in range(MAX_QUEUED + 10)]))
    for _ in range(MAX_QUEUED + 10):
        many.run()
        many.ahead.asking()
        many.ahead.asked()
    # the first ones are kept: the agent asks for them first
    assert many.prepared == [f"T{i}" for i in range(MAX_QUEUED)]


def test_a_failing_preparation_is_ignored_and_the_next_still_runs() -> None:
    tasks: list[Callable[[], None]] = []
    seen: list[str] = []

    def prepare(name: str, _: dict[str, Any]) -> None:
        seen.append(name)
        raise RuntimeError("boom")

    ahead = DecideAhead(prepare, tasks.append)
    ahead.answer(answer(*CALLS))
    tasks.pop(0)()
    ahead.asking()
    ahead.asked()
    tasks.pop(0)()
    assert seen == ["Read", "Bash"] and ahead.prepared == 2


def test_a_shut_down_pool_does_not_break_the_queue() -> None:
    def refuse(_: Callable[[], None]) -> None:
        raise RuntimeError("cannot schedule new futures after shutdown")

    ahead = DecideAhead(lambda *_: None, refuse)
    ahead.answer(answer(*CALLS))  # no exception
    assert ahead.prepared == 0


# --- the gateway over its socket -------------------------------------------------------


class Prepared:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], str]] = []
        self.changed = threading.Condition()

    def __call__(self, name: str, tool_input: dict[str, Any]) -> bool:
        with self.changed:
            self.calls.append((name, tool_input, threading.current_thread().name))
            self.changed.notify_all()
        return True

    def wait_for(self, n: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.calls) >= n, timeout=30)


def decided(req: DecideRequest) -> DecideResponse:
    return DecideResponse(allow=True, decision_id=f"d-{req.tool}")


@pytest.fixture
def make_gateway(sock_dir: Path, tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    started: list[Gateway] = []

    def make(prepare: Any) -> Gateway:
        scenario = Scenario.model_validate({"turns": [
            {"text": "first", "tool_calls": CALLS[:2]}, {"text": "done"}]})
        gw = Gateway(socket_path=sock_dir / "gw.sock", provider=ScriptedProvider(scenario=scenario),
                     decide=decided, run_dir=tmp_path / "run",
                     budget=Budget(max_requests=10, max_tokens=10**6), redactor=Redactor(),
                     retry=RetryPolicy(retries=0), prepare=prepare)
        gw.start()
        started.append(gw)
        return gw

    yield make
    for gw in started:
        gw.stop()


def client(gw: Gateway) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(gw.socket_path)),
                        base_url="http://gateway", timeout=30, headers={"x-api-key": gw.token})


BODY = {"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "task"}]}


@pytest.mark.parametrize("stream", [False, True])
def test_the_gateway_prepares_an_answers_calls_on_the_decide_thread(
        make_gateway: Callable[..., Gateway], stream: bool) -> None:
    prepared = Prepared()
    gw = make_gateway(prepared)
    with client(gw) as http:
        resp = http.post("/v1/messages", json={**BODY, "stream": stream})
        assert resp.status_code == 200
        assert prepared.wait_for(1), "the answer's first call was not prepared"
        assert len(prepared.calls) == 1  # the next waits for the agent's first decision
        first = http.post("/v1/decide", json={"tool": "Read", "input": CALLS[0]["input"]})
        assert first.json()["allow"] is True
        assert prepared.wait_for(2), prepared.calls
    assert [(n, i) for n, i, _ in prepared.calls] == [(c["name"], c["input"]) for c in CALLS[:2]]
    assert {t for _, _, t in prepared.calls} == {t for _, _, t in prepared.calls
                                                 if t.startswith("gw-decide")}


def test_without_prepare_nothing_is_decided_ahead(make_gateway: Callable[..., Gateway]) -> None:
    gw = make_gateway(None)
    assert gw.ahead is None
    with client(gw) as http:
        assert http.post("/v1/messages", json=BODY).status_code == 200
        assert http.post("/v1/decide", json={"tool": "LS", "input": {}}).json()["allow"] is True


def test_a_call_already_asked_for_is_not_prepared() -> None:
    m = Manual()
    m.ahead.asking("toolu_0")  # the agent asked before the answer was queued
    m.ahead.answer(answer(*CALLS))
    m.ahead.asked()
    m.run()
    assert m.prepared == ["Bash"]  # toolu_1
    m.ahead.asking("toolu_2")  # asked for LS (toolu_2) before its turn: dropped
    m.ahead.asked()
    m.run()
    assert m.prepared == ["Bash"]


def test_a_request_abandoned_before_it_was_decided_is_never_decided_and_frees_the_queue() -> None:
    m = Manual()
    m.ahead.answer(answer(*CALLS))
    m.run()  # Read prepared
    ticket = m.ahead.ask("toolu_0")
    ticket.abandon()  # the request was cancelled before the decide thread got to it
    assert ticket.start() is False  # the late job does not decide it
    m.run()
    assert m.prepared == ["Read", "Bash"]  # and the next call was still prepared
    done = m.ahead.ask("toolu_1")
    assert done.start() is True
    done.done()
    done.abandon()  # after a decision: nothing more
    m.run()
    assert m.prepared == ["Read", "Bash", "LS"]


def test_all_at_once_prepares_every_call_of_the_answer_but_yields_to_a_waiting_decision() -> None:
    m = Manual(all_at_once=True)
    m.ahead.answer(answer(*CALLS))
    m.run()
    assert m.prepared == ["Read", "Bash", "LS"]  # Claude Code asks for them together
    waits = Manual(all_at_once=True)
    waits.ahead.answer(answer(*CALLS))
    waits.ahead.asking("toolu_1")  # Bash asked before the drain ran: it goes first
    waits.run()
    assert waits.prepared == []
    waits.ahead.asked()
    waits.run()
    assert waits.prepared == ["Read", "LS"]  # the rest, Bash no more
