"""The claude-code runtime's bridge in a real hardened container: the API relay (its own uid)
and the PreToolUse hook (the agent's uid) against a real Gateway on the host.

What matters for the hook's trust: the agent's processes can neither kill the relay nor take
its port, and with the relay gone the hook denies.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner.config import DockerSandboxConfig, Limits
from runner.egress.relay import RelayProcess
from runner.gateway import Budget, Gateway, Redactor, ScriptedProvider
from runner.gateway.scripted import Scenario
from runner.gateway.server import GROUP_SOCKET_MODE, prepare_socket_dir
from runner.protocol import API_PORT, SOCKET_NAME, DecideReason, DecideRequest, DecideResponse
from runner.run.claude_code import API_RELAY_READY, api_relay_command, relay_uid
from runner.sandbox.deployment import DockerDeployment
from runner.sandbox.ownership import sandbox_identity, writable_ownership
from runner.sandbox.spec import RUNTIME_PYTHON, build_container_spec
from tests.sandbox.conftest import TEST_LABELS, WRITABLE, make_project

pytestmark = pytest.mark.docker
HOOK = [RUNTIME_PYTHON, "-P", "-m", "runner.agent.hook"]
INPUTS = Path(__file__).parents[1] / "agent" / "data" / "claude_code_hook_inputs.jsonl"


def _decide(seen: list[DecideRequest]):  # type: ignore[no-untyped-def]
    def decide(req: DecideRequest) -> DecideResponse:
        seen.append(req)
        if req.tool == "Write":
            return DecideResponse(allow=False, decision_id="d-w", reasons=[
                DecideReason(policy="scope", rule="write_outside_writable", msg="not writable")])
        return DecideResponse(allow=True, decision_id=f"d-{len(seen)}")
    return decide


@dataclass
class Bridge:
    dep: DockerDeployment
    relay: RelayProcess
    seen: list[DecideRequest]
    relay_user: str
    isolation: str = "runc"

    def hook(self, payload: dict[str, object]) -> tuple[str, str]:
        res = self.dep.runtime.exec(HOOK, input=json.dumps(payload).encode(), timeout=90)
        answer = json.loads(res.stdout)["hookSpecificOutput"]
        return answer["permissionDecision"], answer["permissionDecisionReason"]

    def sh(self, script: str, user: str | None = None) -> tuple[int, str]:
        res = self.dep.runtime.exec(["sh", "-c", script], timeout=30, user=user)
        return res.returncode, res.stdout + res.stderr


@pytest.fixture(scope="module", params=["runc", pytest.param("gvisor", marks=pytest.mark.gvisor)])
def bridge(sandbox_image: str, tmp_path_factory: pytest.TempPathFactory,
           request: pytest.FixtureRequest) -> Iterator[Bridge]:
    """The bridge under each isolation (gVisor: the relay and hook reach the host socket
    through --host-uds=open; skipped, saying why, without a runsc runtime)."""
    runtime = request.getfixturevalue("gvisor_runtime") if request.param == "gvisor" else None
    base = tmp_path_factory.mktemp("bridge")
    project = make_project(base / "project")
    (project / "issues.md").write_text("")
    ident = sandbox_identity(project, DockerSandboxConfig())
    seen: list[DecideRequest] = []
    with tempfile.TemporaryDirectory(prefix="sr-") as tmp:
        sock = Path(tmp)
        prepare_socket_dir(sock, ident.uid, ident.gid, group=True)
        gateway = Gateway(socket_path=sock / SOCKET_NAME,
                          provider=ScriptedProvider(scenario=Scenario.model_validate(
                              {"turns": [{"text": "hi"}]})),
                          decide=_decide(seen), run_dir=base / "run",
                          budget=Budget(max_requests=10, max_tokens=100_000),
                          redactor=Redactor(detectors=False), socket_owner=(ident.uid, ident.gid),
                          socket_mode=GROUP_SOCKET_MODE)
        gateway.start()
        try:
            with writable_ownership(project, WRITABLE, ident.uid, ident.gid):
                spec = build_container_spec(
                    project=project, image=sandbox_image, run_id=f"test-{uuid.uuid4().hex[:10]}",
                    socket_dir=sock, writable=WRITABLE, secret_paths=[],
                    limits=Limits(memory="512m", pids=128), uid=ident.uid, gid=ident.gid,
                    extra_labels=TEST_LABELS, runtime=runtime)
                with DockerDeployment(spec) as dep:
                    user = f"{relay_uid(ident.uid)}:{ident.gid}"
                    relay = RelayProcess(dep.runtime, gateway.token, port=API_PORT, timeout=600,
                                         command=api_relay_command(), ready=API_RELAY_READY,
                                         name="api-relay", user=user)
                    relay.start()
                    yield Bridge(dep, relay, seen, user, request.param)
        finally:
            gateway.stop()


def test_the_hook_gets_the_policy_answer_through_the_relay(bridge: Bridge) -> None:
    calls = [json.loads(line) for line in INPUTS.read_text().splitlines() if line.strip()]
    answers = {c["tool_name"]: bridge.hook(c) for c in calls}
    assert answers["Bash"][0] == "allow" and answers["Read"][0] == "allow"
    decision, reason = answers["Write"]
    assert decision == "deny" and "scope/write_outside_writable" in reason and "d-w" in reason
    assert {r.runtime for r in bridge.seen} == {"claude-code"}
    assert {r.tool_use_id for r in bridge.seen} == {c["tool_use_id"] for c in calls}


def test_the_agent_can_neither_kill_the_relay_nor_take_its_port(bridge: Bridge) -> None:
    code, out = bridge.sh("for p in /proc/[0-9]*; do "
                          "grep -q api_relay $p/cmdline 2>/dev/null && echo ${p#/proc/}; done")
    pids = out.split()
    assert code == 0 and pids, out
    code, out = bridge.sh(f"kill -9 {' '.join(pids)}")
    assert code != 0 and "not permitted" in out.lower(), out
    probe = ("import socket; s = socket.socket(); "
             f"s.bind(('127.0.0.1', {API_PORT})); print('bound')")
    code, out = bridge.sh(f"python3 -c \"{probe}\"")
    assert code != 0 and "bound" not in out and "in use" in out.lower(), out
    assert bridge.relay.alive


def test_with_the_relay_gone_the_hook_denies(bridge: Bridge) -> None:
    # Only the relay's own uid can stop it (the agent cannot: see above).
    # (not this shell nor its timeout wrapper: their command lines name the relay too)
    _code, out = bridge.sh("for p in /proc/[0-9]*; do "
                          "case ${p#/proc/} in $$|$PPID) continue;; esac; "
                          "grep -q api_relay $p/cmdline 2>/dev/null && kill ${p#/proc/}; "
                          "done; true", user=bridge.relay_user)
    bridge.relay.join(30)
    assert not bridge.relay.alive, out
    before = len(bridge.seen)
    decision, reason = bridge.hook({"tool_name": "Read", "tool_input": {"file_path": "x"},
                                    "tool_use_id": "toolu_x", "cwd": "/workspace",
                                    "hook_event_name": "PreToolUse"})
    assert decision == "deny" and "could not" in reason.lower()
    assert len(bridge.seen) == before
