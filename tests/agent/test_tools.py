"""The agent's tools, run directly against a temporary workspace."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from runner.agent.paths import Workspace
from runner.agent.tools import Toolbox
from runner.protocol import BUILTIN_TOOLS, tool_definitions


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "backend").mkdir(parents=True)
    (root / "frontend").mkdir()
    (root / "backend" / "app.py").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    return root


@pytest.fixture
def box(ws: Path) -> Toolbox:
    return Toolbox(Workspace(ws), enabled=list(BUILTIN_TOOLS), output_limit=4000, bash_timeout=60)


def run(box: Toolbox, name: str, **tool_input: object) -> tuple[str, bool]:
    measured = box.measure(name, dict(tool_input))
    out = box.run(name, dict(tool_input), measured)
    return out.text, out.is_error


def test_schemas_cover_enabled_tools() -> None:
    schemas = tool_definitions(["Read", "Bash"])
    assert [s["name"] for s in schemas] == ["Read", "Bash"]
    assert schemas[0]["input_schema"]["required"] == ["file_path"]
    assert {s["name"] for s in tool_definitions(list(BUILTIN_TOOLS))} == set(BUILTIN_TOOLS)


def test_workspace_mapping_and_measure(ws: Path) -> None:
    w = Workspace(ws)
    assert w.to_disk("/workspace/backend/a.py") == f"{os.path.realpath(ws)}/backend/a.py"
    assert w.to_disk("backend/a.py") == f"{os.path.realpath(ws)}/backend/a.py"
    assert w.to_disk("/etc/passwd") == "/etc/passwd"
    (ws / "backend" / "out").symlink_to("/etc")
    m = w.measure("backend/out/passwd")
    assert m.real == "/etc/passwd" and m.symlink and m.exists
    plain = w.measure("backend/../backend/app.py")
    assert plain.real == "/workspace/backend/app.py" and not plain.symlink and plain.exists
    assert w.measure("../outside").real == os.path.join(os.path.dirname(os.path.realpath(ws)), "outside")


def test_read(box: Toolbox, ws: Path) -> None:
    text, err = run(box, "Read", file_path="backend/app.py")
    assert not err and text.splitlines()[0] == "     1\tline 1" and text.splitlines()[-1] == "    10\tline 10"
    text, _ = run(box, "Read", file_path="/workspace/backend/app.py", offset=3, limit=2)
    assert text.splitlines() == ["     3\tline 3", "     4\tline 4", "[... more lines; continue with offset=5]"]
    text, _ = run(box, "Read", file_path="backend/app.py", offset=50)
    assert "offset 50 is past the end" in text
    (ws / "backend" / "empty.txt").write_text("")
    assert run(box, "Read", file_path="backend/empty.txt") == ("(empty file)", False)
    (ws / "backend" / "blob.bin").write_bytes(b"\x00\x01" * 100)
    text, err = run(box, "Read", file_path="backend/blob.bin")
    assert err and "binary file" in text
    text, err = run(box, "Read", file_path="backend/missing.py")
    assert err and text == "No such file or directory: /workspace/backend/missing.py"
    text, err = run(box, "Read", file_path="backend")
    assert err and "is a directory" in text


def test_write_and_edit(box: Toolbox, ws: Path) -> None:
    text, err = run(box, "Write", file_path="backend/pkg/mod.py", content="a = 1\nb = 1\n")
    assert not err and text == "Wrote 12 bytes to /workspace/backend/pkg/mod.py"
    assert (ws / "backend" / "pkg" / "mod.py").read_text() == "a = 1\nb = 1\n"
    text, err = run(box, "Edit", file_path="backend/pkg/mod.py", old_string="= 1", new_string="= 2")
    assert err and "occurs 2 times" in text
    text, err = run(box, "Edit", file_path="backend/pkg/mod.py", old_string="a = 1", new_string="a = 3")
    assert not err and "1 replacement" in text
    text, err = run(box, "Edit", file_path="backend/pkg/mod.py", old_string="1", new_string="9", replace_all=True)
    assert not err and (ws / "backend" / "pkg" / "mod.py").read_text() == "a = 3\nb = 9\n"
    text, err = run(box, "Edit", file_path="backend/pkg/mod.py", old_string="zzz", new_string="y")
    assert err and "not found" in text
    text, err = run(box, "Write", file_path="backend/app.py/child", content="x")
    assert err and "Not a directory" in text


def test_symlink_swapped_after_the_decision_is_refused(box: Toolbox, ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("original")
    target = ws / "backend" / "swap.txt"
    target.write_text("inside")
    measured = box.measure("Write", {"file_path": "backend/swap.txt"})  # what the policy saw
    target.unlink()
    target.symlink_to(outside)  # swapped before the write
    out = box.run("Write", {"file_path": "backend/swap.txt", "content": "pwned"}, measured)
    assert out.is_error and "changed since the policy decision" in out.text
    assert outside.read_text() == "original"


def test_glob_grep_ls(box: Toolbox, ws: Path) -> None:
    (ws / "backend" / "old.py").write_text("import os\n")
    os.utime(ws / "backend" / "old.py", (time.time() - 100, time.time() - 100))
    (ws / "backend" / "new.py").write_text("import sys\nTODO = 1\n")
    (ws / "backend" / "data.bin").write_bytes(b"TODO\x00")
    (ws / "frontend" / "a.js").write_text("// TODO\n")
    text, _ = run(box, "Glob", pattern="backend/*.py")
    assert text.splitlines()[0] == "backend/new.py" and text.splitlines()[-1] == "backend/old.py"
    assert run(box, "Glob", pattern="**/*.rs") == ("No files found", False)
    assert run(box, "Glob", pattern="/etc/*")[1]
    text, _ = run(box, "Grep", pattern="TODO")
    assert set(text.splitlines()) == {"backend/new.py:2:TODO = 1", "frontend/a.js:1:// TODO"}
    text, _ = run(box, "Grep", pattern="^import", path="backend", glob="*.{py,txt}")
    assert set(text.splitlines()) == {"backend/new.py:1:import sys", "backend/old.py:1:import os"}
    text, err = run(box, "Grep", pattern="(")
    assert err and "invalid regular expression" in text
    text, _ = run(box, "LS", path=".")
    assert text.splitlines() == ["/workspace/", "  backend/", "  frontend/"]


def test_bash(box: Toolbox, ws: Path) -> None:
    text, err = run(box, "Bash", command="pwd; echo out; echo err >&2")
    assert not err and text.splitlines() == [os.path.realpath(ws), "out", "err"]
    text, err = run(box, "Bash", command="echo partial; exit 3")
    assert err and text == "partial\n[exit code 3]"
    assert run(box, "Bash", command="true") == ("(no output)", False)


def test_bash_environment_is_minimal(box: Toolbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_TEST_MARKER", "leaky-value")
    text, _ = run(box, "Bash", command="env")
    names = {line.split("=", 1)[0] for line in text.splitlines()}
    assert "SANDBOX_TEST_MARKER" not in names and "leaky-value" not in text
    assert names <= {"PATH", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE", "TMPDIR", "PWD", "SHLVL", "_", "OLDPWD"}


def _ended(pid: int) -> bool:
    """The process is gone or a zombie (killed; its reaper may not have run yet)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


