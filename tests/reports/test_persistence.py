"""Persistence artifacts under the writable paths, scanned through WorkspaceFS."""

from __future__ import annotations

import os
import py_compile
from pathlib import Path

import pytest

from runner.hostfs import WorkspaceFS
from runner.reports import persistence as persistence_mod
from runner.reports.diff import diff_backend, snapshot_tree
from runner.reports.persistence import scan_persistence


def make_project(root: Path) -> Path:
    backend = root / "backend"
    backend.mkdir(parents=True)
    (backend / "app.py").write_text("def f():\n    return 1\n")
    (backend / "tool.sh").write_text("#!/bin/sh\n")
    (backend / "tool.sh").chmod(0o755)
    (backend / "old_link").symlink_to("app.py")
    (backend / ".env").write_text("SECRET=hunter2\n")
    (root / "issues.md").write_text("# Issues\n")
    return root


def plant(root: Path) -> None:
    backend = root / "backend"
    (backend / "__pycache__").mkdir()
    src = root / "evil.py"
    src.write_text("def f():\n    return 2\n")
    py_compile.compile(str(src), cfile=str(backend / "__pycache__" / "app.cpython-311.pyc"),
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    py_compile.compile(str(src), cfile=str(backend / "bare.pyc"))
    git = backend / "vendor" / ".git"
    (git / "hooks").mkdir(parents=True)
    (git / "config").write_text("[core]\n\tfsmonitor = touch /tmp/x\n[diff \"a\"]\n\ttextconv = y\n")
    (git / "hooks" / "pre-commit").write_text("#!/bin/sh\n")
    (git / "hooks" / "pre-push.sample").write_text("#!/bin/sh\n")
    (git / "objects").mkdir()
    (git / "objects" / "planted.pth").write_text("import os\n")  # inside .git: not walked
    (backend / "sub").mkdir()
    (backend / "sub" / ".git").write_text("gitdir: /elsewhere\n")
    (backend / "evil.pth").write_text("import os\n")
    (backend / "sitecustomize.py").write_text("X = 1\n")
    (backend / "usercustomize").mkdir()
    (backend / "link").symlink_to("/proc/self/environ")
    (backend / "dirlink").symlink_to(root)
    (backend / "app.py").chmod(0o755)
    (backend / "new.sh").write_text("#!/bin/sh\n")
    (backend / "new.sh").chmod(0o700)
    os.mkfifo(backend / "fifo")
    (backend / "masked").mkdir()
    (backend / "masked" / "sitecustomize.py").write_text("hidden\n")
    (root / "issues.md").chmod(0o755)


def test_every_kind_is_flagged_and_nothing_is_followed(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    before = snapshot_tree(root / "backend")
    plant(root)
    fs = WorkspaceFS(root, is_masked=lambda rel: rel in ("backend/.env", "backend/masked/"))
    scan = scan_persistence(fs, ["backend/", "issues.md"], before=before)
    got = {(a.path, a.kind): a.detail for a in scan.artifacts}
    expected = {
        ("backend/__pycache__/app.cpython-311.pyc", "bytecode"): "new; UNCHECKED-hash",
        ("backend/bare.pyc", "bytecode"): "timestamp-based",
        ("backend/vendor/.git", "nested-git"): "fsmonitor, textconv; hooks: pre-commit",
        ("backend/sub/.git", "nested-git"): "gitdir: /elsewhere",
        ("backend/evil.pth", "pth"): "new; a .pth file",
        ("backend/sitecustomize.py", "customize"): "new; sitecustomize.py",
        ("backend/usercustomize", "customize"): "usercustomize package",
        ("backend/link", "symlink"): "new; -> /proc/self/environ",
        ("backend/dirlink", "symlink"): "-> " + str(root),
        ("backend/old_link", "symlink"): "present before the run; -> app.py",
        ("backend/app.py", "new-executable"): "executable bit added",
        ("backend/new.sh", "new-executable"): "a new executable file",
        ("issues.md", "new-executable"): "not covered by the before-snapshot",
    }
    for key, needle in expected.items():
        assert key in got, (key, sorted(got))
        assert needle in got[key], (key, got[key])
    # nothing else: not tool.sh (+x before the run), nothing inside .git, nothing masked,
    # and the FIFO was neither opened nor flagged
    assert set(got) == set(expected), sorted(set(got) - set(expected))
    assert scan.omitted == 0 and scan.incomplete is None


def test_the_list_is_capped_and_the_rest_counted(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "proj"
    (root / "backend").mkdir(parents=True)
    for i in range(12):
        (root / "backend" / f"l{i}").symlink_to("x")
    monkeypatch.setattr(persistence_mod, "MAX_ARTIFACTS", 5)
    scan = scan_persistence(WorkspaceFS(root), ["backend/"])
    assert len(scan.artifacts) == 5 and scan.omitted == 7


def test_snapshot_never_reads_a_masked_file_and_keeps_backend_runner_state(
        tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    masked = "backend/.env"
    before = snapshot_tree(root / "backend", is_masked=lambda rel: rel == masked)
    assert ".env" not in before.files
    (root / "backend" / ".env").write_text("SECRET=changed-on-the-host\n")
    # a directory named like the runner's state, but under backend/: the agent's, so diffed
    (root / "backend" / ".sandbox-runner").mkdir()
    (root / "backend" / ".sandbox-runner" / "hidden.py").write_text("import os\n")
    d = diff_backend(root, before, is_masked=lambda rel: rel == masked)
    assert "hunter2" not in d.diff and "changed-on-the-host" not in d.diff
    assert d.files_added == ["backend/.sandbox-runner/hidden.py"]
