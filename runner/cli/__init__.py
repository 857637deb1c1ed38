"""The ``sandbox-runner`` command line.

Commands stay thin: parse, build config, call the library, render. One convention
(runner/cli/output.py): ``-f/--format``, ``-h``, and every error - a
:class:`~runner.errors.RunnerError` or a click usage error - becomes one line on stderr
(or a JSON error object on stdout when JSON was asked for) and its exit code; nothing
prints a traceback for bad input.

The root group is lazy: a subcommand's module (and the library it calls) is imported when
that command is used, so ``--version`` and ``--help`` import click and this package only.
``COMMANDS`` names each command's ``module:attr`` and its short help (the first sentence
of its docstring, which ``tests/cli/test_lazy.py`` holds equal to the command's own).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import click

# No pydantic plugin is loaded into the runner (unless PYDANTIC_DISABLE_PLUGINS says
# otherwise): a plugin sees every value validated, tool inputs and secrets included, and
# finding the installed ones scans every distribution's entry points (~20 ms of each start).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from runner import __version__, heap
from runner.cli.output import ARGV_KEY, CONTEXT_SETTINGS, fail
from runner.errors import RunnerError


class LazyCommand(NamedTuple):
    target: str  # "module:attr"
    help: str  # the short help shown by the root's --help and by completion
    settles: bool = False  # the command ends its own start-up (heap.settle), not its import


COMMANDS: dict[str, LazyCommand] = {
    "agent": LazyCommand("runner.cli.agent:agent",
                         "Agent files (Claude Code subagent markdown)."),
    "audit": LazyCommand("runner.cli.audit:audit",
                         "Read, verify and replay a run's decision log (RUN_DIR or its "
                         "decisions.jsonl)."),
    "doctor": LazyCommand("runner.cli.doctor:doctor",
                          "Check that this machine can run agents; exit 4 without Docker, 2 for "
                          "bad policies."),
    "engine": LazyCommand("runner.cli.engine:engine",
                          "Configure the local Docker engine (docs/isolation.md)."),
    "env": LazyCommand("runner.cli.env:env",
                       "Build and inspect project environment images (docs/environments.md)."),
    "image": LazyCommand("runner.cli.image:image", "Build and inspect the sandbox image."),
    "policy": LazyCommand("runner.cli.policy:policy",
                          "Decide tool calls with the Rego policies, and test the policies."),
    "report": LazyCommand("runner.cli.report:report",
                          "Render a run directory: summary (md, json, html) or findings for CI "
                          "(sarif, github, gitlab)."),
    "run": LazyCommand("runner.cli.run:run_cmd", "Run an agent on PROJECT_DIR inside the sandbox.",
                       settles=True),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on use: ``get_command`` imports the one asked
    for; ``list_commands``, the help page and name completion read the table only."""

    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, LazyCommand] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, attr = self.lazy[cmd_name].target.partition(":")
            cmd = getattr(importlib.import_module(module), attr)
            if not isinstance(cmd, click.Command):
                raise TypeError(f"{self.lazy[cmd_name].target} is not a click command")
            self.add_command(cmd, cmd_name)
            if not self.lazy[cmd_name].settles:
                heap.settle()  # its start-up was the import
        return self.commands.get(cmd_name)

    def _short_help(self, ctx: click.Context, name: str, limit: int) -> str | None:
        """The short help of ``name`` without importing it (``None``: hidden or unknown)."""
        if name in self.commands:
            cmd = self.commands[name]
            return None if cmd.hidden else cmd.get_short_help_str(limit)
        if name in self.lazy:  # shortened as click shortens a docstring
            return click.Command(name, help=self.lazy[name].help).get_short_help_str(limit)
        return None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = [n for n in self.list_commands(ctx) if self._short_help(ctx, n, 45) is not None]
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = [(n, self._short_help(ctx, n, limit) or "") for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        items = [CompletionItem(n, help=self._short_help(ctx, n, 45))
                 for n in self.list_commands(ctx)
                 if n.startswith(incomplete) and self._short_help(ctx, n, 45) is not None]
        items.extend(click.Command.shell_complete(self, ctx, incomplete))
        return items


class RunnerGroup(LazyGroup):
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
        heap.pause()  # until the command's start-up is over (runner/heap.py)
        try:
            return super().invoke(ctx)
        except RunnerError as exc:
            fail(ctx, exc, exc.exit_code)
        except click.ClickException as exc:  # usage errors, bad option values: exit 2
            fail(ctx, exc, exc.exit_code)
        finally:
            heap.settle()


@click.group(cls=RunnerGroup, context_settings=CONTEXT_SETTINGS, lazy=COMMANDS)
@click.version_option(__version__, prog_name="sandbox-runner")
def main() -> None:
    """Run an LLM coding agent on your code without trusting it.

    Every command takes -h; commands that print results take -f/--format (text or json);
    with JSON asked for, errors are a JSON object on stdout. Exit codes: 0 ok, 1 gates or
    checks failed, 2 bad input, 3 run failed, 4 environment.
    """


def load_all(group: click.Group = main) -> None:
    """Import every subcommand (a walk of the whole tree: tests, docs generation)."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        group.get_command(ctx, name)
