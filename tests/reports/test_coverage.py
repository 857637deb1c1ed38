"""Cobertura XML -> CoverageReport."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from runner.reports.coverage import CoverageScope, parse_cobertura


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "coverage.xml"
    path.write_text(text, encoding="utf-8")
    return path


def test_real_coverage_report(sample_run: tuple[Path, Path]) -> None:
    cov = parse_cobertura(sample_run[0] / "reports" / "coverage.xml")
    assert cov.error is None
    names = [f.file for f in cov.files]
    assert names == sorted(names) and "backend/todos.py" in names
    todos = next(f for f in cov.files if f.file == "backend/todos.py")
    assert 0 < todos.line_percent < 100 and todos.branch_percent is not None
    counted = [f for f in cov.files if f.counted]
    assert cov.lines_valid == sum(f.lines_valid for f in counted)
    assert cov.lines_covered == sum(f.lines_covered for f in counted)
    assert cov.total_lines_valid == sum(f.lines_valid for f in cov.files)
    # the sample's tests are measured too, but are not application code
    omitted = sorted(f.file for f in cov.files if not f.counted)
    assert omitted and all(f.startswith("backend/tests/") for f in omitted)
    assert cov.files_omitted == len(omitted)
    assert cov.line_percent is not None and cov.total_line_percent is not None
    assert cov.line_percent < cov.total_line_percent  # the tests are fully covered


COBERTURA = """<?xml version="1.0" ?>
<coverage version="7.6" lines-valid="{lv}" lines-covered="{lc}" line-rate="0.5"
          branches-valid="{bv}" branches-covered="{bc}" branch-rate="0">
  <sources><source>{source}</source></sources>
  <packages><package name="."><classes>
    <class name="app.py" filename="{fname}" line-rate="0.5">
      <lines>
        <line number="1" hits="1"/>
        <line number="2" hits="3" branch="true" condition-coverage="50% (1/2)"/>
        <line number="3" hits="0"/>
        <line number="4" hits="0"/>
      </lines>
    </class>
  </classes></package></packages>
