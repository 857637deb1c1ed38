"""Retries with exponential backoff, honouring ``retry-after``: one loop for every provider."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.config import GatewayConfig
from runner.gateway.provider import (
    ModelProvider,
    ProviderConnectionError,
    ProviderError,
    ProviderFailed,
    ProviderHTTPError,
)


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


@dataclass
class StreamStart:
    """A stream whose first event arrived: nothing of it has been sent downstream yet."""

    first: dict[str, Any]
    rest: AsyncIterator[dict[str, Any]]
    retries: int = 0
    failures: list[str] = field(default_factory=list)


class Retrier:
    """Calls a provider until it answers, a failure is not retryable, or retries run out."""

    def __init__(
        self, provider: ModelProvider, policy: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.provider = provider
        self.policy = policy
        self._sleep = sleep

    async def create(self, request: dict[str, Any], *, betas: Sequence[str] = ()) -> ProviderResult:
        failures: list[str] = []
        for attempt in range(self.policy.retries + 1):
            try:
                response = await self.provider.create(request, betas=betas)
            except ProviderError as exc:
                await self._failed(exc, attempt, failures)
                continue
            return ProviderResult(response=response, retries=attempt, failures=failures)
        raise AssertionError("unreachable")  # pragma: no cover

    async def open_stream(self, request: dict[str, Any], *,
                          betas: Sequence[str] = ()) -> StreamStart:
        """Attempts until a stream yields its first event. Once that event is handed over,
        nothing is retried: the agent may already have part of the answer."""
        failures: list[str] = []
        for attempt in range(self.policy.retries + 1):
            events = self.provider.stream(request, betas=betas)
            try:
                first = await anext(events)
            except StopAsyncIteration:
                exc: ProviderError = ProviderConnectionError("disconnect", "an empty stream")
            except ProviderError as failed:
                exc = failed
            else:
                return StreamStart(first, events, retries=attempt, failures=failures)
            await _close(events)
            await self._failed(exc, attempt, failures)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _failed(self, exc: ProviderError, attempt: int, failures: list[str]) -> None:
        """Record a failed attempt; raise ProviderFailed when it is the last, else back off."""
        failures.append(str(exc))
        if not exc.retryable or attempt == self.policy.retries:
            status = exc.status if isinstance(exc, ProviderHTTPError) else None
            raise ProviderFailed(failures, status=status) from exc
        await self._sleep(self.policy.delay(attempt, exc.retry_after))


async def _close(events: AsyncIterator[dict[str, Any]]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()
