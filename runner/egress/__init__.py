"""The egress proxy: the sandbox's only way to another host, decided connection by connection.

- :class:`~runner.egress.proxy.EgressProxy`: HTTP CONNECT and plain-HTTP forwarding on a unix
  socket in the run's socket directory (host side), one phase ("setup" | "agent") each;
- :mod:`runner.egress.relay`: the in-container relay's command, :func:`proxy_env` for tools,
  :class:`RelayProcess` that starts it;
- :mod:`runner.egress.hosts`: allowlist entries, connection targets and the SSRF rule;

The names are imported on first use (runner.config imports runner.egress.hosts, so this
package's ``__init__`` imports nothing itself).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EgressProxy": "runner.egress.proxy",
    "EgressLimits": "runner.egress.proxy",
    "EgressStats": "runner.egress.proxy",
    "ConnectionRecord": "runner.egress.proxy",
    "RelayProcess": "runner.egress.relay",
    "proxy_env": "runner.egress.relay",
    "relay_command": "runner.egress.relay",
    "EGRESS_SOCKET_NAME": "runner.egress.relay",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """``from runner.egress import EgressProxy``, imported on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runner.egress' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
