"""Real containers: hardening, self-check, kernel-level scope, masks, ownership, cleanup.

One module-scoped container (project owned by root -> fallback uid 10001) serves every test
that only probes; the lifecycle tests start a few short-lived ones. All carry the test label.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from docker.errors import NotFound
from docker.utils import parse_bytes

from runner.config import DockerSandboxConfig, Limits
from runner.errors import RunFailed
from runner.sandbox.deployment import DockerDeployment, remove_leftovers
from runner.sandbox.masks import find_secret_paths
from runner.sandbox.ownership import SandboxIdentity, sandbox_identity, writable_ownership
from runner.sandbox.selfcheck import run_self_check
from runner.sandbox.spec import LABEL_OWNER_PID, ContainerSpec, build_container_spec
from tests.sandbox.conftest import TEST_LABELS, WRITABLE, is_secret, make_project, snapshot

pytestmark = pytest.mark.docker

HOST_KEY = "sk-ant-api03-HOSTONLY-" + uuid.uuid4().hex
LIMITS = Limits(memory="512m", cpus=1.0, pids=128, nofile=512, fsize_mb=64)


@dataclass
class Box:
    project: Path
    spec: ContainerSpec
    dep: DockerDeployment
    ident: SandboxIdentity
    secrets: list[str]
    before: dict[str, bytes]


def _spec(image: str, project: Path, sock: Path, ident: SandboxIdentity, secrets: list[str],
          **labels: str) -> ContainerSpec:
    return build_container_spec(
        project=project, image=image, run_id=f"test-{uuid.uuid4().hex[:10]}", socket_dir=sock,
        writable=WRITABLE, secret_paths=secrets, limits=LIMITS, uid=ident.uid, gid=ident.gid,
        extra_labels={**TEST_LABELS, **labels},
    )


@pytest.fixture(scope="module")
def box(sandbox_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    base = tmp_path_factory.mktemp("box")
    project = make_project(base / "project")
    os.chown(project, 0, 0)
    (project / "issues.md").write_text("")
    sock = base / "sock"
    sock.mkdir()
    secrets = find_secret_paths(project, is_secret)
    ident = sandbox_identity(project, DockerSandboxConfig())
    before = snapshot(project)
    old = os.environ.get("ANTHROPIC_API_KEY")
    os.environ["ANTHROPIC_API_KEY"] = HOST_KEY
    try:
        with writable_ownership(project, WRITABLE, ident.uid, ident.gid):
            spec = _spec(sandbox_image, project, sock, ident, secrets)
            with DockerDeployment(spec) as dep:
                yield Box(project, spec, dep, ident, secrets, before)
    finally:
        if old is None:
            os.environ.pop("ANTHROPIC_API_KEY", None)
        else:
            os.environ["ANTHROPIC_API_KEY"] = old


def sh(box: Box, script: str) -> tuple[int, str]:
    res = box.dep.runtime.exec(["sh", "-c", script], timeout=30)
    return res.returncode, res.stdout + res.stderr


def py(box: Box, code: str) -> str:
    res = box.dep.runtime.exec(["python3", "-c", code], timeout=30)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


# --- hardening as Docker reports it -----------------------------------------------------


def test_hardening_in_inspect(box: Box) -> None:
    doc = box.dep.inspect()
    hc = doc["HostConfig"]
    assert hc["CapDrop"] == ["ALL"] and not hc["CapAdd"]
    assert hc["ReadonlyRootfs"] is True
    assert hc["NetworkMode"] == "none"
    assert "no-new-privileges:true" in hc["SecurityOpt"]
    assert hc["Privileged"] is False
    assert hc["Init"] is True
    assert hc["PidsLimit"] == LIMITS.pids
    assert hc["Memory"] == hc["MemorySwap"] == parse_bytes(LIMITS.memory)
    assert hc["NanoCpus"] == int(LIMITS.cpus * 1e9)
    assert hc["PidMode"] == "" and hc["UTSMode"] == "" and hc["UsernsMode"] == ""
    assert hc["IpcMode"] == "private"
    assert not hc["Devices"]
    ulimits = {u["Name"]: u["Hard"] for u in hc["Ulimits"]}
    assert ulimits == {"nofile": 512, "core": 0, "fsize": 64 << 20}
    user = doc["Config"]["User"]
    assert user == "10001:10001" and not user.startswith("0")
    sources = [m.get("Source", "") for m in doc["Mounts"]]
    assert not any("docker.sock" in s for s in sources)
    rw = sorted(m["Destination"] for m in doc["Mounts"] if m["RW"])
    assert rw == ["/workspace/backend", "/workspace/issues.md"]
    assert set(hc["Tmpfs"]) >= {"/tmp", "/home/agent", "/workspace/.sandbox-runner",
                                "/workspace/.ssh"}
    assert doc["Config"]["Labels"]["sandbox-runner.test"] == "1"


def test_limits_seen_from_inside(box: Box) -> None:
    out = py(box, "import resource as r; print([r.getrlimit(x) for x in "
                  "(r.RLIMIT_NOFILE, r.RLIMIT_CORE, r.RLIMIT_FSIZE)])")
    assert out == f"[(512, 512), (0, 0), ({64 << 20}, {64 << 20})]"


def test_self_check_all_green(box: Box) -> None:
    result = run_self_check(
        box.dep.runtime, writable=WRITABLE, pids_limit=LIMITS.pids, secret_paths=box.secrets,
        memory_bytes=parse_bytes(LIMITS.memory),
    )
    assert result.ok, [c for c in result.checks if not c.ok]
    names = {c.name for c in result.checks}
    assert {"uid_not_root", "capabilities_dropped", "no_new_privileges", "rootfs_read_only",
            "workspace_read_only", "writable:backend", "writable:issues.md",
            "network_loopback_only", "network_connect_fails", "pids_limit",
            "masks_hide_secrets", "socket_dir_read_only", "no_docker_socket"} <= names


def test_self_check_reports_a_wrong_limit(box: Box) -> None:
    result = run_self_check(box.dep.runtime, writable=WRITABLE, pids_limit=LIMITS.pids + 1)
    assert not result.ok and result.failed == ["pids_limit"]


# --- scope at the kernel ---------------------------------------------------------------


@pytest.mark.parametrize("script", [
    "touch /workspace/x",
    "echo x > backend/../x",
    "cd backend && cd .. && touch x",
    "echo x > /workspace/frontend/app.js",
    "echo x >> /workspace/README.md",
    "mkdir /workspace/frontend/new",
    "rm /workspace/architecture/backend.md",
    "mv /workspace/README.md /workspace/backend/stolen",
    "echo x > /proc/self/root/workspace/x",
    "echo x > /proc/1/root/workspace/frontend/app.js",
    "git -C /workspace init",
    "touch /etc/x /usr/x /opt/project-venv/x /opt/sandbox-runner/venv/x",
    "echo x > /run/sandbox-runner/x",
])
def test_writes_outside_backend_fail(box: Box, script: str) -> None:
    code, out = sh(box, script)
    assert code != 0, out
    assert any(s in out for s in ("Read-only file system", "Permission denied",
                                  "Operation not permitted", "Device or resource busy")), out
    assert snapshot(box.project) == box.before


def test_symlink_in_backend_pointing_out_cannot_be_written_through(box: Box) -> None:
    _, out = sh(box, "ln -sfn /workspace/frontend backend/out && ln -sfn ../README.md "
                      "backend/readme && ln -sfn /etc/passwd backend/passwd; "
                        "echo pwned > backend/out/app.js; echo \"a=$?\"; "
                        "echo pwned > backend/readme; echo \"b=$?\"; "
                        "echo pwned >> backend/passwd; echo \"c=$?\"")
    assert "a=0" not in out and "b=0" not in out and "c=0" not in out, out
    assert out.count("Read-only file system") == 2 and "Permission denied" in out
    assert snapshot(box.project) == box.before
    assert (box.project / "backend" / "out").is_symlink()  # the link itself lives in backend/
    sh(box, "rm -f backend/out backend/readme backend/passwd")


def test_hardlink_from_backend_to_outside_fails(box: Box) -> None:
    out = py(box, "import os, errno\n"
                  "try:\n os.link('/workspace/frontend/app.js', '/workspace/backend/hl')\n"
                  " print('linked')\nexcept OSError as e: print(errno.errorcode[e.errno])")
    assert out in {"EXDEV", "EPERM"}, out
    assert not (box.project / "backend" / "hl").exists()


def test_mount_and_namespaces_refused(box: Box) -> None:
    for script in ("mount -t tmpfs none /tmp", "unshare -U -r true", "unshare -m true",
                   "chroot / true"):
        code, out = sh(box, script)
        assert code != 0, (script, out)


def test_write_in_backend_lands_on_host_as_sandbox_uid(box: Box) -> None:
    code, out = sh(box, "echo 'def f(): return 1' > backend/app.py && echo entry >> issues.md")
    assert code == 0, out
    st = (box.project / "backend" / "app.py").stat()
    assert (st.st_uid, st.st_gid) == (10001, 10001)
    assert (box.project / "issues.md").read_text() == "entry\n"


# --- secrets ---------------------------------------------------------------------------


def test_secret_files_are_masked(box: Box) -> None:
    assert ".env" in box.secrets and ".ssh/" in box.secrets
    assert box.dep.runtime.read_file("/workspace/.env") == b""
    assert box.dep.runtime.read_file("/workspace/config/service-account-prod.json") == b""
    assert box.dep.runtime.read_file("/workspace/.env.example") == b"API_TOKEN=\n"
    code, out = sh(box, "ls -A /workspace/.ssh /workspace/.sandbox-runner; "
                        "grep -r sk-test /workspace; echo done")
    assert "id_ed25519" not in out and "sk-test" not in out and out.strip().endswith("done")
    code, out = sh(box, "echo x > /workspace/.env")
    assert code != 0
    assert (box.project / ".env").read_text().startswith("API_TOKEN=sk-test")


def test_host_api_key_is_not_visible(box: Box) -> None:
    code, out = sh(box, "env; cat /proc/1/environ /proc/self/environ 2>/dev/null | tr '\\0' '\\n'")
    assert code == 0
    assert HOST_KEY not in out and "ANTHROPIC_API_KEY" not in out


def test_no_network(box: Box) -> None:
    out = py(box, "import socket\ns=socket.socket()\ns.settimeout(3)\n"
                  "try:\n s.connect(('172.17.0.1', 443)); print('connected')\n"
                  "except OSError as e: print(type(e).__name__)")
    assert out != "connected"


# --- exec API --------------------------------------------------------------------------


def test_exec_timeout_kills_the_command(box: Box) -> None:
    started = time.monotonic()
    res = box.dep.runtime.exec(["sh", "-c", "sleep 300 & sleep 300"], timeout=1)
    assert res.timed_out and time.monotonic() - started < 120  # the timeout, not the 300 s command
    # Only the idle `sleep infinity` is left: the whole group was killed (an event: waited for,
    # bounded, since the kill is asynchronous).
    count_sleeps = (
        "import glob, time\n"
        "def sleeps():\n"
        "    n = 0\n"
        "    for p in glob.glob('/proc/[0-9]*/comm'):\n"
        "        try:\n"
        "            n += open(p).read().strip() == 'sleep'\n"
        "        except OSError:\n"
        "            pass\n"
        "    return n\n"
        "end = time.monotonic() + 20\n"
        "while sleeps() != 1 and time.monotonic() < end:\n"
        "    time.sleep(0.05)\n"
        "print(sleeps())\n")
    out = py(box, count_sleeps)
    assert out == "1"


def test_exec_stream_output_limit_and_files(box: Box) -> None:
    lines: list[tuple[str, str]] = []
    res = box.dep.runtime.exec_stream(["sh", "-c", "echo one; echo two >&2; printf three"],
                                      lambda s, line: lines.append((s, line)))
    assert res.returncode == 0 and res.stdout == "one\nthree" and res.stderr == "two\n"
    assert sorted(lines) == [("stderr", "two"), ("stdout", "one"), ("stdout", "three")]
    big = box.dep.runtime.exec(["head", "-c", "300000", "/dev/zero"], output_limit=1000)
    assert big.truncated and len(big.stdout) == 1000
    box.dep.runtime.write_file("/workspace/backend/data.bin", bytes(range(256)) * 4)
    assert box.dep.runtime.read_file("/workspace/backend/data.bin") == bytes(range(256)) * 4
    with pytest.raises(OSError) as info:
        box.dep.runtime.write_file("/workspace/frontend/app.js", b"x")
    assert info.value.errno in (errno.EROFS, errno.EACCES)
    with pytest.raises(FileNotFoundError):
        box.dep.runtime.read_file("/workspace/nope")


def test_image_toolchain_runs_offline(box: Box) -> None:
    out = py(box, "import httpx, pydantic, fastapi, uvicorn, sqlalchemy, argon2, "
                  "bcrypt, jwt, pytest, pytest_cov, coverage; print('ok')")
    assert out == "ok"
    res = box.dep.runtime.exec(
        ["/opt/sandbox-runner/venv/bin/python", "-P", "-c",
         "import httpx, pydantic, runner.protocol, runner.agent.loop; print('ok')"],
        timeout=30)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
    code, out = sh(box, "git --version && python3 --version")
    assert code == 0 and "git version" in out and "Python 3.11" in out


def test_memory_bomb_is_oom_killed_and_reported(box: Box) -> None:
    res = box.dep.runtime.exec(["python3", "-c", "x = bytearray(900 << 20); print('alive')"],
                               timeout=60)
    assert res.returncode == 137 and "alive" not in res.stdout
    assert box.dep.oom_killed()
    assert box.dep.is_alive()  # the container (and the run) survive to report it


def test_fork_bomb_hits_the_pids_limit(box: Box) -> None:
    res = box.dep.runtime.exec(
        ["sh", "-c", "for i in $(seq 400); do sleep 3 & done 2>&1 | tail -1; wait"], timeout=30,
    )
    assert "fork" in (res.stdout + res.stderr).lower()


# --- lifecycle -------------------------------------------------------------------------


def _gone(client: docker.DockerClient, cid: str) -> bool:
    try:
        client.containers.get(cid)
    except NotFound:
        return True
    return False


def test_owner_uid_and_stop_removes(sandbox_image: str, tmp_path: Path,
                                    docker_client: docker.DockerClient) -> None:
    project = make_project(tmp_path / "p")
    for dirpath, dirnames, filenames in os.walk(project):
        for name in [*dirnames, *filenames, "."]:
            os.lchown(Path(dirpath) / name, 4242, 4343)
    (tmp_path / "s").mkdir()
    ident = sandbox_identity(project, DockerSandboxConfig())
    assert (ident.uid, ident.gid) == (4242, 4343)
    dep = DockerDeployment(_spec(sandbox_image, project, tmp_path / "s", ident, []),
                           client=docker_client)
    dep.start()
    cid = dep.container_id
    assert cid and dep.is_alive()
    res = dep.runtime.exec(["sh", "-c", "id -u; echo hi > backend/by-agent.txt"])
    assert res.stdout.strip() == "4242"
    st = (project / "backend" / "by-agent.txt").stat()
    assert (st.st_uid, st.st_gid) == (4242, 4343)
    dep.stop()
    dep.stop()  # idempotent
    assert not dep.is_alive() and _gone(docker_client, cid)


def test_exception_in_context_removes_and_hands_back(sandbox_image: str, tmp_path: Path,
                                                     docker_client: docker.DockerClient) -> None:
    project = make_project(tmp_path / "p")
    os.chown(project, 0, 0)
    (tmp_path / "s").mkdir()
    ident = sandbox_identity(project, DockerSandboxConfig())
    cid = None
    with pytest.raises(RuntimeError, match="boom"), \
            writable_ownership(project, WRITABLE, ident.uid, ident.gid), \
            DockerDeployment(_spec(sandbox_image, project, tmp_path / "s", ident, []),
                             client=docker_client) as dep:
        cid = dep.container_id
        dep.runtime.exec(["sh", "-c", "echo hi > backend/new.txt"])
        assert (project / "backend" / "new.txt").stat().st_uid == 10001
        raise RuntimeError("boom")
    assert cid and _gone(docker_client, cid)
    for rel in ("backend", "backend/new.txt", "issues.md"):
        st = (project / rel).stat()
        assert (st.st_uid, st.st_gid) == (0, 0), rel


def _named(client: docker.DockerClient, name: str) -> list[str]:
    return [str(c.id) for c in client.containers.list(all=True, filters={"name": f"^/{name}$"})]


def test_background_start_runs_the_same_container(sandbox_image: str, tmp_path: Path,
                                                  docker_client: docker.DockerClient) -> None:
    project = make_project(tmp_path / "p")
    (tmp_path / "s").mkdir()
    ident = sandbox_identity(project, DockerSandboxConfig())
    spec = _spec(sandbox_image, project, tmp_path / "s", ident, [])
    dep = DockerDeployment(spec, client=docker_client)
    try:
        dep.start_background()
        dep.wait_started()
        cid = dep.container_id
        assert cid and dep.is_alive() and _named(docker_client, spec.name) == [cid]
        attrs = dep.inspect()["HostConfig"]
        assert attrs["ReadonlyRootfs"] and attrs["CapDrop"] == ["ALL"]
        assert dep.runtime.exec(["id", "-u"]).stdout.strip() == str(ident.uid)
    finally:
        dep.stop()
    assert _gone(docker_client, cid)


def test_stop_during_background_start_removes_the_container(
        sandbox_image: str, tmp_path: Path, docker_client: docker.DockerClient) -> None:
    project = make_project(tmp_path / "p")
    (tmp_path / "s").mkdir()
    ident = sandbox_identity(project, DockerSandboxConfig())
    spec = _spec(sandbox_image, project, tmp_path / "s", ident, [])
    dep = DockerDeployment(spec, client=docker_client)
    dep.start_background()
    dep.stop()  # at once: it waits for the create/start under way, then removes
    dep.wait_started()  # the thread is done (the start itself succeeded: nothing to raise)
    assert _named(docker_client, spec.name) == [] and dep.container_id is None


def test_background_start_failure_is_raised_by_wait_started(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    project = make_project(tmp_path / "p")
    (tmp_path / "s").mkdir()
    ident = sandbox_identity(project, DockerSandboxConfig())
    spec = _spec(f"sandbox-runner-no-such-image:{uuid.uuid4().hex[:12]}", project,
                 tmp_path / "s", ident, [])
    dep = DockerDeployment(spec, client=docker_client)
    dep.start_background()
    with pytest.raises(RunFailed, match="could not be created"):
        dep.wait_started()
    dep.stop()
    assert _named(docker_client, spec.name) == [] and dep.container_id is None


def test_remove_leftovers_takes_only_orphans(sandbox_image: str, tmp_path: Path,
                                            docker_client: docker.DockerClient) -> None:
    project = make_project(tmp_path / "p")
    (tmp_path / "s").mkdir()
    ident = SandboxIdentity(uid=10001, gid=10001, owner_uid=0, owner_gid=0)
    dead = subprocess.Popen(["true"])
    dead.wait()
    mark = {"sandbox-runner.test-id": uuid.uuid4().hex}
    orphan = _spec(sandbox_image, project, tmp_path / "s", ident, [],
                   **{**mark, LABEL_OWNER_PID: str(dead.pid)})
    live = _spec(sandbox_image, project, tmp_path / "s", ident, [], **mark)
    made = [docker_client.containers.create(**s.to_run_kwargs()) for s in (orphan, live)]
    try:
        removed = remove_leftovers(docker_client, labels=mark)
        assert removed == [orphan.name]
        assert _gone(docker_client, str(made[0].id)) and not _gone(docker_client, str(made[1].id))
        assert remove_leftovers(docker_client, labels=mark, include_live_owners=True) == [live.name]
    finally:
        for c in made:
            with contextlib.suppress(NotFound):
                c.remove(force=True)
