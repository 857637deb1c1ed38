"""Real agent files from public repositories (tests/agentdef_corpus/, sources in SOURCES.md)
load the way Claude Code loads them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runner.agentdef import AgentLoad, load_agent_file
from runner.errors import AgentFileError
from runner.policy.models import TOOL_NAMES

CORPUS = Path(__file__).parent / "agentdef_corpus"
FILES = sorted(p for p in CORPUS.glob("*.md") if p.name != "SOURCES.md")
MIN_LOAD_RATE = 0.95


def _loads() -> tuple[dict[str, AgentLoad], dict[str, str]]:
    loaded: dict[str, AgentLoad] = {}
    failed: dict[str, str] = {}
    for path in FILES:
        try:
            loaded[path.name] = load_agent_file(str(path))
        except AgentFileError as exc:
            failed[path.name] = str(exc)
    return loaded, failed


LOADED, FAILED = _loads()


def _raw_frontmatter(path: Path) -> str:
    text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
    return text.split("\n---", 1)[0]


def test_the_corpus_is_real_and_sourced() -> None:
    assert len(FILES) >= 60
    sources = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    for path in FILES:
        row = next((line for line in sources.splitlines() if line.startswith(f"| {path.name} |")),
                   None)
        assert row is not None, f"{path.name} is not in SOURCES.md"
        assert re.search(r"\| [0-9a-f]{40} \|$", row), row  # repository, path and commit
    assert len({line.split(" | ")[1] for line in sources.splitlines()
                if line.startswith("| ") and "__" in line}) >= 5  # repositories


def test_at_least_95_percent_load() -> None:
    for name, problem in FAILED.items():
        print(f"not loadable: {name}: {problem}")
    rate = len(LOADED) / len(FILES)
    print(f"{len(LOADED)}/{len(FILES)} agent files load ({rate:.0%})")
    assert rate >= MIN_LOAD_RATE, FAILED


def test_the_corpus_covers_the_rules() -> None:
    """The shapes the rules are about are in the corpus, not only in hand-written tests."""
    fronts = {p.name: _raw_frontmatter(p) for p in FILES}
    assert sum(1 for f in fronts.values() if re.search(r"^tools\s*:", f, re.M)) >= 30
    assert sum(1 for f in fronts.values() if not re.search(r"^tools\s*:", f, re.M)) >= 20
    assert sum(1 for f in fronts.values() if "disallowedTools" in f) >= 5
    assert sum(1 for f in fronts.values() if "MultiEdit" in f) >= 3
    assert sum(1 for f in fronts.values() if "mcp__" in f) >= 5
    assert sum(1 for load in LOADED.values()
               if any("not valid YAML" in w for w in load.warnings)) >= 10
    models = {load.definition.model for load in LOADED.values()}
    assert {"opus", "sonnet", "haiku", "inherit"} <= models


def test_disallowed_tools_are_never_granted() -> None:
    checked = 0
    for name, load in LOADED.items():
        for spec in load.definition.disallowed_tools or []:
            tool = spec.split("(")[0]
            assert tool not in load.tools, (name, tool)
            checked += 1
    assert checked >= 10


def test_granted_tools_are_runtime_tools_and_requests_are_accounted_for() -> None:
    for name, load in LOADED.items():
        assert set(load.tools) <= set(TOOL_NAMES), name
        requested = load.definition.tools
        if requested is None:
            continue
        named = {spec.split("(")[0] for spec in requested}
        accounted = set(load.tools) | {d.tool.split("(")[0] for d in load.tools_dropped}
        assert named - {"MultiEdit"} <= accounted, (name, named - accounted)


@pytest.mark.parametrize("tool", ["WebFetch", "WebSearch", "Task", "TodoWrite"])
def test_unavailable_tools_are_dropped_not_refused(tool: str) -> None:
    with_tool = [load for load in LOADED.values() if tool in (load.definition.tools or [])]
    assert with_tool, f"no corpus file asks for {tool}"
    for load in with_tool:
        assert tool in {d.tool for d in load.tools_dropped}
        assert load.tools  # the file still runs, with what this runtime has
