"""`sandbox-runner agent check`: how this runtime reads an agent file."""

from __future__ import annotations

import sys

import click

from runner.agentdef import load_agent_file
from runner.cli.output import CONTEXT_SETTINGS, echo_json, error_payload, format_option
from runner.errors import AgentFileError


@click.group("agent", context_settings=CONTEXT_SETTINGS)
def agent() -> None:
    """Agent files (Claude Code subagent markdown)."""


@agent.command("check")
@click.argument("file")
@format_option(json_alias=True)
def check_cmd(file: str, fmt: str) -> None:
    """Load FILE (or a bundled agent name) as a run would: name, model, tools granted and
    dropped, keys ignored, warnings. Exit 0 when it loads, 2 (file:line: problem) when not."""
    try:
        load = load_agent_file(file)
    except AgentFileError as exc:
        if fmt != "json":
            raise
        echo_json({"loadable": False, "file": exc.file, "line": exc.line,
                   "problem": exc.detail, "error": error_payload(exc, exc.exit_code)})
        sys.exit(exc.exit_code)
    if fmt == "json":
        echo_json(load.summary())
    else:
        click.echo("\n".join(load.report_lines()))


COMMANDS: list[click.Command] = [agent]
