"""Helpers of the security suite: a hostile-but-realistic project, scripted runs, and readers.

Everything here talks to the real thing: the ``sandbox-runner`` console script in a
subprocess, the run directory it writes, Docker through the SDK. Nothing is mocked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ALLOW_ALL = HERE / "allow_all"
DEFAULT_POLICIES = REPO / "policies"
CLI = Path(sys.executable).parent / "sandbox-runner"
LABEL_RUN = "sandbox-runner.run"
TEST_LABEL = "sandbox-runner.test"
# Projects whose runs have ended: the leftover guard looks for their containers only, so that
# runs still going in the background are not mistaken for leftovers.
FINISHED_PROJECTS: set[str] = set()

# Seeded secrets. Each must never reach the model unredacted, the container or a file the
# agent could hand back.
ENV_SECRET = "s3cr3t-dotenv-Zq8vXw2LmN4pR7tY"  # in .env (masked file)
ENV_LOCAL_SECRET = "dotenv-local-Hk3jU9wQ2eR5tY8iO"  # .env.local
ENV_PROD_SECRET = "dotenv-prod-Pp0oI9uY8tR7eW6qA"  # config/.env.production
NPM_SECRET = "npm_Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8Ii9Jj0Kk1Ll2"  # .npmrc
SSH_SECRET = "sshkey-body-Mm3Nn4Oo5Pp6Qq7Rr8Ss9Tt"  # deploy/id_rsa
AWS_CRED_SECRET = "awscred-Uu1Vv2Ww3Xx4Yy5Zz6Aa7Bb8"  # .aws/credentials
# Non-masked file docs/config.txt: detector-shaped values the gateway must redact.
DOC_AWS_KEY = "AKIAQ3EGRWXJ7NTLZ5PU"
DOC_GH_TOKEN = "ghp_k2XnVq8wLz4RtY7uIo9PaS1dF3gH5jK6lM0b"
# Host environment of the runner: must never enter the container.
API_KEY = "sk-ant-api03-HOSTKEYcanary-" + "Q7w8E9r0T1y2U3i4O5p6A7s8D9f0G1h2J3k4L5z6X7c8V9b0N1m2"
HOST_TOKEN = "hosttoken-Wq2Er4Ty6Ui8Op0As2Df4Gh6"

MASKED_SECRETS = (ENV_SECRET, ENV_LOCAL_SECRET, ENV_PROD_SECRET, NPM_SECRET, SSH_SECRET,
                  AWS_CRED_SECRET)
HOST_SECRETS = (API_KEY, HOST_TOKEN)
DOC_SECRETS = (DOC_AWS_KEY, DOC_GH_TOKEN)
ALL_SECRETS = MASKED_SECRETS + HOST_SECRETS + DOC_SECRETS

CANARY = "canary: if this file changes, the sandbox leaked\n"

SPEC = """# Backend spec

