"""Forward Messages API requests to Anthropic (or ``ANTHROPIC_BASE_URL``) with the host's key.

JSON answers, streamed answers (server-sent events parsed by :mod:`runner.gateway.sse`,
passed on event by event) and count_tokens. The agent's ``anthropic-beta`` tokens are sent
as the header only as the gateway hands them over (it checked them; none by default).
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import httpx

from runner.errors import ConfigError
from runner.gateway.provider import ProviderConnectionError, ProviderHTTPError
from runner.gateway.sse import ERROR_STATUS, SSEProtocolError, parse

DEFAULT_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"


class AnthropicProvider:
    """One HTTP attempt per call; the gateway's Retrier does the retrying."""

    def __init__(
        self, *, api_key: str | None = None, auth_token: str | None = None,
        base_url: str = DEFAULT_BASE_URL, timeout: float = 300.0,
    ) -> None:
        if not api_key and not auth_token:
            raise ConfigError("ANTHROPIC_API_KEY is not set (needed for a real model; "
                              "use --model scripted:FILE to run without one)")
        self._headers = {"anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json"}
        if api_key:
            self._headers["x-api-key"] = api_key
        else:
            self._headers["authorization"] = f"Bearer {auth_token}"
        self.url = base_url.rstrip("/") + "/v1/messages"
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 15.0))
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, timeout: float = 300.0) -> AnthropicProvider:
        env = os.environ if environ is None else environ
        return cls(
            api_key=env.get("ANTHROPIC_API_KEY") or None,
            auth_token=env.get("ANTHROPIC_AUTH_TOKEN") or None,
            base_url=env.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL,
            timeout=timeout,
        )

    async def create(self, request: dict[str, Any], *, betas: Sequence[str] = ()) -> dict[str, Any]:
        with self._transport_errors():
            resp = await self._http().post(self.url, json=request, headers=self._headers_for(betas))
        if resp.status_code != 200:
            raise _http_error(resp)
        try:
            body = resp.json()
        except ValueError as exc:
            raise ProviderConnectionError("disconnect", "response body is not JSON") from exc
        if not isinstance(body, dict) or body.get("type") != "message":
            raise ProviderConnectionError("disconnect", "response is not a Messages API message")
        return body

    async def stream(self, request: dict[str, Any], *,
                     betas: Sequence[str] = ()) -> AsyncIterator[dict[str, Any]]:
        body = {**request, "stream": True}
        stopped = False
        with self._transport_errors():
            async with self._http().stream("POST", self.url, json=body,
                                           headers=self._headers_for(betas)) as resp:
                if resp.status_code != 200:
                    await resp.aread()
                    raise _http_error(resp)
                if not resp.headers.get("content-type", "").startswith("text/event-stream"):
                    raise ProviderConnectionError("disconnect", "the answer is not an event stream")
                try:
                    async for event in parse(resp.aiter_lines()):
                        if event["type"] == "error":
                            raise _stream_error(event)
                        stopped = stopped or event["type"] == "message_stop"
                        yield event
                except SSEProtocolError as exc:
                    raise ProviderConnectionError("disconnect", str(exc)) from exc
        if not stopped:
            raise ProviderConnectionError("disconnect", "the stream ended before message_stop")

    async def count_tokens(self, request: dict[str, Any], *,
                           betas: Sequence[str] = ()) -> dict[str, Any]:
        with self._transport_errors():
            resp = await self._http().post(self.url + "/count_tokens", json=request,
                                           headers=self._headers_for(betas))
        if resp.status_code != 200:
            raise _http_error(resp)
        try:
            body = resp.json()
        except ValueError as exc:
            raise ProviderConnectionError("disconnect", "response body is not JSON") from exc
        if not isinstance(body, dict) or not isinstance(body.get("input_tokens"), int):
            raise ProviderConnectionError("disconnect", "not a count_tokens answer")
        return {"input_tokens": body["input_tokens"]}

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, trust_env=True)
        return self._client

    def _headers_for(self, betas: Sequence[str]) -> dict[str, str]:
        if not betas:
            return self._headers
        return {**self._headers, "anthropic-beta": ",".join(betas)}

    @contextmanager
    def _transport_errors(self) -> Iterator[None]:
        try:
            yield
        except httpx.TimeoutException as exc:
            raise ProviderConnectionError(
                "timeout", f"{type(exc).__name__} after {self._timeout.read}s") from exc
        except httpx.TransportError as exc:
            kind = "connect" if isinstance(exc, httpx.ConnectError) else "disconnect"
            raise ProviderConnectionError(kind, f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _http_error(resp: httpx.Response) -> ProviderHTTPError:
    error_type, message = "api_error", resp.text[:300]
    try:
        err = resp.json().get("error", {})
        error_type = str(err.get("type", error_type))
        message = str(err.get("message", message))
    except (ValueError, AttributeError):
        pass
    should = resp.headers.get("x-should-retry")
    return ProviderHTTPError(
        resp.status_code, message, error_type=error_type,
        retry_after=parse_retry_after(resp.headers),
        should_retry=None if should is None else should.lower() == "true",
    )


def _stream_error(event: dict[str, Any]) -> ProviderHTTPError:
    """An ``error`` event in the stream: the failure the same status would be on the JSON path."""
    err = event.get("error")
    err = err if isinstance(err, dict) else {}
    error_type = str(err.get("type") or "api_error")
    return ProviderHTTPError(ERROR_STATUS.get(error_type, 500), str(err.get("message", ""))[:300],
                             error_type=error_type)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """``retry-after-ms``, ``retry-after`` as seconds, or ``retry-after`` as an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
