"""`sandbox-runner agent check`: how this runtime reads an agent file."""

from __future__ import annotations

import json
import sys

import click

from runner.agentdef import load_agent_file
from runner.errors import AgentFileError


@click.group("agent")
def agent() -> None:
    """Agent files (Claude Code subagent markdown)."""


@agent.command("check")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check_cmd(file: str, as_json: bool) -> None:
    """Load FILE (or a bundled agent name) as a run would: name, model, tools granted and
    dropped, keys ignored, warnings. Exit 0 when it loads, 2 (file:line: problem) when not."""
    try:
        load = load_agent_file(file)
    except AgentFileError as exc:
        if as_json:
            click.echo(json.dumps({"loadable": False, "file": exc.file, "line": exc.line,
                                   "problem": exc.detail}))
        click.echo(str(exc), err=True)
        sys.exit(exc.exit_code)
    click.echo(json.dumps(load.summary(), indent=2) if as_json else "\n".join(load.report_lines()))


COMMANDS: list[click.Command] = [agent]
