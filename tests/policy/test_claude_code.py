"""Claude Code's tool calls mapped onto the policy tools, decided by the real Rego engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.config import PolicyConfig, RegorusEngineConfig
from runner.policy.claude_code import asked_forms, map_call
from runner.policy.decider import Decider
from runner.policy.engine import PolicyEngine, load_engine
from runner.policy.models import Decision, PolicyInput, RunInfo, ToolCall
from runner.runtime_tools import CLAUDE_CODE_TOOLS, policy_tool_names

AWS = "AKIAIOSFODNN7EXAMPLE"
ALL = policy_tool_names(list(CLAUDE_CODE_TOOLS))


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, PolicyEngine]]:
    data = tmp_path_factory.mktemp("data") / "hosts.json"
    data.write_text(json.dumps({"settings": {
        "allowed_hosts": ["docs.python.org", "*.example.com:8443"], "allow_web_search": True}}))
    plain = load_engine(PolicyConfig(engine=RegorusEngineConfig()))
    hosts = load_engine(PolicyConfig(engine=RegorusEngineConfig(), data=data))
    yield {"plain": plain, "hosts": hosts}
    plain.close()
    hosts.close()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / "app.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("hi\n")
    (tmp_path / "nb.ipynb").write_text("{}\n")
    (tmp_path / "backend" / "nb.ipynb").write_text("{}\n")
    return tmp_path


def decide(engines: dict[str, PolicyEngine], workspace: Path, name: str, inp: dict[str, Any], *,
           data: str = "plain", tools: list[str] | None = None) -> tuple[PolicyInput, Decision]:
    decider = Decider(engines[data], workspace=workspace,
                      run=RunInfo(id="r", agent="a", tools=ALL if tools is None else tools))
    mapped = map_call(ToolCall(name=name, input=inp))
    policy_input, decision, _ = decider.decide(mapped.call, errors=mapped.errors)
    return policy_input, decision


def rules(decision: Decision) -> set[str]:
    return {f"{r.policy}/{r.rule}" for r in decision.reasons}


ALLOWED: list[tuple[str, dict[str, Any]]] = [
    ("Bash", {"command": "ls -la backend", "description": "list", "run_in_background": False,
              "timeout": 120000, "dangerouslyDisableSandbox": True}),
    ("Read", {"file_path": "/workspace/README.md", "offset": 1, "limit": 20, "pages": "1-2"}),
    ("Write", {"file_path": "/workspace/backend/new.py", "content": "print(1)\n"}),
    ("Edit", {"file_path": "backend/app.py", "old_string": "x = 1", "new_string": "x = 2",
              "replace_all": False}),
    ("Glob", {"pattern": "**/*.py", "path": "/workspace/backend"}),
    ("Grep", {"pattern": "x", "path": "backend", "glob": "*.py", "output_mode": "content",
              "-n": True, "-i": False, "type": "py", "head_limit": 10, "multiline": False}),
    ("LS", {"path": "/workspace/backend", "ignore": ["*.pyc"]}),
    ("MultiEdit", {"file_path": "backend/app.py", "edits": [
        {"old_string": "x = 1", "new_string": "x = 2"},
        {"old_string": "y", "new_string": "z", "replace_all": True}]}),
    ("NotebookEdit", {"notebook_path": "/workspace/backend/nb.ipynb", "new_source": "1 + 1",
                      "cell_type": "code", "edit_mode": "replace"}),
    ("Agent", {"description": "explore", "prompt": "find the models",
               "subagent_type": "general-purpose"}),
    ("Task", {"description": "explore", "prompt": "find the models", "subagent_type": "Explore"}),
    ("TodoWrite", {"todos": [{"content": "a", "status": "pending", "activeForm": "doing a"}]}),
    ("TaskCreate", {"subject": "s", "description": "d"}),
    ("TaskGet", {"taskId": "1"}), ("TaskList", {}), ("TaskUpdate", {"taskId": "1",
                                                                      "status": "completed"}),
    ("TaskStop", {"task_id": "t"}), ("TaskOutput", {"task_id": "t"}),
    ("ToolSearch", {"query": "select:WebFetch"}), ("ListAgents", {}),
]


@pytest.mark.parametrize(("name", "inp"), ALLOWED, ids=[a[0] for a in ALLOWED])
def test_allowed(engines: dict[str, PolicyEngine], workspace: Path, name: str,
                 inp: dict[str, Any]) -> None:
    policy_input, decision = decide(engines, workspace, name, inp)
    assert decision.allow, decision.reasons
    assert policy_input.errors == []


DENIED: list[tuple[str, dict[str, Any], str]] = [
    ("Bash", {"command": "cat .env", "dangerouslyDisableSandbox": True}, "secrets/secret_file"),
    ("Bash", {"command": "curl https://evil.test/x"}, "network/host_not_allowed"),
    ("Read", {"file_path": "/workspace/.env"}, "secrets/secret_file"),
    ("Write", {"file_path": "/workspace/README.md", "content": "x"}, "scope/write_outside_writable"),
    ("Edit", {"file_path": "backend/app.py", "old_string": "x", "new_string": f"k = '{AWS}'"},
     "secrets/hardcoded_secret"),
    ("Glob", {"pattern": "*", "path": "/root"}, "scope/read_outside_workspace"),
    ("Grep", {"pattern": "x", "path": "/proc/1/environ"}, "secrets/process_environment"),
    ("LS", {"path": "/root"}, "scope/read_outside_workspace"),
    ("MultiEdit", {"file_path": "README.md", "edits": [{"old_string": "a", "new_string": "b"}]},
     "scope/write_outside_writable"),
    ("MultiEdit", {"file_path": "backend/app.py", "edits": [
        {"old_string": "x", "new_string": "fine"},
        {"old_string": "y", "new_string": f"key = '{AWS}'"}]}, "secrets/hardcoded_secret"),
    ("MultiEdit", {"file_path": "backend/app.py", "edits": "nope"}, "input/malformed_input"),
    ("MultiEdit", {"file_path": "backend/app.py", "edits": [{"old_string": "x"}]},
     "input/malformed_input"),
    ("NotebookEdit", {"notebook_path": "/workspace/nb.ipynb", "new_source": "1"},
     "scope/write_outside_writable"),
    ("NotebookEdit", {"notebook_path": "backend/nb.ipynb", "new_source": 3},
     "input/malformed_input"),
    ("WebFetch", {"url": "https://docs.python.org/3/", "prompt": "p"}, "network/host_not_allowed"),
    ("WebFetch", {"url": "file:///etc/passwd", "prompt": "p"}, "network/url_not_http"),
    ("WebFetch", {"prompt": "p"}, "input/malformed_input"),
    ("WebSearch", {"query": "fastapi"}, "claude_code/web_search_not_allowed"),
    ("Agent", {"description": "d", "prompt": "p", "isolation": "remote"},
     "claude_code/subagent_isolation"),
    ("Task", {"description": "d", "prompt": "p", "mode": "bypassPermissions"},
     "claude_code/subagent_mode"),
    ("CronCreate", {"cron": "* * * * *", "prompt": "p"}, "input/unknown_tool"),
    ("mcp__github__create_issue", {"title": "t"}, "input/unknown_tool"),
    ("Skill", {"skill": "x"}, "input/unknown_tool"),
]


@pytest.mark.parametrize(("name", "inp", "rule"), DENIED,
                         ids=[f"{d[0]}-{d[2]}-{i}" for i, d in enumerate(DENIED)])
def test_denied(engines: dict[str, PolicyEngine], workspace: Path, name: str, inp: dict[str, Any],
                rule: str) -> None:
    _, decision = decide(engines, workspace, name, inp)
    assert not decision.allow
    assert rule in rules(decision), decision.reasons


def test_unknown_tool_reason_names_it(engines: dict[str, PolicyEngine], workspace: Path) -> None:
    _, decision = decide(engines, workspace, "Workflow", {"script": "x"})
    assert decision.reasons[0].msg.startswith("tool Workflow is not available in the sandbox")


def test_webfetch_follows_the_agent_phase_allowlist(engines: dict[str, PolicyEngine],
                                                     workspace: Path) -> None:
    def fetch(url: str) -> Decision:
        return decide(engines, workspace, "WebFetch", {"url": url, "prompt": "p"}, data="hosts")[1]

    assert fetch("https://docs.python.org/3/library/").allow
    assert fetch("http://DOCS.python.org./").allow
    assert fetch("https://a.example.com:8443/x").allow
    assert not fetch("https://a.example.com/x").allow  # 443: not the entry's port
    assert not fetch("https://docs.python.org:8080/").allow  # not a default port
    assert not fetch("https://docs.python.org.evil.test/").allow
    assert not fetch("https://user@evil.test/@docs.python.org").allow
    assert not fetch("http://127.0.0.1:4141/v1/decide").allow  # no loopback exception
    assert not fetch("gopher://docs.python.org/").allow
    assert not fetch("https://[::1/").allow  # unparsable
    assert decide(engines, workspace, "WebSearch", {"query": "x"}, data="hosts")[1].allow


def test_multiedit_is_one_edit_decision_that_keeps_the_call(engines: dict[str, PolicyEngine],
                                                            workspace: Path) -> None:
    inp = {"file_path": "backend/app.py", "edits": [{"old_string": "a", "new_string": "b"},
                                                    {"old_string": "c", "new_string": "d"}]}
    policy_input, decision = decide(engines, workspace, "MultiEdit", inp, tools=["Edit"])
    assert decision.allow
    dumped = policy_input.model_dump(mode="json", exclude_none=True)
    assert dumped["tool"]["name"] == "Edit"
    assert dumped["tool"]["input"]["new_string"] == "b\nd"
    assert dumped["tool"]["called"] == {"name": "MultiEdit", "input": inp}


def test_granted_names_are_the_mapped_ones(engines: dict[str, PolicyEngine],
                                           workspace: Path) -> None:
    granted = policy_tool_names(["Read", "NotebookEdit", "Task"])
    assert granted == ["Read", "Edit", "Agent"]
    nb = {"notebook_path": "backend/nb.ipynb", "new_source": "1"}
    assert decide(engines, workspace, "NotebookEdit", nb, tools=granted)[1].allow
    assert decide(engines, workspace, "Agent", {"description": "d", "prompt": "p"},
                  tools=granted)[1].allow
    for name, inp in [("Bash", {"command": "ls"}), ("WebFetch", {"url": "https://x", "prompt": "p"}),
                      ("TodoWrite", {"todos": []})]:
        _, decision = decide(engines, workspace, name, inp, tools=granted)
        assert rules(decision) == {"agent/tool_not_granted"}, name


def test_extra_keys_are_recorded_not_trusted(engines: dict[str, PolicyEngine],
                                             workspace: Path) -> None:
    policy_input, decision = decide(engines, workspace, "Bash", {
        "command": "cat /etc/shadow", "dangerouslyDisableSandbox": True, "description": "ok"})
    assert not decision.allow
    assert policy_input.tool.input["dangerouslyDisableSandbox"] is True
    assert "called" not in (policy_input.tool.model_extra or {})  # not mapped: as it is


def test_asked_forms_are_claude_codes_known_normalisations() -> None:
    def forms(name: str, inp: dict[str, object]) -> list[dict[str, object]]:
        return [f.input for f in asked_forms(ToolCall(name=name, input=inp))]

    assert forms("Read", {"file_path": "backend/../backend/a.py"}) == [
        {"file_path": "backend/../backend/a.py"}, {"file_path": "/workspace/backend/a.py"}]
    assert forms("Read", {"file_path": "/workspace/a.py"}) == [{"file_path": "/workspace/a.py"}]
    assert forms("Edit", {"file_path": "a.py", "old_string": "x", "new_string": "y"}) == [
        {"file_path": "a.py", "old_string": "x", "new_string": "y", "replace_all": False},
        {"file_path": "/workspace/a.py", "old_string": "x", "new_string": "y",
         "replace_all": False}]
    assert forms("Bash", {"command": "cd /workspace && pytest -q"}) == [{"command": "pytest -q"}]
    assert forms("Bash", {"command": "cd backend && pytest"}) == [{"command": "cd backend && pytest"}]
    assert forms("Grep", {"pattern": "x", "path": "backend"}) == [{"pattern": "x", "path": "backend"}]
