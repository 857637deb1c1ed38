"""The gateway over a real unix socket: messages, decide (fail closed), events, errors, budget."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runner.errors import BudgetExceeded, EnvironmentProblem
from runner.gateway import (
    AnthropicProvider,
    Budget,
    Gateway,
    Redactor,
    RetryPolicy,
    ScriptedProvider,
)
from runner.gateway.provider import ProviderFailed
from runner.gateway.scripted import Scenario
from runner.protocol import DecideReason, DecideRequest, DecideResponse, EventRequest
from tests.gateway.conftest import FakeAnthropic, Reply, error_body, message

AWS = "AKIAIOSFODNN7EXAMPLE"
HOST_KEY = "sk-ant-api03-" + "hostkey" * 5


class Recording:
    """Wraps a provider and keeps what actually left the gateway."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sent: list[dict[str, Any]] = []

    async def create(self, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
        self.sent.append(request)
        result: dict[str, Any] = await self.inner.create(request, **kw)
        return result

    def stream(self, request: dict[str, Any], **kw: Any) -> AsyncIterator[dict[str, Any]]:
        self.sent.append(request)
        events: AsyncIterator[dict[str, Any]] = self.inner.stream(request, **kw)
        return events

    async def count_tokens(self, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.inner.count_tokens(request, **kw)
        return result

    async def aclose(self) -> None:
        await self.inner.aclose()


def allow_all(req: DecideRequest) -> DecideResponse:
    return DecideResponse(allow=True, decision_id=f"d-{req.tool}")


def scripted(*turns: dict[str, Any]) -> ScriptedProvider:
    return ScriptedProvider(scenario=Scenario.model_validate({"turns": list(turns)}))


def messages_body(*contents: Any) -> dict[str, Any]:
    msgs: list[dict[str, Any]] = [{"role": "user", "content": "task"}]
    for c in contents:
        msgs.append(c)
    return {"model": "claude-test", "max_tokens": 100, "messages": msgs}


@pytest.fixture
def make_gateway(sock_dir: Path, tmp_path: Path) -> Iterator[Callable[..., tuple[Gateway, httpx.Client]]]:
    started: list[tuple[Gateway, httpx.Client]] = []

    def make(provider: Any = None, decide: Callable[[DecideRequest], DecideResponse] = allow_all,
             budget: Budget | None = None, redactor: Redactor | None = None,
             **kw: Any) -> tuple[Gateway, httpx.Client]:
        gw = Gateway(
            socket_path=sock_dir / "gw.sock", provider=provider or scripted({"text": "hello"}),
            decide=decide, run_dir=tmp_path / "run", budget=budget or Budget(max_requests=10, max_tokens=10**6),
            redactor=redactor or Redactor(), retry=kw.pop("retry", RetryPolicy(retries=2, backoff_base=0.01)),
            **kw,
        )
        gw.start()
        client = httpx.Client(transport=httpx.HTTPTransport(uds=str(sock_dir / "gw.sock")),
                              base_url="http://gateway", timeout=10, headers={"x-api-key": gw.token})
        started.append((gw, client))
        return gw, client

    yield make
    for gw, client in started:
        client.close()
        gw.stop()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_messages_round_trip_and_transcript(make_gateway: Any, tmp_path: Path) -> None:
    gw, client = make_gateway(scripted({"text": "hi", "tool_calls": [{"name": "LS", "input": {"path": "."}}]}))
    resp = client.post("/v1/messages", json=messages_body())
    assert resp.status_code == 200
    body = resp.json()
    assert body["stop_reason"] == "tool_use" and body["content"][1]["name"] == "LS"
    [line] = lines(tmp_path / "run" / "transcript.jsonl")
    assert line["seq"] == 1 and line["error"] is None and line["retries"] == 0
    assert line["request"]["messages"][0]["content"] == "task"
    assert line["response"]["id"] == body["id"]
    assert gw.stats.requests == 1 and gw.stats.output_tokens == body["usage"]["output_tokens"]
    assert gw.failure is None


def test_secrets_are_redacted_before_leaving_and_in_the_transcript(make_gateway: Any, tmp_path: Path) -> None:
    provider = Recording(scripted({"text": "ok"}))
    redactor = Redactor.from_env({"ANTHROPIC_API_KEY": HOST_KEY, "PATH": "/usr/bin:/bin"},
                                 extra={"file:.env:DB_PASSWORD": "pg-password-42"})
    gw, client = make_gateway(provider, redactor=redactor)
    tool_result = {"role": "user", "content": [{
        "type": "tool_result", "tool_use_id": "toolu_1",
        "content": f"KEY={HOST_KEY}\naws={AWS}\ndb=pg-password-42\n"}]}
    assistant = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash",
                                                    "input": {"command": "env"}}]}
    resp = client.post("/v1/messages", json=messages_body(assistant, tool_result))
    assert resp.status_code == 200
    sent = json.dumps(provider.sent[0])
    for secret in (HOST_KEY, AWS, "pg-password-42"):
        assert secret not in sent
    assert "[REDACTED:env:ANTHROPIC_API_KEY]" in sent and "[REDACTED:aws-access-key]" in sent
    assert "[REDACTED:file:.env:DB_PASSWORD]" in sent
    run = tmp_path / "run"
    transcript = (run / "transcript.jsonl").read_text()
    for secret in (HOST_KEY, AWS, "pg-password-42"):
        assert secret not in transcript
    logged = lines(run / "redactions.jsonl")
    assert {r["rule"] for r in logged} == {"env:ANTHROPIC_API_KEY", "aws-access-key", "file:.env:DB_PASSWORD"}
    assert all(r["where"] == "messages[2].content[0].content" for r in logged)
    assert HOST_KEY not in (run / "redactions.jsonl").read_text()
    assert gw.stats.redactions == 3
    # the same history sent again is redacted again but logged once
    client.post("/v1/messages", json=messages_body(assistant, tool_result))
    assert AWS not in json.dumps(provider.sent[1])
    assert len(lines(run / "redactions.jsonl")) == 3


