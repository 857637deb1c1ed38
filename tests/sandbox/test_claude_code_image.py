"""The claude-code layer (docker): it builds offline, the binary runs hardened, the managed
settings are the agent's to read only, and the builtin runtime's refs do not move."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import docker
import pytest

from runner.config import DockerSandboxConfig
from runner.sandbox import claude_code as cc
from runner.sandbox import image as image_mod
from runner.sandbox.image import (
    CLAUDE_CODE_BIN,
    LABEL_CLAUDE_CODE,
    LABEL_IMAGE,
    LABEL_RUNTIME,
    MANAGED_SETTINGS,
    ensure_image,
    ensure_runtime,
    image_status,
)

pytestmark = pytest.mark.docker

HARDENED = dict(read_only=True, user="10001:10001", cap_drop=["ALL"],
                security_opt=["no-new-privileges"], network_mode="none", remove=True)


def _run(client: docker.DockerClient, image: str, cmd: list[str], **kwargs: object) -> str:
    out = client.containers.run(image, cmd, **{**HARDENED, **kwargs})
    assert isinstance(out, bytes)
    return out.decode()


def test_claude_code_runs_hardened_and_offline(claude_code_image: str,
                                              docker_client: docker.DockerClient) -> None:
    out = _run(docker_client, claude_code_image, [CLAUDE_CODE_BIN, "--version"])
    assert out.strip() == f"{cc.load_pin().version} (Claude Code)"


def test_managed_settings_are_root_owned_and_read_only_for_the_agent(
        claude_code_image: str, docker_client: docker.DockerClient) -> None:
    script = (
        f"stat -c '%U:%G %a' {MANAGED_SETTINGS} /etc/claude-code {CLAUDE_CODE_BIN}; "
        f"if test -w {MANAGED_SETTINGS} || test -w /etc/claude-code || test -w {CLAUDE_CODE_BIN}; "
        "then echo WRITABLE; else echo read-only; fi; "
        f"cat {MANAGED_SETTINGS}"
    )
    # no --read-only here: the file must be protected by its owner and mode, not the mount
    out = _run(docker_client, claude_code_image, ["sh", "-c", script], read_only=False)
    lines = out.splitlines()
    assert lines[:4] == ["root:root 644", "root:root 755", "root:root 755", "read-only"]
    shipped = (image_mod.images_dir() / "claude-code" / "managed-settings.json").read_text()
    assert json.loads("\n".join(lines[4:])) == json.loads(shipped)


def test_the_layer_sets_the_quiet_environment(claude_code_image: str,
                                              docker_client: docker.DockerClient) -> None:
    env = docker_client.images.get(claude_code_image).attrs["Config"]["Env"]
    for var in ("DISABLE_AUTOUPDATER=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
                "DISABLE_TELEMETRY=1", "DISABLE_ERROR_REPORTING=1"):
        assert var in env
    assert docker_client.images.get(claude_code_image).attrs["Config"]["User"] == "10001:10001"


def test_chain_is_base_runtime_claude_code_environment_and_builtin_is_unchanged(
        claude_code_image: str, sandbox_image: str, docker_client: docker.DockerClient) -> None:
    builtin = image_status(DockerSandboxConfig())
    assert builtin.ref == sandbox_image == ensure_image(DockerSandboxConfig(), runtime="builtin")
    assert builtin.claude_code is None
    status = image_status(DockerSandboxConfig(), runtime="claude-code")
    assert status.ref == claude_code_image and status.present and status.runtime_present
    assert status.claude_code is not None and status.claude_code.cached
    assert status.claude_code.layer_present
    env = docker_client.images.get(claude_code_image)
    assert env.labels[LABEL_IMAGE] == "env-default"
    cc_ref = env.labels[LABEL_RUNTIME]
    assert cc_ref == status.runtime_ref and cc_ref.startswith("sandbox-runner-runtime-cc:")
    layer = docker_client.images.get(cc_ref)
    assert layer.labels[LABEL_IMAGE] == "runtime-claude-code"
    assert layer.labels[LABEL_CLAUDE_CODE] == cc.load_pin().version
    assert layer.labels[LABEL_RUNTIME] == builtin.runtime_ref  # on the builtin runtime layer
    assert claude_code_image != sandbox_image
    started = time.monotonic()
    assert ensure_image(DockerSandboxConfig(), runtime="claude-code") == claude_code_image
    assert time.monotonic() - started < 5  # reused: nothing downloaded, nothing built


def test_the_layer_builds_offline_from_changed_inputs(
        claude_code_image: str, docker_client: docker.DockerClient, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A claude-code layer of its own (managed settings that differ by a blank line, so
    Docker's cache cannot skip the check): built --network none from the cached binary,
    then removed; the shared layer stays."""
    images = tmp_path / "images"
    shutil.copytree(image_mod.images_dir(), images)
    settings = images / "claude-code" / "managed-settings.json"
    settings.write_text(settings.read_text() + "\n")
    monkeypatch.setattr(image_mod, "images_dir", lambda: images)
    monkeypatch.setattr(cc, "images_dir", lambda: images)
    lines: list[str] = []
    built = ensure_runtime(DockerSandboxConfig(), progress=lines.append, runtime="claude-code")
    try:
        shared = image_status(DockerSandboxConfig(), runtime="claude-code")
        assert built.ref.startswith("sandbox-runner-runtime-cc:")
        assert any(line.startswith(f"==> built {built.ref}") for line in lines)
        assert not any("downloading" in line for line in lines)  # the cached binary
        assert any("claude --version: 2.1.332 (Claude Code)" in line for line in lines)
        assert shared.runtime_ref == built.ref  # (status also reads the patched inputs)
        out = _run(docker_client, built.ref, [CLAUDE_CODE_BIN, "--version"])
        assert out.strip() == "2.1.332 (Claude Code)"
    finally:
        docker_client.images.remove(built.ref, force=True)
    monkeypatch.undo()
    assert docker_client.images.get(claude_code_image)  # the shared image is untouched


