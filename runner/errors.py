"""The errors that end a run (or a command).

One root, :class:`RunnerError`. Leaves also subclass the matching builtin and
carry their data as attributes. Each error knows the process exit code it maps
to (see docs/design.md "Exit codes"): 2 bad input, 3 run failed, 4 environment.

Errors the *model* sees (a denied or failed tool call) are not exceptions of
this hierarchy: they travel back to the model as tool results
(see ``runner.agent.tools.ToolError``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


def first_error(exc: ValidationError, where_default: str = "") -> str:
    """The first problem of a pydantic validation error as one line: ``loc.path: message``."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or where_default
    return f"{where}: {err['msg']}" if where else str(err["msg"])


class RunnerError(Exception):
    """Root of every error that ends a sandbox-runner command."""

    exit_code: int = 3


# --- bad input (exit 2) ---------------------------------------------------------------


class InputError(RunnerError, ValueError):
    """Bad usage or bad input: config, policy, agent file, scenario, tool call."""

    exit_code = 2

    def __init__(self, message: str, *, path: Path | str | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.detail = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class ConfigError(InputError):
    """Invalid configuration (flags, environment, sandbox-runner.toml, pyproject.toml);
    ``file:line:col: problem`` when the file's position is known (TOML syntax errors)."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        super().__init__(message, path=path)
        self.line = line
        self.column = column
        if path is not None and line is not None:
            where = f"{path}:{line}" + (f":{column}" if column is not None else "")
            Exception.__init__(self, f"{where}: {message}")


class PolicyCompileError(InputError):
    """A Rego policy or its data does not compile/load."""

    def __init__(
        self, message: str, *, path: Path | str | None = None, line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.line = line
        self.column = column
        loc = str(path) if path is not None else "<policy>"
        if line is not None:
            loc += f":{line}"
            if column is not None:
                loc += f":{column}"
        self.path = str(path) if path is not None else None
        self.detail = message
        Exception.__init__(self, f"{loc}: {message}")


class AgentFileError(InputError):
    """The agent definition file is missing or malformed (``file:line: problem``)."""

    def __init__(self, message: str, *, path: Path | str | None = None,
                 line: int | None = None) -> None:
        self.line = line
        self.file = str(path) if path is not None else None
        where = f"{path}:{line}" if path is not None and line is not None else path
        super().__init__(message, path=where)


class ScenarioError(InputError):
    """The scripted-model scenario file is missing or malformed."""


class ProjectError(InputError):
    """The project directory is missing required files or is unusable."""


# --- the run failed (exit 3) ------------------------------------------------------------


class RunFailed(RunnerError, RuntimeError):
    """The run could not complete: agent error, model error, budget, self-check."""

    exit_code = 3


class RunTimeout(RunFailed, TimeoutError):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"run timed out after {seconds:g}s")


class SelfCheckFailed(RunFailed):
    def __init__(self, failed: list[str]) -> None:
        self.failed = failed
        super().__init__("sandbox self-check failed: " + ", ".join(failed))


class ModelAPIError(RunFailed, ConnectionError):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class BudgetExceeded(RunFailed):
    def __init__(self, what: str, limit: int) -> None:
        self.what = what
        self.limit = limit
        super().__init__(f"run budget exceeded: {what} > {limit}")


class AuditLogFull(RunFailed, OSError):
    """The decision log reached its size cap: no further call can be logged, so none may run."""

    def __init__(self, path: Path | str, limit: int) -> None:
        self.path = str(path)
        self.limit = limit
        RuntimeError.__init__(self, f"decision log {self.path} reached its cap of {limit} bytes; "
                                    "every further call is denied and the run stops")


class Interrupted(RunFailed, KeyboardInterrupt):
    def __init__(self, signal_name: str) -> None:
        self.signal_name = signal_name
        Exception.__init__(self, f"interrupted by {signal_name}")


# --- environment (exit 4) --------------------------------------------------------------


class EnvironmentProblem(RunnerError, OSError):
    exit_code = 4


class DockerUnavailable(EnvironmentProblem):
    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"Docker engine not reachable: {detail}")


class ImageBuildError(EnvironmentProblem):
    def __init__(self, step: str, detail: str) -> None:
        self.step = step
        self.detail = detail
        super().__init__(f"image build failed at {step}: {detail}")


class EnvironmentBuildError(ImageBuildError):
    """The project environment could not be built: unresolvable requirements, a failing
    setup command, a base image that cannot be had. ``tail``: the failing step's last lines
    (already sanitized and redacted by the builder). Nothing half-built is tagged."""

    def __init__(self, step: str, detail: str, tail: list[str] | None = None) -> None:
        self.step = step
        self.detail = detail
        self.tail = list(tail or [])
        message = f"environment build failed at {step}: {detail}"
        if self.tail:
            message += "\n" + "\n".join(f"  | {line}" for line in self.tail)
        EnvironmentProblem.__init__(self, message)


class OPAUnavailable(EnvironmentProblem):
    pass