def test_decide_passes_through(make_gateway: Any) -> None:
    def decide(req: DecideRequest) -> DecideResponse:
        if req.input.get("file_path", "").startswith("frontend/"):
            return DecideResponse(allow=False, decision_id="d2", reasons=[
                DecideReason(policy="scope", rule="write_outside_writable", msg="only backend/")])
        return DecideResponse(allow=True, decision_id="d1")

    gw, client = make_gateway(decide=decide)
    ok = client.post("/v1/decide", json={"tool": "Write", "input": {"file_path": "backend/a.py"},
                                         "measured": [{"raw": "backend/a.py", "real": "/workspace/backend/a.py",
                                                       "symlink": False, "exists": False}]})
    assert ok.status_code == 200 and ok.json() == {"allow": True, "reasons": [], "decision_id": "d1"}
    no = client.post("/v1/decide", json={"tool": "Write", "input": {"file_path": "frontend/a.js"}})
    assert no.json()["allow"] is False and no.json()["reasons"][0]["rule"] == "write_outside_writable"
    assert gw.stats.decisions == 2 and gw.stats.denied == 1


@pytest.mark.parametrize("bad", ["raise", "wrong-type"])
def test_decide_fails_closed(make_gateway: Any, bad: str) -> None:
    def decide(req: DecideRequest) -> Any:
        if bad == "raise":
            raise RuntimeError("engine exploded")
        return {"allow": True}  # not a DecideResponse: must not be taken as an allow

    gw, client = make_gateway(decide=decide)
    resp = client.post("/v1/decide", json={"tool": "Bash", "input": {"command": "ls"}})
    assert resp.status_code == 200
    body = resp.json()
    assert body["allow"] is False
    assert body["reasons"][0]["msg"].startswith("policy evaluation failed: ")
    assert body["decision_id"].startswith("failed-")
    assert gw.stats.decide_errors == 1


