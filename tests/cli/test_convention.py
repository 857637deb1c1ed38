"""The one output convention (runner/cli/output.py), checked over the whole command tree.

The tables below are keyed by command path and compared with the tree click builds, so a
command added without a row here - and so without -f/--format, JSON output, JSON errors -
fails these tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from click.types import FloatParamType, IntParamType, _NumberRangeBase

from runner.cli import main
from runner.env.setup import EnvBuildReport
from runner.reports.summary import load_summary
from runner.sandbox.isolation import SetupResult
from tests.audit.logdata import write_log
from tests.reports.sample import build_run_dir

# Commands whose -f short form belongs to another helper's change (report: issue 12 REPORT).
WITHOUT_SHORT_F: set[str] = set()


def tree(cmd: click.Command = main, path: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], click.Command]]:
    """Every command, the lazy ones loaded (runner/cli/__init__.py imports them on use)."""
    yield path, cmd
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None, f"{' '.join((*path, name))}: listed but not loadable"
            yield from tree(sub, (*path, name))


LEAVES = {" ".join(p): c for p, c in tree() if not isinstance(c, click.Group)}
GROUPS = [" ".join(p) for p, c in tree() if isinstance(c, click.Group)]


def invoke(*args: str | Path, stdin: str | None = None, env: dict[str, str] | None = None
           ) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], input=stdin,
                              env={"COLUMNS": "200", **(env or {})})


def parse(out: str) -> list[Any]:
    """One JSON document, or JSON Lines (policy eval, audit show): every line parses."""
    try:
        return [json.loads(out)]
    except json.JSONDecodeError:
        return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module")
def report_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_run_dir(tmp_path_factory.mktemp("conv-report"))[0]


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    out = tmp_path / "run-1"
    out.mkdir()
    write_log(out / "decisions.jsonl")
    return out


@pytest.fixture
def no_docker_builds(monkeypatch: pytest.MonkeyPatch, report_run: Path) -> None:
    """image/env build and run without building or running anything: the CLI's part only."""
    monkeypatch.setattr("runner.cli.image.ensure_image", lambda cfg, **kw: "sandbox-runner:abc")
    monkeypatch.setattr("runner.cli.env.build_project_environment", lambda cfg, **kw: (
        EnvBuildReport(ref="sandbox-runner-env:abc", kind="python", built=False, seconds=0.1,
                       spec={})))
    summary = load_summary(report_run)
    monkeypatch.setattr("runner.cli.run.execute_run", lambda cfg, display: summary)
    monkeypatch.setattr("runner.cli.engine.setup_gvisor", lambda **kw: SetupResult(
        path=str(kw["daemon_json"]), changed=True, backup=None, runtime={}, reloaded=False,
        dockerd_pid=None))  # never the machine's engine


CALL = json.dumps({"tool": "Read", "input": {"file_path": "backend/app.py"}})


def success_args(path: str, tmp_path: Path, log_dir: Path, report_run: Path) -> list[str]:
    """A command line of ``path`` that succeeds (exit 0 or its documented verdict)."""
    return {
        "agent check": ["backend-implementer"],
        "audit export": [str(log_dir)],
        "audit show": [str(log_dir)],
        "audit verify": [str(log_dir)],
        "audit replay": [str(log_dir), "--policy-dir", str(Path("policies").resolve())],
        "doctor": [],
        "engine setup": ["--gvisor", "--daemon-json", str(tmp_path / "daemon.json")],
        "env build": [str(tmp_path)],
        "image build": [],
        "policy eval": ["--input", "-"],
        "policy test": ["--run", "connect_test"],
        "report": [str(report_run)],
        "run": [str(tmp_path)],
    }[path]


def error_args(path: str, tmp_path: Path) -> tuple[list[str], int]:
    """A command line of ``path`` that fails with bad input, and its exit code."""
    nope = str(tmp_path / "nope")
    return {
        "agent check": ([nope + ".md"], 2),
        "audit export": ([nope], 2),
        "audit show": ([nope], 2),
        "audit verify": ([nope], 2),
        "audit replay": ([nope, "--policy-dir", nope], 2),
        "doctor": (["--no-such-option"], 2),
        "engine setup": ([], 2),
        "env build": ([str(tmp_path), "--setup-secret", "1-not-a-name"], 2),
        "image build": (["--no-such-option"], 2),
        "policy eval": (["--input", nope], 2),
        "policy test": (["--run", "("], 2),
        "report": ([nope], 2),
        "run": ([nope], 2),
    }[path]


def test_the_tables_cover_every_command() -> None:
    assert set(LEAVES) == {"agent check", "audit export", "audit show", "audit verify",
                           "audit replay", "doctor", "engine setup",
                           "env build", "image build", "policy eval", "policy test", "report",
                           "run"}
    for path in LEAVES:
        success_args(path, Path("x"), Path("x"), Path("x"))  # a KeyError names the command
        error_args(path, Path("x"))


