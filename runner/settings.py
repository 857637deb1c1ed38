"""``SANDBOX_RUNNER_*`` environment variables: one layer of the run configuration.

Precedence: defaults < ``sandbox-runner.toml`` / ``[tool.sandbox-runner]`` < environment <
command-line flags (runner/config.py ``build_run_config``). pydantic-settings reads the
variables for every field of the model it is given (``RunConfig``: a field added there is
covered here without a change), case-insensitively:

- ``SANDBOX_RUNNER_<FIELD>`` sets a top-level field (``SANDBOX_RUNNER_MAX_TURNS=20``);
  lists and tables take JSON (``SANDBOX_RUNNER_MODEL_ALIASES='{"fast": "..."}'``);
- ``SANDBOX_RUNNER_<SECTION>__<FIELD>`` a field of a section, to any depth
  (``SANDBOX_RUNNER_GATEWAY__MAX_REQUESTS=50``, ``SANDBOX_RUNNER_SANDBOX__LIMITS__PIDS=128``);
- the short names of ``run``'s flags for section fields (``ALIASES``): ``POLICY_DIR``
  (``os.pathsep``-separated), ``DATA``, ``IMAGE``, ``TEST_COMMAND``, ``COVERAGE_THRESHOLD``;
  the nested spelling wins when both are set.

An empty variable counts as unset. The values are validated with the model, so a bad one
is a ConfigError (exit 2) naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, create_model

from runner.errors import ConfigError

if TYPE_CHECKING:  # imported when a variable is set: most runs set none (~60 ms of imports)
    from pydantic_settings import BaseSettings

ENV_PREFIX = "SANDBOX_RUNNER_"
NESTED = "__"
# Not settable from the environment: the positional PROJECT_DIR.
EXCLUDED = frozenset({"project"})
# Short names for `run`'s flags whose field sits in a section: name -> (path, is a list).
ALIASES: dict[str, tuple[tuple[str, ...], bool]] = {
    "POLICY_DIR": (("policy", "dirs"), True),
    "DATA": (("policy", "data"), False),
    "IMAGE": (("sandbox", "image"), False),
    "TEST_COMMAND": (("verify", "test_command"), False),
    "COVERAGE_THRESHOLD": (("verify", "coverage_threshold"), False),
}


def _settings_class(model: type[BaseModel]) -> type[BaseSettings]:
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class _EnvBase(BaseSettings):
        model_config = SettingsConfigDict(extra="ignore")

    fields: dict[str, Any] = {name: (info.annotation | None, None)  # type: ignore[operator]
                              for name, info in model.model_fields.items()
                              if name not in EXCLUDED}
    return create_model(f"{model.__name__}Env", __base__=_EnvBase, **fields)


def _environ(environ: Mapping[str, str] | None) -> dict[str, str]:
    """The prefixed, non-empty variables, names upper-cased."""
    src = os.environ if environ is None else environ
    return {k.upper(): v for k, v in src.items() if k.upper().startswith(ENV_PREFIX) and v}


def _set(out: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = out
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node.setdefault(path[-1], value)  # the nested spelling wins


def env_config(model: type[BaseModel], environ: Mapping[str, str] | None = None
               ) -> dict[str, Any]:
    """The configuration the ``SANDBOX_RUNNER_*`` variables give (not yet validated)."""
    env = _environ(environ)
    if not env:
        return {}
    from pydantic_settings import EnvSettingsSource, SettingsError

    source = EnvSettingsSource(_settings_class(model), case_sensitive=False,
                               env_prefix=ENV_PREFIX, env_nested_delimiter=NESTED,
                               env_ignore_empty=True)
    source.env_vars = {k.lower(): v for k, v in env.items()}  # what it reads: these only
    try:
        out: dict[str, Any] = dict(source())
    except SettingsError as exc:
        field = str(exc).split('"')[1] if '"' in str(exc) else ""
        names = sorted(k for k in env if k.startswith(f"{ENV_PREFIX}{field.upper()}"))
        raise ConfigError(f"{', '.join(names) or 'environment'}: not valid JSON "
                          "(lists and tables take JSON)") from None
    for name, (path, is_list) in ALIASES.items():
        value = env.get(ENV_PREFIX + name)
        if value is not None:
            _set(out, path, [p for p in value.split(os.pathsep) if p] if is_list else value)
    return out


def variable_for(loc: tuple[str | int, ...], environ: Mapping[str, str] | None = None
                 ) -> str | None:
    """The variable that set the value at ``loc`` (a field path), if one did."""
    env = _environ(environ)
    keys = [str(p) for p in loc if isinstance(p, str)]
    for depth in range(len(keys), 0, -1):
        name = ENV_PREFIX + NESTED.join(keys[:depth]).upper()
        if name in env:
            return name
    for name, (path, _) in ALIASES.items():
        if tuple(keys[: len(path)]) == path and ENV_PREFIX + name in env:
            return ENV_PREFIX + name
    return None
