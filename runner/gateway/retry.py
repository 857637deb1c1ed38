"""Retries with exponential backoff, honouring ``retry-after``: one loop for every provider.

The loop is tenacity's (:class:`tenacity.AsyncRetrying`): it stops after ``retries + 1``
attempts, retries only a :class:`ProviderError` that says it is retryable, and waits
:meth:`RetryPolicy.delay` (the server's ``retry-after``, capped, else exponential backoff
with equal jitter) through an injectable sleep. A stream is retried only until its first
event: once that is handed over, the agent may already have part of the answer.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from runner.config import GatewayConfig
from runner.gateway.provider import (
    ModelProvider,
    ProviderConnectionError,
    ProviderError,
    ProviderFailed,
    ProviderHTTPError,
)

T = TypeVar("T")


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


@dataclass
class StreamStart:
    """A stream whose first event arrived: nothing of it has been sent downstream yet."""

    first: dict[str, Any]
    rest: AsyncIterator[dict[str, Any]]
    retries: int = 0
    failures: list[str] = field(default_factory=list)


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

    async def _retrying(self, attempt: Callable[[], Awaitable[T]], failures: list[str]) -> T:
        async def recorded() -> T:
            try:
                return await attempt()
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
            return await retrying(recorded)
        except ProviderError as exc:
            status = exc.status if isinstance(exc, ProviderHTTPError) else None
            raise ProviderFailed(failures, status=status) from exc

    async def create(self, request: dict[str, Any], *,
                     betas: Sequence[str] = ()) -> ProviderResult:
        failures: list[str] = []

        async def attempt() -> dict[str, Any]:
            return await self.provider.create(request, betas=betas)

        response = await self._retrying(attempt, failures)
        return ProviderResult(response=response, retries=len(failures), failures=failures)

    async def open_stream(self, request: dict[str, Any], *,
                          betas: Sequence[str] = ()) -> StreamStart:
        """Attempts until a stream yields its first event. Once that event is handed over,
        nothing is retried: the agent may already have part of the answer."""
        failures: list[str] = []

        async def attempt() -> tuple[dict[str, Any], AsyncIterator[dict[str, Any]]]:
            events = self.provider.stream(request, betas=betas)
            try:
                first = await anext(events)
            except StopAsyncIteration:
                await _close(events)
                raise ProviderConnectionError("disconnect", "an empty stream") from None
            except BaseException:
                await _close(events)
                raise
            return first, events

        first, rest = await self._retrying(attempt, failures)
        return StreamStart(first, rest, retries=len(failures), failures=failures)


async def _close(events: AsyncIterator[dict[str, Any]]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()
