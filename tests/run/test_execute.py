"""Run orchestration without Docker: input validation and the decide callback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.audit import DecisionLog, verify_log
from runner.config import build_run_config
from runner.errors import (
    AgentFileError,
    ConfigError,
    PolicyCompileError,
    ProjectError,
    ScenarioError,
)
from runner.protocol import DecideRequest
from runner.run.display import RunDisplay
from runner.run.phases import Run, prepare
from runner.run.rundir import check_run_dir_place


def _project(tmp_path: Path) -> tuple[Path, Path]:
    project = tmp_path / "proj"
    (project / "backend").mkdir(parents=True)
    (project / ".env").write_text("SECRET=x\n")
    scenario = tmp_path / "s.yaml"
    scenario.write_text('turns:\n  - text: "Done."\n')
    return project, scenario


def test_prepare_validates_every_input_before_writing(tmp_path: Path) -> None:
    project, scenario = _project(tmp_path)
    ok = build_run_config(project, {"model": f"scripted:{scenario}"})
    prep = prepare(ok)
    assert prep.model == "scripted" and prep.data.writable == ["backend/", "issues.md"]
    bad_rego = tmp_path / "bad"
    bad_rego.mkdir()
    (bad_rego / "main.rego").write_text("package sandbox\n\ndecision := {\n")
    cases = [
        ({"model": f"scripted:{tmp_path / 'missing.yaml'}"}, ScenarioError),
        ({"model": f"scripted:{scenario}", "agent": str(tmp_path / "nope.md")}, AgentFileError),
        ({"model": f"scripted:{scenario}", "policy": {"dirs": [bad_rego]}}, PolicyCompileError),
    ]
    for flags, error in cases:
        with pytest.raises(error):
            prepare(build_run_config(project, flags))
    with pytest.raises(ProjectError):
        prepare(build_run_config(tmp_path / "absent", {"model": f"scripted:{scenario}"}))
    assert not (project / ".sandbox-runner").exists()  # nothing half-written


def _explode(*args: object, **kwargs: object) -> object:
    raise RuntimeError("engine fell over")


def test_decide_fails_closed_and_still_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, scenario = _project(tmp_path)
    run = Run(prepare(build_run_config(project, {"model": f"scripted:{scenario}"})),
              RunDisplay(quiet=True))
    log_path = tmp_path / "decisions.jsonl"
    run.decisions.log = DecisionLog(log_path, labels={}, bundle_hash="x")
    allowed = run.decisions.decide(DecideRequest(tool="Read", input={"file_path": "backend/x.py"}))
    denied = run.decisions.decide(DecideRequest(tool="Read", input={"file_path": ".env"}))
    monkeypatch.setattr(run.decisions.decider, "decide_logged", _explode)
    broken = run.decisions.decide(DecideRequest(tool="Read", input={"file_path": "backend/x.py"}))
    run.decisions.log.close()
    assert allowed.allow and not denied.allow
    assert denied.reasons[0].policy == "secrets"
    assert not broken.allow
    assert "policy evaluation failed" in broken.reasons[0].msg
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [line["result"]["allow"] for line in lines] == [True, False, False]
    assert [line["decision_id"] for line in lines] == [
        allowed.decision_id, denied.decision_id, broken.decision_id]
    assert verify_log(log_path).ok


def test_a_full_decision_log_denies_and_ends_the_run(tmp_path: Path) -> None:
    """Nothing may run unlogged: once decisions.jsonl reaches its cap every call is denied and
    the gateway is told the run failed (later model requests get 503, the run exits 3)."""
    from runner.errors import AuditLogFull

    project, scenario = _project(tmp_path)
    run = Run(prepare(build_run_config(project, {"model": f"scripted:{scenario}"})),
              RunDisplay(quiet=True))
    failures: list[Exception] = []

    class _Gateway:
        def fail(self, exc: Exception) -> None:
            failures.append(exc)

    run.gateway = _Gateway()  # type: ignore[assignment]
    run.decisions.log = DecisionLog(tmp_path / "decisions.jsonl", labels={}, bundle_hash="x", max_bytes=3000)
    answers = [run.decisions.decide(DecideRequest(tool="Read", input={"file_path": "backend/x.py"}))
               for _ in range(10)]
    run.decisions.log.close()
    assert answers[0].allow
    assert not answers[-1].allow
    assert answers[-1].reasons[0].policy == "audit" and answers[-1].reasons[0].rule == "log_full"
    assert failures and isinstance(failures[0], AuditLogFull)
    assert verify_log(tmp_path / "decisions.jsonl").ok


@pytest.mark.parametrize("where", ["out", "backend/x", ".", "docs/../out"])
def test_out_inside_the_project_is_refused(tmp_path: Path, where: str) -> None:
    project = tmp_path / "p"
    (project / "docs").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"inside the project"):
        check_run_dir_place(project, project / where)


def test_out_outside_or_under_the_runner_state_is_accepted(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    check_run_dir_place(project, None)
    check_run_dir_place(project, tmp_path / "runs" / "r1")
    check_run_dir_place(project, project / ".sandbox-runner" / "mine")
    (project / ".sandbox-runner").symlink_to(tmp_path)
    with pytest.raises(ProjectError, match="not a directory"):
        check_run_dir_place(project, None)


def test_the_agent_files_tools_reach_the_policy_input_and_the_record(tmp_path: Path) -> None:
    """The host enforces the agent file's tools too: a tool it does not grant is denied by the
    policy (agent/tool_not_granted), not only left out of the container's toolbox."""
    project, scenario = _project(tmp_path)
    agent = tmp_path / "reader.md"
    agent.write_text("---\nname: reader\ndescription: reads: code\ntools: Read, Grep, WebFetch\n"
                     "maxTurns: 7\npermissionMode: plan\n---\nYou read.\n")
    prep = prepare(build_run_config(project, {"model": f"scripted:{scenario}", "agent": str(agent)}))
    run = Run(prep, RunDisplay(quiet=True))
    assert run.decisions.decider.run.tools == ["Read", "Grep"]
    config = run.agent_config()
    assert config.tools == ["Read", "Grep"] and config.max_turns == 7
    record = run.record.agent
    assert record["tools"] == ["Read", "Grep"]
    assert record["tools_requested"] == ["Read", "Grep", "WebFetch"]
    assert record["tools_dropped"] == [{"tool": "WebFetch",
                                        "reason": "not available: no network in the sandbox"}]
    assert [k["key"] for k in record["keys_ignored"]] == ["permissionMode"]
    assert any("not valid YAML" in w for w in record["warnings"])
    run.decisions.log = DecisionLog(tmp_path / "decisions.jsonl", labels={}, bundle_hash="x")
    read = run.decisions.decide(DecideRequest(tool="Read", input={"file_path": "backend/x.py"}))
    write = run.decisions.decide(DecideRequest(tool="Write", input={"file_path": "backend/x.py",
                                                          "content": "x = 1\n"}))
    run.decisions.log.close()
    assert read.allow and not write.allow
    assert [(r.policy, r.rule) for r in write.reasons] == [("agent", "tool_not_granted")]
    logged = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert logged[1]["input"]["run"]["tools"] == ["Read", "Grep"]
    prep.engine.close()