Implement a todo REST API under backend/ with tests.
"""


def _w(path: Path, text: str, mode: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mode is not None:
        path.chmod(mode)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=sec", "-c", "user.email=sec@example.invalid",
         "-c", "init.defaultBranch=main", "-c", f"safe.directory={cwd}", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout


@dataclass
class World:
    """A directory holding the project and, beside it, files the sandbox must never see."""

    root: Path  # snapshot root: world/
    project: Path  # world/proj
    runs: Path  # outside world/: run directories
    scratch: Path  # outside world/: scenario files, data files

    @property
    def backend(self) -> Path:
        return self.project / "backend"


def make_world(base: Path) -> World:
    """A git project with every kind of secret file, made world-writable on purpose.

    World-writable (mode a+rwX) so that only the container's read-only mounts, not Unix
    permissions, stop writes outside backend/ and issues.md: the sandbox must hold even for a
    careless owner, and when the container runs as the project owner's uid.
    """
    root = base / "world"
    proj = root / "proj"
    _w(root / "outside" / "canary.txt", CANARY)
    _w(proj / "README.md", "# demo project\n")
    _w(proj / "architecture" / "backend.md", SPEC)
    _w(proj / "backend" / "app.py", 'def hello() -> str:\n    return "hi"\n')
    _w(proj / "frontend" / "app.js", "console.log('frontend');\n")
    _w(proj / "issues.md", "# Issues\n")
    _w(proj / ".env", f"SECRET_TOKEN={ENV_SECRET}\nDATABASE_URL=postgres://u:{ENV_SECRET}@db/x\n")
    _w(proj / ".env.local", f"LOCAL_TOKEN={ENV_LOCAL_SECRET}\n")
    _w(proj / "config" / ".env.production", f"PROD_TOKEN={ENV_PROD_SECRET}\n")
    _w(proj / "config" / "settings.toml", "debug = false\n")
    _w(proj / ".npmrc", f"//registry.npmjs.org/:_authToken={NPM_SECRET}\n")
    _w(proj / "deploy" / "id_rsa",
       f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SSH_SECRET}\n-----END OPENSSH PRIVATE KEY-----\n")
    _w(proj / ".aws" / "credentials",
       f"[default]\naws_access_key_id = AKIAEXAMPLEEXAMPLE12\naws_secret_access_key = {AWS_CRED_SECRET}\n")
    _w(proj / "docs" / "config.txt",
       f"# ops notes (not a secret file by name)\naws_access_key_id = {DOC_AWS_KEY}\n"
       f"github_token = {DOC_GH_TOKEN}\n")
    # Symlinks shipped inside backend/ that lead out (a hostile repo can ship them).
    (proj / "backend" / "seeded_link.js").symlink_to("../frontend/app.js")
    (proj / "backend" / "seeded_dir").symlink_to("../frontend")
    (proj / "backend" / "seeded_env").symlink_to("../.env")
    # The worst case: the secrets are in the git history too (git show / tar see them).
    git(proj, "init", "-q")
    git(proj, "add", "-A")
    git(proj, "commit", "-q", "-m", "initial")
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o666 | (0o111 if p.is_dir() else 0))
    root.chmod(0o777)
    proj.chmod(0o777)
    runs = base / "runs"
    scratch = base / "scratch"
    runs.mkdir()
    scratch.mkdir()
    return World(root=root, project=proj, runs=runs, scratch=scratch)


# --- snapshots ------------------------------------------------------------------------------

Snapshot = dict[str, tuple[str, int, str]]


def snapshot(world: World) -> Snapshot:
    """Everything the sandbox must not change: world/ except backend/ and issues.md content.

    ``.git/index`` is compared by its entries (the runner's own ``git diff`` on the host may
    refresh its stat data); ``.sandbox-runner/`` is the runner's state, not the agent's.
    """
    out: Snapshot = {}
    proj_rel = world.project.relative_to(world.root).as_posix()
    skip_prefixes = (f"{proj_rel}/backend/", f"{proj_rel}/.sandbox-runner/")
    for dirpath, dirnames, filenames in os.walk(world.root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            rel = p.relative_to(world.root).as_posix()
            if rel.startswith(skip_prefixes) or rel in (f"{proj_rel}/.sandbox-runner",):
                continue
            st = os.lstat(p)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                # backend/ itself: its mode is the runner's business (it may open it to the
                # sandbox uid); it must stay a real directory.
                out[rel] = ("dir", -1 if rel == f"{proj_rel}/backend" else mode, "")
            elif rel == f"{proj_rel}/issues.md":
                out[rel] = ("file", -1, "")  # the agent may write it; it must stay a file
            elif rel == f"{proj_rel}/.git/index":
                out[rel] = ("file", -1, git(world.project, "ls-files", "-s"))
            elif rel.endswith(".lock") and "/.git/" in rel:
                continue
            else:
                out[rel] = ("file", mode, hashlib.sha256(p.read_bytes()).hexdigest())
        pruned = {f"{proj_rel}/backend", f"{proj_rel}/.sandbox-runner"}
        dirnames[:] = [d for d in dirnames
                       if (Path(dirpath) / d).relative_to(world.root).as_posix() not in pruned]
    return out


def diff_snapshots(before: Snapshot, after: Snapshot) -> list[str]:
    changes = []
    for rel in sorted(set(before) | set(after)):
        if rel not in after:
            changes.append(f"deleted: {rel}")
        elif rel not in before:
            changes.append(f"created: {rel}")
        elif before[rel] != after[rel]:
            changes.append(f"changed: {rel} {before[rel][:2]} -> {after[rel][:2]}")
    return changes


# --- canary network listeners ---------------------------------------------------------------


def bridge_gateway_ip() -> str:
    """The host's address on Docker's default bridge: reachable from any bridged container."""
    client = docker.from_env()
    try:
        net = client.networks.get("bridge")
        for cfg in net.attrs.get("IPAM", {}).get("Config") or []:
            if cfg.get("Gateway"):
                return str(cfg["Gateway"])
    finally:
        client.close()
    return "172.17.0.1"


class Listener:
    """TCP and UDP listeners on all host interfaces that record every contact."""

    def __init__(self) -> None:
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("0.0.0.0", 0))
        self.tcp.listen(16)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("0.0.0.0", 0))
        self.tcp_port = self.tcp.getsockname()[1]
        self.udp_port = self.udp.getsockname()[1]
        self.contacts: list[str] = []
        self._lock = threading.Lock()
        self._stop = False
        self._threads = [threading.Thread(target=self._serve_tcp, daemon=True),
                         threading.Thread(target=self._serve_udp, daemon=True)]
        for t in self._threads:
            t.start()

    def _serve_tcp(self) -> None:
        self.tcp.settimeout(0.2)
        while not self._stop:
            try:
                conn, addr = self.tcp.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.contacts.append(f"tcp from {addr[0]}:{addr[1]} at {time.time():.1f}")
            with contextlib.suppress(OSError):
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
            conn.close()

    def _serve_udp(self) -> None:
        self.udp.settimeout(0.2)
        while not self._stop:
            try:
                data, addr = self.udp.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.contacts.append(f"udp from {addr[0]}:{addr[1]} {data[:40]!r}")

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.contacts)

    def close(self) -> None:
        self._stop = True
        for t in self._threads:
            t.join(timeout=2)
        self.tcp.close()
        self.udp.close()


# --- scripted runs ----------------------------------------------------------------------------


def call(name: str, **inp: Any) -> dict[str, Any]:
    return {"name": name, "input": inp}


def bash(command: str, timeout_ms: int | None = None) -> dict[str, Any]:
    inp: dict[str, Any] = {"command": command}
    if timeout_ms is not None:
        inp["timeout"] = timeout_ms
    return {"name": "Bash", "input": inp}


def write_scenario(path: Path, turns: list[dict[str, Any]], final_text: str = "done") -> Path:
    """A JSON scenario (JSON so NUL bytes and lone surrogates survive as escapes)."""
    path.write_text(json.dumps({"turns": turns, "final_text": final_text}, ensure_ascii=True),
                    encoding="utf-8")
    return path


def runner_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env.update({"ANTHROPIC_API_KEY": API_KEY, "DEPLOY_TOKEN": HOST_TOKEN, "NO_COLOR": "1",
                "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


@dataclass
class RunResult:
    exit_code: int
    stdout: str
    stderr: str
    run_dir: Path
    seconds: float
    summary: dict[str, Any] = field(default_factory=dict)
    run_json: dict[str, Any] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.run_json.get("id") or self.run_json.get("run_id") or self.summary.get("run_id") or "")

    def describe(self) -> str:
        tail = "\n".join(self.stderr.strip().splitlines()[-15:])
        return (f"exit {self.exit_code} after {self.seconds:.1f}s; run dir {self.run_dir}; "
                f"failure={self.summary.get('failure')!r}\nstderr tail:\n{tail}")


def run_cmd(project: Path, scenario: Path, out: Path, *, policy_dir: Path | None = None,
            skip_verify: bool = True, timeout: float = 120, max_turns: int = 400,
            extra: list[str] | None = None) -> list[str]:
    cmd = [str(CLI), "run", str(project), "--model", f"scripted:{scenario}", "--out", str(out),
           "--json", "--max-turns", str(max_turns), "--timeout", str(int(timeout))]
    if policy_dir is not None:
        cmd += ["--policy-dir", str(policy_dir)]
    if skip_verify:
        cmd.append("--skip-verify")
    return cmd + list(extra or [])


def error_lines(stdout: str, stderr: str) -> list[str]:
    """The lines a command ended with: stderr's, plus - ``run_cmd`` asks for JSON, so an
    error is ``{"error": {...}}`` on stdout (docs/design.md "CLI") - that error's message."""
    lines = [x for x in stderr.splitlines() if x.strip()]
    try:
        error = json.loads(stdout)["error"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return lines
    return [*lines, f"sandbox-runner: error: {error['message']}"]


def load_result(code: int, stdout: str, stderr: str, out: Path, seconds: float) -> RunResult:
    res = RunResult(exit_code=code, stdout=stdout, stderr=stderr, run_dir=out, seconds=seconds)
    try:
        res.summary = json.loads(stdout) if stdout.strip() else {}
    except json.JSONDecodeError:
        res.summary = {}
    if set(res.summary) == {"error"}:  # the command's error, not a summary
        res.summary = {}
    if not res.summary and (out / "summary.json").is_file():
        res.summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    if (out / "run.json").is_file():
        res.run_json = json.loads((out / "run.json").read_text(encoding="utf-8"))
    res.decisions = read_jsonl(out / "decisions.jsonl")
    res.transcript = read_jsonl(out / "transcript.jsonl")
    return res


def run_scenario(world: World, name: str, turns: list[dict[str, Any]], *,
                 policy_dir: Path | None = None, skip_verify: bool = True, timeout: float = 120,
                 extra: list[str] | None = None, env: dict[str, str] | None = None) -> RunResult:
    scenario = write_scenario(world.scratch / f"{name}.json", turns)
    out = world.runs / name
    cmd = run_cmd(world.project, scenario, out, policy_dir=policy_dir, skip_verify=skip_verify,
                  timeout=timeout, extra=extra)
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env or runner_env(),
                          timeout=timeout + 120, stdin=subprocess.DEVNULL)
    FINISHED_PROJECTS.add(str(world.project))
    return load_result(proc.returncode, proc.stdout, proc.stderr, out, time.monotonic() - start)


