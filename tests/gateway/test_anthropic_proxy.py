"""The real-API provider against a fake Anthropic server on 127.0.0.1: real HTTP, real retries."""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

import pytest

from runner.errors import ConfigError
from runner.gateway.anthropic_proxy import AnthropicProvider, parse_retry_after
from runner.gateway.provider import ProviderFailed
from runner.gateway.retry import Retrier, RetryPolicy
from tests.gateway.conftest import FakeAnthropic, Reply, error_body, message

REQ: dict[str, Any] = {"model": "claude-test", "max_tokens": 50,
                       "messages": [{"role": "user", "content": "hello"}]}
FAST = RetryPolicy(retries=3, backoff_base=0.01, backoff_max=0.05)


async def call(base_url: str, policy: RetryPolicy = FAST) -> Any:
    provider = AnthropicProvider(api_key="sk-host-key", base_url=base_url, timeout=5)
    try:
        return await Retrier(provider, policy).create(REQ)
    finally:
        await provider.aclose()


def test_429_with_retry_after_then_success() -> None:
    replies = [Reply(429, error_body("rate_limit_error", "slow down"), {"retry-after": "0.3"}),
               Reply(200, message("hello back"))]
    with FakeAnthropic(replies) as fake:
        result = asyncio.run(call(fake.base_url))
    assert result.response["content"][0]["text"] == "hello back"
    assert result.retries == 1 and "rate_limit_error: slow down" in result.failures[0]
    assert len(fake.seen) == 2
    assert fake.seen[1]["time"] - fake.seen[0]["time"] >= 0.29  # retry-after honoured over HTTP
    first = fake.seen[0]
    assert first["path"] == "/v1/messages"
    assert first["headers"]["x-api-key"] == "sk-host-key"
    assert first["headers"]["anthropic-version"] == "2023-06-01"
    assert first["body"] == REQ


def test_repeated_500_fails_cleanly_after_all_retries() -> None:
    with FakeAnthropic([Reply(500, error_body("api_error", "boom"))] * 10) as fake, \
            pytest.raises(ProviderFailed) as info:
        asyncio.run(call(fake.base_url))
    assert len(fake.seen) == 4  # 1 + 3 retries
    assert info.value.status == 500 and len(info.value.attempts) == 4
    assert "HTTP 500 api_error: boom" in str(info.value)


def test_overloaded_and_disconnect_are_retried() -> None:
    replies = [Reply(529, error_body("overloaded_error", "busy")), Reply(disconnect=True),
               Reply(200, message("finally"))]
    with FakeAnthropic(replies) as fake:
        result = asyncio.run(call(fake.base_url))
    assert result.response["content"][0]["text"] == "finally"
    assert result.retries == 2 and result.failures[1].startswith("disconnect")
    assert len(fake.seen) == 3


def test_client_errors_and_should_retry_false_are_not_retried() -> None:
    with FakeAnthropic([Reply(400, error_body("invalid_request_error", "bad"))]) as fake:
        with pytest.raises(ProviderFailed, match="invalid_request_error: bad"):
            asyncio.run(call(fake.base_url))
        assert len(fake.seen) == 1
    with FakeAnthropic([Reply(500, error_body("api_error", "x"), {"x-should-retry": "false"})]) as fake:
        with pytest.raises(ProviderFailed):
            asyncio.run(call(fake.base_url))
        assert len(fake.seen) == 1


def test_connection_refused_is_retried_then_fails() -> None:
    with FakeAnthropic([]) as fake:
        url = fake.base_url
    with pytest.raises(ProviderFailed) as info:  # the server is gone: nothing listens
        asyncio.run(call(url, RetryPolicy(retries=2, backoff_base=0.01, backoff_max=0.02)))
    assert len(info.value.attempts) == 3 and info.value.attempts[0].startswith("connect")


def test_parse_retry_after() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after({"retry-after": future}) or 0) <= 31


def test_from_env() -> None:
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY is not set"):
        AnthropicProvider.from_env({})
    prov = AnthropicProvider.from_env({"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "http://x:1/"})
    assert prov.url == "http://x:1/v1/messages"
