"""Deciding the tool calls of a model's answer ahead, between the agent's requests.

When a model answer names tool calls, once the agent has it (a non-streamed answer sent, a
streamed one's ``message_stop`` sent: preparing runs in the gateway's interpreter, and must
not hold up the answer), they are prepared (``prepare``: ``DecisionService.prepare``:
derived and evaluated, nothing logged or answered) on the single thread that answers
``/v1/decide``. So a preparation never runs beside a decision, and the agent's request for a
call being prepared waits for it and is then a repeat (a kept derivation checked against the
workspace, a cached decision), not a second derivation.

One call is prepared per gap the agent leaves: the first when the answer arrives (the agent
is reading it), the next after each decision is answered (the agent is running the tool it
asked about); none starts while a ``/v1/decide`` request waits. With ``all_at_once`` (Claude
Code, which runs an answer's read-only calls concurrently and asks for them together, each
from a hook process of its own), every call of the answer is prepared when it arrives, one
after another, still yielding to a waiting request between two. A call the agent has asked
for (by its ``tool_use_id``) is never prepared any more. A new answer replaces what is left
of the previous one; at most :data:`MAX_QUEUED` calls of one answer are kept. What is
queued comes from the model, so it is bounded and never trusted: a preparation only fills
caches whose every use is checked (``runner.policy.derived``), and its failure is ignored.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import Any

MAX_QUEUED = 64  # tool calls of one answer kept to prepare
ASKED_IDS = 256  # tool_use ids asked for lately, never prepared afterwards

Prepare = Callable[[str, dict[str, Any]], object]  # (tool name, input) -> ignored


def tool_uses(message: Any) -> list[dict[str, Any]]:
    """The ``tool_use`` blocks of a Messages API answer (anything else: none)."""
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]


class DecideAhead:
    """The queue of calls to prepare and when to prepare them (thread-safe).

    ``submit``: runs a function on the decide thread (the gateway's one-worker pool).
    """

    def __init__(self, prepare: Prepare, submit: Callable[[Callable[[], None]], object], *,
                 all_at_once: bool = False) -> None:
        self._prepare = prepare
        self._submit = submit
        self._burst = MAX_QUEUED if all_at_once else 1  # preparations an answer starts
        self._lock = threading.Lock()
        self._queue: deque[tuple[str | None, str, dict[str, Any]]] = deque()
        self._asked: deque[str] = deque(maxlen=ASKED_IDS)  # tool_use ids asked for lately
        self._waiting = 0  # /v1/decide requests not yet answered
        self._credit = 0  # preparations allowed before the next decision is answered
        self._running = False  # a drain is submitted or running
        self.prepared = 0  # preparations run

    def answer(self, message: Any) -> None:
        """A whole answer arrived: prepare its tool calls."""
        self.begin()
        for block in tool_uses(message):
            self.add(block)

    def begin(self) -> None:
        """A new answer starts: forget the calls left of the last one; one (or, all at once,
        every one) may start."""
        with self._lock:
            self._queue.clear()
            self._credit = self._burst

    def add(self, block: dict[str, Any]) -> None:
        """One ``tool_use`` block of the answer, complete (past :data:`MAX_QUEUED` of one
        answer: dropped)."""
        name, tool_input, use_id = block.get("name"), block.get("input"), block.get("id")
        if not isinstance(name, str) or not isinstance(tool_input, dict):
            return  # the agent's request for it is denied as malformed: nothing to prepare
        use_id = use_id if isinstance(use_id, str) else None
        with self._lock:
            if use_id is not None and use_id in self._asked:
                return  # the agent was quicker
            if len(self._queue) >= MAX_QUEUED:
                return  # the agent asks for the first ones first: keep those
            self._queue.append((use_id, name, tool_input))
            self._start()

    def ask(self, tool_use_id: str | None) -> Asking:
        """A ``/v1/decide`` request arrived: its ticket through the decide thread."""
        self.asking(tool_use_id)
        return Asking(self)

    def asking(self, tool_use_id: str | None = None) -> None:
        """A ``/v1/decide`` request arrived (it goes before anything not started); the call
        it asks about is not to be prepared any more."""
        with self._lock:
            self._waiting += 1
            if tool_use_id is not None:
                self._asked.append(tool_use_id)
                if any(use_id == tool_use_id for use_id, _, _ in self._queue):
                    kept = [q for q in self._queue if q[0] != tool_use_id]
                    self._queue.clear()
                    self._queue.extend(kept)

    def asked(self) -> None:
        """That request was answered: the agent runs its tool; the next call may start."""
        with self._lock:
            self._waiting -= 1
            self._credit = max(self._credit, 1)
            self._start()

    def _start(self) -> None:  # under the lock
        if self._running or self._waiting or not self._queue or self._credit <= 0:
            return
        self._running = True
        try:
            self._submit(self._drain)
        except Exception:  # the pool is shut down: the run is ending
            self._running = False

    def _drain(self) -> None:
        while True:
            with self._lock:
                if self._waiting or not self._queue or self._credit <= 0:
                    self._running = False
                    return
                self._credit -= 1
                _, name, tool_input = self._queue.popleft()
            with suppress(Exception):  # a preparation is never more than a hint
                self._prepare(name, tool_input)
            with self._lock:
                self.prepared += 1


class Asking:
    """One ``/v1/decide`` request on its way through the decide thread: :meth:`start` there
    before deciding, :meth:`done` after; :meth:`abandon` from the request's handler when it
    ends (a no-op unless the decision never started: a cancelled request still lets the
    next call be prepared, and is never decided late)."""

    def __init__(self, ahead: DecideAhead) -> None:
        self._ahead = ahead
        self._lock = threading.Lock()
        self._state = "pending"

    def start(self) -> bool:
        with self._lock:
            if self._state != "pending":
                return False
            self._state = "running"
            return True

    def done(self) -> None:
        self._ahead.asked()

    def abandon(self) -> None:
        with self._lock:
            if self._state != "pending":
                return
            self._state = "abandoned"
        self._ahead.asked()
