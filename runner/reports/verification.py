"""What a verification produced, as the reports read it.

The verification itself (the container, the nonce, copying the reports out of the hostile
scratch directory) is :mod:`runner.run.verify`; this is only its result, the names of the two
reports it copies, and the default test command (when it runs, pytest's own exit status must
match the container's: :func:`runner.reports.outcomes.disagreement`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from runner.reports.outcomes import RunnerOutcomes
from runner.sandbox.spec import PROJECT_PYTHON, VERIFY_OUT

JUNIT_NAME = "junit.xml"
COVERAGE_NAME = "coverage.xml"
REPORT_NAMES = (JUNIT_NAME, COVERAGE_NAME)
DEFAULT_COMMAND = [
    PROJECT_PYTHON, "-m", "pytest", "backend", "-q", "-p", "no:cacheprovider",
    f"--junitxml={VERIFY_OUT}/{JUNIT_NAME}", "--cov=backend", "--cov-branch",
    f"--cov-report=xml:{VERIFY_OUT}/{COVERAGE_NAME}",
]


class VerificationResult(BaseModel):
    command: list[str] = Field(default_factory=list)
    exit_code: int | None = None  # None: it never finished (timeout, error)
    timed_out: bool = False
    oom_killed: bool = False
    junit_path: Path | None = None  # set only when a regular file was copied to the run dir
    coverage_path: Path | None = None
    report_errors: dict[str, str] = Field(default_factory=dict)  # report name -> why not copied
    coverage_rewrite: str | None = None  # why coverage.xml kept its container paths (else None)
    ignored_outputs: list[str] = Field(default_factory=list)  # other things left in /out
    outcomes: RunnerOutcomes | None = None  # the runner plugin's record (MAC verified)
    outcomes_error: str | None = None  # why there is no verified record
    stdout_tail: str = ""
    duration_s: float = 0.0
    error: str | None = None  # the container could not be run at all
    runtime: str | None = None  # the engine's runtime of the container (runc, runsc: gVisor)

    @property
    def default_command(self) -> bool:
        return self.command == DEFAULT_COMMAND
