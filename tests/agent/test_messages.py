"""The agent's own Messages API models, request bodies and error mapping (runner/protocol.py,
runner/agent/client.py, runner/agent/loop.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from runner.agent import first_call
from runner.agent.client import GatewayClient, ModelAPIError, _error, first_request, messages_body
from runner.agent.first_call import FirstCall, error_answer, model_answer
from runner.agent.loop import _block, read_answer
from runner.protocol import Message, TextBlock, ToolUseBlock


def test_an_answer_is_read_leniently_and_other_blocks_are_kept_whole() -> None:
    msg = Message.model_validate({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "m", "container": None,
        "content": [{"type": "thinking", "thinking": "hm", "signature": "s"},
                    {"type": "text", "text": "hi", "citations": None},
                    {"type": "tool_use", "id": "tu_1", "name": "LS", "input": {"path": "."}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 3, "output_tokens": 4, "cache_read_input_tokens": 0},
    })
    _thinking, text, use = msg.content
    assert isinstance(text, TextBlock) and isinstance(use, ToolUseBlock)
    assert [_block(b) for b in msg.content] == [
        {"type": "thinking", "thinking": "hm", "signature": "s"}, {"type": "text", "text": "hi"},
        {"type": "tool_use", "id": "tu_1", "name": "LS", "input": {"path": "."}}]
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (3, 4)


def test_a_request_without_tools_sends_no_tools_key() -> None:
    body = messages_body(model="m", max_tokens=5, system="s", messages=[{"role": "user", "content": "x"}],
                         tools=None)
    assert body == {"model": "m", "max_tokens": 5, "system": "s", "messages": [{"role": "user", "content": "x"}]}
    assert "tools" not in first_request(model="m", max_tokens=5, system_prompt="s", task="x", tool_definitions=[])
    assert first_request(model="m", max_tokens=5, system_prompt="s", task="x",
                         tool_definitions=[{"name": "LS"}])["tools"] == [{"name": "LS"}]


def test_a_malformed_answer_is_a_model_api_error() -> None:
    with pytest.raises(ModelAPIError) as info:
        read_answer({"content": [{"type": "text"}]})  # a text block without text
    assert str(info.value).startswith("HTTP 200: malformed answer: 1 validation error(s)")


def test_errors_carry_status_and_the_api_message() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "upstream overloaded"}}
    err = _error(httpx.Response(529, json=body))
    assert (err.status, err.error_type, str(err)) == (529, "overloaded_error", "HTTP 529: upstream overloaded")
    assert str(_error(httpx.Response(502, text="bad gateway"))) == "HTTP 502: bad gateway"


def test_no_gateway_is_an_api_error_without_status(tmp_path: Path) -> None:
    gw = GatewayClient(str(tmp_path / "missing.sock"), "token")
    with pytest.raises(ModelAPIError) as info:
        gw.create_message(messages_body(model="m", max_tokens=5, system=None, messages=[], tools=None))
    assert info.value.status is None and str(info.value).startswith("ConnectError")
    gw.close()


def test_the_first_call_fails_as_the_client_does(tmp_path: Path) -> None:
    """The start's standard-library client: no gateway is an API error without status, an
    event is best effort, an error answer maps as the httpx client's does."""
    call = FirstCall(str(tmp_path / "missing.sock"), "token")
    call.event("agent_started", run_id="r")  # never raises
    with pytest.raises(ModelAPIError) as info:
        call.create_message(messages_body(model="m", max_tokens=5, system=None, messages=[], tools=None))
    assert info.value.status is None and str(info.value).startswith("FileNotFoundError")
    body = b'{"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}'
    for status, content, expected in [(529, body, (529, "overloaded_error", "HTTP 529: busy")),
                                      (502, b"bad gateway", (502, None, "HTTP 502: bad gateway")),
                                      (500, b"", (500, None, "HTTP 500: Internal Server Error"))]:
        err = error_answer(status, content, "Internal Server Error")
        assert (err.status, err.error_type, str(err)) == expected
    with pytest.raises(ModelAPIError, match="not a JSON object"):
        model_answer(200, b"[1]", "OK")


def _answered(raw: bytes) -> tuple[int, bytes, str]:
    """What the first call reads from a peer that answers ``raw`` and closes."""
    ours, peer = socket.socketpair()
    with ours, peer:
        peer.sendall(raw)
        peer.shutdown(socket.SHUT_WR)
        return first_call._answer(ours)


def test_the_first_call_reads_http_answers_by_length_chunks_or_close() -> None:
    assert _answered(b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\nx: y\r\n\r\n{\"a\":1}trailing") == (
        200, b'{"a":1}', "OK")
    assert _answered(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"3\r\n{\"a\r\n4;ext\r\n\":1}\r\n0\r\n\r\n") == (200, b'{"a":1}', "OK")
    assert _answered(b"HTTP/1.1 529 Overloaded\r\n\r\nbusy") == (529, b"busy", "Overloaded")


@pytest.mark.parametrize(("raw", "message"), [
    (b"", "before the answer's headers"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.1 status line"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "not an HTTP/1.1 status line"),
    (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "malformed header line"),
    (b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\n\r\n", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", "closed in the answer's body"),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
    (b"HTTP/1.1 200 OK\r\n" + b"x: " + b"y" * 70000, "headers too large"),
])
def test_the_first_call_refuses_what_is_not_the_gateways_http(raw: bytes, message: str) -> None:
    with pytest.raises(first_call.HTTPError, match=message):
        _answered(raw)
