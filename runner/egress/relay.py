"""The relay in the container, seen from the host: its command, its environment, its process.

The relay (:mod:`runner.agent.relay`) is runner-owned: started with ``docker exec`` as the
sandbox user, with the run's token as the first line of its stdin (never in an environment
variable, a file or an argument), and it says on stdout when it listens. Tools find it
through :func:`proxy_env`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from runner.agent.relay import DEFAULT_PORT, DEFAULT_SOCKET, EGRESS_SOCKET_NAME, READY
from runner.errors import EnvironmentProblem
from runner.sandbox.environment import ExecResult, SandboxEnvironment
from runner.sandbox.spec import RUNTIME_PYTHON

RELAY_MODULE = "runner.agent.relay"
NO_PROXY = "localhost,127.0.0.1,::1"

__all__ = ["DEFAULT_PORT", "EGRESS_SOCKET_NAME", "NO_PROXY", "RelayProcess", "proxy_env",
           "relay_command"]


def relay_command(port: int = DEFAULT_PORT, socket_path: str = DEFAULT_SOCKET) -> list[str]:
    """The relay's argv in the container: the runtime prefix's interpreter (the tools' python3
    is the project environment's, which has no runner module); ``-P``: nothing from the
    working directory."""
    return [RUNTIME_PYTHON, "-P", "-m", RELAY_MODULE, "--port", str(port), "--socket", socket_path]


def proxy_env(port: int = DEFAULT_PORT) -> dict[str, str]:
    """The variables that send a tool's HTTP(S) through the relay (both spellings: curl reads
    only the lowercase ``http_proxy``, others only the uppercase ones)."""
    url = f"http://127.0.0.1:{port}"
    return {"HTTP_PROXY": url, "HTTPS_PROXY": url, "http_proxy": url, "https_proxy": url,
            "NO_PROXY": NO_PROXY, "no_proxy": NO_PROXY}


class RelayProcess:
    """The relay's ``docker exec``, run from a thread until the container ends (or
    ``timeout``). ``start()`` returns once the relay listens, or raises EnvironmentProblem
    with its last words."""

    def __init__(self, sandbox: SandboxEnvironment, token: str, *, port: int = DEFAULT_PORT,
                 socket_path: str = DEFAULT_SOCKET, timeout: float | None = None,
                 on_line: Callable[[str, str], None] | None = None,
                 command: list[str] | None = None, ready: str = READY,
                 name: str = "egress-relay", user: str | None = None) -> None:
        self._sandbox = sandbox
        self._token = token
        self.port = port
        self._socket_path = socket_path
        self._timeout = timeout
        self._on_line = on_line
        self._command = command or relay_command(port, socket_path)
        self._user = user  # None: the container's user
        self._ready_line = ready
        self.name = name
        self._ready = threading.Event()
        self._ended = threading.Event()
        self._lines: list[str] = []
        self.result: ExecResult | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _line(self, stream: str, line: str) -> None:
        if stream == "stdout" and line.startswith(self._ready_line):
            self._ready.set()
        if len(self._lines) < 20:
            self._lines.append(line[:300])
        if self._on_line is not None:
            self._on_line(stream, line)

    def _run(self) -> None:
        try:
            self.result = self._sandbox.exec_stream(
                self._command, self._line, timeout=self._timeout, user=self._user,
                input=f"{self._token}\n".encode("ascii"), output_limit=64 * 1024)
        except BaseException as exc:  # reported by start() or alive()
            self.error = exc
        finally:
            self._ended.set()
            self._ready.set()  # wake start()

    def start(self, wait: float = 30.0) -> None:
        self._thread.start()
        self._ready.wait(wait)
        if self._ended.is_set() or not self._ready.is_set():
            detail = "; ".join(self._lines[-3:]) or (
                f"{type(self.error).__name__}: {self.error}" if self.error else "no output")
            state = "exited" if self._ended.is_set() else f"did not listen within {wait:g}s"
            raise EnvironmentProblem(f"the {self.name.replace('-', ' ')} {state}: {detail}")

    @property
    def alive(self) -> bool:
        return self._ready.is_set() and not self._ended.is_set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the exec to end (it ends with the container)."""
        self._thread.join(timeout)
