"""The default policies' own Rego tests, their coverage, and Python/Rego agreement."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import regorus

from runner.errors import PolicyCompileError
from runner.policy.bundle import PolicyFile, load_bundle
from runner.policy.data import load_policy_data
from runner.policy.engine import DERIVED_KEY, DERIVED_RULE
from runner.policy.regorus_engine import build_engine, run_tests

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def test_the_rego_tests_pass() -> None:
    report = run_tests(load_bundle([POLICIES], include_tests=True))
    failed = [f"{r.name}: {r.error}" for r in report.results if not r.passed]
    assert failed == []
    assert report.ok
    assert len(report.results) >= 30
    assert all(r.file.endswith("_test.rego") and r.line > 0 for r in report.results)


def _rules_in_policies() -> set[str]:
    rules: set[str] = set()
    for name in ("main.rego", "scope.rego", "secrets.rego", "network.rego", "claude_code.rego"):
        text = (POLICIES / name).read_text()
        rules |= set(re.findall(r'reason\(\s*"([a-z_]+)"', text))
    return rules - {"undecidable"}  # the default decision: only when no rule decides


def _test_blocks() -> list[str]:
    text = "\n".join(p.read_text() for p in (POLICIES / "tests").glob("*_test.rego"))
    return re.split(r"\n(?=test_\w+ if)", text)


def test_every_rule_is_tested_both_ways() -> None:
    rules = _rules_in_policies()
    assert len(rules) >= 17
    blocks = _test_blocks()
    for rule in sorted(rules):
        both = [b for b in blocks if f'"{rule}")' in b and "t.allowed(" in b]
        assert both, f"rule {rule} has no test that shows both a deny and an allow"


def test_a_failing_test_fails(tmp_path: Path) -> None:
    pol = tmp_path / "policies"
    shutil.copytree(POLICIES, pol)
    (pol / "tests" / "extra_test.rego").write_text(
        "package sandbox.extra_test\n\nimport rego.v1\n\n"
        'test_wrong if {\n\tdata.sandbox.decision.allow with input as {"tool": {"name": "Nope"}}\n}\n\n'
        "test_errors if {\n\tx := 1 / 0\n\tx == 1\n}\n\n"
        'test_right if {\n\tnot data.sandbox.decision.allow with input as {"tool": {"name": "Nope"}}\n}\n'
    )
    report = run_tests(load_bundle([pol], include_tests=True))
    by_name = {r.name: r for r in report.results}
    assert not report.ok
    assert report.failed == 2
    assert not by_name["data.sandbox.extra_test.test_wrong"].passed
    assert by_name["data.sandbox.extra_test.test_errors"].error
    assert by_name["data.sandbox.extra_test.test_right"].passed


def test_a_mutated_policy_fails_its_tests(tmp_path: Path) -> None:
    pol = tmp_path / "policies"
    shutil.copytree(POLICIES, pol)
    data = json.loads((pol / "data.json").read_text())
    data["settings"]["writable"].append("frontend/")
    (pol / "data.json").write_text(json.dumps(data))
    report = run_tests(load_bundle([pol], include_tests=True))
    assert "data.sandbox.scope_test.test_write_under_backend" in {
        r.name for r in report.results if not r.passed
    }


def test_compile_error_in_a_test_file(tmp_path: Path) -> None:
    pol = tmp_path / "policies"
    shutil.copytree(POLICIES, pol)
    (pol / "tests" / "broken_test.rego").write_text("package x\n\ntest_a if {\n\tx := \n}\n")
    with pytest.raises(PolicyCompileError) as info:
        run_tests(load_bundle([pol], include_tests=True))
    where = pol / "tests" / "broken_test.rego"
    assert str(info.value) == f"{where}:4:7: expecting `}}` while parsing set"


# --- Python and Rego agree on secret paths ------------------------------------------------

AGREEMENT_PATHS = [
    ".env",
    "backend/.env",
    ".ENV",
    "x.env",
    ".env.local",
    ".env.example",
    "backend/.env.sample",
    ".ssh/.env.example",
    ".envrc",
    "backend/envelope.py",
    ".ssh",
    "home/.ssh/known_hosts",
    ".sshd/config",
    "id_rsa",
    "id_rsa.pub",
    "keys/id_ed25519",
    "backend/id_utils.py",
    "deploy/server.pem",
    "deploy/server.pem.bak",
    "Server.PEM",
    "a/b.key",
    "b.keys",
    ".aws",
    "x/.aws/credentials",
    ".kube/config",
    "kubeconfig",
    "prod.kubeconfig",
    ".config/gcloud/adc.json",
    ".config/gcloudx/a",
    ".npmrc",
    "backend/.npmrc.bak",
    ".netrc",
    "/home/agent/.netrc",
    "/home/agent/.pypirc",
    "service-account-prod.json",
    "service-account.yaml",
    "credentials.json",
    "backend/credentials.json.py",
    ".sandbox-runner/runs/x/decisions.jsonl",
    "backend/app.py",
    "README.md",
    ".",
    "/proc/self/environ",
    "/etc/ssl/private/x.key",
    "dir with space/.env",
    "ünïcödé/.env",
    "backend/secrets.yaml",
    "backend/secrets.yaml.example",
]


def _rego_secret_paths(with_derived: bool) -> dict[str, bool]:
    bundle = load_bundle([POLICIES])
    probe = PolicyFile(
        path="agree.rego",
        name="agree.rego",
        content="package agree\n\nimport rego.v1\n\n"
        "result := {p: data.sandbox.lib.secret_path(p) | some p in input.paths}\n",
    )
    engine: regorus.Engine = build_engine([*bundle.files, probe], bundle.data)
    if with_derived:
        derived = json.loads(engine.eval_rule_as_json(DERIVED_RULE))
        engine.add_data({DERIVED_KEY: derived})
    engine.set_input({"paths": AGREEMENT_PATHS})
    result: dict[str, bool] = json.loads(engine.eval_rule_as_json("data.agree.result"))
    return result


@pytest.mark.parametrize("with_derived", [True, False], ids=["derived", "computed"])
def test_python_and_rego_agree_on_secret_paths(with_derived: bool) -> None:
    data = load_policy_data(load_bundle([POLICIES]))
    rego = _rego_secret_paths(with_derived)
    python = {p: data.is_secret_path(p) for p in AGREEMENT_PATHS}
    assert rego == python
    assert sum(python.values()) >= 20 and sum(not v for v in python.values()) >= 15
