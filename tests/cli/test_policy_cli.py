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


def test_eval_empty_input_is_one_line_exit_2() -> None:
    code, out, err = run("policy", "eval", "--input", "-", stdin="   \n")
    assert code == 2
    assert out == []
    assert len(err.strip().splitlines()) == 1
    assert "no tool call given" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "stdin, expected",
    [
        (
            '{"tool": "Read", "input": {"file_path": "x"}}\n{"tool": \n',
            [None, (2, "invalid JSON: Expecting value (column 10)")],
        ),
        ("[1, 2]", [(1, "expected a JSON object")]),
        ('{"tool": "Read"}\n[1]\n\n"x"\n', [None, (2, "expected a JSON object"),
                                             (4, "expected a JSON object")]),
    ],
)
def test_eval_bad_line_gets_its_own_line_and_the_batch_goes_on(
    stdin: str, expected: list[tuple[int, str] | None]
) -> None:
    code, out, err = run("policy", "eval", "--input", "-", stdin=stdin)
    assert code == 0, err
    got = decisions(out)
    assert len(got) == len(expected)
    for d, want in zip(got, expected, strict=True):
        if want is None:
            assert "error" not in d and "reasons" in d
            continue
        line, message = want
        assert d["allow"] is False and d["line"] == line and d["error"].startswith(message)
        assert rules(d) == {"input.bad_input"}  # a deny with a usable reason, like any other
    code, out, _ = run("policy", "eval", "--input", "-", "--fail-on-deny", stdin=stdin)
    assert code == 1 and len(out) == len(expected)


def test_eval_echoes_ids() -> None:
    calls = [
        {"id": "c1", "tool": "Read", "input": {"file_path": "backend/app.py"}},
        {"tool": "Read", "input": {"file_path": ".env"}, "id": 7},
        {"tool": "LS", "input": {"path": "backend"}},
        {"id": {"run": "r", "n": 3}, "tool": "Bash", "input": {"command": "curl https://evil.example"}},
        {"id": None, "tool": "Read", "input": {"file_path": "backend/app.py"}},
    ]
    stdin = "\n".join(json.dumps(c) for c in calls)
    code, out, err = run("policy", "eval", "--input", "-", stdin=stdin)
    assert code == 0, err
    got = decisions(out)
    assert [d.get("id", "-") for d in got] == ["c1", 7, "-", {"run": "r", "n": 3}, None]
    assert [d["allow"] for d in got] == [True, False, True, False, True]
    assert list(got[0]) == ["id", "allow", "reasons"]  # the id first
    # a single (pretty-printed) object keeps its id too
    code, out, _ = run("policy", "eval", "--input", "-", stdin=json.dumps(calls[0], indent=2))
    assert decisions(out) == [{"id": "c1", "allow": True, "reasons": []}]


def test_eval_fail_on_deny() -> None:
    allowed = json.dumps({"tool": "Read", "input": {"file_path": "backend/app.py"}})
    denied = json.dumps({"tool": "Read", "input": {"file_path": ".env"}})
    assert run("policy", "eval", "--input", "-", "--fail-on-deny", stdin=allowed)[0] == 0
    code, out, _ = run("policy", "eval", "--input", "-", "--fail-on-deny",
                       stdin=f"{allowed}\n{denied}\n{allowed}\n")
    assert code == 1
    assert [d["allow"] for d in decisions(out)] == [True, False, True]  # every line decided
    assert run("policy", "eval", "--input", "-", stdin=f"{allowed}\n{denied}\n")[0] == 0


def test_eval_invalid_utf8_denies_that_line_only(tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes(b'{"tool": "Read", "input": {"file_path": "backend/app.py"}}\n'
                      b'{"tool": "Bash", "input": {"command": "echo \xff > frontend/x"}}\n')
    code, out, err = run("policy", "eval", "--input", str(batch))
    assert code == 0, err
    assert [d["allow"] for d in decisions(out)] == [True, False]


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
