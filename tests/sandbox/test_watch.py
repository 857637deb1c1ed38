"""DeathWatch: the engine's die event for one container, a death before subscribing, a
broken event stream (no false death)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from docker.errors import APIError

from runner.sandbox.watch import DeathWatch


class Stream:
    """An event stream fed by the test; close() ends it as docker's CancellableStream does."""

    def __init__(self) -> None:
        self.items: queue.Queue[Any] = queue.Queue()
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self.items.get()
            if item is None:
                return
            yield item

    def close(self) -> None:
        self.closed.set()
        self.items.put(None)


class Api:
    def __init__(self, running: bool = True, events_error: bool = False) -> None:
        self.stream = Stream()
        self.running = running
        self.events_error = events_error
        self.filters: dict[str, Any] = {}

    def events(self, decode: bool, filters: dict[str, Any]) -> Stream:
        if self.events_error:
            raise APIError("no events")
        self.filters = filters
        return self.stream

    def inspect_container(self, cid: str) -> dict[str, Any]:
        return {"State": {"Running": self.running, "ExitCode": 0 if self.running else 137}}


class Client:
    def __init__(self, api: Api) -> None:
        self.api = api


def test_the_die_event_sets_died_and_calls_back_once() -> None:
    api = Api()
    calls: list[int] = []
    with DeathWatch(Client(api), "c1", on_death=lambda: calls.append(1)) as watch:
        assert api.filters == {"container": "c1", "event": "die"}
        assert not watch.died.is_set()
        api.stream.items.put({"status": "start", "Actor": {"Attributes": {}}})  # not a death
        api.stream.items.put({"status": "die", "Actor": {"Attributes": {"exitCode": "128"}}})
        assert watch.died.wait(10)
        assert watch.exit_code == 128 and calls == [1]
    assert api.stream.closed.is_set()


def test_a_container_already_dead_is_dead_at_once() -> None:
    api = Api(running=False)
    with DeathWatch(Client(api), "c1") as watch:
        assert watch.died.is_set() and watch.exit_code == 137


def test_no_event_stream_is_no_death() -> None:
    with DeathWatch(Client(Api(events_error=True)), "c1") as watch:
        assert not watch.died.is_set() and watch.error


def test_closing_without_a_death_leaves_died_unset() -> None:
    api = Api()
    watch = DeathWatch(Client(api), "c1").start()
    watch.close()
    assert not watch.died.is_set() and api.stream.closed.is_set()
