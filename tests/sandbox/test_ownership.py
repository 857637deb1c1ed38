"""Who the sandbox runs as, and lending writable paths to it (no Docker; needs root to chown)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.config import DockerSandboxConfig
from runner.sandbox.ownership import sandbox_identity, writable_ownership
from tests.sandbox.conftest import WRITABLE, make_project

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to other uids needs root")


def _owner(path: Path) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_uid, st.st_gid


@needs_root
def test_owner_uid_is_used(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    os.chown(project, 4242, 4343)
    ident = sandbox_identity(project, DockerSandboxConfig())
    assert (ident.uid, ident.gid) == (4242, 4343) and not ident.handed_over


@needs_root
def test_root_owner_falls_back(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    os.chown(project, 0, 0)
    ident = sandbox_identity(project, DockerSandboxConfig(fallback_uid=20002, fallback_gid=20003))
    assert (ident.uid, ident.gid) == (20002, 20003) and ident.handed_over


@needs_root
def test_lend_and_hand_back_even_on_error(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    os.chown(project, 0, 0)
    (project / "backend" / "mine.py").write_text("x")
    os.chown(project / "backend" / "mine.py", 777, 778)  # a file with its own owner
    outside = project / "frontend" / "app.js"
    (project / "backend" / "link").symlink_to(outside)
    with pytest.raises(RuntimeError), writable_ownership(project, WRITABLE, 10001, 10001):
        assert _owner(project / "backend") == (10001, 10001)
        assert _owner(project / "issues.md") == (10001, 10001)
        assert _owner(project / "backend" / "mine.py") == (10001, 10001)
        assert _owner(outside) == (0, 0)  # symlink not followed
        made = project / "backend" / "new.py"
        made.write_text("y")
        os.chown(made, 10001, 10001)  # as the sandbox would
        raise RuntimeError("agent crashed")
    assert _owner(project / "backend") == (0, 0)
    assert _owner(project / "issues.md") == (0, 0)
    assert _owner(project / "backend" / "mine.py") == (777, 778)
    assert _owner(project / "backend" / "new.py") == (0, 0)  # to the project owner
    assert _owner(outside) == (0, 0)


@needs_root
def test_no_op_when_the_owner_runs_it(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    for dirpath, dirnames, filenames in os.walk(project):
        for name in [*dirnames, *filenames, "."]:
            os.lchown(Path(dirpath) / name, 4242, 4242)
    (project / "issues.md").touch()
    os.chown(project / "issues.md", 4242, 4242)
    with writable_ownership(project, WRITABLE, 4242, 4242) as recorded:
        assert recorded == {}
    assert _owner(project / "backend") == (4242, 4242)
