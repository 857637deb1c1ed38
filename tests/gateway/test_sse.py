"""Server-sent events: parsing what the API writes, synthesizing and assembling a message."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runner.gateway.sse import MessageAccumulator, SSEProtocolError, encode, message_events, parse


async def _lines(text: str) -> AsyncIterator[str]:
    for line in text.splitlines():
        yield line


def parsed(text: str) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        return [e async for e in parse(_lines(text))]
    return asyncio.run(run())


def test_parse_fields_comments_and_multiline_data() -> None:
    text = (": a comment\n"
            "event: ping\ndata: {\"type\": \"ping\"}\n\n"
            "event: message_stop\ndata: {\"type\":\ndata:  \"message_stop\"}\nid: 7\n\n"
            "event: content_block_stop\ndata: {\"index\": 0}\n\n"
            "\n\n"
            "data: {\"type\": \"message_delta\", \"delta\": {}}")
    assert parsed(text) == [{"type": "ping"}, {"type": "message_stop"},
                            {"type": "content_block_stop", "index": 0},
                            {"type": "message_delta", "delta": {}}]


@pytest.mark.parametrize("text", ["data: not json\n\n", "data: [1]\n\n", "data: {}\n\n"])
def test_parse_refuses_what_is_not_an_event(text: str) -> None:
    with pytest.raises(SSEProtocolError):
        parsed(text)


def test_synthesized_events_round_trip_through_the_wire_and_the_accumulator() -> None:
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
               "content": [{"type": "text", "text": "Let me look at this."},
                           {"type": "tool_use", "id": "toolu_1", "name": "Bash",
                            "input": {"command": "ls -la", "n": [1, 2]}}],
               "stop_reason": "tool_use", "stop_sequence": None,
               "usage": {"input_tokens": 40, "output_tokens": 12}}
    events = list(message_events(message))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    deltas = [e["delta"]["type"] for e in events if e["type"] == "content_block_delta"]
    assert deltas.count("text_delta") == 3 and deltas.count("input_json_delta") == 3
    wire = b"".join(encode(e) for e in events).decode()
    acc = MessageAccumulator()
    for e in parsed(wire):
        acc.add(e)
    assert acc.stopped and acc.result() == message


def test_accumulator_thinking_usage_and_unfinished_tool_input() -> None:
    acc = MessageAccumulator()
    acc.add({"type": "ping"})
    acc.add({"type": "message_start", "message": {"id": "m", "content": [], "usage": {
        "input_tokens": 5, "cache_read_input_tokens": 7, "output_tokens": 1}}})
    acc.add({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}})
    acc.add({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "a"}})
    acc.add({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "b"}})
    acc.add({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "S"}})
    acc.add({"type": "content_block_stop", "index": 0})
    acc.add({"type": "content_block_start", "index": 1, "content_block": {
        "type": "tool_use", "id": "t", "name": "Read", "input": {}}})
    acc.add({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta",
                                                                 "partial_json": '{"file_'}})
    acc.add({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 30}})
    out = acc.result()
    assert out is not None and not acc.stopped
    assert out["content"][0] == {"type": "thinking", "thinking": "ab", "signature": "S"}
    assert out["content"][1]["input"] == {"unparsed_input": '{"file_'}
    assert out["usage"] == {"input_tokens": 5, "cache_read_input_tokens": 7, "output_tokens": 30}
    assert out["stop_reason"] == "max_tokens"
    assert json.loads(encode({"type": "x", "s": "\ud800"}).split(b"data: ")[1])["s"] == "\ud800"
