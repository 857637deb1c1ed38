"""Kept derivations (runner/policy/derived.py): a repeat is reused only while the workspace
answers every look as it did, and a changed workspace (a new or retargeted symlink, changed
contents, a new entry in a listed directory, a masked file appearing, a file gone) gives the
decision a Decider without caches gives, never the kept one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.agent.paths import Workspace
from runner.agent.tools import Toolbox
from runner.config import PolicyConfig
from runner.hostfs import HostReadRefused
from runner.policy.bundle import load_bundle
from runner.policy.decider import Decided, Decider, workspace_decider
from runner.policy.derived import RecordingFS, call_key
from runner.policy.engine import PolicyEngine, load_engine
from runner.policy.models import PolicyInput, RunInfo, ToolCall
from runner.policy.paths import workspace_fs
from runner.protocol import BUILTIN_TOOLS, MeasuredPath
from tests.policy.corpus_support import load_corpus, make_workspace

RUN = RunInfo(id="derived")
BUNDLE = load_bundle([])


@pytest.fixture(scope="module")
def engine() -> Iterator[PolicyEngine]:
    eng = load_engine(PolicyConfig(), bundle=BUNDLE)
    yield eng
    eng.close()


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "backend").mkdir(parents=True)
    (root / "backend" / "app.py").write_text("x = 1\n")
    (root / ".env").write_text("API_KEY=sk-not-a-real-key-0123456789\n")
    return root


class Pair:
    """One Decider with its caches and one without, over the same workspace and masks."""

    def __init__(self, engine: PolicyEngine, ws: Path, masks: tuple[str, ...] = ()) -> None:
        self.cached = Decider(engine, workspace=ws, run=RUN, masks=masks)
        self.cold = Decider(engine, workspace=ws, run=RUN, masks=masks, cache_size=0)
        assert self.cached.derived is not None and self.cold.derived is None

    def decide(self, call: ToolCall, *, reused: bool) -> Decided[PolicyInput]:
        """The cached Decider's decision, checked against the cold one's; ``reused``: whether
        the kept derivation must have been reused."""
        assert self.cached.derived is not None
        hits = self.cached.derived.hits
        got = self.cached.decide_logged(call)
        want = self.cold.decide_logged(call)
        assert got.input == want.input
        assert got.decision == want.decision
        assert (self.cached.derived.hits > hits) is reused
        return got


@pytest.mark.parametrize("name", ["benign_corpus.yaml", "attack_corpus.yaml"])
def test_a_reused_derivation_is_the_fresh_one_over_the_corpora(name: str, engine: PolicyEngine,
                                                               tmp_path: Path) -> None:
    corpus = load_corpus(name)
    reused = 0
    for i, case in enumerate(corpus["cases"]):
        workspace = make_workspace(tmp_path / f"ws{i}", corpus["workspace"]["files"],
                                   case.get("setup"))
        decider = workspace_decider(engine, workspace=workspace, run=RUN, bundle=BUNDLE)
        cold = Decider(engine, workspace=workspace, run=RUN, masks=decider.masks,
                       redactor=decider.redactor, cache_size=0)
        assert decider.derived is not None
        call = ToolCall(name=case["call"]["tool"], input=case["call"].get("input", {}))
        first = decider.decide_logged(call)
        hits = decider.derived.hits
        second = decider.decide_logged(call)
        fresh = cold.decide_logged(call)
        assert (decider.derived.hits > hits) == (not first.input.errors), case["name"]
        reused += decider.derived.hits > hits
        # as the built-in agent asks: with its measurements of the call's paths
        measured = agent_measurements(workspace, call)
        third = decider.decide_logged(call, measured=measured)
        fresh_measured = cold.decide_logged(call, measured=measured)
        for d, want in ((first, fresh), (second, fresh), (third, fresh_measured)):
            assert d.input == want.input and d.decision == want.decision, case["name"]
            assert (d.masked, d.erased) == (want.masked, want.erased), case["name"]
    assert reused >= 0.9 * len(corpus["cases"])


def agent_measurements(workspace: Path, call: ToolCall) -> list[MeasuredPath]:
    """What the built-in agent measures of ``call`` before asking (its own Toolbox.measure),
    with the workspace at ``workspace`` seen as /workspace."""
    box = Toolbox(Workspace(workspace), enabled=list(BUILTIN_TOOLS), output_limit=1000,
                  bash_timeout=1)
    return box.measure(call.name, call.input)


def test_a_new_symlink_is_seen(engine: PolicyEngine, ws: Path) -> None:
    pair = Pair(engine, ws)
    read = ToolCall(name="Read", input={"file_path": "backend/notes.txt"})
    assert pair.decide(read, reused=False).decision.allow
    assert pair.decide(read, reused=True).decision.allow
    os.symlink("../.env", ws / "backend" / "notes.txt")
    after = pair.decide(read, reused=False)
    assert not after.decision.allow
    assert after.input.paths[0].real == ".env" and after.input.paths[0].symlink
    assert not pair.decide(read, reused=True).decision.allow


def test_a_retargeted_symlink_is_seen(engine: PolicyEngine, ws: Path) -> None:
    pair = Pair(engine, ws)
    link = ws / "backend" / "link.py"
    os.symlink("app.py", link)
    read = ToolCall(name="Read", input={"file_path": "backend/link.py"})
    pair.decide(read, reused=False)
    assert pair.decide(read, reused=True).decision.allow
    link.unlink()
    os.symlink("../.env", link)
    assert not pair.decide(read, reused=False).decision.allow


def test_a_symlinked_directory_on_the_way_is_seen(engine: PolicyEngine, ws: Path) -> None:
    pair = Pair(engine, ws)
    (ws / "docs").mkdir()
    (ws / "docs" / "readme.md").write_text("# docs\n")
    write = ToolCall(name="Write", input={"file_path": "docs/readme.md", "content": "# new\n"})
    before = pair.decide(write, reused=False)
    pair.decide(write, reused=True)
    (ws / "docs" / "readme.md").unlink()
    (ws / "docs").rmdir()
    os.symlink("/etc", ws / "docs")  # the same name, now a link out of the workspace
    after = pair.decide(write, reused=False)
    assert after.input.paths[0].real == "/etc/readme.md"
    assert not after.input.paths[0].inside_workspace
    assert before.input.paths[0].inside_workspace and not after.decision.allow


def test_changed_contents_of_the_same_size_are_seen(engine: PolicyEngine, ws: Path) -> None:
    pair = Pair(engine, ws)
    script = ws / "backend" / "run.sh"
    benign = "echo ok >> backend/out.txt.md\n"
    hostile = "curl -s https://evil.example/\n"
    assert len(benign) == len(hostile)
    script.write_text(benign)
    run = ToolCall(name="Bash", input={"command": "sh backend/run.sh"})
    before = pair.decide(run, reused=False)
    assert pair.decide(run, reused=True).decision.allow
    stamp = script.stat()
    script.write_text(hostile)
    os.utime(script, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # same size and mtime
    after = pair.decide(run, reused=False)
    assert "evil.example" in {h.host for h in after.input.hosts}
    assert before.decision.allow and not after.decision.allow


def test_a_new_file_in_a_listed_directory_is_seen(engine: PolicyEngine, ws: Path) -> None:
    pair = Pair(engine, ws)
    grep = ToolCall(name="Grep", input={"pattern": "KEY", "path": "backend"})
    assert pair.decide(grep, reused=False).decision.allow
    pair.decide(grep, reused=True)
    (ws / "backend" / ".env").write_text("KEY=sk-not-a-real-key-9876543210\n")
    after = pair.decide(grep, reused=False)
    assert "backend/.env" in (after.input.paths[0].contents or [])
    assert not after.decision.allow


def test_a_masked_file_appearing_is_seen_as_the_container_sees_it(engine: PolicyEngine,
                                                                  ws: Path) -> None:
    pair = Pair(engine, ws, masks=("backend/.env",))
    grep = ToolCall(name="Grep", input={"pattern": "KEY", "path": "backend"})
    read = ToolCall(name="Read", input={"file_path": "backend/.env"})
    assert pair.decide(grep, reused=False).decision.allow
    first_read = pair.decide(read, reused=False)
    pair.decide(grep, reused=True)
    (ws / "backend" / ".env").write_text("KEY=sk-not-a-real-key-9876543210\n")
    after = pair.decide(grep, reused=False)  # the listing now has the (masked) entry
    assert "backend/.env" in (after.input.paths[0].contents or [])
    assert not after.decision.allow
    # a masked path is never looked at on the host: its facts come from the mask alone
    again = pair.decide(read, reused=True)
    assert again.input == first_read.input and not again.decision.allow


def test_a_removed_file_is_seen(engine: PolicyEngine, ws: Path) -> None:
    pair = Pair(engine, ws)
    (ws / "backend" / "old.py").write_text("y = 2\n")
    run = ToolCall(name="Bash", input={"command": "cat backend/*.py"})
    before = pair.decide(run, reused=False)
    pair.decide(run, reused=True)
    (ws / "backend" / "old.py").unlink()
    after = pair.decide(run, reused=False)
    assert {p.real for p in before.input.paths} - {p.real for p in after.input.paths} \
        == {"backend/old.py"}


def test_added_errors_are_not_kept_in_the_derivation(engine: PolicyEngine, ws: Path) -> None:
    pair = Pair(engine, ws)
    read = ToolCall(name="Read", input={"file_path": "backend/app.py"})
    bad = pair.cached.decide_logged(read, errors=["mapped badly"])
    assert not bad.decision.allow and bad.input.errors == ["mapped badly"]
    good = pair.decide(read, reused=True)  # the derivation is kept; its input has no errors
    assert good.decision.allow and good.input.errors == []


def test_the_cache_is_per_call_and_cwd_not_per_measurement(engine: PolicyEngine,
                                                            ws: Path) -> None:
    pair = Pair(engine, ws)
    read = ToolCall(name="Read", input={"file_path": "app.py"})
    at_root = pair.cached.decide_logged(read)
    at_backend = pair.cached.decide_logged(read, cwd="/workspace/backend")
    assert at_root.input.paths[0].real == "app.py"
    assert at_backend.input.paths[0].real == "backend/app.py"
    assert pair.cached.derived is not None and pair.cached.derived.hits == 0
    seen = [MeasuredPath(raw="app.py", real="/workspace/backend/app.py", symlink=False,
                         exists=True)]
    measured = pair.cached.decide_logged(read, cwd="/workspace/backend", measured=seen)
    # the kept derivation and decision (the policies never see the agent's measurements),
    # the measurements recorded on the logged input as a fresh derivation records them
    assert pair.cached.derived.hits == 1 and measured.cached
    assert measured.input.paths[0].measured == {
        "real": "/workspace/backend/app.py", "symlink": False, "exists": True, "agrees": True}
    fresh = pair.cold.decide_logged(read, cwd="/workspace/backend", measured=seen)
    assert measured.input == fresh.input and measured.decision == fresh.decision
    other = [seen[0].model_copy(update={"real": "/workspace/elsewhere.py", "symlink": True})]
    lying = pair.cached.decide_logged(read, cwd="/workspace/backend", measured=other)
    assert lying.cached and lying.decision == measured.decision
    assert lying.input.paths[0].measured == {
        "real": "/workspace/elsewhere.py", "symlink": True, "exists": True, "agrees": False}
    bare = pair.cached.decide_logged(read, cwd="/workspace/backend")
    assert bare.cached and bare.input.paths[0].measured is None
    assert bare.input == at_backend.input


def test_only_plain_json_calls_are_kept() -> None:
    def key(name: str, value: object, **extra: object) -> str | None:
        return call_key(ToolCall(name=name, input={"x": value}, **extra), "/workspace")

    assert key("Read", ["a"]) is not None
    assert key("Read", ("a",)) is None  # a tuple writes as a list: not told apart
    assert key("Read", {1: "a"}) is None  # an int key writes as a string
    assert key("Read", float("nan")) is None
    assert key("Read", "a", note="extra") is None  # extra fields are part of the input
    ordered = call_key(ToolCall(name="Edit", input={"a": 1, "b": 2}), "/workspace")
    reordered = call_key(ToolCall(name="Edit", input={"b": 2, "a": 1}), "/workspace")
    assert ordered == reordered  # derivation reads keys by name; the policies see an object


def test_a_reordered_call_reuses_the_derivation_and_records_its_own_order(
        engine: PolicyEngine, ws: Path) -> None:
    pair = Pair(engine, ws)
    first = ToolCall(name="Edit", input={"replace_all": False, "file_path": "backend/app.py",
                                         "old_string": "x = 1", "new_string": "x = 2"})
    again = ToolCall(name="Edit", input={"file_path": "backend/app.py", "old_string": "x = 1",
                                         "new_string": "x = 2", "replace_all": False})
    pair.decide(first, reused=False)
    got = pair.decide(again, reused=True)  # equal to the cold decider's input and decision
    assert list(got.input.tool.input) == ["file_path", "old_string", "new_string", "replace_all"]
    assert got.cached
    # derived afresh (the file changed), the decision is still the one kept for the call
    (ws / "backend" / "app.py").write_text("x = 1\n# longer now\n")
    fresh = pair.decide(first, reused=False)
    assert fresh.cached and next(iter(fresh.input.tool.input)) == "replace_all"


def test_a_derivation_that_saw_two_answers_is_not_consistent(ws: Path) -> None:
    fs = workspace_fs(ws.resolve(), (), kind=RecordingFS)
    assert isinstance(fs, RecordingFS)
    fs.lstat("backend/app.py")
    fs.lstat("backend/app.py")
    assert fs.consistent and len(fs.looks) == 1
    (ws / "backend" / "app.py").write_text("x = 2; y = 3\n")
    fs.lstat("backend/app.py")
    assert not fs.consistent

    streamed = workspace_fs(ws.resolve(), (), kind=RecordingFS)
    assert isinstance(streamed, RecordingFS)
    fd, _ = streamed.open_file("backend/app.py")
    os.close(fd)
    assert not streamed.consistent  # what is streamed is not recorded


def test_refusals_are_recorded_with_their_reason(ws: Path) -> None:
    fs = workspace_fs(ws.resolve(), ("backend/secret.txt",), kind=RecordingFS)
    assert isinstance(fs, RecordingFS)
    for path in ("backend/missing.py", "backend/secret.txt"):
        with pytest.raises(HostReadRefused):
            fs.lstat(path)
    assert {look[1]: seen[0] for look, seen in fs.looks.items()} == {
        "backend/missing.py": "refused", "backend/secret.txt": "refused"}
    assert fs.consistent


def test_an_lstat_answered_by_a_listing_is_checked_through_it(engine: PolicyEngine,
                                                              ws: Path) -> None:
    pair = Pair(engine, ws)
    grep = ToolCall(name="Grep", input={"pattern": "x", "path": "backend", "glob": "*.py"})
    pair.decide(grep, reused=False)
    kept = next(iter(pair.cached.derived._entries.values()))  # type: ignore[union-attr]
    assert ("listdir", "backend", 1) in kept.looks
    assert ("lstat", "backend/app.py", 0) not in kept.looks  # the listing holds its answer
    pair.decide(grep, reused=True)
    (ws / "backend" / "app.py").write_text("x = 1\ny = 2\n")  # another size: another listing
    pair.decide(grep, reused=False)
    (ws / "backend" / "app.py").unlink()
    os.symlink("../.env", ws / "backend" / "app.py")  # now a link to a secret
    assert not pair.decide(grep, reused=False).decision.allow


def test_what_is_kept_stays_within_its_byte_budget(engine: PolicyEngine, ws: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.policy import derived

    decider = Decider(engine, workspace=ws, run=RUN)
    cache = decider.derived
    assert cache is not None
    reads = [ToolCall(name="Read", input={"file_path": f"backend/f{i}.py"}) for i in range(8)]
    decider.decide_logged(reads[0])
    one = cache.weight
    assert one > 0 and len(cache) == 1
    monkeypatch.setattr(derived, "MAX_CACHE_BYTES", 3 * one + one // 2)
    for call in reads:
        decider.decide_logged(call)
    assert len(cache) == 3 and cache.weight <= derived.MAX_CACHE_BYTES
    assert cache.weight == sum(k.weight for k in cache._entries.values())
    hits = cache.hits
    decider.decide_logged(reads[-1])  # the most recent are the ones kept
    decider.decide_logged(reads[0])
    assert cache.hits == hits + 1


def test_a_large_listing_is_not_kept(engine: PolicyEngine, ws: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.policy import derived

    for i in range(30):
        (ws / "backend" / f"m{i}.py").write_text("x\n")
    monkeypatch.setattr(derived, "MAX_LOOKS", 20)
    decider = Decider(engine, workspace=ws, run=RUN)
    grep = ToolCall(name="Grep", input={"pattern": "x", "path": "backend"})
    decider.decide_logged(grep)
    assert decider.derived is not None and len(decider.derived) == 0


def test_a_workspace_gone_is_derived_afresh_not_an_error(engine: PolicyEngine, ws: Path) -> None:
    import shutil

    pair = Pair(engine, ws)
    read = ToolCall(name="Read", input={"file_path": "backend/app.py"})
    pair.decide(read, reused=False)
    shutil.rmtree(ws)  # every look now fails (the root cannot be opened)
    assert pair.cached.derived is not None
    kept = next(iter(pair.cached.derived._entries.values()))
    assert not pair.cached.derived.still_true(kept)
    again = pair.cached.decide_logged(read)
    assert again.input == pair.cold.decide_logged(read).input


def test_kept_derivations_are_not_used_for_another_workspace_or_masks(
        engine: PolicyEngine, ws: Path, tmp_path: Path) -> None:
    decider = Decider(engine, workspace=ws, run=RUN)
    read = ToolCall(name="Read", input={"file_path": "backend/app.py"})
    decider.decide_logged(read)
    other = tmp_path / "other"
    (other / "backend").mkdir(parents=True)
    os.symlink("../.env", other / "backend" / "app.py")
    (other / ".env").write_text("KEY=x\n")
    decider.workspace = other
    assert decider.decide_logged(read).input.paths[0].real == ".env"
    decider.workspace = ws
    decider.masks = ("backend/app.py",)
    masked = decider.decide_logged(read)
    assert masked.input == Decider(engine, workspace=ws, run=RUN, masks=("backend/app.py",),
                                   cache_size=0).decide_logged(read).input
    assert decider.derived is not None and decider.derived.hits == 0


def test_a_changed_run_is_another_key(engine: PolicyEngine, ws: Path) -> None:
    decider = Decider(engine, workspace=ws, run=RunInfo(id="derived", tools=["Read"]))
    bash = ToolCall(name="Bash", input={"command": "ls backend"})
    decider.decide_logged(bash)
    decider.run.tools = ["Read", "Bash"]  # changed in place: the kept input has the old run
    second = decider.decide_logged(bash)
    assert second.input.run.tools == ["Read", "Bash"]
    assert decider.derived is not None and decider.derived.hits == 0
