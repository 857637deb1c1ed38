"""Decision-log formats: format 2 (OPA field names, RFC 8785 hashes) and format 1 (old logs).

Format 2's hash is checked against bytes written out by hand from RFC 8785's rules (and
its published examples), not against the library that computes it; format 1 against a log
the pre-issue-12 code wrote (fixtures/v1, committed), which must keep verifying.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from runner.audit import (
    DecisionLog,
    UnknownFormat,
    entry_hash,
    jcs,
    read_log,
    replay,
    verify_log,
)
from runner.audit.formats import canonical_json
from runner.audit.log import agent_requester
from runner.policy.models import Decision
from tests.audit.logdata import BUNDLE, LABELS, SAMPLE, write_log

FIXTURE = Path(__file__).parent / "fixtures" / "v1" / "decisions.jsonl"
FIXTURE_HEAD = "a9114efc7e6c000992c19acf1a60676647ccce575240c5310c075d164f90ec39"

# The names OPA's decision-log events use (docs "Decision Logs", plugins/logs EventV1).
OPA_FIELDS = {
    "labels", "decision_id", "trace_id", "span_id", "revision", "bundles", "path", "query",
    "input", "result", "mapped_result", "nd_builtin_cache", "erased", "masked", "error",
    "requested_by", "timestamp", "metrics", "req_id", "request_context",
}
EXTENSIONS = {"tool_use_id", "format", "seq", "prev_hash", "hash"}


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_rows(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")


# --- RFC 8785 test vectors ---------------------------------------------------------------

def test_format_2_hash_matches_jcs_bytes_written_by_hand() -> None:
    """Keys sorted by UTF-16 code units (U+1F600 is D83D DE00, before U+FB01), ECMAScript
    number text (1.0 -> 1, 1e21 -> 1e+21, -0.0 -> 0, 1e-7 -> 1e-7), minimal escapes."""
    line = {
        "seq": 0,
        "format": 2,
        "prev_hash": "0" * 64,
        "input": {
            "b": [1.0, 1e21, 0.1, -0.0, 1e-7, 4.50, 2e-3],
            "a": "é€😀\n\u001f\"\\/",
            "z": {"y": None, "x": True},
            "\ufb01": 4,
            "😀": 3,
            "€": 2,
            "é": 1,
        },
        "hash": "not hashed",
    }
    by_hand = (
        '{"format":2,"input":{"a":"é€😀\\n\\u001f\\"\\\\/",'
        '"b":[1,1e+21,0.1,0,1e-7,4.5,0.002],"z":{"x":true,"y":null},'
        '"é":1,"€":2,"😀":3,"ﬁ":4},'
        f'"prev_hash":"{"0" * 64}","seq":0}}'
    ).encode()
    assert jcs({k: v for k, v in line.items() if k != "hash"}) == by_hand
    assert entry_hash(line) == hashlib.sha256(by_hand).hexdigest()
    # format 1 (Python's code-point order) differs exactly where RFC 8785 is needed
    v1 = {k: v for k, v in line.items() if k not in ("hash", "format")}
    old = canonical_json(v1)
    assert old.index('"ﬁ":'.encode()) < old.index('"😀":'.encode())
    assert b"[1.0,1e+21,0.1,-0.0,1e-07," in old  # Python's float text, not ECMAScript's


def test_rfc8785_published_sorting_example() -> None:
    """RFC 8785 section 3.2.3's example: the order of the properties after sorting."""
    data = {"€": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One", "😀": "Emoji: Grinning Face", "\u0080": "Control",
            "ö": "Latin Small Letter O With Diaeresis"}
    order = [v for _, v in json.loads(jcs(data)).items()]
    assert order == ["Carriage Return", "One", "Control", "Latin Small Letter O With Diaeresis",
                     "Euro Sign", "Emoji: Grinning Face", "Hebrew Letter Dalet With Dagesh"]


@pytest.mark.parametrize(("number", "text"), [
    (333333333.33333329, b"333333333.3333333"), (1e30, b"1e+30"), (4.50, b"4.5"),
    (2e-3, b"0.002"), (0.000000000000000000000000001, b"1e-27"), (-0.0, b"0"),
    (9007199254740991, b"9007199254740991"),
])
def test_rfc8785_published_number_examples(number: float, text: bytes) -> None:
    assert jcs(number) == text


# --- format 2 lines -----------------------------------------------------------------------

def test_format_2_line_uses_opa_names_and_documented_extensions(log_path: Path) -> None:
    for row in rows(log_path):
        assert set(row) <= OPA_FIELDS | EXTENSIONS, set(row) - OPA_FIELDS - EXTENSIONS
        assert {"labels", "decision_id", "bundles", "path", "input", "result", "requested_by",
                "timestamp", "metrics", "format", "seq", "prev_hash", "hash"} <= set(row)
        assert set(row["labels"]) >= {"id", "version", "app"}
        assert set(row["metrics"]) == {"timer_rego_query_eval_ns"}
        assert row["format"] == 2
    assert verify_log(log_path).format == 2


def test_requested_by() -> None:
    assert agent_requester("builtin") == "agent:builtin"
    assert agent_requester("claude-code") == "agent:claude-code-hook"


