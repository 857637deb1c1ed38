"""Replay of logged inputs under other policies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.audit import replay, replay_log
from runner.config import PolicyConfig
from runner.policy.engine import load_engine
from runner.policy.models import Decision, Reason
from tests.audit.logdata import CALLS, SAMPLE, allow, call, deny, permissive_run, write_log


class StricterEngine:
    """Stands in for a PolicyEngine: denies every Bash call, otherwise repeats the logged rule."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def evaluate(self, input: dict[str, Any], /) -> Decision:
        self.seen.append(input)
        tool = input["tool"]
        if tool["name"] == "Bash":
            return Decision.deny("shell", "no_shell", "no shell commands at all")
        path = str(tool["input"].get("file_path", ""))
        if path.startswith("frontend/"):
            return Decision.deny("scope", "write_outside_writable", "reworded message")
        if path == ".env":
            return Decision.deny("secrets", "secret_file_read", "still denied")
        return Decision(allow=True)


class BrokenEngine:
    def evaluate(self, input: dict[str, Any], /) -> Decision:
        raise RuntimeError("engine exploded")


def test_replay_lists_only_decisions_that_change(log_path: Path) -> None:
    engine = StricterEngine()
    result = replay(log_path, engine)
    assert result.total == len(SAMPLE)
    assert len(engine.seen) == len(SAMPLE)
    assert engine.seen[0] == SAMPLE[0][0]  # the logged input, unchanged
    # seq 3 Bash allow -> deny; seq 4 Bash deny -> deny but under another rule.
    # seq 2 only reworded its message: not a change.
    assert [c.seq for c in result.changes] == [3, 4]
    first, second = result.changes
    assert first.tool == "Bash" and first.summary == "cd backend && pytest -q"
    assert first.allow_changed and first.transition == "allow -> deny"
    assert first.new.reasons == [
        Reason(policy="shell", rule="no_shell", msg="no shell commands at all")
    ]
    assert not second.allow_changed and second.transition == "deny -> deny"
    assert second.old.reasons[0].rule == "host_not_allowed"
    assert second.new.reasons[0].rule == "no_shell"
    assert first.decision_id != second.decision_id


def test_replay_log_returns_the_changes(log_path: Path) -> None:
    assert [c.seq for c in replay_log(log_path, StricterEngine())] == [3, 4]


def test_identical_policies_change_nothing(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    items = [(call("Read", file_path="a.py"), allow()), (call("Read", file_path="b.py"), allow())]
    write_log(path, items)

    class Same:
        def evaluate(self, input: dict[str, Any], /) -> Decision:
            return Decision(allow=True)

    result = replay(path, Same())
    assert result.total == 2 and result.changes == []


def test_engine_error_is_a_deny_when_replaying(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    write_log(
        path,
        [
            (call("Read", file_path="a.py"), allow()),
            (call("Read", file_path=".env"), deny("engine", "evaluation_failed", "x")),
        ],
    )
    changes = replay_log(path, BrokenEngine())
    assert [c.seq for c in changes] == [0]
    assert changes[0].new.allow is False
    assert changes[0].new.reasons[0].rule == "evaluation_failed"
    assert "engine exploded" in changes[0].new.reasons[0].msg


def test_a_logged_result_that_is_not_a_decision_counts_as_deny(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    write_log(path, [(call("Read", file_path="a.py"), {"allowed": "yes"})])

    class AllowAll:
        def evaluate(self, input: dict[str, Any], /) -> Decision:
            return Decision(allow=True)

    changes = replay_log(path, AllowAll())
    assert len(changes) == 1 and changes[0].transition == "deny -> allow"


# --- with the real engine (regorus) ---------------------------------------------------


def test_replay_under_the_bundled_policies_with_the_real_engine(
    tmp_path: Path, policies_dir: Path
) -> None:
    log_path = permissive_run(tmp_path)
    engine = load_engine(PolicyConfig(dirs=[policies_dir]))
    try:
        result = replay(log_path, engine)
    finally:
        engine.close()
    assert result.total == len(CALLS)
    assert [(c.seq, c.tool, c.transition) for c in result.changes] == [
        (1, "Write", "allow -> deny"),
        (2, "Bash", "allow -> deny"),
        (3, "Read", "allow -> deny"),
    ]
    policies = [c.new.reasons[0].policy for c in result.changes]
    assert policies == ["scope", "network", "secrets"]
    assert "frontend/app.js" in result.changes[0].new.reasons[0].msg
    assert "evil.example" in result.changes[1].new.reasons[0].msg


def test_replay_under_the_same_policies_changes_nothing(tmp_path: Path) -> None:
    log_path = permissive_run(tmp_path)
    engine = load_engine(PolicyConfig(dirs=[tmp_path / "permissive"]))
    try:
        assert replay_log(log_path, engine) == []
    finally:
        engine.close()
