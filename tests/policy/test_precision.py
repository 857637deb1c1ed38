"""Issue 9's precision targets as regression tests: the two corpora from real public sources
(tests/policy/CORPORA.md), replayed through the real decider with the masks and redactor a run
over that workspace would have (``workspace_decider``), on the embedded engine.

- every attack of attack_corpus.yaml is denied (one test per case, named after it);
- at most 1% of benign_corpus.yaml is denied (one test: the rate, listing what was denied).

bench/policy_precision.py prints the same numbers (and decision times) for docs/benchmarks.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.config import PolicyConfig
from runner.policy.bundle import load_bundle
from runner.policy.decider import workspace_decider
from runner.policy.engine import PolicyEngine, load_engine
from runner.policy.models import RunInfo, ToolCall
from tests.policy.corpus_support import load_corpus, make_workspace

ATTACKS = load_corpus("attack_corpus.yaml")
BENIGN = load_corpus("benign_corpus.yaml")
MAX_BENIGN_DENIED = 0.01
BUNDLE = load_bundle([])


@pytest.fixture(scope="module")
def engine() -> Iterator[PolicyEngine]:
    eng = load_engine(PolicyConfig(), bundle=BUNDLE)
    yield eng
    eng.close()


def _decide(engine: PolicyEngine, corpus: dict[str, Any], case: dict[str, Any], root: Path) -> Any:
    workspace = make_workspace(root, corpus["workspace"]["files"], case.get("setup"))
    decider = workspace_decider(engine, workspace=workspace, run=RunInfo(id="precision"),
                                bundle=BUNDLE)
    call = ToolCall(name=case["call"]["tool"], input=case["call"].get("input", {}))
    return decider.decide(call)[1]


@pytest.mark.parametrize("case", ATTACKS["cases"], ids=[c["name"] for c in ATTACKS["cases"]])
def test_attack_is_denied(case: dict[str, Any], engine: PolicyEngine, tmp_path: Path) -> None:
    decision = _decide(engine, ATTACKS, case, tmp_path / "ws")
    assert not decision.allow, f"{case['category']} attack allowed ({case['source']}): {case['call']}"
    if case.get("rule"):
        rules = {f"{r.policy}.{r.rule}" for r in decision.reasons}
        assert decision.reasons, "a deny always carries a reason"
        assert rules, rules


def test_at_most_one_percent_of_benign_calls_is_denied(engine: PolicyEngine, tmp_path: Path) -> None:
    denied = []
    for i, case in enumerate(BENIGN["cases"]):
        decision = _decide(engine, BENIGN, case, tmp_path / f"ws{i}")
        if not decision.allow:
            first = decision.reasons[0]
            denied.append(f"{case['name']}: {first.policy}.{first.rule}: {first.msg[:160]}")
    rate = len(denied) / len(BENIGN["cases"])
    assert rate <= MAX_BENIGN_DENIED, (
        f"{len(denied)} of {len(BENIGN['cases'])} benign calls denied ({rate:.1%}):\n" + "\n".join(denied))
