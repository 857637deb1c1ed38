"""The scripted provider: turns in order, valid Messages API answers, strict validation, faults."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.errors import ScenarioError
from runner.gateway import provider_for
from runner.gateway.provider import ProviderConnectionError, ProviderFailed, ProviderHTTPError
from runner.gateway.retry import Retrier, RetryPolicy
from runner.gateway.scripted import DEFAULT_FINAL_TEXT, ScriptedProvider

REQ: dict[str, Any] = {"model": "claude-test", "max_tokens": 100,
                       "messages": [{"role": "user", "content": "go"}]}


def scenario(tmp_path: Path, data: Any, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if name.endswith(".yaml") else json.dumps(data))
    return path


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_turns_in_order_then_end(tmp_path: Path) -> None:
    path = scenario(tmp_path, {"turns": [
        {"text": "Reading", "tool_calls": [{"name": "Read", "input": {"file_path": "a"}},
                                           {"name": "LS", "input": {"path": "."}}]},
        {"tool_calls": [{"name": "Bash", "input": {"command": "true"}}]},
        {"text": "Done."},
    ]})
    prov = ScriptedProvider(path)
    first = run(prov.create(REQ))
    assert first["type"] == "message" and first["role"] == "assistant"
    assert first["id"].startswith("msg_") and first["model"] == "claude-test"
    assert first["stop_reason"] == "tool_use"
    assert [b["type"] for b in first["content"]] == ["text", "tool_use", "tool_use"]
    assert first["content"][1]["name"] == "Read" and first["content"][1]["input"] == {"file_path": "a"}
    assert first["usage"]["input_tokens"] > 0 and first["usage"]["output_tokens"] > 0
    second = run(prov.create(REQ))
    assert [b["name"] for b in second["content"]] == ["Bash"]
    third = run(prov.create(REQ))
    assert third["stop_reason"] == "end_turn" and third["content"] == [{"type": "text", "text": "Done."}]
    assert prov.finished
    after = run(prov.create(REQ))
    assert after["stop_reason"] == "end_turn" and after["content"][0]["text"] == DEFAULT_FINAL_TEXT
    ids = [b["id"] for m in (first, second) for b in m["content"] if b["type"] == "tool_use"]
    assert len(set(ids)) == len(ids) == 3 and all(i.startswith("toolu_") for i in ids)


def test_json_scenario_and_final_text(tmp_path: Path) -> None:
    path = scenario(tmp_path, {"turns": [{"text": "x"}], "final_text": "bye"}, "s.json")
    prov = provider_for(f"scripted:{path.name}", base=tmp_path)
    assert isinstance(prov, ScriptedProvider)
    run(prov.create(REQ))
    assert run(prov.create(REQ))["content"][0]["text"] == "bye"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({}, "turns: Field required"),
        ({"turns": []}, "turns: List should have at least 1 item"),
        ({"turns": [{}]}, "turns[0]"),
        ({"turns": [{"text": "a", "bogus": 1}]}, "turns[0].bogus"),
        ({"turns": [{"tool_calls": [{"input": {}}]}]}, "turns[0].tool_calls[0].name"),
        ({"turns": [{"tool_calls": [{"name": "Read", "input": "x"}]}]}, "turns[0].tool_calls[0].input"),
        ({"turns": [{"text": "a"}, {"fault": {"status": 429, "kind": "timeout"}}]}, "turns[1]"),
        ({"turns": [{"fault": {}}]}, "exactly one"),
        ({"turns": [{"fault": {"status": 200}}]}, "turns[0].fault.status"),
        ({"turns": [{"fault": {"status": 500, "times": 0}}]}, "turns[0].fault.times"),
        ({"turns": [{"fault": {"kind": "explode"}}]}, "turns[0].fault.kind"),
        ({"turns": [{"fault": {"kind": "timeout", "retry_after": 1}}]}, "retry_after"),
        ({"turns": [{"fault": {"status": 500}, "text": "x"}]}, "only 'fault'"),
        (["not", "a", "mapping"], "mapping"),
    ],
)
def test_validation_errors(tmp_path: Path, data: Any, problem: str) -> None:
    path = scenario(tmp_path, data)
    with pytest.raises(ScenarioError) as info:
        ScriptedProvider(path)
    assert problem in str(info.value)
    assert str(path) in str(info.value) and info.value.exit_code == 2


def test_syntax_errors_and_missing_file(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("turns:\n  - text: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"bad.yaml: invalid YAML at line \d+"):
        ScriptedProvider(bad_yaml)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"turns": [}')
    with pytest.raises(ScenarioError, match=r"bad\.json: invalid JSON at line 1"):
        ScriptedProvider(bad_json)
    with pytest.raises(ScenarioError, match=r"missing\.yaml"):
        ScriptedProvider(tmp_path / "missing.yaml")


def test_faults_are_served_before_the_next_turn(tmp_path: Path) -> None:
    path = scenario(tmp_path, {"turns": [
        {"fault": {"status": 429, "times": 2, "retry_after": 1.5}},
        {"fault": {"kind": "disconnect"}},
        {"text": "after faults"},
    ]})
    prov = ScriptedProvider(path)
    for _ in range(2):
        with pytest.raises(ProviderHTTPError) as info:
            run(prov.create(REQ))
        assert info.value.status == 429 and info.value.retry_after == 1.5
        assert info.value.error_type == "rate_limit_error" and info.value.retryable
    with pytest.raises(ProviderConnectionError) as conn:
        run(prov.create(REQ))
    assert conn.value.kind == "disconnect" and conn.value.retryable
    assert run(prov.create(REQ))["content"][0]["text"] == "after faults"
    assert prov.faults_served == 3 and prov.served == 1


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def test_retrier_recovers_from_scripted_faults(tmp_path: Path) -> None:
    path = scenario(tmp_path, {"turns": [
        {"fault": {"status": 529, "times": 2, "retry_after": 0.25}},
        {"fault": {"kind": "timeout"}},
        {"text": "ok"},
    ]})
    sleeps = Sleeps()
    retrier = Retrier(ScriptedProvider(path), RetryPolicy(retries=4, backoff_base=0.1, backoff_max=1),
                      sleep=sleeps)
    result = run(retrier.create(REQ))
    assert result.response["content"][0]["text"] == "ok"
    assert result.retries == 3
    assert [f.split(":")[0] for f in result.failures] == ["HTTP 529 overloaded_error"] * 2 + ["timeout"]
    assert sleeps.calls[:2] == [0.25, 0.25]  # retry-after honoured
    assert 0.1 <= sleeps.calls[2] <= 0.4  # exponential backoff (attempt 2: 0.4 with jitter 0.5-1.0)


def test_retrier_gives_up_cleanly(tmp_path: Path) -> None:
    path = scenario(tmp_path, {"turns": [{"fault": {"status": 500, "times": 10}}, {"text": "never"}]})
    sleeps = Sleeps()
    retrier = Retrier(ScriptedProvider(path), RetryPolicy(retries=3, backoff_base=0.5, backoff_max=0.75),
                      sleep=sleeps)
    with pytest.raises(ProviderFailed) as info:
        run(retrier.create(REQ))
    assert len(info.value.attempts) == 4 and len(sleeps.calls) == 3
    assert all(s <= 0.75 for s in sleeps.calls)  # capped at backoff_max
    assert info.value.status == 500 and info.value.exit_code == 3
    assert "after 4 attempts" in str(info.value)


def test_non_retryable_status_fails_at_once(tmp_path: Path) -> None:
    path = scenario(tmp_path, {"turns": [{"fault": {"status": 400, "message": "prompt too long"}},
                                         {"text": "x"}]})
    sleeps = Sleeps()
    with pytest.raises(ProviderFailed, match="prompt too long"):
        run(Retrier(ScriptedProvider(path), RetryPolicy(retries=5), sleep=sleeps).create(REQ))
    assert sleeps.calls == []


def test_no_retries_is_one_attempt(tmp_path: Path) -> None:
    path = scenario(tmp_path, {"turns": [{"fault": {"status": 529, "times": 1}}, {"text": "x"}]})
    sleeps = Sleeps()
    with pytest.raises(ProviderFailed) as info:
        run(Retrier(ScriptedProvider(path), RetryPolicy(retries=0), sleep=sleeps).create(REQ))
    assert len(info.value.attempts) == 1 and sleeps.calls == [] and info.value.status == 529