def test_requested_by_defaults_and_overrides(tmp_path: Path) -> None:
    connect = {"kind": "connect", "connect": {"host": "pypi.org", "port": 443}}
    with DecisionLog(tmp_path / "a.jsonl", labels={}, bundle_hash=BUNDLE) as log:
        log.append(SAMPLE[0][0], SAMPLE[0][1])
        log.append(connect, SAMPLE[0][1])
        log.append(SAMPLE[0][0], SAMPLE[0][1], requested_by="agent:claude-code-hook")
    assert [r["requested_by"] for r in rows(tmp_path / "a.jsonl")] == [
        "agent", "egress-proxy", "agent:claude-code-hook"]
    with DecisionLog(tmp_path / "b.jsonl", labels={}, bundle_hash=BUNDLE,
                     requested_by="setup") as log:
        log.append(connect, SAMPLE[0][1])
    assert rows(tmp_path / "b.jsonl")[0]["requested_by"] == "setup"


def test_masked_and_erased_are_recorded_sorted_and_under_the_hash(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    with DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE) as log:
        log.append(SAMPLE[1][0], SAMPLE[1][1], masked=["/input/tool/input/content",
                   "/input/tool/input/content", "/input/tool/input/file_path"],
                   erased=["/input/paths"])
    row = rows(path)[0]
    assert row["masked"] == ["/input/tool/input/content", "/input/tool/input/file_path"]
    assert row["erased"] == ["/input/paths"]
    assert verify_log(path).ok
    row["masked"] = []  # hiding that something was redacted is an edit
    write_rows(path, [row])
    assert "hash mismatch" in (verify_log(path).problem or "")


# --- format 1 (old logs) ------------------------------------------------------------------

def test_the_committed_format_1_log_still_verifies() -> None:
    result = verify_log(FIXTURE)
    assert result.ok and result.count == 7 and result.format == 1
    assert result.head_hash == FIXTURE_HEAD
    entries = read_log(FIXTURE)
    assert all(e.log_format == 1 and e.requested_by is None for e in entries)
    assert all(e.eval_ns > 0 for e in entries)  # read from timer_eval_ns
    assert [e.allowed for e in entries].count(False) == 4


def test_reopening_a_format_1_log_continues_it_in_format_1(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    shutil.copy(FIXTURE, path)
    with DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE) as log:
        entry = log.append(*SAMPLE[0], eval_ns=5)
    assert entry.log_format == 1 and entry.metrics == {"timer_eval_ns": 5}
    assert "id" not in entry.labels and "requested_by" not in rows(path)[-1]
    result = verify_log(path)
    assert result.ok and result.count == 8 and result.format == 1


def test_format_1_writer_writes_what_the_old_code_wrote(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    write_log(path, SAMPLE[:2], log_format=1)
    for row in rows(path):
        assert "format" not in row and set(row["metrics"]) == {"timer_eval_ns"}
        body = {k: v for k, v in row.items() if k != "hash"}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert row["hash"] == hashlib.sha256(text.encode()).hexdigest()


def test_replay_reads_both_formats(tmp_path: Path) -> None:
    class AllowAll:
        def evaluate(self, input: dict[str, Any], /) -> Decision:
            assert "tool" in input or input.get("kind") == "connect"
            return Decision(allow=True, reasons=[])

    assert len(replay(FIXTURE, AllowAll()).changes) == 4  # the fixture's four denies
    path = tmp_path / "d.jsonl"
    write_log(path)
    assert len(replay(path, AllowAll()).changes) == 3


# --- tampering, both formats ---------------------------------------------------------------

@pytest.mark.parametrize("log_format", [1, 2])
def test_an_edited_value_is_caught_in_either_format(tmp_path: Path, log_format: int) -> None:
    path = tmp_path / "d.jsonl"
    if log_format == 1:
        shutil.copy(FIXTURE, path)
    else:
        write_log(path)
    records = rows(path)
    records[2]["result"]["allow"] = not records[2]["result"]["allow"]
    write_rows(path, records)
    result = verify_log(path)
    assert not result.ok and result.first_bad_seq == 2 and result.count == 2
    assert "hash mismatch" in (result.problem or "")


@pytest.mark.parametrize("log_format", [1, 2])
def test_an_edited_and_rehashed_line_breaks_the_chain(tmp_path: Path, log_format: int) -> None:
    path = tmp_path / "d.jsonl"
    if log_format == 1:
        shutil.copy(FIXTURE, path)
    else:
        write_log(path)
    records = rows(path)
    records[1]["input"]["tool"]["name"] = "Glob"
    records[1]["hash"] = entry_hash(records[1])
    write_rows(path, records)
    result = verify_log(path)
    assert not result.ok and result.first_bad_seq == 2
    assert "chain broken" in (result.problem or "")


def test_a_line_rewritten_in_the_other_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    write_log(path)
    records = rows(path)
    last = records[-1]
    del last["format"]  # "downgrade" the last line to format 1, correctly hashed as such
    last["hash"] = entry_hash(last)
    write_rows(path, records)
    result = verify_log(path)
    assert not result.ok and result.first_bad_seq == len(records) - 1
    assert "format 1 in a log of format 2" in (result.problem or "")


@pytest.mark.parametrize("value", [1, 3, "2", True, None, 2.0])
def test_unknown_formats_are_refused(tmp_path: Path, value: object) -> None:
    path = tmp_path / "d.jsonl"
    write_log(path, SAMPLE[:1])
    record = rows(path)[0]
    record["format"] = value
    with pytest.raises(UnknownFormat):
        entry_hash(record)
    write_rows(path, [record])
    result = verify_log(path)
    assert not result.ok and "unknown decision-log format" in (result.problem or "")


def test_a_format_2_line_edited_to_hold_non_i_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    write_log(path, SAMPLE[:2])
    records = rows(path)
    records[1]["input"]["offset"] = 2**60  # the writer would have logged it as a string
    write_rows(path, records)
    result = verify_log(path)
    assert not result.ok and result.first_bad_seq == 1
    assert "not I-JSON" in (result.problem or "")
