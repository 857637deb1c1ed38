"""The runner's own count of a verification's test outcomes: a pytest plugin.

The verification container loads it with ``-p runner.agent.pytest_outcomes`` (through
``PYTEST_ADDOPTS``), so it is registered while pytest parses its arguments, before any
``conftest.py`` is imported. It runs only when ``SANDBOX_RUNNER_OUTCOMES_DIR`` is set.

The channel: when the plugin is registered it reads one line from stdin, a hex nonce the
host writes into the container's stdin after starting it. The nonce is in no environment
variable (so not in ``/proc/self/environ``) and in no file; once read it is gone from the
pipe, and a test process forked later sees an empty stdin. The plugin counts every test the
way pytest's own JUnit writer does (a testcase per test item, error > failure > skipped >
passed; a failing call plus a failing teardown are two testcases; collection errors and
skips and internal errors are testcases too) and, at the very end (``pytest_unconfigure``,
last), writes one JSON record MAC'd with HMAC-SHA256 under the nonce into the output
directory, under a file name derived from the nonce (nothing can be planted there in
advance). The host checks the MAC and compares the counts with the JUnit report and the
test command's exit code.

This is evidence, not proof: code in the same process (a conftest hook wrapper that rewrites
reports, a plugin that an ini ``addopts`` loads before this one and that reads stdin first)
can still make the three agree on a lie. What it does stop is the cheap forgery: rewriting
``junit.xml`` and forcing exit code 0 after the tests ran.

Standard library only (it is copied into the sandbox image with the agent); it is imported
on the host too, for :func:`record_name` and :func:`record_mac`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import select
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def _trylast(func: F) -> F:
    """pytest's ``hookimpl(trylast=True)``; the host (no pytest needed) only reads the format."""
    try:
        from pluggy import HookimplMarker
    except ImportError:  # pragma: no cover - a host without pytest never registers the plugin
        return func
    return HookimplMarker("pytest")(trylast=True)(func)


OUTCOMES_DIR_ENV = "SANDBOX_RUNNER_OUTCOMES_DIR"
PLUGIN_ARG = "-p runner.agent.pytest_outcomes"
NONCE_BYTES = 32
NONCE_WAIT_S = 60.0  # the host writes the nonce right after the start; this is a backstop
MAX_BAD_NAMES = 20
MAX_NAME = 300
RECORD_VERSION = 1
_NAME_LABEL = b"sandbox-runner-outcomes-name-v1"
_MAC_LABEL = b"sandbox-runner-outcomes-record-v1\0"

PASSED, SKIPPED, FAILURE, ERROR = 0, 1, 2, 3


def record_name(key: bytes) -> str:
    """The record's file name in the output directory (unpredictable without the nonce)."""
    return "outcomes-" + hmac.new(key, _NAME_LABEL, hashlib.sha256).hexdigest()[:32] + ".json"


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def record_mac(key: bytes, payload: dict[str, Any]) -> str:
    return hmac.new(key, _MAC_LABEL + canonical(payload), hashlib.sha256).hexdigest()


def _read_nonce() -> bytes | None:
    """One hex line from stdin (bounded, never blocking past the backstop), or None."""
    try:
        if os.isatty(0):
            return None
        data = b""
        while b"\n" not in data and len(data) <= 2 * NONCE_BYTES:
            ready, _, _ = select.select([0], [], [], NONCE_WAIT_S)
            if not ready:
                return None
            chunk = os.read(0, 2 * NONCE_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
        return bytes.fromhex(data.split(b"\n", 1)[0].decode("ascii"))
    except (OSError, ValueError):
        return None


class _Claim:
    """The nonce, taken once per process by the first pytest configuration that loads us."""

    taken = False
    key: bytes | None = None
    out_dir: str = ""
    owner: Any = None  # the plugin manager of the configuration that took it


def _drop_from_addopts() -> None:
    """Children (a pytest a test starts) must not load the plugin and wait on stdin."""
    os.environ.pop(OUTCOMES_DIR_ENV, None)
    addopts = os.environ.get("PYTEST_ADDOPTS")
    if addopts is not None:
        rest = " ".join(addopts.replace(PLUGIN_ARG, " ").split())
        if rest:
            os.environ["PYTEST_ADDOPTS"] = rest
        else:
            del os.environ["PYTEST_ADDOPTS"]


def pytest_addoption(parser: Any, pluginmanager: Any) -> None:
    """Called as soon as the plugin is registered (before any conftest is imported)."""
    del parser
    if _Claim.taken:
        return
    _Claim.taken = True
    out_dir = os.environ.get(OUTCOMES_DIR_ENV, "")
    if not out_dir:
        return
    _drop_from_addopts()
    key = _read_nonce()
    if key is None or len(key) != NONCE_BYTES:
        return
    _Claim.key, _Claim.out_dir, _Claim.owner = key, out_dir, pluginmanager


def pytest_configure(config: Any) -> None:
    if _Claim.key is None or config.pluginmanager is not _Claim.owner:
        return  # not the configuration that took the nonce (e.g. an in-process nested run)
    key, _Claim.key = _Claim.key, None
    config.pluginmanager.register(_Recorder(key, _Claim.out_dir), "sandbox-runner-outcomes")


class _Recorder:
    def __init__(self, key: bytes, out_dir: str) -> None:
        self._key = key
        self._out_dir = out_dir
        self._open: dict[str, int] = {}
        self._done: list[tuple[str, int]] = []
        self._session: Any = None
        self._written = False

    def pytest_sessionstart(self, session: Any) -> None:
        self._session = session

    def pytest_runtest_logreport(self, report: Any) -> None:
        nodeid = str(report.nodeid)
        rank = PASSED
        if report.failed:
            rank = FAILURE if report.when == "call" else ERROR
            if report.when == "teardown" and self._open.get(nodeid) == FAILURE:
                # pytest's JUnit writer closes the failed call's testcase and opens another
                self._done.append((nodeid, self._open.pop(nodeid)))
        elif report.skipped:
            rank = SKIPPED
        self._open[nodeid] = max(self._open.get(nodeid, PASSED), rank)
        if report.when == "teardown":
            self._done.append((nodeid, self._open.pop(nodeid)))

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self._done.append((str(report.nodeid), ERROR))
        elif report.skipped:
            self._done.append((str(report.nodeid), SKIPPED))

    def pytest_internalerror(self, excrepr: Any) -> None:
        del excrepr
        self._done.append(("internal", ERROR))

    def payload(self) -> dict[str, Any]:
        cases = self._done + list(self._open.items())
        ranks = [rank for _, rank in cases]
        bad = [name[:MAX_NAME] for name, rank in cases if rank >= FAILURE][:MAX_BAD_NAMES]
        status = getattr(self._session, "exitstatus", None)
        return {
            "v": RECORD_VERSION,
            "total": len(cases),
            "passed": ranks.count(PASSED),
            "skipped": ranks.count(SKIPPED),
            "failed": ranks.count(FAILURE),
            "errors": ranks.count(ERROR),
            "exitstatus": int(status) if status is not None else None,
            "bad": bad,
        }

    @_trylast  # after every conftest and plugin had its say about the exit status
    def pytest_unconfigure(self, config: Any) -> None:
        del config
        if self._written:
            return
        self._written = True
        payload = self.payload()
        line = json.dumps({"payload": payload, "mac": record_mac(self._key, payload)}) + "\n"
        path = os.path.join(self._out_dir, record_name(self._key))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, 0o644)
        except OSError:
            return  # the host reports a missing record
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(line)