def _wait_ended(pid: int, limit: float = 30) -> None:
    """Wait for the event (the process ended), bounded; never a fixed sleep."""
    deadline = time.monotonic() + limit
    while not _ended(pid):
        assert time.monotonic() < deadline, f"pid {pid} still alive {limit}s after the call returned"
        time.sleep(0.05)


def test_bash_timeout_kills_the_process_group(box: Toolbox, tmp_path: Path) -> None:
    marker, pidfile = tmp_path / "survivor", tmp_path / "bg.pid"
    start = time.monotonic()
    text, err = run(box, "Bash", command=f"(sleep 30; touch {marker}) & echo $! > {pidfile}; sleep 60",
                    timeout=2)
    assert err and "timed out after 2s" in text
    assert time.monotonic() - start < 30  # the deadline, not the 60 s command
    _wait_ended(int(pidfile.read_text()))  # the background child died with the group
    assert not marker.exists()


def test_bash_background_jobs_do_not_hang_the_call(box: Toolbox, tmp_path: Path) -> None:
    marker, pidfile = tmp_path / "late", tmp_path / "bg.pid"
    start = time.monotonic()
    text, err = run(box, "Bash", command=f"(sleep 300; touch {marker}) & echo $! > {pidfile}; echo started")
    assert (text, err) == ("started", False)
    assert time.monotonic() - start < 60  # not the 300 s the job holds the pipe for
    _wait_ended(int(pidfile.read_text()))
    assert not marker.exists()


