"""Path facts: lexical normalisation and physical resolution against a real workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.policy.paths import (
    CONTAINER_HOME,
    PathResolver,
    absolute,
    attach_measurements,
    display,
    expand_tilde,
    is_inside,
    normalize,
    special_kind,
)
from runner.protocol import MeasuredPath

# --- lexical helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("//", "/"),
        ("///etc//passwd", "/etc/passwd"),
        ("/workspace/./backend/", "/workspace/backend"),
        ("/workspace/backend/../frontend", "/workspace/frontend"),
        ("/workspace/../../..", "/"),
        ("/a/b/c/../../d", "/a/d"),
        ("/workspace/.", "/workspace"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "cwd", "expected"),
    [
        ("~", "/workspace", CONTAINER_HOME),
        ("~/.ssh/id_rsa", "/workspace", f"{CONTAINER_HOME}/.ssh/id_rsa"),
        ("~root/.bashrc", "/workspace", "/root/.bashrc"),
        ("~bob/x", "/workspace", "/home/bob/x"),
        ("~+/x", "/workspace/backend", "/workspace/backend/x"),
        ("a~/b", "/workspace", "a~/b"),  # not a tilde prefix
        ("~-", "/workspace", "~-"),  # needs OLDPWD: left alone
    ],
)
def test_expand_tilde(raw: str, cwd: str, expected: str) -> None:
    assert expand_tilde(raw, cwd) == expected


@pytest.mark.parametrize(
    ("raw", "cwd", "expected"),
    [
        ("x", "/workspace", "/workspace/x"),
        ("x", "/workspace/", "/workspace/x"),
        ("/etc/x", "/workspace", "/etc/x"),
        ("../x", "/workspace/backend", "/workspace/backend/../x"),
        ("~/x", "/workspace", f"{CONTAINER_HOME}/x"),
    ],
)
def test_absolute_joins_without_normalising(raw: str, cwd: str, expected: str) -> None:
    assert absolute(raw, cwd) == expected


@pytest.mark.parametrize(
    ("abs_path", "shown", "inside"),
    [
        ("/workspace", ".", True),
        ("/workspace/backend/app.py", "backend/app.py", True),
        ("/workspacex/y", "/workspacex/y", False),
        ("/etc/passwd", "/etc/passwd", False),
        ("/", "/", False),
    ],
)
def test_display_and_inside(abs_path: str, shown: str, inside: bool) -> None:
    assert display(abs_path) == shown
    assert is_inside(abs_path) is inside


@pytest.mark.parametrize(
    ("abs_path", "kind"),
    [
        ("/proc/self/environ", "proc"),
        ("/proc", "proc"),
        ("/dev/tcp/1.2.3.4/80", "dev"),
        ("/sys/kernel", "sys"),
        ("/procx", None),
        ("/workspace/proc/x", None),
        ("/etc/passwd", None),
    ],
)
def test_special_kind(abs_path: str, kind: str | None) -> None:
    assert special_kind(abs_path) == kind


# --- lexical resolution (no workspace) ---------------------------------------------------------

LEXICAL_CASES = [
    # raw, cwd, path, inside, special
    ("backend/app.py", "/workspace", "backend/app.py", True, None),
    ("./backend//app.py", "/workspace", "backend/app.py", True, None),
    ("backend/./x/../app.py", "/workspace", "backend/app.py", True, None),
    (".", "/workspace", ".", True, None),
    ("", "/workspace", ".", True, None),
    ("/workspace", "/workspace", ".", True, None),
    ("/workspace/issues.md", "/workspace", "issues.md", True, None),
    ("//workspace///issues.md", "/workspace", "issues.md", True, None),
    ("../x", "/workspace", "/x", False, None),
    ("../../../etc/passwd", "/workspace/backend", "/etc/passwd", False, None),
    ("../frontend/app.js", "/workspace/backend", "frontend/app.js", True, None),
    ("/workspace/../workspace/backend", "/workspace", "backend", True, None),
    ("~/.aws/credentials", "/workspace", "/home/agent/.aws/credentials", False, None),
    ("~", "/workspace", "/home/agent", False, None),
    ("/proc/self/environ", "/workspace", "/proc/self/environ", False, "proc"),
    ("/proc/1/root/etc", "/workspace", "/proc/1/root/etc", False, "proc"),
    ("/dev/null", "/workspace", "/dev/null", False, "dev"),
    ("/sys/class", "/workspace", "/sys/class", False, "sys"),
    ("x", "/tmp", "/tmp/x", False, None),
]


@pytest.mark.parametrize(("raw", "cwd", "path", "inside", "special"), LEXICAL_CASES)
def test_lexical_fact(raw: str, cwd: str, path: str, inside: bool, special: str | None) -> None:
    fact = PathResolver(None).fact(raw, "read", cwd=cwd)
    assert fact.raw == raw
    assert fact.path == path
    assert fact.real == path  # no filesystem: real is the lexical path
    assert fact.inside_workspace is inside
    assert fact.special == special
    assert fact.symlink is False
    assert fact.hardlinks == 1
    assert not fact.path.startswith("./")


def test_fact_carries_op_via_program_and_flags() -> None:
    fact = PathResolver(None).fact(
        "$X/y", "write", via="redirect", program="tee", dynamic=True, inferred=True,
        implicit=True,
    )
    assert (fact.op, fact.via, fact.program) == ("write", "redirect", "tee")
    assert fact.dynamic is True
    assert fact.inferred is True
    assert fact.implicit is True
    plain = PathResolver(None).fact("y", "exec")
    assert (plain.op, plain.via, plain.dynamic, plain.inferred, plain.implicit) == (
        "exec", "tool", False, False, False,
    )


# --- physical resolution against a real workspace ---------------------------------------------


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace with the symlinks and hard links the cases below need."""
    root = tmp_path / "project"
    (root / "backend" / "pkg").mkdir(parents=True)
    (root / "frontend").mkdir()
    (root / "backend" / "app.py").write_text("x = 1\n")
    (root / ".env").write_text("SECRET=1\n")
    (root / "frontend" / "app.js").write_text("//\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target.txt").write_text("outside\n")
    b = root / "backend"
    os.symlink("../frontend", b / "to_frontend")  # relative, stays inside
    os.symlink("../../outside", b / "to_outside_rel")  # relative, climbs out of the workspace
    os.symlink("/etc", b / "to_etc")  # absolute, container view: outside
    os.symlink("/workspace/.env", b / "env_link")  # absolute, container view: inside
    os.symlink("/workspace/backend/to_frontend", b / "chain")  # link to a link
    os.symlink("nonexistent/file", b / "dangling")
    os.symlink("loop_b", b / "loop_a")
    os.symlink("loop_a", b / "loop_b")
    os.symlink("/proc/self/environ", b / "environ")
    os.symlink("pkg", b / "pkg_link")
    os.link(root / "frontend" / "app.js", b / "hard.js")  # hard link to a non-writable file
    return root


