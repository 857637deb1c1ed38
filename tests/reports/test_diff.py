"""Before/after snapshot diff of backend/."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from runner.reports import diff as diffmod
from runner.reports.diff import diff_backend, snapshot_tree


def make(root: Path, files: Mapping[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


BEFORE: dict[str, str | bytes] = {
    "backend/app.py": "def a():\n    return 1\n\n\ndef b():\n    return 2\n",
    "backend/old.py": "x = 1\ny = 2\n",
    "backend/keep.txt": "same\n",
    "backend/logo.bin": b"\x89PNG\0\0\x01",
    "backend/nonl.txt": "no newline",
}


def change(project: Path) -> None:
    (project / "backend/app.py").write_text("def a():\n    return 10\n\n\ndef b():\n    return 2\n")
    (project / "backend/old.py").unlink()
    make(project, {
        "backend/new/mod.py": "import os\n\nprint(os.sep)\n",
        "backend/logo.bin": b"\x89PNG\0\0\x02",
        "backend/nonl.txt": "no newline at all",
        "backend/empty.py": "",
    })


def test_added_modified_deleted_and_counts(tmp_path: Path) -> None:
    make(tmp_path, BEFORE)
    before = snapshot_tree(tmp_path / "backend")
    change(tmp_path)
    d = diff_backend(tmp_path, before)
    assert d.files_added == ["backend/empty.py", "backend/new/mod.py"]
    assert d.files_modified == ["backend/app.py", "backend/logo.bin", "backend/nonl.txt"]
    assert d.files_deleted == ["backend/old.py"]
    # app.py: 1 line changed (+1 -1); old.py: -2; new/mod.py: +3; nonl.txt: +1 -1
    assert (d.lines_added, d.lines_removed) == (5, 4)
    assert "diff --git a/backend/app.py b/backend/app.py" in d.diff
    assert "-    return 1\n+    return 10\n" in d.diff
    assert "deleted file mode 100644" in d.diff and "+++ /dev/null" in d.diff
    assert "new file mode 100644" in d.diff and "--- /dev/null" in d.diff
    assert "Binary files a/backend/logo.bin and b/backend/logo.bin differ" in d.diff
    assert "\\ No newline at end of file" in d.diff
    assert "keep.txt" not in d.diff


def test_the_diff_applies_with_git(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.fail("git is required for this test")
    text = {k: v for k, v in BEFORE.items() if isinstance(v, str)}
    make(tmp_path / "proj", text)
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "proj", copy)
    before = snapshot_tree(tmp_path / "proj" / "backend")
    (tmp_path / "proj/backend/app.py").write_text("changed\n" * 3)
    (tmp_path / "proj/backend/old.py").unlink()
    make(tmp_path / "proj", {"backend/pkg/new.py": "a\nb\n", "backend/nonl.txt": "x\ny"})
    d = diff_backend(tmp_path / "proj", before)
    patch = tmp_path / "p.diff"
    patch.write_text(d.diff)
    subprocess.run(["git", "apply", "--unsafe-paths", str(patch)], cwd=copy, check=True,
                   capture_output=True)
    for rel in ("backend/app.py", "backend/pkg/new.py", "backend/nonl.txt", "backend/keep.txt"):
        assert (copy / rel).read_bytes() == (tmp_path / "proj" / rel).read_bytes(), rel
    assert not (copy / "backend/old.py").exists()


def test_symlinks_are_recorded_not_followed(tmp_path: Path) -> None:
    make(tmp_path, {"backend/a.py": "a\n"})
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE\n")
    before = snapshot_tree(tmp_path / "backend")
    os.symlink(secret, tmp_path / "backend/link.txt")
    os.symlink(tmp_path, tmp_path / "backend/dirlink")
    d = diff_backend(tmp_path, before)
    assert d.files_added == ["backend/dirlink", "backend/link.txt"]
    assert "TOP-SECRET-VALUE" not in d.diff
    assert "new file mode 120000" in d.diff and f"+{secret}" in d.diff


def test_mode_change_and_special_files(tmp_path: Path) -> None:
    make(tmp_path, {"backend/run.sh": "echo hi\n"})
    before = snapshot_tree(tmp_path / "backend")
    (tmp_path / "backend/run.sh").chmod(0o755)
    os.mkfifo(tmp_path / "backend/pipe")
    d = diff_backend(tmp_path, before)  # must not block on the fifo
    assert d.files_modified == ["backend/run.sh"]
    assert "old mode 100644\nnew mode 100755" in d.diff
    assert d.files_added == ["backend/pipe"] and "Special file backend/pipe" in d.diff


def test_tool_caches_are_ignored_bytecode_is_not_and_missing_backend_is_empty(
        tmp_path: Path) -> None:
    before = snapshot_tree(tmp_path / "backend")  # does not exist yet
    assert before.files == {}
    make(tmp_path, {"backend/__pycache__/a.cpython-311.pyc": b"\0", "backend/x.pyc": b"\0",
                    "backend/.pytest_cache/v": "1", "backend/a.py": "a\n"})
    d = diff_backend(tmp_path, before)
    # planted bytecode runs instead of its source: it must show in the diff
    assert d.files_added == ["backend/__pycache__/a.cpython-311.pyc", "backend/a.py",
                             "backend/x.pyc"]
    assert "Binary files /dev/null and b/backend/x.pyc differ" in d.diff
    shutil.rmtree(tmp_path / "backend")
    assert diff_backend(tmp_path, snapshot_tree(tmp_path / "backend")).diff == ""


def test_large_files_compare_by_hash_and_diff_text_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diffmod, "MAX_TEXT_BYTES", 100)
    monkeypatch.setattr(diffmod, "MAX_DIFF_CHARS", 300)
    make(tmp_path, {"backend/big.txt": "a\n" * 100})
    before = snapshot_tree(tmp_path / "backend")
    make(tmp_path, {"backend/big.txt": "b\n" * 100, "backend/c.txt": "c\n" * 100,
                    "backend/d.txt": "d\n" * 100})
    d = diff_backend(tmp_path, before)
    assert d.files_modified == ["backend/big.txt"]
    assert d.files_added == ["backend/c.txt", "backend/d.txt"]
    assert "Binary files a/backend/big.txt" in d.diff  # too large for a text diff
    assert d.truncated and len(d.diff) <= 300
    assert d.files_shown < 3 and d.total_lines > d.diff.count("\n")
