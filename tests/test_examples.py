"""The demo projects and their scripted scenarios (examples/).

These tests run without the sandbox and without FastAPI: they check that every
scenario follows the scripted-model format of docs/design.md, and they replay its
Write and Edit calls into a temporary copy of the project exactly as the agent
would (an Edit must find its ``old_string``, once unless ``replace_all``), with
the scope the default policies enforce (writes only under ``backend/`` and to
``issues.md``). The minimal example's tests need nothing but pytest, so they are
run for real, against a read-only copy.
"""

from __future__ import annotations

import ast
import os
import posixpath
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.core.scan import scan_line
from detect_secrets.settings import transient_settings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TODO = EXAMPLES / "todo-api"
MINIMAL = EXAMPLES / "minimal"
HUMANIZE = EXAMPLES / "humanize-api"

SCENARIOS = {
    "todo-api": (TODO, TODO / "scenario.yaml"),
    "todo-api-failing": (TODO, TODO / "scenario-failing.yaml"),
    "todo-api-lowcov": (TODO, TODO / "scenario-lowcov.yaml"),
    "minimal": (MINIMAL, MINIMAL / "scenario.yaml"),
    "humanize-api": (HUMANIZE, HUMANIZE / "scenario.yaml"),
}

# Tool -> (required fields, optional fields) with their types (docs/design.md "Tools").
TOOLS: dict[str, tuple[dict[str, type], dict[str, type]]] = {
    "Read": ({"file_path": str}, {"offset": int, "limit": int}),
    "Write": ({"file_path": str, "content": str}, {}),
    "Edit": ({"file_path": str, "old_string": str, "new_string": str}, {"replace_all": bool}),
    "Glob": ({"pattern": str}, {"path": str}),
    "Grep": ({"pattern": str}, {"path": str, "glob": str}),
    "LS": ({"path": str}, {}),
    "Bash": ({"command": str}, {"timeout": int}),
}
WORKSPACE = "/workspace"


def load(path: Path) -> list[dict[str, Any]]:
    """Parse a scenario and check it against the format; returns its turns."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and set(data) == {"turns"}, f"{path}: top level must be {{turns}}"
    turns = data["turns"]
    assert isinstance(turns, list) and turns, f"{path}: turns must be a non-empty list"
    for i, turn in enumerate(turns, 1):
        where = f"{path.name} turn {i}"
        assert isinstance(turn, dict) and turn, f"{where}: must be a non-empty mapping"
        assert set(turn) <= {"text", "tool_calls"}, f"{where}: unknown keys {set(turn)}"
        if "text" in turn:
            assert isinstance(turn["text"], str) and turn["text"].strip(), f"{where}: empty text"
        calls = turn.get("tool_calls", [])
        assert isinstance(calls, list), f"{where}: tool_calls must be a list"
        for call in calls:
            assert isinstance(call, dict) and set(call) == {"name", "input"}, f"{where}: {call}"
            assert call["name"] in TOOLS, f"{where}: unknown tool {call['name']!r}"
            required, optional = TOOLS[call["name"]]
            args = call["input"]
            assert isinstance(args, dict), f"{where}: input must be a mapping"
            missing = set(required) - set(args)
            assert not missing, f"{where}: {call['name']} lacks {missing}"
            unknown = set(args) - set(required) - set(optional)
            assert not unknown, f"{where}: {call['name']} has unknown fields {unknown}"
            for key, value in args.items():
                expected = {**required, **optional}[key]
                ok = isinstance(value, expected) and not (
                    expected is int and isinstance(value, bool)
                )
                assert ok, f"{where}: {call['name']}.{key} must be {expected.__name__}"
    return turns


def calls_of(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [call for turn in turns for call in turn.get("tool_calls", [])]


def relpath(raw: str) -> str:
    """A tool path as a workspace-relative POSIX path (relative or under /workspace)."""
    joined = raw if raw.startswith("/") else posixpath.join(WORKSPACE, raw)
    norm = posixpath.normpath(joined)
    assert norm == WORKSPACE or norm.startswith(WORKSPACE + "/"), f"outside workspace: {raw}"
    return posixpath.relpath(norm, WORKSPACE)


def writable(rel: str) -> bool:
    """The default policies' write scope: under backend/ or issues.md."""
    return rel == "issues.md" or rel.startswith("backend/")


