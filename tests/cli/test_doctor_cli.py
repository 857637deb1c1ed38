"""`sandbox-runner doctor`: the table, exit codes and one-line errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from runner.cli import main
from runner.doctor import RUN_LABEL
from runner.sandbox.docker_client import docker_client

EXE = str(Path(sys.executable).parent / "sandbox-runner")

GOOD_POLICY = """package sandbox

import rego.v1

default allow := false

allow if input.tool.name == "Read"

decision := {"allow": allow, "reasons": []}
"""

BROKEN_POLICY = """package sandbox

import rego.v1

decision := {"allow": true,
"""


def run(*args: str | Path, **env: str) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], env={"COLUMNS": "250", **env})


def rows(stdout: str) -> dict[str, tuple[str, str]]:
    """check name -> (status, detail) from the rendered table."""
    out: dict[str, tuple[str, str]] = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 3 and cells[1] in ("ok", "warn", "fail", "info"):
            out[cells[0]] = (cells[1], cells[2])
    return out


@pytest.fixture
def broken_policy_dir(tmp_path: Path) -> Path:
    d = tmp_path / "broken"
    d.mkdir()
    (d / "main.rego").write_text(BROKEN_POLICY)
    return d


@pytest.fixture
def good_policy_dir(tmp_path: Path) -> Path:
    d = tmp_path / "good"
    d.mkdir()
    (d / "main.rego").write_text(GOOD_POLICY)
    return d


def test_unreachable_docker_is_a_one_line_exit_4(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/nonexistent.sock", "COLUMNS": "200"}
    proc = subprocess.run([EXE, "doctor"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 4
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith("sandbox-runner: error: Docker engine not reachable: ")
    assert "Traceback" not in proc.stderr
    table = rows(proc.stdout)
    assert table["docker"][0] == "fail"
    assert table["python"][0] == "ok"


def test_broken_policies_are_a_one_line_exit_2(broken_policy_dir: Path) -> None:
    result = run("doctor", "--policy-dir", broken_policy_dir)
    assert result.exit_code in (2, 4), result.output  # 4 only when Docker is missing too
    table = rows(result.stdout)
    assert table["policies"][0] == "fail"
    if table["docker"][0] == "ok":
        assert result.exit_code == 2
        errors = result.stderr.strip().splitlines()
        assert len(errors) == 1, result.stderr
        assert f"{broken_policy_dir / 'main.rego'}:" in errors[0]


@pytest.mark.docker
def test_healthy_machine_exits_0(good_policy_dir: Path) -> None:
    result = run("doctor", "--policy-dir", good_policy_dir)
    table = rows(result.stdout)
    assert result.exit_code == 0, result.output
    for name in ("python", "docker", "regorus", "policies"):
        assert table[name][0] == "ok", (name, table[name])
    assert {"image", "opa", "containers"} <= set(table)
    assert result.stderr == ""


@pytest.mark.docker
def test_bundled_policies_pass(repo_root: Path) -> None:
    result = run("doctor")
    table = rows(result.stdout)
    assert table["policies"][0] == "ok", table["policies"]
    assert result.exit_code == 0, result.output


@pytest.fixture
def leftover() -> Iterator[tuple[str, Any]]:
    client = docker_client()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("empty"), io.BytesIO(b""))
    tag = uuid.uuid4().hex[:12]
    repo = "sandbox-runner-doctor-test"
    client.api.import_image_from_data(buf.getvalue(), repository=repo, tag=tag)
    run_id = f"doctor-cli-{tag}"
    container = client.containers.create(
        f"{repo}:{tag}",
        command=["/nothing"],
        labels={RUN_LABEL: run_id, "sandbox-runner.test": "1"},
    )
    try:
        yield run_id, container
    finally:
        for c in client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}):
            c.remove(force=True)
        client.images.remove(f"{repo}:{tag}", force=True)
        client.close()


@pytest.mark.docker
def test_cleanup_removes_leftover_containers(
    good_policy_dir: Path,
    leftover: tuple[str, Any],
) -> None:
    run_id, container = leftover
    listed = run("doctor", "--policy-dir", good_policy_dir, "--run-id", run_id)
    status, detail = rows(listed.stdout)["containers"]
    assert status == "warn" and container.name in detail and "--cleanup" in detail
    assert listed.exit_code == 0
    cleaned = run("doctor", "--policy-dir", good_policy_dir, "--run-id", run_id, "--cleanup")
    status, detail = rows(cleaned.stdout)["containers"]
    assert status == "ok" and detail.startswith("removed 1:")
    client = docker_client()
    try:
        assert client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}) == []
    finally:
        client.close()
