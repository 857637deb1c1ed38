"""The image: input hash (unit) and a stable tag with no rebuild (docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.config import DockerSandboxConfig
from runner.sandbox import image as image_mod
from runner.sandbox.image import (
    AGENT_DEST,
    DEFAULT_ENV_LAYER,
    RUNTIME_LAYER,
    compute_inputs_hash,
    context_files,
    ensure_image,
    image_ref,
    image_status,
    wheelhouse_dir,
)

FILES = [("Dockerfile", b"FROM x\n"), ("requirements.txt", b"a==1\n")]


def test_hash_is_deterministic_and_order_independent() -> None:
    assert compute_inputs_hash(FILES, "sha256:b") == compute_inputs_hash(FILES[::-1], "sha256:b")


@pytest.mark.parametrize(
    "files, base",
    [
        ([("Dockerfile", b"FROM y\n"), FILES[1]], "sha256:b"),  # content
        ([("Dockerfile2", b"FROM x\n"), FILES[1]], "sha256:b"),  # name
        ([*FILES, ("sandbox-runner/runner/agent/x.py", b"")], "sha256:b"),  # a new agent file
        (FILES, "sha256:c"),  # base image id
    ],
)
def test_hash_changes_with_every_input(files: list[tuple[str, bytes]], base: str) -> None:
    assert compute_inputs_hash(files, base) != compute_inputs_hash(FILES, "sha256:b")


def test_hash_differs_between_layers() -> None:
    assert (compute_inputs_hash(FILES, "sha256:b", RUNTIME_LAYER.kind)
            != compute_inputs_hash(FILES, "sha256:b", DEFAULT_ENV_LAYER.kind))


def test_image_ref_is_repo_and_12_hex() -> None:
    digest = compute_inputs_hash(FILES, "sha256:b")
    assert image_ref(digest) == f"sandbox-runner:{digest[:12]}"
    assert image_ref(digest, RUNTIME_LAYER) == f"sandbox-runner-runtime:{digest[:12]}"
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_context_files_cover_dockerfile_pins_and_agent_code() -> None:
    names = [name for name, _ in context_files(RUNTIME_LAYER)]
    assert "Dockerfile" in names and "requirements.txt" in names and "gitconfig" in names
    assert f"{AGENT_DEST}/runner/__init__.py" in names
    assert f"{AGENT_DEST}/runner/protocol.py" in names
    assert not any(n.endswith(".pyc") or "__pycache__" in n for n in names)
    # only the agent's part of the package goes into the image
    assert not any(n.startswith(f"{AGENT_DEST}/runner/policy") for n in names)
    env = [name for name, _ in context_files(DEFAULT_ENV_LAYER)]
    assert env == ["Dockerfile", "requirements.txt"]  # no agent code in the environment layer


def _pins(layer: str) -> dict[str, str]:
    text = (Path(image_mod.images_dir()) / layer / "requirements.txt").read_text()
    return dict(
        line.split("==", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def test_requirements_are_pinned_and_split_between_runtime_and_environment() -> None:
    runtime, env = _pins("runtime"), _pins("env")
    for name in ["httpx", "pydantic", "wcmatch"]:
        assert name in runtime, name
    assert "anthropic" not in runtime  # the agent speaks the Messages API itself
    for name in ["pytest", "pytest-cov", "coverage", "fastapi", "uvicorn", "sqlalchemy",
                 "argon2-cffi", "bcrypt", "pyjwt", "httpx"]:
        assert name in env, name
    assert "anthropic" not in env  # the agent's client is not the project's business
    assert "pytest" not in runtime and "fastapi" not in runtime
    assert all(v.strip() for v in [*runtime.values(), *env.values()])


def test_wheelhouse_cache_key_depends_on_pins_and_arch(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    a = wheelhouse_dir(b"a==1\n", "x86_64")
    assert a.parent == tmp_path / "sandbox-runner"
    assert a == wheelhouse_dir(b"a==1\n", "x86_64")
    assert a != wheelhouse_dir(b"a==2\n", "x86_64")
    assert a != wheelhouse_dir(b"a==1\n", "aarch64")


def test_platform_args_name_every_manylinux_the_base_can_load() -> None:
    args = image_mod._platform_args("x86_64")
    tags = args[1::2]
    assert set(args[0::2]) == {"--platform"}
    assert "manylinux_2_36_x86_64" in tags and "manylinux_2_17_x86_64" in tags
    assert "manylinux2014_x86_64" in tags and not any("2_37" in t for t in tags)


@pytest.mark.docker
def test_tag_is_stable_and_nothing_is_rebuilt(sandbox_image: str) -> None:
    lines: list[str] = []
    again = ensure_image(DockerSandboxConfig(), progress=lines.append)
    assert again == sandbox_image
    assert lines == []  # no pull, no bootstrap, no build
    status = image_status(DockerSandboxConfig())
    assert status.present and status.ref == sandbox_image
    assert status.inputs_hash is not None and sandbox_image.endswith(status.inputs_hash[:12])


@pytest.mark.docker
def test_a_runs_client_checks_the_present_layers_without_a_client_of_its_own(
        sandbox_image: str, docker_client: object, monkeypatch: pytest.MonkeyPatch) -> None:
    import docker

    assert isinstance(docker_client, docker.DockerClient)

    def no_second_client(timeout: int = 120) -> docker.DockerClient:
        raise AssertionError("ensure_image made a client of its own")

    monkeypatch.setattr(image_mod, "docker_client", no_second_client)
    lines: list[str] = []
    assert ensure_image(DockerSandboxConfig(), progress=lines.append,
                        client=docker_client) == sandbox_image
    assert lines == []
    with pytest.raises(AssertionError, match="of its own"):  # a rebuild takes the build client
        ensure_image(DockerSandboxConfig(), force_env=True, client=docker_client)


@pytest.mark.docker
def test_image_carries_its_input_labels(sandbox_image: str, docker_client: object) -> None:
    import docker

    assert isinstance(docker_client, docker.DockerClient)
    img = docker_client.images.get(sandbox_image)
    assert img.labels[image_mod.LABEL_INPUTS].startswith(sandbox_image.split(":")[1])
    assert img.labels[image_mod.LABEL_IMAGE] == DEFAULT_ENV_LAYER.kind
    runtime = docker_client.images.get(img.labels[image_mod.LABEL_RUNTIME])
    assert runtime.labels[image_mod.LABEL_IMAGE] == RUNTIME_LAYER.kind
    assert runtime.tags[0].startswith("sandbox-runner-runtime:")
    config = img.attrs["Config"]
    assert config["User"] == "10001:10001"
    assert "PYTHONDONTWRITEBYTECODE=1" in config["Env"]
    path = next(e for e in config["Env"] if e.startswith("PATH="))
    assert path.startswith("PATH=/opt/project-venv/bin:") and "sandbox-runner" not in path
    assert not any(e.startswith("PYTHONPATH=") for e in config["Env"])


@pytest.mark.docker
def test_runtime_and_project_environment_are_apart(sandbox_image: str, docker_client: object) -> None:
    """The tools' python is the project environment's; the agent's is the runtime prefix's,
    and neither sees the other's packages."""
    import docker

    assert isinstance(docker_client, docker.DockerClient)
    script = (
        "import importlib.util as u, sys; print(sys.prefix, "
        "u.find_spec('anthropic') is not None, u.find_spec('pytest') is not None, "
        "u.find_spec('runner') is not None)"
    )
    tools = docker_client.containers.run(
        sandbox_image, ["python3", "-c", script], remove=True, network_mode="none")
    agent = docker_client.containers.run(
        sandbox_image, ["/opt/sandbox-runner/venv/bin/python", "-P", "-c", script], remove=True,
        network_mode="none")
    assert tools.decode().split() == ["/opt/project-venv", "False", "True", "False"]
    # the anthropic SDK is in neither: the agent speaks the Messages API with httpx
    assert agent.decode().split() == ["/opt/sandbox-runner/venv", "False", "False", "True"]


@pytest.mark.docker
def test_explicit_image_is_used_as_is(sandbox_image: str) -> None:
    assert ensure_image(DockerSandboxConfig(image=sandbox_image)) == sandbox_image
