"""Fixtures of the sandbox tests: one image per session, few containers.

``sandbox_image`` builds (or finds) the input-hashed sandbox image once per session; the
first build on a machine takes a couple of minutes (debootstrap, wheelhouse, docker build).
"""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEST_LABELS = {"sandbox-runner.test": "1"}
WRITABLE = ["backend/", "issues.md"]


def _secret_patterns() -> tuple[list[str], list[str]]:
    settings = json.loads((REPO / "policies" / "data.json").read_text())["settings"]
    return settings["secret_file_patterns"], settings.get("secret_file_exceptions", [])


def is_secret(rel: str) -> bool:
    """Stand-in for PolicyData.is_secret_path over policies/data.json (basename globs)."""
    patterns, exceptions = _secret_patterns()
    is_dir = rel.endswith("/")
    name = rel.rstrip("/").rsplit("/", 1)[-1]
    if name in exceptions:
        return False
    for pattern in patterns:
        if pattern.endswith("/"):
            if is_dir and (fnmatch.fnmatch(name, pattern[:-1]) or rel == pattern):
                return True
        elif not is_dir and fnmatch.fnmatch(name, pattern):
            return True
    return False


def make_project(root: Path) -> Path:
    """A small project: spec, frontend, secrets (file, dir, nested), an example env."""
    files = {
        "architecture/backend.md": "# Todo API\n",
        "frontend/app.js": "console.log('front');\n",
        "README.md": "readme\n",
        ".env": "API_TOKEN=sk-test-not-real-0123456789\n",
        ".env.example": "API_TOKEN=\n",
        "config/service-account-prod.json": '{"private_key": "fake"}\n',
        ".ssh/id_ed25519": "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n",
        "backend/.gitkeep": "",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for dirpath, _, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(Path(dirpath) / name, 0o644)
    return root


def snapshot(root: Path, skip: tuple[str, ...] = ("backend", "issues.md")) -> dict[str, bytes]:
    """Content of every file outside the writable entries (to prove it is untouched)."""
    out: dict[str, bytes] = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if rel.split("/")[0] in skip:
                continue
            out[rel] = path.read_bytes()
    return out
