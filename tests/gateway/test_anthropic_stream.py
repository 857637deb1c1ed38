"""The Anthropic provider's streaming path against a local fake upstream on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runner.gateway import AnthropicProvider, Budget, Gateway, Redactor, RetryPolicy
from runner.gateway.provider import ProviderConnectionError, ProviderHTTPError
from runner.gateway.sse import message_events
from runner.protocol import DecideRequest, DecideResponse
from tests.gateway.conftest import FakeAnthropic, Reply, error_body, message, sse_chunks

BETAS = "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27"
BODY = {"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "task"}], "stream": True}


def answer(text: str = "streamed answer", **usage: int) -> list[dict[str, Any]]:
    msg = message(text)
    msg["usage"] = {"input_tokens": 30, "cache_read_input_tokens": 12,
                    "cache_creation_input_tokens": 3, "output_tokens": 21, **usage}
    return list(message_events(msg))


def allow_all(req: DecideRequest) -> DecideResponse:
    return DecideResponse(allow=True, decision_id="d")


@pytest.fixture
def gateway_for(sock_dir: Path, tmp_path: Path) -> Iterator[Callable[[FakeAnthropic], tuple[Gateway, httpx.Client]]]:
    started: list[tuple[Gateway, httpx.Client]] = []

    def make(fake: FakeAnthropic) -> tuple[Gateway, httpx.Client]:
        gw = Gateway(socket_path=sock_dir / "gw.sock",
                     provider=AnthropicProvider(api_key="sk-ant-host", base_url=fake.base_url, timeout=10),
                     decide=allow_all, run_dir=tmp_path / "run", budget=Budget(max_requests=5, max_tokens=10**6),
                     redactor=Redactor(), retry=RetryPolicy(retries=2, backoff_base=0.01))
        gw.start()
        client = httpx.Client(transport=httpx.HTTPTransport(uds=str(sock_dir / "gw.sock")),
                              base_url="http://gateway", timeout=30, headers={"x-api-key": gw.token})
        started.append((gw, client))
        return gw, client

    yield make
    for gw, client in started:
        client.close()
        gw.stop()


def events_of(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def test_passthrough_in_order_usage_charged_beta_forwarded(gateway_for: Any, tmp_path: Path) -> None:
    events = answer()
    hold = threading.Event()
    # A comment and a ping in the upstream stream, as the API sends them.
    chunks = [b": keep-alive\n\n", *sse_chunks([events[0], {"type": "ping"}, *events[1:]])]
    reply = Reply(sse=chunks, hold=hold)
    with FakeAnthropic([reply]) as fake:
        gw, client = gateway_for(fake)
        with client.stream("POST", "/v1/messages?beta=true", json=BODY,
                           headers={"anthropic-beta": BETAS}) as resp:
            assert resp.status_code == 200
            lines = resp.iter_lines()
            first = [next(lines), next(lines)]
            # The first event is downstream while upstream still holds its last one: no buffering.
            assert reply.held.wait(10)
            hold.set()
            rest = "\n".join(lines)
    got = events_of("\n".join(first) + "\n" + rest)
    assert got == [events[0], {"type": "ping"}, *events[1:]]
    seen = fake.seen[0]
    assert seen["path"] == "/v1/messages" and seen["body"]["stream"] is True
    assert seen["headers"]["anthropic-beta"] == BETAS and seen["headers"]["x-api-key"] == "sk-ant-host"
    assert gw.token not in json.dumps(seen)
    assert (gw.budget.input_tokens, gw.budget.output_tokens) == (30 + 12 + 3, 21)
    entry = json.loads((tmp_path / "run" / "transcript.jsonl").read_text().splitlines()[0])
    assert entry["response"]["content"] == [{"type": "text", "text": "streamed answer"}]
    assert entry["anthropic_beta"] == BETAS and entry["stream"] is True


def test_malformed_beta_is_not_forwarded(gateway_for: Any) -> None:
    with FakeAnthropic([Reply(sse=sse_chunks(answer()))]) as fake:
        _, client = gateway_for(fake)
        resp = client.post("/v1/messages", json=BODY, headers={"anthropic-beta": "ok-1,x;y=1"})
    assert resp.status_code == 200
    assert "anthropic-beta" not in {k.lower() for k in fake.seen[0]["headers"]}


def test_retry_before_the_first_event(gateway_for: Any) -> None:
    replies = [Reply(429, error_body("rate_limit_error", "slow down"), {"retry-after": "0"}),
               Reply(sse=sse_chunks(answer("after 429")))]
    with FakeAnthropic(replies) as fake:
        gw, client = gateway_for(fake)
        resp = client.post("/v1/messages", json=BODY)
    assert resp.status_code == 200 and len(fake.seen) == 2
    text = "".join(e["delta"].get("text", "") for e in events_of(resp.text)
                   if e["type"] == "content_block_delta")
    assert text == "after 429" and gw.failure is None and gw.stats.retries == 1


def test_upstream_error_event_mid_stream(gateway_for: Any) -> None:
    events = [*answer()[:3], {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}]
    with FakeAnthropic([Reply(sse=sse_chunks(events))]) as fake:
        gw, client = gateway_for(fake)
        resp = client.post("/v1/messages", json=BODY)
    got = events_of(resp.text)
    assert got[:3] == events[:3] and got[-1]["type"] == "error"
    assert got[-1]["error"]["type"] == "overloaded_error" and len(fake.seen) == 1  # not retried
    assert gw.failure is not None and "Overloaded" in gw.failure
    assert gw.budget.input_tokens == 45  # message_start's usage is charged


def test_stream_cut_before_message_stop_fails(gateway_for: Any) -> None:
    with FakeAnthropic([Reply(sse=sse_chunks(answer()[:-1]))]) as fake:
        gw, client = gateway_for(fake)
        resp = client.post("/v1/messages", json=BODY)
    assert events_of(resp.text)[-1]["type"] == "error"
    assert gw.failure is not None and "message_stop" in gw.failure


def test_count_tokens_is_forwarded(gateway_for: Any, tmp_path: Path) -> None:
    with FakeAnthropic([Reply(body={"input_tokens": 42})]) as fake:
        gw, client = gateway_for(fake)
        resp = client.post("/v1/messages/count_tokens?beta=true", headers={"anthropic-beta": BETAS},
                           json={"model": "m", "messages": BODY["messages"]})
    assert resp.json() == {"input_tokens": 42}
    assert fake.seen[0]["path"] == "/v1/messages/count_tokens"
    assert fake.seen[0]["headers"]["anthropic-beta"] == BETAS
    assert gw.budget.requests == 0 and gw.budget.tokens == 0


def test_provider_stream_errors() -> None:
    async def run(base_url: str) -> list[str]:
        provider = AnthropicProvider(api_key="k", base_url=base_url, timeout=5)
        out: list[str] = []
        for _ in range(3):
            try:
                async for _event in provider.stream(BODY):
                    pass
            except (ProviderHTTPError, ProviderConnectionError) as exc:
                out.append(str(exc))
        await provider.aclose()
        return out

    replies = [Reply(400, error_body("invalid_request_error", "bad")),
               Reply(sse=[b"event: message_start\ndata: not json\n\n"]),
               Reply(body=message())]  # JSON, not an event stream
    with FakeAnthropic(replies) as fake:
        errors = asyncio.run(run(fake.base_url))
    assert errors[0].startswith("HTTP 400 invalid_request_error: bad")
    assert "not JSON" in errors[1] and "not an event stream" in errors[2]
    refused = asyncio.run(run("http://127.0.0.1:9"))
    assert all(e.startswith("connect:") for e in refused)