def test_bash_waits_for_the_shell_not_for_eof(box: Toolbox) -> None:
    """EOF comes first (stdout closed), the exit 0 later: the call reports exit 0, not a kill."""
    assert run(box, "Bash", command="echo closing; exec >&- 2>&-; sleep 1; exit 0") == ("closing", False)
    text, err = run(box, "Bash", command="echo closing; exec >&- 2>&-; sleep 1; exit 5")
    assert err and text == "closing\n[exit code 5]"


def test_bash_output_is_truncated(box: Toolbox) -> None:
    text, err = run(box, "Bash", command="seq 1 200000")
    assert not err, text[-500:]
    assert len(text) < 4200
    assert text.startswith("1\n2\n") and text.rstrip().endswith("200000")
    assert "bytes of output omitted" in text


def test_unknown_disabled_and_malformed_calls(ws: Path) -> None:
    box = Toolbox(Workspace(ws), enabled=["Read"], output_limit=1000, bash_timeout=5)
    out = box.run("Teleport", {}, [])
    assert out.is_error and "Unknown tool 'Teleport'" in out.text
    out = box.run("Bash", {"command": "touch x"}, [])
    assert out.is_error and "not available" in out.text and not (ws / "x").exists()
    out = box.run("Read", {"file_path": 42}, [])
    assert out.is_error and "Invalid input for Read: file_path" in out.text
    out = box.run("Read", {"file_path": "a", "bogus": 1}, [])
    assert out.is_error and "bogus" in out.text
    assert box.measure("Read", {"file_path": ["x"]}) == []


def test_bash_gets_the_proxy_variables_only_when_the_run_has_a_proxy() -> None:
    from runner.agent.bash import minimal_env
    from runner.egress.relay import proxy_env

    plain = minimal_env({"PATH": "/usr/bin", "HOME": "/home/agent", "AWS_SECRET": "x"})
    assert not any("proxy" in k.lower() for k in plain) and "AWS_SECRET" not in plain
    with_proxy = minimal_env({"PATH": "/usr/bin", **proxy_env(3128), "AWS_SECRET": "x"})
    assert {k: with_proxy[k] for k in proxy_env(3128)} == proxy_env(3128)
    assert with_proxy["https_proxy"] == "http://127.0.0.1:3128"
    assert with_proxy["NO_PROXY"] == "localhost,127.0.0.1,::1" and "AWS_SECRET" not in with_proxy


def test_grep_reads_a_linked_file_only_when_its_glob_selects_the_link(box: Toolbox,
                                                                      ws: Path) -> None:
    # what the policy derives for a Grep glob (runner/policy/derive.py, _grep_paths): the
    # target of a file link is read only through a link the glob selects
    (ws / "notes").mkdir()
    (ws / "notes" / "secret.txt").write_text("ROUTE = 'linked'\n")
    (ws / "backend" / "settings.txt").symlink_to("../notes/secret.txt")
    (ws / "backend" / "linked.py").symlink_to("../notes/secret.txt")
    grep = lambda **kw: {ln.split(":")[0] for ln in run(box, "Grep", pattern="linked", **kw)[0].splitlines()}  # noqa: E731
    assert grep(path="backend", glob="*.py") == {"backend/linked.py"}
    assert grep(path="backend", glob="*.txt") == {"backend/settings.txt"}
    assert grep(path="backend", glob="*.md") == {"No matches found"}


