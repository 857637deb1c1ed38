"""The agent's ``docker exec`` in the container, whatever the runtime, and how it ended.

Run from a thread so the main thread stays responsive to signals; a host-side watchdog backs
up the in-container timeout (the exec ends with the container when it has to be stopped).
:func:`check_agent_end` turns the end into the run's failure, if it is one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from runner.errors import RunFailed, RunTimeout
from runner.sandbox.deployment import DockerDeployment
from runner.sandbox.environment import ExecResult

AGENT_GRACE = 30.0  # host-side backstop beyond the in-container timeout
OUTPUT_LIMIT = 1024 * 1024  # of the exec's collected output (lines are streamed regardless)


class AgentProcess:
    """``start()``, then ``wait()`` for the exec's result (RunTimeout past the backstop)."""

    def __init__(self, deployment: DockerDeployment, command: list[str], *, timeout: float,
                 on_line: Callable[[str, str], None], env: dict[str, str],
                 stdin: bytes | None = None) -> None:
        self._deployment = deployment
        self._command = command
        self._env = env
        self._stdin = stdin  # the built-in agent's token: in no environment, file or argv
        self._timeout = timeout
        self._on_line = on_line
        self._result: ExecResult | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="agent-exec", daemon=True)

    def _run(self) -> None:
        try:
            self._result = self._deployment.runtime.exec_stream(
                self._command, self._on_line, timeout=self._timeout, workdir="/workspace",
                env=self._env, output_limit=OUTPUT_LIMIT, input=self._stdin)
        except BaseException as exc:  # handed to the main thread
            self._error = exc

    def start(self) -> None:
        self._thread.start()

    def wait(self) -> ExecResult:
        deadline = time.monotonic() + self._timeout + AGENT_GRACE
        while self._thread.is_alive():
            if time.monotonic() > deadline:
                self._deployment.stop()  # backstop: the exec stream ends with the container
                self._thread.join(10)
                raise RunTimeout(self._timeout)
            self._thread.join(0.2)
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def check_agent_end(deployment: DockerDeployment, result: ExecResult, *, timeout: float,
                    failure: RunFailed | None) -> None:
    """Raise what the agent's end means for the run: out of memory, timed out, the container
    gone, ``failure`` (what the gateway ended the run for: budget, model API, a decision the
    log could not take), a non-zero exit."""
    oom = deployment.oom_killed()
    if result.timed_out or not deployment.is_alive():
        if oom:
            raise RunFailed("oom-killed: the sandbox ran out of memory")
        if result.timed_out:
            raise RunTimeout(timeout)
        raise RunFailed("the sandbox container died during the run")
    if failure is not None:
        raise failure
    if oom:
        raise RunFailed("oom-killed: a process in the sandbox ran out of memory")
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RunFailed(f"agent exited with code {result.returncode}: {tail[0][:300]}")
