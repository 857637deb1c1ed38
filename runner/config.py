"""Configuration: CLI flags > ``sandbox-runner.toml`` / ``[tool.sandbox-runner]`` > defaults.

One config class per backend with ``extra="forbid"`` and a ``type`` discriminator.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
)

from runner.egress.hosts import BadHost, check_host_entries
from runner.errors import ConfigError
from runner.runtime_tools import Runtime

DEFAULT_TASK = (
    "Implement the requirements in architecture/backend.md under backend/, with tests "
    "(at least 80% line coverage). Document blockers and open questions in issues.md."
)

# What Claude Code's aliases resolve to (first-party API), overridable with `model_aliases`
# in the config; `inherit` (and no model) is DEFAULT_MODEL unless `model_aliases` names one.
MODEL_ALIASES: dict[str, str] = {
    "opus": "claude-opus-5-5",
    "sonnet": "claude-sonnet-5-5",
    "haiku": "claude-haiku-5-5",
    "fable": "claude-fable-5-2",
    "best": "claude-opus-5-5",
}
DEFAULT_MODEL = "claude-sonnet-5-5"
DEFAULT_MAX_TURNS = 50
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Limits(_Cfg):
    """Container resource limits (per run and per verification)."""

    memory: str = "2g"
    cpus: float = 1.5
    pids: int = 256
    nofile: int = 1024
    fsize_mb: int = 512  # largest single file a process may write
    tmp_size: str = "256m"
    home_size: str = "64m"


class DockerSandboxConfig(_Cfg):
    type: Literal["docker"] = "docker"
    image: str | None = None  # None: the built, input-hashed sandbox image
    base_image: str = "python:3.11-slim"
    limits: Limits = Field(default_factory=Limits)
    fallback_uid: int = 10001  # used when the project owner is root: never run as uid 0
    fallback_gid: int = 10001


def _backend_type(default: str) -> Callable[[Any], str]:
    """Discriminate on ``type``, defaulting to ``default`` when a config file omits it."""

    def pick(value: Any) -> str:
        if isinstance(value, dict):
            return str(value.get("type", default))
        return str(getattr(value, "type", default))

    return pick


# One backend today; the discriminator keeps the shape open for others (SWE-ReX style).
SandboxConfig = Annotated[
    Annotated[DockerSandboxConfig, Tag("docker")], Discriminator(_backend_type("docker")),
]


class RegorusEngineConfig(_Cfg):
    type: Literal["regorus"] = "regorus"


class OPAEngineConfig(_Cfg):
    type: Literal["opa"] = "opa"
    url: str | None = None  # None: start `opa run --server` from PATH
    timeout: float = 2.0


EngineConfig = Annotated[
    Annotated[RegorusEngineConfig, Tag("regorus")] | Annotated[OPAEngineConfig, Tag("opa")],
    Discriminator(_backend_type("regorus")),
]


class PolicyConfig(_Cfg):
    dirs: list[Path] = Field(default_factory=list)  # empty: the bundled policies/
    data: Path | None = None  # overrides the bundle's data.json
    engine: EngineConfig = Field(default_factory=RegorusEngineConfig)


class GatewayConfig(_Cfg):
    max_requests: int = 200
    max_tokens: int = 2_000_000
    retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    request_timeout: float = 300.0
    # Per-request caps on what the agent may ask for (runner/gateway/limits.py has the rest).
    max_request_tokens: int = Field(default=32_000, ge=1)  # larger max_tokens are clamped
    max_body_mb: int = Field(default=32, ge=1)  # a larger /v1/messages body is refused (413)
    max_log_mb: int = Field(default=256, ge=1)  # transcript.jsonl stops (with a marker) here


class VerifyConfig(_Cfg):
    enabled: bool = True
    test_command: str | None = None  # None: pytest over backend/ with JUnit + Cobertura
    timeout: float = 600.0
    coverage_threshold: float = 80.0


class EgressConfig(_Cfg):
    """The egress proxy (runner/egress): which hosts the agent phase may reach, and its caps.

    Nothing allowed (the default): no proxy at all, the sandbox has no network. The hosts
    and presets are added to the policy data's ``allowed_hosts`` / ``allowed_presets``, so
    the tool-call policy and the proxy decide on the same list.
    """

    allow_hosts: list[str] = Field(default_factory=list)  # HOST[:PORT], *.example.com wildcards
    presets: list[str] = Field(default_factory=list)  # names of the policy data's egress_presets
    allow_private: list[str] = Field(default_factory=list)  # may resolve to private addresses
    max_connections: int = Field(default=512, ge=1)  # per run
    max_concurrent: int = Field(default=32, ge=1)  # open at once
    max_mb: int = Field(default=2048, ge=1)  # bytes through the proxy per run, both ways
    idle_timeout: float = Field(default=60.0, gt=0)  # a connection with no bytes either way ends
    connect_timeout: float = Field(default=10.0, gt=0)  # resolving and connecting upstream
    max_header_kb: int = Field(default=32, ge=1, le=1024)  # a request head larger: 431
    relay_port: int = Field(default=3128, ge=1024, le=65535)  # the relay in the container

    @field_validator("allow_hosts", "allow_private")
    @classmethod
    def _host_patterns(cls, entries: list[str]) -> list[str]:
        try:
            return check_host_entries(entries)
        except BadHost as exc:
            raise ValueError(str(exc)) from None

    @field_validator("presets")
    @classmethod
    def _preset_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not name or not name.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"{name!r} is not a preset name")
        return names

class EnvironmentConfig(_Cfg):
    """The project environment (``[environment]``; docs/environments.md).

    Nothing declared here and no dependency file under ``backend/``: the default
    environment (the sandbox image's toolchain). Otherwise the runner's setup phase builds
    ``sandbox-runner-env:<hash>`` on the runtime layer and reuses it until an input changes.
    """

    requirements: list[str] | None = None  # None: detected from backend/ (requirements*.txt,
    #                                         pyproject.toml with its test/dev extras/groups)
    setup: list[str] = Field(default_factory=list)  # shell commands run after the installs
    base_image: str | None = None  # under the runtime layer instead of the default base
    index_url: str | None = None  # pip's index (a token belongs in a setup secret instead)
    # The setup phase's allowlist: the policy data's setup_allowed_hosts and setup_presets
    # (default: the "python" preset, the package index hosts) plus these.
    allow_hosts: list[str] = Field(default_factory=list)  # HOST[:PORT], *.example.com
    presets: list[str] = Field(default_factory=list)  # names of the data's egress_presets
    allow_private: list[str] = Field(default_factory=list)  # may resolve to private addresses
    secrets: list[str] = Field(default_factory=list)  # host variables given to setup only
    ca_bundle: Path | None = None  # a host CA bundle for the setup's TLS (intercepting proxies)
    timeout: float = Field(default=1800.0, gt=0)  # the whole setup phase

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not _ENV_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return names

    @field_validator("allow_hosts", "allow_private")
    @classmethod
    def _host_patterns(cls, entries: list[str]) -> list[str]:
        return EgressConfig._host_patterns(entries)

    @field_validator("presets")
    @classmethod
    def _preset_names(cls, names: list[str]) -> list[str]:
        return EgressConfig._preset_names(names)

    @field_validator("setup")
    @classmethod
    def _commands(cls, commands: list[str]) -> list[str]:
        if any(not c.strip() or "\0" in c for c in commands):
            raise ValueError("a setup command is empty or holds a NUL byte")
        return commands


class RunConfig(_Cfg):
    project: Path
    agent: str = "backend-implementer"
    task: str = DEFAULT_TASK
    model: str | None = None  # None: the agent file's model (alias mapped)
    runtime: Runtime = "builtin"  # what runs the agent in the sandbox (docs/runtimes.md)
    out: Path | None = None
    max_turns: int | None = None  # None: the agent file's maxTurns, else DEFAULT_MAX_TURNS
    timeout: float = 1800.0
    bash_timeout: float = 120.0
    json_output: bool = False
    model_aliases: dict[str, str] = Field(default_factory=lambda: dict(MODEL_ALIASES))
    sandbox: SandboxConfig = Field(default_factory=DockerSandboxConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    egress: EgressConfig = Field(default_factory=EgressConfig)
    environment: EnvironmentConfig = Field(default_factory=EnvironmentConfig)
    rebuild_env: bool = False  # `run --rebuild-env`: build the environment image anew

    @field_validator("model_aliases")
    @classmethod
    def _aliases_over_the_defaults(cls, value: dict[str, str]) -> dict[str, str]:
        """A configured alias replaces that alias only; the others keep their default."""
        return {**MODEL_ALIASES, **value}


def load_file_config(project: Path) -> dict[str, Any]:
    """Read ``sandbox-runner.toml`` or ``[tool.sandbox-runner]`` from the project (if any)."""
    own = project / "sandbox-runner.toml"
    pyproject = project / "pyproject.toml"
    try:
        if own.is_file():
            return tomllib.loads(own.read_text(encoding="utf-8"))
        if pyproject.is_file():
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            section = data.get("tool", {}).get("sandbox-runner", {})
            return dict(section) if isinstance(section, dict) else {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(exc), path=own if own.is_file() else pyproject) from None
    except OSError as exc:
        raise ConfigError(exc.strerror or str(exc), path=own) from None
    return {}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _given(flags: dict[str, Any]) -> dict[str, Any]:
    """Flags the user actually gave: ``None``/empty values (recursively) are dropped."""
    out: dict[str, Any] = {}
    for key, value in flags.items():
        if isinstance(value, dict):
            value = _given(value)
        if value is None or value in ((), [], {}):
            continue
        out[key] = value
    return out


# Lists that flags add to instead of replacing (``--allow-host`` adds to ``allow_hosts``).
_ADDITIVE = (("egress", "allow_hosts"), ("egress", "presets"))


def build_run_config(project: Path, flags: dict[str, Any]) -> RunConfig:
    """Merge defaults < file config < flags (``None`` flags are ignored) and validate."""
    file_cfg = load_file_config(project)
    given = _given(flags)
    merged = _merge(file_cfg, given)
    for section, key in _ADDITIVE:
        base = file_cfg.get(section, {}) if isinstance(file_cfg.get(section), dict) else {}
        added = given.get(section, {}).get(key)
        if isinstance(base.get(key), list) and isinstance(added, list):
            merged[section][key] = [*base[key], *(e for e in added if e not in base[key])]
    merged["project"] = project
    try:
        return RunConfig.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        tags = {"docker", "regorus", "opa"}  # discriminator tags pydantic puts into the path
        where = ".".join(str(p) for i, p in enumerate(err["loc"])
                         if not (i and p in tags and err["loc"][i - 1] in ("sandbox", "engine")))
        source = project / "sandbox-runner.toml"
        message = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{where}: {message}", path=source if file_cfg else None) from None
