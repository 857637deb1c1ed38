"""Host boundary, the agent's box: the Bash tool, the agent's start, masks, ownership, ``--out``.

Each test is a regression test for a finding of issue 8 (see the ``host_boundary`` marker).
Real containers and real runs where the kernel is involved; nothing waits on a timing window.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.agent.paths import Workspace
from runner.agent.tools import Toolbox
from runner.errors import EnvironmentProblem
from runner.sandbox.access import ACL_XATTR, RECORD_NAME, check_project_access, undo_left_grant
from runner.sandbox.masks import find_secret_paths, strip_git_credentials
from tests.sandbox.conftest import is_secret
from tests.security import harness as h
from tests.security.harness import bash, call

# --- 1. the Bash tool reports ordinary commands as they ended ----------------------------------

# (command, exact output) pairs: ordinary commands whose last program closes its stdout before it
# exits (coreutils do), which is what the old EOF-then-kill raced against.
ORDINARY: list[tuple[str, str]] = [
    ("ls architecture", "backend.md"),
    ("cat README.md", "# demo project"),
    ("grep -c return backend/app.py", "1"),
    ("seq 1 40", "\n".join(str(i) for i in range(1, 41))),
    ("echo hello", "hello"),
    ("python3 -c 'print(6 * 7)'", "42"),
    ("wc -l < architecture/backend.md", "3"),
    ("head -1 architecture/backend.md", "# Backend spec"),
    ("printf 'b\\na\\nc\\n' | sort", "a\nb\nc"),
    ("cat config/settings.toml", "debug = false"),
    ("tail -n 1 frontend/app.js", "console.log('frontend');"),
    ("seq 1 3 | tac", "3\n2\n1"),
]


def _sixty() -> list[tuple[str, str]]:
    """Sixty distinct commands (a leading assignment makes each unique without changing it)."""
    return [(f"N={i} {cmd}", out) for i in range(5) for cmd, out in ORDINARY]


@contextlib.contextmanager
def _cpu_burners(count: int) -> Iterator[None]:
    """Processes that keep every core busy (started and killed here, by pid)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


@pytest.mark.host_boundary(
    finding="bash-exit-code",
    title="Bash reported ordinary commands as killed (exit -9) under load; it now waits for the "
          "shell's exit, bounded by the deadline, before reaping the group")
@pytest.mark.parametrize("burners", [0, 4], ids=["idle", "cpu-burner"])
def test_sixty_ordinary_commands_on_the_host(tmp_path: Path, burners: int) -> None:
    """Idle and with every core busy: the result must not depend on load (the old code lost
    most races when idle, fewer under a burner)."""
    world = h.make_world(tmp_path)
    box = Toolbox(Workspace(world.project), enabled=["Bash"], output_limit=30_000, bash_timeout=120)
    failed = []
    with _cpu_burners(burners):
        for command, expected in _sixty():
            out = box.run("Bash", {"command": command}, [])
            if out.is_error or out.text != expected:
                failed.append(f"{command!r} -> {out.text[-120:]!r} (is_error={out.is_error})")
    assert not failed, f"{len(failed)} of 60 ordinary commands misreported: {failed[:5]}"


@pytest.mark.docker
@pytest.mark.host_boundary(
    finding="bash-exit-code-sandbox",
    title="60 ordinary Bash commands in one real sandbox run are all reported as successes "
          "with their full output")
