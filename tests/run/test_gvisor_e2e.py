"""The demo scenario under gVisor (issue 14): same results as runc, the run records gVisor,
the self-check sees gVisor's kernel. Skipped, saying why, when the engine has no runsc."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.run.test_run_e2e import EXAMPLES, copy_example, jsonl, leftover_containers, run_cli

pytestmark = [pytest.mark.docker, pytest.mark.gvisor]

Runs = dict[str, tuple[Path, subprocess.CompletedProcess[str]]]


@pytest.fixture(scope="module")
def both_runs(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str,
              gvisor_runtime: str) -> Runs:
    runs: Runs = {}
    for isolation in ("runc", "gvisor"):
        base = tmp_path_factory.mktemp(isolation)
        project = copy_example("todo-api", base)
        out = base / "run"
        proc = run_cli(["run", str(project), "--isolation", isolation, "--model",
                        f"scripted:{EXAMPLES / 'todo-api' / 'scenario.yaml'}", "--out", str(out),
                        "--json"])
        runs[isolation] = (out, proc)
    return runs


def _untimed(value: Any) -> Any:
    """The value without its timings (gVisor is slower; everything else must match)."""
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k not in {"time", "duration_s"}}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def _denials(out: Path) -> list[tuple[str, list[str]]]:
    return [(d["input"]["tool"]["name"], sorted(r["policy"] for r in d["result"]["reasons"]))
            for d in jsonl(out / "decisions.jsonl") if not d["result"]["allow"]]


def test_demo_under_gvisor_matches_runc(both_runs: Runs,
                                        docker_client: docker.DockerClient) -> None:
    summaries: dict[str, dict[str, Any]] = {}
    for isolation, (_, proc) in both_runs.items():
        assert proc.returncode == 0, f"{isolation}: {proc.stderr[-3000:]}"
        summaries[isolation] = json.loads(proc.stdout)
    runc, gvisor = summaries["runc"], summaries["gvisor"]
    assert gvisor["status"] == "passed" and gvisor["isolation"] == "gvisor"
    assert runc["isolation"] == "runc"
    for key in ("tests", "coverage", "gates", "issues"):
        assert _untimed(gvisor[key]) == _untimed(runc[key]), key
    for key in ("total", "allowed", "denied"):
        assert gvisor["decisions"][key] == runc["decisions"][key], key
    assert _denials(both_runs["gvisor"][0]) == _denials(both_runs["runc"][0])
    for isolation, summary in summaries.items():
        assert leftover_containers(docker_client, summary["run_id"]) == [], isolation


def test_gvisor_run_records_and_proves_the_isolation(both_runs: Runs, gvisor_runtime: str) -> None:
    out, _ = both_runs["gvisor"]
    run = json.loads((out / "run.json").read_text())
    assert run["isolation"] == run["isolation_requested"] == "gvisor"
    assert run["self_check_ok"] is True
    checks = {c["name"]: c for c in run["self_check"]}
    assert checks["isolation_gvisor"]["ok"]
    assert "kernel 4.4.0" in checks["isolation_gvisor"]["detail"]
    assert "gVisor" in checks["isolation_gvisor"]["detail"]
    assert checks["pids_limit_host"]["ok"] and checks["memory_limit"]["ok"]
    assert run["verification"]["runtime"] == gvisor_runtime  # the engine's word, not ours
    assert "isolation `gvisor`" in (out / "summary.md").read_text()
    runc = json.loads((both_runs["runc"][0] / "run.json").read_text())
    assert {c["name"]: c["ok"] for c in runc["self_check"]}["isolation_runc"] is True
    assert runc["verification"]["runtime"] in ("runc", "io.containerd.runc.v2")
