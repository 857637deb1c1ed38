"""The claude-code runtime's agent phase in a started sandbox.

The API relay first (it holds the run's token; it runs as a uid of its own, in the sandbox
user's group, so the agent, without capabilities, can neither kill it nor take its port: the
hook trusts whatever answers on ``127.0.0.1:API_PORT``), then the agent file in the tmpfs
home, the self-check, and Claude Code itself; its stream-json lines become the run's events
through the gateway (redacted, clipped, capped). The command line, the agent file and the
stream-json parser are :mod:`runner.run.claude_code`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner.egress.relay import RelayProcess
from runner.errors import RunFailed
from runner.gateway.server import Gateway
from runner.protocol import API_PORT
from runner.run.agent_process import AgentProcess
from runner.run.claude_code import (
    API_RELAY_READY,
    CLAUDE_BIN,
    HOOK_COMMAND,
    ClaudeCodeLaunch,
    StreamJsonEvents,
    api_relay_command,
    relay_uid,
)
from runner.run.display import RunDisplay, shown
from runner.sandbox.deployment import DockerDeployment
from runner.sandbox.environment import ExecResult
from runner.sandbox.selfcheck import ClaudeCodeCheck

SelfCheck = Callable[[ClaudeCodeCheck], None]


@dataclass
class ClaudeCodeEnd:
    """How Claude Code's exec ended, what its stream said, and its API relay."""

    result: ExecResult
    stream: StreamJsonEvents
    relay: RelayProcess

    def record(self) -> dict[str, Any]:
        """run.json's ``claude_code``."""
        return {"result": self.stream.outcome.subtype, "turns": self.stream.outcome.turns,
                "lines_skipped": self.stream.skipped}

    def check(self) -> None:
        """RunFailed for a relay that died, a stream without a result line, or an error
        result (reaching ``--max-turns`` is not one); after the exec's end was checked."""
        if not self.relay.alive:
            raise RunFailed("the API relay ended during the run: tool calls may have gone "
                            "undecided (see the audit cross-check)")
        outcome = self.stream.outcome
        if outcome.subtype is None:
            raise RunFailed("Claude Code ended without a result line")
        if outcome.is_error and outcome.subtype != "error_max_turns":
            raise RunFailed(f"Claude Code ended with {shown(outcome.subtype, 60)}: "
                            f"{shown(outcome.message, 300)}")


def run_claude_code(deployment: DockerDeployment, launch: ClaudeCodeLaunch, *,
                    gateway: Gateway, display: RunDisplay, timeout: float, relay_timeout: float,
                    agent_name: str, model: str, self_check: SelfCheck) -> ClaudeCodeEnd:
    """Start the relay, write the agent file, self-check, run Claude Code to its end."""
    spec = deployment.spec
    relay = RelayProcess(deployment.runtime, gateway.token, port=API_PORT,
                         timeout=relay_timeout, command=api_relay_command(),
                         ready=API_RELAY_READY, name="api-relay",
                         on_line=lambda stream, line: _relay_line(display, stream, line),
                         user=f"{relay_uid(spec.uid)}:{spec.gid}")
    relay.start()
    runtime = deployment.runtime
    made = runtime.exec(["mkdir", "-p", launch.agent_path.rsplit("/", 1)[0]], timeout=30)
    if made.returncode != 0:
        raise RunFailed(f"cannot create the agent directory in the sandbox: {made.stderr[:200]}")
    runtime.write_file(launch.agent_path, launch.agent_text.encode("utf-8"))
    self_check(ClaudeCodeCheck(binary=CLAUDE_BIN, hook=HOOK_COMMAND, port=API_PORT))
    stream = StreamJsonEvents(agent_name=agent_name, model=model)

    def line(kind: str, text: str) -> None:
        if kind == "stderr":
            display.agent_stderr(text)
            return
        for event in stream.feed(text):
            gateway.record_event(event)

    agent = AgentProcess(deployment, launch.command, timeout=timeout, on_line=line,
                         env=launch.env)
    display.step(f"agent {agent_name} running in Claude Code (model {model})")
    agent.start()
    result = agent.wait()
    return ClaudeCodeEnd(result=result, stream=stream, relay=relay)


def _relay_line(display: RunDisplay, stream: str, line: str) -> None:
    if stream == "stderr":
        display.agent_stderr(f"api relay: {line}")


__all__ = ["ClaudeCodeEnd", "run_claude_code"]
