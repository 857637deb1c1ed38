"""Policy derivation on the host: it never reads host files unsafely, decisions never leak secrets.

Derivation reads what the agent wrote (scripts it sources or runs, directories it globs or
reads recursively), on the host, while the agent can change it. It must see what the
container sees (masked paths are empty, ``.sandbox-runner/`` too), never follow a link
swapped in after resolution, never block on a FIFO, and everything it returns (the logged
input, the reasons shown and sent back to the agent) passes through the run's redactor.

Real parts throughout: the default policy bundle in the real regorus engine, real
workspaces with real symlinks and FIFOs, the ``sandbox-runner policy eval`` console script
in a subprocess, and (Docker) a whole scripted run.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from runner.audit import DecisionLog
from runner.config import PolicyConfig, build_run_config
from runner.gateway.redact import Redactor
from runner.hostfs import WorkspaceFS
from runner.policy.bundle import load_bundle
from runner.policy.data import load_policy_data
from runner.policy.decider import Decider
from runner.policy.engine import PolicyEngine, load_engine
from runner.policy.models import RunInfo, ToolCall
from runner.policy.paths import PathResolver
from runner.protocol import DecideRequest
from runner.run.display import RunDisplay
from runner.run.phases import Run, prepare
from runner.sandbox.masks import find_secret_paths
from tests.security import harness as h

CLI = Path(sys.executable).parent / "sandbox-runner"
STRIPE = "sk_live_51Hx9QmZt4VbN7cR2pLw8KdYs"  # the .env value of the proof of concept
PLAIN = "plain-looking-value-Jq7Wm2Xz9Rt"  # a .env value no detector and no env name flags
OUTSIDE = "outside-fake-secret-Ty6Ui8Op0As2"  # in a host file outside the workspace
ENV_CANARY = "environ-canary-Zx3Cv5Bn7Mq9Lk1"  # in the deciding process's environment
API_KEY = "sk-ant-api03-RACEcanary-" + "Q7w8E9r0T1y2U3i4O5p6A7s8D9f0G1h2J3k4L5z6X7c8V9b0N1m2"
WAIT = 120.0  # generous: an Event that is never set means a blocked decider
FIFO = "<fifo>"


@pytest.fixture(scope="module")
def engine() -> Iterator[PolicyEngine]:
    eng = load_engine(PolicyConfig())
    yield eng
    eng.close()


def _project(root: Path) -> Path:
    """A project with masked files and directories the way a run sees them."""
    proj = root / "proj"
    (proj / "backend").mkdir(parents=True)
    (proj / "frontend").mkdir()
    (proj / "backend" / "app.py").write_text("x = 1\n")
    (proj / ".env").write_text(f"STRIPE_SECRET_KEY={STRIPE}\nPLAIN_SETTING={PLAIN}\n")
    (proj / ".aws").mkdir()
    (proj / ".aws" / "credentials").write_text(f"aws_secret_access_key = {PLAIN}x\n")
    (proj / ".sandbox-runner").mkdir()
    (proj / ".sandbox-runner" / "state.sh").write_text(f"STATE={PLAIN}y\n")
    (proj / "backend" / "env_link").symlink_to("../.env")
    return proj


def _masks(proj: Path) -> list[str]:
    data = load_policy_data(load_bundle([]))
    return find_secret_paths(proj, data.is_secret_path)


def _run_like_decider(engine: PolicyEngine, proj: Path, *, redact: bool = True) -> Decider:
    """The decider as ``Run.execute`` builds it: the run's masks and the run's redactor."""
    masks = _masks(proj)
    redactor = Redactor.from_env(
        secret_files=[proj / p for p in masks if (proj / p).is_file()]) if redact else None
    return Decider(engine, workspace=proj, run=RunInfo(id="t"), masks=masks, redactor=redactor)


def _dump(*objs: Any) -> str:
    return "\n".join(o.model_dump_json() if hasattr(o, "model_dump_json") else json.dumps(o)
                     for o in objs)


POC_COMMANDS = [
    'source .env; touch "frontend/${STRIPE_SECRET_KEY}"',
    '. ./.env && touch "frontend/$PLAIN_SETTING"',
    'source backend/env_link; echo "$STRIPE_SECRET_KEY" > "frontend/$PLAIN_SETTING"',
    'bash backend/env_link; touch "frontend/${PLAIN_SETTING}"',
    'source .aws/credentials; touch "frontend/$aws_secret_access_key"',
    'source .sandbox-runner/state.sh; touch "frontend/$STATE"',
    'cat .e* .aws/* .sandbox-runner/* > frontend/x; grep -r x . .aws',
]


@pytest.mark.host_boundary(
    finding="derive-reads-masked",
    title="`source .env; touch \"frontend/${KEY}\"` put the .env value in the deny reason and "
          "decisions.jsonl; derivation now sees masked paths as the container does (empty) and "
          "every logged input and reason passes the run's redactor")
def test_dotenv_poc_never_reaches_reasons_log_or_console(tmp_path: Path, engine: PolicyEngine) -> None:
    proj = _project(tmp_path)
    scenario = h.write_scenario(tmp_path / "scenario.json", [{"text": "done"}])
    run = Run(prepare(build_run_config(proj, {"model": f"scripted:{scenario}"})),
              RunDisplay(console=Console(file=(console := io.StringIO()), width=400)))
    run.decisions.decider = _run_like_decider(engine, proj)
    log_path = tmp_path / "decisions.jsonl"
    run.decisions.log = DecisionLog(log_path, labels={}, bundle_hash="x")
    answers = [run.decisions.decide(DecideRequest(tool="Bash", input={"command": c})) for c in POC_COMMANDS]
    run.decisions.log.close()
    assert all(not a.allow for a in answers)
    assert answers[0].reasons and {r.rule for r in answers[0].reasons} >= {"secret_file"}
    seen = "\n".join([_dump(*answers), log_path.read_text(), console.getvalue()])
    for secret in (STRIPE, PLAIN, PLAIN + "x", PLAIN + "y"):
        assert secret not in seen


def test_derivation_itself_never_reads_a_masked_path(tmp_path: Path, engine: PolicyEngine) -> None:
    """Without a redactor: what derivation produces holds no masked content at all."""
    proj = _project(tmp_path)
    decider = _run_like_decider(engine, proj, redact=False)
    for command in POC_COMMANDS:
        policy_input, decision, _ = decider.decide(ToolCall(name="Bash", input={"command": command}))
        assert not decision.allow
        text = _dump(policy_input, decision)
        for secret in (STRIPE, PLAIN, PLAIN + "x", PLAIN + "y"):
            assert secret not in text, command
    # what the container sees: the masked file exists (empty), the masked directory is empty,
    # and a recursive read that reaches it names it (the policies deny it)
    res = PathResolver(proj, masks=_masks(proj))
    assert res.read_text("/workspace/.env", 4096) == ""
    assert res.read_text("/workspace/.aws/credentials", 4096) is None
    assert res.read_text("/workspace/.sandbox-runner/state.sh", 4096) is None
    assert res.expand_glob(".aws/*") == [] and res.expand_glob(".e*") == [".env"]
    walk = res.walk("/workspace")
    assert walk is not None and ".aws/" in walk.contents and ".env" in walk.contents
    assert not any(c.startswith((".aws/c", ".sandbox-runner/s")) for c in walk.contents)


# --- the race: a file that becomes a link between resolution and read --------------------------


class _Flipper:
    """Flips ``path`` between a regular shell script and symlinks to ``targets`` (``FIFO``: a
    named pipe instead), atomically (rename over it), until stopped."""

    def __init__(self, path: Path, targets: list[str]) -> None:
        self.path = path
        self.targets = targets
        self.stop = threading.Event()
        self.flips = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        tmp_file = self.path.with_name(".flip-file")
        tmp_link = self.path.with_name(".flip-link")
        i = 0
        while not self.stop.is_set():
            tmp_file.write_text("X=1\n")
            os.replace(tmp_file, self.path)
            with contextlib.suppress(FileNotFoundError):
                tmp_link.unlink()
            target = self.targets[i % len(self.targets)]
            if target == FIFO:
                os.mkfifo(tmp_link)
            else:
                tmp_link.symlink_to(target)
            os.replace(tmp_link, self.path)
            i += 1
            self.flips = i

    def __enter__(self) -> _Flipper:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(WAIT)


RACE_COMMANDS = [
    'source backend/s.sh; touch "frontend/${ENVIRON_CANARY}${ANTHROPIC_API_KEY}${FAKE}${STRIPE_SECRET_KEY}"',
    "bash backend/s.sh",
    "./backend/s.sh",
    'source backend/s.sh && echo "$FAKE" > frontend/out',
]


@pytest.mark.host_boundary(
    finding="derive-symlink-race",
    title="flipping a script between a file and a link to /proc/self/environ put the runner's "
          "environment (ANTHROPIC_API_KEY) in a deny reason; reads now go through WorkspaceFS "
          "(no-follow per component, fstat regular-file check), so a swapped-in link fails the "
          "read and is denied as opaque")
def test_script_flipped_to_a_link_never_leaks(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text(f"FAKE={OUTSIDE}\n")
    (proj / "backend" / "s.sh").write_text("X=1\n")
    rounds = 150
    calls = "".join(json.dumps({"tool": "Bash", "input": {"command": c}}) + "\n"
                    for _ in range(rounds) for c in RACE_COMMANDS)
    env = {"ENVIRON_CANARY": ENV_CANARY, "ANTHROPIC_API_KEY": API_KEY,
           **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}}
    with _Flipper(proj / "backend" / "s.sh", ["/proc/self/environ", str(outside), "../.env"]) as flip:
        proc = subprocess.run(
            [str(CLI), "policy", "eval", "--input", "-", "--workspace", str(proj)],
            input=calls, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == rounds * len(RACE_COMMANDS) and flip.flips > rounds
    decisions = [json.loads(line) for line in lines]
    assert not any(d["allow"] for d in decisions[::len(RACE_COMMANDS)])  # the touch in frontend/
    for secret in (ENV_CANARY, API_KEY, OUTSIDE, STRIPE):
        assert secret not in proc.stdout and secret not in proc.stderr


def test_flipped_script_in_process_never_reads_through_the_link(tmp_path: Path, engine: PolicyEngine) -> None:
    """The same race in the deciding process, without a redactor: derivation never reads a
    target, whatever the timing (environ is this process's own; the outside file is not known
    to any redactor)."""
    proj = _project(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text(f"FAKE={OUTSIDE}\n")
    environ = Path("/proc/self/environ").read_bytes().split(b"\0")
    env_values = [v.split(b"=", 1)[1].decode(errors="replace") for v in environ
                  if b"=" in v and len(v.split(b"=", 1)[1]) >= 12][:20]
    (proj / "backend" / "s.sh").write_text("X=1\n")
    decider = _run_like_decider(engine, proj, redact=False)
    outcomes: set[str] = set()
    with _Flipper(proj / "backend" / "s.sh", ["/proc/self/environ", str(outside), "../.env"]):
        for _ in range(100):
            for command in RACE_COMMANDS:
                policy_input, decision, _ = decider.decide(
                    ToolCall(name="Bash", input={"command": command}))
                text = _dump(policy_input, decision)
                assert OUTSIDE not in text and STRIPE not in text
                assert not any(v in text for v in env_values)
                outcomes.update(o.construct for o in (policy_input.shell.opaque if policy_input.shell else []))
    assert outcomes <= {"unreadable-script"}  # a swap caught mid-read is opaque, nothing else


# --- FIFOs: nothing blocks the decider -------------------------------------------------------------


def _promptly(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a thread; fail (instead of hanging) when it does not finish."""
    done = threading.Event()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the test
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, daemon=True).start()
    assert done.wait(WAIT), "the decider blocked"
    if "error" in box:
        raise box["error"]
    return box["value"]


