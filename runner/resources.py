"""Locate files that ship with sandbox-runner (policies, image context, agents), and the
host-side cache."""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    bundled = _PKG / "_bundled" / name
    if bundled.is_dir():
        return bundled
    return _PKG.parent / name  # a source checkout / editable install


def policies_dir() -> Path:
    """The default Rego policy bundle (``policies/``)."""
    return _find("policies")


def images_dir() -> Path:
    """The sandbox image build context (``images/``)."""
    return _find("images")


def agents_dir() -> Path:
    """Bundled agent files (``runner/agents/*.md``)."""
    return _PKG / "agents"


def package_dir() -> Path:
    return _PKG


def cache_root() -> Path:
    """Where the host-side caches live (wheelhouses, the Claude Code binary, build locks,
    the policy bundles that passed the static check)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sandbox-runner"