def test_sixty_ordinary_commands_in_one_sandbox_run(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    commands = _sixty()
    calls = [bash(c) for c, _ in commands]
    turns = [{"text": f"batch {i}", "tool_calls": calls[i:i + 10]} for i in range(0, 60, 10)]
    res = h.run_scenario(world, "sixty", turns, policy_dir=h.ALLOW_ALL, timeout=300)
    assert res.exit_code == 0, res.describe()
    outcomes = h.outcomes(res, calls)
    failed = []
    for (command, expected), oc in zip(commands, outcomes, strict=True):
        if len(oc.results) != 1:
            failed.append(f"{command!r}: {len(oc.results)} results")
            continue
        block = oc.results[0]
        text = h.result_text(block)
        if block.get("is_error") or text != expected:
            failed.append(f"{command!r} -> {text[-120:]!r} (is_error={block.get('is_error')})")
    assert not failed, f"{len(failed)} of 60 ordinary commands misreported: {failed[:5]}"


# --- 2. the agent's modules cannot be shadowed from the workspace ------------------------------


@pytest.mark.docker
@pytest.mark.host_boundary(
    finding="agent-sys-path",
    title="a project's runner/ or httpx.py in /workspace could shadow the agent's modules; "
          "the agent starts with python3 -P (no CWD on sys.path)")
def test_planted_modules_in_the_workspace_do_not_shadow_the_agent(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    bomb = "raise SystemExit('SHADOWED: a workspace module was imported by the agent')\n"
    for rel in ("runner/__init__.py", "runner/agent/__init__.py", "runner/agent/__main__.py",
                "anthropic.py", "httpx.py", "pydantic.py"):
        path = world.project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(bomb, encoding="utf-8")
    turns = [{"text": "look", "tool_calls": [bash("echo ok")]}]
    res = h.run_scenario(world, "shadow", turns, policy_dir=h.ALLOW_ALL)
    assert res.exit_code == 0, res.describe()
    assert "SHADOWED" not in res.stderr
    assert res.summary.get("status") == "passed"


# --- 3. a project directory the sandbox user cannot enter ---------------------------------------


def _acl(path: Path) -> bytes | None:
    try:
        return os.getxattr(path, ACL_XATTR, follow_symlinks=False)
    except OSError:
        return None


def _mktemp_style(world: h.World) -> None:
    """The project as `mktemp -d` makes it: root-owned, mode 0700 (the run uses uid 10001)."""
    os.chown(world.project, 0, 0)
    world.project.chmod(0o700)


@pytest.mark.docker
@pytest.mark.host_boundary(
    finding="project-0700",
    title="a root-owned 0700 project failed the self-check with no hint; the sandbox uid now gets "
          "one ACL entry (r-x) on the project directory per container, its ACL and mode put back")
def test_a_mktemp_project_runs_and_keeps_its_mode(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    _mktemp_style(world)
    before = h.snapshot(world)
    test = "from backend.app import hello\n\n\ndef test_ok():\n    assert hello() == 'hi'\n"
    turns = [{"text": "work", "tool_calls": [
        bash("ls; cat README.md"), call("Write", file_path="backend/test_ok.py", content=test)]}]
    res = h.run_scenario(world, "mktemp", turns, skip_verify=False, timeout=240)
    assert res.exit_code == 0, res.describe()
    assert res.run_json.get("self_check_ok") is True
    assert res.summary.get("tests", {}).get("passed", 0) >= 1, res.summary.get("tests")
    st = os.stat(world.project)
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o700, 0)
    assert _acl(world.project) is None, "the run's ACL entry stayed on the project"
    assert not (world.project / ".sandbox-runner" / RECORD_NAME).exists()
    assert h.diff_snapshots(before, h.snapshot(world)) == []


@pytest.mark.host_boundary(
    finding="project-0700-left-grant",
    title="a grant left by a killed runner is undone by the next run (exact ACL and mode)")
def test_a_grant_left_by_a_killed_runner_is_undone(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir(mode=0o700)
    code = ("import sys, time\nfrom pathlib import Path\nfrom runner.sandbox.access import project_access\n"
            "cm = project_access(Path(sys.argv[1]), 10001, 10001)\nprint(cm.__enter__(), flush=True)\n"
            "time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(project)], stdout=subprocess.PIPE,
                            text=True, cwd=h.REPO)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "True"
    finally:
        proc.kill()  # SIGKILL: no finally block of the runner runs
        proc.wait()
    assert _acl(project) is not None and stat.S_IMODE(os.stat(project).st_mode) == 0o750
    undo_left_grant(project)
    assert _acl(project) is None and stat.S_IMODE(os.stat(project).st_mode) == 0o700
    assert not (project / ".sandbox-runner" / RECORD_NAME).exists()


@pytest.mark.docker
@pytest.mark.host_boundary(
    finding="project-untraversable",
    title="a directory above a writable path that the sandbox uid cannot enter fails before any "
          "container starts: exit 4, one line with the fix, nothing changed")
def test_an_unreachable_writable_path_fails_early_and_changes_nothing(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    _mktemp_style(world)
    services = world.project / "services"
    (services / "api").mkdir(parents=True)
    services.chmod(0o700)
    pdir = h.copy_policies(tmp_path / "policies")
    data = json.loads((pdir / "data.json").read_text(encoding="utf-8"))
    data["settings"]["writable"] = ["services/api/", "issues.md"]
    (pdir / "data.json").write_text(json.dumps(data), encoding="utf-8")
    before = h.snapshot(world)
    res = h.run_scenario(world, "unreachable", [{"text": "done"}], policy_dir=pdir)
    assert res.exit_code == 4, res.describe()
    lines = h.error_lines(res.stdout, res.stderr)
    assert len(lines) == 1 and f"chmod o+x {services}" in lines[0], lines
    assert h.diff_snapshots(before, h.snapshot(world)) == []
    assert not (world.project / ".sandbox-runner").exists() and not res.run_dir.exists()
    assert _acl(world.project) is None and not h.containers_for(project=world.project)


@pytest.mark.host_boundary(
    finding="project-0700-no-grant",
    title="when the grant is impossible (not root, not the owner) the run stops before anything "
          "starts, exit 4, with a one-line fix")
def test_no_grant_possible_is_one_line_with_the_fix(tmp_path: Path) -> None:
    project = Path(tempfile.mkdtemp(prefix="sr-mktemp-"))  # 0700, root: stat-able by anyone
    try:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # a non-root runner (a fork keeps the interpreter /root would hide)
            msg = "child failed"
            try:
                os.close(read)
                os.setgid(54321)
                os.setuid(54321)
                check_project_access(project, 10001, 10001, ["backend/", "issues.md"])
                msg = "no error"
            except EnvironmentProblem as exc:
                msg = f"{exc.exit_code} {exc}"
            except BaseException as exc:
                msg = f"child failed: {exc!r}"
            finally:
                os.write(write, msg.encode())
                os._exit(0)
        os.close(write)
        with os.fdopen(read) as fh:
            msg = fh.read()
        os.waitpid(pid, 0)
    finally:
        os.rmdir(project)
    assert msg.startswith("4 ") and "\n" not in msg, msg
    assert f"setfacl -m u:10001:rx {project}" in msg and f"chmod o+rx {project}" in msg


# --- 4. masks: links, loops, .git/config credentials --------------------------------------------

PLANTED_LINKS = {  # name under backend/ -> target: each would have made the next run mask it
    ".aws": "..", ".ssh": "../frontend", "x.key": "../README.md", "loop-a.pem": "loop-b.pem",
    "loop-b.pem": "loop-a.pem", ".kube": "../.git", "id_rsa": "/workspace/architecture/backend.md",
}


@pytest.mark.host_boundary(
    finding="mask-links",
    title="links under writable paths (planted by the agent) decided the next run's masks and a "
          "loop crashed the walk; such links are now never read, others never followed")
def test_planted_links_do_not_decide_masks(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    for name, target in PLANTED_LINKS.items():
        (world.backend / name).symlink_to(target)
    (world.project / "loop1.key").symlink_to("loop2.key")  # shipped loops: no crash either
    (world.project / "loop2.key").symlink_to("loop1.key")
    (world.project / "shipped.pem").symlink_to("config/settings.toml")  # a shipped secret link
    found = find_secret_paths(world.project, is_secret, ["backend/", "issues.md"])
    assert "config/settings.toml" in found  # the project's own link still masks its target
    wrong = [p for p in found if p.rstrip("/") in ("", ".", "frontend", "README.md", ".git",
                                                   "architecture/backend.md", "backend")
             or p.startswith("backend/")]
    assert not wrong, found


@pytest.mark.docker
@pytest.mark.host_boundary(
    finding="mask-links-next-run",
    title="a run after one that planted links and loops under backend/ starts and sees the "
          "project unchanged")
def test_the_run_after_planted_links_is_not_affected(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    plant = "; ".join(f"ln -s {t} backend/{n}" for n, t in PLANTED_LINKS.items())
    first = h.run_scenario(world, "plant", [{"text": "plant", "tool_calls": [bash(plant)]}],
                           policy_dir=h.ALLOW_ALL)
    assert first.exit_code == 0, first.describe()
    assert (world.backend / ".aws").is_symlink()
    check = bash("cat frontend/app.js README.md architecture/backend.md && git log --oneline | wc -l")
    second = h.run_scenario(world, "after-plant", [{"text": "look", "tool_calls": [check]}],
                            policy_dir=h.ALLOW_ALL)
    assert second.exit_code == 0, second.describe()
    masked = second.run_json.get("masked") or []
    assert not [m for m in masked if not m.startswith((".env", "config/.env", ".npmrc", "deploy/",
                                                       ".aws/"))], masked
    (outcome,) = h.outcomes(second, [check])
    assert not outcome.results[0].get("is_error") and "console.log('frontend');" in outcome.texts[0]


CI_TOKEN = "ghs_CItokenNeverInTheSandbox0123456789AB"
BASIC = base64.b64encode(f"x-access-token:{CI_TOKEN}".encode()).decode()
URL_PASSWORD = "urlPassw0rd-Kq8Zr3Lm"
CHECKOUT_CONFIG = f"""[remote "origin"]
\turl = https://x-access-token:{URL_PASSWORD}@github.com/acme/app
\tfetch = +refs/heads/*:refs/remotes/origin/*
[http "https://github.com/"]
\textraheader = AUTHORIZATION: basic {BASIC}
[url "https://oauth2:{URL_PASSWORD}@gitlab.example/"]
\tinsteadOf = https://gitlab.example/
"""


def test_strip_git_credentials_keeps_the_rest() -> None:
    text = "[core]\n\tbare = false\n" + CHECKOUT_CONFIG + "[http]\n\textraHeader = a \\\n  b\n\tsslVerify = true\n"
    clean = strip_git_credentials(text)
    assert CI_TOKEN not in clean and BASIC not in clean and URL_PASSWORD not in clean
    assert "  b" not in clean  # the continuation of a dropped key goes with it
    for kept in ("\tbare = false", "\turl = https://github.com/acme/app", "sslVerify = true",
                 '[url "https://gitlab.example/"]', "fetch = +refs"):
        assert kept in clean, (kept, clean)
    assert strip_git_credentials("[core]\n\tbare = false\n") == "[core]\n\tbare = false\n"


@pytest.mark.docker
@pytest.mark.host_boundary(
    finding="git-config-credentials",
    title="the CI token actions/checkout keeps in .git/config was readable in the sandbox; the "
          "container now sees a read-only copy without credentials, and git still works")
def test_git_config_credentials_never_reach_the_container(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    config = world.project / ".git" / "config"
    config.write_text(config.read_text(encoding="utf-8") + CHECKOUT_CONFIG, encoding="utf-8")
    before = h.snapshot(world)
    probe = bash("cat .git/config > backend/seen-config.txt; cat .git/config .git/* > /dev/null 2>&1; "
                 "git status --short > backend/git-status.txt && git diff --stat HEAD > /dev/null "
                 "&& git log --oneline > backend/git-log.txt && echo GIT_OK; "
                 "echo x >> .git/config || echo WRITE_REFUSED")
    verify_test = (  # the verification container sees the same copy
        "from backend.app import hello\n\n\ndef test_config_is_clean():\n"
        "    text = open('/workspace/.git/config').read()\n"
        f"    assert hello() == 'hi' and '[remote' in text and {CI_TOKEN[:12]!r} not in text\n"
        f"    assert {URL_PASSWORD[:8]!r} not in text and 'extraheader' not in text.lower()\n")
    write = call("Write", file_path="backend/test_gitcfg.py", content=verify_test)
    res = h.run_scenario(world, "git-config", [{"text": "look", "tool_calls": [probe, write]}],
                         policy_dir=h.ALLOW_ALL, skip_verify=False, timeout=240)
    assert res.exit_code == 0, res.describe()
    assert res.summary.get("tests", {}).get("passed") == 1, res.summary.get("tests")
    seen = (world.backend / "seen-config.txt").read_text(encoding="utf-8")
    assert "[remote \"origin\"]" in seen and "https://github.com/acme/app" in seen
    assert h.leaked(seen, (CI_TOKEN, BASIC, URL_PASSWORD)) == [] and "extraheader" not in seen.lower()
    (outcome,) = h.outcomes(res, [probe])
    assert "GIT_OK" in outcome.texts[0] and "WRITE_REFUSED" in outcome.texts[0], outcome.texts
    assert "initial" in (world.backend / "git-log.txt").read_text(encoding="utf-8")
    checks = {c["name"]: c["ok"] for c in res.run_json.get("self_check", [])}
    assert checks.get("credentials_removed") is True, checks
    assert h.diff_snapshots(before, h.snapshot(world)) == []  # the real file is untouched
    everything = h.files_text(res.run_dir) + h.files_text(world.backend)
    assert h.leaked(everything, (CI_TOKEN, BASIC, URL_PASSWORD)) == []


# --- 5. --out inside the project -----------------------------------------------------------------


@pytest.mark.host_boundary(
    finding="out-inside-project",
    title="--out inside the project put the run record where the sandbox reads it; it is refused "
          "(exit 2, one line) unless under the masked .sandbox-runner/")
@pytest.mark.parametrize("where", ["out", "backend/run", ".", "frontend/../docs/run"])
def test_out_inside_the_project_is_refused(tmp_path: Path, where: str) -> None:
    world = h.make_world(tmp_path)
    out = world.project / where
    before = h.snapshot(world)
    scenario = h.write_scenario(world.scratch / "s.json", [{"text": "done"}])
    cmd = h.run_cmd(world.project, scenario, out)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=h.runner_env(), timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    lines = h.error_lines(proc.stdout, proc.stderr)
    assert len(lines) == 1 and "--out" in lines[0] and ".sandbox-runner/" in lines[0], lines
    assert h.diff_snapshots(before, h.snapshot(world)) == []
    assert not (world.project / ".sandbox-runner").exists()


@pytest.mark.docker
def test_out_under_the_runner_state_is_accepted(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    scenario = h.write_scenario(world.scratch / "s.json", [{"text": "done"}])
    out = world.project / ".sandbox-runner" / "mine"
    proc = subprocess.run(h.run_cmd(world.project, scenario, out), capture_output=True, text=True,
                          env=h.runner_env(), timeout=240, stdin=subprocess.DEVNULL)
    h.FINISHED_PROJECTS.add(str(world.project))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "summary.json").is_file()


def test_a_linked_runner_state_is_refused(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    (world.project / ".sandbox-runner").symlink_to("frontend")
    scenario = h.write_scenario(world.scratch / "s.json", [{"text": "done"}])
    proc = subprocess.run(h.run_cmd(world.project, scenario, world.runs / "r"), capture_output=True,
                          text=True, env=h.runner_env(), timeout=120, stdin=subprocess.DEVNULL)
    lines = h.error_lines(proc.stdout, proc.stderr)
    assert proc.returncode == 2 and ".sandbox-runner is not a directory" in lines[0], lines
