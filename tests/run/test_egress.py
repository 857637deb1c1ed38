"""The agent phase's egress without Docker: flags, the allowlist in the policy data, and
connections decided through the run's one log path (runner/run/execute.py, runner/run/egress.py)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from runner.audit import DecisionLog, read_log, verify_log
from runner.config import build_run_config
from runner.errors import ConfigError
from runner.policy.models import ConnectTarget
from runner.protocol import DecideRequest
from runner.reports.summary import summarize_decisions
from runner.run.display import RunDisplay
from runner.run.phases import Run, prepare

REPO = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, toml: str = "") -> tuple[Path, Path]:
    project = tmp_path / "proj"
    (project / "backend").mkdir(parents=True)
    if toml:
        (project / "sandbox-runner.toml").write_text(toml)
    scenario = tmp_path / "s.yaml"
    scenario.write_text('turns:\n  - text: "Done."\n')
    return project, scenario


def target(host: str, port: int = 443, method: str = "CONNECT") -> ConnectTarget:
    return ConnectTarget(host=host, port=port, phase="agent", method=method)


def test_no_hosts_no_proxy(tmp_path: Path) -> None:
    project, scenario = _project(tmp_path)
    prep = prepare(build_run_config(project, {"model": f"scripted:{scenario}"}))
    assert prep.egress_hosts == []  # execute() starts no proxy, no relay, sets no variable


def test_allowed_hosts_reach_the_policy_data_and_the_bundle_hash(tmp_path: Path) -> None:
    project, scenario = _project(tmp_path)
    plain = prepare(build_run_config(project, {"model": f"scripted:{scenario}"}))
    prep = prepare(build_run_config(project, {
        "model": f"scripted:{scenario}",
        "egress": {"allow_hosts": ["Index.Test:8080"], "presets": ["python"]}}))
    assert prep.egress_hosts == ["index.test:8080", "pypi.org", "files.pythonhosted.org"]
    assert prep.bundle.hash != plain.bundle.hash
    assert prep.bundle.data["settings"]["allowed_hosts"] == ["index.test:8080"]


def test_config_file_hosts_and_flags_add_up(tmp_path: Path) -> None:
    project, scenario = _project(tmp_path, '[egress]\nallow_hosts = ["a.example"]\n'
                                           'presets = ["python"]\nmax_concurrent = 4\n')
    cfg = build_run_config(project, {"model": f"scripted:{scenario}",
                                     "egress": {"allow_hosts": ["b.example", "a.example"]}})
    assert cfg.egress.allow_hosts == ["a.example", "b.example"]
    assert cfg.egress.presets == ["python"] and cfg.egress.max_concurrent == 4


@pytest.mark.parametrize(("egress", "says"), [
    ({"allow_hosts": ["bad host"]}, "egress.allow_hosts: 'bad host': not a host name"),
    ({"allow_private": ["*"]}, "only as a leading"),
    ({"presets": ["nope"]}, "unknown egress preset 'nope' (known: python)"),
    ({"max_mb": 0}, "egress.max_mb"),
])
def test_bad_egress_settings_are_bad_input(tmp_path: Path, egress: dict[str, object],
                                           says: str) -> None:
    project, scenario = _project(tmp_path)
    with pytest.raises(ConfigError) as raised:
        prepare(build_run_config(project, {"model": f"scripted:{scenario}", "egress": egress}))
    assert says in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize(("flag", "says"), [
    (["--allow-host", "exa mple.com"], "--allow-host: 'exa mple.com': not a host name"),
    (["--allow-host", "pypi.org:99999"], "--allow-host: 'pypi.org:99999': the port"),
    (["--allow-preset", "rubygems"], "unknown egress preset 'rubygems'"),
])
def test_bad_flags_exit_2_with_one_line(tmp_path: Path, flag: list[str], says: str) -> None:
    project, scenario = _project(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "runner.cli", "run", str(project), "--model",
         f"scripted:{scenario}", *flag], capture_output=True, text=True, cwd=REPO, timeout=120,
        check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], proc.stderr
    assert not (project / ".sandbox-runner").exists()


def test_tool_calls_and_connections_are_one_chain(tmp_path: Path) -> None:
    project, scenario = _project(tmp_path)
    out = io.StringIO()
    display = RunDisplay(console=Console(file=out, width=200, emoji=False, highlight=False))
    run = Run(prepare(build_run_config(project, {
        "model": f"scripted:{scenario}", "egress": {"presets": ["python"]}})), display)
    run.decisions.log = DecisionLog(tmp_path / "decisions.jsonl", labels={}, bundle_hash="x")
    pip = run.decisions.decide(DecideRequest(tool="Bash", input={"command": "pip download -d backend/dl six"},
                                   tool_use_id="toolu_1"))
    allowed = run.decisions.decide_connect(target("pypi.org"))
    files = run.decisions.decide_connect(target("files.pythonhosted.org"))
    denied = run.decisions.decide_connect(target("evil.example", 80, "GET"))
    run.decisions.log.close()
    assert pip.allow and allowed.allow and files.allow and not denied.allow
    assert denied.reasons[0].rule == "connect_not_allowed"
    assert "evil.example:80 (GET, agent phase)" in denied.reasons[0].msg
    entries = read_log(tmp_path / "decisions.jsonl")
    assert [e.kind for e in entries] == ["tool", "connect", "connect", "connect"]
    assert [e.decision_id for e in entries] == [
        pip.decision_id, allowed.decision_id, files.decision_id, denied.decision_id]
    assert entries[0].tool_use_id == "toolu_1" and entries[1].tool_use_id is None
    assert verify_log(tmp_path / "decisions.jsonl").ok
    stats = summarize_decisions([json.loads(line) for line in
                                 (tmp_path / "decisions.jsonl").read_text().splitlines()])
    assert stats.by_tool["connect"].allowed == 2 and stats.by_tool["connect"].denied == 1
    shown = out.getvalue()
    assert "allow connect CONNECT pypi.org:443 (agent)" in shown
    assert "DENY  connect GET evil.example:80 (agent)" in shown


def test_decide_connect_fails_closed_and_still_logs(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    project, scenario = _project(tmp_path)
    run = Run(prepare(build_run_config(project, {"model": f"scripted:{scenario}",
                                                 "egress": {"allow_hosts": ["pypi.org"]}})),
              RunDisplay(quiet=True))
    run.decisions.log = DecisionLog(tmp_path / "decisions.jsonl", labels={}, bundle_hash="x")

    def explode(*args: object) -> object:
        raise RuntimeError("engine fell over")

    monkeypatch.setattr(run.decisions.decider, "decide_connect_logged", explode)
    broken = run.decisions.decide_connect(target("pypi.org"))
    run.decisions.log.close()
    assert not broken.allow and "engine fell over" in broken.reasons[0].msg
    [entry] = read_log(tmp_path / "decisions.jsonl")
    assert entry.kind == "connect" and entry.tool_input["host"] == "pypi.org"
    assert entry.decision_id == broken.decision_id


def test_a_full_log_denies_connections(tmp_path: Path) -> None:
    project, scenario = _project(tmp_path)
    run = Run(prepare(build_run_config(project, {"model": f"scripted:{scenario}",
                                                 "egress": {"allow_hosts": ["pypi.org"]}})),
              RunDisplay(quiet=True))
    run.decisions.log = DecisionLog(tmp_path / "decisions.jsonl", labels={}, bundle_hash="x",
                          max_bytes=2000)
    answers = [run.decisions.decide_connect(target("pypi.org")) for _ in range(10)]
    run.decisions.log.close()
    assert answers[0].allow and not answers[-1].allow
    assert (answers[-1].reasons[0].policy, answers[-1].reasons[0].rule) == ("audit", "log_full")


def test_the_console_shows_connections_sanitized() -> None:
    out = io.StringIO()
    display = RunDisplay(console=Console(file=out, width=300, emoji=False, highlight=False))
    display.connection({"host": "evil\x1b[31m.example", "port": 443, "method": "[bold]GET",
                        "phase": "agent\n::warning::x"}, False, ["network/x: \x1b]0;title\x07no"])
    display.egress_refused("a\x1b[2Jb", 80, 403, "resolves to 127.0.0.1\r\n::error::x")
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "::warning::" not in text \
        and "::error::" not in text
    assert "[bold]GET" in text  # markup shown literally
