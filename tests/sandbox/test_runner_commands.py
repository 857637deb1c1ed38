"""The runner's own commands in the sandbox are named by absolute path: the sandbox's PATH
starts with the project environment's bin/, where a dependency could install a script called
`cat`, `sh`, `env`, `timeout` or `python3` (and the agent's token or a check's answer would
then go through it)."""

from __future__ import annotations

from typing import Any

import pytest

from runner.run.agent_process import agent_main_command
from runner.sandbox import selfcheck
from runner.sandbox.environment import DockerSandbox, ExecResult, timeout_command


def test_file_reads_writes_and_timeouts_use_absolute_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def run(self: DockerSandbox, cmd: list[str], **kwargs: Any) -> tuple[int, bytes, bytes, bool, bool]:
        seen.append(cmd)
        return 0, b"", b"", False, False

    monkeypatch.setattr(DockerSandbox, "_run", run)
    box = DockerSandbox(client=None, container_id="c")  # type: ignore[arg-type]
    box.read_file("/workspace/x")
    box.write_file("/workspace/backend/y", b"data")
    assert seen[0][:1] == ["/usr/bin/cat"]
    assert seen[1][:2] == ["/bin/sh", "-c"] and seen[1][2].startswith("/usr/bin/cat ")
    assert timeout_command(["true"], 5)[0] == "/usr/bin/timeout"
    assert agent_main_command(5, {})[:2] == ["/usr/bin/env", "/usr/bin/timeout"]


def test_the_self_check_runs_the_system_python_without_site() -> None:
    seen: list[list[str]] = []

    class Box:
        def exec(self, cmd: list[str], **kwargs: Any) -> ExecResult:
            seen.append(cmd)
            return ExecResult(returncode=0, stdout="[]\n", stderr="")

    selfcheck.run_self_check(Box(), writable=["backend/"], pids_limit=256)  # type: ignore[arg-type]
    assert seen[0][:3] == ["/usr/bin/python3", "-I", "-S"]