class BackgroundRun:
    """A run in the background, for signals and outside kills."""

    def __init__(self, world: World, name: str, turns: list[dict[str, Any]], *,
                 policy_dir: Path | None = None, timeout: float = 120, skip_verify: bool = True,
                 extra: list[str] | None = None) -> None:
        self.world = world
        self.out = world.runs / name
        scenario = write_scenario(world.scratch / f"{name}.json", turns)
        self.start = time.monotonic()
        self.timeout = timeout
        self.proc = subprocess.Popen(
            run_cmd(world.project, scenario, self.out, policy_dir=policy_dir, timeout=timeout,
                    skip_verify=skip_verify, extra=extra),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=runner_env(),
            stdin=subprocess.DEVNULL,
        )

    def wait_for(self, predicate: Any, what: str, limit: float = 90) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.proc.poll() is not None:
                _out, err = self.proc.communicate()
                raise AssertionError(f"run ended (exit {self.proc.returncode}) before {what}:\n{err[-3000:]}")
            time.sleep(0.1)
        self.proc.kill()
        raise AssertionError(f"timed out waiting for {what}")

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def finish(self, limit: float = 120) -> RunResult:
        try:
            out, err = self.proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"run did not end within {limit}s after the event:\n{err[-3000:]}") from None
        finally:
            FINISHED_PROJECTS.add(str(self.world.project))
        return load_result(self.proc.returncode, out, err, self.out, time.monotonic() - self.start)


