"""The decision corpus (corpus.yaml): raw tool call -> derivation -> default policies.

Each case runs against a fresh copy of a real workspace (symlinks and hard links
included) on every available engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.policy.decider import Decider
from runner.policy.engine import PolicyEngine
from runner.policy.models import RunInfo, ToolCall
from tests.policy.corpus_support import load_corpus
from tests.policy.corpus_support import make_workspace as _make_workspace

CORPUS = load_corpus("corpus.yaml")
CASES: list[dict[str, Any]] = CORPUS["cases"]


def make_workspace(root: Path, setup: dict[str, Any]) -> Path:
    return _make_workspace(root, CORPUS["workspace"]["files"], setup)


def test_corpus_is_large_and_covers_every_rule() -> None:
    assert len(CASES) >= 80
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    assert sum(c["expect"] == "allow" for c in CASES) >= 30
    rules = {c["rule"] for c in CASES if "rule" in c}
    for rule in [
        "scope.write_outside_writable",
        "scope.write_outside_workspace",
        "scope.write_protected_dir",
        "scope.write_symlink_escape",
        "scope.write_hardlink",
        "scope.dynamic_write_target",
        "scope.read_outside_workspace",
        "scope.special_file",
        "scope.git_config_write",
        "scope.git_config_exec",
        "secrets.secret_file",
        "secrets.process_environment",
        "secrets.hardcoded_secret",
        "network.host_not_allowed",
        "network.opaque_shell",
        "input.unknown_tool",
        "input.malformed_input",
    ]:
        assert rule in rules, f"no corpus case for {rule}"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict[str, Any], engine: PolicyEngine, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws", case.get("setup", {}))
    decider = Decider(engine, workspace=workspace, run=RunInfo(id="corpus"))
    call = ToolCall(name=case["call"]["tool"], input=case["call"].get("input", {}))
    policy_input, decision, _ = decider.decide(call)
    got = [f"{r.policy}.{r.rule}" for r in decision.reasons]
    detail = f"reasons={got} paths={[p.model_dump(include={'path', 'real', 'op'}) for p in policy_input.paths]} hosts={[h.host for h in policy_input.hosts]} opaque={policy_input.shell.opaque if policy_input.shell else None} errors={policy_input.errors}"
    if case["expect"] == "allow":
        assert decision.allow, detail
        assert decision.reasons == [], detail
    else:
        assert not decision.allow, detail
        assert decision.reasons, detail
        assert all(r.msg for r in decision.reasons)
        assert "evaluation_failed" not in {r.rule for r in decision.reasons}, detail
        if "rule" in case:
            assert case["rule"] in got, detail