def test_events_are_recorded_and_forwarded(make_gateway: Any, tmp_path: Path) -> None:
    seen: list[EventRequest] = []
    _gw, client = make_gateway(on_event=seen.append, redactor=Redactor({"env:K": "event-secret-1"}))
    resp = client.post("/v1/events", json={"kind": "tool_call", "data": {"name": "Bash", "cmd": "x event-secret-1"}})
    assert resp.status_code == 200 and resp.json() == {"ok": True}
    assert [e.kind for e in seen] == ["tool_call"]
    assert seen[0].data["cmd"] == "x [REDACTED:env:K]"
    [line] = lines(tmp_path / "run" / "events.jsonl")
    assert line["kind"] == "tool_call" and line["data"]["name"] == "Bash" and "time" in line
    assert "event-secret-1" not in (tmp_path / "run" / "events.jsonl").read_text()
    assert client.post("/v1/events", json={"kind": "nonsense"}).status_code == 400


def test_routes_and_malformed_bodies(make_gateway: Any) -> None:
    _, client = make_gateway()
    assert client.post("/v1/nope", json={}).status_code == 404
    assert client.get("/v1/messages").status_code == 405
    bad = client.post("/v1/messages", content=b"{not json")
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    assert client.post("/v1/decide", content=b"[1, 2]").status_code == 400
    assert client.post("/v1/decide", json={"tool": "Bash"}).status_code == 400
    assert client.post("/v1/messages", json={"model": "m", "max_tokens": 1, "messages": []}).status_code == 400


@pytest.mark.parametrize(
    "extra",
    [
        {"tools": [{"type": "web_search_20250305", "name": "web_search"}]},
        {"mcp_servers": [{"type": "url", "url": "https://evil.example"}]},
        {"container": "container_1"},
        {"messages": [{"role": "user", "content": [{"type": "document", "source": {
            "type": "url", "url": "https://evil.example/a.pdf"}}]}], "stream": True},
    ],
)
def test_requests_that_would_widen_the_sandbox_are_refused(make_gateway: Any, extra: dict[str, Any]) -> None:
    provider = Recording(scripted({"text": "x"}))
    _, client = make_gateway(provider)
    resp = client.post("/v1/messages", json={**messages_body(), **extra})
    assert resp.status_code == 400 and provider.sent == []


def test_model_is_forced_when_configured(make_gateway: Any) -> None:
    provider = Recording(scripted({"text": "x"}))
    _, client = make_gateway(provider, model="claude-allowed")
    client.post("/v1/messages", json={**messages_body(), "model": "claude-expensive"})
    assert provider.sent[0]["model"] == "claude-allowed"


def test_budget_exceeded_fails_the_run(make_gateway: Any, tmp_path: Path) -> None:
    gw, client = make_gateway(scripted({"text": "a"}, {"text": "b"}), budget=Budget(max_requests=1, max_tokens=10**6))
    assert client.post("/v1/messages", json=messages_body()).status_code == 200
    resp = client.post("/v1/messages", json=messages_body())
    assert resp.status_code == 402 and resp.json()["error"]["type"] == "billing_error"
    assert "run budget exceeded: requests > 1" in resp.json()["error"]["message"]
    assert isinstance(gw.failure_error, BudgetExceeded) and gw.failure == "run budget exceeded: requests > 1"
    assert lines(tmp_path / "run" / "transcript.jsonl")[-1]["error"] == gw.failure


def test_token_budget(make_gateway: Any) -> None:
    gw, client = make_gateway(scripted({"text": "a"}, {"text": "b"}), budget=Budget(max_requests=9, max_tokens=5))
    assert client.post("/v1/messages", json=messages_body()).status_code == 200
    assert client.post("/v1/messages", json=messages_body()).status_code == 402
    assert gw.failure == "run budget exceeded: tokens > 5"


