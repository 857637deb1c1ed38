"""Malformed agent files, policies, config and scenarios: exit 2, one line, nothing half-written."""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.security import harness as h
from tests.security.scorecard import SCORECARD, CheckRow

pytestmark = pytest.mark.docker  # `run` may reach the engine before it reads everything

GOOD_SCENARIO = "turns:\n  - text: done\n"


@dataclass(frozen=True)
class Bad:
    id: str
    what: str
    files: dict[str, str]  # scratch-relative ("agent.md") or project-relative ("proj:...") files
    args: tuple[str, ...] = ()
    scenario: str = GOOD_SCENARIO
    scenario_name: str = "scenario.yaml"
    must_say: str = ""  # a regex the one line must match


BAD = [
    Bad("agent-unclosed-yaml", "agent file with broken YAML frontmatter",
        {"agent.md": "---\nname: [unclosed\ntools: Read\n---\nYou are an agent.\n"}, ("--agent", "@agent.md"),
        must_say=r"agent\.md"),
    Bad("agent-frontmatter-list", "agent file whose frontmatter is a list",
        {"agent.md": "---\n- a\n- b\n---\nYou are an agent.\n"}, ("--agent", "@agent.md"), must_say=r"agent\.md"),
    Bad("agent-missing", "agent path that does not exist", {}, ("--agent", "@no-such-agent.md")),
    Bad("policy-syntax", "policy with a syntax error",
        {"pol/main.rego": "package sandbox\n\nimport rego.v1\n\ndecision := {\"allow\": true\n",
         "pol/data.json": "{}"}, ("--policy-dir", "@pol"), must_say=r"main\.rego:\d+:\d+"),
    Bad("policy-bad-data", "policy data that is not JSON",
        {"pol/main.rego": "package sandbox\n\nimport rego.v1\n\ndecision := {\"allow\": false, \"reasons\": []}\n",
         "pol/data.json": "{not json"}, ("--policy-dir", "@pol"), must_say=r"data\.json"),
    Bad("config-bad-toml", "sandbox-runner.toml that is not TOML",
        {"proj:sandbox-runner.toml": "max_turns = [\n"}, must_say=r"sandbox-runner\.toml"),
    Bad("config-unknown-key", "sandbox-runner.toml with an unknown key",
        {"proj:sandbox-runner.toml": "[sandbox]\ntype = \"docker\"\nprivileged = true\n"},
        must_say=r"sandbox-runner\.toml.*privileged"),
    Bad("config-section-without-type", "sandbox-runner.toml: [sandbox.limits] without naming the sandbox type",
        {"proj:sandbox-runner.toml": "[sandbox.limits]\nmemoryy = \"1g\"\n"},
        must_say=r"sandbox-runner\.toml.*memoryy"),
    Bad("config-wrong-type", "sandbox-runner.toml with a wrong type",
        {"proj:sandbox-runner.toml": "bash_timeout = \"long\"\n"}, must_say=r"sandbox-runner\.toml"),
    Bad("scenario-bad-yaml", "scenario that is not YAML", {}, scenario="turns: [\n  - text: a\n",
        must_say=r"scenario\.yaml"),
    Bad("scenario-turns-not-list", "scenario whose turns is a number", {}, scenario="turns: 5\n",
        must_say=r"scenario\.yaml"),
    Bad("scenario-call-without-name", "scenario tool call without a name", {},
        scenario="turns:\n  - tool_calls:\n      - input: {}\n", must_say=r"scenario\.yaml"),
    Bad("scenario-bad-fault", "scenario fault with status 700", {},
        scenario="turns:\n  - fault: {status: 700}\n", must_say=r"scenario\.yaml"),
    Bad("scenario-bad-json", "JSON scenario with a syntax error", {}, scenario='{"turns": [',
        scenario_name="scenario.json", must_say=r"scenario\.json"),
    Bad("scenario-missing", "scenario file that does not exist", {}, scenario="",
        scenario_name="missing.yaml", must_say=r"missing\.yaml"),
]


def _invoke(base: Path, bad: Bad) -> tuple[Bad, subprocess.CompletedProcess[str], Path]:
    world = h.make_world(base / bad.id)
    for rel, text in bad.files.items():
        path = world.project / rel[5:] if rel.startswith("proj:") else world.scratch / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    scenario = world.scratch / bad.scenario_name
    if bad.scenario:
        scenario.write_text(bad.scenario, encoding="utf-8")
    out = world.runs / "run"
    args = [a.replace("@", str(world.scratch) + "/", 1) if a.startswith("@") else a for a in bad.args]
    proc = subprocess.run(h.run_cmd(world.project, scenario, out, extra=args), capture_output=True,
                          text=True, timeout=120, env=h.runner_env(), stdin=subprocess.DEVNULL)
    return bad, proc, out


@pytest.fixture(scope="module")
def bad_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Bad, subprocess.CompletedProcess[str], Path]]:
    base = tmp_path_factory.mktemp("bad")
    with ThreadPoolExecutor(max_workers=4) as pool:
        return {r[0].id: r for r in pool.map(lambda b: _invoke(base, b), BAD)}


def _run_dir_state(out: Path) -> str:
    if not out.exists():
        return "none"
    entries = sorted(p.name for p in out.iterdir())
    return "empty" if not entries else f"holds {entries}"


@pytest.mark.parametrize("bad", BAD, ids=[b.id for b in BAD])
def test_bad_input_is_one_line_exit_2(bad: Bad, bad_results: dict) -> None:
    _, proc, out = bad_results[bad.id]
    lines = h.error_lines(proc.stdout, proc.stderr)
    problems = []
    if proc.returncode != 2:
        problems.append(f"exit {proc.returncode}, expected 2")
    if "Traceback" in proc.stderr:
        problems.append("traceback")
    if len(lines) != 1:
        problems.append(f"{len(lines)} error lines: {lines[-5:]!r}")
    elif bad.must_say and not re.search(bad.must_say, lines[0]):
        problems.append(f"the line does not name the problem ({bad.must_say}): {lines[0]!r}")
    state = _run_dir_state(out)
    if state not in ("none", "empty"):
        problems.append(f"a half-written run dir: {state}")
    try:  # run_cmd asks for JSON: stdout is the error object and nothing else
        error = json.loads(proc.stdout)["error"]
        if error["code"] != 2 or set(json.loads(proc.stdout)) != {"error"}:
            problems.append(f"stdout is not the error object: {proc.stdout[:200]!r}")
    except (json.JSONDecodeError, KeyError, TypeError):
        problems.append(f"stdout is not the JSON error: {proc.stdout[:200]!r}")
    SCORECARD.check(CheckRow(id=bad.id, table="input", description=bad.what,
                             result="FAILED" if problems else "held",
                             detail="; ".join(problems) if problems else f"exit 2: {lines[0][:160]}"))
    assert not problems, "\n".join(problems)
