"""The run's start sequence with a real container: the container starts while the host side
comes up, and a failing self-check still stops the run before the agent acts."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import docker
import pytest

from runner.config import build_run_config
from runner.errors import InputError
from runner.run import execute, sandbox_start
from runner.run import selfcheck as selfcheck_step
from runner.run.display import RunDisplay
from runner.sandbox.selfcheck import SelfCheckResult, run_self_check

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path) -> tuple[Path, Path]:
    project = tmp_path / "minimal"
    shutil.copytree(REPO / "examples" / "minimal", project,
                    ignore=shutil.ignore_patterns("scenario*.yaml"))
    scenario = tmp_path / "one-turn.yaml"
    scenario.write_text('turns:\n  - text: "Done."\n')
    return project, scenario


def _gone(container: str) -> bool:
    """Whether the engine no longer has ``container``."""
    client = docker.from_env()
    try:
        client.containers.get(container)
    except docker.errors.NotFound:
        return True
    finally:
        client.close()
    return False


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_failing_check_stops_the_run_and_removes_the_container(
        tmp_path: Path, sandbox_image: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real self-check in the real container, asked to find a pids limit the container
    does not have: exit 3, the container gone, the agent never told to go. Its first model
    request may have been answered meanwhile (a Write): that call never ran, and nothing was
    decided, let alone allowed."""
    project, scenario = _project(tmp_path)
    scenario.write_text("turns:\n  - tool_calls:\n      - {name: Write, input: "
                        "{file_path: backend/owned.py, content: 'x = 1'}}\n"
                        '  - text: "Done."\n')
    out = tmp_path / "run"
    containers: list[str] = []

    def wrong_limit(sandbox: Any, **kwargs: Any) -> SelfCheckResult:
        containers.append(sandbox.container_id)
        kwargs["pids_limit"] += 1
        return run_self_check(sandbox, **kwargs)

    monkeypatch.setattr(selfcheck_step, "run_self_check", wrong_limit)  # the run step's own name for it
    cfg = build_run_config(project, {"model": f"scripted:{scenario}", "out": out,
                                     "verify": {"enabled": False}})
    summary = execute.execute_run(cfg, RunDisplay())
    assert summary.exit_code == 3 and summary.status == "failed"
    assert summary.failure == "sandbox self-check failed: pids_limit"
    record = json.loads((out / "run.json").read_text())
    assert record["self_check_ok"] is False
    assert [c["name"] for c in record["self_check"] if not c["ok"]] == ["pids_limit"]
    assert len(record["self_check"]) > 10  # every other check ran, and passed
    assert containers == [record["container_id"]]
    assert _gone(containers[0])
    assert len(_lines(out / "transcript.jsonl")) <= 1  # at most the first request
    assert not [e for e in _lines(out / "events.jsonl")
                if e["kind"] in ("tool_call", "tool_result", "agent_finished")]
    assert _lines(out / "decisions.jsonl") == []
    assert not (project / "backend" / "owned.py").exists()


def test_a_run_records_the_container_it_started(tmp_path: Path, sandbox_image: str) -> None:
    project, scenario = _project(tmp_path)
    out = tmp_path / "run"
    cfg = build_run_config(project, {"model": f"scripted:{scenario}", "out": out,
                                     "verify": {"enabled": False}})
    summary = execute.execute_run(cfg, RunDisplay())
    assert summary.exit_code == 0, summary.failure
    record = json.loads((out / "run.json").read_text())
    assert record["self_check_ok"] is True and record["container_id"]
    assert record["image"] == summary.image == sandbox_image
    started = [e for e in _lines(out / "events.jsonl") if e["kind"] == "agent_started"]
    assert len(started) == 1 and len(_lines(out / "transcript.jsonl")) == 1
    assert _gone(record["container_id"])


