"""Kernel isolation (issue 14): the runtime choice, the missing-runtime error, engine setup."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner.config import Limits, RunConfig
from runner.errors import EnvironmentProblem
from runner.sandbox.isolation import (
    EngineSetupRefused,
    GVisorUnavailable,
    daemon_json_snippet,
    gvisor_host_pids,
    gvisor_runtime,
    merged_daemon_json,
    resolve_isolation,
    setup_gvisor,
)
from runner.sandbox.selfcheck import host_pids_check
from runner.sandbox.spec import build_container_spec, build_verification_spec
from tests.sandbox.conftest import WRITABLE, make_project

REPO = Path(__file__).resolve().parents[2]
ARGS = ["--network=none", "--host-uds=open", "--directfs=false"]
GOOD = {"runc": {"path": "runc"}, "runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ARGS}}


class FakeClient:
    def __init__(self, runtimes: dict[str, Any]) -> None:
        self.runtimes = runtimes

    def info(self) -> dict[str, Any]:
        return {"Runtimes": self.runtimes}


def _spec_kwargs(tmp_path: Path, runtime: str | None) -> dict[str, Any]:
    project = tmp_path / "p"
    make_project(project)
    sock = tmp_path / "sock"
    sock.mkdir(mode=0o700)
    spec = build_container_spec(project=project, image="img", run_id="r", socket_dir=sock,
                                writable=WRITABLE, secret_paths=[], limits=Limits(), uid=1234,
                                gid=2345, runtime=runtime)
    return spec.to_run_kwargs()


def test_spec_carries_the_runtime(tmp_path: Path) -> None:
    assert _spec_kwargs(tmp_path, "runsc")["runtime"] == "runsc"


def test_the_verification_container_gets_the_same_runtime_and_limits(tmp_path: Path) -> None:
    """--isolation covers the verification container too: runsc, nproc inside, host headroom."""
    project = tmp_path / "p"
    make_project(project)
    (tmp_path / "scratch").mkdir()
    (tmp_path / "out").mkdir()
    kwargs = build_verification_spec(
        project=project, image="img", run_id="r", scratch_dir=tmp_path / "scratch",
        out_dir=tmp_path / "out", secret_paths=[], limits=Limits(), uid=1234, gid=2345,
        command=["true"], environment={}, runtime="runsc").to_run_kwargs()
    pids = Limits().pids
    assert kwargs["runtime"] == "runsc" and kwargs["pids_limit"] == gvisor_host_pids(pids)
    assert [(u["Soft"], u["Hard"]) for u in kwargs["ulimits"] if u["Name"] == "nproc"] == [
        (pids, pids)]


def test_runc_leaves_the_engine_default(tmp_path: Path) -> None:
    kwargs = _spec_kwargs(tmp_path, None)
    assert "runtime" not in kwargs and kwargs["pids_limit"] == Limits().pids
    assert "nproc" not in {u["Name"] for u in kwargs["ulimits"]}


def test_gvisor_limits_processes_inside_and_gives_the_host_headroom(tmp_path: Path) -> None:
    """Under gVisor the host cgroup counts the sandbox's own host tasks (a clone refused there
    ends the whole sandbox): the agent's limit is RLIMIT_NPROC, enforced by gVisor's kernel."""
    kwargs = _spec_kwargs(tmp_path, "runsc")
    pids = Limits().pids
    nproc = [u for u in kwargs["ulimits"] if u["Name"] == "nproc"]
    assert [(u["Soft"], u["Hard"]) for u in nproc] == [(pids, pids)]
    assert kwargs["pids_limit"] == gvisor_host_pids(pids) > 2 * pids + 26  # measured: 2/process


def test_config_field_defaults_to_runc_and_rejects_others(tmp_path: Path) -> None:
    assert RunConfig(project=tmp_path).isolation == "runc"
    assert RunConfig(project=tmp_path, isolation="gvisor").isolation == "gvisor"
    with pytest.raises(ValueError):
        RunConfig(project=tmp_path, isolation="kata")  # type: ignore[arg-type]


def test_resolve() -> None:
    assert resolve_isolation(FakeClient({}), "runc").runtime is None
    got = resolve_isolation(FakeClient(GOOD), "gvisor")
    assert (got.isolation, got.runtime) == ("gvisor", "runsc")
    assert resolve_isolation(FakeClient(GOOD), "auto").isolation == "gvisor"
    auto = resolve_isolation(FakeClient({"runc": {"path": "runc"}}), "auto")
    assert auto.isolation == "runc" and auto.runtime is None and auto.notes


def test_runtime_found_by_its_path() -> None:
    assert gvisor_runtime({"gv": {"path": "/opt/bin/runsc", "runtimeArgs": []}}) == "gv"
    assert gvisor_runtime({"runc": {"path": "runc"}}) is None


def test_missing_runtime_is_exit_4_with_the_lines_to_add() -> None:
    with pytest.raises(GVisorUnavailable) as err:
        resolve_isolation(FakeClient({"runc": {"path": "runc"}}), "gvisor")
    assert err.value.exit_code == 4 and isinstance(err.value, EnvironmentProblem)
    message = str(err.value)
    assert "/etc/docker/daemon.json" in message and "kill -HUP" in message
    snippet = json.loads(daemon_json_snippet())  # the runsc on PATH, else /usr/bin/runsc
    assert json.dumps(snippet) in message
    assert snippet["runtimes"]["runsc"]["runtimeArgs"] == ARGS


def test_runtime_without_the_arguments_is_refused() -> None:
    bare = {"runsc": {"path": "/usr/bin/runsc"}}
    with pytest.raises(GVisorUnavailable, match="--network=none --host-uds=open --directfs=false"):
        resolve_isolation(FakeClient(bare), "gvisor")
    assert resolve_isolation(FakeClient(bare), "auto").isolation == "runc"
    directfs = {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ARGS[:2]}}
    with pytest.raises(GVisorUnavailable, match="lacks the runtime arguments --directfs=false"):
        resolve_isolation(FakeClient(directfs), "gvisor")


def test_merge_keeps_other_keys_and_runtimes() -> None:
    current = {"log-driver": "json-file", "runtimes": {"kata": {"path": "/k"}}}
    merged = merged_daemon_json(current, "/usr/bin/runsc")
    assert merged["log-driver"] == "json-file" and merged["runtimes"]["kata"] == {"path": "/k"}
    assert merged["runtimes"]["runsc"] == {"path": "/usr/bin/runsc",
                                           "runtimeArgs": ARGS}
    assert current == {"log-driver": "json-file", "runtimes": {"kata": {"path": "/k"}}}


def test_setup_writes_merges_and_backs_up(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    path.write_text('{"debug": true}\n')
    result = setup_gvisor(daemon_json=path, runsc="/usr/bin/runsc", docker_host="",
                          pid=os.getpid(), reload=False)
    data = json.loads(path.read_text())
    assert data["debug"] is True and data["runtimes"]["runsc"]["path"] == "/usr/bin/runsc"
    assert result.changed and result.backup is not None
    assert Path(result.backup).read_text() == '{"debug": true}\n'
    again = setup_gvisor(daemon_json=path, runsc="/usr/bin/runsc", docker_host="",
                         pid=os.getpid(), reload=False)
    assert not again.changed and again.backup is None  # idempotent


def test_setup_sends_sighup_to_the_engine_it_owns(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c",
                              "import signal,sys\n"
                              "signal.signal(signal.SIGHUP, lambda *a: sys.exit(7))\n"
                              "print('ready', flush=True)\nsignal.pause()"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        result = setup_gvisor(daemon_json=tmp_path / "daemon.json", runsc="/usr/bin/runsc",
                              docker_host="unix:///var/run/docker.sock", pid=child.pid)
        assert result.reloaded and result.backup is None  # no old file: nothing to back up
        assert child.wait(timeout=30) == 7
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.parametrize("host", ["tcp://10.0.0.1:2376", "ssh://me@box"])
def test_setup_refuses_a_remote_engine(tmp_path: Path, host: str) -> None:
    path = tmp_path / "daemon.json"
    with pytest.raises(EngineSetupRefused, match="not local") as err:
        setup_gvisor(daemon_json=path, runsc="/usr/bin/runsc", docker_host=host, pid=os.getpid())
    assert err.value.exit_code == 4 and not path.exists()


def test_setup_refuses_without_runsc_or_dockerd(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "daemon.json"
    monkeypatch.setattr(shutil, "which", lambda _: None)
    with pytest.raises(EngineSetupRefused, match="runsc is not installed"):
        setup_gvisor(daemon_json=path, docker_host="")
    monkeypatch.setattr("runner.sandbox.isolation.dockerd_pid", lambda: None)
    with pytest.raises(EngineSetupRefused, match="no dockerd"):
        setup_gvisor(daemon_json=path, runsc="/usr/bin/runsc", docker_host="")
    assert not path.exists()


def test_setup_refuses_a_daemon_json_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    path.write_text("{nope")
    with pytest.raises(EngineSetupRefused, match="nothing changed"):
        setup_gvisor(daemon_json=path, runsc="/usr/bin/runsc", docker_host="", pid=os.getpid())
    assert path.read_text() == "{nope"


def test_host_pids_check_reads_the_cgroup(tmp_path: Path) -> None:
    here = host_pids_check(os.getpid(), 99, cgroup_root=str(tmp_path))
    assert not here.ok  # no pids.max under the fake root: a failed check, never a pass
    assert not host_pids_check(None, 99).ok


def test_run_isolation_gvisor_without_runsc_exits_4_before_any_container(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.run import execute
    from runner.run.display import RunDisplay

    project = tmp_path / "todo-api"
    shutil.copytree(REPO / "examples" / "todo-api", project,
                    ignore=shutil.ignore_patterns("scenario*.yaml"))
    monkeypatch.setattr(execute, "docker_client", lambda: FakeClient({"runc": {"path": "runc"}}))

    def no_container(*_: object, **__: object) -> None:
        raise AssertionError("nothing may start")

    monkeypatch.setattr(execute, "plan_environment", no_container)
    cfg = RunConfig(project=project, isolation="gvisor",
                    model=f"scripted:{REPO / 'examples' / 'todo-api' / 'scenario.yaml'}")
    with pytest.raises(GVisorUnavailable) as err:
        execute.execute_run(cfg, RunDisplay())
    assert err.value.exit_code == 4 and '"runtimeArgs": ["--network=none"' in str(err.value)
    assert not (project / ".sandbox-runner" / "runs").exists()


def test_doctor_says_whether_gvisor_is_configured() -> None:
    from runner.doctor import check_gvisor

    remote = {"runsc": {"path": "/not/on/this/host/runsc", "runtimeArgs": ARGS}}
    ok = check_gvisor(FakeClient(remote))  # a path not here: configured, version unknown
    assert ok.status == "ok" and "runsc version unknown" in ok.detail
    missing = check_gvisor(FakeClient({"runc": {"path": "runc"}}))
    assert missing.status == "info"  # runc stays the default: no failure
    assert f'"runtimeArgs": {json.dumps(ARGS)}' in missing.detail
    assert "/etc/docker/daemon.json" in missing.detail


def test_doctor_names_the_runsc_version_and_warns_when_too_old(tmp_path: Path) -> None:
    from runner.doctor import check_gvisor

    def runsc(version: str) -> dict[str, Any]:
        path = tmp_path / f"runsc-{version}"
        path.write_text(f"#!/bin/sh\necho 'runsc version {version}'\necho 'spec: 1.0.2'\n")
        path.chmod(0o755)
        return {"runsc": {"path": str(path), "runtimeArgs": ARGS}}

    new = check_gvisor(FakeClient(runsc("0.0~20240729.0")))
    assert new.status == "ok" and "runsc 0.0~20240729.0" in new.detail
    old = check_gvisor(FakeClient(runsc("0.0~20221219.0")))
    assert old.status == "warn" and "too old" in old.detail and "trixie" in old.detail


def test_engine_setup_cli_refuses_a_remote_engine_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from runner.cli import main

    path = tmp_path / "daemon.json"
    result = CliRunner().invoke(main, ["engine", "setup", "--gvisor", "--daemon-json", str(path)],
                                env={"DOCKER_HOST": "tcp://10.0.0.1:2376"})
    assert result.exit_code == 4 and result.stdout == "" and not path.exists()
    assert result.stderr.count("\n") == 1 and "not local" in result.stderr


def test_ci_configures_gvisor_before_starting_dockerd_and_never_restarts_it() -> None:
    text = (REPO / ".ci" / "run").read_text()
    assert subprocess.run(["bash", "-n", str(REPO / ".ci" / "run")], check=False).returncode == 0
    assert text.index("runsc") < text.index("nohup dockerd")  # daemon.json first
    assert '"--network=none", "--host-uds=open", "--directfs=false"' in text and "kill -HUP" in text
    assert "restart" not in text.replace("never a restart", "")
    assert "the gvisor tests will skip" in text  # never a CI failure


def test_the_scorecard_has_a_gvisor_column() -> None:
    from tests.security.scorecard import CaseRow, Scorecard

    card = Scorecard()
    card.case(CaseRow(id="a", category="scope", description="d", layers="both", result="stopped"))
    card.case(CaseRow(id="b", category="scope", description="d", layers="both", result="stopped"))
    card.case_gvisor("a", "stopped")
    text = card.render(1.0)
    assert "| id | category | attack | stopped by | runc | gVisor | notes |" in text
    assert "| `a` | scope | d | both | stopped | stopped |" in text
    assert "| `b` | scope | d | both | stopped | not run |" in text
    assert "under gVisor (`--isolation gvisor`, docs/isolation.md): 1 run, 1 stopped, 0 failed" in text
    assert "under gVisor: not run" in Scorecard().render(1.0)
