"""Faults: model API errors, crashes, kills, signals, a broken policy engine, no Docker.

In every fault: the container is removed, backend/ keeps what the agent wrote before, the run
directory holds what was known (run.json, decisions.jsonl, summary.json with the failure), and
`audit verify` passes on the log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import docker
import pytest

from tests.security import harness as h
from tests.security.harness import bash, call
from tests.security.scorecard import SCORECARD, CheckRow

pytestmark = pytest.mark.docker

FAST_RETRIES = """
[gateway]
retries = 4
backoff_base = 0.05
backoff_max = 0.5
"""
BEFORE = {"text": "work first", "tool_calls": [call("Write", file_path="backend/before.txt", content="kept\n")]}


def _record(cid: str, what: str, problems: list[str], evidence: str) -> None:
    SCORECARD.check(CheckRow(id=cid, table="faults", description=what,
                             result="FAILED" if problems else "held",
                             detail="; ".join(problems) if problems else evidence))


def _world(tmp_path: Path) -> h.World:
    world = h.make_world(tmp_path)
    h.write_config(world, FAST_RETRIES)
    return world


def test_transient_api_faults_are_retried(tmp_path: Path) -> None:
    world = _world(tmp_path)
    turns = [
        BEFORE,
        {"fault": {"status": 429, "times": 2, "retry_after": 0.1}},
        {"text": "a", "tool_calls": [call("Write", file_path="backend/after-429.txt", content="x\n")]},
        {"fault": {"status": 500, "times": 1}},
        {"text": "b", "tool_calls": [call("Write", file_path="backend/after-500.txt", content="x\n")]},
        {"fault": {"status": 529, "times": 2}},
        {"text": "c", "tool_calls": [call("Write", file_path="backend/after-529.txt", content="x\n")]},
        {"fault": {"kind": "timeout", "times": 1}},
        {"text": "d", "tool_calls": [call("Write", file_path="backend/after-timeout.txt", content="x\n")]},
        {"fault": {"kind": "disconnect", "times": 2}},
        {"text": "e", "tool_calls": [call("Write", file_path="backend/after-disconnect.txt", content="x\n")]},
        {"text": "done"},
    ]
    res = h.run_scenario(world, "faults-transient", turns, timeout=120)
    kept = ("backend/before.txt", "backend/after-429.txt", "backend/after-500.txt", "backend/after-529.txt",
            "backend/after-timeout.txt", "backend/after-disconnect.txt")
    problems = h.clean_end_problems(res, world, kept=kept, failed=False)
    if res.exit_code != 0:
        problems.append(f"exit {res.exit_code}: {res.describe()}")
    _record("api-transient", "429 (x2, retry-after), 500, 529 (x2), timeout, disconnect (x2) between turns",
            problems, f"all retried; exit 0 in {res.seconds:.0f}s; every turn's work present")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("fault", [{"status": 500, "times": 50}, {"status": 529, "times": 50},
                                   {"kind": "disconnect", "times": 50}],
                         ids=["500", "529", "disconnect"])
def test_persistent_api_fault_is_a_clean_failure(tmp_path: Path, fault: dict) -> None:
    world = _world(tmp_path)
    turns = [BEFORE, {"fault": fault},
             {"text": "never", "tool_calls": [call("Write", file_path="backend/never.txt", content="x\n")]}]
    res = h.run_scenario(world, "faults-persistent", turns, timeout=120)
    problems = h.clean_end_problems(res, world, kept=("backend/before.txt",))
    if res.exit_code != 3:
        problems.append(f"exit {res.exit_code}, expected 3: {res.describe()}")
    if (world.backend / "never.txt").exists():
        problems.append("a turn after the fault ran")
    name = f"api-persistent-{fault.get('status') or fault.get('kind')}"
    _record(name, f"model API fault that outlasts the retries: {fault}", problems,
            f"exit 3 in {res.seconds:.0f}s; failure: {h.failure_text(res)[:120]}")
    assert not problems, "\n".join(problems)


def test_agent_process_crash(tmp_path: Path) -> None:
    world = _world(tmp_path)
    turns = [BEFORE, {"text": "crash", "tool_calls": [bash("kill -9 $PPID; sleep 5")]},
             {"text": "never", "tool_calls": [call("Write", file_path="backend/never.txt", content="x\n")]}]
    res = h.run_scenario(world, "agent-crash", turns, policy_dir=h.ALLOW_ALL, timeout=120)
    problems = h.clean_end_problems(res, world, kept=("backend/before.txt",))
    if res.exit_code != 3:
        problems.append(f"exit {res.exit_code}, expected 3: {res.describe()}")
    _record("agent-crash", "the agent process is SIGKILLed by a command (kill -9 $PPID)", problems,
            f"exit 3 in {res.seconds:.0f}s; failure: {h.failure_text(res)[:120]}")
    assert not problems, "\n".join(problems)


def _running_bash_sleep(out: Path) -> bool:
    events = h.read_jsonl(out / "events.jsonl") if (out / "events.jsonl").is_file() else []
    return any("sleep 300" in json.dumps(e) for e in events)


def _background(world: h.World, name: str, isolation: str = "runc") -> h.BackgroundRun:
    turns = [BEFORE, {"text": "long", "tool_calls": [bash("sleep 300", 300)]},
             {"text": "never", "tool_calls": [call("Write", file_path="backend/never.txt", content="x\n")]}]
    return h.BackgroundRun(world, name, turns, timeout=200, extra=["--isolation", isolation])


def _sleep_300_runs(world: h.World) -> bool:
    """Is `sleep 300` a process in the run's container (its /proc, read by an exec: the event,
    not a delay; `docker top` does not see into a gVisor sandbox)?"""
    client = docker.from_env()
    try:
        for c in h.containers_for(project=world.project):
            try:
                res = client.api.exec_create(c.id, ["sh", "-c", "cat /proc/[0-9]*/cmdline"])
                out = client.api.exec_start(res["Id"])
            except docker.errors.APIError:
                continue  # not running (yet, or any more)
            if b"sleep\x00300\x00" in out:
                return True
        return False
    finally:
        client.close()


def _started(run: h.BackgroundRun) -> None:
    run.wait_for(lambda: (run.world.backend / "before.txt").is_file() and _running_bash_sleep(run.out)
                 and _sleep_300_runs(run.world), "the agent to start `sleep 300`", limit=240)


KILLS = {
    "docker-kill": ("runc", "container-killed", "`docker kill` of the sandbox while a command runs"),
    "gvisor-docker-kill": ("gvisor", "container-killed-gvisor",
                           "`docker kill` of the gVisor sandbox while a command runs"),
    "gvisor-sentry-kill": ("gvisor", "sentry-killed-gvisor",
                           "SIGKILL of the gVisor sandbox's sentry (runsc-sandbox) on the host "
                           "while a command runs"),
}


@pytest.mark.parametrize("how", [
    "docker-kill",
    pytest.param("gvisor-docker-kill", marks=pytest.mark.gvisor),
    pytest.param("gvisor-sentry-kill", marks=pytest.mark.gvisor),
])
def test_container_killed_from_outside(tmp_path: Path, how: str,
                                       request: pytest.FixtureRequest) -> None:
    """The run ends at the container's death (the engine's die event), not at its timeout
    (200 s): exit 3, container removed, the run directory written."""
    isolation, cid, what = KILLS[how]
    if isolation == "gvisor":
        request.getfixturevalue("gvisor_runtime")  # skipped, saying why, without runsc
    world = _world(tmp_path)
    run = _background(world, f"outside-kill-{how}", isolation)
    _started(run)
    victims = h.containers_for(project=world.project)
    assert victims, "no container found for the run"
    client = docker.from_env()
    try:
        for c in victims:
            if how == "gvisor-sentry-kill":  # the container's host process is the sentry
                sentry = int(client.api.inspect_container(c.id)["State"]["Pid"])
                assert "runsc-sandbox" in Path(f"/proc/{sentry}/cmdline").read_text(errors="replace")
                os.kill(sentry, signal.SIGKILL)
            else:
                client.api.kill(c.id)
    finally:
        client.close()
    killed_at = time.monotonic()
    res = run.finish(limit=90)  # well inside the run's 200 s timeout
    problems = h.clean_end_problems(res, world, kept=("backend/before.txt",))
    if res.exit_code != 3:
        problems.append(f"exit {res.exit_code}, expected 3: {res.describe()}")
    if "died" not in h.failure_text(res):
        problems.append(f"the failure does not say the sandbox died: {h.failure_text(res)[:200]}")
    if isolation == "gvisor" and res.run_json.get("isolation") != "gvisor":
        problems.append(f"run.json says isolation {res.run_json.get('isolation')!r}")
    _record(cid, what, problems,
            f"exit 3 {time.monotonic() - killed_at:.1f}s after the kill; failure: {h.failure_text(res)[:120]}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_run(tmp_path: Path, sig: signal.Signals) -> None:
    world = _world(tmp_path)
    run = _background(world, f"signal-{sig.name}")
    _started(run)
    run.signal(sig)
    sent = time.monotonic()
    res = run.finish(limit=60)
    took = time.monotonic() - sent
    problems = h.clean_end_problems(res, world, kept=("backend/before.txt",))
    if res.exit_code != 3:
        problems.append(f"exit {res.exit_code}, expected 3: {res.describe()}")
    if took > 30:
        problems.append(f"took {took:.0f}s to stop after {sig.name}")
    _record(f"signal-{sig.name}", f"{sig.name} to sandbox-runner while a command runs", problems,
            f"exit 3 {took:.1f}s after the signal; failure: {h.failure_text(res)[:120]}")
    assert not problems, "\n".join(problems)


def test_docker_unreachable_at_start(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    scenario = h.write_scenario(world.scratch / "s.json", [BEFORE, {"text": "done"}])
    out = world.runs / "no-docker"
    proc = subprocess.run(h.run_cmd(world.project, scenario, out),
                          env=h.runner_env(DOCKER_HOST="unix:///nonexistent/docker.sock"),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    lines = h.error_lines(proc.stdout, proc.stderr)
    problems = []
    if proc.returncode != 4:
        problems.append(f"exit {proc.returncode}, expected 4")
    if len(lines) != 1 or "Traceback" in proc.stderr:
        problems.append(f"the error is not one line: {lines[-5:]!r}")
    elif "docker" not in lines[0].lower():
        problems.append(f"the line does not say Docker: {lines[0]!r}")
    _record("docker-unreachable", "Docker engine unreachable at start (DOCKER_HOST to nowhere)", problems,
            f"exit 4: {lines[0] if lines else ''}")
    assert not problems, "\n".join(problems)


BROKEN_POLICY = """
package sandbox

