"""Configuration precedence and errors: flags > sandbox-runner.toml / pyproject > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.config import OPAEngineConfig, build_run_config
from runner.errors import ConfigError


def test_defaults(tmp_path: Path) -> None:
    cfg = build_run_config(tmp_path, {})
    assert cfg.agent == "backend-implementer"
    assert cfg.verify.coverage_threshold == 80.0
    assert cfg.sandbox.type == "docker"
    assert cfg.policy.engine.type == "regorus"


def test_file_then_flags_precedence(tmp_path: Path) -> None:
    (tmp_path / "sandbox-runner.toml").write_text(
        'max_turns = 7\ntimeout = 99\n[verify]\ncoverage_threshold = 90\n'
        '[sandbox.limits]\nmemory = "1g"\n')
    cfg = build_run_config(tmp_path, {"max_turns": 3, "timeout": None,
                                      "verify": {"coverage_threshold": None}})
    assert cfg.max_turns == 3  # flag wins
    assert cfg.timeout == 99  # file
    assert cfg.verify.coverage_threshold == 90
    assert cfg.sandbox.limits.memory == "1g"
    assert cfg.sandbox.limits.pids == 256  # default kept beside the file's value


def test_pyproject_section(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.sandbox-runner]\nmax_turns = 11\n'
        '[tool.sandbox-runner.policy.engine]\ntype = "opa"\nurl = "http://127.0.0.1:8181"\n')
    cfg = build_run_config(tmp_path, {})
    assert cfg.max_turns == 11
    assert isinstance(cfg.policy.engine, OPAEngineConfig)


@pytest.mark.parametrize(("toml", "message"), [
    ('[sandbox.limits]\nmemoryy = "1g"\n', "sandbox.limits.memoryy: Extra inputs"),
    ('max_turns = "many"\n', "max_turns:"),
    ('[sandbox]\ntype = "k8s"\n', "sandbox:"),
    ('max_turns = \n', "sandbox-runner.toml"),
])
def test_bad_config_is_one_clear_line(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "sandbox-runner.toml").write_text(toml)
    with pytest.raises(ConfigError) as info:
        build_run_config(tmp_path, {})
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert str(tmp_path / "sandbox-runner.toml") in text
    assert info.value.exit_code == 2


def test_coverage_scope_from_the_config(tmp_path: Path) -> None:
    assert "backend/tests/**" in build_run_config(tmp_path, {}).verify.coverage_omit
    (tmp_path / "sandbox-runner.toml").write_text(
        '[verify]\ncoverage_omit = ["backend/migrations/**"]\n'
        'coverage_include = ["backend/app/**"]\n')
    scope = build_run_config(tmp_path, {}).verify.coverage_scope()
    assert scope.counts("backend/app/main.py")
    assert not scope.counts("backend/migrations/0001.py")
    assert not scope.counts("backend/other.py")  # outside include
    assert scope.counts("backend/app/test_x.py")  # the configured omit replaces the default


def test_bad_coverage_pattern_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "sandbox-runner.toml").write_text('[verify]\ncoverage_omit = ["../x/**"]\n')
    with pytest.raises(ConfigError) as info:
        build_run_config(tmp_path, {})
    text = str(info.value)
    assert "verify.coverage_omit" in text and "project-relative" in text and "\n" not in text
