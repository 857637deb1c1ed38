"""Shared fixtures. Docker tests carry the ``docker`` marker and clean up their containers."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def policies_dir() -> Path:
    return REPO / "policies"
