"""The ``sandbox-runner`` command line.

Commands stay thin: parse, build config, call the library, render. One convention
(runner/cli/output.py): ``-f/--format``, ``-h``, and every error - a
:class:`~runner.errors.RunnerError` or a click usage error - becomes one line on stderr
(or a JSON error object on stdout when JSON was asked for) and its exit code; nothing
prints a traceback for bad input.
"""

from __future__ import annotations

from typing import Any

import click

from runner import __version__
from runner.cli.output import ARGV_KEY, CONTEXT_SETTINGS, fail
from runner.errors import RunnerError


class RunnerGroup(click.Group):
    """The root group: every error of a subcommand ends through :func:`output.fail`."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        argv = list(args)
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except click.ClickException as exc:  # `sandbox-runner --bogus`: one line too
            fail(None, exc, exc.exit_code, argv)
        ctx.meta[ARGV_KEY] = argv
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RunnerError as exc:
            fail(ctx, exc, exc.exit_code)
        except click.ClickException as exc:  # usage errors, bad option values: exit 2
            fail(ctx, exc, exc.exit_code)


@click.group(cls=RunnerGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="sandbox-runner")
def main() -> None:
    """Run an LLM coding agent on your code without trusting it.

    Every command takes -h; commands that print results take -f/--format (text or json);
    with JSON asked for, errors are a JSON object on stdout. Exit codes: 0 ok, 1 gates or
    checks failed, 2 bad input, 3 run failed, 4 environment.
    """


def _register() -> None:
    from runner.cli import agent, audit, doctor, env, image, policy, report, run

    for mod in (policy, agent, audit, doctor, image, env, report, run):
        for cmd in getattr(mod, "COMMANDS", []):
            main.add_command(cmd)


_register()