def test_provider_failure_marks_the_run_failed(make_gateway: Any, tmp_path: Path) -> None:
    gw, client = make_gateway(scripted({"fault": {"status": 503, "times": 5}}, {"text": "never"}),
                              retry=RetryPolicy(retries=2, backoff_base=0.01, backoff_max=0.01))
    resp = client.post("/v1/messages", json=messages_body())
    assert resp.status_code == 502 and "after 3 attempts" in resp.json()["error"]["message"]
    assert isinstance(gw.failure_error, ProviderFailed) and gw.failure_error.exit_code == 3
    line = lines(tmp_path / "run" / "transcript.jsonl")[-1]
    assert line["response"] is None and len(line["failures"]) == 3 and line["retries"] == 2
    later = client.post("/v1/messages", json=messages_body())
    assert later.status_code == 503 and "already failed" in later.json()["error"]["message"]


def test_real_http_provider_through_the_gateway(make_gateway: Any) -> None:
    replies = [Reply(429, error_body("rate_limit_error", "wait"), {"retry-after": "0.05"}),
               Reply(200, message("from the fake API"))]
    with FakeAnthropic(replies) as fake:
        provider = AnthropicProvider(api_key=HOST_KEY, base_url=fake.base_url, timeout=5)
        gw, client = make_gateway(provider, redactor=Redactor.from_env({"ANTHROPIC_API_KEY": HOST_KEY}))
        leak = {"role": "assistant", "content": [{"type": "text", "text": f"the key is {HOST_KEY}"}]}
        resp = client.post("/v1/messages", json=messages_body(leak, {"role": "user", "content": "ok"}))
    assert resp.status_code == 200 and resp.json()["content"][0]["text"] == "from the fake API"
    assert len(fake.seen) == 2 and gw.stats.retries == 1
    assert fake.seen[0]["headers"]["x-api-key"] == HOST_KEY  # the key is added on the host...
    assert HOST_KEY not in json.dumps(fake.seen[1]["body"])  # ...and never sent as content


def test_start_failure_and_stop(sock_dir: Path, tmp_path: Path) -> None:
    gw = Gateway(socket_path=sock_dir / "missing-dir" / "gw.sock", provider=scripted({"text": "x"}),
                 decide=allow_all, run_dir=tmp_path / "run", budget=Budget(max_requests=1, max_tokens=1),
                 redactor=Redactor())
    with pytest.raises(EnvironmentProblem, match="gateway failed to start"):
        gw.start(timeout=5)
    ok = Gateway(socket_path=sock_dir / "gw.sock", provider=scripted({"text": "x"}), decide=allow_all,
                 run_dir=tmp_path / "run2", budget=Budget(max_requests=1, max_tokens=1), redactor=Redactor())
    with ok:
        assert (sock_dir / "gw.sock").exists()
    assert not (sock_dir / "gw.sock").exists()
    ok.stop()  # idempotent


def test_model_output_is_redacted_in_the_transcript_only(make_gateway: Any, tmp_path: Path) -> None:
    gw, client = make_gateway(scripted({"text": f"use {AWS}"}, {"text": f"again {AWS}"}))
    first = client.post("/v1/messages", json=messages_body()).json()
    second = client.post("/v1/messages", json=messages_body()).json()
    assert first["content"][0]["text"] == f"use {AWS}"  # the agent gets the model's answer as is
    assert second["content"][0]["text"] == f"again {AWS}"
    transcript = (tmp_path / "run" / "transcript.jsonl").read_text()
    assert AWS not in transcript and "use [REDACTED:aws-access-key]" in transcript
    wheres = [r["where"] for r in lines(tmp_path / "run" / "redactions.jsonl")]
    assert wheres == ["responses[1].content[0].text", "responses[2].content[0].text"]
    assert gw.stats.redactions == 2