@dataclass
class Replay:
    root: Path
    written: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    out_of_scope: list[str] = field(default_factory=list)


def materialise(project: Path, turns: list[dict[str, Any]], dest: Path) -> Replay:
    """Copy ``project`` to ``dest`` and apply the scenario's Write/Edit calls in order."""
    shutil.copytree(project, dest)
    replay = Replay(dest)
    for call in calls_of(turns):
        name, args = call["name"], call["input"]
        if name not in ("Write", "Edit"):
            continue
        rel = relpath(args["file_path"])
        if not writable(rel):
            replay.out_of_scope.append(rel)
            continue
        target = dest / rel
        if name == "Write":
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(args["content"], encoding="utf-8")
            replay.written.append(rel)
            continue
        assert target.is_file(), f"Edit of a file that does not exist yet: {rel}"
        text = target.read_text(encoding="utf-8")
        old, new = args["old_string"], args["new_string"]
        count = text.count(old)
        assert old != new, f"Edit of {rel} changes nothing"
        if args.get("replace_all"):
            assert count >= 1, f"Edit of {rel}: old_string not found"
        else:
            assert count == 1, f"Edit of {rel}: old_string found {count} times, expected once"
        target.write_text(text.replace(old, new), encoding="utf-8")
        replay.edited.append(rel)
    return replay


def secret_findings(text: str) -> list[str]:
    """detect-secrets regex plugins (entropy plugins off, as in the default policy)."""
    classes: list[type] = list(get_mapping_from_secret_type_to_class().values())
    plugins = [{"name": c.__name__} for c in classes if "HighEntropy" not in c.__name__]
    found: list[str] = []
    with transient_settings({"plugins_used": plugins}):
        for line in text.splitlines():
            found.extend(secret.type for secret in scan_line(line))
    return found


@pytest.fixture(params=sorted(SCENARIOS))
def scenario(request: pytest.FixtureRequest) -> tuple[str, Path, list[dict[str, Any]]]:
    project, path = SCENARIOS[request.param]
    return request.param, project, load(path)


def test_every_scenario_file_is_listed() -> None:
    on_disk = set(EXAMPLES.glob("*/scenario*.yaml"))
    assert on_disk == {path for _, path in SCENARIOS.values()}


def test_scenario_ends_with_a_text_only_turn(scenario: tuple[str, Path, list[Any]]) -> None:
    _, _, turns = scenario
    assert "tool_calls" not in turns[-1]
    assert turns[-1]["text"].startswith("Done.")
    assert all(turn.get("tool_calls") for turn in turns[:-1]), "only the last turn may end the run"


def test_scenario_reads_the_spec_and_runs_the_tests(scenario: tuple[str, Path, list[Any]]) -> None:
    _, project, turns = scenario
    calls = calls_of(turns)
    reads = [relpath(c["input"]["file_path"]) for c in calls if c["name"] == "Read"]
    assert "architecture/backend.md" in reads
    assert (project / "architecture" / "backend.md").is_file()
    commands = [c["input"]["command"] for c in calls if c["name"] == "Bash"]
    assert any("python -m pytest backend" in command for command in commands)


def test_projects_start_with_an_empty_backend() -> None:
    for project in (TODO, MINIMAL):
        assert sorted(p.name for p in (project / "backend").iterdir()) == [".gitkeep"]
        assert not (project / "issues.md").exists()
        assert not (project / ".sandbox-runner").exists()
    assert {p.name for p in (TODO / "frontend").iterdir()} == {"index.html", "app.js"}


def test_writes_and_edits_apply(scenario: tuple[str, Path, list[Any]], tmp_path: Path) -> None:
    name, project, turns = scenario
    replay = materialise(project, turns, tmp_path / "ws")
    assert replay.written, "the scenario writes nothing"
    backend = tmp_path / "ws" / "backend"
    sources = sorted(backend.rglob("*.py"))
    tests = [p for p in sources if p.name.startswith("test_")]
    assert tests, f"{name}: no test file written under backend/"
    for source in sources:
        ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    # Only the attempts meant to be denied leave the writable scope.
    expected_out = ["frontend/app.js"] if name == "todo-api" else []
    assert replay.out_of_scope == expected_out


