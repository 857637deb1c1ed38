"""The request allowlist: everything Claude Code sends passes; what the provider would fetch does not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.gateway.shapes import RefusedShape, allowed_count_request, allowed_request

CAPTURED = Path(__file__).parent / "data" / "claude-code-requests.jsonl"


def captured() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CAPTURED.read_text().splitlines() if line.strip()]


def base(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], **extra}


def test_every_captured_claude_code_request_is_allowed_unchanged_but_max_tokens() -> None:
    requests = captured()
    assert len(requests) == 3
    for req in requests:
        body = req["body"]
        assert req["path"].startswith("/v1/messages") and body["stream"] is True
        forward, asked = allowed_request(body, max_tokens_cap=32_000)
        assert asked == body["max_tokens"] == 128_000 and forward["max_tokens"] == 32_000
        assert {**forward, "max_tokens": body["max_tokens"]} == body  # nothing dropped, nothing added
        assert any(m["role"] == "system" for m in forward["messages"])
        assert any(t.get("defer_loading") for t in forward["tools"])


def test_clamping_max_tokens_keeps_the_thinking_budget_below_it() -> None:
    body = base(max_tokens=64_000, thinking={"type": "enabled", "budget_tokens": 40_000})
    forward, asked = allowed_request(body, max_tokens_cap=32_000)
    assert asked == 64_000 and forward["max_tokens"] == 32_000
    assert forward["thinking"] == {"type": "enabled", "budget_tokens": 31_999}
    small = base(max_tokens=64_000, thinking={"type": "enabled", "budget_tokens": 2_000})
    assert allowed_request(small, max_tokens_cap=32_000)[0]["thinking"]["budget_tokens"] == 2_000


def test_the_shapes_claude_code_uses() -> None:
    body = base(
        system=[{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
        tools=[{"name": "T", "description": "d", "defer_loading": True,
                "input_schema": {"type": "object", "anyOf": [{"$ref": "#/x"}], "x-any": [1]}}],
        metadata={"user_id": '{"session_id": "s"}'},
        thinking={"type": "enabled", "budget_tokens": 1024, "display": "summarized"},
        context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"},
                                      {"type": "clear_tool_uses_20250919",
                                       "trigger": {"type": "input_tokens", "value": 1000},
                                       "exclude_tools": ["Read"]}]},
        output_config={"effort": "high"},
        tool_choice={"type": "auto"}, temperature=1.0, top_p=0.9, top_k=5, stop_sequences=["x"],
        stream=True,
        messages=[
            {"role": "user", "content": "task"},
            {"role": "system", "content": "env", "output_config": {"effort": "low"}},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "tool_use", "id": "toolu_1", "name": "T", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                          "content": "ok", "cache_control": {"type": "ephemeral"}}]},
        ],
    )
    forward, asked = allowed_request(body, max_tokens_cap=32_000)
    assert asked is None and forward == body


@pytest.mark.parametrize("extra", [
    {"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "url", "url": "https://attacker.example/x.png"}}]}]},
    {"messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "file", "file_id": "file_1"}}]}]},
    {"messages": [{"role": "user", "content": [{"type": "thinking", "thinking": "x", "signature": "s"}]}]},
    {"tools": [{"type": "web_fetch_20250910", "name": "web_fetch"}]},
    {"context_management": {"edits": [{"type": "fetch", "url": "https://attacker.example"}]}},
    {"context_management": {"edits": [{"type": "clear_tool_uses_20250919", "url": "https://a.example"}]}},
    {"thinking": {"type": "enabled", "budget_tokens": 1024, "display": "https://a.example"}},
    {"output_config": {"effort": "high", "url": "https://a.example"}},
    {"mcp_servers": [{"type": "url", "url": "https://attacker.example", "name": "x"}]},
    {"stream": "yes"},
])
def test_what_the_provider_would_act_on_stays_refused(extra: dict[str, Any]) -> None:
    with pytest.raises(RefusedShape):
        allowed_request(base(**extra), max_tokens_cap=32_000)


def test_count_tokens_shape() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "T", "input_schema": {"type": "object"}}]}
    assert allowed_count_request(body) == body
    with pytest.raises(RefusedShape):
        allowed_count_request({**body, "max_tokens": 5})
    with pytest.raises(RefusedShape):
        allowed_count_request({**body, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": "https://attacker.example/x.png"}}]}]})