</coverage>"""


@pytest.mark.parametrize(
    ("source", "fname", "expected"),
    [
        ("/workspace/backend", "app.py", "backend/app.py"),
        ("/workspace/backend/api", "app.py", "backend/api/app.py"),
        ("/workspace", "backend/app.py", "backend/app.py"),
        ("/home/u/proj/backend", "./app.py", "backend/app.py"),
        ("/elsewhere", "app.py", "app.py"),
    ],
)
def test_file_names_are_project_relative(tmp_path: Path, source: str, fname: str,
                                         expected: str) -> None:
    cov = parse_cobertura(write(tmp_path, COBERTURA.format(
        lv=4, lc=2, bv=2, bc=1, source=source, fname=fname)))
    assert [f.file for f in cov.files] == [expected]


def test_overall_and_per_file_numbers(tmp_path: Path) -> None:
    cov = parse_cobertura(write(tmp_path, COBERTURA.format(
        lv=4, lc=2, bv=2, bc=1, source="/workspace/backend", fname="app.py")))
    assert (cov.line_percent, cov.branch_percent) == (50.0, 50.0)
    [f] = cov.files
    assert (f.lines_valid, f.lines_covered, f.line_percent) == (4, 2, 50.0)
    assert (f.branches_valid, f.branches_covered, f.branch_percent) == (2, 1, 50.0)


def test_no_branch_data_is_none(tmp_path: Path) -> None:
    cov = parse_cobertura(write(tmp_path, COBERTURA.format(
        lv=4, lc=2, bv=0, bc=0, source="/w/backend", fname="app.py").replace(
        ' branch="true" condition-coverage="50% (1/2)"', "")))
    assert cov.branch_percent is None and cov.files[0].branch_percent is None
    assert cov.line_percent == 50.0


def test_root_counters_missing_fall_back_to_files(tmp_path: Path) -> None:
    cov = parse_cobertura(write(tmp_path, """<coverage><packages><package><classes>
      <class filename="backend/a.py"><lines><line number="1" hits="1"/><line number="2" hits="0"/>
      <line number="3" hits="2"/></lines></class>
      <class filename="backend/a.py"><lines><line number="2" hits="1"/></lines></class>
      <class filename="backend/b.py"><lines><line number="1" hits="0"/></lines></class>
    </classes></package></packages></coverage>"""))
    assert cov.error is None
    assert [(f.file, f.lines_covered, f.lines_valid) for f in cov.files] == [
        ("backend/a.py", 3, 3), ("backend/b.py", 0, 1)]
    assert (cov.lines_covered, cov.lines_valid, cov.line_percent) == (3, 4, 75.0)


def test_empty_report_is_full_coverage_of_nothing(tmp_path: Path) -> None:
    cov = parse_cobertura(write(tmp_path, '<coverage lines-valid="0" lines-covered="0"/>'))
    assert (cov.line_percent, cov.lines_valid, cov.files) == (100.0, 0, [])


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("<coverage", "invalid coverage XML"),
        ("<report/>", "expected <coverage>"),
        ('<coverage lines-valid="x"/>', "not a non-negative integer"),
        ('<coverage lines-valid="2" lines-covered="5"/>', "exceeds"),
        ('<coverage lines-valid="-1"/>', "not a non-negative integer"),
        # numbers that overflowed the parser (OverflowError: a traceback, no summary)
        ('<coverage lines-valid="1e999" lines-covered="1"/>', "not a non-negative integer"),
        ('<coverage lines-valid="nan"/>', "not a non-negative integer"),
        ('<coverage lines-valid="inf"/>', "not a non-negative integer"),
        ('<coverage lines-valid="' + "9" * 400 + '"/>', "not a non-negative integer"),
        ('<coverage lines-valid="99999999999999999"/>', "implausibly large"),
        ('<coverage><packages><package><classes><class filename="a.py"><lines>'
         '<line number="1" hits="1e400"/></lines></class></classes></package></packages>'
         '</coverage>', "not a non-negative integer"),
        ('<coverage><packages><package><classes><class filename="a.py"><lines>'
         '<line number="1" hits="1" branch="true" condition-coverage="50% (' + "9" * 5000
         + '/2)"/></lines></class></classes></package></packages></coverage>',
         "is not 'N% (c/v)'"),
        ("<coverage><packages><package><classes><class/></classes></package></packages></coverage>",
         "without a filename"),
        ('<!DOCTYPE c [<!ENTITY e "x">]><coverage/>', "DOCTYPE not allowed"),
    ],
)
def test_bad_reports_set_error(tmp_path: Path, text: str, needle: str) -> None:
    cov = parse_cobertura(write(tmp_path, text))
    assert cov.error is not None and needle in cov.error
    assert cov.line_percent is None


def test_missing_file(tmp_path: Path) -> None:
    cov = parse_cobertura(tmp_path / "coverage.xml")
    assert cov.error is not None and "file not found" in cov.error


def _class(filename: str, hits: list[int]) -> str:
    lines = "".join(f'<line number="{i + 1}" hits="{h}"/>' for i, h in enumerate(hits))
    return f'<class filename="{filename}"><lines>{lines}</lines></class>'


def _report(*classes: str) -> str:
    return ("<coverage><sources><source>/workspace</source></sources><packages><package>"
            f"<classes>{''.join(classes)}</classes></package></packages></coverage>")


APP = _class("backend/app/main.py", [1, 1, 0, 0])  # 50%


def test_writing_more_test_code_does_not_raise_the_gated_percentage(tmp_path: Path) -> None:
    base = parse_cobertura(write(tmp_path, _report(APP, _class("backend/tests/test_a.py", [1]))))
    big = _class("backend/tests/test_huge.py", [1] * 5000)  # a big, fully covered test file
    more = parse_cobertura(write(tmp_path, _report(
        APP, _class("backend/tests/test_a.py", [1]), big,
        _class("backend/conftest.py", [1] * 50), _class("backend/app/models_test.py", [1] * 50),
        _class("backend/test_extra.py", [1] * 50))))
    assert base.line_percent == more.line_percent == 50.0
    assert (more.lines_valid, more.lines_covered, more.files_omitted) == (4, 2, 5)
    assert more.total_line_percent is not None and more.total_line_percent > 99


def test_scope_is_configurable(tmp_path: Path) -> None:
    path = write(tmp_path, _report(APP, _class("backend/tests/test_a.py", [1] * 4),
                                   _class("backend/scripts/seed.py", [0] * 4)))
    everything = parse_cobertura(path, scope=CoverageScope(omit=[]))
    assert (everything.lines_valid, everything.lines_covered, everything.files_omitted) == (12, 6, 0)
    app_only = parse_cobertura(path, scope=CoverageScope(include=["backend/app/**"]))
    assert (app_only.lines_valid, app_only.line_percent, app_only.files_omitted) == (4, 50.0, 2)
    braces = parse_cobertura(path, scope=CoverageScope(omit=["backend/{tests,scripts}/**"]))
    assert (braces.lines_valid, braces.files_omitted) == (4, 2)


def test_only_test_files_is_no_application_code(tmp_path: Path) -> None:
    cov = parse_cobertura(write(tmp_path, _report(_class("backend/tests/test_a.py", [1]))))
    assert (cov.lines_valid, cov.files_omitted, cov.total_lines_valid) == (0, 1, 1)


@pytest.mark.parametrize("pattern", ["", "  ", "/etc/**", "../x/**", "a/../b", "x" * 400])
def test_bad_scope_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValidationError):
        CoverageScope(omit=[pattern])
