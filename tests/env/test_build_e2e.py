"""Environments end to end: real build containers, the real egress proxy and relay, a package
index in a container of its own (stand-in wheels, tests/env/index.py), real runs.

- the humanize-api example runs and verifies (exit 0) with its dependencies installed by the
  setup phase; the next run reuses the image;
- a backend pinned to pydantic 1 verifies in its environment image while the agent runtime
  of that image still has pydantic 2;
- a setup secret is nowhere in the image (``docker save``, history, inspect), the build's
  and the run's directories, the output, or the agent phase;
- unresolvable requirements, a failing setup command, a host outside the setup allowlist,
  a base image that cannot be had: exit 4 with the step's last lines, nothing tagged, no
  container left.

One opt-in test (``SANDBOX_RUNNER_NET_TESTS=1``) builds the example against the real index.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from tests.egress.index import PackageIndex
from tests.env.index import stand_in_index

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "humanize-api"
CLI = [sys.executable, "-m", "runner.cli"]
SECRET = "sr-test-secret-4f1c9a7e2b"  # the value of MY_TOKEN in the secret tests

pytestmark = pytest.mark.docker


def cli(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 900
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO, check=False, env={**os.environ, **(env or {})})


def index_toml(index: PackageIndex, extra: str = "") -> str:
    return (f'[environment]\nindex_url = "{index.url}"\nallow_hosts = ["{index.allow}"]\n'
            + extra)


def make_project(base: Path, name: str, requirements: str, toml: str,
                 files: dict[str, str] | None = None) -> Path:
    project = base / name
    (project / "backend").mkdir(parents=True)
    (project / "architecture").mkdir()
    (project / "architecture" / "backend.md").write_text("# test project\n")
    (project / "backend" / "requirements.txt").write_text(requirements)
    (project / "sandbox-runner.toml").write_text(toml)
    for rel, text in (files or {}).items():
        (project / rel).write_text(text)
    return project


def env_images(client: docker.DockerClient) -> set[str]:
    return {t for img in client.images.list(name="sandbox-runner-env") for t in img.tags}


def setup_containers(client: docker.DockerClient) -> list[Any]:
    return client.containers.list(all=True, filters={"name": "sandbox-runner-setup-"})


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> Iterator[PackageIndex]:
    with stand_in_index(tmp_path_factory.mktemp("env-index")) as idx:
        yield idx


@pytest.fixture
def created_images(docker_client: docker.DockerClient) -> Iterator[set[str]]:
    """Every environment image a test made is removed afterwards."""
    before = env_images(docker_client)
    made: set[str] = set()
    yield made
    for tag in (env_images(docker_client) - before) | made:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag, force=True)
    assert setup_containers(docker_client) == []


def one_turn_scenario(path: Path, *calls: dict[str, Any]) -> Path:
    turns: list[dict[str, Any]] = []
    if calls:
        turns.append({"text": "step", "tool_calls": list(calls)})
    turns.append({"text": "Done."})
    path.write_text(yaml.safe_dump({"turns": turns}))
    return path


def summary(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / "summary.json").read_text()))


# --- the example --------------------------------------------------------------------------


def test_example_builds_runs_verifies_and_is_reused(
        tmp_path: Path, index: PackageIndex, created_images: set[str],
        docker_client: docker.DockerClient) -> None:
    project = tmp_path / "humanize-api"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("scenario*.yaml"))
    (project / "sandbox-runner.toml").write_text(index_toml(index))
    out = tmp_path / "run1"
    first = cli(["run", str(project), "--model", f"scripted:{EXAMPLE / 'scenario.yaml'}",
                 "--out", str(out), "--json"])
    assert first.returncode == 0, first.stderr[-3000:]
    result = json.loads(first.stdout)
    assert result["status"] == "passed" and result["tests"]["failed"] == 0
    assert result["tests"]["passed"] >= 9 and result["coverage"]["line_percent"] == 100.0
    record = json.loads((out / "run.json").read_text())
    env = record["environment"]
    assert env["kind"] == "project" and env["built"] is True
    assert env["sources"] == ["backend/requirements.txt"]
    assert record["image"] == env["image"] and env["image"].startswith("sandbox-runner-env:")
    created_images.add(env["image"])
    assert "building the environment" in first.stderr and "humanize" in first.stderr
    # every setup connection is a decision of the run's one chain, phase setup, allowed
    lines = [json.loads(x) for x in (out / "decisions.jsonl").read_text().splitlines()]
    connects = [x for x in lines if x["input"].get("kind") == "connect"]
    assert connects and all(c["input"]["connect"]["phase"] == "setup" for c in connects)
    assert all(c["result"]["allow"] for c in connects)
    assert {c["input"]["connect"]["host"] for c in connects} == {index.address}
    audit = cli(["audit", "verify", str(out)])
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert (out / "setup-egress.jsonl").is_file()
    # the image: labelled with its inputs, the runtime apart, the tools' python the project's
    img = docker_client.images.get(env["image"])
    assert img.labels["sandbox-runner.image"] == "env"
    assert json.loads(img.labels["sandbox-runner.env.spec"])["requirements"] == [
        "humanize>=4.0", "tabulate>=0.9"]
    assert img.attrs["Config"]["User"] == "10001:10001"
    # the second run reuses the image: no build, no setup connection
    again = cli(["run", str(project), "--model", f"scripted:{EXAMPLE / 'scenario.yaml'}",
                 "--out", str(tmp_path / "run2")])
    assert again.returncode == 0, again.stderr[-3000:]
    assert "(cached;" in again.stderr and "building the environment" not in again.stderr
    second = json.loads((tmp_path / "run2" / "run.json").read_text())["environment"]
    assert second["image"] == env["image"] and second["built"] is False
    assert not any('"connect"' in x for x in (tmp_path / "run2" / "decisions.jsonl")
                   .read_text().splitlines())
    # a changed requirements file is a new environment
    (project / "backend" / "requirements.txt").write_text("humanize>=4.1\ntabulate>=0.9\n")
    status = cli(["doctor", "--project", str(project)])
    assert "sandbox-runner-env:" in status.stdout and "not built" in status.stdout


def test_pydantic_1_backend_beside_the_pydantic_2_runtime(
        tmp_path: Path, index: PackageIndex, created_images: set[str],
        docker_client: docker.DockerClient) -> None:
    # application code (the coverage gate counts it, not the tests) and its test
    app = "import pydantic\n\n\ndef dumped(**fields: int) -> dict:\n" \
          "    return pydantic.BaseModel(**fields).dict()\n"
    test = ("import pydantic\nfrom pyd1app import dumped\n\n\ndef test_pydantic_1() -> None:\n"
            "    assert pydantic.VERSION.startswith('1.')\n"
            "    assert dumped(a=1) == {'a': 1}\n")
    project = make_project(tmp_path, "pyd1", "pydantic<2\n", index_toml(index),
                           {"backend/test_pyd1.py": test, "backend/pyd1app.py": app})
    built = cli(["env", "build", str(project), "--json"])
    assert built.returncode == 0, built.stderr[-3000:]
    report = json.loads(built.stdout)
    created_images.add(report["ref"])
    assert report["built"] and report["kind"] == "project"
    script = "import pydantic, sys; print(sys.prefix, pydantic.VERSION)"
    tools = docker_client.containers.run(report["ref"], ["python", "-c", script], remove=True,
                                         network_mode="none").decode().split()
    agent = docker_client.containers.run(
        report["ref"], ["/opt/sandbox-runner/venv/bin/python", "-P", "-c", script], remove=True,
        network_mode="none").decode().split()
    assert tools == ["/opt/project-venv", "1.10.99"]
    assert agent[0] == "/opt/sandbox-runner/venv" and agent[1].startswith("2.")
    # a run in that image: the agent (pydantic 2) works, the verification (pydantic 1) passes
    run = cli(["run", str(project), "--model",
               f"scripted:{one_turn_scenario(tmp_path / 's.yaml')}", "--out",
               str(tmp_path / "run"), "--json"])
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["status"] == "passed" and result["tests"]["passed"] == 1
    assert "(cached;" in run.stderr


# --- setup secrets ------------------------------------------------------------------------


def _needles() -> list[bytes]:
    import base64
    from urllib.parse import quote

    return [SECRET.encode(), quote(SECRET, safe="").encode(),
            base64.b64encode(SECRET.encode())]


def _scan_dir(root: Path) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(n in data for n in _needles()):
                hits.append(str(path))
    return hits


def test_setup_secret_is_only_in_the_setup_phase(
        tmp_path: Path, index: PackageIndex, created_images: set[str],
        docker_client: docker.DockerClient) -> None:
    setup = ('test -n "$MY_TOKEN" && echo "token of ${#MY_TOKEN} characters"',
             'echo "printing it: $MY_TOKEN"')
    toml = index_toml(index, "setup = " + json.dumps(list(setup)) + "\n")
    project = make_project(tmp_path, "secret", "humanize\n", toml)
    env = {"MY_TOKEN": SECRET}
    built = cli(["env", "build", str(project), "--setup-secret", "MY_TOKEN", "--json"], env=env)
    assert built.returncode == 0, built.stderr[-3000:]
    report = json.loads(built.stdout)
    created_images.add(report["ref"])
    assert f"token of {len(SECRET)} characters" in built.stderr  # the setup had it
    assert "printing it: [MY_TOKEN]" in built.stderr  # and its output was redacted
    assert SECRET not in built.stdout + built.stderr
    # not in the image: layers, config, history
    saved = tmp_path / "image.tar"
    with open(saved, "wb") as fh:
        for chunk in docker_client.images.get(report["ref"]).save(named=True):
            fh.write(chunk)
    extracted = tmp_path / "image"
    subprocess.run(["tar", "-xf", str(saved), "-C", str(tmp_path)], check=True)
    extracted.mkdir()
    for layer in tmp_path.glob("*/layer.tar"):
        subprocess.run(["tar", "-xf", str(layer), "-C", str(extracted)], check=False)
    assert not any(n in saved.read_bytes() for n in _needles())
    assert _scan_dir(extracted) == []
    history = subprocess.run(["docker", "history", "--no-trunc", report["ref"]],
                             capture_output=True, check=True).stdout
    inspect = subprocess.run(["docker", "inspect", report["ref"]], capture_output=True,
                             check=True).stdout
    assert not any(n in history + inspect for n in _needles())
    # not in the build's directory (its decision log, the proxy's log)
    assert report["log_dir"] and _scan_dir(Path(report["log_dir"])) == []
    # a run with the same secret (rebuilding): not in the run directory, not in the agent phase
    scenario = one_turn_scenario(tmp_path / "s.yaml", {"name": "Bash", "input": {
        "command": 'if [ -n "${MY_TOKEN:-}" ]; then echo PRESENT; else echo ABSENT; fi'}})
    out = tmp_path / "run"
    run = cli(["run", str(project), "--model", f"scripted:{scenario}", "--out", str(out),
               "--setup-secret", "MY_TOKEN", "--rebuild-env", "--skip-verify"], env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert SECRET not in run.stdout + run.stderr
    assert "ABSENT" in (out / "transcript.jsonl").read_text()
    assert _scan_dir(out) == []
    assert json.loads((out / "run.json").read_text())["environment"]["setup_secrets"] == [
        "MY_TOKEN"]


def test_a_secret_left_in_a_file_fails_the_build_and_tags_nothing(
        tmp_path: Path, index: PackageIndex, created_images: set[str],
        docker_client: docker.DockerClient) -> None:
    toml = index_toml(index, 'setup = ["mkdir -p /opt/project-venv/etc && '
                             'echo \\"url=https://u:$MY_TOKEN@host/\\" > /opt/project-venv/etc/pip.conf"]\n')
    project = make_project(tmp_path, "leak", "humanize\n", toml)
    dangling_before = {i.id for i in docker_client.images.list(filters={"dangling": True})}
    built = cli(["env", "build", str(project), "--setup-secret", "MY_TOKEN"],
                env={"MY_TOKEN": SECRET})
    assert built.returncode == 4, built.stderr[-3000:]
    assert "secret scan" in built.stderr and "MY_TOKEN" in built.stderr
    assert "/opt/project-venv/etc" in built.stderr and SECRET not in built.stderr
    assert env_images(docker_client) & {built.stdout.strip()} == set()
    assert not [i for i in docker_client.images.list(filters={"dangling": True})
                if i.labels.get("sandbox-runner.image") == "env" and i.id not in dangling_before]


# --- failures -----------------------------------------------------------------------------


@pytest.mark.parametrize("requirements, extra, step, says", [
    ("nonexistent-pkg-sr-test==9.9\n", "", "pip install", "No matching distribution"),
    ("humanize\n", 'setup = ["echo about to fail", "exit 3"]\n', "setup command 2",
     "exited 3"),
    ("pkg @ http://files.example.com/pkg-1.0-py3-none-any.whl\n", "", "pip install", "403"),
    ("humanize\n", 'base_image = "sandbox-runner-test-missing:nope"\n', "base image",
     "sandbox-runner-test-missing:nope"),
])
def test_build_failures_exit_4_with_the_last_lines_and_nothing_tagged(
        tmp_path: Path, index: PackageIndex, created_images: set[str],
        docker_client: docker.DockerClient, requirements: str, extra: str, step: str,
        says: str) -> None:
    before = env_images(docker_client)
    project = make_project(tmp_path, "bad", requirements, index_toml(index, extra))
    built = cli(["env", "build", str(project)])
    assert built.returncode == 4, built.stdout + built.stderr[-3000:]
    error = built.stderr[built.stderr.index("sandbox-runner: error:"):]
    assert f"failed at {step}" in error and says in error, error
    assert "Traceback" not in built.stderr
    assert env_images(docker_client) == before
    assert setup_containers(docker_client) == []
    if "files.example.com" in requirements:  # refused at the proxy, and logged
        [log_dir] = (project / ".sandbox-runner" / "env-builds").iterdir()
        lines = [json.loads(x) for x in (log_dir / "decisions.jsonl").read_text().splitlines()]
        denied = [x for x in lines if not x["result"]["allow"]]
        assert denied and denied[0]["input"]["connect"]["host"] == "files.example.com"
        assert denied[0]["input"]["connect"]["phase"] == "setup"


def test_a_failed_setup_in_a_run_exits_4_with_a_summary(
        tmp_path: Path, index: PackageIndex, created_images: set[str]) -> None:
    project = make_project(tmp_path, "badrun", "nonexistent-pkg-sr-test==9.9\n",
                           index_toml(index))
    out = tmp_path / "run"
    run = cli(["run", str(project), "--model",
               f"scripted:{one_turn_scenario(tmp_path / 's.yaml')}", "--out", str(out)])
    assert run.returncode == 4, run.stderr[-3000:]
    result = summary(out)
    assert result["exit_code"] == 4 and "pip install" in result["failure"]
    assert "No matching distribution" in result["failure"]


@pytest.mark.skipif(os.environ.get("SANDBOX_RUNNER_NET_TESTS") != "1",
                    reason="uses the real package index: set SANDBOX_RUNNER_NET_TESTS=1")
def test_example_with_the_real_index_and_zero_configuration(
        tmp_path: Path, created_images: set[str], sandbox_image: str) -> None:
    import ipaddress
    import socket

    project = tmp_path / "humanize-api"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("scenario*.yaml"))
    hosts = ["pypi.org", "files.pythonhosted.org"]
    lines = []
    if not all(ipaddress.ip_address(info[4][0]).is_global for host in hosts
               for info in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)):
        # This machine's resolver sends the index to a non-public mirror address, which the
        # proxy's SSRF rule refuses unless the names are allowed to resolve privately ...
        lines.append(f"allow_private = {json.dumps(hosts)}")
        if os.environ.get("PIP_CERT"):  # ... and that mirror's TLS is signed by a local CA
            lines.append(f"ca_bundle = {json.dumps(os.environ['PIP_CERT'])}")
    if lines:
        (project / "sandbox-runner.toml").write_text("[environment]\n" + "\n".join(lines) + "\n")
    out = tmp_path / "run"
    run = cli(["run", str(project), "--model", f"scripted:{EXAMPLE / 'scenario.yaml'}",
               "--out", str(out), "--rebuild-env"])
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((out / "run.json").read_text())
    created_images.add(record["environment"]["image"])
    hosts = {json.loads(x)["input"]["connect"]["host"]
             for x in (out / "decisions.jsonl").read_text().splitlines() if '"connect"' in x}
    assert hosts <= {"pypi.org", "files.pythonhosted.org"} and "pypi.org" in hosts
