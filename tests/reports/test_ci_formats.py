"""report --format sarif|github|gitlab on run directories made by the real report code, the
real Decider (Rego) and the real DecisionLog; SARIF checked against the official schema."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from runner.cli import main
from runner.reports.annotations import escape_data, escape_property, render_annotations
from runner.reports.findings import (
    FINGERPRINT_KEY,
    Findings,
    collect_findings,
    decision_fields,
    workspace_path,
)
from runner.reports.formats import render_report
from runner.reports.summary import load_summary
from tests.reports.ci_run import CALLS, copy_run, write_real_decisions

DATA = Path(__file__).parent / "data"
SARIF_SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
# GitLab's documented Code Quality fields ("Code Quality report format"): all required
GITLAB_ISSUE = {
    "type": "object",
    "required": ["description", "check_name", "fingerprint", "severity", "location"],
    "properties": {
        "description": {"type": "string", "minLength": 1},
        "check_name": {"type": "string", "minLength": 1},
        "fingerprint": {"type": "string", "minLength": 1},
        "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
        "location": {"type": "object", "required": ["path", "lines"], "properties": {
            "path": {"type": "string", "minLength": 1, "not": {"pattern": "^/"}},
            "lines": {"type": "object", "required": ["begin"],
                      "properties": {"begin": {"type": "integer", "minimum": 1}}}}},
    },
}


def sarif_of(run_dir: Path) -> dict[str, Any]:
    return json.loads(render_report(run_dir, "sarif").text)


def validate_sarif(doc: dict[str, Any]) -> None:
    validator = jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


@pytest.fixture(scope="module")
def real_run(sample_run: tuple[Path, Path]) -> tuple[Path, dict[str, int]]:
    run_dir = copy_run(sample_run[0], "ci-real")
    return run_dir, write_real_decisions(run_dir, sample_run[1])


def test_the_schema_is_the_official_one() -> None:
    assert SARIF_SCHEMA["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    assert "partialFingerprints" in SARIF_SCHEMA["definitions"]["result"]["properties"]
    with pytest.raises(jsonschema.ValidationError):  # the validator does reject bad SARIF
        jsonschema.validate({"version": "2.1.0", "runs": [{"tool": {}}]}, SARIF_SCHEMA)


def test_sarif_of_real_decisions_is_schema_valid(real_run: tuple[Path, dict[str, int]]) -> None:
    run_dir, counts = real_run
    doc = sarif_of(run_dir)
    validate_sarif(doc)
    run = doc["runs"][0]
    results = run["results"]
    denials = [r for r in results if r["properties"]["category"] == "decision"]
    gates = [r for r in results if r["properties"]["category"] == "gate"]
    assert len(denials) == counts["denied"] == 7
    assert [g["ruleId"] for g in gates] == ["gate/tests"]  # coverage passed in the sample
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    for r in results:  # every result's rule has metadata, at its index
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    assert {"scope/write_outside_writable", "secrets/secret_file", "network/host_not_allowed",
            "secrets/process_environment", "gate/tests"} <= set(ids)
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning")
    inv = run["invocations"][0]
    assert inv["exitCode"] == 1 and inv["executionSuccessful"] is True
    assert run["tool"]["driver"]["name"] == "sandbox-runner"


def test_locations_are_workspace_paths_or_log_lines(real_run: tuple[Path, dict[str, int]]) -> None:
    run_dir, _ = real_run
    results = sarif_of(run_dir)["runs"][0]["results"]
    by_uri = {}
    for r in results:
        loc = r["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        by_uri.setdefault(loc["artifactLocation"]["uri"], []).append((r["ruleId"], loc))
    assert "frontend/app.js" in by_uri and "frontend/index.html" in by_uri and ".env" in by_uri
    log_uri = f".sandbox-runner/runs/{run_dir.name}/decisions.jsonl"
    lines = sorted(loc["region"]["startLine"] for _, loc in by_uri[log_uri])
    # Bash `env` (line 9) and the write to /etc/passwd (outside the workspace, line 10)
    assert lines == [9, 10]
    raw = (run_dir / "decisions.jsonl").read_text().splitlines()
    assert json.loads(raw[9 - 1])["input"]["tool"]["input"]["command"] == "env"


def test_fingerprints_are_stable_across_runs_and_layouts(
        sample_run: tuple[Path, Path]) -> None:
    first = copy_run(sample_run[0], "ci-fp1")
    second = copy_run(sample_run[0], "ci-fp2")
    write_real_decisions(first, sample_run[1])
    write_real_decisions(second, sample_run[1], layout="opa")  # new ids, times, OPA timer name
    a = [r["partialFingerprints"][FINGERPRINT_KEY] for r in sarif_of(first)["runs"][0]["results"]]
    b = [r["partialFingerprints"][FINGERPRINT_KEY] for r in sarif_of(second)["runs"][0]["results"]]
    assert a == b
    assert len(set(a)) == len(a)  # the two .env denials differ (read vs curl), no collision
    ids = [json.loads(x)["decision_id"] for x in (first / "decisions.jsonl").read_text().splitlines()]
    assert not any(i in fp for i in ids for fp in a)


def test_one_accessor_reads_both_layouts() -> None:
    base = {"input": {"tool": {"name": "Read", "input": {"file_path": "/workspace/a/../b.py"}}},
            "result": {"allow": False, "reasons": [{"policy": "p", "rule": "r", "msg": "m"}]}}
    old = decision_fields({**base, "metrics": {"timer_eval_ns": 5}})
    new = decision_fields({**base, "metrics": {"timer_rego_query_eval_ns": 7}})
    assert (old.eval_ns, new.eval_ns) == (5, 7)
    assert old.reasons == new.reasons == [("p", "r", "m")] and not old.allowed
    assert decision_fields({"result": {"allow": "true"}}).allowed is False  # only `true` allows
    assert workspace_path("/workspace/a/../b.py") == "b.py"
    for bad in ("../x", "/etc/passwd", "a/../../x", "a\nb", "", "x" * 600):
        assert workspace_path(bad) is None


def test_hostile_log_text_is_sanitized_and_redacted(tmp_path: Path,
                                                    sample_run: tuple[Path, Path]) -> None:
    run_dir = copy_run(sample_run[0], "ci-hostile")
    key = "sk-ant-api03-" + "A" * 93 + "AA"
    line = {"decision_id": "x", "timestamp": "t", "seq": 0, "prev_hash": "0", "hash": "0",
            "input": {"tool": {"name": "Bash\u001b[31m", "input": {"command": "x"}},
                      "paths": [{"path": "../../etc/x", "inside_workspace": True}]},
            "result": {"allow": False, "reasons": [{
                "policy": "scope\n::warning::x", "rule": "r,1:2",
                "msg": f"\n::add-mask::{key}\r\n%0A\u202e evil \x1b]8;;http://x\x07"}]}}
    (run_dir / "decisions.jsonl").write_text(json.dumps(line) + "\nnot json\n")
    doc = sarif_of(run_dir)
    validate_sarif(doc)
    result = doc["runs"][0]["results"][0]
    text = result["message"]["text"]
    assert key not in text and "\n" not in text and "\x1b" not in text and "\u202e" not in text
    assert "/" in result["ruleId"] and "\n" not in result["ruleId"] and ":" not in result["ruleId"]
    assert doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]  # the bad line
    github = render_report(run_dir, "github").text
    for out_line in github.splitlines():
        assert out_line.startswith(("::error ", "::warning ", "::notice "))
        assert "\r" not in out_line and key not in out_line
    assert "%250A" in github  # the literal "%0A" in the reason is escaped, not decoded


def test_escaping_follows_the_toolkit() -> None:
    assert escape_data("50%\r\nnext") == "50%25%0D%0Anext"
    assert escape_property("a,b:c%\n") == "a%2Cb%3Ac%25%0A"


def test_github_annotations_cap_and_summary(sample_run: tuple[Path, Path]) -> None:
    run_dir = copy_run(sample_run[0], "ci-many")
    counts = write_real_decisions(run_dir, sample_run[1], repeat=10)
    text = render_report(run_dir, "github").text
    lines = text.splitlines()
    errors = [x for x in lines if x.startswith("::error ")]
    notices = [x for x in lines if x.startswith("::notice ")]
    assert counts["denied"] == 70
    # 5 path findings x 10 repeats are 5 distinct annotations; the 2 log-line findings differ
    # by line: 25 distinct, GitHub's 10 shown, the 60 others counted in one notice
    assert len(errors) == 10 and len(set(errors)) == 10
    assert len(notices) == 1
    assert "15 more denied calls not annotated" in notices[0]  # 25 distinct, 10 shown
    assert "45 more denied calls repeated" in notices[0]  # the other 45 repeat one shown
    assert sum(x.startswith("::warning ") for x in lines) == 1
    findings = collect_findings(run_dir, load_summary(run_dir))
    capped = render_annotations(findings, None, cap=3).splitlines()
    assert sum(x.startswith("::error ") for x in capped) == 3
    counted = [int(n) for n in re.findall(r"(\d+) more denied calls", capped[-1])]
    assert sum(counted) == 67 and "repeated an annotation above" in capped[-1]
    first = errors[0]
    assert first.startswith("::error file=frontend/app.js,title=scope/write_outside_writable::")


def test_gitlab_code_quality(real_run: tuple[Path, dict[str, int]]) -> None:
    run_dir, counts = real_run
    issues = json.loads(render_report(run_dir, "gitlab").text)
    assert isinstance(issues, list) and len(issues) == counts["denied"] + 1
    for issue in issues:
        jsonschema.validate(issue, GITLAB_ISSUE)
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    assert {i["severity"] for i in issues} == {"major", "minor"}
    sarif_fps = [r["partialFingerprints"][FINGERPRINT_KEY]
                 for r in sarif_of(run_dir)["runs"][0]["results"]]
    assert [i["fingerprint"] for i in issues] == sarif_fps


def test_cli_formats_output_and_bad_input(real_run: tuple[Path, dict[str, int]],
                                          tmp_path: Path) -> None:
    run_dir, _ = real_run
    runner = CliRunner()
    out = tmp_path / "r.sarif"
    res = runner.invoke(main, ["report", str(run_dir), "-f", "sarif", "--output", str(out)])
    assert res.exit_code == 0 and res.output.strip() == str(out)
    validate_sarif(json.loads(out.read_text()))
    res = runner.invoke(main, ["report", str(tmp_path / "nope"), "-f", "sarif"])
    assert res.exit_code == 2 and "run directory does not exist" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(main, ["report", str(tmp_path), "-f", "gitlab"])  # no summary.json
    assert res.exit_code == 2 and "summary.json" in res.output
    bad = tmp_path / "missing-dir" / "x.sarif"
    res = runner.invoke(main, ["report", str(run_dir), "-f", "sarif", "-o", str(bad)])
    assert res.exit_code == 2 and not bad.exists()


def test_empty_log_gives_valid_empty_sarif(sample_run: tuple[Path, Path]) -> None:
    run_dir = copy_run(sample_run[0], "ci-empty")
    (run_dir / "decisions.jsonl").write_text("")
    doc = sarif_of(run_dir)
    validate_sarif(doc)
    assert [r["ruleId"] for r in doc["runs"][0]["results"]] == ["gate/tests"]
    assert render_annotations(Findings(), None) == ""


def test_fifty_decisions_size_and_time(sample_run: tuple[Path, Path]) -> None:
    """The numbers for the report: a run of ~50 decisions (4 x 12 calls)."""
    run_dir = copy_run(sample_run[0], "ci-fifty")
    counts = write_real_decisions(run_dir, sample_run[1], repeat=4)
    start = time.perf_counter()
    text = render_report(run_dir, "sarif").text
    elapsed = time.perf_counter() - start
    validate_sarif(json.loads(text))
    print(f"\nSARIF for {sum(counts.values())} decisions ({counts['denied']} denied): "
          f"{len(text.encode())} bytes in {elapsed * 1000:.0f} ms")
    assert len(text.encode()) < 200_000 and elapsed < 5
    assert len(CALLS) * 4 == sum(counts.values())
