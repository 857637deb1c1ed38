"""One sandbox container's life (SWE-ReX style): start, exec through ``runtime``, stop.

The built-in agent's container runs the agent as its main process (``start(stdin=...,
attach_output=True)`` hands it the gateway token and attaches its output, ``take_output``);
the claude-code runtime's container idles and is driven by execs; the verification's runs its
test command as the main process (``start(stdin=...)`` hands it the nonce, ``wait``,
``logs``). Either way the end of the main process is the end of every process in it.

``stop()`` is idempotent and always removes the container (force), and the context manager
calls it whatever happens inside the block. ``start_background()`` creates and starts the
container in a thread while the caller does other work (``wait_started()`` joins it); ``stop()``
joins that thread first, so a container still being created is removed too. ``remove_leftovers`` removes containers of
earlier runs (by label) whose owning process is gone, for ``doctor --cleanup``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from types import TracebackType
from typing import Any

import docker
from docker.errors import DockerException, NotFound
from docker.models.containers import Container
from pydantic import BaseModel
from requests.exceptions import RequestException

from runner.errors import RunFailed
from runner.sandbox.docker_client import docker_client, one_line
from runner.sandbox.environment import CAT, SH, DockerSandbox
from runner.sandbox.spec import LABEL_OWNER_HOST, LABEL_OWNER_PID, LABEL_RUN, ContainerSpec


class ExitInfo(BaseModel):
    exit_code: int | None  # None: still running when the wait ended
    oom_killed: bool
    status: str
    runtime: str | None = None  # the engine's runtime of the container (runc, runsc: gVisor)


class DockerDeployment:
    """Start a container from a :class:`ContainerSpec`; always remove it again."""

    def __init__(self, spec: ContainerSpec, client: docker.DockerClient | None = None) -> None:
        self.spec = spec
        self._client = client
        self._container: Container | None = None
        self._runtime: DockerSandbox | None = None
        self._starting: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self._output: Any = None  # the main process's attached output, until taken
        self.started_at: float | None = None  # time.monotonic() just before the start

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker_client()
        return self._client

    @property
    def container_id(self) -> str | None:
        return None if self._container is None else str(self._container.id)

    @property
    def runtime(self) -> DockerSandbox:
        if self._runtime is None:
            raise RunFailed("sandbox container is not started")
        return self._runtime

    def start(self, stdin: bytes | None = None, *, attach_output: bool = False) -> None:
        """Create and start the container. ``stdin``: written to the main process's stdin
        once it runs, then the write side is shut (a secret in no environment, file or argv:
        the verification's nonce, the built-in agent's gateway token). ``attach_output``:
        the main process's stdout and stderr are attached before the start (nothing is
        lost) and handed over by :meth:`take_output` (the built-in agent as main process)."""
        if self._container is not None:
            return
        kwargs = self.spec.to_run_kwargs()
        if stdin is not None:
            kwargs["stdin_open"] = True
        try:
            self._container = self.client.containers.create(**kwargs)
        except (DockerException, RequestException) as exc:
            raise RunFailed(f"sandbox container could not be created: {one_line(exc)}") from None
        attached: Any = None
        params = {"stream": 1, **({"stdin": 1} if stdin is not None else {}),
                  **({"stdout": 1, "stderr": 1} if attach_output else {})}
        try:
            if stdin is not None or attach_output:  # before the start: nothing is lost
                attached = self._container.attach_socket(params=params)
            self.started_at = time.monotonic()
            self._container.start()
        except (DockerException, RequestException) as exc:
            if attached is not None:
                _feed(attached, b"")
            self.stop()
            raise RunFailed(f"sandbox container could not start: {one_line(exc)}") from None
        if attach_output:
            _feed(attached, stdin or b"", close=False)
            self._output = attached
        elif attached is not None and stdin is not None:
            _feed(attached, stdin)
        self._runtime = DockerSandbox(self.client, str(self._container.id))

    def take_output(self) -> Any:
        """The main process's attached output (``start(attach_output=True)``): a socket of
        Docker's multiplexed stream, read with :class:`FrameReader`; the caller closes it."""
        output, self._output = self._output, None
        if output is None:
            raise RunFailed("the sandbox container is gone" if self._container is None
                            else "the sandbox's main process output is not attached")
        return output

    def start_background(self, stdin: bytes | None = None, *,
                         attach_output: bool = False) -> None:
        """:meth:`start` in a thread: Docker creates and starts the container (hundreds of
        milliseconds, mostly waiting on the engine) while the caller prepares the host side.
        The caller must not use this deployment's client until :meth:`wait_started`."""
        if self._starting is not None or self._container is not None:
            return

        def start() -> None:
            try:
                self.start(stdin, attach_output=attach_output)
            except BaseException as exc:  # handed to wait_started, in the caller's thread
                self._start_error = exc

        self._starting = threading.Thread(target=start, name="sandbox-start", daemon=True)
        self._starting.start()

    def wait_started(self) -> None:
        """Wait for :meth:`start_background`; raises what :meth:`start` raised."""
        self._join_start()
        error, self._start_error = self._start_error, None
        if error is not None:
            raise error

    def _join_start(self) -> None:
        starting = self._starting
        if starting is not None and starting is not threading.current_thread():
            starting.join()

    def is_alive(self) -> bool:
        if self._container is None:
            return False
        try:
            self._container.reload()
        except (DockerException, RequestException):
            return False
        return bool(self._container.status == "running")

    def inspect(self) -> dict[str, Any]:
        """The container's ``docker inspect`` document."""
        if self._container is None:
            raise RunFailed("sandbox container is not started")
        result: dict[str, Any] = self.client.api.inspect_container(self._container.id)
        return result

    def oom_killed(self) -> bool:
        """Whether the kernel OOM-killed anything in the container (pid 1 or an exec)."""
        if self._container is None:
            return False
        with contextlib.suppress(DockerException, RequestException):
            self._container.reload()
            if self._container.attrs.get("State", {}).get("OOMKilled"):
                return True
        if not self.is_alive() or self._runtime is None:
            return False
        try:
            probe = self._runtime.exec(
                [SH, "-c", f"{CAT} /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null "
                 f"|| {CAT} /sys/fs/cgroup/memory.events 2>/dev/null"],
                timeout=10,
            )
        except RunFailed:  # it stopped since is_alive(): the engine's State said no OOM
            return False
        for line in probe.stdout.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit() and int(value) > 0:
                return True
        return False

    def wait(self, timeout: float | None = None) -> ExitInfo:
        if self._container is None:
            raise RunFailed("sandbox container is not started")
        code: int | None = None
        try:
            result = self._container.wait(timeout=timeout)
            code = int(result.get("StatusCode", -1))
        except RequestException:
            code = None  # still running at the timeout
        except DockerException as exc:
            raise RunFailed(f"waiting for the sandbox failed: {one_line(exc)}") from None
        state: dict[str, Any] = {}
        runtime: object = None
        with contextlib.suppress(DockerException, RequestException):
            self._container.reload()
            state = self._container.attrs.get("State", {})
            runtime = (self._container.attrs.get("HostConfig") or {}).get("Runtime")
        return ExitInfo(
            exit_code=code, oom_killed=bool(state.get("OOMKilled")),
            status=str(state.get("Status", "unknown")),
            runtime=runtime if isinstance(runtime, str) else None,
        )

    def logs(self, tail: int) -> bytes:
        """The last ``tail`` lines of the main process's stdout and stderr, interleaved."""
        if self._container is None:
            raise RunFailed("sandbox container is not started")
        try:
            data: bytes = self._container.logs(stdout=True, stderr=True, tail=tail)
        except (DockerException, RequestException) as exc:
            raise RunFailed(f"reading the sandbox's output failed: {one_line(exc)}") from None
        return data

    def stop(self) -> None:
        """Remove the container (force). Safe to call any number of times; waits for a
        :meth:`start_background` still under way first."""
        self._join_start()
        container, self._container, self._runtime = self._container, None, None
        output, self._output = self._output, None
        if output is not None:
            with contextlib.suppress(OSError):
                output.close()
        if container is None:
            return
        try:
            container.remove(force=True)
        except NotFound:
            return
        except (DockerException, RequestException) as exc:
            # One retry: a removal already in progress answers 409 for a moment.
            try:
                self.client.api.remove_container(container.id, force=True)
            except NotFound:
                return
            except (DockerException, RequestException):
                raise RunFailed(f"could not remove sandbox container: {one_line(exc)}") from None

    def __enter__(self) -> DockerDeployment:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _feed(attached: Any, data: bytes, *, close: bool = True) -> None:
    """Write ``data`` to an attached stdin, shut its write side (EOF for the reader) and,
    unless the output is read from it (``close=False``), close it."""
    raw = getattr(attached, "_sock", attached)
    try:
        with contextlib.suppress(OSError):
            raw.sendall(data)
            raw.shutdown(socket.SHUT_WR)
    finally:
        if close:
            with contextlib.suppress(OSError):
                attached.close()


def _owner_alive(labels: dict[str, str]) -> bool:
    if labels.get(LABEL_OWNER_HOST) != socket.gethostname():
        return False
    pid = labels.get(LABEL_OWNER_PID, "")
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(
    client: docker.DockerClient, *, include_live_owners: bool = False,
    labels: dict[str, str] | None = None,
) -> list[str]:
    """Remove sandbox containers whose runner process is gone; their names.

    ``include_live_owners``: also containers whose runner still runs (this host only).
    ``labels``: narrow to containers carrying these labels too.
    """
    filters = [LABEL_RUN, *(f"{k}={v}" for k, v in (labels or {}).items())]
    try:
        containers = client.containers.list(all=True, filters={"label": filters}, ignore_removed=True)
    except (DockerException, RequestException) as exc:
        raise RunFailed(f"listing sandbox containers failed: {one_line(exc)}") from None
    removed: list[str] = []
    for container in containers:
        own = dict(container.labels or {})
        if not include_live_owners and _owner_alive(own):
            continue  # its runner (maybe this process) still runs and will remove it
        with contextlib.suppress(NotFound):
            container.remove(force=True)
            removed.append(str(container.name))
    return removed