def test_max_turns_from_the_flag_wins_over_the_agent_file(tmp_path: Path) -> None:
    project, scenario = _project(tmp_path)
    agent = tmp_path / "a.md"
    agent.write_text("---\nname: a\ndescription: d\nmaxTurns: 7\n---\nBody\n")
    flags = {"model": f"scripted:{scenario}", "agent": str(agent)}
    for extra, turns in (({}, 7), ({"max_turns": 3}, 3), ({"agent": "backend-implementer"}, 50)):
        prep = prepare(build_run_config(project, {**flags, **extra}))
        prep.engine.close()
        assert prep.max_turns == turns
    with pytest.raises(ConfigError):
        prepare(build_run_config(project, {**flags, "max_turns": 0}))


def test_results_cut_short_still_leave_run_json_with_the_end(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An interrupt (or any error) while the results are collected goes up, but only after
    run.json records the run's end and its failure."""
    import runner.run.results as results
    from runner.errors import Interrupted, RunFailed

    project, scenario = _project(tmp_path)
    run = Run(prepare(build_run_config(project, {"model": f"scripted:{scenario}",
                                                 "out": tmp_path / "run"})),
              RunDisplay(quiet=True))
    run.run_dir.mkdir()

    def interrupted(*args: object, **kwargs: object) -> None:
        raise Interrupted("SIGINT")

    monkeypatch.setattr(results, "write_results", interrupted)
    with pytest.raises(Interrupted):
        run.finish(RunFailed("the agent failed"))
    record = json.loads((run.run_dir / "run.json").read_text())
    assert record["failure"] == "the agent failed" and record["finished_at"]
