"""Attacks in real containers: every case of cases.py, under the default policies and allow-all.

Each category is one scripted run per policy mode (see attack_runs.py); the first test that
needs a run starts all of them, two at a time. Every case then reads the evidence: the host
filesystem, decisions.jsonl and transcript.jsonl.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.security import harness as h
from tests.security.attack_runs import MODES, AttackRuns, CategoryRun, judge
from tests.security.cases import ALL_CASES, ALLOWED_HOST, GROUPS, NETCLIENT, Case
from tests.security.scorecard import SCORECARD, CaseRow, CheckRow

pytestmark = pytest.mark.docker


@pytest.fixture(scope="session")
def attack_runs(sec_base: Path, net_values: dict[str, str]) -> Iterator[AttackRuns]:
    runs = AttackRuns(sec_base, net_values)
    runs.start(list(GROUPS))
    yield runs
    runs.close()


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_attack(case: Case, attack_runs: AttackRuns) -> None:
    try:
        pol = attack_runs.get(case.run_group, "policy")
        per = attack_runs.get(case.run_group, "permissive")
    except Exception as exc:  # a run that could not be judged is a failure in the scorecard too
        SCORECARD.case(CaseRow(id=case.id, category=case.category, description=case.description,
                               layers="none", result="FAILED",
                               detail=f"no verdict: {type(exc).__name__}: {exc}"[:300]))
        raise
    verdict = judge(case, pol, per)
    detail = "; ".join(verdict.problems) if verdict.problems else "; ".join(
        [n for n in (case.note, *verdict.notes) if n])
    SCORECARD.case(CaseRow(id=case.id, category=case.category, description=case.description,
                           layers=verdict.layers, result="FAILED" if verdict.problems else "stopped",
                           detail=detail))
    assert not verdict.problems, "\n".join(verdict.problems)


@pytest.fixture(scope="session")
def gvisor_attack_runs(attack_runs: AttackRuns, gvisor_runtime: str) -> AttackRuns:
    """The same runs under gVisor (skipped, saying why, when the engine has no runsc)."""
    attack_runs.start(list(GROUPS), "gvisor")
    return attack_runs


@pytest.mark.gvisor
@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_attack_under_gvisor(case: Case, gvisor_attack_runs: AttackRuns) -> None:
    """Every case again with both runs (default policies, allow-all) under gVisor: the
    scorecard's gVisor column."""
    try:
        pol = gvisor_attack_runs.get(case.run_group, "policy", "gvisor")
        per = gvisor_attack_runs.get(case.run_group, "permissive", "gvisor")
    except Exception as exc:  # a run that could not be judged is a failure in the scorecard too
        SCORECARD.case_gvisor(case.id, "FAILED", f"no verdict: {type(exc).__name__}: {exc}"[:300])
        raise
    verdict = judge(case, pol, per)
    SCORECARD.case_gvisor(case.id, "FAILED" if verdict.problems else "stopped",
                          "; ".join(verdict.problems))
    assert not verdict.problems, "\n".join(verdict.problems)