def test_project_environments_go_on_the_claude_code_layer(
        claude_code_image: str, sandbox_image: str, docker_client: docker.DockerClient,
        tmp_path: Path) -> None:
    from runner.config import EnvironmentConfig
    from runner.env.build import environment_status, plan_environment

    plain = tmp_path / "plain"
    plain.mkdir()
    declared = tmp_path / "declared"
    (declared / "backend").mkdir(parents=True)
    (declared / "backend" / "requirements.txt").write_text("fastapi\n")
    sandbox, env = DockerSandboxConfig(), EnvironmentConfig()

    def plan(project: Path, runtime: image_mod.Runtime) -> tuple[str, str | None]:
        got = plan_environment(project, sandbox, env, client=docker_client, runtime=runtime)
        status = environment_status(project, sandbox, env, client=docker_client, runtime=runtime)
        assert status[0] == got.ref
        return got.ref, got.runtime

    assert plan(plain, "claude-code")[0] == claude_code_image
    assert plan(plain, "builtin")[0] == sandbox_image
    cc_ref, cc_below = plan(declared, "claude-code")
    builtin_ref, builtin_below = plan(declared, "builtin")
    assert cc_below is not None and cc_below.startswith("sandbox-runner-runtime-cc:")
    assert builtin_below is not None and builtin_below.startswith("sandbox-runner-runtime:")
    assert cc_ref != builtin_ref and cc_ref.startswith("sandbox-runner-env:")


PROBE = Path(__file__).parent / "cc_probe"
HOOK_AT = "/opt/sandbox-runner/runner/agent/hook.py"


def _probe(client: docker.DockerClient, image: str, *, hook: bool) -> dict[str, str]:
    """Claude Code in the image against a scripted API (one Bash write), hardened, offline;
    the image's managed settings only, with the runner's hook module replaced by a denying
    stub (or absent: a hook that cannot start)."""
    volumes = {str(PROBE): {"bind": "/probe", "mode": "ro"}}
    if hook:
        volumes[str(PROBE / "deny_hook.py")] = {"bind": HOOK_AT, "mode": "ro"}
    out = _run(client, image, ["sh", "/probe/run.sh"], volumes=volumes,
               tmpfs={"/tmp": "rw,exec,size=256m"})
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_managed_hook_fires_despite_user_settings_and_bypass_mode(
        claude_code_image: str, docker_client: docker.DockerClient) -> None:
    got = _probe(docker_client, claude_code_image, hook=True)
    assert got["rc"] == "0" and got["hook_calls"] == "1"
    assert got["written"] == "no" and got["reason"] == "denied by the test hook"


def test_a_hook_that_cannot_start_does_not_let_a_write_through(
        claude_code_image: str, docker_client: docker.DockerClient) -> None:
    """Claude Code treats a hook's failure (exit 1) as non-blocking; bypass mode is disabled
    by the managed settings, so the write still needs a permission -p cannot give."""
    got = _probe(docker_client, claude_code_image, hook=False)
    assert got["rc"] == "0" and got["hook_calls"] == "0" and got["written"] == "no"
