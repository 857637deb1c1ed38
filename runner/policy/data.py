"""The tunable settings of the policies (``data.settings`` in ``policies/data.json``).

One source for the scope rule and the sandbox: the writable list decides both
what the policy allows and what the container mounts read-write, and the secret
file patterns decide both what the policy denies and which files the container
masks. ``PolicyData.is_secret_path`` implements exactly the matching of
``policies/lib.rego`` (a test checks that they agree):

* a path is split into components on ``/``;
* a pattern's components (a trailing ``/`` only says "directory") must match a
  contiguous run of the path's components, anywhere in the path; a pattern that
  starts with ``/`` is anchored at the root of an absolute path;
* components match by glob -- ``*``, ``?``, ``[...]``, ``[!...]``, never across
  ``/`` -- case-insensitively (Python's ``lower``, Rego's ``(?i)``: they agree on
  everything but a few exotic letters such as the long s);
* a path whose file name matches a ``secret_file_exceptions`` pattern is not
  secret, unless its directory is.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from runner.egress.hosts import BadHost, parse_host_pattern
from runner.errors import InputError, first_error
from runner.policy.bundle import PolicyBundle

# What lib.rego's glob-to-regex translation handles: no regex metacharacters, and
# bracket expressions without "/", "*", "?", "[" or an empty set.
_GLOB_TOKEN = re.compile(r"\[!?[^\]/*?\[\\^]+\]|[^\[\]\\+(){}^$|]")


def _tool_names() -> list[str]:
    """Every policy tool (the default ``tools``); the tool models are imported only here, so
    reading the data (before a run's container starts) does not build them."""
    from runner.policy.models import TOOL_NAMES

    return list(TOOL_NAMES)


def check_glob(pattern: str) -> str:
    if not pattern or pattern.strip("/") == "" or "//" in pattern:
        raise ValueError(f"pattern {pattern!r} is empty or has an empty component")
    pos = 0
    while pos < len(pattern):
        m = _GLOB_TOKEN.match(pattern, pos)
        if m is None:
            raise ValueError(
                f"pattern {pattern!r}: unsupported syntax at {pattern[pos:]!r} "
                "(use *, ?, [abc] or [!abc]; no regex characters)"
            )
        pos = m.end()
    return pattern


class PolicyData(BaseModel):
    """``data.settings``: pydantic view; unknown keys are kept for custom policies."""

    model_config = ConfigDict(extra="allow")

    tools: list[str] = Field(default_factory=lambda: _tool_names())
    writable: list[str] = Field(default_factory=lambda: ["backend/", "issues.md"])
    protected_dirs: list[str] = Field(default_factory=lambda: [".git"])
    allowed_hosts: list[str] = Field(default_factory=list)  # the agent phase (egress)
    allowed_presets: list[str] = Field(default_factory=list)
    setup_allowed_hosts: list[str] = Field(default_factory=list)  # the setup phase
    setup_presets: list[str] = Field(default_factory=list)
    egress_presets: dict[str, list[str]] = Field(default_factory=dict)
    egress_default_ports: list[int] = Field(default_factory=lambda: [80, 443])
    allow_web_search: bool = False  # Claude Code's WebSearch (runs outside the egress control)
    allow_loopback: bool = False  # localhost, 127.0.0.0/8, ::1 (the container's own loopback)
    secret_file_patterns: list[str] = Field(default_factory=list)
    secret_file_exceptions: list[str] = Field(default_factory=list)
    process_secret_paths: list[str] = Field(default_factory=list)
    special_dirs: list[str] = Field(default_factory=lambda: ["/proc/", "/sys/", "/dev/"])
    harmless_specials: list[str] = Field(default_factory=list)
    outside_read_allowed: list[str] = Field(default_factory=list)
    outside_write_allowed: list[str] = Field(default_factory=list)
    outside_write_denied: list[str] = Field(default_factory=list)
    outside_read_denied: list[str] = Field(default_factory=list)  # wins over the allowed list
    secret_variable_words: list[str] = Field(default_factory=list)  # printenv NAME: a credential
    outside_exec_allowed: list[str] = Field(default_factory=list)
    git_exec_config_keys: list[str] = Field(default_factory=list)

    @field_validator("secret_file_patterns", "secret_file_exceptions", "process_secret_paths")
    @classmethod
    def _globs(cls, patterns: list[str]) -> list[str]:
        return [check_glob(p) for p in patterns]

    @field_validator("allowed_hosts", "setup_allowed_hosts")
    @classmethod
    def _host_entries(cls, entries: list[str]) -> list[str]:
        return _canonical_entries(entries)

    @field_validator("egress_presets")
    @classmethod
    def _preset_entries(cls, presets: dict[str, list[str]]) -> dict[str, list[str]]:
        return {name: _canonical_entries(hosts) for name, hosts in presets.items()}

    @field_validator("egress_default_ports")
    @classmethod
    def _ports(cls, ports: list[int]) -> list[int]:
        if not all(1 <= p <= 65535 for p in ports):
            raise ValueError("ports are 1..65535")
        return ports

    @model_validator(mode="after")
    def _known_presets(self) -> PolicyData:
        for key in ("allowed_presets", "setup_presets"):
            unknown = [p for p in getattr(self, key) if p not in self.egress_presets]
            if unknown:
                raise ValueError(f"{key}: unknown preset {unknown[0]!r} (egress_presets has "
                                 f"{', '.join(sorted(self.egress_presets)) or 'none'})")
        return self

    def phase_hosts(self, phase: str) -> list[str]:
        """A phase's egress allowlist (as network.rego computes it): its hosts, then the
        hosts of its presets; empty for the agent phase by default (no network)."""
        hosts, presets = ((self.allowed_hosts, self.allowed_presets) if phase == "agent"
                          else (self.setup_allowed_hosts, self.setup_presets))
        out = list(hosts)
        for name in presets:
            out += [h for h in self.egress_presets.get(name, []) if h not in out]
        return out

    @field_validator("writable")
    @classmethod
    def _relative(cls, entries: list[str]) -> list[str]:
        for e in entries:
            parts = e.rstrip("/").split("/")
            if not e or e.startswith("/") or any(p in ("", ".", "..") for p in parts):
                raise ValueError(f"writable entry {e!r} must be a plain workspace-relative path")
        return entries

    # --- secret files ---------------------------------------------------------------------

    def is_secret_path(self, rel_path: str) -> bool:
        """Whether a workspace-relative (or absolute) path is a secret file or directory.

        A trailing ``/`` (a directory) does not change the answer.
        """
        return _is_secret(
            tuple(self.secret_file_patterns), tuple(self.secret_file_exceptions), rel_path
        )

    @property
    def writable_dirs(self) -> list[str]:
        """Writable directories, workspace-relative without the trailing slash."""
        return [e.rstrip("/") for e in self.writable if e.endswith("/")]

    @property
    def writable_files(self) -> list[str]:
        return [e for e in self.writable if not e.endswith("/")]


def _canonical_entries(entries: list[str]) -> list[str]:
    """Allowlist entries as the Rego policies compare them: canonical, else refused."""
    for entry in entries:
        try:
            parse_host_pattern(entry, canonical=True)
        except BadHost as exc:
            raise ValueError(str(exc)) from None
    return entries


def _components(path: str) -> list[str]:
    return path.lower().split("/")


def _pattern_components(pattern: str) -> list[str]:
    return _components(pattern[:-1] if pattern.endswith("/") else pattern)


def _window_match(pattern: str, comps: list[str]) -> bool:
    """``pattern`` matches a contiguous run of ``comps`` (a leading "/" is an empty component)."""
    pcs = _pattern_components(pattern)
    return any(
        all(fnmatchcase(c, pc) for c, pc in zip(comps[start : start + len(pcs)], pcs, strict=True))
        for start in range(len(comps) - len(pcs) + 1)
    )


def _suffix_match(pattern: str, comps: list[str]) -> bool:
    """``pattern`` matches the run of ``comps`` that ends the path."""
    pcs = _pattern_components(pattern)
    if len(pcs) > len(comps):
        return False
    return all(
        fnmatchcase(c, pc) for c, pc in zip(comps[len(comps) - len(pcs) :], pcs, strict=True)
    )


@lru_cache(maxsize=4096)
def _is_secret(patterns: tuple[str, ...], exceptions: tuple[str, ...], path: str) -> bool:
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    comps = _components(path)
    if not any(_window_match(p, comps) for p in patterns):
        return False
    if not any(_suffix_match(e, comps) for e in exceptions):
        return True
    parent = comps[:-1]
    return len(parent) > 0 and any(_window_match(p, parent) for p in patterns)


def load_policy_data(bundle: PolicyBundle | dict[str, Any]) -> PolicyData:
    """The settings of a bundle (or of a data document); invalid settings are an InputError."""
    data = bundle.data if isinstance(bundle, PolicyBundle) else bundle
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise InputError("policy data: settings must be an object")
    try:
        return PolicyData.model_validate(settings)
    except ValidationError as exc:
        raise InputError(f"policy data: settings.{first_error(exc)}") from None
