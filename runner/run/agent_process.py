"""The agent's ``docker exec`` in the container, whatever the runtime, and how it ended.

Run from a thread so the main thread stays responsive to signals; a host-side watchdog backs
up the in-container timeout (the exec ends with the container when it has to be stopped).
The main thread waits on two events: the exec's end, or the container's death (the engine's
``die`` event, runner/sandbox/watch.py): a sandbox that dies ends the wait at once, even when
its exec stream stays open (gVisor), and the caller sees a dead container.
:func:`check_agent_end` turns the end into the run's failure, if it is one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from runner.errors import RunFailed, RunTimeout
from runner.sandbox.deployment import DockerDeployment
from runner.sandbox.environment import ExecResult
from runner.sandbox.watch import DeathWatch

AGENT_GRACE = 30.0  # host-side backstop beyond the in-container timeout
DEATH_REPORT_GRACE = 3.0  # an exec ending badly: how long the die event may take to follow
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
        self._event = threading.Event()  # the exec ended or the container died
        self._watch: DeathWatch | None = None

    def _run(self) -> None:
        try:
            self._result = self._deployment.runtime.exec_stream(
                self._command, self._on_line, timeout=self._timeout, workdir="/workspace",
                env=self._env, output_limit=OUTPUT_LIMIT, input=self._stdin)
        except BaseException as exc:  # handed to the main thread
            self._error = exc
        finally:
            self._event.set()

    def start(self) -> None:
        container_id = self._deployment.container_id
        if container_id is not None:
            self._watch = DeathWatch(self._deployment.client, container_id,
                                     on_death=self._event.set).start()
        self._thread.start()

    def close(self) -> None:
        """Stop following the container's events (``wait`` does it too; a run that ends
        before it waits, a failed self-check, calls this)."""
        if self._watch is not None:
            self._watch.close()

    def wait(self) -> ExecResult:
        """The exec's result; when the container died first, a result saying so (the exec
        thread is left to end with the container's removal)."""
        deadline = time.monotonic() + self._timeout + AGENT_GRACE
        try:
            if not self._event.wait(timeout=max(0.0, deadline - time.monotonic())):
                self._deployment.stop()  # backstop: the exec stream ends with the container
                self._thread.join(10)
                raise RunTimeout(self._timeout)
            if self._thread.is_alive() and self._watch is not None and self._watch.died.is_set():
                code = self._watch.exit_code
                return ExecResult(returncode=-1, stdout="", stderr=(
                    "the sandbox container died" + (f" (exit code {code})" if code is not None
                                                    else "")))
            self._thread.join()
            if (self._watch is not None and self._result is not None
                    and self._result.returncode != 0):
                # an exec that ended badly may have ended with its container: the engine
                # reports the death a moment after the stream closes - wait for that event
                self._watch.died.wait(DEATH_REPORT_GRACE)
        finally:
            self.close()
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
