"""What answers ``/v1/messages``: the model provider protocol and its failures.

A provider makes ONE attempt per call (``create``: a JSON answer; ``stream``: the
Messages API stream events, failing before its first event exactly like ``create``;
``count_tokens``: an estimate, never charged). Retrying is not its business: the
:class:`~runner.gateway.retry.Retrier` wraps every provider, so the real API
and the scripted provider's injected faults go through the same retry and
backoff code. Providers signal failures with the two exceptions below.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from runner.errors import ModelAPIError

# 529 is Anthropic's "overloaded"; 408/409 are retried by the official SDK as well.
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


class ModelProvider(Protocol):
    async def create(self, request: dict[str, Any], *, betas: Sequence[str] = ()) -> dict[str, Any]:
        """Answer one Messages API request with a Messages API response (one attempt).
        ``betas``: the agent's ``anthropic-beta`` tokens, already checked by the gateway."""
        ...

    def stream(self, request: dict[str, Any], *,
               betas: Sequence[str] = ()) -> AsyncIterator[dict[str, Any]]:
        """The stream events answering one request (one attempt). A failure before the first
        event raises from the first ``anext``; an upstream ``error`` event raises ProviderError."""
        ...

    async def count_tokens(self, request: dict[str, Any], *,
                           betas: Sequence[str] = ()) -> dict[str, Any]:
        """``{"input_tokens": N}`` for a count_tokens request (one attempt)."""
        ...

    async def aclose(self) -> None:
        """Release connections (called once when the gateway stops)."""
        ...


class ProviderError(Exception):
    """One failed attempt."""

    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        """Subclasses say which failures are worth another attempt; by default none is."""
        return False


class ProviderHTTPError(ProviderError):
    """The API answered with an error status."""

    def __init__(
        self, status: int, message: str, *, error_type: str = "api_error",
        retry_after: float | None = None, should_retry: bool | None = None,
    ) -> None:
        self.status = status
        self.error_type = error_type
        self.retry_after = retry_after
        self.should_retry = should_retry
        super().__init__(f"HTTP {status} {error_type}: {message}")

    @property
    def retryable(self) -> bool:
        if self.should_retry is not None:  # the API's own x-should-retry header wins
            return self.should_retry
        return self.status in RETRYABLE_STATUSES


class ProviderConnectionError(ProviderError):
    """No usable answer: timeout, dropped connection, refused connection."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind  # "timeout" | "disconnect" | "connect"
        super().__init__(f"{kind}: {message}")

    @property
    def retryable(self) -> bool:
        return True


class ProviderFailed(ModelAPIError):
    """Every attempt failed (or one failed that must not be retried): the run fails."""

    def __init__(self, attempts: list[str], *, status: int | None = None) -> None:
        self.attempts = attempts
        n = len(attempts)
        super().__init__(
            f"model API error after {n} attempt{'s' if n != 1 else ''}: {attempts[-1]}",
            status=status,
        )
