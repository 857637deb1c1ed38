"""The verification's ``/out``: a fresh host scratch directory, and the two reports taken from it.

Everything in the scratch directory was written by the agent's test code, so it is hostile:
only a regular ``junit.xml`` and ``coverage.xml`` are copied into the run's ``reports/``
folder, through :class:`WorkspaceFS` (no link followed, size-capped, created exclusively);
the host's copy of ``coverage.xml`` is then rewritten (parsed by
:mod:`runner.reports.xmlsafe`) to project-relative file names under one
``<source>.</source>``; the runner plugin's MAC'd record is read back
(:mod:`runner.reports.outcomes`); whatever else the tests left (links to
``/proc/self/environ``, FIFOs, other files) is named in ``ignored_outputs`` and deleted with
the directory. The scratch directory is never the run directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from runner.agent.pytest_outcomes import record_name
from runner.hostfs import HostReadRefused, WorkspaceFS
from runner.reports.coverage import rewrite_sources
from runner.reports.outcomes import read_record
from runner.reports.verification import JUNIT_NAME, REPORT_NAMES, VerificationResult
from runner.reports.xmlsafe import MAX_XML_BYTES
from runner.sandbox.spec import WORKSPACE
from runner.sanitize import one_line

MAX_IGNORED = 50


def clear_outputs(out_dir: Path) -> None:
    """Remove reports a previous verification left in the run's ``reports/`` folder."""
    for name in REPORT_NAMES:
        with contextlib.suppress(FileNotFoundError):
            target = out_dir / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()


@contextlib.contextmanager
def scratch_out(uid: int, gid: int) -> Iterator[Path]:
    """A fresh host directory the sandbox uid can write, removed (links and all) afterwards."""
    path = Path(tempfile.mkdtemp(prefix="sr-verify-out-"))
    try:
        euid = os.geteuid()
        if euid == 0:
            os.chown(path, uid, gid)
        elif euid != uid:
            path.chmod(0o777)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)  # never follows links


def copy_reports(src: Path, dest: Path, key: bytes, result: VerificationResult) -> None:
    """Copy the regular reports from the scratch ``src`` to ``dest``; read the runner's
    record; name whatever else is there. Nothing in ``src`` is ever followed."""
    out = WorkspaceFS(src, max_bytes=MAX_XML_BYTES)
    for name in REPORT_NAMES:
        try:
            out.copy_file(name, dest / name)
        except HostReadRefused as exc:
            if "does not exist" not in exc.reason:
                result.report_errors[name] = one_line(exc.reason)
            continue
        except OSError as exc:
            result.report_errors[name] = f"cannot copy: {exc.strerror or exc}"
            continue
        if name == JUNIT_NAME:
            result.junit_path = dest / name
        else:
            result.coverage_path = dest / name
            # project-relative file names, source "." (GitLab places them in MR diffs)
            result.coverage_rewrite = rewrite_sources(dest / name, WORKSPACE)
    result.outcomes, result.outcomes_error = read_record(out, key)
    known = {*REPORT_NAMES, record_name(key)}
    try:
        others = [e for e in out.listdir("") if e.name not in known]
    except HostReadRefused:
        others = []
    result.ignored_outputs = [f"{one_line(e.name, 120)} ({e.kind})" for e in others[:MAX_IGNORED]]
    if len(others) > MAX_IGNORED:
        result.ignored_outputs.append(f"... and {len(others) - MAX_IGNORED} more")
