"""Chain verification: every way of tampering with the log is caught at the right seq."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.audit import GENESIS_HASH, DecisionLog, entry_hash, verify_log
from runner.audit.verify import recorded_head
from runner.errors import InputError
from tests.audit.logdata import BUNDLE, LABELS, SAMPLE, write_log

N = len(SAMPLE)


def raw_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def put(path: Path, rows: list[str], *, newline: bool = True) -> None:
    path.write_text("\n".join(rows) + ("\n" if newline else ""), encoding="utf-8")


def rehash(record: dict[str, Any]) -> str:
    record["hash"] = entry_hash(record)
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def test_intact_log_is_ok(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    head = write_log(path)
    result = verify_log(path)
    assert result.ok and result.problem is None and result.first_bad_seq is None
    assert result.count == N
    assert result.head_hash == head


def test_empty_log_is_ok(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    path.write_bytes(b"")
    result = verify_log(path)
    assert (result.ok, result.count, result.head_hash) == (True, 0, GENESIS_HASH)


def test_missing_log_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read decision log"):
        verify_log(tmp_path / "nope.jsonl")


def test_edited_input_is_a_hash_mismatch(log_path: Path) -> None:
    rows = raw_lines(log_path)
    assert "frontend/app.js" in rows[2]
    rows[2] = rows[2].replace("frontend/app.js", "backend/app.js")
    put(log_path, rows)
    result = verify_log(log_path)
    assert not result.ok
    assert result.first_bad_seq == 2
    assert "hash mismatch" in (result.problem or "")
    assert result.count == 2


def test_flipped_decision_is_a_hash_mismatch(log_path: Path) -> None:
    rows = raw_lines(log_path)
    record = json.loads(rows[4])
    assert record["result"]["allow"] is False
    record["result"] = {"allow": True, "reasons": []}
    rows[4] = json.dumps(record, separators=(",", ":"))  # hash left as it was
    put(log_path, rows)
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert "hash mismatch" in (result.problem or "")


def test_edited_seq_field_is_caught(log_path: Path) -> None:
    rows = raw_lines(log_path)
    rows[3] = rows[3].replace('"seq":3', '"seq":30')
    put(log_path, rows)
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 3)


def test_edited_and_rehashed_line_breaks_the_next_prev_hash(log_path: Path) -> None:
    rows = raw_lines(log_path)
    record = json.loads(rows[2])
    record["result"] = {"allow": True, "reasons": []}
    rows[2] = rehash(record)
    put(log_path, rows)
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "prev_hash does not match seq 2" in (result.problem or "")


def test_rehashed_first_line_with_a_forged_prev_hash(log_path: Path) -> None:
    rows = raw_lines(log_path)
    record = json.loads(rows[0])
    record["prev_hash"] = "1" * 64
    rows[0] = rehash(record)
    put(log_path, rows)
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 0)
    assert "the start of the log" in (result.problem or "")


def test_deleted_line_leaves_a_seq_gap(log_path: Path) -> None:
    rows = raw_lines(log_path)
    del rows[4]
    put(log_path, rows)
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert "expected seq 4, found 5" in (result.problem or "")
    assert "deleted" in (result.problem or "")


def test_deleted_first_line(log_path: Path) -> None:
    put(log_path, raw_lines(log_path)[1:])
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq, result.count) == (False, 0, 0)


def test_deleted_line_renumbered_and_rehashed_breaks_prev_hash(log_path: Path) -> None:
    rows = raw_lines(log_path)
    del rows[2]
    for i in range(2, len(rows)):  # renumber the tail and fix each own hash, but not the chain
        record = json.loads(rows[i])
        record["seq"] = i
        rows[i] = rehash(record)
    put(log_path, rows)
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert "prev_hash" in (result.problem or "")


def test_inserted_copy_of_a_line(log_path: Path) -> None:
    rows = raw_lines(log_path)
    rows.insert(4, rows[1])  # replay an allowed decision later
    put(log_path, rows)
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert "expected seq 4, found 1" in (result.problem or "")
    assert "inserted" in (result.problem or "")


def test_inserted_forged_line_with_its_own_valid_hash(log_path: Path) -> None:
    rows = raw_lines(log_path)
    forged = json.loads(rows[3])
    forged["decision_id"] = "00000000-0000-4000-8000-000000000000"
    forged["input"]["tool"]["input"]["command"] = "rm -rf /"
    rows.insert(3, rehash(forged))
    put(log_path, rows)
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 4)  # the original seq 3 is now out of place


def test_reordered_lines(log_path: Path) -> None:
    rows = raw_lines(log_path)
    rows[2], rows[3] = rows[3], rows[2]
    put(log_path, rows)
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert "expected seq 2, found 3" in (result.problem or "")


def test_truncated_last_line(log_path: Path) -> None:
    data = log_path.read_bytes()
    log_path.write_bytes(data[:-40])
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq, result.count) == (False, N - 1, N - 1)
    assert "truncated" in (result.problem or "")


def test_last_line_missing_only_its_newline(log_path: Path) -> None:
    log_path.write_bytes(log_path.read_bytes()[:-1])
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq) == (False, N - 1)
    assert "newline" in (result.problem or "")


def test_garbled_last_line(log_path: Path) -> None:
    with log_path.open("ab") as fh:
        fh.write(b"\x00\xff garbage }{\n")
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq) == (False, N)
    assert "garbled" in (result.problem or "")


def test_line_that_is_not_an_object(log_path: Path) -> None:
    rows = raw_lines(log_path)
    rows[1] = "[1, 2, 3]"
    put(log_path, rows)
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 1)
    assert "not a JSON object" in (result.problem or "")


def test_blank_line_in_the_middle(log_path: Path) -> None:
    rows = raw_lines(log_path)
    rows.insert(3, "")
    put(log_path, rows)
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "empty line" in (result.problem or "")


def test_rehashed_line_missing_a_field_is_malformed(log_path: Path) -> None:
    rows = raw_lines(log_path)
    record = json.loads(rows[0])
    del record["input"]
    rows[0] = rehash(record)
    put(log_path, rows)
    result = verify_log(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 0)
    assert "malformed entry: input" in (result.problem or "")


def test_rewritten_log_passes_alone_but_not_against_the_recorded_head(log_path: Path) -> None:
    original = verify_log(log_path).head_hash
    rows = raw_lines(log_path)
    prev = GENESIS_HASH
    for i, row in enumerate(rows):  # a consistent forgery of the whole chain
        record = json.loads(row)
        record["result"] = {"allow": True, "reasons": []}
        record["prev_hash"] = prev
        rows[i] = rehash(record)
        prev = record["hash"]
    put(log_path, rows)
    assert verify_log(log_path).ok
    result = verify_log(log_path, expected_head=original)
    assert not result.ok and result.first_bad_seq is None
    assert original in (result.problem or "") and "rewritten" in (result.problem or "")


def test_deleted_tail_is_caught_against_the_recorded_head(log_path: Path) -> None:
    head = verify_log(log_path).head_hash
    put(log_path, raw_lines(log_path)[:-2])
    assert verify_log(log_path).ok  # a shorter chain is still a chain ...
    result = verify_log(log_path, expected_head=head)
    assert not result.ok  # ... but not the one the run recorded
    assert "truncated" in (result.problem or "")


def test_appended_entries_after_the_recorded_head(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    head = write_log(path, SAMPLE[:3])
    with DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE) as log:
        log.append(*SAMPLE[3])
        log.append(*SAMPLE[4])
    result = verify_log(path, expected_head=head)
    assert (result.ok, result.first_bad_seq, result.count) == (False, 3, 3)
    assert "added later" in (result.problem or "")
    assert verify_log(path, expected_head=verify_log(path).head_hash).ok


def test_recorded_head_reads_summary_json(tmp_path: Path) -> None:
    assert recorded_head(tmp_path) is None
    (tmp_path / "summary.json").write_text(json.dumps({"status": "ok"}))
    assert recorded_head(tmp_path) is None
    (tmp_path / "summary.json").write_text(json.dumps({"audit": {"head_hash": "ab" * 32}}))
    assert recorded_head(tmp_path) == "ab" * 32
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(InputError, match=r"summary\.json"):
        recorded_head(tmp_path)
