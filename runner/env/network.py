"""The setup phase's way out: the egress proxy (phase ``setup``) and its relay.

The build container has no network. Like the agent phase, its one way to another host is
the runner-owned relay (``127.0.0.1:PORT`` in the container, started with ``docker exec``,
the token on its stdin) forwarding to the proxy's unix socket in a socket directory only
the build user (10001) can reach. Every connection is decided by the same Rego network
policy with ``phase: setup``, against the setup allowlist: the policy data's
``setup_allowed_hosts`` and ``setup_presets`` (default: the ``python`` preset, the package
index hosts) plus ``[environment] allow_hosts`` / ``presets``; each decision is a line of
the decision log given (the run's, or the build's own for ``env build``). A host outside
the list gets 403 at the proxy; the setup step that needed it fails with that in its last
lines.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from docker.types import Mount

from runner.agent.relay import EGRESS_SOCKET_NAME
from runner.config import EgressConfig
from runner.egress.allowlist import with_setup_hosts as with_setup_hosts
from runner.egress.proxy import (
    EGRESS_LOG,
    ConnectionRecord,
    DecideConnect,
    EgressLimits,
    EgressProxy,
)
from runner.egress.relay import RelayProcess, proxy_env
from runner.gateway.auth import new_token
from runner.gateway.server import prepare_socket_dir
from runner.protocol import SOCKET_DIR_IN_CONTAINER
from runner.sandbox.environment import DockerSandbox

BUILD_UID = BUILD_GID = 10001
SETUP_LOG = "setup-egress.jsonl"


class ProxyNetwork:
    """The egress proxy for one environment build and the relay in its build container.

    ``hosts``: the setup allowlist (for the SSRF exemption of listed IP literals; the policy
    decides); ``decide_connect``: the decision service; ``log_dir``: where the proxy's
    ``setup-egress.jsonl`` goes (None: nowhere)."""

    def __init__(self, *, hosts: Sequence[str], decide_connect: DecideConnect,
                 cfg: EgressConfig | None = None, allow_private: Sequence[str] = (),
                 log_dir: Path | None = None, redact: Callable[[str], str] | None = None,
                 on_refused: Callable[[str], None] | None = None) -> None:
        cfg = cfg or EgressConfig()
        self.hosts = list(hosts)
        self.port = cfg.relay_port
        self._token = new_token()
        self._dir = Path(tempfile.mkdtemp(prefix="sr-setup-"))
        prepare_socket_dir(self._dir, BUILD_UID, BUILD_GID)
        self._on_refused = on_refused
        self.proxy = EgressProxy(
            socket_path=self._dir / EGRESS_SOCKET_NAME, phase="setup",
            decide_connect=decide_connect, allowlist=self.hosts, allow_private=allow_private,
            token=self._token, limits=EgressLimits.from_config(cfg),
            socket_owner=(BUILD_UID, BUILD_GID),
            log_path=log_dir / SETUP_LOG if log_dir is not None else None,
            on_record=self._record, redact=redact)
        self.relay: RelayProcess | None = None
        self._started = False
        self._closed = False

    def mounts(self) -> list[Mount]:
        return [Mount(target=SOCKET_DIR_IN_CONTAINER, source=str(self._dir), type="bind",
                      read_only=True, propagation="rprivate")]

    def start(self, sandbox: DockerSandbox) -> dict[str, str]:
        self.proxy.start()
        self._started = True
        self.relay = RelayProcess(sandbox, self._token, port=self.port)
        self.relay.start()
        return proxy_env(self.port)

    def close(self) -> None:
        """Stop the proxy (the relay's connections end with it). The socket directory stays:
        Docker needs every bind source to read a stopped container's files (the secret
        scan); :meth:`dispose` removes it once the container is gone."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            with contextlib.suppress(Exception):
                self.proxy.stop()

    def dispose(self) -> None:
        self.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    @property
    def stats(self) -> dict[str, int]:
        s = self.proxy.stats
        return {"connections": s.connections, "allowed": s.allowed, "denied": s.denied,
                "refused": s.refused, "bytes_down": s.bytes_down, "bytes_up": s.bytes_up}

    def _record(self, record: ConnectionRecord) -> None:
        if self._on_refused is not None and record.outcome in ("denied", "refused", "failed") \
                and record.status not in (None, 407):
            self._on_refused(f"egress {record.outcome}: {record.host}:{record.port} "
                             f"({record.status}) {record.reason or ''}".rstrip())


__all__ = ["EGRESS_LOG", "SETUP_LOG", "ProxyNetwork", "with_setup_hosts"]
