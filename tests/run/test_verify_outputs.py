"""The verification's /out on the host: hostile contents, only two regular reports taken."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from runner.reports.coverage import parse_cobertura
from runner.reports.verification import COVERAGE_NAME, JUNIT_NAME, VerificationResult
from runner.reports.xmlsafe import MAX_XML_BYTES
from runner.run.verify_outputs import MAX_IGNORED, clear_outputs, copy_reports, scratch_out
from tests.reports.test_cobertura_paths import CONTAINER, _names


def test_copy_reports_rewrites_the_sources(tmp_path: Path) -> None:
    src, dest = tmp_path / "out", tmp_path / "reports"
    src.mkdir()
    dest.mkdir()
    (src / COVERAGE_NAME).write_text(CONTAINER)
    result = VerificationResult()
    copy_reports(src, dest, secrets.token_bytes(16), result)
    assert result.coverage_path == dest / COVERAGE_NAME and result.coverage_rewrite is None
    sources, names = _names(dest / COVERAGE_NAME)
    assert sources == ["."]
    assert names == ["backend/app/main.py", "backend/conftest.py", "/usr/lib/python3/x.py"]
    assert (src / COVERAGE_NAME).read_text() == CONTAINER  # the scratch copy is not touched
    cov = parse_cobertura(dest / COVERAGE_NAME)
    assert [f.file for f in cov.files if f.counted] == ["/usr/lib/python3/x.py",
                                                         "backend/app/main.py"]
    assert cov.files_omitted == 1  # backend/conftest.py


def test_links_fifos_and_other_files_are_named_never_followed(tmp_path: Path) -> None:
    src, dest = tmp_path / "out", tmp_path / "reports"
    src.mkdir()
    dest.mkdir()
    secret = tmp_path / "host-secret"
    secret.write_text("do not copy")
    (src / JUNIT_NAME).symlink_to(secret)
    os.mkfifo(src / "pipe")
    for i in range(MAX_IGNORED + 5):  # more than are named
        (src / f"extra-{i:03d}").write_text("x")
    (src / COVERAGE_NAME).write_text(CONTAINER)
    result = VerificationResult()
    copy_reports(src, dest, secrets.token_bytes(16), result)
    assert result.junit_path is None and not (dest / JUNIT_NAME).exists()
    assert "symbolic link" in result.report_errors[JUNIT_NAME]
    assert result.coverage_path == dest / COVERAGE_NAME and (dest / COVERAGE_NAME).is_file()
    assert result.outcomes is None and result.outcomes_error is not None
    assert len(result.ignored_outputs) == MAX_IGNORED + 1
    assert result.ignored_outputs[-1] == "... and 6 more"  # a FIFO and 55 files: 56 others
    assert "do not copy" not in "".join(p.read_text() for p in dest.iterdir())


def test_an_oversized_report_is_refused(tmp_path: Path) -> None:
    src, dest = tmp_path / "out", tmp_path / "reports"
    src.mkdir()
    dest.mkdir()
    with (src / JUNIT_NAME).open("wb") as fh:
        fh.truncate(MAX_XML_BYTES + 1)
    result = VerificationResult()
    copy_reports(src, dest, secrets.token_bytes(16), result)
    assert result.junit_path is None and JUNIT_NAME in result.report_errors
    assert not (dest / JUNIT_NAME).exists()


def test_a_report_already_in_the_run_dir_is_not_written_through(tmp_path: Path) -> None:
    src, dest = tmp_path / "out", tmp_path / "reports"
    src.mkdir()
    dest.mkdir()
    target = tmp_path / "elsewhere.xml"
    (dest / JUNIT_NAME).symlink_to(target)  # exclusive, no-follow create refuses it
    (src / JUNIT_NAME).write_text("<testsuite/>")
    result = VerificationResult()
    copy_reports(src, dest, secrets.token_bytes(16), result)
    assert result.junit_path is None and "cannot copy" in result.report_errors[JUNIT_NAME]
    assert not target.exists()
    clear_outputs(dest)
    assert not (dest / JUNIT_NAME).is_symlink() and not target.exists()


def test_scratch_out_is_removed_with_its_links_not_their_targets(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "file").write_text("stays")
    with scratch_out(os.getuid() or 10001, os.getgid() or 10001) as out:
        assert out.is_dir()
        (out / "link").symlink_to(keep)
        (out / "sub").mkdir()
    assert not out.exists()
    assert (keep / "file").read_text() == "stays"