@contextlib.contextmanager
def _released(*fifos: Path) -> Iterator[None]:
    """On the way out, open each FIFO for writing so a reader blocked in open() is released."""
    try:
        yield
    finally:
        for fifo in fifos:
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


FIFO_COMMANDS = [
    "source backend/pipe",
    "bash backend/pipe",
    "./backend/pipe",
    "source backend/s.sh",  # a script replaced by a FIFO
    "bash backend/link_to_pipe",
    "cat backend/* > /dev/null",
    "grep -r x backend",
    "grep -R x .",
    "ls backend/**/x",
    "git push",  # reads .git/config: a FIFO here
]


@pytest.mark.host_boundary(
    finding="derive-fifo-blocks",
    title="a FIFO where derivation reads a script blocked the only decider thread forever; "
          "every open is O_NONBLOCK and checked with fstat, so FIFOs are refused (opaque, deny) "
          "and globs and recursive walks never open them")
def test_fifos_never_block_the_decider(tmp_path: Path, engine: PolicyEngine) -> None:
    proj = _project(tmp_path)
    backend = proj / "backend"
    (backend / "s.sh").write_text("echo hi\n")
    (proj / ".git").mkdir()
    fifos = [backend / "pipe", backend / "sub" / "pipe", proj / ".git" / "config"]
    (backend / "sub").mkdir()
    with _released(*fifos, backend / "s.sh"):
        for fifo in fifos:
            os.mkfifo(fifo)
        (backend / "link_to_pipe").symlink_to("pipe")
        os.replace(backend / "s.sh", backend / "s.old")
        os.mkfifo(backend / "s.sh")
        decider = _run_like_decider(engine, proj)
        for command in FIFO_COMMANDS:
            policy_input, decision, _ = _promptly(
                functools.partial(decider.decide, ToolCall(name="Bash", input={"command": command})))
            if command.startswith(("source", "bash", "./")):
                assert not decision.allow, command
                assert any(o.construct == "unreadable-script"
                           for o in policy_input.shell.opaque), (command, policy_input.shell)
        # the walk and the glob listed the FIFOs (names only) and went on
        policy_input, _, _ = decider.decide(ToolCall(name="Bash", input={"command": "grep -r x backend"}))
        walked = next(p for p in policy_input.paths if p.path == "backend")
        assert "backend/sub/pipe" in (walked.contents or [])


