"""The Decider's decision cache: a decision from the cache is the one the engine gives
(over both corpora), anything that changes the key misses, errors and failed evaluations
are never kept, and the log says which decisions came from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.audit import DecisionLog, read_log, verify_log
from runner.config import PolicyConfig
from runner.policy.bundle import PolicyBundle, PolicyFile, load_bundle
from runner.policy.decider import (
    CACHE_HIT_METRIC,
    Decider,
    DecisionCache,
    cacheable,
    workspace_decider,
)
from runner.policy.engine import PolicyEngine, load_engine
from runner.policy.models import ConnectTarget, Decision, PolicyInput, RunInfo, ToolCall
from runner.policy.regorus_engine import RegorusEngine
from tests.policy.corpus_support import load_corpus, make_workspace

RUN = RunInfo(id="cache")
READ = ToolCall(name="Read", input={"file_path": "backend/app.py"})
BUNDLE = load_bundle([])


@pytest.fixture(scope="module")
def engine() -> Iterator[PolicyEngine]:
    eng = load_engine(PolicyConfig(), bundle=BUNDLE)
    yield eng
    eng.close()


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / "app.py").write_text("x = 1\n")
    return tmp_path


@pytest.mark.parametrize("name", ["benign_corpus.yaml", "attack_corpus.yaml"])
def test_a_cached_decision_is_the_fresh_one_over_the_corpora(name: str, engine: PolicyEngine,
                                                             tmp_path: Path) -> None:
    corpus = load_corpus(name)
    hits = 0
    for i, case in enumerate(corpus["cases"]):
        workspace = make_workspace(tmp_path / f"ws{i}", corpus["workspace"]["files"],
                                   case.get("setup"))
        decider = workspace_decider(engine, workspace=workspace, run=RUN, bundle=BUNDLE)
        assert decider.cache is not None
        call = ToolCall(name=case["call"]["tool"], input=case["call"].get("input", {}))
        first, second = decider.decide_logged(call), decider.decide_logged(call)
        decider.cache = None
        fresh = decider.decide_logged(call)
        assert not first.cached and not fresh.cached
        assert second.cached == (not first.input.errors), case["name"]
        hits += second.cached
        for d in (second, fresh):
            assert d.decision == first.decision and d.input == first.input, case["name"]
            assert (d.masked, d.erased) == (first.masked, first.erased), case["name"]
    assert hits >= 0.9 * len(corpus["cases"])


def test_a_repeat_is_a_hit_and_another_bundle_misses(engine: PolicyEngine, ws: Path,
                                                     tmp_path: Path) -> None:
    decider = Decider(engine, workspace=ws, run=RUN)
    assert decider.decide_logged(READ).cached is False
    assert decider.decide_logged(READ).cached is True
    assert decider.cache is not None and (decider.cache.hits, decider.cache.misses) == (1, 1)
    data = tmp_path / "data.json"  # other data: another bundle hash, so the same input misses
    data.write_text('{"settings": {"writable": ["frontend/"]}}')
    other = load_engine(PolicyConfig(data=data))
    assert other.bundle_hash != engine.bundle_hash
    write = ToolCall(name="Write", input={"file_path": "backend/app.py", "content": "y = 2\n"})
    decider.engine = engine
    assert decider.decide_logged(write).decision.allow
    decider.engine = other
    again = decider.decide_logged(write)
    assert not again.cached and not again.decision.allow
    assert decider.decide_logged(READ).cached is False
    policy_input = decider.derive(READ)
    assert DecisionCache.key("a" * 64, policy_input) != DecisionCache.key("b" * 64, policy_input)
    assert DecisionCache.key("a" * 64, policy_input) == DecisionCache.key(
        "a" * 64, PolicyInput.model_validate(policy_input.model_dump(mode="json")))


def test_a_changed_workspace_misses(engine: PolicyEngine, ws: Path) -> None:
    decider = Decider(engine, workspace=ws, run=RUN)
    call = ToolCall(name="Read", input={"file_path": "backend/link.py"})
    (ws / "backend" / "link.py").symlink_to("app.py")
    assert decider.decide_logged(call).decision.allow
    (ws / "backend" / "link.py").unlink()
    (ws / ".env").write_text("KEY=1\n")
    (ws / "backend" / "link.py").symlink_to("../.env")  # derivation sees the new target
    d = decider.decide_logged(call)
    assert not d.cached and not d.decision.allow


def test_inputs_with_errors_are_never_cached(engine: PolicyEngine, ws: Path) -> None:
    decider = Decider(engine, workspace=ws, run=RUN)
    bad = ToolCall(name="Read", input={})
    for _ in range(2):
        d = decider.decide_logged(bad)
        assert d.input.errors and not d.cached and not d.decision.allow
    for _ in range(2):
        assert not decider.decide_logged(READ, errors=["mapped badly"]).cached
    assert decider.cache is not None and len(decider.cache) == 0


class Flaky(RegorusEngine):
    """The embedded engine, failing its first evaluation."""

    calls = 0

    def evaluate(self, input: Any) -> Decision:
        self.calls += 1
        return Decision.failed("flaky") if self.calls == 1 else super().evaluate(input)


def test_failed_evaluations_are_never_cached(engine: PolicyEngine, ws: Path) -> None:
    assert isinstance(engine, RegorusEngine)
    flaky = Flaky(engine.bundle)
    decider = Decider(flaky, workspace=ws, run=RUN)
    assert not decider.decide_logged(READ).decision.allow
    second = decider.decide_logged(READ)
    assert second.decision.allow and not second.cached
    assert decider.decide_logged(READ).cached and flaky.calls == 2


def test_connections_are_cached_too(engine: PolicyEngine) -> None:
    decider = Decider(engine, workspace=None, run=RUN)
    target = ConnectTarget(host="pypi.org", port=443, phase="agent", method="CONNECT")
    first, second = decider.decide_connect_logged(target), decider.decide_connect_logged(target)
    assert not first.cached and second.cached and second.decision == first.decision


def test_the_cache_is_bounded_lru() -> None:
    cache = DecisionCache(size=2)
    allow, deny = Decision(allow=True), Decision.deny("p", "r", "m")
    cache.put("a", allow)
    cache.put("b", deny)
    assert cache.get("a") == allow  # a is now the most recent
    cache.put("c", allow)
    assert cache.get("b") is None and cache.get("a") == allow and cache.get("c") == allow
    assert len(cache) == 2
    got = cache.get("a")
    assert got is not None
    got.reasons.append(deny.reasons[0])  # a caller's copy: the cache keeps its own
    assert cache.get("a") == allow


def test_nondeterministic_policies_and_unknown_engines_are_not_cached(
        engine: PolicyEngine) -> None:
    assert isinstance(engine, RegorusEngine) and cacheable(engine)

    class Clocked:
        bundle = PolicyBundle(dirs=[], tests=[], data={}, hash="h", files=[PolicyFile(
            path="t.rego", name="t.rego",
            content="package sandbox\ndecision := {\"allow\": time.now_ns() > 0}\n")])
        bundle_hash = "h"

        def evaluate(self, input: Any) -> Decision:
            return Decision(allow=True)

        def close(self) -> None:
            pass

    class Remote:  # an OPA server: no bundle of its own to vouch for
        bundle_hash = "h"

        def evaluate(self, input: Any) -> Decision:
            return Decision(allow=True)

        def close(self) -> None:
            pass

    for other in (Clocked(), Remote()):
        assert not cacheable(other)
        assert Decider(other, workspace=None, run=RUN).cache is None
    assert Decider(engine, workspace=None, run=RUN, cache_size=0).cache is None


def test_the_log_marks_decisions_from_the_cache(engine: PolicyEngine, ws: Path,
                                                tmp_path: Path) -> None:
    decider = Decider(engine, workspace=ws, run=RUN)
    path = tmp_path / "decisions.jsonl"
    with DecisionLog(path, labels={"run_id": "cache"}, bundle_hash=engine.bundle_hash) as log:
        for _ in range(2):
            d = decider.decide_logged(READ)
            log.append(d.input, d.decision, eval_ns=d.eval_ns, metrics=d.metrics)
    assert verify_log(path).ok
    entries = read_log(path)
    assert [e.metrics.get(CACHE_HIT_METRIC) for e in entries] == [None, 1]
    assert all("timer_rego_query_eval_ns" in e.metrics for e in entries)


def test_redact_json_names_what_changed_by_its_pointer() -> None:
    from runner.policy.decider import MAX_REDACT_DEPTH, redact_json

    def hide(text: str) -> str:
        return text.replace("SECRET", "[R]")

    tree = {"a/b": ["x", {"~k": "a SECRET", "ok": "plain"}], "SECRET": 1, "n": None}
    changed: list[str] = []
    out = redact_json(tree, hide, where="/input", changed=changed)
    assert out == {"a/b": ["x", {"~k": "a [R]", "ok": "plain"}], "[R]": 1, "n": None}
    assert changed == ["/input/a~1b/1/~0k", "/input/[R]"]
    deep: object = "x"
    for _ in range(MAX_REDACT_DEPTH + 1):
        deep = [deep]
    changed = []
    redact_json({"d": deep}, hide, changed=changed)
    assert changed == ["/d" + "/0" * (MAX_REDACT_DEPTH - 1)]


def test_an_input_with_nothing_to_redact_is_logged_as_it_is(engine: PolicyEngine,
                                                            ws: Path) -> None:
    """One look at all of an input's strings rules redaction out (the input and decision come
    back as they are); a secret anywhere in it, or nesting too deep to look at whole, is
    redacted string by string as before."""
    from runner.gateway.redact import Redactor
    from runner.policy.decider import MAX_REDACT_DEPTH

    secret = "Zq8Lm2Xv9Rt4Wp7Kd3"
    decider = Decider(engine, workspace=ws, run=RUN, redactor=Redactor({"env:K": secret}),
                      cache_size=0)
    policy_input = decider.derive(READ)
    assert decider.redact_logged(policy_input, "/input") == (policy_input, [], [])
    key = "aws_key = AKIA" + "Q" * 16
    call = ToolCall(name="Write", input={"file_path": "backend/app.py",
                                         "content": f"x = 1\n# {secret}\n{key}\ny = 2\n"})
    logged = decider.decide_logged(call)
    content = logged.input.tool.input["content"]
    assert secret not in content and "AKIA" not in content
    assert content == "x = 1\n# [REDACTED:env:K]\naws_key = [REDACTED:aws-access-key]\ny = 2\n"
    assert "/input/tool/input/content" in logged.masked
    deep: object = "plain"
    for _ in range(MAX_REDACT_DEPTH + 1):
        deep = [deep]
    out, masked, _ = decider.redact_logged({"d": deep}, "")
    assert masked == ["/d" + "/0" * (MAX_REDACT_DEPTH - 1)] and out != {"d": deep}
