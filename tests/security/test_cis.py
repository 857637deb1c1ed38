"""The live sandbox and verification containers against CIS Docker Benchmark section 5.

A run is held open (an agent command, then a verification test, each waiting for a release
file the test creates once it has inspected the container) and both containers are inspected
through the Docker SDK while they run. Nothing depends on a timing window.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import docker
import pytest

from tests.security import harness as h
from tests.security.harness import bash, call
from tests.security.scorecard import SCORECARD, CisRow

pytestmark = pytest.mark.docker

SENSITIVE = ("/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr", "/var/run/docker.sock",
             "/run/docker.sock", "/var/lib/docker")


def _hc(a: dict[str, Any]) -> dict[str, Any]:
    return a.get("HostConfig") or {}


def _sources(a: dict[str, Any]) -> list[str]:
    return [m.get("Source", "") for m in a.get("Mounts") or []]


Check = tuple[str, str, Callable[[dict[str, Any]], tuple[bool, str]]]

CHECKS: list[Check] = [
    ("4.1", "run as a non-root user",
     lambda a: (bool(a["Config"].get("User")) and a["Config"]["User"].split(":")[0] not in ("0", "root"),
                f"User={a['Config'].get('User')!r}")),
    ("5.3", "Linux kernel capabilities restricted (drop ALL, add none)",
     lambda a: ("ALL" in (_hc(a).get("CapDrop") or []) and not _hc(a).get("CapAdd"),
                f"CapDrop={_hc(a).get('CapDrop')}, CapAdd={_hc(a).get('CapAdd')}")),
    ("5.4", "privileged containers not used",
     lambda a: (_hc(a).get("Privileged") is False, f"Privileged={_hc(a).get('Privileged')}")),
    ("5.5", "sensitive host system directories not mounted",
     lambda a: (not any(s.rstrip("/") in SENSITIVE or s in SENSITIVE for s in _sources(a)),
                f"mount sources: {len(_sources(a))}, none of {SENSITIVE[:8]}")),
    ("5.7/5.8", "no ports published",
     lambda a: (not _hc(a).get("PortBindings") and not (a.get("NetworkSettings") or {}).get("Ports"),
                f"PortBindings={_hc(a).get('PortBindings')}")),
    ("5.9", "host network namespace not shared (no network at all)",
     lambda a: (_hc(a).get("NetworkMode") == "none", f"NetworkMode={_hc(a).get('NetworkMode')}")),
    ("5.10", "memory limited (swap not above memory)",
     lambda a: ((_hc(a).get("Memory") or 0) > 0 and _hc(a).get("MemorySwap") == _hc(a).get("Memory"),
                f"Memory={_hc(a).get('Memory')}, MemorySwap={_hc(a).get('MemorySwap')}")),
    ("5.11", "CPU limited",
     lambda a: ((_hc(a).get("NanoCpus") or 0) > 0 or (_hc(a).get("CpuQuota") or 0) > 0,
                f"NanoCpus={_hc(a).get('NanoCpus')}")),
    ("5.12", "root filesystem read-only",
     lambda a: (_hc(a).get("ReadonlyRootfs") is True, f"ReadonlyRootfs={_hc(a).get('ReadonlyRootfs')}")),
    ("5.14", "no restart policy that revives the sandbox",
     lambda a: ((_hc(a).get("RestartPolicy") or {}).get("Name") in ("", "no", None),
                f"RestartPolicy={_hc(a).get('RestartPolicy')}")),
    ("5.15", "host PID namespace not shared",
     lambda a: (_hc(a).get("PidMode") in ("", None), f"PidMode={_hc(a).get('PidMode')!r}")),
    ("5.16", "host IPC namespace not shared",
     lambda a: (_hc(a).get("IpcMode") not in ("host",) and not str(_hc(a).get("IpcMode")).startswith("container:"),
                f"IpcMode={_hc(a).get('IpcMode')!r}")),
    ("5.17", "host devices not exposed",
     lambda a: (not _hc(a).get("Devices"), f"Devices={_hc(a).get('Devices')}")),
    ("5.18", "ulimits set (nofile, core 0, fsize)",
     lambda a: ({u["Name"] for u in _hc(a).get("Ulimits") or []} >= {"nofile", "core", "fsize"},
                f"Ulimits={[(u['Name'], u['Hard']) for u in _hc(a).get('Ulimits') or []]}")),
    ("5.19", "mount propagation not shared",
     lambda a: (all(m.get("Propagation", "") not in ("shared", "rshared") for m in a.get("Mounts") or []),
                f"propagation={sorted({m.get('Propagation', '') for m in a.get('Mounts') or []})}")),
    ("5.20", "host UTS namespace not shared",
     lambda a: (_hc(a).get("UTSMode") in ("", None), f"UTSMode={_hc(a).get('UTSMode')!r}")),
    ("5.21", "default seccomp profile not disabled",
     lambda a: (not any("seccomp" in o and "unconfined" in o for o in _hc(a).get("SecurityOpt") or []),
                f"SecurityOpt={_hc(a).get('SecurityOpt')}")),
    ("5.24", "cgroup parent not changed",
     lambda a: (not _hc(a).get("CgroupParent"), f"CgroupParent={_hc(a).get('CgroupParent')!r}")),
    ("5.25", "no-new-privileges",
     lambda a: (any(o.replace("=", ":") in ("no-new-privileges", "no-new-privileges:true")
                    for o in _hc(a).get("SecurityOpt") or []), f"SecurityOpt={_hc(a).get('SecurityOpt')}")),
    ("5.28", "PIDs cgroup limit used",
     lambda a: ((_hc(a).get("PidsLimit") or 0) > 0, f"PidsLimit={_hc(a).get('PidsLimit')}")),
    ("5.29", "default bridge not used",
     lambda a: (_hc(a).get("NetworkMode") not in ("default", "bridge"), f"NetworkMode={_hc(a).get('NetworkMode')}")),
    ("5.30", "host user namespace not shared",
     lambda a: (_hc(a).get("UsernsMode") in ("", None), f"UsernsMode={_hc(a).get('UsernsMode')!r}")),
    ("5.31", "Docker socket not mounted",
     lambda a: (not any("docker.sock" in s for s in _sources(a)), "no docker.sock among the mounts")),
]


RELEASE_AGENT = "architecture/.release-agent"
RELEASE_VERIFY = "architecture/.release-verify"
HOLD_LIMIT = 300  # seconds a container waits for its release file before it gives up


def _wait_container(run: h.BackgroundRun, role: str | None, exclude: set[str],
                    limit: float = 240) -> dict[str, Any]:
    """The inspect data of the run's first running container of ``role`` (an event, bounded)."""
    project = run.world.project
    client = docker.from_env()
    try:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if run.proc.poll() is not None:
                raise AssertionError(f"the run ended (exit {run.proc.returncode}) before a running "
                                     f"{role or 'sandbox'} container was seen")
            for c in h.containers_for(project=project):
                labels = c.labels or {}
                if c.id in exclude or (role is not None and labels.get("sandbox-runner.role") != role):
                    continue
                try:
                    attrs = dict(client.api.inspect_container(c.id))
                except docker.errors.NotFound:
                    continue  # removed between the listing and the inspection
                if (attrs.get("State") or {}).get("Running"):
                    return attrs
            time.sleep(0.2)
    finally:
        client.close()
    raise AssertionError(f"no running {role or 'sandbox'} container appeared in {limit:g}s")