@pytest.mark.parametrize("path", ["", *GROUPS[1:], *LEAVES])
def test_dash_h_everywhere(path: str) -> None:
    for flag in ("-h", "--help"):
        result = invoke(*path.split(), flag)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("Usage: ")


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_every_command_has_the_format_option(path: str) -> None:
    params = {p.name: p for p in LEAVES[path].params}
    fmt = params.get("fmt")
    assert isinstance(fmt, click.Option), f"{path}: no -f/--format"
    assert "--format" in fmt.opts
    assert path in WITHOUT_SHORT_F or "-f" in fmt.opts, f"{path}: no -f"
    assert isinstance(fmt.type, click.Choice) and "json" in fmt.type.choices


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_format_json_output_parses(path: str, tmp_path: Path, log_dir: Path, report_run: Path,
                                   no_docker_builds: None) -> None:
    args = success_args(path, tmp_path, log_dir, report_run)
    result = invoke(*path.split(), *args, "--format", "json", stdin=CALL)
    docs = parse(result.stdout)
    assert docs and all(isinstance(d, dict) for d in docs), result.stdout
    if path == "doctor":  # the machine decides: ok, or its environment error inside the report
        assert docs[0]["checks"] and result.exit_code == (0 if docs[0]["ok"] else
                                                          docs[0]["error"]["code"])
        return
    # run: the summary's own verdict (the sample run's gates failed: 1)
    assert result.exit_code == (docs[0]["exit_code"] if path == "run" else 0), result.output
    assert not any("error" in d and isinstance(d["error"], dict) for d in docs)


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_errors_are_json_on_stdout_when_json_is_asked_for(path: str, tmp_path: Path) -> None:
    args, code = error_args(path, tmp_path)
    for fmt in (["--format", "json"], ["-f", "json"], ["--format=json"]):
        if path in WITHOUT_SHORT_F and fmt[0] == "-f":
            continue
        result = invoke(*path.split(), *fmt, *args, stdin="")
        assert result.exit_code == code, result.output
        error = json.loads(result.stdout)["error"]
        assert error["code"] == code and error["message"] and "file" in error
        assert "Traceback" not in result.output


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_errors_are_one_line_on_stderr_in_text(path: str, tmp_path: Path) -> None:
    args, code = error_args(path, tmp_path)
    result = invoke(*path.split(), *args, stdin="")
    assert result.exit_code == code
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sandbox-runner: error: "), result.stderr


def test_run_nonexistent_format_json_names_the_directory(tmp_path: Path) -> None:
    for flags in (["--format", "json"], ["--json"]):
        result = invoke("run", tmp_path / "nope", *flags)
        assert result.exit_code == 2
        assert json.loads(result.stdout) == {"error": {
            "code": 2, "message": f"{tmp_path / 'nope'}: project directory does not exist",
            "file": str(tmp_path / "nope")}}


def test_an_option_error_before_the_format_is_still_json(tmp_path: Path) -> None:
    result = invoke("run", tmp_path, "--max-turns", "0", "-f", "json")
    assert result.exit_code == 2
    assert "--max-turns" in json.loads(result.stdout)["error"]["message"]
    unknown = invoke("run", tmp_path, "--bogus", "--format", "json")
    assert unknown.exit_code == 2 and "--bogus" in json.loads(unknown.stdout)["error"]["message"]


def test_json_aliases_are_hidden_and_mean_format_json(tmp_path: Path, log_dir: Path,
                                                     no_docker_builds: None) -> None:
    for path, args in (("run", [str(tmp_path)]), ("agent check", ["backend-implementer"]),
                       ("audit show", [str(log_dir)]), ("env build", [str(tmp_path)])):
        cmd = LEAVES[path]
        alias = next(p for p in cmd.params if isinstance(p, click.Option) and "--json" in p.opts)
        assert alias.hidden
        assert "--json" not in invoke(*path.split(), "-h").stdout
        assert invoke(*path.split(), *args, "--json").stdout == \
            invoke(*path.split(), *args, "--format", "json").stdout


def test_text_is_the_default_except_policy_eval(tmp_path: Path) -> None:
    defaults = {path: next(p for p in c.params if p.name == "fmt").default
                for path, c in LEAVES.items()}
    assert defaults.pop("policy eval") == "json"  # what scripts got before the option
    assert defaults.pop("report") == "md"
    assert defaults.pop("audit export") == "opa"  # the upload body is what it is for
    assert set(defaults.values()) == {"text"}
    text = invoke("policy", "eval", "--input", "-", "-f", "text", stdin=CALL)
    assert text.exit_code == 0 and text.stdout == "line 1: allow Read\n"
    # the default json: an error stays the one stderr line scripts got before
    bad = invoke("policy", "eval", "--input", str(tmp_path / "nope"))
    assert bad.exit_code == 2 and bad.stdout == "" and bad.stderr.count("\n") == 1


