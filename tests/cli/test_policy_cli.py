"""`sandbox-runner policy eval` and `policy test` through the real command line."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import main

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def run(*args: str, stdin: str | None = None) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    return result.exit_code, result.stdout.splitlines(), result.stderr


def decisions(lines: list[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in lines]


def rules(decision: dict[str, object]) -> set[str]:
    reasons = decision["reasons"]
    assert isinstance(reasons, list)
    return {f"{r['policy']}.{r['rule']}" for r in reasons}


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    for rel, text in {
        "backend/app.py": "x = 1\n",
        "frontend/app.js": "x\n",
        ".env": "KEY=v\n",
        "issues.md": "",
    }.items():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(text)
    os.symlink("../frontend/app.js", ws / "backend" / "link.js")
    os.symlink("../.env", ws / "backend" / "settings.txt")
    return ws


def test_eval_one_call_from_a_file(tmp_path: Path) -> None:
    call = tmp_path / "call.json"
    call.write_text(
        json.dumps(
            {"tool": "Write", "input": {"file_path": "backend/app.py", "content": "x"}}, indent=2
        )
    )
    code, out, err = run("policy", "eval", "--input", str(call))
    assert code == 0, err
    assert decisions(out) == [{"allow": True, "reasons": []}]


def test_eval_json_lines_from_stdin(workspace: Path) -> None:
    calls = [
        {"tool": "Bash", "input": {"command": "cat ../.env > backend/x"}},
        {"tool": "Write", "input": {"file_path": "backend/link.js", "content": "x"}},
        {"tool": "Read", "input": {"file_path": "backend/settings.txt"}},
        {"tool": "Bash", "input": {"command": "cd backend && python -m pytest -q"}},
        {"tool": "Bash", "input": {"command": "curl https://evil.example"}},
        {"tool": "Bash", "input": {"command": 'eval "$X"'}},
        {"tool": "Execute", "input": {}},
    ]
    stdin = "\n".join(json.dumps(c) for c in calls) + "\n\n"
    code, out, err = run(
        "policy", "eval", "--input", "-", "--workspace", str(workspace), stdin=stdin
    )
    assert code == 0, err
    got = decisions(out)
    assert len(got) == len(calls)
    assert [d["allow"] for d in got] == [False, False, False, True, False, False, False]
    assert "secrets.secret_file" in rules(got[0])
    assert "scope.write_symlink_escape" in rules(got[1])
    assert "secrets.secret_file" in rules(got[2])  # only the workspace shows it is .env
    assert "network.host_not_allowed" in rules(got[4])
    assert "network.opaque_shell" in rules(got[5])
    assert rules(got[6]) == {"input.unknown_tool"}
    for line in out:  # compact, one decision per line
        assert ": " not in line.split('"msg"')[0]


def test_eval_reasons_say_what_would_be_allowed() -> None:
    stdin = json.dumps({"tool": "Write", "input": {"file_path": "frontend/app.js", "content": "x"}})
    code, out, _ = run("policy", "eval", "--input", "-", stdin=stdin)
    assert code == 0
    [decision] = decisions(out)
    [reason] = decision["reasons"]  # type: ignore[misc]
    assert reason["policy"] == "scope" and reason["rule"] == "write_outside_writable"
    assert (
        "frontend/app.js" in reason["msg"]
        and "backend/" in reason["msg"]
        and "issues.md" in reason["msg"]
    )


def test_eval_with_data_override(tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"settings": {"allowed_hosts": ["pypi.org"]}}))
    stdin = json.dumps({"tool": "Bash", "input": {"command": "pip install requests"}})
    assert decisions(run("policy", "eval", "--input", "-", stdin=stdin)[1])[0]["allow"] is False
    code, out, err = run("policy", "eval", "--input", "-", "--data", str(data), stdin=stdin)
    assert code == 0, err
    assert decisions(out) == [{"allow": True, "reasons": []}]


@pytest.mark.parametrize(
    "stdin, message",
    [
        (
            '{"tool": "Read", "input": {"file_path": "x"}}\n{"tool": \n',
            "<stdin>: line 2: invalid JSON",
        ),
        ("[1, 2]", "expected a JSON object"),
        ('{"tool": "Read"}\n[1]\n', "line 2: expected a JSON object"),
        ("   \n", "no tool call given"),
    ],
)
def test_eval_bad_input_is_one_line_exit_2(stdin: str, message: str) -> None:
    code, out, err = run("policy", "eval", "--input", "-", stdin=stdin)
    assert code == 2
    assert out == []
    assert len(err.strip().splitlines()) == 1
    assert message in err
    assert "Traceback" not in err


def test_eval_unreadable_input_and_bad_workspace(tmp_path: Path) -> None:
    code, _, err = run("policy", "eval", "--input", str(tmp_path / "missing.json"))
    assert code == 2 and "missing.json: No such file or directory" in err
    call = tmp_path / "c.json"
    call.write_text('{"tool": "LS", "input": {"path": "."}}')
    code, _, err = run(
        "policy", "eval", "--input", str(call), "--workspace", str(tmp_path / "nope")
    )
    assert code == 2 and "workspace is not a directory" in err


def test_eval_bad_policy_is_exit_2_with_location(tmp_path: Path) -> None:
    pol = tmp_path / "pol"
    pol.mkdir()
    (pol / "p.rego").write_text("package sandbox\n\nimport rego.v1\n\ndecision := {\n")
    code, out, err = run(
        "policy", "eval", "--input", "-", "--policy-dir", str(pol), stdin='{"tool": "LS"}'
    )
    assert code == 2 and out == []
    assert err.strip().startswith(f"sandbox-runner: error: {pol / 'p.rego'}:6:1: ")
    assert len(err.strip().splitlines()) == 1


def test_eval_unreachable_opa_is_an_environment_problem() -> None:
    code, _, err = run(
        "policy", "eval", "--input", "-", "--opa-url", "http://127.0.0.1:9", stdin='{"tool": "LS"}'
    )
    assert code == 4
    assert "not healthy" in err and len(err.strip().splitlines()) == 1


def test_policy_test_passes_on_the_default_policies() -> None:
    code, out, err = run("policy", "test")
    assert code == 0, err
    assert out[-1].endswith("passed, 0 failed")
    assert int(out[-1].split()[0]) >= 30
    assert all(line.startswith("PASS data.sandbox.") for line in out[:-1])


def test_policy_test_fails_and_names_the_failure(tmp_path: Path) -> None:
    pol = tmp_path / "policies"
    shutil.copytree(POLICIES, pol)
    (pol / "tests" / "wrong_test.rego").write_text(
        "package sandbox.wrong_test\n\nimport rego.v1\n\n"
        "test_frontend_is_writable if {\n    data.sandbox.decision.allow with input as "
        '{"tool": {"name": "Write"}, "paths": [{"raw": "frontend/a", "path": "frontend/a", '
        '"real": "frontend/a", "op": "write", "inside_workspace": true}], "hosts": [], '
        '"secrets": [], "errors": []}\n}\n'
    )
    code, out, _ = run("policy", "test", "--policy-dir", str(pol))
    assert code == 1
    assert any(
        line.startswith("FAIL data.sandbox.wrong_test.test_frontend_is_writable (") for line in out
    )
    assert out[-1].endswith("passed, 1 failed")


def test_policy_test_without_tests(tmp_path: Path) -> None:
    pol = tmp_path / "pol"
    pol.mkdir()
    (pol / "p.rego").write_text("package sandbox\n\nimport rego.v1\n\ndecision := {}\n")
    code, out, _ = run("policy", "test", "--policy-dir", str(pol))
    assert code == 1
    assert "no test_ rules found" in out
