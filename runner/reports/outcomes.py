"""The runner's own count of the verification's tests, and where it disagrees with the rest.

Three witnesses say how the tests went: the test command's exit code, the JUnit report, and
the record of the runner's pytest plugin (:mod:`runner.agent.pytest_outcomes`, MAC'd under a
nonce that only the plugin received). The agent's code can forge the first two cheaply (a
``conftest.py`` that rewrites ``junit.xml`` and exits 0); :func:`disagreement` names any
difference between the three, and the tests gate fails on it.

Evidence, not proof: code running inside the test process can still bend all three the same
way (see the plugin's docstring). The gate's honest claim is "the three agree", nothing more.
"""

from __future__ import annotations

import hmac
import json

from pydantic import BaseModel, Field, ValidationError, model_validator

from runner.agent.pytest_outcomes import (
    MAX_BAD_NAMES,
    MAX_NAME,
    RECORD_VERSION,
    record_mac,
    record_name,
)
from runner.hostfs import HostReadRefused, WorkspaceFS
from runner.reports.junit import TestResults
from runner.sanitize import one_line

MAX_RECORD_BYTES = 64 * 1024
MAX_COUNT = 10_000_000
NO_RECORD = ("no record from the runner's pytest plugin (the test command did not run pytest, "
             "or something read the plugin's nonce before it)")


class RunnerOutcomes(BaseModel):
    """What the runner's plugin counted (the payload of a record whose MAC verified)."""

    v: int = RECORD_VERSION
    total: int = Field(ge=0, le=MAX_COUNT)
    passed: int = Field(ge=0, le=MAX_COUNT)
    skipped: int = Field(ge=0, le=MAX_COUNT)
    failed: int = Field(ge=0, le=MAX_COUNT)
    errors: int = Field(ge=0, le=MAX_COUNT)
    exitstatus: int | None = Field(default=None, ge=-1024, le=1024)
    bad: list[str] = Field(default_factory=list, max_length=MAX_BAD_NAMES)

    @model_validator(mode="after")
    def _sums(self) -> RunnerOutcomes:
        if self.passed + self.skipped + self.failed + self.errors != self.total:
            raise ValueError("counts do not add up to the total")
        self.bad = [one_line(b, MAX_NAME) for b in self.bad]
        return self


def read_record(out: WorkspaceFS, key: bytes) -> tuple[RunnerOutcomes | None, str | None]:
    """(outcomes, None) when the plugin's record is there and its MAC verifies; else
    (None, why). ``out`` is the verification's output directory (agent-writable)."""
    try:
        raw = out.read_bytes(record_name(key), max_bytes=MAX_RECORD_BYTES)
    except HostReadRefused as exc:
        return None, NO_RECORD if "does not exist" in exc.reason else (
            f"the runner's record is unreadable: {exc.reason}")
    lines = raw.decode("utf-8", "replace").splitlines()
    if len(lines) != 1:
        return None, f"the runner's record has {len(lines)} lines, expected 1 (tampered)"
    try:
        doc = json.loads(lines[0])
        payload, mac = doc["payload"], doc["mac"]
        if not isinstance(payload, dict) or not isinstance(mac, str):
            raise TypeError("payload/mac of the wrong type")
    except (ValueError, KeyError, TypeError):
        return None, "the runner's record is not valid JSON of the expected shape (tampered)"
    if not hmac.compare_digest(record_mac(key, payload), mac):
        return None, "the runner's record does not carry a valid MAC (forged or altered)"
    try:
        return RunnerOutcomes.model_validate(payload), None
    except ValidationError as exc:
        return None, f"the runner's record is invalid: {exc.errors()[0]['msg']}"


def _counts(total: int, passed: int, failed: int, errors: int, skipped: int) -> str:
    return (f"{total} total: {passed} passed, {failed} failed, {errors} errors, "
            f"{skipped} skipped")


def disagreement(*, exit_code: int | None, tests: TestResults, outcomes: RunnerOutcomes | None,
                 outcomes_error: str | None, default_command: bool) -> str | None:
    """Why the exit code, the JUnit report and the runner's own count disagree (None: they
    agree). Only meaningful for a finished verification whose JUnit report parsed."""
    if outcomes is None:
        return outcomes_error or NO_RECORD
    junit = (tests.total, tests.passed, tests.failed, tests.errors, tests.skipped)
    ours = (outcomes.total, outcomes.passed, outcomes.failed, outcomes.errors, outcomes.skipped)
    if junit != ours:
        return f"the JUnit report says {_counts(*junit)}; the runner counted {_counts(*ours)}"
    bad = outcomes.failed + outcomes.errors
    if exit_code == 0 and bad:
        named = ", ".join(outcomes.bad[:5])
        return f"the test command exited 0 but the runner counted {bad} failed or errored: {named}"
    nothing_ran = outcomes.passed == 0 and not bad  # pytest exits 5: the gate says so itself
    if exit_code not in (None, 0) and not bad and not (exit_code == 5 and nothing_ran):
        return f"the test command exited {exit_code} although no test failed"
    if default_command and outcomes.exitstatus is not None and outcomes.exitstatus != exit_code:
        return (f"pytest's exit status was {outcomes.exitstatus} but the container exited "
                f"{exit_code}")
    return None
