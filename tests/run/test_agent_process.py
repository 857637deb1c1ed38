"""How the agent's end becomes the run's (runner/run/agent_process.py), without Docker: the
built-in agent is the container's main process, so its container ends with it."""

from __future__ import annotations

import pytest

from runner.errors import RunFailed, RunTimeout
from runner.run.agent_process import AGENT_COMMAND, agent_main_command, check_agent_end
from runner.sandbox.environment import ExecResult


class Ended:
    """A deployment whose main process has ended (what check_agent_end asks of it)."""

    def __init__(self, *, oom: bool = False, alive: bool = False) -> None:
        self.oom, self.alive = oom, alive

    def oom_killed(self) -> bool:
        return self.oom

    def is_alive(self) -> bool:
        return self.alive


def end(code: int, *, timed_out: bool = False, stderr: str = "") -> ExecResult:
    return ExecResult(returncode=code, stdout="", stderr=stderr, timed_out=timed_out)


def check(result: ExecResult, deployment: Ended | None = None, failure: RunFailed | None = None,
          main_process: bool = True) -> None:
    check_agent_end(deployment or Ended(), result, timeout=60, failure=failure,  # type: ignore[arg-type]
                    main_process=main_process)


def test_the_main_process_command_is_the_agent_under_timeout_with_its_own_variables() -> None:
    cmd = agent_main_command(600, {"SANDBOX_RUNNER_WAIT_FOR_GO": "1", "HTTP_PROXY": "http://127.0.0.1:3128"})
    assert cmd[:3] == ["/usr/bin/env", "SANDBOX_RUNNER_WAIT_FOR_GO=1", "HTTP_PROXY=http://127.0.0.1:3128"]
    assert cmd[3:7] == ["/usr/bin/timeout", "--kill-after", "2", "600"] and cmd[7:] == AGENT_COMMAND
    assert all(part.startswith("/") for part in (cmd[0], cmd[3], cmd[7]))  # nothing found on PATH


def test_an_agent_that_finished_ends_its_container_and_that_is_fine() -> None:
    check(end(0))  # the container is gone (not alive): for the main process that is its end


@pytest.mark.parametrize(("code", "how"), [(137, "signal 9, exit code 137"), (143, "signal 15, exit code 143"),
                                           (-1, "its exit code is unknown")])
def test_a_signal_or_an_unknown_end_is_the_sandbox_dying(code: int, how: str) -> None:
    with pytest.raises(RunFailed) as info:
        check(end(code))
    assert str(info.value) == ("the sandbox container died during the run: its main process, the agent, "
                               f"ended by a signal ({how})")


def test_the_agents_own_exit_code_is_its_failure() -> None:
    with pytest.raises(RunFailed, match=r"^agent exited with code 3: model API error: HTTP 529"):
        check(end(3, stderr="sandbox-runner agent: x\nmodel API error: HTTP 529\n"))


def test_timeout_oom_and_the_gateways_failure_come_first() -> None:
    with pytest.raises(RunTimeout):
        check(end(124, timed_out=True))
    with pytest.raises(RunFailed, match=r"^oom-killed: the sandbox ran out of memory$"):
        check(end(137), Ended(oom=True))
    with pytest.raises(RunFailed, match=r"^oom-killed: a process in the sandbox"):
        check(end(0), Ended(oom=True))
    with pytest.raises(RunFailed, match=r"^budget"):
        check(end(3), failure=RunFailed("budget exhausted"))


def test_an_exec_agent_whose_container_is_gone_died() -> None:
    """The claude-code runtime's agent is an exec: its container must outlive it."""
    with pytest.raises(RunFailed, match=r"^the sandbox container died during the run$"):
        check(end(0), Ended(alive=False), main_process=False)
    check(end(0), Ended(alive=True), main_process=False)
