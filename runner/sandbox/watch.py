"""Noticing at once that a sandbox container died: the engine's ``die`` event for it.

An exec into a container usually ends when the container does, but not always: a gVisor
sandbox whose sentry ended can leave the exec's stream open, and the run would then learn of
it only at its timeout. ``DeathWatch`` follows the engine's event stream for the one container
(subscribed before it looks at the container's state, so a death in between is not missed)
and calls ``on_death`` from its thread when the container dies.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from docker.errors import DockerException
from requests.exceptions import RequestException


class DeathWatch:
    """``with DeathWatch(client, container_id, on_death):`` - ``died`` is set (and
    ``on_death`` called once) when the container dies; ``exit_code`` is the engine's word for
    its main process, when it said one."""

    def __init__(self, client: Any, container_id: str,
                 on_death: Callable[[], None] | None = None) -> None:
        self._client = client
        self._id = container_id
        self._on_death = on_death
        self.died = threading.Event()
        self.exit_code: int | None = None
        self.error: str | None = None  # the event stream failed: deaths are not watched
        self._stream: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> DeathWatch:
        try:
            self._stream = self._client.api.events(
                decode=True, filters={"container": self._id, "event": "die"})
        except (DockerException, RequestException) as exc:
            self.error = f"cannot follow the engine's events: {type(exc).__name__}"
            return self
        self._thread = threading.Thread(target=self._follow, name="death-watch", daemon=True)
        self._thread.start()
        try:  # after subscribing: a death before it is seen here, one after it as an event
            state = self._client.api.inspect_container(self._id).get("State") or {}
        except (DockerException, RequestException):
            state = {"Running": False}  # gone already
        if not state.get("Running", False):
            self._dead(state.get("ExitCode"))
        return self

    def _follow(self) -> None:
        try:
            for event in self._stream:
                if not isinstance(event, dict) or event.get("status", event.get("Action")) != "die":
                    continue
                attrs = (event.get("Actor") or {}).get("Attributes") or {}
                self._dead(attrs.get("exitCode"))
                return
        except (DockerException, RequestException, OSError, ValueError, AttributeError):
            pass  # the stream closed (close()) or broke: nothing more to watch
        finally:
            with contextlib.suppress(Exception):
                self._stream.close()

    def _dead(self, code: Any) -> None:
        if self.died.is_set():
            return
        with contextlib.suppress(TypeError, ValueError):
            self.exit_code = int(code)
        self.died.set()
        if self._on_death is not None:
            self._on_death()

    def close(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(Exception):
                self._stream.close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> DeathWatch:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
