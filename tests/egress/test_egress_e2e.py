"""Egress end to end: ``sandbox-runner run --allow-host`` in a real sandbox, the real relay in
the container, the real proxy on the host, a package index in a container of its own.

The "Done when" of issue 10 with the real index replaced by a local one: the agent's
``pip download`` goes through the proxy (plain-HTTP forwarding), every connection is a
``connect`` line of decisions.jsonl that ``audit verify`` accepts, any other host is refused
at the proxy with the policy's reason and logged, a name resolving to loopback is refused
(SSRF), a process without the token is refused, nothing hangs. One opt-in test uses the real
index (``SANDBOX_RUNNER_NET_TESTS=1``).
"""

from __future__ import annotations

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

from tests.egress.index import PackageIndex, package_index

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "runner.cli"]
PROBE = Path(__file__).with_name("egress_probe.py")

pytestmark = pytest.mark.docker


def cli(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO, check=False)


def project_with_probe(base: Path) -> Path:
    project = base / "proj"
    shutil.copytree(REPO / "examples" / "minimal", project,
                    ignore=shutil.ignore_patterns("scenario*.yaml"))
    shutil.copy(PROBE, project / "backend" / "egress_probe.py")
    return project


def scenario(path: Path, *turns: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"turns": [{"text": f"step {i}", "tool_calls": calls}
                                              for i, calls in enumerate(turns, 1)]}))
    return path


def bash(command: str) -> dict[str, Any]:
    return {"name": "Bash", "input": {"command": command}}


def tool_outputs(run_dir: Path) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for line in (run_dir / "transcript.jsonl").read_text().splitlines():
        for msg in json.loads(line)["request"].get("messages", []):
            content = msg.get("content")
            for block in content if isinstance(content, list) else []:
                if block.get("type") == "tool_result" and block["tool_use_id"] not in seen:
                    seen.add(block["tool_use_id"])
                    parts = block.get("content")
                    out.append("".join(p.get("text", "") for p in parts)
                               if isinstance(parts, list) else str(parts))
    return out


