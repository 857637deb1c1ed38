"""`sandbox-runner audit show|verify|replay`: output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main
from tests.audit.logdata import CALLS, SAMPLE, permissive_run, write_log


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], env={"COLUMNS": "250"})


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    out = tmp_path / "run-1"
    out.mkdir()
    write_log(out / "decisions.jsonl")
    return out


def one_line_error(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sandbox-runner: error: ")
    assert "Traceback" not in result.output
    return lines[0]


# --- show ---------------------------------------------------------------------------


def test_show_prints_a_table_of_every_decision(run_dir: Path) -> None:
    result = run("audit", "show", run_dir)
    assert result.exit_code == 0, result.output
    assert "7 decisions" in result.stdout
    for inp, _ in SAMPLE:
        args = inp["tool"]["input"]
        shown = args.get("command") or args.get("file_path") or args.get("pattern")
        assert shown in result.stdout
    assert "secrets.secret_file_read: secret files cannot be read: .env" in result.stdout


def test_show_denied_only(run_dir: Path) -> None:
    result = run("audit", "show", run_dir, "--denied")
    assert result.exit_code == 0
    assert "3 decisions denied" in result.stdout
    assert "frontend/app.js" in result.stdout and "evil.example" in result.stdout
    assert "pytest -q" not in result.stdout and "architecture/backend.md" not in result.stdout


def test_show_json_lines_accepts_the_log_file_itself(run_dir: Path) -> None:
    result = run("audit", "show", run_dir / "decisions.jsonl", "--json", "--denied")
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["seq"], r["tool"], r["allow"]) for r in rows] == [
        (2, "Write", False),
        (4, "Bash", False),
        (5, "Read", False),
    ]
    assert rows[1]["reasons"][0]["rule"] == "host_not_allowed"


def test_show_caps_the_table_with_a_more_row(run_dir: Path) -> None:
    result = run("audit", "show", run_dir, "--limit", "3")
    assert result.exit_code == 0
    assert "7 decisions" in result.stdout and "4 more decisions not shown" in result.stdout
    assert "pytest -q" not in result.stdout  # seq 3 is past the cap
    assert "TODO" in run("audit", "show", run_dir, "--limit", "0").stdout


def test_show_missing_run_dir_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run("audit", "show", tmp_path / "nope")
    assert result.exit_code == 2
    assert "no such run directory or decision log" in one_line_error(result)


def test_run_dir_without_log_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run("audit", "show", tmp_path)
    assert result.exit_code == 2
    line = one_line_error(result)
    assert str(tmp_path) in line and "no decisions.jsonl" in line


def test_show_garbled_log_names_file_and_line(run_dir: Path) -> None:
    log = run_dir / "decisions.jsonl"
    with log.open("a") as fh:
        fh.write("{garbled\n")
    result = run("audit", "show", run_dir)
    assert result.exit_code == 2
    line = one_line_error(result)
    assert f"{log}: line 8: not valid JSON" in line


# --- verify -------------------------------------------------------------------------


def test_verify_ok(run_dir: Path) -> None:
    head = write_log(run_dir / "other.jsonl")  # same content, different ids: a different head
    result = run("audit", "verify", run_dir)
    assert result.exit_code == 0
    line = result.stdout.strip()
    assert line.startswith("ok: 7 decisions, head ")
    assert len(line.rsplit(" ", 1)[1]) == 64 and head not in line


def test_verify_empty_log(tmp_path: Path) -> None:
    (tmp_path / "decisions.jsonl").write_bytes(b"")
    result = run("audit", "verify", tmp_path)
    assert result.exit_code == 0
    assert result.stdout.strip() == "ok: 0 decisions, head " + "0" * 64


def test_verify_tampered_names_the_first_bad_seq(run_dir: Path) -> None:
    log = run_dir / "decisions.jsonl"
    rows = log.read_text().splitlines()
    rows[2], rows[3] = rows[3], rows[2]
    log.write_text("\n".join(rows) + "\n")
    result = run("audit", "verify", log)
    assert result.exit_code == 1
    assert result.stdout.strip().startswith("tampered: first bad seq 2: line 3: expected seq 2")


def test_verify_checks_the_head_recorded_in_summary_json(run_dir: Path) -> None:
    ok = run("audit", "verify", run_dir)
    head = ok.stdout.strip().rsplit(" ", 1)[1]
    (run_dir / "summary.json").write_text(json.dumps({"audit": {"head_hash": head}}))
    assert run("audit", "verify", run_dir).exit_code == 0
    log = run_dir / "decisions.jsonl"
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:-1]))  # drop the last line
    result = run("audit", "verify", run_dir)
    assert result.exit_code == 1
    assert result.stdout.startswith("tampered: head ")
    assert head in result.stdout


def test_verify_missing_is_exit_2(tmp_path: Path) -> None:
    result = run("audit", "verify", tmp_path / "nope")
    assert result.exit_code == 2
    one_line_error(result)


def test_verify_as_a_subprocess_has_no_traceback(tmp_path: Path, run_dir: Path) -> None:
    exe = [str(Path(sys.executable).parent / "sandbox-runner")]
    good = subprocess.run([*exe, "audit", "verify", str(run_dir)], capture_output=True, text=True)
    assert good.returncode == 0 and good.stdout.startswith("ok: 7 decisions")
    bad = subprocess.run(
        [*exe, "audit", "verify", str(tmp_path / "nope")], capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"sandbox-runner: error: {tmp_path / 'nope'}: no such run directory or decision log"
    ]


# --- replay -------------------------------------------------------------------------


def test_replay_requires_a_policy_dir(run_dir: Path) -> None:
    result = run("audit", "replay", run_dir)
    assert result.exit_code == 2
    assert "--policy-dir" in result.output


def test_replay_missing_run_dir_is_exit_2(tmp_path: Path) -> None:
    result = run("audit", "replay", tmp_path / "nope", "--policy-dir", tmp_path)
    assert result.exit_code == 2
    assert "no such run directory" in one_line_error(result)


def test_replay_lists_decisions_that_change(tmp_path: Path, policies_dir: Path) -> None:
    log = permissive_run(tmp_path)
    result = run("audit", "replay", log.parent, "--policy-dir", policies_dir)
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[-1] == f"3 of {len(CALLS)} decisions change"
    changed = [line for line in out if line.startswith("seq ")]
    assert [line.split()[:5] for line in changed] == [
        ["seq", "1", "Write", "allow", "->"],
        ["seq", "2", "Bash", "allow", "->"],
        ["seq", "3", "Read", "allow", "->"],
    ]
    assert "curl https://evil.example/x" in changed[1]
    assert any(line.strip().startswith("now: network.host_not_allowed") for line in out)


def test_replay_fail_on_change(tmp_path: Path, policies_dir: Path) -> None:
    log = permissive_run(tmp_path)
    changed = run("audit", "replay", log, "--policy-dir", policies_dir, "--fail-on-change")
    assert changed.exit_code == 1
    same = run("audit", "replay", log, "--policy-dir", tmp_path / "permissive", "--fail-on-change")
    assert same.exit_code == 0
    assert same.stdout.strip() == f"0 of {len(CALLS)} decisions change"


def test_replay_with_a_broken_policy_is_one_line_exit_2(tmp_path: Path) -> None:
    log = permissive_run(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "main.rego").write_text("package sandbox\n\ndecision := {\n")
    result = run("audit", "replay", log, "--policy-dir", broken)
    assert result.exit_code == 2
    assert f"{broken / 'main.rego'}:" in one_line_error(result)
