"""The gateway's streaming path with the real anthropic SDK over the unix socket (scripted model)."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from runner.gateway import Budget, Gateway, Redactor, RetryPolicy, ScriptedProvider
from runner.gateway.provider import ProviderHTTPError
from runner.gateway.scripted import Scenario
from runner.gateway.sse import message_events
from runner.protocol import DecideRequest, DecideResponse

try:  # anthropic >= 2 is built on httpx2, as in runner/agent/client.py
    import httpx2 as sdk_http
except ImportError:  # pragma: no cover
    import httpx as sdk_http  # type: ignore[no-redef]

AWS = "AKIAIOSFODNN7EXAMPLE"
KNOWN = "pg-password-4242"
USER = [{"role": "user", "content": "task"}]


def scripted(*turns: dict[str, Any]) -> ScriptedProvider:
    return ScriptedProvider(scenario=Scenario.model_validate({"turns": list(turns)}))


def allow_all(req: DecideRequest) -> DecideResponse:
    return DecideResponse(allow=True, decision_id="d")


class Box:
    def __init__(self, gw: Gateway, run_dir: Path) -> None:
        self.gw, self.run_dir = gw, run_dir

    def sdk(self, key: str | None = None) -> anthropic.Anthropic:
        http = sdk_http.Client(transport=sdk_http.HTTPTransport(uds=str(self.gw.socket_path)), timeout=30)
        return anthropic.Anthropic(api_key=key or self.gw.token, base_url="http://gateway",
                                   http_client=http, max_retries=0)

    def http(self, token: bool = True) -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(uds=str(self.gw.socket_path)),
                            base_url="http://gateway", timeout=30,
                            headers={"x-api-key": self.gw.token} if token else {})

    def lines(self, name: str) -> list[dict[str, Any]]:
        path = self.run_dir / name
        return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def make_box(sock_dir: Path, tmp_path: Path) -> Iterator[Callable[..., Box]]:
    started: list[Gateway] = []

    def make(provider: Any, budget: Budget | None = None, redactor: Redactor | None = None,
             **kw: Any) -> Box:
        gw = Gateway(socket_path=sock_dir / "gw.sock", provider=provider, decide=allow_all,
                     run_dir=tmp_path / "run", budget=budget or Budget(max_requests=10, max_tokens=10**6),
                     redactor=redactor or Redactor(),
                     retry=RetryPolicy(retries=2, backoff_base=0.01), **kw)
        gw.start()
        started.append(gw)
        return Box(gw, tmp_path / "run")

    yield make
    for gw in started:
        gw.stop()


def test_sdk_stream_helper_gets_text_and_tool_use(make_box: Callable[..., Box]) -> None:
    box = make_box(scripted({"text": "Reading the spec now.", "tool_calls": [
        {"name": "Read", "input": {"file_path": "architecture/backend.md"}}]}))
    with box.sdk().messages.stream(model="m", max_tokens=100, messages=USER) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and "content_block_delta" in kinds
    assert final.content[0].type == "text" and final.content[0].text == "Reading the spec now."
    assert final.content[1].type == "tool_use" and final.content[1].input == {
        "file_path": "architecture/backend.md"}
    assert final.stop_reason == "tool_use"
    [entry] = box.lines("transcript.jsonl")
    assert entry["stream"] is True and entry["error"] is None and entry["events"] == len(
        [k for k in kinds if k not in ("text", "input_json")])  # the SDK adds these two
    assert entry["response"]["content"][1]["input"] == {"file_path": "architecture/backend.md"}
    assert box.gw.budget.output_tokens == final.usage.output_tokens > 0
    assert box.gw.budget.input_tokens == final.usage.input_tokens > 0
    assert box.gw.stats.requests == 1 and box.gw.failure is None


def test_sdk_create_stream_true_and_beta_create(make_box: Callable[..., Box]) -> None:
    box = make_box(scripted({"text": "one"}, {"text": "two"}))
    events = list(box.sdk().messages.create(model="m", max_tokens=100, messages=USER, stream=True))
    text = "".join(e.delta.text for e in events
                   if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert text == "one"
    beta = box.sdk().beta.messages.create(
        model="m", max_tokens=100, messages=USER,
        betas=["interleaved-thinking-2025-05-14", "context-management-2025-06-27"])
    assert beta.content[0].type == "text" and beta.content[0].text == "two"
    first, second = box.lines("transcript.jsonl")
    assert first["stream"] is True and "stream" not in second
    assert second["anthropic_beta"] == "interleaved-thinking-2025-05-14,context-management-2025-06-27"


class Canned:
    """Streams the given events (a scripted provider cannot choose where a delta is cut)."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    async def create(self, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
        raise AssertionError("not used")

    async def stream(self, request: dict[str, Any], **kw: Any) -> AsyncIterator[dict[str, Any]]:
        for event in self.events:
            yield event

    async def count_tokens(self, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return {"input_tokens": 1}

    async def aclose(self) -> None:
        return None


def split_secret_events() -> list[dict[str, Any]]:
    def delta(i: int, kind: str, value: str) -> dict[str, Any]:
        key = "text" if kind == "text_delta" else "partial_json"
        return {"type": "content_block_delta", "index": i, "delta": {"type": kind, key: value}}

    return [
        {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                                              "model": "m", "content": [], "stop_reason": None,
                                              "stop_sequence": None,
                                              "usage": {"input_tokens": 11, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        delta(0, "text_delta", f"found {AWS[:9]}"), delta(0, "text_delta", f"{AWS[9:]} and {KNOWN[:5]}"),
        delta(0, "text_delta", f"{KNOWN[5:]} in the env"),
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {
            "type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}},
        delta(1, "input_json_delta", '{"command": "echo ' + AWS[:4]),
        delta(1, "input_json_delta", AWS[4:] + " " + KNOWN[:8]), delta(1, "input_json_delta", KNOWN[8:] + '"}'),
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
         "usage": {"output_tokens": 17}},
        {"type": "message_stop"},
    ]


def test_a_secret_split_across_deltas_is_redacted_in_the_transcript(make_box: Callable[..., Box]) -> None:
    box = make_box(Canned(split_secret_events()), redactor=Redactor({"file:.env:DB_PASSWORD": KNOWN}))
    with box.http() as client:
        resp = client.post("/v1/messages", json={"model": "m", "max_tokens": 100, "messages": USER,
                                                 "stream": True})
    assert resp.headers["content-type"].startswith("text/event-stream")
    deltas = [json.loads(line[6:]) for line in resp.text.splitlines() if line.startswith("data: ")]
    assert deltas == split_secret_events()  # passed on as they came, in order
    [entry] = box.lines("transcript.jsonl")
    recorded = json.dumps(entry)
    assert AWS not in recorded and KNOWN not in recorded
    assert entry["response"]["content"][0]["text"] == \
        "found [REDACTED:aws-access-key] and [REDACTED:file:.env:DB_PASSWORD] in the env"
    assert entry["response"]["content"][1]["input"] == {
        "command": "echo [REDACTED:aws-access-key] [REDACTED:file:.env:DB_PASSWORD]"}
    assert AWS not in (box.run_dir / "redactions.jsonl").read_text()
    assert (box.gw.budget.input_tokens, box.gw.budget.output_tokens) == (11, 17)


def test_faults_before_the_first_event_are_retried(make_box: Callable[..., Box]) -> None:
    box = make_box(scripted({"fault": {"status": 529, "times": 2}}, {"text": "after faults"}))
    with box.sdk().messages.stream(model="m", max_tokens=100, messages=USER) as stream:
        assert stream.get_final_text() == "after faults"
    [entry] = box.lines("transcript.jsonl")
    assert entry["retries"] == 2 and len(entry["failures"]) == 2 and box.gw.failure is None


def test_faults_that_run_out_fail_the_run_with_a_json_error(make_box: Callable[..., Box]) -> None:
    box = make_box(scripted({"fault": {"status": 500, "times": 5}}))
    with pytest.raises(anthropic.InternalServerError), \
            box.sdk().messages.stream(model="m", max_tokens=100, messages=USER) as stream:
        stream.get_final_message()
    assert box.gw.failure is not None and box.gw.budget.requests == 0


class MidStreamFailure:
    """Streams the start of an answer, then the model API fails."""

    def __init__(self) -> None:
        self.inner = scripted({"text": "partial answer here"})

    async def create(self, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
        raise AssertionError("not used")

    async def stream(self, request: dict[str, Any], **kw: Any) -> AsyncIterator[dict[str, Any]]:
        message = await self.inner.create(request)
        for event in list(message_events(message))[:4]:
            yield event
        raise ProviderHTTPError(529, "Overloaded", error_type="overloaded_error")

    async def count_tokens(self, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return {"input_tokens": 1}

    async def aclose(self) -> None:
        return None


def test_a_failure_mid_stream_sends_an_error_event_and_fails_the_run(make_box: Callable[..., Box]) -> None:
    box = make_box(MidStreamFailure())
    with pytest.raises(anthropic.APIStatusError) as err, \
            box.sdk().messages.stream(model="m", max_tokens=100, messages=USER) as stream:
        stream.get_final_message()
    assert "Overloaded" in str(err.value)
    assert box.gw.failure is not None and "mid-stream" in box.gw.failure
    [entry] = box.lines("transcript.jsonl")
    assert "mid-stream" in entry["error"] and entry["response"]["content"][0]["text"]
    assert box.gw.budget.input_tokens > 0  # what was used is charged
    with box.http() as client:  # the run has failed: later requests are answered 503, nothing hangs
        later = client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": USER,
                                                  "stream": True})
    assert later.status_code == 503


def test_budget_exhausted_on_a_streaming_request(make_box: Callable[..., Box]) -> None:
    box = make_box(scripted({"text": "a"}, {"text": "b"}), budget=Budget(max_requests=1, max_tokens=10**6))
    with box.sdk().messages.stream(model="m", max_tokens=100, messages=USER) as stream:
        stream.get_final_message()
    with pytest.raises(anthropic.APIStatusError) as err, \
            box.sdk().messages.stream(model="m", max_tokens=100, messages=USER) as stream:
        stream.get_final_message()
    assert err.value.status_code == 402
    assert box.gw.failure is not None and "budget" in box.gw.failure


def test_count_tokens_root_and_the_token_on_every_new_route(make_box: Callable[..., Box]) -> None:
    box = make_box(scripted({"text": "a"}))
    counted = box.sdk().messages.count_tokens(model="m", messages=USER)
    assert counted.input_tokens > 0
    assert box.gw.budget.requests == 0 and box.gw.stats.requests == 0  # never charged
    [event] = [e for e in box.lines("events.jsonl") if e["kind"] == "count_tokens"]
    assert event["data"]["input_tokens"] == counted.input_tokens
    with box.http() as client:
        assert client.head("/").status_code == 200 and client.get("/").status_code == 200
        bad = client.post("/v1/messages/count_tokens", json={"model": "m", "messages": [
            {"role": "user", "content": [{"type": "image", "source": {
                "type": "url", "url": "https://attacker.example/x.png"}}]}]})
        assert bad.status_code == 400
        stream = {"model": "m", "max_tokens": 5, "messages": USER, "stream": True}
        assert client.post("/v1/messages?beta=true", json=stream).status_code == 200
    with box.http(token=False) as client:
        answers = [client.head("/"), client.get("/"),
                   client.post("/v1/messages/count_tokens?beta=true", json={"model": "m", "messages": USER}),
                   client.post("/v1/messages?beta=true", json=stream)]
    assert [a.status_code for a in answers] == [401, 401, 401, 401]
    with pytest.raises(anthropic.AuthenticationError):
        box.sdk("wrong").messages.count_tokens(model="m", messages=USER)


def test_malformed_beta_header_is_dropped_with_a_refusal(make_box: Callable[..., Box]) -> None:
    box = make_box(scripted({"text": "a"}, {"text": "b"}))
    body = {"model": "m", "max_tokens": 5, "messages": USER, "stream": True}
    with box.http() as client:
        assert client.post("/v1/messages", json=body,
                           headers={"anthropic-beta": "ok-1,Bad Token"}).status_code == 200
        many = ",".join(f"b{i}" for i in range(17))
        assert client.post("/v1/messages", json=body, headers={"anthropic-beta": many}).status_code == 200
    reasons = [e["data"]["reason"] for e in box.lines("events.jsonl") if e["kind"] == "gateway_refused"]
    assert reasons == ["anthropic-beta dropped: token 'Bad Token' is not a beta name",
                       "anthropic-beta dropped: 17 tokens (at most 16)"]


def test_the_model_lock_is_held_until_the_stream_ends(make_box: Callable[..., Box]) -> None:
    release = threading.Event()

    class Slow:
        def __init__(self) -> None:
            self.inner = scripted({"text": "first"}, {"text": "second"})
            self.started: list[str] = []

        async def create(self, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
            raise AssertionError("not used")

        async def stream(self, request: dict[str, Any], **kw: Any) -> AsyncIterator[dict[str, Any]]:
            import asyncio
            message = await self.inner.create(request)
            self.started.append(message["content"][0]["text"])
            events = list(message_events(message))
            yield events[0]
            while not release.is_set():  # the first stream stays open until the test lets it end
                await asyncio.sleep(0.005)
            for event in events[1:]:
                yield event

        async def count_tokens(self, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
            return {"input_tokens": 1}

        async def aclose(self) -> None:
            return None

    provider = Slow()
    box = make_box(provider)
    body = {"model": "m", "max_tokens": 5, "messages": USER, "stream": True}
    results: list[str] = []
    with box.http() as one, box.http() as two, one.stream("POST", "/v1/messages", json=body) as first:
        lines = first.iter_lines()
        assert next(lines) == "event: message_start"  # the first event arrived, the stream is open
        second = threading.Thread(target=lambda: results.append(
            two.post("/v1/messages", json=body).text))
        second.start()
        lock = box.gw._model_lock
        assert lock is not None
        while not getattr(lock, "_waiters", None):  # the second request waits on the model lock
            threading.Event().wait(0.005)
        assert provider.started == ["first"]
        release.set()
        rest = "\n".join(lines)
        second.join(30)
    assert "message_stop" in rest and provider.started == ["first", "second"]
    assert "message_stop" in results[0]


def test_the_agent_leaving_mid_stream_closes_the_models_stream(make_box: Callable[..., Box]) -> None:
    closed = threading.Event()

    class Endless:
        def __init__(self) -> None:
            self.inner = scripted({"text": "one"}, {"text": "two"})

        async def create(self, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
            raise AssertionError("not used")

        async def stream(self, request: dict[str, Any], **kw: Any) -> AsyncIterator[dict[str, Any]]:
            import asyncio
            message = await self.inner.create(request)
            if message["content"][0]["text"] == "two":
                for event in message_events(message):
                    yield event
                return
            try:
                yield next(iter(message_events(message)))
                while True:  # a model that never finishes
                    await asyncio.sleep(0.01)
                    yield {"type": "ping"}
            finally:
                closed.set()

        async def count_tokens(self, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
            return {"input_tokens": 1}

        async def aclose(self) -> None:
            return None

    box = make_box(Endless())
    body = {"model": "m", "max_tokens": 5, "messages": USER, "stream": True}
    with box.http() as client:
        with client.stream("POST", "/v1/messages", json=body) as resp:
            assert next(resp.iter_lines()) == "event: message_start"
        # the connection is closed with the response (httpx does not reuse an unread stream)
        assert closed.wait(10)
        again = client.post("/v1/messages", json=body)  # the model lock was released
    assert again.status_code == 200 and "message_stop" in again.text
    first, second = box.lines("transcript.jsonl")
    assert first["error"] == "the agent closed the connection mid-stream" and second["error"] is None
    assert box.gw.failure is None and box.gw.budget.input_tokens > 0
