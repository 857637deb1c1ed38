"""RunSummary, decision statistics and run-directory files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.errors import InputError
from runner.reports.summary import (
    RunSummary,
    load_summary,
    read_decisions,
    summarize_decisions,
    write_summary,
)


def entry(tool: str, allow: Any, *reasons: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "input": {"tool": {"name": tool, "input": {}}},
        "result": {"allow": allow,
                   "reasons": [{"policy": p, "rule": r, "msg": m} for p, r, m in reasons]},
    }


def test_counts_per_policy_and_tool() -> None:
    entries = [
        entry("Read", True),
        entry("Write", False, ("scope", "write_outside_writable", "frontend/a.js")),
        entry("Write", False, ("scope", "write_outside_writable", "frontend/b.js")),
        entry("Bash", False, ("network", "host_not_allowed", "evil.example"),
              ("secrets", "secret_file_read", ".env")),
        entry("Bash", True),
    ]
    stats = summarize_decisions(entries, policies=("scope", "secrets", "network", "extra"))
    assert (stats.total, stats.allowed, stats.denied) == (5, 2, 3)
    assert {p: (c.allowed, c.denied) for p, c in stats.by_policy.items()} == {
        "extra": (5, 0), "network": (4, 1), "scope": (3, 2), "secrets": (4, 1)}
    assert {t: (c.allowed, c.denied) for t, c in stats.by_tool.items()} == {
        "Bash": (1, 1), "Read": (1, 0), "Write": (0, 2)}
    top = [(r.policy, r.rule, r.count, r.example_msg) for r in stats.top_reasons]
    assert top[0] == ("scope", "write_outside_writable", 2, "frontend/a.js")
    assert sorted(top[1:]) == [("network", "host_not_allowed", 1, "evil.example"),
                               ("secrets", "secret_file_read", 1, ".env")]


def test_only_a_literal_true_allows_and_bad_entries_count_as_denied() -> None:
    stats = summarize_decisions([entry("Read", "true"), entry("Read", 1), {"input": "x"}, {}])
    assert (stats.allowed, stats.denied) == (0, 4)
    assert stats.by_policy["(none)"].denied == 4
    assert "?" in stats.by_tool


def test_top_reasons_are_capped_and_ordered() -> None:
    entries = [entry("Bash", False, ("p", f"r{i:02d}", "m")) for i in range(15) for _ in range(i)]
    stats = summarize_decisions(entries)
    assert [r.rule for r in stats.top_reasons] == [f"r{i:02d}" for i in range(14, 4, -1)]


def test_read_decisions_skips_malformed_lines(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    log.write_bytes(b'{"result": {"allow": true}}\nnot json\n[1,2]\n\n\xff\xfe\n{"seq": 1}\n')
    entries, bad = read_decisions(log)
    assert len(entries) == 2 and bad == 3
    assert read_decisions(tmp_path / "none.jsonl") == ([], 0)


def test_a_crashed_run_can_write_a_partial_summary(tmp_path: Path) -> None:
    summary = RunSummary(run_id="r1", failure="oom-killed")
    write_summary(tmp_path, summary)
    data = json.loads((tmp_path / "summary.json").read_text())
    for key in ("run_id", "status", "exit_code", "started_at", "finished_at", "duration_s", "agent",
                "model", "image", "policy_bundle_hash", "tests", "coverage", "gates", "decisions",
                "issues", "changes", "tokens", "audit", "failure"):
        assert key in data, key
    assert data["status"] == "error" and data["failure"] == "oom-killed"
    assert data["tests"]["failures"] == [] and data["audit"]["head_hash"] is None
    assert "# sandbox-runner: ⚠️ error" in (tmp_path / "summary.md").read_text()
    assert load_summary(tmp_path) == summary


def test_unknown_fields_survive_a_round_trip(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps(
        {"run_id": "r", "future_field": 1, "tokens": {"input": 1, "cache_read": 5}}))
    loaded = load_summary(tmp_path)
    assert loaded.model_dump()["future_field"] == 1
    assert loaded.tokens.model_dump()["cache_read"] == 5


@pytest.mark.parametrize(
    ("content", "needle"),
    [(None, "no summary.json"), ("{", "invalid summary"), ('{"status": "passed"}', "run_id"),
     ('{"run_id": "r", "status": "great"}', "status")],
)
def test_load_summary_errors_name_the_file(tmp_path: Path, content: str | None,
                                           needle: str) -> None:
    if content is not None:
        (tmp_path / "summary.json").write_text(content)
    with pytest.raises(InputError) as info:
        load_summary(tmp_path)
    assert needle in str(info.value) and str(tmp_path) in str(info.value)
    assert info.value.exit_code == 2
