"""The decision log writer and reader."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import rfc8785

from runner import __version__
from runner.audit import GENESIS_HASH, DecisionLog, LogEntry, read_log, verify_log
from runner.audit.log import INSTANCE_ID
from runner.errors import InputError
from runner.policy.models import Decision, PolicyInput, ToolCall
from tests.audit.logdata import BUNDLE, LABELS, SAMPLE, allow, call, write_log


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_line_has_the_opa_fields_and_the_chain(log_path: Path) -> None:
    rows = lines(log_path)
    assert len(rows) == len(SAMPLE)
    first = rows[0]
    assert uuid.UUID(str(first["decision_id"])).version == 4
    stamp = str(first["timestamp"])
    assert stamp.endswith("Z")
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None and parsed.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - parsed).total_seconds()) < 60
    assert first["path"] == "sandbox/decision"
    assert first["input"] == SAMPLE[0][0]
    assert first["result"] == SAMPLE[0][1]
    assert first["labels"] == {"app": "sandbox-runner", "id": INSTANCE_ID,
                               "version": __version__, **LABELS}
    assert uuid.UUID(str(first["labels"]["id"])).version == 4  # type: ignore[index]
    assert first["metrics"] == {"timer_rego_query_eval_ns": 1000}
    assert first["requested_by"] == "agent"
    assert first["format"] == 2
    assert "masked" not in first and "erased" not in first  # OPA omits empty lists
    assert first["bundles"] == {"sandbox": {"revision": BUNDLE}}
    assert [r["seq"] for r in rows] == list(range(len(SAMPLE)))
    assert first["prev_hash"] == GENESIS_HASH
    for before, after in itertools.pairwise(rows):
        assert after["prev_hash"] == before["hash"]
    assert len({r["decision_id"] for r in rows}) == len(rows)


def test_hash_is_sha256_of_the_rfc8785_line_without_hash(log_path: Path) -> None:
    for row in lines(log_path):
        body = {k: v for k, v in row.items() if k != "hash"}
        assert row["hash"] == hashlib.sha256(rfc8785.dumps(body)).hexdigest()


def test_each_line_is_on_disk_when_append_returns(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE)
    try:
        entry = log.append(*SAMPLE[0])
        assert path.read_bytes().endswith(b"\n")
        assert lines(path)[0]["hash"] == entry.hash == log.head_hash
        log.append(*SAMPLE[1])
        assert len(lines(path)) == 2 and log.count == 2
    finally:
        log.close()


def test_empty_log_state(tmp_path: Path) -> None:
    with DecisionLog(tmp_path / "d.jsonl", labels={}, bundle_hash=BUNDLE) as log:
        assert log.count == 0
        assert log.head_hash == GENESIS_HASH
    assert (tmp_path / "d.jsonl").read_bytes() == b""


def test_append_returns_the_entry_as_written(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    with DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE, fsync=True) as log:
        entry = log.append(*SAMPLE[2], eval_ns=4242)
    assert isinstance(entry, LogEntry)
    assert entry == read_log(path)[0]
    assert entry.metrics == {"timer_rego_query_eval_ns": 4242} and entry.eval_ns == 4242
    assert entry.allowed is False and entry.tool_name == "Write"


def test_pydantic_input_and_decision_are_logged_as_json(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    inp = PolicyInput(tool=ToolCall(name="Bash", input={"command": "ls"}))
    dec = Decision.deny("scope", "r", "m")
    with DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE) as log:
        log.append(inp, dec)
    row = lines(path)[0]
    assert row["input"] == inp.model_dump(mode="json")
    assert row["result"] == {
        "allow": False,
        "reasons": [{"policy": "scope", "rule": "r", "msg": "m"}],
    }
    assert verify_log(path).ok


def test_unserialisable_input_is_refused_and_the_log_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    with DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE) as log:
        log.append(*SAMPLE[0])
        head = log.head_hash
        with pytest.raises(InputError, match="cannot be logged"):
            log.append({"tool": object()}, allow())
        with pytest.raises(InputError, match="cannot be logged"):
            log.append(call("Bash", command="x"), {"allow": float("nan")})
        assert log.count == 1 and log.head_hash == head
    assert len(lines(path)) == 1
    assert verify_log(path).ok


def test_non_ascii_is_written_readably_and_verifies(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    write_log(path, [(call("Write", file_path="backend/é.py", content="# 日本 🚀"), allow())])
    text = path.read_text(encoding="utf-8")
    assert "日本 🚀" in text and "backend/é.py" in text
    assert verify_log(path).ok
    assert read_log(path)[0].tool_input["content"] == "# 日本 🚀"


def test_lone_surrogates_from_invalid_utf8_are_logged_as_replacement_and_masked(
        tmp_path: Path) -> None:
    """Format 2 hashes RFC 8785 bytes, which exist for valid Unicode only: a lone surrogate
    is logged as U+FFFD and its pointer listed in ``masked``."""
    command = b"echo \xff\xfe".decode("utf-8", "surrogateescape")
    path = tmp_path / "d.jsonl"
    args = {"command": command, b"k\xff".decode("utf-8", "surrogateescape"): 1, "big": 2**60}
    write_log(path, [(call("Bash", **args), allow()), SAMPLE[0]])
    path.read_bytes().decode("utf-8")  # the file itself is valid UTF-8
    result = verify_log(path)
    assert result.ok and result.count == 2
    entry = read_log(path)[0]
    assert entry.tool_input["command"] == "echo \ufffd\ufffd"
    assert entry.tool_input["k\ufffd"] == 1 and entry.tool_input["big"] == str(2**60)
    assert entry.masked == ["/input/tool/input/big", "/input/tool/input/command",
                            "/input/tool/input/k\ufffd"]


def test_lone_surrogates_are_kept_in_a_format_1_log(tmp_path: Path) -> None:
    command = b"echo \xff\xfe".decode("utf-8", "surrogateescape")
    path = tmp_path / "d.jsonl"
    write_log(path, [(call("Bash", command=command), allow()), SAMPLE[0]], log_format=1)
    path.read_bytes().decode("utf-8")  # the file itself is valid UTF-8
    result = verify_log(path)
    assert result.ok and result.count == 2 and result.format == 1
    assert read_log(path)[0].tool_input["command"] == command


def test_reopen_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    head = write_log(path, SAMPLE[:3])
    with DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE) as log:
        assert log.count == 3
        assert log.head_hash == head
        entry = log.append(*SAMPLE[3])
    assert entry.seq == 3 and entry.prev_hash == head
    result = verify_log(path)
    assert result.ok and result.count == 4 and result.head_hash == entry.hash


def test_reopen_reads_a_last_line_longer_than_one_read_block(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    big = call("Write", file_path="backend/big.py", content="x = 1\n" * 40_000)
    head = write_log(path, [SAMPLE[0], (big, allow())])
    with DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE) as log:
        assert (log.count, log.head_hash) == (2, head)
        log.append(*SAMPLE[1])
    assert verify_log(path).ok


def test_reopen_refuses_an_interrupted_last_line(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    write_log(path, SAMPLE[:3])
    data = path.read_bytes()
    path.write_bytes(data[:-20])
    with pytest.raises(InputError, match="incomplete") as err:
        DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE)
    assert str(path) in str(err.value)
    assert path.read_bytes() == data[:-20]  # nothing appended


def test_reopen_refuses_an_edited_last_line(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    write_log(path, SAMPLE[:3])
    rows = path.read_text().splitlines()
    rows[-1] = rows[-1].replace("backend/", "frontend/", 1)
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="does not match its hash"):
        DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE)


def test_reopen_refuses_a_last_line_that_is_not_an_entry(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    write_log(path, SAMPLE[:2])
    with path.open("a") as fh:
        fh.write('{"hello": 1}\n')
    with pytest.raises(InputError, match="not a decision log entry"):
        DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE)


def test_a_second_writer_is_refused_while_the_first_is_open(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    with DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE) as first:
        first.append(*SAMPLE[0])
        with pytest.raises(InputError, match="in use"):
            DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE)
    with DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE) as again:  # released on close
        assert again.count == 1


def test_append_after_close_fails(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "d.jsonl", labels=LABELS, bundle_hash=BUNDLE)
    log.close()
    assert log.closed
    with pytest.raises(ValueError, match="closed"):
        log.append(*SAMPLE[0])
    log.close()  # idempotent


def test_unopenable_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open decision log"):
        DecisionLog(tmp_path / "missing" / "d.jsonl", labels=LABELS, bundle_hash=BUNDLE)


def test_concurrent_appends_keep_one_valid_chain(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    threads, per_thread = 8, 60
    seen: list[int] = []
    seen_lock = threading.Lock()
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    with DecisionLog(path, labels=LABELS, bundle_hash=BUNDLE) as log:

        def work(n: int) -> None:
            try:
                start.wait()
                for i in range(per_thread):
                    entry = log.append(call("Bash", command=f"echo {n}-{i}"), allow())
                    with seen_lock:
                        seen.append(entry.seq)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert not errors
        assert log.count == threads * per_thread

    assert sorted(seen) == list(range(threads * per_thread))
    result = verify_log(path)
    assert result.ok, result.problem
    assert result.count == threads * per_thread
    commands = {e.tool_input["command"] for e in read_log(path)}
    assert commands == {f"echo {n}-{i}" for n in range(threads) for i in range(per_thread)}


def test_read_log_names_file_and_line_of_a_bad_line(log_path: Path) -> None:
    rows = log_path.read_text().splitlines()
    rows[2] = rows[2][:30]
    log_path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError) as err:
        read_log(log_path)
    message = str(err.value)
    assert message.startswith(f"{log_path}: line 3: ")
    assert "\n" not in message


def test_read_log_rejects_a_json_line_that_is_not_an_entry(log_path: Path) -> None:
    with log_path.open("a") as fh:
        fh.write('{"seq": 99}\n')
    with pytest.raises(InputError, match=r"line 8: not a decision log entry: decision_id"):
        read_log(log_path)


def test_read_log_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read decision log"):
        read_log(tmp_path / "nope.jsonl")


def test_log_stops_at_its_cap_and_keeps_a_valid_chain(tmp_path: Path) -> None:
    """A capped log refuses the line that would pass the cap; what was written still verifies."""
    from runner.audit import verify_log
    from runner.audit.log import DecisionLog
    from runner.errors import AuditLogFull

    path = tmp_path / "decisions.jsonl"
    with DecisionLog(path, labels={"run_id": "r"}, bundle_hash="h", max_bytes=4000) as log:
        written = 0
        with pytest.raises(AuditLogFull, match="reached its cap of 4000 bytes"):
            for _ in range(100):
                log.append({"tool": {"name": "Read", "input": {"file_path": "x" * 200}}},
                           {"allow": True, "reasons": []})
                written += 1
        assert 0 < written < 100
    assert path.stat().st_size <= 4000
    check = verify_log(path)
    assert check.ok and check.count == written
