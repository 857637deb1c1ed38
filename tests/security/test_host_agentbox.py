"""Host boundary, the agent's box: the Bash tool, the agent's start, masks, ownership, ``--out``.

Each test is a regression test for a finding of issue 8 (see the ``host_boundary`` marker).
Real containers and real runs where the kernel is involved; nothing waits on a timing window.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.agent.paths import Workspace
from runner.agent.tools import Toolbox
from tests.security import harness as h
from tests.security.harness import bash

# --- 1. the Bash tool reports ordinary commands as they ended ----------------------------------

# (command, exact output) pairs: ordinary commands whose last program closes its stdout before it
# exits (coreutils do), which is what the old EOF-then-kill raced against.
ORDINARY: list[tuple[str, str]] = [
    ("ls architecture", "backend.md"),
    ("cat README.md", "# demo project"),
    ("grep -c return backend/app.py", "1"),
    ("seq 1 40", "\n".join(str(i) for i in range(1, 41))),
    ("echo hello", "hello"),
    ("python3 -c 'print(6 * 7)'", "42"),
    ("wc -l < architecture/backend.md", "3"),
    ("head -1 architecture/backend.md", "# Backend spec"),
    ("printf 'b\\na\\nc\\n' | sort", "a\nb\nc"),
    ("cat config/settings.toml", "debug = false"),
    ("tail -n 1 frontend/app.js", "console.log('frontend');"),
    ("seq 1 3 | tac", "3\n2\n1"),
]


def _sixty() -> list[tuple[str, str]]:
    """Sixty distinct commands (a leading assignment makes each unique without changing it)."""
    return [(f"N={i} {cmd}", out) for i in range(5) for cmd, out in ORDINARY]


@contextlib.contextmanager
def _cpu_burners(count: int) -> Iterator[None]:
    """Processes that keep every core busy (started and killed here, by pid)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


@pytest.mark.host_boundary(
    finding="bash-exit-code",
    title="Bash reported ordinary commands as killed (exit -9) under load; it now waits for the "
          "shell's exit, bounded by the deadline, before reaping the group")
@pytest.mark.parametrize("burners", [0, 4], ids=["idle", "cpu-burner"])
def test_sixty_ordinary_commands_on_the_host(tmp_path: Path, burners: int) -> None:
    """Idle and with every core busy: the result must not depend on load (the old code lost
    most races when idle, fewer under a burner)."""
    world = h.make_world(tmp_path)
    box = Toolbox(Workspace(world.project), enabled=["Bash"], output_limit=30_000, bash_timeout=120)
    failed = []
    with _cpu_burners(burners):
        for command, expected in _sixty():
            out = box.run("Bash", {"command": command}, [])
            if out.is_error or out.text != expected:
                failed.append(f"{command!r} -> {out.text[-120:]!r} (is_error={out.is_error})")
    assert not failed, f"{len(failed)} of 60 ordinary commands misreported: {failed[:5]}"


@pytest.mark.docker
@pytest.mark.host_boundary(
    finding="bash-exit-code-sandbox",
    title="60 ordinary Bash commands in one real sandbox run are all reported as successes "
          "with their full output")
def test_sixty_ordinary_commands_in_one_sandbox_run(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    commands = _sixty()
    calls = [bash(c) for c, _ in commands]
    turns = [{"text": f"batch {i}", "tool_calls": calls[i:i + 10]} for i in range(0, 60, 10)]
    res = h.run_scenario(world, "sixty", turns, policy_dir=h.ALLOW_ALL, timeout=300)
    assert res.exit_code == 0, res.describe()
    outcomes = h.outcomes(res, calls)
    failed = []
    for (command, expected), oc in zip(commands, outcomes, strict=True):
        if len(oc.results) != 1:
            failed.append(f"{command!r}: {len(oc.results)} results")
            continue
        block = oc.results[0]
        text = h.result_text(block)
        if block.get("is_error") or text != expected:
            failed.append(f"{command!r} -> {text[-120:]!r} (is_error={block.get('is_error')})")
    assert not failed, f"{len(failed)} of 60 ordinary commands misreported: {failed[:5]}"


# --- 2. the agent's modules cannot be shadowed from the workspace ------------------------------


@pytest.mark.docker
@pytest.mark.host_boundary(
    finding="agent-sys-path",
    title="a project's runner/ or anthropic.py in /workspace could shadow the agent's modules; "
          "the agent starts with python3 -P (no CWD on sys.path)")
def test_planted_modules_in_the_workspace_do_not_shadow_the_agent(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    bomb = "raise SystemExit('SHADOWED: a workspace module was imported by the agent')\n"
    for rel in ("runner/__init__.py", "runner/agent/__init__.py", "runner/agent/__main__.py",
                "anthropic.py", "httpx.py", "pydantic.py"):
        path = world.project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(bomb, encoding="utf-8")
    turns = [{"text": "look", "tool_calls": [bash("echo ok")]}]
    res = h.run_scenario(world, "shadow", turns, policy_dir=h.ALLOW_ALL)
    assert res.exit_code == 0, res.describe()
    assert "SHADOWED" not in res.stderr
    assert res.summary.get("status") == "passed"
