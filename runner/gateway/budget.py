"""The per-run model budget: requests and tokens, reserved before a request is forwarded.

A request is counted when it is *reserved* (under the lock, before anything is sent), not
when its answer comes back: concurrent requests cannot all pass a check that nothing has
been charged against yet. A request that got no answer gives its reservation back.
"""

from __future__ import annotations

import threading
from typing import Any

from runner.config import GatewayConfig
from runner.errors import BudgetExceeded


class Budget:
    """Counts requests and tokens; :meth:`reserve` raises once a limit is reached."""

    def __init__(self, *, max_requests: int, max_tokens: int) -> None:
        self.max_requests = max_requests
        self.max_tokens = max_tokens
        self.requests = 0  # reserved: answered plus in flight
        self.input_tokens = 0
        self.output_tokens = 0
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, cfg: GatewayConfig) -> Budget:
        return cls(max_requests=cfg.max_requests, max_tokens=cfg.max_tokens)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def reserve(self) -> None:
        """Before a request: take one request of the budget, or raise when none is left."""
        with self._lock:
            if self.requests >= self.max_requests:
                raise BudgetExceeded("requests", self.max_requests)
            if self.tokens >= self.max_tokens:
                raise BudgetExceeded("tokens", self.max_tokens)
            self.requests += 1

    def release(self) -> None:
        """A reserved request got no answer: give the reservation back."""
        with self._lock:
            self.requests = max(0, self.requests - 1)

    def charge(self, response: dict[str, Any]) -> tuple[int, int]:
        """After an answer to a reserved request: count its usage. Returns (input, output) tokens."""
        usage = response.get("usage") or {}
        if not isinstance(usage, dict):
            usage = {}
        inp = _int(usage.get("input_tokens")) + _int(usage.get("cache_creation_input_tokens")) \
            + _int(usage.get("cache_read_input_tokens"))
        out = _int(usage.get("output_tokens"))
        with self._lock:
            self.input_tokens += inp
            self.output_tokens += out
        return inp, out


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
