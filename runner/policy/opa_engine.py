"""The OPA server engine, through opa-python-client.

Policies and data are uploaded to the server at ``url`` (``--opa-url``), or to
an ``opa run --server`` this engine starts on a free loopback port when ``opa``
is on PATH (and stops on ``close``). Loading waits for ``/health``. Every
decision is one ``POST /v1/data/sandbox/decision`` with a timeout; a timeout, a
connection error, an HTTP error, an undefined or malformed result is a deny
("policy evaluation failed: ..."), never an allow.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from opa_client import OpaClient
from opa_client.errors import RegoParseError

from runner.errors import InputError, OPAUnavailable, PolicyCompileError
from runner.policy.bundle import PolicyBundle, PolicyFile
from runner.policy.engine import (
    DERIVED_KEY,
    DERIVED_RULE,
    EngineInputError,
    decision_from_value,
    input_payload,
)
from runner.policy.models import AnyInput, Decision

DECISION_PACKAGE = "sandbox"
DECISION_RULE = "decision"
POLICY_ID_PREFIX = "sandbox-runner"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _client_for(url: str, timeout: float) -> OpaClient:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"OPA URL must be http(s)://host:port, got {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 8181)
    return OpaClient(
        host=parts.hostname, port=port, ssl=parts.scheme == "https", timeout=timeout, retries=0
    )


def _compile_error(exc: RegoParseError, files: dict[str, PolicyFile]) -> PolicyCompileError:
    for err in exc.errors:
        loc = err.get("location") or {}
        file = str(loc.get("file", ""))
        name = file.removeprefix(POLICY_ID_PREFIX + "/")
        path = files[name].path if name in files else file or None
        return PolicyCompileError(
            str(err.get("message", exc.message)),
            path=path,
            line=loc.get("row"),
            column=loc.get("col"),
        )
    return PolicyCompileError(f"OPA rejected the policies: {exc.message}")


class OPAEngine:
    """A :class:`~runner.policy.engine.PolicyEngine` backed by an OPA server."""

    def __init__(
        self,
        bundle: PolicyBundle,
        *,
        url: str | None = None,
        timeout: float = 2.0,
        startup_timeout: float | None = None,
    ) -> None:
        self.bundle_hash = bundle.hash
        self.timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._client: OpaClient | None = None
        try:
            self.url = url if url is not None else self._start_server()
            self._client = _client_for(self.url, timeout)
            if startup_timeout is None:  # a server we started may take a while; a given one is up
                startup_timeout = 15.0 if self._proc is not None else max(2.0, timeout)
            self._wait_healthy(startup_timeout)
            self._upload(bundle)
        except BaseException:
            self.close()
            raise

    # --- setup ----------------------------------------------------------------------------

    def _start_server(self) -> str:
        binary = shutil.which("opa")
        if binary is None:
            raise OPAUnavailable("no OPA server: give --opa-url URL or put the opa binary on PATH")
        port = free_port()
        self._proc = subprocess.Popen(
            [binary, "run", "--server", "--addr", f"127.0.0.1:{port}", "--log-level", "error"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return f"http://127.0.0.1:{port}"

    @property
    def client(self) -> OpaClient:
        if self._client is None:
            raise OPAUnavailable("OPA engine is closed")
        return self._client

    def _wait_healthy(self, startup_timeout: float) -> None:
        deadline = time.monotonic() + startup_timeout
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise OPAUnavailable(
                    f"opa run --server exited: {err.strip() or self._proc.returncode}"
                )
            if self.client.check_health():
                return
            if time.monotonic() > deadline:
                raise OPAUnavailable(
                    f"OPA server at {self.url} not healthy after {startup_timeout:g}s"
                )
            time.sleep(0.05)

    def _upload(self, bundle: PolicyBundle) -> None:
        files = {f.name: f for f in bundle.files}
        try:
            for f in bundle.files:
                self.client.update_policy_from_string(
                    f.content, f"{POLICY_ID_PREFIX}/{f.name}", rego_compat=False
                )
            for key, value in bundle.data.items():
                if not isinstance(value, dict):
                    raise InputError(f"OPA engine: top-level data key {key!r} must be an object")
                self.client.update_or_create_data(value, key)
            derived = self._query(DERIVED_RULE, {})
            if isinstance(derived, dict):
                self.client.update_or_create_data(derived, DERIVED_KEY)
        except RegoParseError as exc:
            raise _compile_error(exc, files) from None
        except requests.RequestException as exc:
            raise OPAUnavailable(f"OPA server at {self.url}: {exc}") from None

    def _query(self, rule: str, input_data: dict[str, Any]) -> Any:
        """The result of ``data.a.b.rule`` (None when undefined)."""
        package, _, name = rule.removeprefix("data.").rpartition(".")
        response = self.client.query_rule(input_data, package, name)
        if not isinstance(response, dict):
            raise ValueError("response is not a JSON object")
        return response.get("result")

    # --- decisions -------------------------------------------------------------------------

    def evaluate(self, input: AnyInput | dict[str, Any]) -> Decision:
        try:
            payload = input_payload(input)
        except EngineInputError as exc:
            return Decision.failed(str(exc))
        try:
            result = self._query(f"data.{DECISION_PACKAGE}.{DECISION_RULE}", payload)
        except requests.Timeout:
            return Decision.failed(f"OPA did not answer within {self.timeout:g}s")
        except ValueError as exc:  # not JSON (requests' JSONDecodeError is also a ValueError)
            return Decision.failed(f"bad answer from OPA: {type(exc).__name__}")
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            return Decision.failed(f"OPA answered HTTP {status}")
        except requests.RequestException as exc:
            return Decision.failed(f"OPA unreachable: {type(exc).__name__}")
        except Exception as exc:  # garbage bodies, anything else: deny
            return Decision.failed(f"bad answer from OPA: {type(exc).__name__}: {exc}")
        return decision_from_value(result)

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close_connection()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stderr is not None:
            self._proc.stderr.close()
