"""A policy bundle: the Rego files and merged data of one or more policy directories.

``load_bundle`` reads every ``.rego`` file under the given directories (tests --
files in a ``tests/`` directory or named ``*_test.rego`` -- only when asked) and
merges every ``data.json`` (outside ``tests/``) into one data document; an
override file, when given, is merged last and wins (objects merge key by key,
anything else is replaced). The bundle hash is a sha256 over the sorted policy
files (relative path and contents) and the canonical JSON of the merged data:
the same policies and data always give the same hash, whatever the directory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from runner.errors import InputError, PolicyCompileError
from runner.resources import policies_dir

DATA_FILE = "data.json"


class PolicyFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str  # as found on disk (used in error messages)
    name: str  # relative to its policy directory (used in the hash)
    content: str


class PolicyBundle(BaseModel):
    dirs: list[Path]
    files: list[PolicyFile]
    tests: list[PolicyFile]
    data: dict[str, Any]
    hash: str


def is_test_file(rel: Path) -> bool:
    return "tests" in rel.parts[:-1] or rel.name.endswith("_test.rego")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("not valid UTF-8", path=path) from None
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), path=path) from None


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file holding an object; any problem is an InputError naming the file."""
    text = _read_text(path)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyCompileError(
            f"invalid JSON: {exc.msg}", path=path, line=exc.lineno, column=exc.colno
        ) from None
    if not isinstance(value, dict):
        raise InputError("data must be a JSON object", path=path)
    return value


def merge_data(base: dict[str, Any], over: dict[str, Any], *, replace: bool, source: Path) -> None:
    """Merge ``over`` into ``base`` in place (objects key by key).

    ``replace=False`` (two data.json files of a bundle): a key both set to different
    non-object values is a conflict. ``replace=True`` (an override file): ``over`` wins.
    """
    for key, value in over.items():
        old = base.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merge_data(old, value, replace=replace, source=source)
        elif key in base and not replace and old != value:
            raise InputError(
                f"data conflict: {key!r} is also set by another data.json", path=source
            )
        else:
            base[key] = value


def bundle_hash(files: Sequence[PolicyFile], data: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: (f.name, f.content)):
        for part in (f.name, f.content):
            raw = part.encode("utf-8")
            digest.update(len(raw).to_bytes(8, "big"))
            digest.update(raw)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest.update(canonical.encode("utf-8"))
    return digest.hexdigest()


def load_bundle(
    dirs: Sequence[Path], data: Path | None = None, *, include_tests: bool = False
) -> PolicyBundle:
    """Load the policies of ``dirs`` (empty: the bundled default policies)."""
    roots = [Path(d) for d in dirs] or [policies_dir()]
    files: list[PolicyFile] = []
    tests: list[PolicyFile] = []
    merged: dict[str, Any] = {}
    for root in roots:
        if not root.is_dir():
            raise InputError("policy directory not found", path=root)
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if not path.is_file():
                continue
            if path.suffix == ".rego":
                pf = PolicyFile(path=str(path), name=rel.as_posix(), content=_read_text(path))
                (tests if is_test_file(rel) else files).append(pf)
            elif path.name == DATA_FILE and not is_test_file(rel):
                merge_data(merged, read_json_object(path), replace=False, source=path)
    if not files:
        raise InputError("no .rego policy files found", path=", ".join(str(r) for r in roots))
    if data is not None:
        merge_data(merged, read_json_object(Path(data)), replace=True, source=Path(data))
    return PolicyBundle(
        dirs=roots,
        files=files,
        tests=tests if include_tests else [],
        data=merged,
        hash=bundle_hash(files, merged),
    )
