"""The policy bundles that passed regorus's static check, remembered by content hash.

Loading a bundle runs ``regorus.Program.compile_from_modules`` over the entry points: the
static check that finds unknown functions and unsafe variables before any decision (adding
a policy only parses it). Its outcome depends on nothing but the policy files, the data,
the entry points and the regorus build, so a bundle that passed once passes again. A marker
named by the hash of all four, under the host cache
(``$XDG_CACHE_HOME/sandbox-runner/policy-checked/``), lets the next load skip it: every
run, and every gateway thread that builds its own engine.

Only a pass is remembered; a failing bundle is checked (and refused) every time. A marker
that cannot be read or written means the check runs.

A second marker, under ``policy-built/`` (:data:`BUILT_DIR`), records a bundle whose whole
engine was built and probed (runner/policy/regorus_engine.py: the check, the derived data,
the probe evaluation), which depends on the same four things: a :class:`RegorusEngine` of
such a bundle is not built up front to find errors it cannot have (a run's start saves its
~35 ms). Every thread still builds and probes its own engine on first use, so nothing is
skipped where a decision is made.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import regorus

from runner.resources import cache_root

CHECKED_DIR = "policy-checked"
BUILT_DIR = "policy-built"


def _regorus_build() -> str:
    """The regorus extension's identity: its files' names, sizes and mtimes (an upgrade or
    a rebuild changes them; hashing the library itself would cost more than the check)."""
    pkg = Path(regorus.__file__).parent
    parts = []
    for lib in sorted(pkg.glob("*.so")) + sorted(pkg.glob("*.pyd")):
        st = lib.stat()
        parts.append(f"{lib.name}:{st.st_size}:{st.st_mtime_ns}")
    return ";".join(parts) or str(pkg)


def bundle_key(modules: Iterable[tuple[str, str]], data: Any, entrypoints: Iterable[str]) -> str:
    """The hash of what the static check reads: (name, content) of each policy, the data,
    the entry points and the regorus build."""
    h = hashlib.sha256()

    def field(value: str) -> None:
        raw = value.encode("utf-8", "surrogatepass")
        h.update(len(raw).to_bytes(8, "big"))
        h.update(raw)

    field(_regorus_build())
    for name, content in sorted(modules):
        field(name)
        field(content)
    field(json.dumps(data, sort_keys=True, separators=(",", ":")))
    for entrypoint in entrypoints:
        field(entrypoint)
    return h.hexdigest()


def _marker(key: str, kind: str) -> Path:
    return cache_root() / kind / key


def passed(key: str, kind: str = CHECKED_DIR) -> bool:
    """Whether a bundle with this key passed before: the static check (:data:`CHECKED_DIR`)
    or the whole build and probe (:data:`BUILT_DIR`)."""
    try:
        return _marker(key, kind).is_file()
    except OSError:
        return False


def remember(key: str, kind: str = CHECKED_DIR) -> None:
    """Record a pass (best effort: a cache that cannot be written only costs the check)."""
    marker = _marker(key, kind)
    with contextlib.suppress(OSError):
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_name(f".{key}.{os.getpid()}")
        tmp.write_text("ok\n")
        os.replace(tmp, marker)


__all__ = ["BUILT_DIR", "CHECKED_DIR", "bundle_key", "passed", "remember"]
