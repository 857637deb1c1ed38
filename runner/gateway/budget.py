"""The per-run model budget: requests and tokens."""

from __future__ import annotations

import threading
from typing import Any

from runner.config import GatewayConfig
from runner.errors import BudgetExceeded


class Budget:
    """Counts requests and tokens; :meth:`check` raises once a limit is reached."""

    def __init__(self, *, max_requests: int, max_tokens: int) -> None:
        self.max_requests = max_requests
        self.max_tokens = max_tokens
        self.requests = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, cfg: GatewayConfig) -> Budget:
        return cls(max_requests=cfg.max_requests, max_tokens=cfg.max_tokens)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def check(self) -> None:
        """Before a request: is there room for one more?"""
        with self._lock:
            if self.requests >= self.max_requests:
                raise BudgetExceeded("requests", self.max_requests)
            if self.tokens >= self.max_tokens:
                raise BudgetExceeded("tokens", self.max_tokens)

    def charge(self, response: dict[str, Any]) -> tuple[int, int]:
        """After a response: count the request and its usage. Returns (input, output) tokens."""
        usage = response.get("usage") or {}
        inp = _int(usage.get("input_tokens")) + _int(usage.get("cache_creation_input_tokens")) \
            + _int(usage.get("cache_read_input_tokens"))
        out = _int(usage.get("output_tokens"))
        with self._lock:
            self.requests += 1
            self.input_tokens += inp
            self.output_tokens += out
        return inp, out


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0