# --- numeric options -------------------------------------------------------------------

OUT_OF_RANGE: dict[tuple[str, str], list[str]] = {
    ("run", "--max-turns"): ["0", "-1"],
    ("run", "--timeout"): ["0", "-5"],
    ("run", "--coverage-threshold"): ["150", "-3", "100.5"],
    ("audit show", "--limit"): ["-1"],
}
REQUIRED: dict[str, Callable[[Path], list[str]]] = {
    "run": lambda tmp: [str(tmp)],
    "audit show": lambda tmp: [str(tmp)],
}


def numeric_options() -> Iterator[tuple[str, click.Option]]:
    for path, cmd in LEAVES.items():
        for p in cmd.params:
            if isinstance(p, click.Option) and isinstance(p.type, IntParamType | FloatParamType):
                yield path, p


def test_every_numeric_option_has_a_range_and_a_row() -> None:
    found = {(path, max(p.opts, key=len)) for path, p in numeric_options()}
    assert found == set(OUT_OF_RANGE)
    for path, p in numeric_options():
        assert isinstance(p.type, _NumberRangeBase), f"{path} {p.opts}: no range"


@pytest.mark.parametrize(("path", "option", "value"),
                         [(c, o, v) for (c, o), vs in OUT_OF_RANGE.items() for v in vs])
def test_out_of_range_values_are_exit_2_and_one_line(path: str, option: str, value: str,
                                                     tmp_path: Path) -> None:
    args = [*path.split(), *REQUIRED[path](tmp_path), f"{option}={value}"]
    result = invoke(*args)
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and option in lines[0] and "range" in lines[0], result.stderr
    as_json = invoke(*args, "-f", "json")
    assert as_json.exit_code == 2 and option in json.loads(as_json.stdout)["error"]["message"]


def test_coverage_threshold_zero_is_accepted_and_means_off(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          no_docker_builds: None) -> None:
    seen: list[float] = []
    summary = load_summary(Path(build_run_dir(tmp_path / "r")[0]))

    def fake(cfg: Any, display: Any) -> Any:
        seen.append(cfg.verify.coverage_threshold)
        return summary

    monkeypatch.setattr("runner.cli.run.execute_run", fake)
    assert invoke("run", tmp_path, "--coverage-threshold", "0").exit_code == summary.exit_code
    assert seen == [0.0]
    assert "0 turns the gate off" in " ".join(invoke("run", "-h").stdout.split())


# --- completion ------------------------------------------------------------------------


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o nosort -F"),
                                               ("zsh", "compdef"), ("fish", "complete")])
def test_the_completion_script_is_produced(shell: str, marker: str) -> None:
    result = CliRunner().invoke(main, [], prog_name="sandbox-runner",
                                env={"_SANDBOX_RUNNER_COMPLETE": f"{shell}_source"})
    assert result.exit_code == 0
    assert "_SANDBOX_RUNNER_COMPLETE" in result.stdout and marker in result.stdout


def test_completion_completes_commands_and_formats() -> None:
    def complete(words: str) -> list[str]:
        result = CliRunner().invoke(main, [], prog_name="sandbox-runner", env={
            "_SANDBOX_RUNNER_COMPLETE": "bash_complete", "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))})
        return [line.split(",", 1)[1] for line in result.stdout.splitlines()]

    assert {"run", "policy", "audit", "doctor"} <= set(complete("sandbox-runner "))
    assert complete("sandbox-runner policy test --format ") == ["text", "json", "junit"]


def test_root_level_errors_follow_the_convention() -> None:
    bogus = invoke("--bogus")
    assert bogus.exit_code == 2 and bogus.stderr == (
        "sandbox-runner: error: No such option '--bogus'.\n")
    as_json = invoke("--bogus", "-f", "json")
    assert json.loads(as_json.stdout)["error"]["code"] == 2
    command = invoke("nosuch", "--format", "json")
    assert command.exit_code == 2
    assert json.loads(command.stdout)["error"]["message"] == "No such command 'nosuch'."
    bare = invoke("audit")  # a group without its command: the group's help, exit 2
    assert bare.exit_code == 2 and bare.stderr.startswith("Usage: ")


def test_the_docs_show_the_completion_line_and_the_convention() -> None:
    root = Path(__file__).resolve().parents[2]
    for doc in ("README.md", "docs/design.md"):
        text = " ".join((root / doc).read_text().split())
        assert "_SANDBOX_RUNNER_COMPLETE=bash_source sandbox-runner" in text, doc
        assert '{"error": {"code":' in text and "SANDBOX_RUNNER_" in text, doc
