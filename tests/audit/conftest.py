"""Fixtures for the audit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.audit.logdata import write_log


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "decisions.jsonl"
    write_log(path)
    return path
