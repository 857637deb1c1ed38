"""Lone surrogates from a model must neither crash the agent nor bypass the decision."""

from __future__ import annotations

import json

from runner.agent.client import ascii_json
from runner.agent.loop import scrub
from runner.protocol import DecideRequest


def test_scrub_replaces_only_lone_surrogates() -> None:
    data = {"input": {"command": "echo \ud800 é"}, "n": 3, "list": ["ok", "\udcff"]}
    out = scrub(data)
    assert out == {"input": {"command": "echo \ufffd é"}, "n": 3, "list": ["ok", "\ufffd"]}
    json.dumps(out, ensure_ascii=False).encode("utf-8")  # now encodable
    assert data["input"]["command"] == "echo \ud800 é"  # the original is untouched


def test_decide_request_with_surrogates_travels_as_escapes() -> None:
    req = DecideRequest(tool="Bash", input={"command": "echo \ud800; touch x"})
    wire = ascii_json(req.model_dump())
    wire.encode("ascii")
    assert json.loads(wire)["input"]["command"] == "echo \ud800; touch x"  # host sees it as sent
