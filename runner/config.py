"""Configuration: CLI flags > ``SANDBOX_RUNNER_*`` environment variables (runner/settings.py)
> ``sandbox-runner.toml`` / ``[tool.sandbox-runner]`` > defaults.

One config class per backend with ``extra="forbid"`` and a ``type`` discriminator. Every
number has a range; a value out of it is a ConfigError (exit 2) naming the field and where
it came from (the file, the variable).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from runner.egress.hosts import BadHost, check_host_entries
from runner.errors import ConfigError
from runner.wire import Runtime

if TYPE_CHECKING:
    from runner.reports.coverage import CoverageScope
# runner.reports.coverage (wcmatch, ElementTree) and runner.settings (pydantic-settings) are
# imported where used: `policy eval` and the gateway read PolicyConfig without them, and a run
# imports the coverage module only when it reports (or a coverage pattern is configured).

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

    memory: str = "2g"  # Docker sizes: bytes or a number with b, k, m, g
    cpus: float = Field(default=1.5, gt=0)
    pids: int = Field(default=256, ge=16)  # never 0 or -1 (Docker: unlimited)
    nofile: int = Field(default=1024, ge=64)
    fsize_mb: int = Field(default=512, ge=1)  # largest single file a process may write
    tmp_size: str = "256m"
    home_size: str = "64m"

    @field_validator("memory", "tmp_size", "home_size")
    @classmethod
    def _size(cls, value: str) -> str:
        from docker.errors import DockerException
        from docker.utils import parse_bytes

        try:
            size = parse_bytes(value)
        except (DockerException, ValueError, TypeError):
            raise ValueError(f"{value!r} is not a size (bytes, or a number with b, k, m "
                             "or g)") from None
        if size <= 0:
            raise ValueError(f"{value!r}: the size must be greater than 0")
        return value


class DockerSandboxConfig(_Cfg):
    type: Literal["docker"] = "docker"
    image: str | None = None  # None: the built, input-hashed sandbox image
    base_image: str = "python:3.11-slim"
    limits: Limits = Field(default_factory=Limits)
    # used when the project owner is root: never run as uid/gid 0
    fallback_uid: int = Field(default=10001, ge=1, le=2**32 - 2)
    fallback_gid: int = Field(default=10001, ge=1, le=2**32 - 2)


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
    timeout: float = Field(default=2.0, gt=0)


EngineConfig = Annotated[
    Annotated[RegorusEngineConfig, Tag("regorus")] | Annotated[OPAEngineConfig, Tag("opa")],
    Discriminator(_backend_type("regorus")),
]


class PolicyConfig(_Cfg):
    dirs: list[Path] = Field(default_factory=list)  # empty: the bundled policies/
    data: Path | None = None  # overrides the bundle's data.json
    engine: EngineConfig = Field(default_factory=RegorusEngineConfig)
    # decide the tool calls of a model's answer before the agent asks (runner/gateway/ahead.py):
    # nothing is logged or answered ahead; the agent's request is then a checked repeat
    decide_ahead: bool = True


class GatewayConfig(_Cfg):
    max_requests: int = Field(default=200, ge=1)
    max_tokens: int = Field(default=2_000_000, ge=1)
    retries: int = Field(default=4, ge=0, le=100)
    backoff_base: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=20.0, ge=0)
    request_timeout: float = Field(default=300.0, gt=0)
    # Per-request caps on what the agent may ask for (runner/gateway/limits.py has the rest).
    max_request_tokens: int = Field(default=32_000, ge=1)  # larger max_tokens are clamped
    max_body_mb: int = Field(default=32, ge=1)  # a larger /v1/messages body is refused (413)
    max_log_mb: int = Field(default=256, ge=1)  # transcript.jsonl stops (with a marker) here


# Test code, not application code: left out of the gated coverage unless configured otherwise
# (runner.reports.coverage.DEFAULT_OMIT is this).
DEFAULT_COVERAGE_OMIT: tuple[str, ...] = (
    "backend/tests/**", "**/conftest.py", "**/test_*.py", "**/*_test.py",
)


def _default_omit() -> list[str]:
    return list(DEFAULT_COVERAGE_OMIT)


class VerifyConfig(_Cfg):
    enabled: bool = True
    test_command: str | None = None  # None: pytest over backend/ with JUnit + Cobertura
    timeout: float = Field(default=600.0, gt=0)
    coverage_threshold: float = Field(default=80.0, ge=0, le=100)  # percent; 0: gate off
    # Globs over project-relative file names (backend/app/main.py) left out of the gated
    # coverage (default: test code), and, when set, the only files counted.
    coverage_omit: list[str] = Field(default_factory=_default_omit)
    coverage_include: list[str] = Field(default_factory=list)

    @field_validator("coverage_omit", "coverage_include")
    @classmethod
    def _scope_patterns(cls, value: list[str], info: ValidationInfo) -> list[str]:
        from runner.reports.coverage import CoverageScope

        field = "omit" if info.field_name == "coverage_omit" else "include"
        try:
            CoverageScope.model_validate({field: value})
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return value

    def coverage_scope(self) -> CoverageScope:
        from runner.reports.coverage import CoverageScope

        return CoverageScope(omit=self.coverage_omit, include=self.coverage_include)


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
    # the kernel wall of the agent and verification containers (docs/isolation.md): runc
    # (the host kernel), gvisor (runsc; exit 4 when the engine lacks it), auto (gvisor if there)
    isolation: Literal["runc", "gvisor", "auto"] = "runc"
    out: Path | None = None
    max_turns: int | None = Field(default=None, ge=1)  # None: the agent file's maxTurns, else
    #                                                    DEFAULT_MAX_TURNS
    timeout: float = Field(default=1800.0, gt=0)
    bash_timeout: float = Field(default=120.0, gt=0)
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


def config_file(project: Path) -> Path | None:
    """The file the project's configuration is read from: ``sandbox-runner.toml``, else a
    ``pyproject.toml`` (its ``[tool.sandbox-runner]`` table), else none."""
    for name in ("sandbox-runner.toml", "pyproject.toml"):
        if (project / name).is_file():
            return project / name
    return None


_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def _toml_error(exc: tomllib.TOMLDecodeError, path: Path, text: str) -> ConfigError:
    """``file:line:col: problem`` (Python < 3.14 puts the position in the message only)."""
    message = str(exc)
    line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    if (m := _TOML_POSITION.search(message)) is not None:
        message = message[: m.start()]
        if m.group(1):
            line, column = int(m.group(1)), int(m.group(2))
        else:  # at the end of the document
            line, column = text.count("\n") + 1, len(text.rsplit("\n", 1)[-1]) + 1
    return ConfigError(f"invalid TOML: {message}", path=path, line=line, column=column)


def load_file_config(project: Path) -> dict[str, Any]:
    """Read ``sandbox-runner.toml`` or ``[tool.sandbox-runner]`` from the project (if any)."""
    path = config_file(project)
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(exc, path, text) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(getattr(exc, "strerror", None) or str(exc), path=path) from None
    if path.name == "sandbox-runner.toml":
        return data
    tool = data.get("tool", {})
    section = tool.get("sandbox-runner", {}) if isinstance(tool, dict) else {}
    if not isinstance(section, dict):
        raise ConfigError("[tool.sandbox-runner] must be a table", path=path)
    return dict(section)


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


def _has(layer: dict[str, Any], loc: tuple[str | int, ...]) -> bool:
    """Does ``layer`` set the value at ``loc`` (or a table or list holding it)?"""
    node: Any = layer
    for key in loc:
        if not isinstance(node, dict):
            return True  # a list (or value) holding the item
        if key not in node:
            return False
        node = node[key]
    return True


def _from_flags(given: dict[str, Any], base: dict[str, Any], loc: tuple[str | int, ...]) -> bool:
    """Did a flag give the value at ``loc``? (A flag's list entries follow the ones below.)"""
    if not _has(given, loc):
        return False
    if len(loc) > 2 and loc[:2] in _ADDITIVE and isinstance(loc[2], int):
        below = base.get(str(loc[0]), {})
        return loc[2] >= len(below.get(loc[1]) or []) if isinstance(below, dict) else True
    return True


def _config_error(exc: ValidationError, layers: tuple[dict[str, Any], ...],
                  source: Path | None) -> ConfigError:
    """The first problem, naming where the value came from: a flag, the variable, the file."""
    file_cfg, env_cfg, given = layers
    err = exc.errors()[0]
    tags = {"docker", "regorus", "opa"}  # discriminator tags pydantic puts into the path
    loc = tuple(p for i, p in enumerate(err["loc"])
                if not (i and p in tags and err["loc"][i - 1] in ("sandbox", "engine")))
    where = ".".join(str(p) for p in loc)
    message = str(err["msg"]).removeprefix("Value error, ")
    if _from_flags(given, _merge(file_cfg, env_cfg), loc):
        return ConfigError(f"{where}: {message}")
    from runner.settings import variable_for

    if _has(env_cfg, loc) and (name := variable_for(loc)) is not None:
        return ConfigError(f"{name}: {where}: {message}")
    if source is not None and _has(file_cfg, loc):
        table = "tool.sandbox-runner." if source.name == "pyproject.toml" else ""
        return ConfigError(f"{table}{where}: {message}", path=source)
    return ConfigError(f"{where}: {message}")


def build_run_config(project: Path, flags: dict[str, Any]) -> RunConfig:
    """Merge defaults < file config < ``SANDBOX_RUNNER_*`` variables < flags (``None``
    flags are ignored) and validate."""
    from runner.settings import env_config

    file_cfg = load_file_config(project)
    env_cfg = env_config(RunConfig)
    base = _merge(file_cfg, env_cfg)
    given = _given(flags)
    merged = _merge(base, given)
    for section, key in _ADDITIVE:
        below = base.get(section, {}) if isinstance(base.get(section), dict) else {}
        added = given.get(section, {}).get(key)
        if isinstance(below.get(key), list) and isinstance(added, list):
            merged[section][key] = [*below[key], *(e for e in added if e not in below[key])]
    merged["project"] = project
    try:
        return RunConfig.model_validate(merged)
    except ValidationError as exc:
        raise _config_error(exc, (file_cfg, env_cfg, given), config_file(project)) from None
