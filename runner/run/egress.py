"""The agent phase's egress: the proxy on the host and the relay in the container.

Only when the agent phase's allowlist is not empty (``allowed_hosts`` / ``allowed_presets``
of the policy data, ``run --allow-host`` / ``--allow-preset``); otherwise there is no proxy,
no relay and no proxy variable, and the sandbox has no network at all, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner.agent.relay import EGRESS_SOCKET_NAME
from runner.config import EgressConfig
from runner.egress.proxy import (
    EGRESS_LOG,
    ConnectionRecord,
    DecideConnect,
    EgressLimits,
    EgressProxy,
)
from runner.egress.relay import RelayProcess
from runner.reports.summary import EgressInfo
from runner.run.display import RunDisplay
from runner.sandbox.environment import SandboxEnvironment


class AgentEgress:
    """``start_proxy()`` before the container, ``start_relay()`` once it runs, ``stop()``."""

    def __init__(self, *, hosts: list[str], cfg: EgressConfig, sock_dir: Path, token: str,
                 owner: tuple[int, int], run_dir: Path, decide_connect: DecideConnect,
                 display: RunDisplay, redact: Callable[[str], str]) -> None:
        self.hosts = hosts
        self.port = cfg.relay_port
        self._token = token
        self._display = display
        self.proxy = EgressProxy(
            socket_path=sock_dir / EGRESS_SOCKET_NAME, phase="agent",
            decide_connect=decide_connect, allowlist=hosts, allow_private=cfg.allow_private,
            token=token, limits=EgressLimits.from_config(cfg), socket_owner=owner,
            log_path=run_dir / EGRESS_LOG, on_record=self._record, redact=redact)
        self.relay: RelayProcess | None = None

    def record(self) -> dict[str, Any]:
        """What run.json says about it."""
        return {"phase": "agent", "allowlist": self.hosts, "relay": f"127.0.0.1:{self.port}",
                "log": EGRESS_LOG}

    def start_proxy(self) -> None:
        self.proxy.start()

    def start_relay(self, sandbox: SandboxEnvironment, timeout: float) -> None:
        self.relay = RelayProcess(sandbox, self._token, port=self.port, timeout=timeout,
                                  on_line=self._relay_line)
        self.relay.start()

    def stop(self) -> None:
        self.proxy.stop()

    def info(self) -> EgressInfo:
        s = self.proxy.stats
        return EgressInfo(allowlist=self.hosts, connections=s.connections, allowed=s.allowed,
                          denied=s.denied, refused=s.refused,
                          addresses_refused=s.addresses_refused, failed=s.failed,
                          bytes_up=s.bytes_up, bytes_down=s.bytes_down)

    def _record(self, record: ConnectionRecord) -> None:
        if record.status is not None and record.outcome in ("refused", "failed") \
                and record.status != 407:
            self._display.egress_refused(record.host or "?", record.port or "?", record.status,
                                         record.reason or "")

    def _relay_line(self, stream: str, line: str) -> None:
        if stream == "stderr":
            self._display.agent_stderr(f"relay: {line}")
