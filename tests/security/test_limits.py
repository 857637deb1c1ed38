"""Resource limits, under the allow-all policy: only the container's limits bound these.

Tight limits come from a sandbox-runner.toml in the project so the bombs hit them quickly.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.security import harness as h
from tests.security.harness import bash, call
from tests.security.scorecard import SCORECARD, CheckRow

pytestmark = pytest.mark.docker

FSIZE_MB = 32
TMP_MB = 48
LIMITS = f"""
bash_timeout = 60

[sandbox]
type = "docker"

[sandbox.limits]
memory = "384m"
pids = 128
fsize_mb = {FSIZE_MB}
tmp_size = "{TMP_MB}m"
"""
OUTPUT_LIMIT = 30_000


def _record(cid: str, what: str, problems: list[str], evidence: str) -> None:
    SCORECARD.check(CheckRow(id=cid, table="limits", description=what,
                             result="FAILED" if problems else "held",
                             detail="; ".join(problems) if problems else evidence))


@pytest.fixture(scope="module")
def limits_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[h.World, h.RunResult]:
    """One run: fork bomb, /tmp and backend/ fill, output flood, endless command, escaped job."""
    world = h.make_world(tmp_path_factory.mktemp("limits"))
    h.write_config(world, LIMITS)
    # The fork bomb's shell stays (exec sleep) so the bomb runs for the call's whole 8 s: the
    # Bash tool ends a command's process group as soon as its shell exits.
    turns = [
        {"text": "prepare", "tool_calls": [
            bash("mkdir -p backend/probe"),
            call("Write", file_path="backend/fork.sh", content="#!/bin/bash\nb(){ b | b & }; b; exec sleep 60\n")]},
        {"text": "fork bomb", "tool_calls": [bash("bash backend/fork.sh", 8)]},
        {"text": "still alive?", "tool_calls": [bash("echo alive > backend/probe/after-fork")]},
        {"text": "fill /tmp", "tool_calls": [bash(
            "for i in 1 2 3 4; do dd if=/dev/zero of=/tmp/fill$i bs=1M count=30 2>>backend/probe/fill-tmp-err; "
            "echo \"rc$i=$?\" >> backend/probe/fill-tmp; done; "
            "echo \"mb=$(du -sm /tmp | cut -f1)\" >> backend/probe/fill-tmp; rm -f /tmp/fill*")]},
        {"text": "fill backend", "tool_calls": [bash(
            "dd if=/dev/zero of=backend/big bs=1M count=200 2>/dev/null; echo \"rc=$?\" > backend/probe/fill-backend")]},
        {"text": "flood", "tool_calls": [bash("yes AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA | head -c 50000000")]},
        {"text": "never ends", "tool_calls": [bash("sleep 1000", 3)]},
        {"text": "escape the process group", "tool_calls": [
            bash("setsid sleep 1000 >/dev/null 2>&1 </dev/null & echo started")]},
        {"text": "still alive at the end?", "tool_calls": [bash("echo alive > backend/probe/after-all")]},
        {"text": "done"},
    ]
    res = h.run_scenario(world, "limits", turns, policy_dir=h.ALLOW_ALL, timeout=240)
    return world, res


def _result_of(res: h.RunResult, command: str) -> tuple[str, dict | None]:
    uses = [u for u in h.tool_uses(res.transcript) if u.get("input", {}).get("command") == command]
    results = h.tool_results(res.transcript)
    for u in uses:
        block = results.get(str(u["id"]))
        if block is not None:
            return h.result_text(block), block
    return "", None


def test_run_survives_the_limits(limits_run: tuple[h.World, h.RunResult]) -> None:
    world, res = limits_run
    problems = h.clean_end_problems(res, world, kept=("backend/probe/after-all",), failed=False)
    if res.exit_code != 0:
        problems.append(f"exit {res.exit_code}: {res.describe()}")
    _record("limits-run", "the run survives all of the below and ends cleanly (exit 0, container removed)",
            problems, f"exit 0 in {res.seconds:.0f}s; the escaped `setsid sleep` did not keep the container")
    assert not problems, "\n".join(problems)


def test_fork_bomb_is_bounded(limits_run: tuple[h.World, h.RunResult]) -> None:
    world, res = limits_run
    text, block = _result_of(res, "bash backend/fork.sh")
    problems = []
    if block is None:
        problems.append("no tool result for the fork bomb")
    elif "Resource temporarily unavailable" not in text:
        problems.append(f"no sign the pids limit was hit: {text[:200]!r}")
    if not (world.backend / "probe" / "after-fork").is_file():
        problems.append("the agent could not run a command after the fork bomb")
    _record("fork-bomb", "fork bomb (script under backend/)", problems,
            "pids limit hit ('fork: Resource temporarily unavailable'); the bomb's process group was "
            "killed when the command ended; the agent's next command ran")
    assert not problems, "\n".join(problems)


def test_tmp_fill_is_bounded(limits_run: tuple[h.World, h.RunResult]) -> None:
    """Four 30 MB files (each under the fsize limit) into a 48 MB /tmp: the tmpfs size holds."""
    world, _ = limits_run
    probe_file, err_file = world.backend / "probe" / "fill-tmp", world.backend / "probe" / "fill-tmp-err"
    probe = probe_file.read_text() if probe_file.is_file() else ""
    err = err_file.read_text() if err_file.is_file() else ""
    rcs = re.findall(r"rc\d=(\d+)", probe)
    mb = re.search(r"mb=(\d+)", probe)
    problems = []
    if len(rcs) != 4 or all(rc == "0" for rc in rcs):
        problems.append(f"writing 120 MB to /tmp succeeded or did not run: {probe!r}")
    if "No space left on device" not in err:
        problems.append(f"no ENOSPC from the tmpfs: {err[-200:]!r}")
    if not mb or int(mb.group(1)) > TMP_MB:
        problems.append(f"/tmp grew beyond {TMP_MB} MB: {probe!r}")
    _record("fill-tmp", f"fill /tmp with 4 x 30 MB (tmpfs {TMP_MB} MB)", problems,
            f"ENOSPC; /tmp held {mb.group(1) if mb else '?'} MB at most")
    assert not problems, "\n".join(problems)


def test_backend_file_size_is_bounded(limits_run: tuple[h.World, h.RunResult]) -> None:
    world, _ = limits_run
    big = world.backend / "big"
    size = big.stat().st_size if big.exists() else -1
    probe = (world.backend / "probe" / "fill-backend").read_text() if (world.backend / "probe" / "fill-backend").is_file() else ""
    problems = []
    if size < 0:
        problems.append("backend/big was never written (the attempt did not run)")
    if size > FSIZE_MB * 1024 * 1024:
        problems.append(f"backend/big is {size} bytes, above fsize {FSIZE_MB} MB")
    if "rc=0" in probe or not probe:
        problems.append(f"writing 200 MB into backend/ did not fail: {probe!r}")
    _record("fill-backend", f"write a 200 MB file into backend/ (fsize ulimit {FSIZE_MB} MB)", problems,
            f"host file stopped at {size} bytes ({probe.strip()}); note: the number of files is not bounded")
    if big.exists():
        big.unlink()
    assert not problems, "\n".join(problems)


def test_output_flood_is_truncated(limits_run: tuple[h.World, h.RunResult]) -> None:
    _, res = limits_run
    cmd = "yes AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA | head -c 50000000"
    text, block = _result_of(res, cmd)
    problems = []
    if block is None:
        problems.append("no tool result for the flood")
    elif len(text) > OUTPUT_LIMIT + 2000:
        problems.append(f"tool result is {len(text)} characters")
    elif "omitted" not in text and "truncated" not in text:
        problems.append(f"truncation is not marked: {text[-200:]!r}")
    size = Path(res.run_dir / "transcript.jsonl").stat().st_size if (res.run_dir / "transcript.jsonl").exists() else 0
    _record("output-flood", "50 MB of output from one command", problems,
            f"the model saw {len(text)} characters with the omission marked; transcript {size // 1024} KB")
    assert not problems, "\n".join(problems)


def test_endless_command_hits_its_timeout(limits_run: tuple[h.World, h.RunResult]) -> None:
    _world, res = limits_run
    text, block = _result_of(res, "sleep 1000")
    problems = []
    if block is None:
        problems.append("no tool result for `sleep 1000`")
    elif not block.get("is_error") or "timed out" not in text:
        problems.append(f"no timeout reported: {text[:200]!r}")
    if res.seconds > 900:  # bounded by the 3 s timeout, not by the 1000 s command (load-proof)
        problems.append(f"the run took {res.seconds:.0f}s")
    _record("endless-command", "`sleep 1000` with a 3 s Bash timeout", problems,
            f"killed after its timeout: {text.strip()[-90:]!r}")
    assert not problems, "\n".join(problems)


def test_memory_bomb_is_reported_as_oom(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    h.write_config(world, LIMITS)
    bomb = "chunks = []\nwhile True:\n    chunks.append(b'x' * (16 << 20))\n"
    turns = [
        {"text": "work first", "tool_calls": [call("Write", file_path="backend/before.txt", content="kept\n"),
                                              call("Write", file_path="backend/mem.py", content=bomb)]},
        {"text": "memory bomb", "tool_calls": [bash("python3 backend/mem.py", 60)]},
        {"text": "after", "tool_calls": [call("Write", file_path="backend/after.txt", content="x\n")]},
        {"text": "done"},
    ]
    res = h.run_scenario(world, "oom", turns, policy_dir=h.ALLOW_ALL, timeout=120)
    problems = h.clean_end_problems(res, world, kept=("backend/before.txt",))
    if res.exit_code != 3:
        problems.append(f"exit {res.exit_code}, expected 3: {res.describe()}")
    if "oom" not in h.failure_text(res).lower() and "out of memory" not in h.failure_text(res).lower():
        problems.append(f"summary failure does not mention the OOM kill: {h.failure_text(res)!r}")
    _record("memory-bomb", "allocate without end (memory limit 384 MB)", problems,
            f"exit 3 in {res.seconds:.0f}s; failure: {h.failure_text(res)[:140]}")
    assert not problems, "\n".join(problems)


def test_endless_run_hits_the_run_timeout(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    turns = [
        {"text": "work first", "tool_calls": [call("Write", file_path="backend/before.txt", content="kept\n")]},
        {"text": "never ends", "tool_calls": [bash("sleep 600", 600)]},
        {"text": "done"},
    ]
    res = h.run_scenario(world, "run-timeout", turns, timeout=20)
    problems = h.clean_end_problems(res, world, kept=("backend/before.txt",))
    if res.exit_code != 3:
        problems.append(f"exit {res.exit_code}, expected 3: {res.describe()}")
    if "time" not in h.failure_text(res).lower():
        problems.append(f"failure does not name the timeout: {h.failure_text(res)!r}")
    if res.seconds > 20 + 100:  # ended by the 20 s timeout, not the 600 s command (load-proof)
        problems.append(f"took {res.seconds:.0f}s to stop after a 20 s timeout")
    _record("run-timeout", "a run that never ends (--timeout 20)", problems,
            f"exit 3 after {res.seconds:.0f}s; failure: {h.failure_text(res)[:120]}")
    assert not problems, "\n".join(problems)
