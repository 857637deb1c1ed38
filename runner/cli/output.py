"""The one output convention of every ``sandbox-runner`` command (docs/design.md "CLI").

- ``-f/--format text|json|...`` on every command that prints results (``format_option``);
  ``text`` is for people, ``json`` for scripts (one document; JSON Lines where a command
  streams one object per item: ``policy eval``, ``audit show``).
- Errors: with JSON asked for, ``{"error": {"code": N, "message": ..., "file": ...}}`` on
  stdout; otherwise one line ``sandbox-runner: error: ...`` on stderr. Either way the exit
  code is the error's (2 bad input, 3 run failed, 4 environment; docs/ci.md).
- ``-h`` and ``--help`` everywhere (``CONTEXT_SETTINGS`` on the root group).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click

from runner.errors import AgentFileError, ConfigError, InputError, PolicyCompileError
from runner.sanitize import one_line

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}
TEXT_JSON = ("text", "json")
FORMAT_KEY = "sandbox_runner.format"  # ctx.meta (shared by the whole context tree)
ARGV_KEY = "sandbox_runner.argv"
MAX_MESSAGE = 4000


def _remember(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Eager callback: note the format asked for before any other option can fail, so that
    a bad value of a later option is reported in that format. A default format (json for
    ``policy eval``) does not turn errors into JSON: only ``-f json`` or ``--json`` does."""
    given = ctx.get_parameter_source(param.name or "") is not click.core.ParameterSource.DEFAULT
    if given:
        ctx.meta[FORMAT_KEY] = value
    else:
        ctx.meta.setdefault(FORMAT_KEY, "default")
    return value


def _remember_alias(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[FORMAT_KEY] = "json"
    return value


def format_option(*choices: str, default: str = "text", json_alias: bool = False,
                  help: str | None = None) -> Callable[[F], F]:
    """``-f/--format`` (passed to the command as ``fmt``); with ``json_alias`` also a hidden
    ``--json`` that means ``--format json`` (kept for scripts written before the option)."""
    choices = choices or TEXT_JSON
    if "json" not in choices:
        raise ValueError("every format option offers json")

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            if kwargs.pop("json_alias", False):
                kwargs["fmt"] = "json"
            return func(*args, **kwargs)

        wrapped: Any = click.option(
            "-f", "--format", "fmt", type=click.Choice(choices), default=default,
            show_default=True, is_eager=True, callback=_remember,
            help=help or "Output format.")(command)
        if json_alias:
            wrapped = click.option("--json", "json_alias", is_flag=True, hidden=True,
                                   is_eager=True, callback=_remember_alias,
                                   help="Same as --format json.")(wrapped)
        return wrapped  # type: ignore[no-any-return]

    return decorate


def echo_json(data: Any, *, indent: int | None = 2) -> None:
    """One JSON document (or one JSON Lines line with ``indent=None``) on stdout. ASCII only:
    text from a run (paths, reasons, names) cannot carry terminal controls through."""
    separators = (",", ":") if indent is None else None
    click.echo(json.dumps(data, indent=indent, separators=separators, ensure_ascii=True,
                          default=str))


def _asked_in_argv(args: Sequence[str]) -> bool:
    """Was JSON asked for on a command line that did not parse (or before parsing)?"""
    for i, tok in enumerate(args):
        if tok == "--":
            break
        if tok in ("--json", "--format=json", "-fjson", "-f=json"):
            return True
        if tok in ("-f", "--format") and i + 1 < len(args) and args[i + 1] == "json":
            return True
    return False


def wants_json(ctx: click.Context | None, argv: Sequence[str] = ()) -> bool:
    if ctx is None:
        return _asked_in_argv(argv)
    if FORMAT_KEY in ctx.meta:
        return bool(ctx.meta[FORMAT_KEY] == "json")
    return _asked_in_argv(ctx.meta.get(ARGV_KEY, ()))


def error_payload(exc: BaseException, code: int) -> dict[str, Any]:
    """``{"code", "message", "file"}`` plus ``line``/``column`` when known."""
    message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
    out: dict[str, Any] = {"code": code, "message": one_line(message, MAX_MESSAGE), "file": None}
    if isinstance(exc, AgentFileError):
        out["file"] = exc.file
    elif isinstance(exc, InputError):
        out["file"] = exc.path
    for attr in ("line", "column"):
        value = getattr(exc, attr, None)
        if isinstance(exc, AgentFileError | PolicyCompileError | ConfigError) and value:
            out[attr] = value
    return out


def fail(ctx: click.Context | None, exc: BaseException, code: int,
         argv: Sequence[str] = ()) -> NoReturn:
    """End the command with ``exc``: JSON on stdout when JSON was asked for, else one line
    on stderr; exit ``code``. (``argv``: the command line, when there is no context yet.)"""
    no_args = getattr(click.exceptions, "NoArgsIsHelpError", ())
    if isinstance(exc, no_args):  # a group without a command: its help, as click shows it
        click.echo(exc.format_message(), err=True)
        sys.exit(code)
    if wants_json(ctx, argv):
        echo_json({"error": error_payload(exc, code)})
    else:
        text = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
        lines = text.splitlines() or [""]
        click.echo(f"sandbox-runner: error: {one_line(lines[0], MAX_MESSAGE)}", err=True)
        for line in lines[1:]:  # only errors that carry a (sanitized) tail: a build's last lines
            click.echo(line, err=True)
    sys.exit(code)
