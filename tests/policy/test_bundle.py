"""Policy bundles (runner.policy.bundle) and the policy data view (runner.policy.data)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runner.errors import InputError, PolicyCompileError
from runner.policy.bundle import load_bundle
from runner.policy.data import PolicyData, load_policy_data
from runner.resources import policies_dir

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture()
def policy_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "policies"
    shutil.copytree(REPO_POLICIES, dest)
    return dest


def test_default_bundle_is_the_shipped_policies() -> None:
    bundle = load_bundle([])
    assert bundle.dirs == [policies_dir()]
    names = sorted(f.name for f in bundle.files)
    assert names == ["claude_code.rego", "lib.rego", "main.rego", "network.rego", "scope.rego",
                     "secrets.rego"]
    assert bundle.tests == []
    assert bundle.data["settings"]["writable"] == ["backend/", "issues.md"]
    assert bundle.data["settings"]["allowed_hosts"] == []


def test_tests_only_when_asked() -> None:
    bundle = load_bundle([], include_tests=True)
    assert {f.name for f in bundle.tests} >= {"tests/scope_test.rego", "tests/main_test.rego"}
    assert all(f.name.startswith("tests/") for f in bundle.tests)
    assert bundle.hash == load_bundle([]).hash  # tests are not part of what decides


def test_hash_is_stable_and_location_independent(policy_copy: Path) -> None:
    first = load_bundle([REPO_POLICIES])
    assert len(first.hash) == 64
    assert load_bundle([REPO_POLICIES]).hash == first.hash
    assert load_bundle([policy_copy]).hash == first.hash


def test_hash_changes_with_policies_and_data(policy_copy: Path, tmp_path: Path) -> None:
    base = load_bundle([policy_copy]).hash
    scope = policy_copy / "scope.rego"
    scope.write_text(scope.read_text() + "\n# a comment\n")
    edited = load_bundle([policy_copy]).hash
    assert edited != base
    override = tmp_path / "over.json"
    override.write_text(json.dumps({"settings": {"allowed_hosts": ["pypi.org"]}}))
    assert load_bundle([policy_copy], override).hash not in (base, edited)


def test_data_override_merges_and_wins(tmp_path: Path) -> None:
    override = tmp_path / "over.json"
    override.write_text(
        json.dumps({"settings": {"allowed_hosts": ["pypi.org"]}, "extra": {"a": 1}})
    )
    bundle = load_bundle([], override)
    assert bundle.data["settings"]["allowed_hosts"] == ["pypi.org"]
    assert bundle.data["settings"]["writable"] == ["backend/", "issues.md"]  # kept
    assert bundle.data["extra"] == {"a": 1}


def test_two_directories_merge_and_conflict(tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "more.rego").write_text("package sandbox.more\n\nx := 1\n")
    (extra / "data.json").write_text(json.dumps({"more": {"y": 2}}))
    bundle = load_bundle([REPO_POLICIES, extra])
    assert "more.rego" in {f.name for f in bundle.files}
    assert bundle.data["more"] == {"y": 2}
    (extra / "data.json").write_text(json.dumps({"settings": {"allowed_hosts": ["x"]}}))
    with pytest.raises(InputError, match="data conflict"):
        load_bundle([REPO_POLICIES, extra])


def test_invalid_json_names_the_file_and_position(policy_copy: Path) -> None:
    (policy_copy / "data.json").write_text('{"settings": {\n  "writable": [,]\n}}\n')
    with pytest.raises(PolicyCompileError) as info:
        load_bundle([policy_copy])
    assert str(info.value).startswith(f"{policy_copy / 'data.json'}:2:16: invalid JSON")
    assert info.value.exit_code == 2


def test_data_must_be_an_object(tmp_path: Path) -> None:
    override = tmp_path / "list.json"
    override.write_text("[1, 2]")
    with pytest.raises(InputError, match="must be a JSON object") as info:
        load_bundle([], override)
    assert str(override) in str(info.value)


def test_unreadable_files(policy_copy: Path, tmp_path: Path) -> None:
    (policy_copy / "bad.rego").write_bytes(b"package x\n# \xff\xfe\n")
    with pytest.raises(InputError, match="not valid UTF-8") as info:
        load_bundle([policy_copy])
    assert "bad.rego" in str(info.value)
    with pytest.raises(InputError, match="No such file"):
        load_bundle([], tmp_path / "missing.json")
    with pytest.raises(InputError, match="policy directory not found"):
        load_bundle([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \.rego policy files"):
        load_bundle([tmp_path / "empty"])


# --- PolicyData ---------------------------------------------------------------------------


def test_policy_data_reads_the_settings() -> None:
    data = load_policy_data(load_bundle([]))
    assert data.writable == ["backend/", "issues.md"]
    assert data.writable_dirs == ["backend"]
    assert data.writable_files == ["issues.md"]
    assert data.allowed_hosts == []
    assert ".env" in data.secret_file_patterns
    assert "/dev/null" in data.harmless_specials


@pytest.mark.parametrize(
    "settings, problem",
    [
        ({"secret_file_patterns": ["(.*)"]}, "unsupported syntax"),
        ({"secret_file_patterns": ["a{b,c}"]}, "unsupported syntax"),
        ({"secret_file_patterns": ["[a/b]"]}, "unsupported syntax"),
        ({"secret_file_patterns": [""]}, "empty"),
        ({"secret_file_exceptions": ["a\\b"]}, "unsupported syntax"),
        ({"writable": ["/etc/"]}, "workspace-relative"),
        ({"writable": ["../x/"]}, "workspace-relative"),
        ({"writable": "backend/"}, "valid list"),
    ],
)
def test_invalid_settings_are_bad_input(settings: dict[str, object], problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        load_policy_data({"settings": settings})


@pytest.mark.parametrize(
    "path, secret",
    [
        (".env", True),
        ("backend/.env", True),
        (".env.local", True),
        (".env.example", False),
        ("backend/.env.sample", False),
        (".ssh/.env.example", True),
        (".ssh/", True),
        ("deploy/.aws/", True),
        ("deploy/.aws/credentials", True),
        ("id_rsa", True),
        ("keys/id_ed25519.pub", True),
        ("server.PEM", True),
        ("backend/app.py", False),
        ("backend/id_utils.py", False),
        ("backend/env.py", False),
        ("backend/.envoy.yaml", False),
    ],
)
def test_is_secret_path(path: str, secret: bool) -> None:
    data = load_policy_data(load_bundle([]))
    assert data.is_secret_path(path) is secret


def test_is_secret_path_semantics_on_custom_patterns() -> None:
    data = PolicyData(
        secret_file_patterns=["a[0-9].txt", "conf/*.ini", "/abs/x/", "k?y"],
        secret_file_exceptions=["a0.txt"],
    )
    assert data.is_secret_path("deep/a1.txt")
    assert not data.is_secret_path("deep/ab.txt")
    assert not data.is_secret_path("deep/a0.txt")  # exception
    assert data.is_secret_path("x/conf/app.ini") and data.is_secret_path("conf/app.ini/y")
    assert not data.is_secret_path("conf/sub/app.ini")  # * does not cross /
    assert data.is_secret_path("/abs/x/y") and not data.is_secret_path("abs/x/y")
    assert data.is_secret_path("KEY") and not data.is_secret_path("keey")
