"""A format-2 log of real decisions (the repository's policies on regorus, through the
Decider with a redactor), its erased/masked pointers, and ``audit export --format opa``."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from runner.audit import DecisionLog, cross_check, read_log, replay, verify_log
from runner.audit.export import OPA_EVENT_FIELDS, opa_event, opa_events, upload_body
from runner.cli import main
from runner.config import PolicyConfig
from runner.gateway.redact import Redactor
from runner.policy.decider import Decider
from runner.policy.engine import PolicyEngine, load_engine
from runner.policy.models import ConnectTarget, RunInfo, ToolCall
from runner.reports.collect import decision_stats
from tests.audit.logdata import PERMISSIVE
from tests.audit.test_formats import FIXTURE

REPO = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-value-1234567890"


@pytest.fixture(scope="module")
def engine() -> Iterator[PolicyEngine]:
    eng = load_engine(PolicyConfig(dirs=[REPO / "policies"]))
    yield eng
    eng.close()


def decider_for(engine: PolicyEngine, tmp_path: Path) -> Decider:
    ws = tmp_path / "ws"
    (ws / "backend").mkdir(parents=True)
    (ws / "backend" / "app.py").write_text("x = 1\n")
    return Decider(engine, workspace=ws, run=RunInfo(id="opa-test", agent="demo"),
                   redactor=Redactor({"DEMO_TOKEN": SECRET}, detectors=False))


CALLS: list[tuple[ToolCall, str]] = [
    (ToolCall(name="Read", input={"file_path": "backend/app.py"}), "toolu_1"),
    (ToolCall(name="Write", input={"file_path": "backend/cfg.py",
                                   "content": f"TOKEN = '{SECRET}'\n"}), "toolu_2"),
    (ToolCall(name="Write", input={"file_path": f"frontend/{SECRET}.js", "content": "x"}),
     "toolu_3"),
]


def real_log(engine: PolicyEngine, tmp_path: Path) -> Path:
    decider = decider_for(engine, tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    path = run / "decisions.jsonl"
    with DecisionLog(path, labels={"run_id": "opa-test", "engine": "regorus"},
                     bundle_hash=engine.bundle_hash) as log:
        for call, tool_use_id in CALLS:
            d = decider.decide_logged(call)
            log.append(d.input, d.decision, eval_ns=d.eval_ns, tool_use_id=tool_use_id,
                       requested_by="agent:builtin", masked=d.masked, erased=d.erased)
        c = decider.decide_connect_logged(ConnectTarget(host="pypi.org", port=443, phase="agent"))
        log.append(c.input.model_dump(mode="json", exclude_none=True), c.decision,
                   eval_ns=c.eval_ns, masked=c.masked, erased=c.erased)
    return path


def test_real_decisions_log_verifies_with_redaction_pointers(
        engine: PolicyEngine, tmp_path: Path) -> None:
    path = real_log(engine, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text and "[REDACTED:" in text
    assert verify_log(path).ok
    entries = read_log(path)
    read, write, outside, connect = entries
    assert read.allowed and not read.masked and read.requested_by == "agent:builtin"
    assert read.eval_ns > 0
    assert write.allowed
    assert "/input/tool/input/content" in write.masked
    assert write.tool_input["content"].startswith("TOKEN = '[REDACTED:")
    assert not outside.allowed
    assert "/input/tool/input/file_path" in outside.masked
    assert "/result/reasons/0/msg" in outside.masked  # the reason quoted the path
    assert SECRET not in json.dumps(outside.result)
    for entry in entries:  # every pointer resolves to a redacted string of the line
        line = entry.model_dump(mode="json")
        for pointer in entry.masked:
            node: Any = line
            for part in pointer.lstrip("/").split("/"):
                node = node[int(part)] if isinstance(node, list) else node[part]
            assert "[REDACTED:" in node, pointer
    assert connect.requested_by == "egress-proxy" and connect.tool_use_id is None
    assert not connect.masked and connect.erased == []


def test_cross_check_matches_format_2_inputs_against_the_transcript(tmp_path: Path) -> None:
    """A huge integer is logged as its string (I-JSON): the model's input still matches."""
    path = tmp_path / "decisions.jsonl"
    args = {"file_path": "backend/app.py", "offset": 2**70}
    with DecisionLog(path, labels={}, bundle_hash="b" * 64) as log:
        log.append({"tool": {"name": "Read", "input": args}}, {"allow": True, "reasons": []},
                   tool_use_id="toolu_9")
    transcript = tmp_path / "transcript.jsonl"
    transcript.write_text(json.dumps({"response": {"content": [
        {"type": "tool_use", "id": "toolu_9", "name": "Read", "input": args}]}}) + "\n")
    entries = read_log(path)
    assert entries[0].masked == ["/input/tool/input/offset"]
    check = cross_check(entries, transcript)
    assert check.ok and check.matched == 1


