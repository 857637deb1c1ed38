"""The sandbox user's way into the project: the check and the per-run ACL grant (no Docker)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from runner.errors import EnvironmentProblem
from runner.sandbox.access import (
    ACL_XATTR,
    RECORD_NAME,
    check_project_access,
    mode_allows,
    project_access,
    with_user_entry,
)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="ACLs for other uids on root-owned dirs")


def _acl(path: Path) -> bytes | None:
    try:
        return os.getxattr(path, ACL_XATTR)
    except OSError:
        return None


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_mode_allows_owner_group_other(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    os.chown(d, 100, 200)
    d.chmod(0o710)
    st = os.stat(d)
    assert mode_allows(st, 100, 1, 0o5) and mode_allows(st, 5, 200, 0o1)
    assert not mode_allows(st, 5, 200, 0o5) and not mode_allows(st, 5, 5, 0o1)


def test_acl_entry_keeps_the_other_entries_and_recomputes_the_mask() -> None:
    raw = with_user_entry(None, 0o40700, 10001, 0o5)
    # header v2, then (tag, perm, id): user_obj rwx, user 10001 r-x, group_obj ---, mask r-x, other ---
    assert raw.hex() == ("02000000" "01000700ffffffff" "0200050011270000" "04000000ffffffff"
                         "10000500ffffffff" "20000000ffffffff")
    again = with_user_entry(raw, 0o40750, 10001, 0o5)  # an existing ACL: read, not the mode
    assert again == raw


@needs_root
def test_grant_for_the_block_then_the_exact_state_back(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    project.chmod(0o700)
    assert check_project_access(project, 10001, 10001, ["backend/", "issues.md"]) is True
    assert _acl(project) is None  # the check changes nothing
    with project_access(project, 10001, 10001) as granted:
        assert granted and _acl(project) is not None
        assert (project / ".sandbox-runner" / RECORD_NAME).is_file()
    assert _acl(project) is None and _mode(project) == 0o700
    assert not (project / ".sandbox-runner" / RECORD_NAME).exists()
    with pytest.raises(RuntimeError), project_access(project, 10001, 10001):
        raise RuntimeError("the run failed")
    assert _acl(project) is None and _mode(project) == 0o700


@needs_root
def test_an_existing_acl_is_put_back_byte_for_byte(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    project.chmod(0o750)
    mine = with_user_entry(None, 0o40750, 4242, 0o7)  # the user's own ACL (user 4242 rwx)
    os.setxattr(project, ACL_XATTR, mine)
    mode = _mode(project)
    with project_access(project, 10001, 10001):
        assert _acl(project) not in (None, mine)
    assert _acl(project) == mine and _mode(project) == mode


@needs_root
def test_no_grant_when_the_mode_already_lets_it_in(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    project.chmod(0o755)
    assert check_project_access(project, 10001, 10001, ["backend/"]) is False
    with project_access(project, 10001, 10001) as granted:
        assert not granted and _acl(project) is None
    assert not (project / ".sandbox-runner").exists()


@needs_root
def test_an_unreachable_writable_path_is_one_line_with_the_fix(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / "svc" / "api").mkdir(parents=True)
    project.chmod(0o755)
    (project / "svc").chmod(0o700)
    with pytest.raises(EnvironmentProblem) as info:
        check_project_access(project, 10001, 10001, ["svc/api/"])
    msg = str(info.value)
    assert info.value.exit_code == 4 and "\n" not in msg and f"chmod o+x {project.resolve()}/svc" in msg
    check_project_access(project, 10001, 10001, ["backend/", "svc/"])  # the entry itself is lent
