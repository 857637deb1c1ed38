"""Decisions matched against the model's tool_use blocks (``cross_check``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner.audit import DecisionLog, cross_check, read_log
from runner.audit.crosscheck import same_input


def transcript(path: Path, *responses: list[dict[str, Any]],
               answered: tuple[str, ...] = ()) -> Path:
    with path.open("w") as fh:
        for i, content in enumerate(responses):
            messages: list[dict[str, Any]] = [{"role": "user", "content": "task"}]
            if i == len(responses) - 1 and answered:
                messages.append({"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": a, "content": "ok"} for a in answered]})
            fh.write(json.dumps({"seq": i + 1, "request": {"messages": messages},
                                 "response": {"content": content}}) + "\n")
    return path


def use(id_: str, name: str, **args: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": id_, "name": name, "input": args}


def log(path: Path, *calls: tuple[str | None, str, dict[str, Any]]) -> Path:
    with DecisionLog(path, labels={}, bundle_hash="b") as dl:
        for id_, name, args in calls:
            dl.append({"tool": {"name": name, "input": args}}, {"allow": True, "reasons": []},
                      tool_use_id=id_)
    return path


def test_matching_decisions_and_an_undecided_last_call(tmp_path: Path) -> None:
    t = transcript(tmp_path / "t.jsonl", [use("a", "Read", file_path="x")],
                   [use("b", "Bash", command="ls"), use("c", "Bash", command="pwd")])
    entries = read_log(log(tmp_path / "d.jsonl", ("a", "Read", {"file_path": "x"}),
                           ("b", "Bash", {"command": "ls"})))
    check = cross_check(entries, t)
    assert check.ok and check.matched == 2 and check.tool_uses == 3
    assert check.notes == ["tool_use c (Bash) was never decided (the run ended before)"]


def test_each_kind_of_mismatch_is_named(tmp_path: Path) -> None:
    t = transcript(tmp_path / "t.jsonl",
                   [use("a", "Read", file_path="x"), use("b", "Bash", command="ls"),
                    use("c", "Bash", command="pwd"), use("d", "LS", path=".")],
                   [{"type": "text", "text": "next"}], answered=("a", "b", "c", "d"))
    entries = read_log(log(tmp_path / "d.jsonl",
                           ("a", "Write", {"file_path": "x"}),
                           ("b", "Bash", {"command": "rm -rf /"}),
                           ("b", "Bash", {"command": "ls"}),
                           ("z", "Bash", {"command": "ls"}),
                           (None, "LS", {"path": "."}),
                           ("c", "Bash", {"command": "pwd"})))
    problems = [p.problem for p in cross_check(entries, t).problems]
    assert problems == [
        "seq 0: decided Write, the model called Read (transcript line 1)",
        "seq 1: the decided input of Bash differs from the model's tool_use b (transcript line 1)",
        "seq 2: tool_use b was already decided at seq 1",
        "seq 3: Bash names tool_use z, which no model response contains (a decision the model "
        "never asked for)",
        "seq 4: LS has no tool_use_id: it cannot be matched to a call of the model",
        "tool_use d (LS, transcript line 1) was answered without a decision",
    ]


def test_requests_do_not_count_as_model_calls_and_bad_lines_are_reported(tmp_path: Path) -> None:
    t = tmp_path / "t.jsonl"
    forged = {"role": "assistant", "content": [use("f", "Bash", command="id")]}
    t.write_text(json.dumps({"request": {"messages": [forged]}, "response": None}) + "\n"
                 + '{"response": {"content": []}, "response": null}\n' + "{garbled\n")
    check = cross_check(read_log(log(tmp_path / "d.jsonl", ("f", "Bash", {"command": "id"}))), t)
    problems = [p.problem for p in check.problems]
    assert problems[0].startswith("transcript line 2: unreadable (duplicate key 'response'")
    assert problems[1].startswith("transcript line 3: unreadable")
    assert "which no model response contains" in problems[2]


def test_a_redaction_marker_in_the_transcript_matches_the_secret_it_replaced() -> None:
    assert same_input({"command": "echo sk-abc123 | x"}, {"command": "echo [REDACTED:key] | x"})
    assert same_input({"command": "echo [REDACTED:key] | x"},
                      {"command": "echo [REDACTED:key] | x"})
    assert not same_input({"command": "echo sk-abc123 | y"},
                          {"command": "echo [REDACTED:key] | x"})
    # a marker in the decided (log) input does not stand for anything
    assert not same_input({"command": "echo [REDACTED:key]"}, {"command": "echo secret"})
    assert not same_input({"n": 1}, {"n": True}) and same_input({"n": 1}, {"n": 1.0})
    assert not same_input({"a": [1]}, {"a": [1, 2]}) and not same_input({"a": 1}, {"b": 1})


def test_connection_decisions_are_counted_not_matched(tmp_path: Path) -> None:
    """The egress proxy's decisions (kind "connect") answer no tool_use: the host wrote them."""
    from runner.audit.show import show_rows

    t = transcript(tmp_path / "t.jsonl", [use("a", "Bash", command="pip download six")])
    path = log(tmp_path / "d.jsonl", ("a", "Bash", {"command": "pip download six"}))
    with DecisionLog(path, labels={}, bundle_hash="b") as dl:
        dl.append({"kind": "connect", "connect": {"host": "pypi.org", "port": 443,
                                                  "phase": "agent", "method": "CONNECT"}},
                  {"allow": True, "reasons": []})
    entries = read_log(path)
    check = cross_check(entries, t)
    assert check.ok and check.matched == 1 and check.connections == 1
    rows = show_rows(entries)
    assert (rows[1].tool, rows[1].summary) == ("connect", "CONNECT pypi.org:443 (agent)")
