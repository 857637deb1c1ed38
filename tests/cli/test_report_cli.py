"""`sandbox-runner report RUN_DIR [--format md|json|html] [--output FILE]`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import main
from tests.reports.sample import build_run_dir


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_run_dir(tmp_path_factory.mktemp("cli-report"))[0]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["report", *args])
    return result.exit_code, result.stdout, result.stderr


def test_markdown_is_the_default(run_dir: Path) -> None:
    code, out, _ = invoke(str(run_dir))
    assert code == 0
    assert out == (run_dir / "summary.md").read_text()


def test_json(run_dir: Path) -> None:
    code, out, _ = invoke(str(run_dir), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data == json.loads((run_dir / "summary.json").read_text())
    assert data["tests"]["failed"] == 2 and data["decisions"]["denied"] == 4


def test_html_goes_to_the_run_dir_by_default(run_dir: Path) -> None:
    code, out, _ = invoke(str(run_dir), "--format", "html")
    assert code == 0
    assert out.strip() == str(run_dir / "report.html")
    assert (run_dir / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_output_file(run_dir: Path, tmp_path: Path) -> None:
    for fmt in ("md", "json", "html"):
        target = tmp_path / f"r.{fmt}"
        code, out, _ = invoke(str(run_dir), "--format", fmt, "--output", str(target))
        assert code == 0 and out.strip() == str(target)
        assert target.stat().st_size > 500


@pytest.mark.parametrize("fmt", ["md", "json", "html"])
def test_missing_run_dir_is_one_line_exit_2(tmp_path: Path, fmt: str) -> None:
    code, out, err = invoke(str(tmp_path / "nope"), "--format", fmt)
    assert code == 2 and "Traceback" not in err + out
    if fmt == "json":  # the one convention: JSON asked for, the error is JSON on stdout
        assert err == "" and json.loads(out)["error"]["code"] == 2
        assert "run directory does not exist" in json.loads(out)["error"]["message"]
        return
    assert out == ""
    assert err.count("\n") == 1 and "run directory does not exist" in err


def test_dir_without_summary(tmp_path: Path) -> None:
    code, _, err = invoke(str(tmp_path))
    assert code == 2 and "no summary.json" in err and err.count("\n") == 1
    code, out, _ = invoke(str(tmp_path), "--format", "html")  # the auditor view still works
    assert code == 0 and Path(out.strip()).is_file()


def test_garbled_summary_and_unwritable_output(tmp_path: Path, run_dir: Path) -> None:
    (tmp_path / "summary.json").write_text("{nope")
    code, _, err = invoke(str(tmp_path), "--format", "md")
    assert code == 2 and "summary.json" in err and "invalid summary" in err
    code, out, _ = invoke(str(tmp_path), "--format", "json")
    error = json.loads(out)["error"]
    assert code == 2 and error["file"].endswith("summary.json") and "invalid summary" in error["message"]
    code, _, err = invoke(str(run_dir), "--output", str(tmp_path / "no" / "dir" / "x.md"))
    assert code == 2 and "cannot write" in err and err.count("\n") == 1