@pytest.fixture(scope="module")
def inspected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Both containers, each held running until the test has inspected it.

    Each waits for a release file the test creates in the project (the container sees it
    through its read-only mount): no timing window, however loaded the machine is.
    """
    world = h.make_world(tmp_path_factory.mktemp("cis"))
    hold_test = (
        "import os\nimport time\n\n\ndef test_hold_verification_open():\n"
        f"    deadline = time.monotonic() + {HOLD_LIMIT}\n"
        f"    while not os.path.exists('/workspace/{RELEASE_VERIFY}'):\n"
        "        assert time.monotonic() < deadline, 'never released'\n"
        "        time.sleep(0.1)\n"
    )
    hold_agent = f"until [ -e {RELEASE_AGENT} ]; do sleep 0.1; done; echo released"
    turns = [
        {"text": "write a test that waits", "tool_calls": [
            call("Write", file_path="backend/test_hold.py", content=hold_test)]},
        {"text": "wait to be inspected", "tool_calls": [bash(hold_agent, HOLD_LIMIT * 1000)]},
        {"text": "done"},
    ]
    run = h.BackgroundRun(world, "cis", turns, timeout=HOLD_LIMIT + 120, skip_verify=False,
                          policy_dir=h.ALLOW_ALL)
    try:
        agent = _wait_container(run, None, set())
        (world.project / RELEASE_AGENT).touch()
        verify = _wait_container(run, "verify", {agent["Id"]})
    finally:
        (world.project / RELEASE_AGENT).touch()
        (world.project / RELEASE_VERIFY).touch()
        res = run.finish(limit=HOLD_LIMIT + 180)
    assert res.exit_code in (0, 1), res.describe()
    assert not h.containers_for(project=world.project), "containers left after the CIS run"
    selfcheck = res.run_json.get("self_check")
    if isinstance(selfcheck, list):
        ok = [str(c.get("name")) for c in selfcheck if c.get("ok")]
        bad = [str(c.get("name")) for c in selfcheck if not c.get("ok")]
        SCORECARD.facts["in-container self-check (run.json)"] = (
            f"{len(ok)} of {len(selfcheck)} passed: {', '.join(ok)}" + (f"; FAILED: {bad}" if bad else ""))
    return {"agent": agent, "verification": verify}


@pytest.mark.parametrize("which", ["agent", "verification"])
@pytest.mark.parametrize(("item", "title", "check"), CHECKS, ids=[c[0] for c in CHECKS])
def test_cis_item(item: str, title: str, check: Callable[[dict[str, Any]], tuple[bool, str]],
                  which: str, inspected: dict[str, dict[str, Any]]) -> None:
    ok, evidence = check(inspected[which])
    SCORECARD.cis.append(CisRow(item=item, title=title, container=which, result="pass" if ok else "FAIL",
                                evidence=evidence))
    assert ok, f"CIS {item} ({title}) fails for the {which} container: {evidence}"