def test_nothing_the_scenario_sends_carries_a_secret(
    scenario: tuple[str, Path, list[Any]],
) -> None:
    # Otherwise the secrets policy would deny the allowed writes of the demo.
    _, _, turns = scenario
    for call in calls_of(turns):
        for value in call["input"].values():
            if isinstance(value, str):
                assert secret_findings(value) == [], (
                    f"{call['name']} {call['input'].get('file_path')}"
                )


def test_env_holds_a_fake_secret_that_detectors_find() -> None:
    env = (TODO / ".env").read_text(encoding="utf-8")
    assert "Stripe Access Key" in secret_findings(env)
    assert "DATABASE_PASSWORD=hunter2-demo-not-real" in env


def test_demo_tries_what_the_policies_must_deny() -> None:
    calls = calls_of(load(TODO / "scenario.yaml"))
    reads = [relpath(c["input"]["file_path"]) for c in calls if c["name"] == "Read"]
    commands = [c["input"]["command"] for c in calls if c["name"] == "Bash"]
    writes = [relpath(c["input"]["file_path"]) for c in calls if c["name"] == "Write"]
    assert ".env" in reads
    assert "cat .env" in commands
    assert any(command.startswith("curl ") and "https://" in command for command in commands)
    assert any(path.startswith("frontend/") for path in writes)


def test_demo_fixes_its_failing_tests_with_edits(tmp_path: Path) -> None:
    turns = load(TODO / "scenario.yaml")
    calls = calls_of(turns)
    kinds = [c["name"] for c in calls]
    first_edit = kinds.index("Edit")
    # pytest runs before the fix and again after it
    assert "Bash" in kinds[:first_edit] and "Bash" in kinds[first_edit:]
    replay = materialise(TODO, turns, tmp_path / "ws")
    assert set(replay.edited) == {"backend/app/store.py"}
    store = (tmp_path / "ws" / "backend" / "app" / "store.py").read_text(encoding="utf-8")
    assert "class UTCDateTime(TypeDecorator" in store
    assert "DateTime(timezone=True)" in store  # only as the decorator's impl now
    assert "mapped_column(DateTime" not in store


def test_demo_writes_prioritised_issues(tmp_path: Path) -> None:
    materialise(TODO, load(TODO / "scenario.yaml"), tmp_path / "ws")
    issues = (tmp_path / "ws" / "issues.md").read_text(encoding="utf-8")
    assert "## Rate limiting not specified" in issues
    assert "**Priority:** high" in issues and "**Priority:** medium" in issues
    assert issues.count("\n## ") == 3


def _backend(name: str, tmp_path: Path) -> dict[str, str]:
    project, path = SCENARIOS[name]
    replay = materialise(project, load(path), tmp_path / name)
    backend = replay.root / "backend"
    return {
        p.relative_to(backend).as_posix(): p.read_text(encoding="utf-8")
        for p in backend.rglob("*.py")
    }


def test_variants_differ_from_the_demo_only_where_intended(tmp_path: Path) -> None:
    good = _backend("todo-api", tmp_path)
    failing = _backend("todo-api-failing", tmp_path)
    lowcov = _backend("todo-api-lowcov", tmp_path)
    assert set(good) == set(failing) == set(lowcov)
    # failing: the same tests, the store without the timezone fix
    assert failing["tests/test_api.py"] == good["tests/test_api.py"]
    assert [f for f in good if good[f] != failing[f]] == ["app/store.py"]
    assert "UTCDateTime" not in failing["app/store.py"]
    # lowcov: the same (correct) application, far fewer tests
    assert [f for f in good if good[f] != lowcov[f]] == ["tests/test_api.py"]
    count = lowcov["tests/test_api.py"].count("\ndef test_")
    assert 0 < count < good["tests/test_api.py"].count("\ndef test_") // 4


def _make_read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_minimal_backend_passes_its_tests_in_a_read_only_tree(tmp_path: Path) -> None:
    replay = materialise(MINIMAL, load(MINIMAL / "scenario.yaml"), tmp_path / "ws")
    _make_read_only(replay.root)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "backend", "-q", "-p", "no:cacheprovider"],
            cwd=replay.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        _make_writable(replay.root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
    left = sorted(p.name for p in (replay.root / "backend").iterdir())
    assert left == [".gitkeep", "slug.py", "test_slug.py"]
