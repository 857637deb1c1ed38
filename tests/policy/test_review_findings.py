"""Calls a fresh-eyes review found allowed (writers whose output option was unknown, a module
run by name, exec outside subprocess), decided through the real decider both ways."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.config import PolicyConfig
from runner.policy.decider import Decider
from runner.policy.engine import PolicyEngine, load_engine
from runner.policy.models import RunInfo, ToolCall

CASES = [
    ("7z x backend/x.7z -ofrontend", False),
    ("7z x backend/x.7z -obackend/out", True),
    ("7z a backend/a.7z backend/x.7z", True),
    ("ssh-keygen -f frontend/k -N ''", False),
    ("ssh-keygen -t ed25519 -f backend/k -N ''", True),
    ("ssh-keygen -l -f backend/k", True),
    ("python3 -c \"import runpy; runpy.run_module('x')\"", False),
    ("python3 -c \"import multiprocessing.util as u; "
     "u.spawnv_passfds('/bin/sh', ['sh', '-c', 'cat /workspace/.env'], [])\"", False),
]


@pytest.fixture(scope="module")
def engine() -> Iterator[PolicyEngine]:
    eng = load_engine(PolicyConfig())
    yield eng
    eng.close()


@pytest.mark.parametrize(("command", "allowed"), CASES)
def test_decided_as_expected(command: str, allowed: bool, engine: PolicyEngine,
                             tmp_path: Path) -> None:
    for d in ("backend", "frontend"):
        (tmp_path / d).mkdir()
    (tmp_path / "backend" / "x.7z").write_bytes(b"7z")
    (tmp_path / ".env").write_text("KEY=value\n")
    decider = Decider(engine, workspace=tmp_path, run=RunInfo(id="review"), masks=[".env"])
    decision = decider.decide(ToolCall(name="Bash", input={"command": command}))[1]
    assert decision.allow is allowed, decision.reasons
