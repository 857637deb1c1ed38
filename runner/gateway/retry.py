"""Retries with exponential backoff, honouring ``retry-after``: one loop for every provider."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from runner.config import GatewayConfig
from runner.gateway.provider import ModelProvider, ProviderError, ProviderFailed, ProviderHTTPError


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4  # attempts = retries + 1
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    retry_after_max: float = 120.0  # a server asking for longer than this is not waited for longer

    @classmethod
    def from_config(cls, cfg: GatewayConfig) -> RetryPolicy:
        return cls(retries=cfg.retries, backoff_base=cfg.backoff_base, backoff_max=cfg.backoff_max)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.retry_after_max)
        full = min(self.backoff_max, self.backoff_base * (2.0**attempt))
        return full * (0.5 + random.random() / 2)  # "equal jitter"


@dataclass
class ProviderResult:
    response: dict[str, Any]
    retries: int = 0
    failures: list[str] = field(default_factory=list)  # one line per failed attempt


class Retrier:
    """Calls a provider until it answers, a failure is not retryable, or retries run out."""

    def __init__(
        self, provider: ModelProvider, policy: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.provider = provider
        self.policy = policy
        self._sleep = sleep

    async def create(self, request: dict[str, Any]) -> ProviderResult:
        failures: list[str] = []
        for attempt in range(self.policy.retries + 1):
            try:
                response = await self.provider.create(request)
            except ProviderError as exc:
                failures.append(str(exc))
                if not exc.retryable or attempt == self.policy.retries:
                    status = exc.status if isinstance(exc, ProviderHTTPError) else None
                    raise ProviderFailed(failures, status=status) from exc
                await self._sleep(self.policy.delay(attempt, exc.retry_after))
                continue
            return ProviderResult(response=response, retries=attempt, failures=failures)
        raise AssertionError("unreachable")  # pragma: no cover