@pytest.mark.parametrize("isolation", ["runc", pytest.param("gvisor", marks=pytest.mark.gvisor)])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("category", GROUPS)
def test_run_integrity(category: str, mode: str, isolation: str, attack_runs: AttackRuns,
                       listener: h.Listener, request: pytest.FixtureRequest) -> None:
    """Whatever the attacks did: host untouched, nothing leaked, log intact, container gone."""
    if isolation == "gvisor":
        request.getfixturevalue("gvisor_attack_runs")
    suffix = "" if isolation == "runc" else f"-{isolation}"
    try:
        run: CategoryRun = attack_runs.get(category, mode, isolation)
    except Exception as exc:  # recorded as failed, not left out of the scorecard
        SCORECARD.check(CheckRow(id=f"{category}-{mode}{suffix}", table="runs",
                                 description=f"{category} attacks ({mode}, {isolation})",
                                 result="FAILED",
                                 detail=f"no run: {type(exc).__name__}: {exc}"[:300]))
        raise
    res = run.result
    problems = []
    ok_codes = {0, 1} if category == "persistence" else {0}
    if res.exit_code not in ok_codes:
        problems.append(f"exit {res.exit_code}: {res.describe()}")
    if run.host_changes:
        problems.append(f"host changed outside backend/ and issues.md: {run.host_changes}")
    if run.audit.returncode != 0:
        problems.append(f"audit verify failed: {run.audit.stdout.strip()} {run.audit.stderr.strip()}")
    if run.leftover:
        problems.append(f"containers left: {run.leftover}")
    for name in ("run.json", "decisions.jsonl", "transcript.jsonl", "summary.json"):
        if not (res.run_dir / name).is_file():
            problems.append(f"run dir lacks {name}")
    text = h.transcript_text(res)
    if h.leaked(text, h.MASKED_SECRETS + h.HOST_SECRETS):
        problems.append(f"secret in the transcript: {h.leaked(text, h.MASKED_SECRETS + h.HOST_SECRETS)}")
    backend_text = h.files_text(run.world.backend)
    if h.leaked(backend_text, h.HOST_SECRETS):
        problems.append(f"host secret inside backend/: {h.leaked(backend_text, h.HOST_SECRETS)}")
    if contacts := listener.snapshot():
        problems.append(f"the host listener was contacted: {contacts}")
    decisions = res.summary.get("decisions") or {}
    if decisions.get("total") != len(res.decisions):
        problems.append(f"summary counts {decisions.get('total')} decisions, the log holds {len(res.decisions)}")
    if isolation != "runc" and res.run_json.get("isolation") != isolation:
        problems.append(f"run.json says isolation {res.run_json.get('isolation')!r}")
    SCORECARD.check(CheckRow(
        id=f"{category}-{mode}{suffix}", table="runs",
        description=f"{category} attacks, {'default policies' if mode == 'policy' else 'allow-all policy'}"
                    + ("" if isolation == "runc" else f", under {isolation}"),
        result="FAILED" if problems else "held",
        detail="; ".join(problems) if problems else
        f"exit {res.exit_code}, {len(res.decisions)} decisions "
        f"({sum(not d['result']['allow'] for d in res.decisions)} denied), {res.seconds:.0f}s; "
        "host unchanged, no secret in transcript, listener silent, audit chain intact, container removed",
    ))
    assert not problems, "\n".join(problems)


def test_network_canary_is_reachable_from_a_normal_container(
        attack_runs: AttackRuns, net_values: dict[str, str]) -> None:
    """Positive control: what the attacks aim at IS reachable from a normal (bridged) container.

    Without this, a silent listener could mean the host firewall, not the sandbox, stopped
    them, or that the attacker's stand-in tools never really tried. The same image, the same
    stand-ins, on the default bridge: each variant must reach the control listener.
    """
    image = attack_runs.get("network", "policy").result.run_json.get("image")
    image_ref = (image.get("ref") or image.get("tag") or image.get("id")) if isinstance(image, dict) else image
    assert image_ref, "run.json names no image"
    control = h.Listener()
    host, port = net_values["HOST"], control.tcp_port
    variants = [
        ["curl", "-sS", "-m", "3", f"http://{host}:{port}/"],
        ["curl", "-sS", "-m", "3", f"http://{ALLOWED_HOST}@{host}:{port}/"],
        ["curl", "-sS", "-m", "3", "--proxy", f"http://{host}:{port}", f"http://{ALLOWED_HOST}/"],
        ["nc", "-w", "3", host, str(port)],
    ]
    script = NETCLIENT + "\nimport json\nrcs = []\n" + "".join(
        f"sys.argv = {v!r}\nrcs.append(main({v[0]!r}))\n" for v in variants) + "print(json.dumps(rcs))\n"
    client = docker.from_env()
    try:
        out = client.containers.run(str(image_ref), ["python3", "-c", script], network_mode="bridge",
                                    remove=True, labels={h.TEST_LABEL: "1"}, user="10001:10001")
        assert out.decode().strip().splitlines()[-1] == json.dumps([0] * len(variants)), out.decode()
        deadline = time.monotonic() + 30  # the listener threads record each contact: wait for them
        while len(control.snapshot()) < len(variants) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(control.snapshot()) == len(variants), control.snapshot()
    finally:
        control.close()
        client.close()
    SCORECARD.facts["network positive control"] = (
        f"from a container on the default bridge, the same image and the attacker's stand-in tools "
        f"reach the host listener at {host} ({len(variants)} of {len(variants)} variants); "
        "from the sandbox, nothing ever did")
