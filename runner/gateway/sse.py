"""Server-sent events of the streaming Messages API: encode, parse, synthesize, assemble.

A stream is ``message_start``, then per content block ``content_block_start``, some
``content_block_delta`` (``text_delta``, ``input_json_delta``, ``thinking_delta``,
``signature_delta``) and ``content_block_stop``, then ``message_delta`` (stop reason, usage)
and ``message_stop``; ``ping`` may come anywhere and ``error`` ends a failed stream. On the
wire each event is ``event: <type>`` and ``data: <json>`` lines, then an empty line.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

# The Messages API's error types, by the HTTP status the same failure has on the JSON path.
ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
                "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
                "rate_limit_error": 429, "api_error": 500, "overloaded_error": 529}


class SSEProtocolError(Exception):
    """The upstream stream is not a Messages API event stream."""


def encode(event: dict[str, Any]) -> bytes:
    """One event on the wire (non-ASCII escaped: a lone surrogate must not break the stream)."""
    data = json.dumps(event, ensure_ascii=True, separators=(",", ":"))
    return f"event: {event.get('type', 'message')}\ndata: {data}\n\n".encode("ascii")


def error_event(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


async def parse(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """Events from SSE lines: ``event:``/``data:`` fields, multi-line data joined with newlines,
    comments (``:``) and unknown fields ignored. The JSON's ``type`` wins over ``event:``."""
    name: str | None = None
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if line == "":
            if data:
                yield _decode(name, "\n".join(data))
            name, data = None, []
            continue
        if line.startswith(":"):
            continue  # a comment (keep-alive)
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    if data:
        yield _decode(name, "\n".join(data))


def _decode(name: str | None, data: str) -> dict[str, Any]:
    try:
        event = json.loads(data)
    except ValueError:
        raise SSEProtocolError(f"event {name or '?'} has data that is not JSON") from None
    if not isinstance(event, dict):
        raise SSEProtocolError(f"event {name or '?'} has data that is not a JSON object")
    if not isinstance(event.get("type"), str):
        if name is None:
            raise SSEProtocolError("an event without a type")
        event["type"] = name
    return event


def _pieces(text: str, parts: int) -> Iterator[str]:
    """``text`` in up to ``parts`` consecutive pieces (at least one, maybe empty)."""
    size = max(1, -(-len(text) // parts))
    if not text:
        yield ""
        return
    for i in range(0, len(text), size):
        yield text[i:i + size]


def message_events(message: dict[str, Any], *, parts: int = 3) -> Iterator[dict[str, Any]]:
    """The event sequence the API streams for ``message``: text in ``parts`` text_delta chunks,
    tool input JSON in ``parts`` input_json_delta chunks, usage in message_start (input) and
    message_delta (output)."""
    usage = dict(message.get("usage") or {})
    start = {k: v for k, v in message.items() if k != "content"}
    start.update(content=[], stop_reason=None, stop_sequence=None,
                 usage={**usage, "output_tokens": 1})
    yield {"type": "message_start", "message": start}
    for i, block in enumerate(message.get("content") or []):
        kind = block.get("type")
        if kind == "text":
            yield {"type": "content_block_start", "index": i,
                   "content_block": {"type": "text", "text": ""}}
            for piece in _pieces(str(block.get("text", "")), parts):
                yield {"type": "content_block_delta", "index": i,
                       "delta": {"type": "text_delta", "text": piece}}
        elif kind == "tool_use":
            yield {"type": "content_block_start", "index": i, "content_block": {
                "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}
            for piece in _pieces(json.dumps(block.get("input") or {}), parts):
                yield {"type": "content_block_delta", "index": i,
                       "delta": {"type": "input_json_delta", "partial_json": piece}}
        else:
            yield {"type": "content_block_start", "index": i, "content_block": block}
        yield {"type": "content_block_stop", "index": i}
    yield {"type": "message_delta",
           "delta": {"stop_reason": message.get("stop_reason"),
                     "stop_sequence": message.get("stop_sequence")},
           "usage": {"output_tokens": int(usage.get("output_tokens") or 0)}}
    yield {"type": "message_stop"}


class MessageAccumulator:
    """Assembles the final message from the events (what the SDK's stream helper does)."""

    def __init__(self) -> None:
        self.message: dict[str, Any] | None = None
        self._partial: dict[int, list[str]] = {}  # tool_use index -> input JSON pieces
        self.events = 0
        self.stopped = False  # message_stop seen

    def add(self, event: dict[str, Any]) -> None:
        self.events += 1
        kind = event.get("type")
        if kind == "message_start":
            start = event.get("message")
            self.message = copy.deepcopy(start) if isinstance(start, dict) else {}
            self.message["content"] = []
            return
        if self.message is None:
            return  # ping, or anything before message_start: nothing to assemble yet
        content: list[Any] = self.message["content"]
        index = event.get("index")
        if kind == "content_block_start" and isinstance(index, int) and 0 <= index < 4096:
            block = copy.deepcopy(event.get("content_block") or {})
            content.extend({} for _ in range(index + 1 - len(content)))
            content[index] = block
            if isinstance(block, dict) and block.get("type") in ("tool_use", "server_tool_use"):
                self._partial[index] = []
        elif kind == "content_block_delta" and isinstance(index, int) and index < len(content):
            self._delta(content[index], index, event.get("delta") or {})
        elif kind == "content_block_stop" and isinstance(index, int) and index in self._partial:
            text = "".join(self._partial.pop(index))
            try:
                content[index]["input"] = json.loads(text) if text else {}
            except ValueError:
                content[index]["input"] = {"unparsed_input": text}
        elif kind == "message_delta":
            delta = event.get("delta") or {}
            for key in ("stop_reason", "stop_sequence"):
                if key in delta:
                    self.message[key] = delta[key]
            usage = event.get("usage")
            if isinstance(usage, dict):
                self.message["usage"] = {**(self.message.get("usage") or {}),
                                         **{k: v for k, v in usage.items() if v is not None}}
        elif kind == "message_stop":
            self.stopped = True

    def _delta(self, block: dict[str, Any], index: int, delta: dict[str, Any]) -> None:
        kind = delta.get("type")
        if kind == "text_delta":
            block["text"] = str(block.get("text", "")) + str(delta.get("text", ""))
        elif kind == "input_json_delta" and index in self._partial:
            self._partial[index].append(str(delta.get("partial_json", "")))
        elif kind == "thinking_delta":
            block["thinking"] = str(block.get("thinking", "")) + str(delta.get("thinking", ""))
        elif kind == "signature_delta":
            block["signature"] = str(delta.get("signature", ""))
        elif kind == "citations_delta":
            block.setdefault("citations", []).append(delta.get("citation"))

    def result(self) -> dict[str, Any] | None:
        """The message so far (tool inputs still streaming are kept as their raw JSON)."""
        if self.message is None:
            return None
        out = copy.deepcopy(self.message)
        for index, pieces in self._partial.items():
            out["content"][index]["input"] = {"unparsed_input": "".join(pieces)}
        return out
