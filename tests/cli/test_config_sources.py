"""Where configuration comes from: defaults < config file < SANDBOX_RUNNER_* < flags.

Every number of RunConfig has a range (a table over the model, so a new field without one
fails); a bad value names its source: the file (pyproject.toml as pyproject.toml), or the
environment variable.
"""

from __future__ import annotations

import json
import os
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import annotated_types
import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from runner.cli import main
from runner.config import RunConfig, build_run_config
from runner.errors import ConfigError
from runner.reports.summary import load_summary
from runner.settings import ALIASES, ENV_PREFIX, _settings_class, env_config
from tests.reports.sample import build_run_dir


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation can hold (unions, Annotated, Optional unwrapped)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _number(annotation: Any) -> bool:
    if annotation in (int, float):
        return True
    return isinstance(annotation, types.UnionType) and any(
        a in (int, float) for a in typing.get_args(annotation))


def numeric_fields(model: type[BaseModel] = RunConfig, path: tuple[str, ...] = (),
                   extra: dict[str, str] | None = None
                   ) -> Iterator[tuple[tuple[str, ...], Any, dict[str, str]]]:
    """(path, field info, the variables that select a union member) of every number."""
    for name, info in model.model_fields.items():
        if _number(info.annotation):
            yield (*path, name), info, dict(extra or {})
        members = _models(info.annotation)
        for sub in members:
            pick = dict(extra or {})
            if len(members) > 1:  # a discriminated union: select this member by its type
                tag = sub.model_fields["type"].default
                pick[ENV_PREFIX + "__".join((*path, name, "type")).upper()] = tag
            yield from numeric_fields(sub, (*path, name), pick)


def bad_values(info: Any) -> list[str]:
    out = []
    for m in info.metadata:
        if isinstance(m, annotated_types.Ge):
            out.append(str(m.ge - 1))
        elif isinstance(m, annotated_types.Gt):
            out.append(str(m.gt))
        elif isinstance(m, annotated_types.Le):
            out.append(str(m.le + 1))
        elif isinstance(m, annotated_types.Lt):
            out.append(str(m.lt))
    return out


NUMBERS = list(numeric_fields())


def test_every_number_of_the_config_has_a_lower_bound() -> None:
    assert len(NUMBERS) >= 29  # the walk reaches every section (limits, engine union too)
    for path, info, _ in NUMBERS:
        assert any(isinstance(m, annotated_types.Ge | annotated_types.Gt)
                   for m in info.metadata), f"{'.'.join(path)} has no range"


@pytest.mark.parametrize(("path", "value", "pick"),
                         [(p, v, pick) for p, info, pick in NUMBERS for v in bad_values(info)],
                         ids=lambda x: ".".join(x) if isinstance(x, tuple) else None)