def test_glob_and_grep_patterns_follow_claude_code(box: Toolbox, ws: Path) -> None:
    (ws / "backend" / "app" / "api").mkdir(parents=True)
    (ws / "backend" / "app" / "api" / "routes.py").write_text("ROUTE = 1\n")
    (ws / "backend" / "app" / "view.tsx").write_text("ROUTE\n")
    (ws / "backend" / "app" / "style.css").write_text("ROUTE\n")
    (ws / "backend" / ".env.example").write_text("ROUTE\n")
    (ws / "backend" / "@(x).py").write_text("ROUTE\n")
    listed = lambda pattern: set(run(box, "Glob", pattern=pattern)[0].splitlines())  # noqa: E731
    # braces and globstar (zero or more directories)
    assert listed("backend/**/*.{py,tsx}") == {
        "backend/app.py", "backend/app/api/routes.py", "backend/app/view.tsx", "backend/@(x).py"}
    assert listed("**/api/*.py") == {"backend/app/api/routes.py"}
    assert listed("backend/*.example") == {"backend/.env.example"}  # dotfiles match
    # extglob is off: @(x) is a literal name, not a pattern
    assert listed("backend/@(x).py") == {"backend/@(x).py"}
    # a link to a directory is not walked by **
    (ws / "backend" / "loop").symlink_to(ws / "backend")
    assert listed("backend/**/routes.py") == {"backend/app/api/routes.py"}
    # Grep: a glob without a slash matches the base name anywhere, one with a slash the path
    grep = lambda **kw: {ln.split(":")[0] for ln in run(box, "Grep", pattern="ROUTE", **kw)[0].splitlines()}  # noqa: E731
    assert grep(path="backend", glob="*.{py,tsx}") == {
        "backend/app/api/routes.py", "backend/app/view.tsx", "backend/@(x).py"}
    assert grep(path="backend", glob="app/**/*.py") == {"backend/app/api/routes.py"}
    # '..' hidden in braces would reach where the policy did not look: refused
    for pattern in ("{..,backend}/*", "backend/{x,../frontend}/*"):
        text, err = run(box, "Glob", pattern=pattern)
        assert err and "inside a brace expression" in text
    assert listed("backend/../backend/app/api/*.py") == {"backend/../backend/app/api/routes.py"}
    # brace bombs are refused, not expanded
    bomb = "{a,b}" * 12 + ".py"
    text, err = run(box, "Glob", pattern=bomb)
    assert err and "more than 1000 patterns" in text
    text, err = run(box, "Grep", pattern="x", glob=bomb)
    assert err and "more than 1000 patterns" in text


def test_the_agents_third_party_imports_are_pinned_in_the_runtime_image() -> None:
    """runner.agent runs on the runtime venv alone (images/runtime/requirements.txt)."""
    import ast
    import importlib.metadata as md
    import sys

    repo = Path(__file__).resolve().parents[2]
    modules: set[str] = set()
    for source in (repo / "runner" / "agent").glob("*.py"):
        if source.name == "pytest_outcomes.py":  # a pytest plugin: runs on the project's env
            continue
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                modules |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module.split(".")[0])
    third_party = {m for m in modules if m not in sys.stdlib_module_names and m != "runner"}
    dists = md.packages_distributions()
    needed = {d.lower() for m in third_party for d in dists.get(m, [m])}
    pinned = {ln.split("==")[0].strip().lower()
              for ln in (repo / "images/runtime/requirements.txt").read_text().splitlines()
              if "==" in ln and not ln.startswith("#")}
    assert "wcmatch" in needed and needed <= pinned, needed - pinned