def test_script_flipped_to_a_fifo_never_blocks_the_decider(tmp_path: Path, engine: PolicyEngine) -> None:
    """The race of the finding: the script is a regular file when it is resolved and a FIFO
    when it is opened (open() without O_NONBLOCK waits for a writer forever)."""
    proj = _project(tmp_path)
    (proj / "backend" / "s.sh").write_text("X=1\n")
    decider = _run_like_decider(engine, proj)
    calls = [ToolCall(name="Bash", input={"command": c})
             for c in ("bash backend/s.sh", "source backend/s.sh", "./backend/s.sh")]

    def decide_many() -> set[str]:
        seen: set[str] = set()
        for _ in range(1000):  # the old code blocked within a few hundred
            for call in calls:
                policy_input, _, _ = decider.decide(call)
                seen.update(o.construct for o in policy_input.shell.opaque)  # type: ignore[union-attr]
        return seen

    with _Flipper(proj / "backend" / "s.sh", [FIFO]) as flip:
        seen = _promptly(decide_many)
    assert flip.flips > 0 and seen <= {"unreadable-script"}


# --- policy eval --workspace -------------------------------------------------------------------


@pytest.mark.host_boundary(
    finding="derive-eval-unmasked",
    title="`sandbox-runner policy eval --workspace` derived with no masks and printed masked "
          "file content; it now computes the masks from the policy data as a run does and "
          "redacts its output")
