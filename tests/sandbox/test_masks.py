"""find_secret_paths: which project files the container masks (no Docker)."""

from __future__ import annotations

from pathlib import Path

from runner.sandbox.masks import (
    GIT_CONFIG_MAX_BYTES,
    TOO_LARGE,
    find_secret_paths,
    sanitized_git_config,
)
from tests.sandbox.conftest import WRITABLE, is_secret, make_project


def test_finds_files_and_dirs_from_the_policy_patterns(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / "backend" / ".env.local").write_text("X=1\n")
    (project / "deploy" / ".aws").mkdir(parents=True)
    (project / "deploy" / ".aws" / "credentials").write_text("x\n")
    found = find_secret_paths(project, is_secret)
    assert found == [
        ".env", ".ssh/", "backend/.env.local", "config/service-account-prod.json", "deploy/.aws/",
    ]


def test_exceptions_and_ordinary_files_are_not_masked(tmp_path: Path) -> None:
    found = find_secret_paths(make_project(tmp_path / "p"), is_secret)
    assert ".env.example" not in found and "README.md" not in found


def test_symlinked_secret_masks_its_target_inside_the_project(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / "config" / "prod-settings").write_text("TOKEN=1\n")
    (project / ".env.prod").symlink_to("config/prod-settings")
    (project / "outside.pem").symlink_to("/etc/hostname")  # outside: nothing to mask
    found = find_secret_paths(project, is_secret)
    assert "config/prod-settings" in found
    assert ".env.prod" not in found and "outside.pem" not in found


def test_git_objects_and_runner_state_are_not_walked(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / ".git" / "objects" / "ab").mkdir(parents=True)
    (project / ".git" / "objects" / "ab" / "x.key").write_text("x")
    (project / ".sandbox-runner" / "runs").mkdir(parents=True)
    (project / ".sandbox-runner" / "runs" / ".env").write_text("x")
    calls: list[str] = []

    def spy(rel: str) -> bool:
        calls.append(rel)
        return is_secret(rel)

    found = find_secret_paths(project, spy)
    assert not any(c.startswith((".git/objects/", ".sandbox-runner")) for c in calls)
    assert not any(f.startswith((".git/objects", ".sandbox-runner")) for f in found)


def test_links_under_writable_paths_are_never_read(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    for name, target in {".aws": "..", ".ssh": "../frontend", "x.key": "../README.md",
                         "a.pem": "b.pem", "b.pem": "a.pem"}.items():
        (project / "backend" / name).symlink_to(target)
    found = find_secret_paths(project, is_secret, WRITABLE)
    assert found == [".env", ".ssh/", "config/service-account-prod.json"]


def test_project_links_resolve_without_following(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / "loop1.key").symlink_to("loop2.key")
    (project / "loop2.key").symlink_to("loop1.key")
    (project / "self.pem").symlink_to("self.pem")
    (project / "chain.pem").symlink_to("hop")
    (project / "hop").symlink_to("config/../README.md")
    (project / "abs.key").symlink_to("/workspace/frontend/app.js")  # as the container sees it
    (project / "host.key").symlink_to("/etc/hostname")
    (project / "through.key").symlink_to("backend/x")  # into the agent's ground: not consulted
    (project / ".kube").symlink_to(".")  # the root is never a mask
    (project / "up.pem").symlink_to("../outside")
    found = find_secret_paths(project, is_secret, WRITABLE)
    assert found == [".env", ".ssh/", "README.md", "config/service-account-prod.json",
                     "frontend/app.js"]


def test_directories_above_writable_paths_are_never_masks(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / ".aws" / "api").mkdir(parents=True)
    assert ".aws/" not in find_secret_paths(project, is_secret, [".aws/api/"])
    assert ".aws/" in find_secret_paths(project, is_secret, WRITABLE)


CHECKOUT = """[core]
\trepositoryformatversion = 0
[remote "origin"]
\turl = https://x-access-token:ghs_abc123SECRET@github.com/o/r
[http "https://github.com/"]
\textraheader = AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzX2FiYw==
"""


def test_git_config_with_credentials_gets_a_clean_copy(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / ".git").mkdir()
    assert sanitized_git_config(project) is None  # no config
    (project / ".git" / "config").write_text("[core]\n\tbare = false\n")
    assert sanitized_git_config(project) is None  # nothing to remove
    (project / ".git" / "config").write_text(CHECKOUT)
    clean = sanitized_git_config(project)
    assert clean is not None
    text = clean.decode()
    assert "SECRET" not in text and "extraheader" not in text and "basic" not in text
    assert "url = https://github.com/o/r" in text and "repositoryformatversion = 0" in text
    (project / ".git" / "config").write_bytes(b"[core]\n" + b"#" * (GIT_CONFIG_MAX_BYTES + 1))
    assert sanitized_git_config(project) == TOO_LARGE


def test_a_linked_git_config_is_not_read(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / ".git").mkdir()
    (project / "creds").write_text(CHECKOUT)
    (project / ".git" / "config").symlink_to("../creds")
    assert sanitized_git_config(project) is None