import rego.v1

# Allows everything, except that evaluation itself fails for some inputs.
default decision := {"allow": true, "reasons": []}

# A conflict: two complete definitions with different values (a runtime error).
decision := {"allow": true, "reasons": [{"policy": "x", "rule": "a", "msg": "a"}]} if input.tool.input.command == "echo conflict"

decision := {"allow": false, "reasons": [{"policy": "x", "rule": "b", "msg": "b"}]} if input.tool.input.command == "echo conflict"

# A malformed decision: allow is not a boolean.
decision := {"allow": "yes", "reasons": []} if input.tool.input.file_path == "README.md"

# A builtin error: division by zero.
decision := {"allow": 1 / count(input.tool.input.pattern) == 1, "reasons": []} if input.tool.name == "Glob"
"""


def test_policy_engine_failure_fails_closed(tmp_path: Path) -> None:
    world = _world(tmp_path)
    pdir = tmp_path / "broken-policy"
    pdir.mkdir()
    (pdir / "main.rego").write_text(BROKEN_POLICY, encoding="utf-8")
    (pdir / "data.json").write_text((h.ALLOW_ALL / "data.json").read_text(), encoding="utf-8")
    bad_calls = [bash("echo conflict"), call("Read", file_path="README.md"), call("Glob", pattern="")]
    turns = [BEFORE, {"text": "broken", "tool_calls": bad_calls},
             {"text": "after", "tool_calls": [call("Write", file_path="backend/after.txt", content="x\n")]},
             {"text": "done"}]
    res = h.run_scenario(world, "policy-failure", turns, policy_dir=pdir, timeout=120)
    problems = h.clean_end_problems(res, world, kept=("backend/before.txt", "backend/after.txt"), failed=False)
    if res.exit_code != 0:
        problems.append(f"exit {res.exit_code}: {res.describe()}")
    outs = h.outcomes(res, bad_calls)
    for o in outs:
        if not o.denied:
            problems.append(f"{o.short()} not denied: {[d['result'] for d in o.decisions]}")
        elif not any("policy evaluation failed" in r.get("msg", "") for r in o.reasons):
            problems.append(f"{o.short()} denied without 'policy evaluation failed': {o.reasons}")
        if o.denied and not any("Denied by policy" in t for t in o.texts):
            problems.append(f"{o.short()}: the denial did not reach the model")
    _record("policy-engine-failure", "the policy errors at evaluation (conflict, non-boolean allow, "
            "division by zero) for some calls mid-run", problems,
            "each such call denied with 'policy evaluation failed'; the run went on (exit 0)")
    assert not problems, "\n".join(problems)
