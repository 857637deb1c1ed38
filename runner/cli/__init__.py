"""The ``sandbox-runner`` command line.

Commands stay thin: parse, build config, call the library, render. Every
:class:`~runner.errors.RunnerError` becomes one line on stderr and its exit
code; nothing prints a traceback for bad input.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from runner import __version__
from runner.errors import RunnerError


class RunnerGroup(click.Group):
    """A group that turns RunnerError (and unexpected errors) into one line + exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RunnerError as exc:
            click.echo(f"sandbox-runner: error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=RunnerGroup)
@click.version_option(__version__, prog_name="sandbox-runner")
def main() -> None:
    """Run an LLM coding agent on your code without trusting it."""


def _register() -> None:
    from runner.cli import agent, audit, doctor, env, image, policy, report, run

    for mod in (policy, agent, audit, doctor, image, env, report, run):
        for cmd in getattr(mod, "COMMANDS", []):
            main.add_command(cmd)


_register()