def test_a_number_out_of_range_from_the_environment_names_the_variable(
        path: tuple[str, ...], value: str, pick: dict[str, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    var = ENV_PREFIX + "__".join(path).upper()
    for name, tag in {**pick, var: value}.items():
        monkeypatch.setenv(name, tag)
    with pytest.raises(ConfigError) as err:
        build_run_config(tmp_path, {})
    assert str(err.value).startswith(f"{var}: {'.'.join(path)}: ")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("path", "value"),
                         [(p, v) for p, info, pick in NUMBERS if not pick
                          for v in bad_values(info)[:1]],
                         ids=lambda x: ".".join(x) if isinstance(x, tuple) else None)
def test_a_number_out_of_range_in_pyproject_names_pyproject(path: tuple[str, ...], value: str,
                                                            tmp_path: Path) -> None:
    table = ".".join(("tool", '"sandbox-runner"', *path[:-1]))
    (tmp_path / "pyproject.toml").write_text(f"[{table}]\n{path[-1]} = {value}\n")
    with pytest.raises(ConfigError) as err:
        build_run_config(tmp_path, {})
    assert err.value.path == str(tmp_path / "pyproject.toml")
    assert str(err.value).startswith(
        f"{tmp_path / 'pyproject.toml'}: tool.sandbox-runner.{'.'.join(path)}: ")


def test_memory_sizes_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("0", "lots", "-1g"):
        monkeypatch.setenv("SANDBOX_RUNNER_SANDBOX__LIMITS__MEMORY", bad)
        with pytest.raises(ConfigError, match="SANDBOX_RUNNER_SANDBOX__LIMITS__MEMORY"):
            build_run_config(tmp_path, {})
    monkeypatch.setenv("SANDBOX_RUNNER_SANDBOX__LIMITS__MEMORY", "3g")
    assert build_run_config(tmp_path, {}).sandbox.limits.memory == "3g"


# --- the right file --------------------------------------------------------------------


def test_pyproject_errors_name_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n\n[tool.sandbox-runner]\nbogus = 1\n')
    result = CliRunner().invoke(main, ["run", str(tmp_path)])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"sandbox-runner: error: {pyproject}: tool.sandbox-runner.bogus: "
                             "Extra inputs are not permitted\n")
    assert "sandbox-runner.toml" not in result.stderr
    pyproject.write_text('[project]\nname = "x"\n[tool.sandbox-runner]\nmax_turns = \n')
    as_json = CliRunner().invoke(main, ["run", str(tmp_path), "-f", "json"])
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["error"] == {
        "code": 2, "message": f"{pyproject}:4:13: invalid TOML: Invalid value",
        "file": str(pyproject), "line": 4, "column": 13}
    pyproject.write_text('[tool]\nsandbox-runner = 3\n')
    with pytest.raises(ConfigError, match=r"pyproject.toml: \[tool.sandbox-runner\] must be"):
        build_run_config(tmp_path, {})


def test_own_file_errors_name_it(tmp_path: Path) -> None:
    (tmp_path / "sandbox-runner.toml").write_text("[gateway]\nretries = -1\n")
    with pytest.raises(ConfigError) as err:
        build_run_config(tmp_path, {})
    assert str(err.value).startswith(f"{tmp_path / 'sandbox-runner.toml'}: gateway.retries: ")
    (tmp_path / "sandbox-runner.toml").write_text("x = [1,\n")
    with pytest.raises(ConfigError) as err:
        build_run_config(tmp_path, {})
    assert (err.value.line, err.value.column) == (2, 1)


def test_a_bad_flag_value_is_not_blamed_on_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.sandbox-runner]\nmax_turns = 3\n")
    with pytest.raises(ConfigError) as err:
        build_run_config(tmp_path, {"max_turns": 0})
    assert err.value.path is None and str(err.value).startswith("max_turns: ")


# --- environment variables -------------------------------------------------------------


def test_every_field_but_the_project_can_come_from_the_environment() -> None:
    assert set(_settings_class(RunConfig).model_fields) == set(RunConfig.model_fields) - {
        "project"}


def test_precedence_defaults_file_environment_flags(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.sandbox-runner]\nmax_turns = 3\nmodel = "opus"\ntimeout = 60\n'
        '[tool.sandbox-runner.gateway]\nmax_requests = 5\nretries = 1\n')
    cfg = build_run_config(tmp_path, {})
    assert (cfg.max_turns, cfg.model, cfg.gateway.max_requests, cfg.bash_timeout) == (
        3, "opus", 5, 120.0)
    monkeypatch.setenv("SANDBOX_RUNNER_MAX_TURNS", "7")
    monkeypatch.setenv("sandbox_runner_model", "haiku")  # any case
    monkeypatch.setenv("SANDBOX_RUNNER_GATEWAY__MAX_REQUESTS", "9")
    monkeypatch.setenv("SANDBOX_RUNNER_TIMEOUT", "")  # empty: unset
    cfg = build_run_config(tmp_path, {})
    assert (cfg.max_turns, cfg.model, cfg.timeout) == (7, "haiku", 60.0)
    assert (cfg.gateway.max_requests, cfg.gateway.retries) == (9, 1)  # the table merges
    cfg = build_run_config(tmp_path, {"max_turns": 11, "model": None})
    assert (cfg.max_turns, cfg.model) == (11, "haiku")  # a flag not given loses nothing


