"""The host gateway the sandboxed agent talks to over a unix socket.

``Gateway`` serves ``/v1/messages`` (model, via a provider and the retry loop),
``/v1/decide`` (policy, fail closed) and ``/v1/events`` (progress).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from runner.gateway.anthropic_proxy import AnthropicProvider
from runner.gateway.budget import Budget
from runner.gateway.provider import (
    ModelProvider,
    ProviderConnectionError,
    ProviderError,
    ProviderFailed,
    ProviderHTTPError,
)
from runner.gateway.redact import Redaction, Redactor
from runner.gateway.retry import Retrier, RetryPolicy
from runner.gateway.scripted import Scenario, ScriptedProvider, load_scenario
from runner.gateway.server import Gateway, GatewayStats

SCRIPTED_PREFIX = "scripted:"

__all__ = [
    "SCRIPTED_PREFIX", "AnthropicProvider", "Budget", "Gateway", "GatewayStats", "ModelProvider",
    "ProviderConnectionError", "ProviderError", "ProviderFailed", "ProviderHTTPError", "Redaction",
    "Redactor", "Retrier", "RetryPolicy", "Scenario", "ScriptedProvider", "load_scenario",
    "provider_for",
]


def provider_for(model: str, *, environ: Mapping[str, str] | None = None, timeout: float = 300.0,
                 base: Path | None = None) -> ModelProvider:
    """``scripted:FILE`` -> ScriptedProvider (FILE relative to ``base``); else the Anthropic API."""
    if model.startswith(SCRIPTED_PREFIX):
        path = Path(model[len(SCRIPTED_PREFIX):]).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        return ScriptedProvider(path)
    return AnthropicProvider.from_env(environ, timeout=timeout)
