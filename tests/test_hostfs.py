"""The host's only workspace reader: no link followed, no FIFO blocks, masks respected."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from runner.hostfs import HostReadRefused, WorkspaceFS


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / "app.py").write_text("print('hi')\n")
    (tmp_path / ".env").write_text("SECRET=s3cr3t-value\n")
    (tmp_path / ".sandbox-runner").mkdir()
    (tmp_path / ".sandbox-runner" / "old.jsonl").write_text("{}\n")
    return tmp_path


def fs(root: Path) -> WorkspaceFS:
    return WorkspaceFS(root, is_masked=lambda rel: rel == ".env", max_bytes=1024)


def test_reads_a_regular_file(ws: Path) -> None:
    assert fs(ws).read_text("backend/app.py") == "print('hi')\n"


@pytest.mark.parametrize("rel", [".env", ".sandbox-runner/old.jsonl", ".sandbox-runner"])
def test_masked_paths_are_refused(ws: Path, rel: str) -> None:
    with pytest.raises(HostReadRefused, match="masked"):
        fs(ws).read_text(rel)


def test_final_symlink_is_never_followed(ws: Path) -> None:
    os.symlink("/proc/self/environ", ws / "backend" / "s.sh")
    with pytest.raises(HostReadRefused, match="symbolic link"):
        fs(ws).read_text("backend/s.sh")


def test_symlink_to_masked_file_is_refused(ws: Path) -> None:
    os.symlink("../.env", ws / "backend" / "e")
    assert fs(ws).try_read_text("backend/e") is None


def test_intermediate_directory_link_is_never_followed(ws: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "x.txt").write_text("host file")
    os.symlink(outside, ws / "backend" / "d")
    with pytest.raises(HostReadRefused):
        fs(ws).read_text("backend/d/x.txt")


def test_fifo_does_not_block(ws: Path) -> None:
    os.mkfifo(ws / "backend" / "pipe")
    done = threading.Event()
    result: list[object] = []

    def read() -> None:
        try:
            fs(ws).read_text("backend/pipe")
        except HostReadRefused as exc:
            result.append(exc)
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(30), "reading a FIFO blocked"
    assert isinstance(result[0], HostReadRefused)
    assert "not a regular file" in str(result[0])


def test_size_cap(ws: Path) -> None:
    (ws / "backend" / "big").write_bytes(b"x" * 2000)
    with pytest.raises(HostReadRefused, match="larger than 1024"):
        fs(ws).read_bytes("backend/big")


@pytest.mark.parametrize("rel", ["../etc/passwd", "/etc/passwd", "backend/../../x"])
def test_escapes_are_refused(ws: Path, rel: str) -> None:
    with pytest.raises(HostReadRefused):
        fs(ws).read_bytes(rel)


def test_listing_hides_masks_and_reports_links(ws: Path) -> None:
    os.symlink("/etc", ws / "backend" / "etc")
    names = {e.name: e.kind for e in fs(ws).listdir("")}
    assert ".env" not in names and ".sandbox-runner" not in names
    inner = {e.name: e.kind for e in fs(ws).listdir("backend")}
    assert inner == {"app.py": "file", "etc": "symlink"}


def test_walk_never_enters_links_and_is_bounded(ws: Path) -> None:
    os.symlink("..", ws / "backend" / "up")
    paths = [e.path for e in fs(ws).walk("")]
    assert "backend/up" in paths and not any(p.startswith("backend/up/") for p in paths)
    with pytest.raises(HostReadRefused, match="more than 2 entries"):
        list(fs(ws).walk("", limit=2))


def test_copy_file_never_writes_through_a_link(ws: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    out = tmp_path_factory.mktemp("out")
    os.symlink(ws / "victim", out / "dest")
    with pytest.raises(FileExistsError):
        fs(ws).copy_file("backend/app.py", out / "dest")
    assert not (ws / "victim").exists()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_holding_dirs_gives_the_same_answers_and_closes_every_handle(ws: Path) -> None:
    (ws / "backend" / "pkg").mkdir()
    (ws / "backend" / "pkg" / "mod.py").write_text("x = 1\n")
    os.symlink("../.env", ws / "backend" / "env.txt")
    plain, held = fs(ws), fs(ws)
    before = _open_fds()

    def answers(f: WorkspaceFS) -> list[object]:
        out: list[object] = [f.read_text("backend/pkg/mod.py"), f.readlink("backend/env.txt"),
                             f.lstat("backend/pkg").st_mode, [e.name for e in f.listdir("")]]
        for rel in (".env", "backend/env.txt", "backend/nope/x", "backend/app.py/x"):
            with pytest.raises(HostReadRefused) as exc:
                f.read_text(rel)
            out.append(exc.value.reason)
        return out

    with held.holding_dirs():
        kept = answers(held)
        assert _open_fds() > before  # root, backend, backend/pkg are kept open
        with pytest.raises(RuntimeError, match="reentrant"), held.holding_dirs():
            pass
    assert kept == answers(plain)
    assert _open_fds() == before


def test_a_held_directory_never_follows_a_link_swapped_in_later(ws: Path) -> None:
    (ws / "backend" / "pkg").mkdir()
    f = fs(ws)
    with f.holding_dirs():
        assert f.listdir("backend/pkg") == []
        (ws / "backend" / "pkg").rmdir()
        os.symlink("/etc", ws / "backend" / "pkg")
        with pytest.raises(HostReadRefused, match="does not exist"):  # the removed directory
            f.read_text("backend/pkg/passwd")
    with pytest.raises(HostReadRefused, match="is a link"):  # a new look: the link
        f.read_text("backend/pkg/passwd")


def test_holding_dirs_keeps_a_bounded_number_of_handles(ws: Path) -> None:
    from runner.hostfs import MAX_HELD_DIRS

    for i in range(MAX_HELD_DIRS + 20):
        (ws / "backend" / f"d{i}").mkdir()
        (ws / "backend" / f"d{i}" / "f").write_text("x")
    f = fs(ws)
    before = _open_fds()
    with f.holding_dirs():
        for i in range(MAX_HELD_DIRS + 20):
            assert f.read_text(f"backend/d{i}/f") == "x"
        assert _open_fds() - before <= MAX_HELD_DIRS
    assert _open_fds() == before