def test_the_short_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_RUNNER_POLICY_DIR", f"/p/a{os.pathsep}/p/b")
    monkeypatch.setenv("SANDBOX_RUNNER_COVERAGE_THRESHOLD", "0")
    monkeypatch.setenv("SANDBOX_RUNNER_OUT", str(tmp_path / "runs" / "x"))
    monkeypatch.setenv("SANDBOX_RUNNER_IMAGE", "img:1")
    monkeypatch.setenv("SANDBOX_RUNNER_TEST_COMMAND", "pytest -q")
    monkeypatch.setenv("SANDBOX_RUNNER_DATA", "/d.json")
    cfg = build_run_config(tmp_path, {})
    assert cfg.policy.dirs == [Path("/p/a"), Path("/p/b")] and cfg.policy.data == Path("/d.json")
    assert cfg.verify.coverage_threshold == 0.0 and cfg.verify.test_command == "pytest -q"
    assert cfg.out == tmp_path / "runs" / "x" and cfg.sandbox.image == "img:1"
    monkeypatch.setenv("SANDBOX_RUNNER_VERIFY__COVERAGE_THRESHOLD", "55")  # the nested wins
    assert build_run_config(tmp_path, {}).verify.coverage_threshold == 55.0
    assert set(ALIASES) == {"POLICY_DIR", "DATA", "IMAGE", "TEST_COMMAND", "COVERAGE_THRESHOLD"}


def test_lists_and_tables_take_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_RUNNER_EGRESS__ALLOW_HOSTS", '["pypi.org"]')
    monkeypatch.setenv("SANDBOX_RUNNER_MODEL_ALIASES", '{"fast": "claude-haiku-5-5"}')
    cfg = build_run_config(tmp_path, {"egress": {"allow_hosts": ["example.com"]}})
    assert cfg.egress.allow_hosts == ["pypi.org", "example.com"]  # --allow-host adds
    assert cfg.model_aliases["fast"] == "claude-haiku-5-5" and "opus" in cfg.model_aliases
    monkeypatch.setenv("SANDBOX_RUNNER_EGRESS__ALLOW_HOSTS", "not json")
    with pytest.raises(ConfigError, match=r"^SANDBOX_RUNNER_EGRESS__ALLOW_HOSTS: "):
        build_run_config(tmp_path, {})
    monkeypatch.setenv("SANDBOX_RUNNER_EGRESS__ALLOW_HOSTS", '["bad host!"]')
    with pytest.raises(ConfigError, match=r"^SANDBOX_RUNNER_EGRESS__ALLOW_HOSTS: "):
        build_run_config(tmp_path, {})


def test_env_config_reads_only_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_config(RunConfig, {"MAX_TURNS": "3", "SANDBOX_RUNNER_RUN_ID": "x"}) == {}
    assert env_config(RunConfig, {"SANDBOX_RUNNER_PROJECT": "/x"}) == {}


def test_through_the_command_line_flags_win(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    summary = load_summary(build_run_dir(tmp_path / "r")[0])
    seen: list[RunConfig] = []
    monkeypatch.setattr("runner.cli.run.execute_run",
                        lambda cfg, display: seen.append(cfg) or summary)
    env = {"SANDBOX_RUNNER_MAX_TURNS": "7", "SANDBOX_RUNNER_TIMEOUT": "99",
           "SANDBOX_RUNNER_COVERAGE_THRESHOLD": "42"}
    CliRunner().invoke(main, ["run", str(tmp_path), "--max-turns", "3"], env=env)
    cfg = seen[-1]
    assert (cfg.max_turns, cfg.timeout, cfg.verify.coverage_threshold) == (3, 99.0, 42.0)
    bad = CliRunner().invoke(main, ["run", str(tmp_path)], env={"SANDBOX_RUNNER_MAX_TURNS": "0"})
    assert bad.exit_code == 2 and bad.stderr.splitlines() == [
        "sandbox-runner: error: SANDBOX_RUNNER_MAX_TURNS: max_turns: Input should be greater "
        "than or equal to 1"]
    as_json = CliRunner().invoke(main, ["run", str(tmp_path), "-f", "json"],
                                 env={"SANDBOX_RUNNER_TIMEOUT": "soon"})
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["error"]["message"].startswith("SANDBOX_RUNNER_TIMEOUT: ")