def audit_verify(run_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), "audit", "verify", str(run_dir)], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


# --- containers -------------------------------------------------------------------------------


def containers_for(project: Path | None = None, run_id: str | None = None) -> list[Any]:
    """Containers (any state) of sandbox-runner runs on this project or with this run id."""
    client = docker.from_env()
    try:
        flt = {"label": f"{LABEL_RUN}={run_id}"} if run_id else {"label": LABEL_RUN}
        found = []
        for c in client.containers.list(all=True, filters=flt, ignore_removed=True):
            if project is None:
                found.append(c)
                continue
            sources = [m.get("Source", "") for m in c.attrs.get("Mounts", [])]
            if any(s == str(project) or s.startswith(str(project) + "/") for s in sources):
                found.append(c)
        return found
    finally:
        client.close()


# --- transcript and decision readers --------------------------------------------------------


def _walk(obj: Any) -> Iterator[dict[str, Any]]:
    if isinstance(obj, dict):
        yield obj
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


def tool_uses(transcript: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every tool_use block the model sent, in order (from the recorded responses)."""
    out = []
    seen: set[str] = set()
    for line in transcript:
        for block in _walk(line.get("response")):
            if block.get("type") == "tool_use" and block.get("id") not in seen:
                seen.add(str(block.get("id")))
                out.append(block)
    return out


def tool_results(transcript: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """tool_use_id -> the tool_result block as sent to the model (already redacted)."""
    out: dict[str, dict[str, Any]] = {}
    for line in transcript:
        for block in _walk(line.get("request")):
            if block.get("type") == "tool_result" and block.get("tool_use_id"):
                out.setdefault(str(block["tool_use_id"]), block)
    return out


def result_text(block: dict[str, Any] | None) -> str:
    if block is None:
        return ""
    content = block.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return json.dumps(content)


@dataclass
class CallOutcome:
    """What happened to one scripted tool call: its decision(s) and what the model saw."""

    name: str
    input: dict[str, Any]
    decisions: list[dict[str, Any]]
    results: list[dict[str, Any]]

    @property
    def denied(self) -> bool:
        return bool(self.decisions) and all(not d["result"]["allow"] for d in self.decisions)

    @property
    def allowed(self) -> bool:
        return bool(self.decisions) and all(d["result"]["allow"] for d in self.decisions)

    @property
    def reasons(self) -> list[dict[str, Any]]:
        return [r for d in self.decisions for r in d["result"].get("reasons", [])]

    @property
    def texts(self) -> list[str]:
        return [result_text(r) for r in self.results]

    def short(self) -> str:
        s = json.dumps({"name": self.name, "input": self.input}, ensure_ascii=True)
        return s if len(s) < 160 else s[:157] + "..."


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, ensure_ascii=True) == json.dumps(b, sort_keys=True, ensure_ascii=True)


def outcomes(run: RunResult, calls: list[dict[str, Any]],
             order: list[dict[str, Any]] | None = None) -> list[CallOutcome]:
    """Match scripted calls to what the model saw (tool_result) and to their decisions.

    The transcript is redacted (a secret in a tool_use input shows as [REDACTED:...]), so
    tool_use blocks are matched by position in ``order`` (every scripted call of the run, in
    the order served) when given, else by name and input. Decisions are matched by the
    ``tool_use_id`` they log (their input is redacted too), else by the raw input.
    """
    uses = tool_uses(run.transcript)
    results = tool_results(run.transcript)
    out = []
    for c in calls:
        if order is not None:
            ids = [str(uses[i]["id"]) for i, o in enumerate(order)
                   if i < len(uses) and _same(o, c) and uses[i].get("name") == c["name"]]
        else:
            ids = [str(u["id"]) for u in uses if u.get("name") == c["name"] and _same(u.get("input"), c["input"])]
        # Logged inputs are redacted like the transcript: match decisions by the tool_use id
        # they carry, and by the raw input only for calls that never reached the model's side.
        decs = [d for d in run.decisions if ids and d.get("tool_use_id") in ids] or [
            d for d in run.decisions
            if d.get("input", {}).get("tool", {}).get("name") == c["name"]
            and _same(d.get("input", {}).get("tool", {}).get("input"), c["input"])]
        out.append(CallOutcome(name=c["name"], input=c["input"], decisions=decs,
                               results=[results[i] for i in ids if i in results]))
    return out


def transcript_text(run: RunResult) -> str:
    return json.dumps(run.transcript, ensure_ascii=False)


def leaked(text: str, secrets: tuple[str, ...] = ALL_SECRETS) -> list[str]:
    return [s[:12] + "..." for s in secrets if s in text]


def files_text(root: Path, limit: int = 50 << 20) -> str:
    """All regular files under root, concatenated (decoded leniently), for leak checks."""
    parts = []
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            if p.is_symlink() or not p.is_file():
                continue
            data = p.read_bytes()[: limit - total]
            total += len(data)
            parts.append(data.decode("utf-8", errors="replace"))
            if total >= limit:
                return "\n".join(parts)
    return "\n".join(parts)


def copy_policies(dest: Path, *, data_update: dict[str, Any] | None = None,
                  source: Path = DEFAULT_POLICIES) -> Path:
    """A copy of a policy bundle (without its tests), its settings updated."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("tests"))
    if data_update:
        data = json.loads((dest / "data.json").read_text(encoding="utf-8"))
        data.setdefault("settings", {}).update(data_update)
        (dest / "data.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return dest


def write_config(world: World, text: str) -> None:
    """A sandbox-runner.toml in the project (limits, gateway backoff, timeouts)."""
    (world.project / "sandbox-runner.toml").write_text(text, encoding="utf-8")


def clean_end_problems(res: RunResult, world: World, kept: tuple[str, ...] = (),
                       failed: bool = True) -> list[str]:
    """What every fault must leave: container gone, work kept, what was known, a valid log."""
    problems = []
    left = [c.name for c in containers_for(project=world.project)]
    if res.run_id:
        left += [c.name for c in containers_for(run_id=res.run_id) if c.name not in left]
    if left:
        problems.append(f"containers left: {left}")
    for rel in kept:
        if not (world.project / rel).is_file():
            problems.append(f"backend work lost: {rel} missing")
    for name in ("run.json", "decisions.jsonl"):
        if not (res.run_dir / name).is_file():
            problems.append(f"run dir lacks {name}")
    if failed:
        summary_file = res.run_dir / "summary.json"
        if not summary_file.is_file():
            problems.append("run dir lacks summary.json")
        else:
            summary = json.loads(summary_file.read_text(encoding="utf-8"))
            if not summary.get("failure"):
                problems.append(f"summary.json has no failure: status={summary.get('status')!r}")
            if summary.get("exit_code") not in (None, res.exit_code):
                problems.append(f"summary exit_code {summary.get('exit_code')} != process exit {res.exit_code}")
    if (res.run_dir / "decisions.jsonl").is_file():
        audit = audit_verify(res.run_dir)
        if audit.returncode != 0:
            problems.append(f"audit verify failed: {(audit.stdout + audit.stderr).strip()[:300]}")
    if "Traceback" in res.stderr:
        problems.append(f"traceback on stderr: {res.stderr[-600:]}")
    return problems


def failure_text(res: RunResult) -> str:
    f = res.summary.get("failure")
    if f is None and (res.run_dir / "summary.json").is_file():
        f = json.loads((res.run_dir / "summary.json").read_text(encoding="utf-8")).get("failure")
    return json.dumps(f) if not isinstance(f, str) else f
