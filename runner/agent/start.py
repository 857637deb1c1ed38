"""The agent's start, before any model is built: its first request needs no pydantic, no httpx.

Importing pydantic and building the models of :mod:`runner.protocol`, and importing httpx and
building its client, are most of the agent's start (about 100 and 80 ms of CPU in the
container, on the path to the run's first model request). So the start is in two parts:

* the main thread waits for the open file (the host wrote agent.json, its gateway listens),
  reads agent.json as plain JSON (:func:`load_start`: the fields the first request and
  ``agent_started`` carry, each checked for its JSON type) and sends ``agent_started`` and the
  first model request with the standard library
  (:class:`runner.agent.first_call.FirstCall`), alone: nothing competes with it for the
  interpreter on the way to the run's first request;
* once that request is out, a :class:`Preload` thread imports the loop, the tools, the
  models and httpx, validates the whole config with :class:`runner.protocol.AgentConfig` and
  builds the client and the loop while the model answers. The main thread joins it before
  it reads the first answer: a config the models refuse is a bad config (exit 2) before any
  tool runs or any second request is made. The first answer is acted on only once the go
  file exists (the sandbox self-check passed).

Standard library only (and :mod:`runner.wire`): a test checks that importing this module,
:mod:`runner.agent.first_call` and ``__main__`` loads neither pydantic nor httpx.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

from runner.wire import AGENT_CONFIG_NAME, DIR_ENV, SOCKET_DIR_IN_CONTAINER, SOCKET_NAME

T = TypeVar("T")


class AgentConfigError(Exception):
    """agent.json is missing or invalid (exit 2)."""


class StartConfig(NamedTuple):  # not a dataclass: importing dataclasses costs the start ~6 ms
    """What the agent's first request and its ``agent_started`` event carry, read from
    agent.json before the models exist (the whole file is validated by the preload)."""

    path: Path  # agent.json
    data: bytes  # agent.json as read (the preload validates these bytes: one read)
    socket_path: str
    run_id: str
    agent_name: str
    model: str
    system_prompt: str
    task: str
    tools: list[str]
    max_turns: int
    max_tokens: int
    tool_definitions: list[dict[str, Any]]


# field -> its JSON type (agent.json is AgentConfig.model_dump_json(): every field is there)
_FIELDS: dict[str, type] = {
    "run_id": str, "agent_name": str, "model": str, "system_prompt": str, "task": str,
    "tools": list, "max_turns": int, "max_tokens": int, "tool_definitions": list,
}
_JSON_NAMES = {str: "string", int: "integer", list: "array"}


def config_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get(DIR_ENV) or SOCKET_DIR_IN_CONTAINER)


def load_start(environ: dict[str, str] | None = None) -> StartConfig:
    """agent.json's first-request fields; :class:`AgentConfigError` for a missing file, bad
    JSON, or one of these fields missing or of another JSON type."""
    base = config_dir(environ)
    path = base / AGENT_CONFIG_NAME
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AgentConfigError(f"{path}: {exc.strerror or exc}") from None
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise AgentConfigError(f"{path}: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise AgentConfigError(f"{path}: not a JSON object")
    values: dict[str, Any] = {}
    for name, kind in _FIELDS.items():
        if name not in raw:
            raise AgentConfigError(f"{path}: {name}: Field required")
        value = raw[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise AgentConfigError(f"{path}: {name}: not a JSON {_JSON_NAMES[kind]}")
        values[name] = value
    if not all(isinstance(t, str) for t in values["tools"]) or not all(
            isinstance(d, dict) for d in values["tool_definitions"]):
        raise AgentConfigError(f"{path}: tools and tool_definitions must be lists of "
                               "strings and objects")
    return StartConfig(path=path, data=data, socket_path=str(base / SOCKET_NAME), **values)


class Preload(Generic[T]):
    """``build()`` in a thread, started at once; :meth:`result` joins it and returns what it
    built, or raises what it raised (in the caller's thread).

    While it builds, the interpreter switches threads every ``switch_interval`` seconds
    (Python's default is 5 ms): the main thread, woken by an answer on the socket or the go
    file, gets the GIL back from the build at once instead of after up to 5 ms per wake-up.
    The default interval is back when the build ends."""

    def __init__(self, build: Callable[[], T], *, switch_interval: float = 0.0005) -> None:
        self._build = build
        self._value: T | None = None
        self._error: BaseException | None = None
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(switch_interval)
        self._thread = threading.Thread(target=self._run, name="agent-preload", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._build()
        except BaseException as exc:  # handed to result(), in the main thread
            self._error = exc
        finally:
            sys.setswitchinterval(self._interval)

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


__all__ = ["AgentConfigError", "Preload", "StartConfig", "config_dir", "load_start"]
