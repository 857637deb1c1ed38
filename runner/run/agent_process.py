"""The agent's process in the container, whatever the runtime, and how it ended.

The built-in agent is the sandbox container's main process (:func:`agent_main_command`:
started with the container, so the interpreter and the agent's first imports overlap the
host's remaining start-up and no ``docker exec`` is waited for); its output is read from the
main process's attached stream and its exit code is the container's. The claude-code
runtime's container idles and its agent is a ``docker exec``. Either way it is followed from
a thread so the main thread stays responsive to signals; a host-side watchdog backs up the
in-container timeout. The main thread waits on two events: the agent's end, or the
container's death (the engine's ``die`` event, runner/sandbox/watch.py): a sandbox that dies
ends the wait at once, even when its stream stays open (gVisor).
:func:`check_agent_end` turns the end into the run's failure, if it is one.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from runner.errors import RunFailed, RunTimeout
from runner.sandbox.deployment import DockerDeployment
from runner.sandbox.environment import (
    KILL_AFTER,
    TIMEOUT_CODES,
    ExecResult,
    FrameReader,
    OutputCollector,
    timeout_command,
)
from runner.sandbox.spec import RUNTIME_PYTHON
from runner.sandbox.watch import DeathWatch

AGENT_GRACE = 30.0  # host-side backstop beyond the in-container timeout
DEATH_REPORT_GRACE = 3.0  # an end and the engine's report of it: how long one may wait for the other
END_REPORT_WAIT = 30.0  # the main process's stream ended: how long the engine may take to say how
OUTPUT_LIMIT = 1024 * 1024  # of the agent's collected output (lines are streamed regardless)
AGENT_COMMAND = [RUNTIME_PYTHON, "-P", "-m", "runner.agent"]


ENV = "/usr/bin/env"  # by absolute path, as TIMEOUT: not a script on the project's PATH


def agent_main_command(timeout: float, env: dict[str, str]) -> list[str]:
    """The built-in agent as the container's main process: under coreutils ``timeout``, with
    ``env`` set for it alone (``env``: the self-check's and the relay's execs do not get it)."""
    return [ENV, *(f"{k}={v}" for k, v in env.items()), *timeout_command(AGENT_COMMAND, timeout)]


def _killed(code: int) -> bool:
    """The main process ended by a signal (128 + N), or its end is unknown (-1): the agent
    (0 done, 2 config, 3 model API, 4 crashed) did not exit by itself."""
    return code < 0 or code >= 128


def _how_killed(code: int) -> str:
    return (f"signal {code - 128}, exit code {code}" if code >= 128
            else "its exit code is unknown")


class AgentProcess:
    """``start()``, then ``wait()`` for the agent's result (RunTimeout past the backstop).

    ``command``: the agent is a ``docker exec`` of it (``env``, ``stdin``: the exec's);
    None: the agent is the container's main process, started with it
    (``DockerDeployment.start(stdin=token, attach_output=True)``).
    """

    def __init__(self, deployment: DockerDeployment, command: list[str] | None, *,
                 timeout: float, on_line: Callable[[str, str], None],
                 env: dict[str, str] | None = None, stdin: bytes | None = None) -> None:
        self._deployment = deployment
        self._command = command
        self._env = env or {}
        self._stdin = stdin  # the exec'd agent's token: in no environment, file or argv
        self._timeout = timeout
        self._on_line = on_line
        self._result: ExecResult | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="agent", daemon=True)
        self._event = threading.Event()  # the agent ended or the container died
        self._watch: DeathWatch | None = None
        self._output: Any = None  # the main process's attached output, while it is read
        self._started = time.monotonic()

    @property
    def main_process(self) -> bool:
        return self._command is None

    def _run(self) -> None:
        try:
            if self._command is None:
                self._result = self._follow_main()
            else:
                self._result = self._deployment.runtime.exec_stream(
                    self._command, self._on_line, timeout=self._timeout, workdir="/workspace",
                    env=self._env, output_limit=OUTPUT_LIMIT, input=self._stdin)
        except BaseException as exc:  # handed to the main thread
            self._error = exc
        finally:
            self._event.set()

    def _follow_main(self) -> ExecResult:
        """The main process's output until its stream ends, then its exit code."""
        self._output = output = self._deployment.take_output()
        collector = OutputCollector(OUTPUT_LIMIT, self._on_line)
        backstop_hit = False
        try:  # past the in-container timeout and its kill, stop reading (the backstop)
            backstop_hit = FrameReader(getattr(output, "_sock", output),
                                       self._since() + self._timeout + KILL_AFTER + 5.0
                                       ).drain(collector)
        except OSError:
            pass  # the stream broke with the container: its exit code tells
        finally:
            with contextlib.suppress(OSError):
                output.close()
        # the engine closes the stream before it records the container's end: wait for that
        # (a loaded engine, a gVisor sandbox's teardown), then ask the die event
        info = self._deployment.wait(timeout=END_REPORT_WAIT)
        code = info.exit_code
        if code is None and self._watch is not None and self._watch.died.wait(DEATH_REPORT_GRACE):
            code = self._watch.exit_code
        return ExecResult(returncode=-1 if code is None else code,
                          stdout=collector.data["stdout"].decode("utf-8", "replace"),
                          stderr=collector.data["stderr"].decode("utf-8", "replace"),
                          timed_out=backstop_hit or self._timed_out(code),
                          truncated=collector.truncated)

    def _since(self) -> float:
        """When the in-container timeout started: the container's start for the main process."""
        if self.main_process and self._deployment.started_at is not None:
            return self._deployment.started_at
        return self._started

    def _timed_out(self, code: int | None) -> bool:
        return code in TIMEOUT_CODES and time.monotonic() - self._since() >= self._timeout

    def ended(self, timeout: float = 0.0) -> bool:
        """Whether the agent has ended (its stream closed or its container died), waiting up
        to ``timeout`` seconds for it."""
        return self._event.wait(timeout)

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
        """The agent's result; when the container died first, a result saying so (the
        thread is left to end with the container's removal)."""
        deadline = time.monotonic() + self._timeout + AGENT_GRACE
        try:
            if not self._event.wait(timeout=max(0.0, deadline - time.monotonic())):
                self._deployment.stop()  # backstop: the agent's stream ends with the container
                self._thread.join(10)
                raise RunTimeout(self._timeout)
            died = self._watch is not None and self._watch.died.is_set()
            if self._thread.is_alive() and died and self.main_process:
                # the main process's end is the container's: the last output still drains
                self._thread.join(DEATH_REPORT_GRACE)
            if self._thread.is_alive() and died:
                assert self._watch is not None
                code = self._watch.exit_code
                if self._output is not None:  # its reader stops; nothing more is shown
                    with contextlib.suppress(OSError):
                        getattr(self._output, "_sock", self._output).shutdown(socket.SHUT_RDWR)
                return ExecResult(returncode=-1 if code is None else code, stdout="", stderr=(
                    "the sandbox container died" + (f" (exit code {code})" if code is not None
                                                    else "")), timed_out=self._timed_out(code))
            self._thread.join()
            if (self._watch is not None and self._result is not None and not self.main_process
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
                    failure: RunFailed | None, main_process: bool = False) -> None:
    """Raise what the agent's end means for the run: out of memory, timed out, the container
    gone (for the main process: ended by a signal), ``failure`` (what the gateway ended the
    run for: budget, model API, a decision the log could not take), a non-zero exit."""
    oom = deployment.oom_killed()
    died = _killed(result.returncode) if main_process else not deployment.is_alive()
    if result.timed_out or died:
        if oom:
            raise RunFailed("oom-killed: the sandbox ran out of memory")
        if result.timed_out:
            raise RunTimeout(timeout)
        raise RunFailed("the sandbox container died during the run" + (
            f": its main process, the agent, ended by a signal ({_how_killed(result.returncode)})"
            if main_process else ""))
    if failure is not None:
        raise failure
    if oom:
        raise RunFailed("oom-killed: a process in the sandbox ran out of memory")
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RunFailed(f"agent exited with code {result.returncode}: {tail[0][:300]}")
