"""Shared by the decision corpora (corpus.yaml, benign_corpus.yaml, attack_corpus.yaml).

A corpus file is YAML with a ``workspace.files`` fixture (relative path -> text) and
``cases``; each case may add ``setup`` (files, symlinks ``link -> target`` as written,
hardlinks ``new -> existing``) to a fresh copy of the fixture.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

CORPUS_DIR = Path(__file__).resolve().parent


def load_corpus(name: str) -> dict[str, Any]:
    """The parsed corpus ``name`` (a file name under tests/policy/)."""
    data = yaml.safe_load((CORPUS_DIR / name).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise ValueError(f"{name}: expected a mapping with a 'cases' list")
    return data


def make_workspace(
    root: Path, fixture: dict[str, str], setup: dict[str, Any] | None = None
) -> Path:
    """Lay out ``fixture`` plus a case's ``setup`` under ``root`` and return ``root``."""
    setup = setup or {}
    files = {**fixture, **setup.get("files", {})}
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    for link, target in setup.get("symlinks", {}).items():
        (root / link).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, root / link)
    for new, existing in setup.get("hardlinks", {}).items():
        os.link(root / existing, root / new)
    root.mkdir(parents=True, exist_ok=True)
    return root