# --- export --------------------------------------------------------------------------------

def test_export_is_the_opa_upload_body(engine: PolicyEngine, tmp_path: Path) -> None:
    path = real_log(engine, tmp_path)
    out = tmp_path / "decisions.json.gz"
    result = CliRunner().invoke(main, ["audit", "export", str(path.parent), "--format", "opa",
                                       "--output", str(out)])
    assert result.exit_code == 0, result.output
    body = out.read_bytes()
    assert body[:2] == b"\x1f\x8b"  # gzip
    events = json.loads(gzip.decompress(body))
    assert isinstance(events, list) and len(events) == 4
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    for event, line in zip(events, lines, strict=True):
        assert set(event) <= set(OPA_EVENT_FIELDS)
        assert event["decision_id"] == line["decision_id"]
        assert event["input"] == line["input"] and event["result"] == line["result"]
        assert event["labels"]["id"] and event["labels"]["version"]
        assert event["requested_by"] in ("agent:builtin", "egress-proxy")
        assert "timer_rego_query_eval_ns" in event["metrics"]
        assert event.get("masked", []) == line.get("masked", [])
    # stdout gives the same bytes (deterministic gzip)
    piped = CliRunner().invoke(main, ["audit", "export", str(path.parent)])
    assert piped.exit_code == 0 and piped.stdout_bytes == body


def test_export_keeps_the_extensions_when_asked(tmp_path: Path, log_path: Path) -> None:
    events = json.loads(gzip.decompress(upload_body(opa_events(log_path, extensions=True))))
    lines = [json.loads(x) for x in log_path.read_text(encoding="utf-8").splitlines()]
    assert [e["hash"] for e in events] == [x["hash"] for x in lines]
    assert all(e["format"] == 2 for e in events)


def test_export_of_a_format_1_log_uses_opa_names() -> None:
    events = opa_events(FIXTURE)
    assert len(events) == 7
    for event in events:
        assert set(event) <= set(OPA_EVENT_FIELDS)
        assert set(event["metrics"]) == {"timer_rego_query_eval_ns"}
        assert event["labels"]["id"] == "v1-fixture"  # the run id stands in
    assert [e["requested_by"] for e in events][-1] == "egress-proxy"
    assert {e["requested_by"] for e in events[:-1]} == {"agent:builtin"}
    entry = read_log(FIXTURE)[0]
    assert opa_event(entry)["metrics"]["timer_rego_query_eval_ns"] == entry.eval_ns


def test_export_refuses_a_tampered_log_and_writes_nothing(tmp_path: Path, log_path: Path) -> None:
    lines = log_path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace('"allow":true', '"allow":false')
    log_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.json.gz"
    result = CliRunner().invoke(main, ["audit", "export", str(log_path), "-o", str(out)])
    assert result.exit_code == 2
    assert "does not verify" in result.output and "seq 1" in result.output
    assert not out.exists() and not list(tmp_path.glob(".out.json.gz*"))


# --- reports read both formats --------------------------------------------------------------

def test_decision_stats_reads_both_formats(engine: PolicyEngine, tmp_path: Path) -> None:
    new = decision_stats(real_log(engine, tmp_path).parent)
    assert (new.total, new.allowed, new.denied, new.malformed) == (4, 2, 2, 0)
    assert new.by_tool["connect"].denied == 1
    old = decision_stats(FIXTURE.parent)
    assert (old.total, old.denied, old.malformed) == (7, 4, 0)


def test_replay_re_decides_format_2_lines_with_the_real_engine(
        engine: PolicyEngine, tmp_path: Path) -> None:
    path = real_log(engine, tmp_path)
    same = replay(path, engine)
    assert same.total == 4 and same.changes == []  # the logged (redacted) inputs re-decide alike
    policy = tmp_path / "permissive"
    policy.mkdir()
    (policy / "main.rego").write_text(PERMISSIVE)
    permissive = load_engine(PolicyConfig(dirs=[policy]))
    try:
        changed = replay(path, permissive)
    finally:
        permissive.close()
    assert [c.seq for c in changed.changes] == [2, 3]  # the two denies
    assert all(c.transition == "deny -> allow" for c in changed.changes)
