"""Fixtures of the security suite, the leftover-container guard and the scorecard hook."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.security.harness import FINISHED_PROJECTS, TEST_LABEL, Listener, bridge_gateway_ip
from tests.security.scorecard import SCORECARD, HostRow

_HERE = Path(__file__).resolve().parent
_STATE: dict[str, Any] = {"collected": set(), "reported": set(), "deselected": 0,
                          "start": time.monotonic()}


def _ours(item: pytest.Item) -> bool:
    return Path(str(item.fspath)).resolve().is_relative_to(_HERE)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    _STATE["collected"] = {i.nodeid for i in items if _ours(i)}


def pytest_deselected(items: list[pytest.Item]) -> None:
    _STATE["deselected"] += sum(1 for i in items if _ours(i))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _STATE["reported"].add(report.nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Tests marked ``host_boundary(finding=..., title=...)`` become rows of the scorecard."""
    report = yield
    marker = item.get_closest_marker("host_boundary")
    if marker is not None and _ours(item) and (report.when == "call" or report.failed):
        SCORECARD.host_test(HostRow(
            finding=str(marker.kwargs.get("finding", "?")), title=str(marker.kwargs.get("title", "")),
            test=item.nodeid.removeprefix("tests/security/"),
            result="held" if report.passed else "FAILED"))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write docs/security.md when every security test ran (no -k/-m deselection, no -x stop)."""
    collected: set[str] = _STATE["collected"]
    if not collected or _STATE["deselected"] or not collected <= _STATE["reported"]:
        return
    files = {nodeid.split("::", 1)[0].rsplit("/", 1)[-1] for nodeid in collected}
    if files != {p.name for p in _HERE.glob("test_*.py")}:
        return  # only some files of the suite ran: a partial scorecard is not published
    SCORECARD.write(time.monotonic() - _STATE["start"])


@pytest.fixture(scope="session")
def sec_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("security")
    base.chmod(0o777)
    return base


@pytest.fixture(scope="session")
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


@pytest.fixture(scope="session")
def net_values(listener: Listener) -> dict[str, str]:
    from tests.security.cases import ALLOWED_HOST

    return {"HOST": bridge_gateway_ip(), "TCP": str(listener.tcp_port),
            "UDP": str(listener.udp_port), "ALLOWED": ALLOWED_HOST}


def _leftovers() -> list[Any]:
    """Containers of runs that have ended, and test containers (runs still going are not)."""
    client = docker.from_env()
    try:
        found = []
        done = tuple(p + "/" for p in FINISHED_PROJECTS)
        for c in client.containers.list(all=True, filters={"label": "sandbox-runner.run"},
                                            ignore_removed=True):
            sources = [m.get("Source", "") + "/" for m in c.attrs.get("Mounts", [])]
            if any(s.startswith(done) for s in sources):
                found.append(c)
        found += client.containers.list(all=True, filters={"label": f"{TEST_LABEL}=1"},
                                         ignore_removed=True)
        return found
    finally:
        client.close()


@pytest.fixture(autouse=True)
def no_leftover_containers(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every docker test: no container of this suite's runs may remain (removed, then failed)."""
    yield
    if request.node.get_closest_marker("docker") is None:
        return
    left = _leftovers()
    # A run that has just ended may still be removing its container: give it a moment.
    deadline = time.monotonic() + 60  # an event (the containers are gone), bounded generously
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = _leftovers()
    if left:
        names = [f"{c.name} ({c.status})" for c in left]
        for c in left:
            with contextlib.suppress(docker.errors.APIError):
                c.remove(force=True)
        pytest.fail(f"containers left behind: {names}")