def decisions(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "decisions.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> Iterator[PackageIndex]:
    with package_index(tmp_path_factory.mktemp("index")) as idx:
        yield idx


@pytest.fixture(scope="module")
def egress_run(tmp_path_factory: pytest.TempPathFactory, index: PackageIndex,
               ) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    base = tmp_path_factory.mktemp("egress")
    project = project_with_probe(base)
    probe = {"urls": ["http://evil.example/x", f"{index.url}tinypkg/", "https://example.com/"],
             "raw": [f"http://localhost:{index.port}/"],
             "socket": "/run/sandbox-runner/egress.sock"}
    script = scenario(
        base / "scenario.yaml",
        [bash(f"pip download --no-deps --index-url {index.url} --trusted-host {index.address} "
              "-d backend/dl tinypkg")],
        [{"name": "Write", "input": {"file_path": "backend/probe.json",
                                     "content": json.dumps(probe)}}],
        [bash("python3 backend/egress_probe.py backend/probe.json")],
    )
    out = base / "run"
    proc = cli(["run", str(project), "--model", f"scripted:{script}", "--out", str(out),
                "--allow-host", index.allow, "--allow-host", f"localhost:{index.port}",
                "--skip-verify", "--json"])
    return project, out, proc


def test_pip_download_through_the_proxy_is_logged_and_verifies(
        egress_run: tuple[Path, Path, subprocess.CompletedProcess[str]],
        index: PackageIndex) -> None:
    project, out, proc = egress_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [p.name for p in (project / "backend" / "dl").iterdir()] == [
        "tinypkg-1.0-py2.py3-none-any.whl"]
    pip_output = tool_outputs(out)[0]
    assert "Successfully downloaded tinypkg" in pip_output
    connects = [d for d in decisions(out) if d["input"].get("kind") == "connect"]
    pip_connects = [d for d in connects if d["input"]["connect"]["host"] == index.address]
    assert len(pip_connects) >= 2  # the project page and the wheel, each its own connection
    for d in pip_connects:
        assert d["result"] == {"allow": True, "reasons": []}
        assert d["input"]["connect"] == {"host": index.address, "port": index.port,
                                         "phase": "agent", "method": "GET", "runtime": "builtin"}
    egress = [json.loads(line) for line in (out / "egress.jsonl").read_text().splitlines()]
    forwarded = [e for e in egress if e["outcome"] == "forwarded"]
    assert {e["decision_id"] for e in forwarded} >= {d["decision_id"] for d in pip_connects}
    assert all(e["address"] == index.address for e in forwarded)
    verify = cli(["audit", "verify", str(out)])
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"ok: {len(decisions(out))} decisions" in verify.stdout
    assert f"egress: {len(connects)} connection decisions" in verify.stdout
    show = cli(["audit", "show", str(out), "--json"])
    rows = [json.loads(line) for line in show.stdout.splitlines()]
    assert any(r["tool"] == "connect" and r["summary"] == f"GET {index.allow} (agent)"
               for r in rows)
    summary = json.loads(proc.stdout)
    assert summary["egress"]["allowlist"] == [index.allow, f"localhost:{index.port}"]
    assert summary["decisions"]["by_tool"]["connect"]["allowed"] >= 2
    assert summary["egress"]["bytes_down"] > 900  # the wheel came through


def test_other_hosts_loopback_names_and_tokenless_sockets_are_refused(
        egress_run: tuple[Path, Path, subprocess.CompletedProcess[str]],
        index: PackageIndex) -> None:
    _, out, proc = egress_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    probe = tool_outputs(out)[2]
    lines = {line.split(" -> ")[0]: line.split(" -> ", 1)[1]
             for line in probe.splitlines() if " -> " in line}
    proxy = "http://127.0.0.1:3128"
    assert f"proxy variables: ['{proxy}', '{proxy}', 'localhost,127.0.0.1,::1']" in probe
    evil = lines["fetch http://evil.example/x"]
    assert evil.startswith("403 sandbox-runner egress proxy: denied by policy: "
                           "network/connect_not_allowed: connection to evil.example:80 (GET, "
                           "agent phase)")
    assert lines[f"fetch {index.url}tinypkg/"].startswith("200 ")
    assert "Tunnel connection failed: 403" in lines["fetch https://example.com/"]
    ssrf = lines[f"relay http://localhost:{index.port}/"]
    assert ssrf.startswith("HTTP/1.1 403 Forbidden") and "resolves to 127.0.0.1 (loopback)" in ssrf
    assert lines["socket without token"].startswith("HTTP/1.1 407 ")
    logged = {(d["input"]["connect"]["host"], d["input"]["connect"]["port"]): d["result"]["allow"]
              for d in decisions(out) if d["input"].get("kind") == "connect"}
    assert logged[("evil.example", 80)] is False and logged[("example.com", 443)] is False
    assert logged[("localhost", index.port)] is True  # allowed by the policy, refused by address
    assert logged[("sandbox-runner-selfcheck.invalid", 443)] is False  # the self-check's
    egress = json.loads(proc.stdout)["egress"]
    assert egress["addresses_refused"] == 1 and egress["refused"] >= 2
    assert "REFUSED connect localhost" in proc.stderr


def test_the_self_check_proves_egress_from_inside(
        egress_run: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    _, out, _ = egress_run
    record = json.loads((out / "run.json").read_text())
    checks = {c["name"]: c for c in record["self_check"]}
    assert checks["egress_direct_connect_fails"]["ok"]
    assert checks["egress_proxy_refuses_unlisted_host"]["ok"]
    assert "403 Forbidden" in checks["egress_proxy_refuses_unlisted_host"]["detail"]
    assert record["egress"]["relay"] == "127.0.0.1:3128"


def test_without_allowed_hosts_there_is_no_proxy(tmp_path: Path, sandbox_image: str,
                                                 docker_client: docker.DockerClient) -> None:
    project = project_with_probe(tmp_path)
    probe = {"urls": ["http://pypi.org/simple/"], "raw": [],
             "socket": "/run/sandbox-runner/egress.sock"}
    script = scenario(tmp_path / "scenario.yaml",
                      [{"name": "Write", "input": {"file_path": "backend/probe.json",
                                                   "content": json.dumps(probe)}}],
                      [bash("python3 backend/egress_probe.py backend/probe.json")])
    out = tmp_path / "run"
    proc = cli(["run", str(project), "--model", f"scripted:{script}", "--out", str(out),
                "--skip-verify", "--json"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    probe_out = tool_outputs(out)[1]
    assert "proxy variables: [None, None, None]" in probe_out
    assert "fetch http://pypi.org/simple/ -> error" in probe_out  # no network at all
    assert "FileNotFoundError" in probe_out  # no egress socket in the socket directory
    assert not (out / "egress.jsonl").exists()
    record = json.loads((out / "run.json").read_text())
    assert record["egress"] is None
    assert not any(c["name"].startswith("egress") for c in record["self_check"])
    assert json.loads(proc.stdout)["egress"] is None
    assert all(d["input"].get("kind") != "connect" for d in decisions(out))
    leftovers = docker_client.containers.list(all=True, filters={"label": "sandbox-runner.run"})
    assert not [c for c in leftovers if c.labels.get("sandbox-runner.run") == record["id"]]


@pytest.mark.network
@pytest.mark.skipif(os.environ.get("SANDBOX_RUNNER_NET_TESTS") != "1",
                    reason="uses the real package index: set SANDBOX_RUNNER_NET_TESTS=1")
def test_pip_download_from_the_real_index_with_the_python_preset(tmp_path: Path,
                                                                 sandbox_image: str) -> None:
    project = project_with_probe(tmp_path)
    hosts = ("pypi.org", "files.pythonhosted.org")
    if _resolved_privately(hosts):
        # A resolver that answers with non-public addresses (an intercepting mirror, as in
        # some CI sandboxes) is refused by the SSRF rule unless allowed explicitly.
        (project / "sandbox-runner.toml").write_text(
            f"[egress]\nallow_private = {json.dumps(list(hosts))}\n")
    # The host's trust store, for a network that intercepts TLS with its own CA (the proxy
    # never terminates TLS: the client in the sandbox verifies the upstream itself).
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", project / "backend" / "host-ca.crt")
    script = scenario(tmp_path / "scenario.yaml", [bash(
        "pip download --no-deps --cert backend/host-ca.crt -d backend/dl six==1.16.0")])
    out = tmp_path / "run"
    proc = cli(["run", str(project), "--model", f"scripted:{script}", "--out", str(out),
                "--allow-preset", "python", "--skip-verify", "--json"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Successfully downloaded six" in tool_outputs(out)[0]
    hosts = {(d["input"]["connect"]["host"], d["input"]["connect"]["method"])
             for d in decisions(out)
             if d["input"].get("kind") == "connect" and d["result"]["allow"]}
    assert {("pypi.org", "CONNECT"), ("files.pythonhosted.org", "CONNECT")} <= hosts
    assert cli(["audit", "verify", str(out)]).returncode == 0


def _resolved_privately(hosts: tuple[str, ...]) -> bool:
    import ipaddress
    import socket

    from runner.egress.hosts import address_kind

    for host in hosts:
        for info in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM):
            if address_kind(ipaddress.ip_address(str(info[4][0]))) is not None:
                return True
    return False
