"""The host gateway the sandboxed agent talks to over a unix socket.

``Gateway`` serves ``/v1/messages`` (model, via a provider and the retry loop),
``/v1/decide`` (policy, fail closed) and ``/v1/events`` (progress).

The names are imported on first use: a scripted run never imports the Anthropic provider
(httpx), and code that needs one module (the redactor, the socket helpers) does not pay for
the server's.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_EXPORTS = {
    "AnthropicProvider": "runner.gateway.anthropic_proxy",
    "Budget": "runner.gateway.budget",
    "Gateway": "runner.gateway.server",
    "GatewayStats": "runner.gateway.server",
    "ModelProvider": "runner.gateway.provider",
    "ProviderConnectionError": "runner.gateway.provider",
    "ProviderError": "runner.gateway.provider",
    "ProviderFailed": "runner.gateway.provider",
    "ProviderHTTPError": "runner.gateway.provider",
    "Redaction": "runner.gateway.redact",
    "Redactor": "runner.gateway.redact",
    "Retrier": "runner.gateway.retry",
    "RetryPolicy": "runner.gateway.retry",
    "Scenario": "runner.gateway.scripted",
    "ScriptedProvider": "runner.gateway.scripted",
    "load_scenario": "runner.gateway.scripted",
}

__all__ = [
    "SCRIPTED_PREFIX", "AnthropicProvider", "Budget", "Gateway", "GatewayStats", "ModelProvider",
    "ProviderConnectionError", "ProviderError", "ProviderFailed", "ProviderHTTPError", "Redaction",
    "Redactor", "Retrier", "RetryPolicy", "Scenario", "ScriptedProvider", "load_scenario",
    "provider_for",
]


def __getattr__(name: str) -> Any:
    """``from runner.gateway import Gateway``, imported on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runner.gateway' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def provider_for(model: str, *, environ: Mapping[str, str] | None = None, timeout: float = 300.0,
                 base: Path | None = None) -> ModelProvider:
    """``scripted:FILE`` -> ScriptedProvider (FILE relative to ``base``); else the Anthropic API."""
    if model.startswith(SCRIPTED_PREFIX):
        from runner.gateway.scripted import ScriptedProvider

        path = Path(model[len(SCRIPTED_PREFIX):]).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        return ScriptedProvider(path)
    from runner.gateway.anthropic_proxy import AnthropicProvider

    return AnthropicProvider.from_env(environ, timeout=timeout)
