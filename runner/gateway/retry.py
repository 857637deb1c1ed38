"""Retries with exponential backoff, honouring ``retry-after``: one loop for every provider.

The loop is tenacity's (:class:`tenacity.AsyncRetrying`): it stops after
``retries + 1`` attempts, retries only a :class:`ProviderError` that says it is
retryable, and waits :meth:`RetryPolicy.delay` (the server's ``retry-after``,
capped, else exponential backoff with equal jitter) through an injectable sleep.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

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

    def wait(self, state: RetryCallState) -> float:
        """The delay after ``state``'s failed attempt (tenacity's ``wait`` callable)."""
        exc = state.outcome.exception() if state.outcome is not None else None
        retry_after = exc.retry_after if isinstance(exc, ProviderError) else None
        return self.delay(state.attempt_number - 1, retry_after)


@dataclass
class ProviderResult:
    response: dict[str, Any]
    retries: int = 0
    failures: list[str] = field(default_factory=list)  # one line per failed attempt


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.retryable


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

        async def attempt() -> dict[str, Any]:
            try:
                return await self.provider.create(request)
            except ProviderError as exc:
                failures.append(str(exc))
                raise

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.policy.retries + 1),
            retry=retry_if_exception(_retryable),
            wait=self.policy.wait,
            sleep=self._sleep,
            reraise=True,  # the last ProviderError itself, not tenacity's RetryError
        )
        try:
            response: dict[str, Any] = await retrying(attempt)
        except ProviderError as exc:
            status = exc.status if isinstance(exc, ProviderHTTPError) else None
            raise ProviderFailed(failures, status=status) from exc
        return ProviderResult(response=response, retries=len(failures), failures=failures)