def test_the_builtin_agent_is_the_containers_main_process(
        tmp_path: Path, sandbox_image: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen from the engine while the self-check runs: the container's command is the agent
    (under `timeout`, told to wait for the go file), its process already runs, no exec
    started it, the gateway token is in neither its command line nor its environment, and
    the engine logs none of its output (anything in the sandbox can write to pid 1's)."""
    project, scenario = _project(tmp_path)
    out = tmp_path / "run"
    seen: dict[str, Any] = {}

    def look(sandbox: Any, **kwargs: Any) -> SelfCheckResult:
        client = docker.from_env()
        try:
            info = client.api.inspect_container(sandbox.container_id)
            seen["cmd"], seen["env"] = info["Config"]["Cmd"], info["Config"]["Env"]
            seen["log"] = info["HostConfig"]["LogConfig"]["Type"]
            seen["execs"] = list(info.get("ExecIDs") or [])
            deadline = time.monotonic() + 30  # `timeout` forks the agent: wait for it to show
            while True:
                seen["top"] = [p[-1] for p in client.api.top(sandbox.container_id)["Processes"]]
                if any("-m runner.agent" in p for p in seen["top"]) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        finally:
            client.close()
        return run_self_check(sandbox, **kwargs)

    monkeypatch.setattr(selfcheck_step, "run_self_check", look)
    cfg = build_run_config(project, {"model": f"scripted:{scenario}", "out": out,
                                     "verify": {"enabled": False}})
    summary = execute.execute_run(cfg, RunDisplay())
    assert summary.exit_code == 0, summary.failure
    cmd = seen["cmd"]
    assert cmd[:2] == ["/usr/bin/env", "SANDBOX_RUNNER_WAIT_FOR_GO=1"] and "/usr/bin/timeout" in cmd
    assert seen["log"] == "none"  # the engine keeps none of it: the host reads the attach
    assert cmd[-2:] == ["-m", "runner.agent"]
    assert any("-m runner.agent" in p for p in seen["top"]), seen["top"]
    assert seen["execs"] == []  # the self-check's own exec is created after this look
    token_like = [v for v in cmd + seen["env"] if "token" in v.lower() or "api_key" in v.lower()]
    assert token_like == []


def test_an_agent_that_ends_before_the_check_is_the_runs_failure(
        tmp_path: Path, sandbox_image: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent (the container's main process) exits at once: the run says what the agent
    said, not that the self-check could not reach its container."""
    project, scenario = _project(tmp_path)
    out = tmp_path / "run"
    monkeypatch.setattr(sandbox_start, "agent_main_command", lambda timeout, env: [
        "sh", "-c", "echo 'sandbox-runner agent: crashed: on purpose' >&2; exit 4"])
    cfg = build_run_config(project, {"model": f"scripted:{scenario}", "out": out,
                                     "verify": {"enabled": False}})
    summary = execute.execute_run(cfg, RunDisplay())
    assert summary.exit_code == 3
    assert summary.failure == "agent exited with code 4: sandbox-runner agent: crashed: on purpose"
    record = json.loads((out / "run.json").read_text())
    assert record["agent_exit_code"] == 4


def _owners(root: Path) -> dict[str, tuple[int, int, int]]:
    return {str(p.relative_to(root)): (p.lstat().st_uid, p.lstat().st_gid, p.lstat().st_mode)
            for p in [root, *root.rglob("*")]}


@pytest.mark.parametrize("bad", ["agent file", "policy"])
def test_bad_input_found_while_the_container_starts_removes_it_and_writes_nothing(
        tmp_path: Path, sandbox_image: str, monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    """The container starts before the agent file is read and the policies compiled: a bad one
    is exit 2 with the container removed, the project's ownership as it was, no socket
    directory and no run directory left."""
    project, scenario = _project(tmp_path)
    out = tmp_path / "run"
    flags: dict[str, Any] = {"model": f"scripted:{scenario}", "out": out,
                             "verify": {"enabled": False}}
    if bad == "agent file":
        agent = tmp_path / "bin.md"
        agent.write_bytes(b"---\nname: a\n---\n\xff\xfe\n")
        flags["agent"] = str(agent)
    else:
        policies = tmp_path / "policies"
        shutil.copytree(REPO / "policies", policies)
        (policies / "broken.rego").write_text("package sandbox.broken\n\ndeny contains msg if {\n")
        flags["policy"] = {"dirs": [policies]}
    started: list[Any] = []
    containers: list[str | None] = []

    def spy(**kwargs: Any) -> Any:  # the start, waited for here: its container did exist
        started.append(sandbox_start.start_sandbox(**kwargs))
        started[-1].deployment.wait_started()
        containers.append(started[-1].deployment.container_id)
        return started[-1]

    monkeypatch.setattr(execute, "start_sandbox", spy)
    owners = _owners(project)
    cfg = build_run_config(project, flags)
    with pytest.raises(InputError) as info:
        execute.execute_run(cfg, RunDisplay())
    assert info.value.exit_code == 2
    assert len(containers) == 1 and containers[0] is not None  # it had been started
    assert _gone(containers[0])
    assert not started[0].sock_dir.exists()
    assert not out.exists() and not (project / ".sandbox-runner").exists()
    assert _owners(project) == owners


def test_sigterm_while_the_container_starts_unwinds_like_bad_input(
        tmp_path: Path, sandbox_image: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM (a CI job cancelled) while the agent file is read beside the container's
    start: Interrupted, the container removed, the project as it was, nothing written."""
    import os
    import signal

    from runner.errors import Interrupted
    from runner.run import phases

    project, scenario = _project(tmp_path)
    out = tmp_path / "run"
    started: list[Any] = []
    real_start, real_prepare = execute.start_sandbox, phases.prepare_agent

    def spy(**kwargs: Any) -> Any:
        started.append(real_start(**kwargs))
        started[-1].deployment.wait_started()
        return started[-1]

    def terminated(inputs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGTERM)
        return real_prepare(inputs)

    monkeypatch.setattr(execute, "start_sandbox", spy)
    monkeypatch.setattr(phases, "prepare_agent", terminated)
    owners = _owners(project)
    cfg = build_run_config(project, {"model": f"scripted:{scenario}", "out": out,
                                     "verify": {"enabled": False}})
    with pytest.raises(Interrupted):
        execute.execute_run(cfg, RunDisplay())
    assert len(started) == 1
    client = docker.from_env()
    try:
        assert client.containers.list(all=True, filters={
            "label": f"sandbox-runner.run={started[0].run_id}"}) == []
    finally:
        client.close()
    assert not started[0].sock_dir.exists() and not out.exists()
    assert _owners(project) == owners
