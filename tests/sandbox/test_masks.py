"""find_secret_paths: which project files the container masks (no Docker)."""

from __future__ import annotations

from pathlib import Path

from runner.sandbox.masks import find_secret_paths
from tests.sandbox.conftest import is_secret, make_project


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