def test_policy_eval_with_a_workspace_applies_the_run_masks(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    calls = "".join(json.dumps({"tool": "Bash", "input": {"command": c}}) + "\n" for c in POC_COMMANDS)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    proc = subprocess.run(
        [str(CLI), "policy", "eval", "--input", "-", "--workspace", str(proj)],
        input=calls, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    decisions = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(decisions) == len(POC_COMMANDS) and not any(d["allow"] for d in decisions)
    for secret in (STRIPE, PLAIN, PLAIN + "x", PLAIN + "y"):
        assert secret not in proc.stdout and secret not in proc.stderr


# --- reading the workspace: only through WorkspaceFS, and only as deep as needed ---------------


def test_resolution_stops_looking_below_a_missing_component(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 9: a Read of a path with thousands of components took 26 s (an lstat of an ever
    longer host path per component); below a missing component nothing is looked up now."""
    proj = _project(tmp_path)
    calls: list[str] = []
    real_lstat = WorkspaceFS.lstat

    def counting(self: WorkspaceFS, path: str) -> os.stat_result:
        calls.append(path)
        return real_lstat(self, path)

    monkeypatch.setattr(WorkspaceFS, "lstat", counting)
    res = PathResolver(proj)
    fact = res.fact("backend/missing/" + "a/" * 2000 + "x", "read")
    assert fact.real.startswith("backend/missing/a/a/") and len(calls) <= 3, calls[:5]
    calls.clear()
    # `..` back out of the missing part resumes resolution (a link there is still followed)
    fact = res.fact("backend/missing/a/../../env_link", "read")
    assert fact.real == ".env" and fact.symlink
    with pytest.raises(ValueError, match="components"):  # past any kernel path: a deny
        res.fact("a/" * 5000, "read")


def test_no_host_path_outside_the_workspace_is_opened(tmp_path: Path, engine: PolicyEngine,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Every open derivation makes is relative to a workspace directory handle."""
    proj = _project(tmp_path)
    (proj / "backend" / "s.sh").write_text("source backend/t.sh\n")
    (proj / "backend" / "t.sh").write_text("echo hi\n")
    (proj / "backend" / "out").symlink_to("/proc/self/environ")
    opened: list[tuple[str, bool]] = []
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        opened.append((os.fsdecode(path), dir_fd is not None))
        return real_open(path, flags, mode, dir_fd=dir_fd)

    decider = _run_like_decider(engine, proj, redact=False)
    monkeypatch.setattr(os, "open", spy)
    for command in ["bash backend/s.sh", "source backend/out", "cat backend/* .e*",
                    "grep -R x backend", "git push", "cat backend/../.env"]:
        decider.decide(ToolCall(name="Bash", input={"command": command}))
    monkeypatch.undo()
    root = str(proj.resolve())
    assert opened
    assert all(relative or path == root for path, relative in opened), opened
    assert not any(p.startswith(("/proc", "/etc", str(tmp_path / "outside"))) for p, _ in opened)
    assert not any(p in (".env", "credentials", "state.sh") for p, _ in opened)


# --- the whole run (Docker) --------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.host_boundary(
    finding="derive-reads-masked",
    title="in a real run, sourcing masked files to name a path denies without the value "
          "reaching decisions.jsonl, the console, the transcript or any file of the run directory")
def test_dotenv_poc_in_a_real_run(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    pocs = [
        'source .env; touch "frontend/${SECRET_TOKEN}"',
        'source backend/seeded_env; echo "$SECRET_TOKEN" > "frontend/$SECRET_TOKEN"',
        'source .env.local; touch "frontend/$LOCAL_TOKEN"',
        'source config/.env.production && touch "frontend/${PROD_TOKEN}"',
        'bash backend/seeded_env; cat .aws/* deploy/id_rs? > "frontend/$SECRET_TOKEN"',
    ]
    turns: list[dict[str, Any]] = [{"text": f"poc {i}", "tool_calls": [h.bash(c)]}
                                   for i, c in enumerate(pocs)]
    turns.append({"text": "done"})
    result = h.run_scenario(world, "dotenv-poc", turns)
    assert result.exit_code == 0, result.describe()
    logged = [d for d in result.decisions if d.get("input", {}).get("tool", {}).get("name") == "Bash"]
    assert len(logged) == len(pocs), result.describe()
    assert not any(d["result"]["allow"] for d in logged)
    assert all(any(r["rule"] == "secret_file" for r in d["result"]["reasons"]) for d in logged)
    everything = [result.stdout, result.stderr]
    for path in result.run_dir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            everything.append(path.read_text(encoding="utf-8", errors="replace"))
    text = "\n".join(everything)
    for secret in h.MASKED_SECRETS + h.HOST_SECRETS:
        assert secret not in text, secret