PHYSICAL_CASES = [
    # raw, cwd, path, real, symlink, inside
    ("backend/app.py", "/workspace", "backend/app.py", "backend/app.py", False, True),
    ("backend/to_frontend/app.js", "/workspace", "backend/to_frontend/app.js",
     "frontend/app.js", True, True),
    ("backend/to_frontend", "/workspace", "backend/to_frontend", "frontend", True, True),
    ("backend/to_outside_rel/target.txt", "/workspace", "backend/to_outside_rel/target.txt",
     "/outside/target.txt", True, False),
    ("backend/to_etc/passwd", "/workspace", "backend/to_etc/passwd", "/etc/passwd", True, False),
    ("backend/env_link", "/workspace", "backend/env_link", ".env", True, True),
    ("backend/chain/new.js", "/workspace", "backend/chain/new.js", "frontend/new.js", True, True),
    ("backend/dangling", "/workspace", "backend/dangling", "backend/nonexistent/file", True, True),
    ("backend/environ", "/workspace", "backend/environ", "/proc/self/environ", True, False),
    # `..` after a symlink is physical: the parent of the link's target, not of the link
    ("backend/to_frontend/../.env", "/workspace", "backend/.env", ".env", True, True),
    ("backend/to_etc/../root/x", "/workspace", "backend/root/x", "/root/x", True, False),
    ("backend/pkg_link/../app.py", "/workspace", "backend/app.py", "backend/app.py", True, True),
    # relative to another cwd
    ("to_frontend/app.js", "/workspace/backend", "backend/to_frontend/app.js",
     "frontend/app.js", True, True),
    ("../.env", "/workspace/backend", ".env", ".env", False, True),
    # non-existent components: lexical from there on
    ("backend/new/dir/file.py", "/workspace", "backend/new/dir/file.py",
     "backend/new/dir/file.py", False, True),
    ("backend/app.py/child", "/workspace", "backend/app.py/child", "backend/app.py/child",
     False, True),
    # absolute paths outside the workspace are never looked up on the host
    ("/etc/passwd", "/workspace", "/etc/passwd", "/etc/passwd", False, False),
]


