"""One sandbox container's life (SWE-ReX style): start, exec through ``runtime``, stop.

``stop()`` is idempotent and always removes the container (force), and the context manager
calls it whatever happens inside the block. ``remove_leftovers`` removes containers of
earlier runs (by label) whose owning process is gone, for ``doctor --cleanup``.
"""

from __future__ import annotations

import contextlib
import os
import socket
from types import TracebackType
from typing import Any

import docker
from docker.errors import DockerException, NotFound
from docker.models.containers import Container
from pydantic import BaseModel
from requests.exceptions import RequestException

from runner.errors import RunFailed
from runner.sandbox.docker_client import docker_client, one_line
from runner.sandbox.environment import DockerSandbox
from runner.sandbox.spec import LABEL_OWNER_HOST, LABEL_OWNER_PID, LABEL_RUN, ContainerSpec


class ExitInfo(BaseModel):
    exit_code: int | None  # None: still running when the wait ended
    oom_killed: bool
    status: str


class DockerDeployment:
    """Start a container from a :class:`ContainerSpec`; always remove it again."""

    def __init__(self, spec: ContainerSpec, client: docker.DockerClient | None = None) -> None:
        self.spec = spec
        self._client = client
        self._container: Container | None = None
        self._runtime: DockerSandbox | None = None

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

    def start(self) -> None:
        if self._container is not None:
            return
        try:
            self._container = self.client.containers.create(**self.spec.to_run_kwargs())
        except (DockerException, RequestException) as exc:
            raise RunFailed(f"sandbox container could not be created: {one_line(exc)}") from None
        try:
            self._container.start()
        except (DockerException, RequestException) as exc:
            self.stop()
            raise RunFailed(f"sandbox container could not start: {one_line(exc)}") from None
        self._runtime = DockerSandbox(self.client, str(self._container.id))

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
                ["sh", "-c", "cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null "
                 "|| cat /sys/fs/cgroup/memory.events 2>/dev/null"],
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
        with contextlib.suppress(DockerException, RequestException):
            self._container.reload()
            state = self._container.attrs.get("State", {})
        return ExitInfo(
            exit_code=code, oom_killed=bool(state.get("OOMKilled")),
            status=str(state.get("Status", "unknown")),
        )

    def stop(self) -> None:
        """Remove the container (force). Safe to call any number of times."""
        container, self._container, self._runtime = self._container, None, None
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
