"""The agent phase's container start (runner/run/sandbox_start.py) when it fails part-way."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from runner.config import build_run_config
from runner.errors import ProjectError
from runner.policy.bundle import load_bundle
from runner.policy.data import load_policy_data
from runner.run.sandbox_start import SandboxInputs, remove_created, start_sandbox

REPO = Path(__file__).resolve().parents[2]


def test_a_start_refused_part_way_takes_back_what_it_created(tmp_path: Path) -> None:
    """No backend/ yet, and issues.md a link: the refusal (exit 2) comes after backend/ was
    created for the mount, which is removed again; the link and its target are left alone."""
    project = tmp_path / "p"
    shutil.copytree(REPO / "examples" / "minimal", project, ignore=shutil.ignore_patterns("backend"))
    outside = tmp_path / "outside.md"
    outside.write_text("keep")
    (project / "issues.md").symlink_to(outside)
    before = sorted(p.name for p in project.iterdir())
    bundle = load_bundle([], None)
    inputs = SandboxInputs(cfg=build_run_config(project, {}), project=project, bundle=bundle,
                           data=load_policy_data(bundle))
    with pytest.raises(ProjectError) as info:
        start_sandbox(inputs=inputs, image="unused", run_id="r", runtime=None,
                      client=None)  # type: ignore[arg-type]
    assert info.value.exit_code == 2
    assert sorted(p.name for p in project.iterdir()) == before
    assert os.path.islink(project / "issues.md") and outside.read_text() == "keep"


def test_only_empty_files_and_directories_are_taken_back(tmp_path: Path) -> None:
    empty, full = tmp_path / "empty.md", tmp_path / "full.md"
    empty.write_text("")
    full.write_text("the agent wrote this")
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "x").write_text("x")
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    created: list[Any] = [empty, full, tmp_path / "d", tmp_path / "d" / "e", tmp_path / "kept",
                          tmp_path / "link", tmp_path / "missing"]
    remove_created(created)
    assert not empty.exists() and full.exists() and not (tmp_path / "d").exists()
    assert (tmp_path / "kept" / "x").exists() and os.path.islink(tmp_path / "link")
    assert target.is_dir()
