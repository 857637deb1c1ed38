"""Container spec: mounts, masks and hardening as data (no Docker)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from docker.types import Mount

from runner.config import Limits
from runner.errors import ConfigError, ProjectError
from runner.protocol import SOCKET_DIR_IN_CONTAINER
from runner.sandbox.spec import (
    GIT_CONFIG_COPY_NAME,
    LABEL_OWNER_PID,
    LABEL_ROLE,
    LABEL_RUN,
    MASK_FILE_NAME,
    PYCACHE_PREFIX,
    VERIFY_OUT,
    ContainerSpec,
    build_container_spec,
    build_verification_spec,
)
from tests.sandbox.conftest import WRITABLE, make_project


def _spec(tmp_path: Path, **over: object) -> ContainerSpec:
    project = tmp_path / "p"
    if not project.exists():
        make_project(project)
    sock = tmp_path / "sock"
    sock.mkdir(exist_ok=True, mode=0o700)
    args: dict[str, object] = {
        "project": project, "image": "sandbox-runner:abc", "run_id": "r1", "socket_dir": sock,
        "writable": WRITABLE, "secret_paths": [".env", ".ssh/"], "limits": Limits(),
        "uid": 1234, "gid": 2345,
    }
    args.update(over)
    return build_container_spec(**args)  # type: ignore[arg-type]


def _mounts(spec: ContainerSpec) -> dict[str, Mount]:
    return {m["Target"]: m for m in spec.to_run_kwargs()["mounts"]}


def test_project_read_only_and_writable_entries_read_write(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    mounts = _mounts(spec)
    project = (tmp_path / "p").resolve()
    assert mounts["/workspace"]["Source"] == str(project) and mounts["/workspace"]["ReadOnly"]
    assert mounts["/workspace/backend"]["Source"] == str(project / "backend")
    assert mounts["/workspace/backend"]["ReadOnly"] is False
    assert mounts["/workspace/issues.md"]["ReadOnly"] is False
    assert (project / "issues.md").is_file()  # created empty when missing
    assert (project / "issues.md").read_bytes() == b""
    sock = mounts[SOCKET_DIR_IN_CONTAINER]
    assert sock["ReadOnly"] and sock["Source"] == str((tmp_path / "sock").resolve())
    # every bind is read-only except exactly the writable entries
    rw = sorted(t for t, m in mounts.items() if not m["ReadOnly"])
    assert rw == ["/workspace/backend", "/workspace/issues.md"]


def test_missing_backend_is_created(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / "backend" / ".gitkeep").unlink()
    (project / "backend").rmdir()
    _spec(tmp_path)
    assert (project / "backend").is_dir()


def test_secret_files_and_dirs_masked(tmp_path: Path) -> None:
    spec = _spec(tmp_path, secret_paths=[".env", ".ssh/", "missing.pem", ".ssh/id_ed25519"])
    mounts = _mounts(spec)
    env_mask = mounts["/workspace/.env"]
    assert env_mask["ReadOnly"] and env_mask["Source"].endswith(MASK_FILE_NAME)
    assert Path(env_mask["Source"]).read_bytes() == b""
    tmpfs = spec.to_run_kwargs()["tmpfs"]
    assert tmpfs["/workspace/.ssh"].startswith("ro,")
    assert tmpfs["/workspace/.sandbox-runner"].startswith("ro,")
    assert (tmp_path / "p" / ".sandbox-runner").is_dir()
    # nothing to mask for a missing path; nothing inside an already masked directory
    assert "/workspace/missing.pem" not in mounts and "/workspace/.ssh/id_ed25519" not in mounts


def test_symlinked_secret_is_not_mounted_over(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / "prod.key").symlink_to("/etc/hostname")
    mounts = _mounts(_spec(tmp_path, secret_paths=["prod.key"]))
    assert "/workspace/prod.key" not in mounts


def test_hardening(tmp_path: Path) -> None:
    kw = _spec(tmp_path, limits=Limits(memory="1g", cpus=0.5, pids=99, nofile=77,
                                       fsize_mb=3)).to_run_kwargs()
    assert kw["network_mode"] == "none"
    assert kw["read_only"] is True
    assert kw["cap_drop"] == ["ALL"] and "cap_add" not in kw
    assert kw["security_opt"] == ["no-new-privileges:true"]
    assert kw["privileged"] is False
    assert kw["init"] is True
    assert kw["user"] == "1234:2345"
    assert kw["pids_limit"] == 99
    assert kw["mem_limit"] == kw["memswap_limit"] == "1g"
    assert kw["nano_cpus"] == 500_000_000
    ulimits = {u["Name"]: (u["Soft"], u["Hard"]) for u in kw["ulimits"]}
    assert ulimits == {"nofile": (77, 77), "core": (0, 0), "fsize": (3 << 20, 3 << 20)}
    for key in ("pid_mode", "userns_mode", "uts_mode", "devices", "volumes_from", "cgroup_parent"):
        assert key not in kw
    assert kw["ipc_mode"] == "private"
    assert kw["tmpfs"]["/tmp"].startswith("rw,") and "size=256m" in kw["tmpfs"]["/tmp"]
    assert "uid=1234" in kw["tmpfs"]["/home/agent"] and "size=64m" in kw["tmpfs"]["/home/agent"]
    assert kw["working_dir"] == "/workspace"
    assert not any("docker.sock" in str(m["Source"]) for m in kw["mounts"])


def test_labels_and_environment_carry_no_host_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-host-only")
    spec = _spec(tmp_path, run_id="run 42/x", extra_labels={"sandbox-runner.test": "1"})
    kw = spec.to_run_kwargs()
    assert kw["labels"][LABEL_RUN] == "run 42/x"
    assert kw["labels"][LABEL_OWNER_PID] == str(os.getpid())
    assert kw["labels"]["sandbox-runner.test"] == "1"
    assert kw["name"] == "sandbox-runner-run-42-x"
    env = kw["environment"]
    assert set(env) >= {"HOME", "PATH", "PYTHONDONTWRITEBYTECODE"}
    # The agent runtime (/opt/sandbox-runner) is not on the tools' import path: the agent runs
    # its own interpreter by absolute path; the project's python sees only its environment.
    assert "PYTHONPATH" not in env and "/opt/sandbox-runner" not in env["PATH"]
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["HOME"] == "/home/agent"
    assert "sk-ant-host-only" not in repr(kw)
    assert not any("KEY" in k or "TOKEN" in k for k in env)


@pytest.mark.parametrize("uid, gid", [(0, 1000), (1000, 0)])
def test_never_root(tmp_path: Path, uid: int, gid: int) -> None:
    with pytest.raises(ProjectError, match="never runs as root"):
        _spec(tmp_path, uid=uid, gid=gid)


@pytest.mark.parametrize("entry", ["/etc/", "../x", "backend/../../x", "", "./"])
def test_unsafe_writable_entries_refused(tmp_path: Path, entry: str) -> None:
    with pytest.raises(ProjectError, match="relative path inside the project"):
        _spec(tmp_path, writable=[entry])


def test_symlinked_writable_dir_refused(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / "backend" / ".gitkeep").unlink()
    (project / "backend").rmdir()
    (project / "backend").symlink_to(tmp_path)  # would bind the host dir read-write
    with pytest.raises(ProjectError, match="symlink"):
        _spec(tmp_path)


def test_hardlinked_issues_md_refused(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    os.link(project / "README.md", project / "issues.md")
    with pytest.raises(ProjectError, match="hard links"):
        _spec(tmp_path)


def test_socket_dir_is_not_opened_to_other_users(tmp_path: Path) -> None:
    """The socket dir stays 0700 (the run hands it to the sandbox uid: prepare_socket_dir)."""
    _spec(tmp_path)
    assert (tmp_path / "sock").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("limits", [
    Limits(memory="256m", tmp_size="256m"),  # a full /tmp would OOM the run
    # refused by the config model already (tests/cli/test_config_sources.py); the spec
    # checks again for a Limits built without validation
    Limits.model_construct(memory="3x"),
    Limits.model_construct(pids=1),
])
def test_bad_limits_refused(tmp_path: Path, limits: Limits) -> None:
    with pytest.raises(ConfigError, match=r"sandbox\.limits"):
        _spec(tmp_path, limits=limits)


def test_git_config_with_credentials_is_replaced_read_only(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text(
        '[remote "origin"]\n\turl = https://u:hunter2@example.com/r\n')
    spec = _spec(tmp_path)
    (bind,) = [b for b in spec.binds if b.purpose == "sanitized"]
    assert bind.target == "/workspace/.git/config" and bind.read_only
    copy = Path(bind.source)
    assert copy.parent == (tmp_path / "sock").resolve() and copy.name == GIT_CONFIG_COPY_NAME
    assert copy.read_text() == '[remote "origin"]\n\turl = https://example.com/r\n'
    assert copy.stat().st_mode & 0o777 == 0o444
    assert "hunter2" in (project / ".git" / "config").read_text()  # the real file is untouched
    (project / ".git" / "config").write_text("[core]\n\tbare = false\n")
    assert not [b for b in _spec(tmp_path).binds if b.purpose == "sanitized"]


def test_verification_spec_has_the_run_hardening_and_only_out_writable(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text(
        '[remote "origin"]\n\turl = https://user:hunter2@example.com/r.git\n')
    scratch, out = tmp_path / "scratch", tmp_path / "out"
    scratch.mkdir()
    out.mkdir()
    limits = Limits(memory="1g", cpus=0.5, pids=99)
    spec = build_verification_spec(
        project=project, image="sandbox-runner:abc", run_id="r1", scratch_dir=scratch,
        out_dir=out, secret_paths=[".env", ".ssh/"], limits=limits, uid=1234, gid=2345,
        command=["pytest"], environment={"JUNIT_XML": "/out/junit.xml", "PATH": "/bin"},
        extra_labels={"sandbox-runner.test": "1"})
    agent = _spec(tmp_path, limits=limits)
    kw, agent_kw = spec.to_run_kwargs(), agent.to_run_kwargs()
    for key in ("network_mode", "read_only", "cap_drop", "security_opt", "privileged", "init",
                "ipc_mode", "user", "pids_limit", "mem_limit", "memswap_limit", "nano_cpus",
                "ulimits", "tmpfs", "working_dir", "stdin_open"):
        assert kw[key] == agent_kw[key], key
    mounts = _mounts(spec)
    assert sorted(t for t, m in mounts.items() if not m["ReadOnly"]) == [VERIFY_OUT]
    assert mounts[VERIFY_OUT]["Source"] == str(out)
    assert mounts["/workspace"]["ReadOnly"] and "/workspace/backend" not in mounts  # no rw bind
    assert SOCKET_DIR_IN_CONTAINER not in mounts
    assert mounts["/workspace/.env"]["Source"] == str(scratch.resolve() / MASK_FILE_NAME)
    git = Path(mounts["/workspace/.git/config"]["Source"])
    assert git.parent == scratch.resolve() and "hunter2" not in git.read_text()
    assert kw["labels"][LABEL_ROLE] == "verify" and kw["labels"]["sandbox-runner.test"] == "1"
    assert kw["labels"][LABEL_RUN] == "r1" and kw["name"] == "sandbox-runner-r1-verify"
    assert kw["command"] == ["pytest"]
    env = kw["environment"]
    assert "SANDBOX_RUNNER_WRITABLE" not in env and env["JUNIT_XML"] == "/out/junit.xml"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONPYCACHEPREFIX"] == PYCACHE_PREFIX
    assert env["PATH"] == "/bin" and env["SANDBOX_RUNNER_RUN_ID"] == "r1"
    # what the engine keeps of the main process's output: nothing for the agent (the host
    # reads it through the attach), a bounded log for the verification (its tail is read)
    assert agent_kw["log_config"]["Type"] == "none"
    assert kw["log_config"]["Type"] == "json-file"
    assert kw["log_config"]["Config"] == {"max-size": "4m", "max-file": "1"}