@pytest.mark.parametrize(("raw", "cwd", "path", "real", "symlink", "inside"), PHYSICAL_CASES)
def test_physical_fact(
    ws: Path, raw: str, cwd: str, path: str, real: str, symlink: bool, inside: bool
) -> None:
    fact = PathResolver(ws).fact(raw, "write", cwd=cwd)
    assert fact.path == path
    assert fact.real == real
    assert fact.symlink is symlink
    assert fact.inside_workspace is inside


def test_symlink_to_proc_is_special(ws: Path) -> None:
    fact = PathResolver(ws).fact("backend/environ", "read")
    assert fact.special == "proc"
    assert fact.path == "backend/environ"  # the lexical path alone looks harmless


def test_symlink_loop_is_flagged(ws: Path) -> None:
    fact = PathResolver(ws).fact("backend/loop_a/x", "write")
    assert fact.symlink is True
    assert fact.loop is True


def test_hardlinks_counted_for_existing_regular_files(ws: Path) -> None:
    r = PathResolver(ws)
    assert r.fact("backend/hard.js", "write").hardlinks == 2
    assert r.fact("frontend/app.js", "read").hardlinks == 2
    assert r.fact("backend/app.py", "write").hardlinks == 1
    assert r.fact("backend", "write").hardlinks == 1  # directories never count
    assert r.fact("backend/missing.py", "write").hardlinks == 1


def test_hardlink_through_symlink_counts_the_target(ws: Path) -> None:
    os.symlink("hard.js", ws / "backend" / "to_hard")
    fact = PathResolver(ws).fact("backend/to_hard", "write")
    assert fact.real == "backend/hard.js"
    assert fact.hardlinks == 2


def test_workspace_root_itself_may_be_a_host_symlink(tmp_path: Path, ws: Path) -> None:
    alias = tmp_path / "alias"
    os.symlink(ws, alias)
    fact = PathResolver(alias).fact("backend/to_frontend/app.js", "read")
    assert fact.real == "frontend/app.js"
    assert PathResolver(alias).fact(".", "read").real == "."


def test_is_directory(ws: Path) -> None:
    r = PathResolver(ws)
    assert r.is_directory("/workspace/backend") is True
    assert r.is_directory("/workspace/backend/to_frontend") is True
    assert r.is_directory("/workspace/backend/app.py") is False
    assert r.is_directory("/workspace/nope") is False
    assert r.is_directory("/etc") is None  # outside: unknown
    assert r.is_directory("/workspace/backend/to_etc") is None  # resolves outside: unknown
    assert PathResolver(None).is_directory("/workspace/backend") is None


def test_resolution_never_touches_host_paths_outside_workspace(tmp_path: Path, ws: Path) -> None:
    # an absolute link target naming a real host path is read in the container's view
    os.symlink(str(tmp_path / "outside"), ws / "backend" / "host_abs")
    fact = PathResolver(ws).fact("backend/host_abs/target.txt", "read")
    assert fact.real == str(tmp_path / "outside" / "target.txt")
    assert fact.inside_workspace is False


# --- measurements ------------------------------------------------------------------------------


def test_measurements_are_recorded_but_not_trusted(ws: Path) -> None:
    r = PathResolver(ws)
    facts = [
        r.fact("backend/to_frontend/app.js", "write"),
        r.fact("backend/app.py", "write"),
        r.fact("issues.md", "write"),
    ]
    attach_measurements(facts, [
        # the container claims the link is harmless: recorded, flagged, not believed
        MeasuredPath(raw="backend/to_frontend/app.js", real="/workspace/backend/app.js",
                     symlink=False, exists=True),
        MeasuredPath(raw="backend/app.py", real="/workspace/backend/app.py", symlink=False,
                     exists=True),
    ])
    lying, honest, unmeasured = facts
    assert lying.real == "frontend/app.js"
    assert lying.measured == {"real": "/workspace/backend/app.js", "symlink": False,
                              "exists": True, "agrees": False}
    assert honest.measured is not None and honest.measured["agrees"] is True
    assert unmeasured.measured is None


def test_measurement_with_relative_real_never_agrees() -> None:
    facts = [PathResolver(None).fact("x", "read")]
    attach_measurements(facts, [MeasuredPath(raw="x", real="x", symlink=False, exists=False)])
    assert facts[0].measured is not None and facts[0].measured["agrees"] is False
