"""`sandbox-runner agent check`: how this runtime reads an agent file."""

from __future__ import annotations

import json
import sys

import click

from runner.agentdef import load_agent_file
from runner.errors import AgentFileError
from runner.runtime_tools import RUNTIMES, claude_tool_args, policy_tool_names


@click.group("agent")
def agent() -> None:
    """Agent files (Claude Code subagent markdown)."""


@agent.command("check")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--runtime", type=click.Choice(RUNTIMES), default="builtin", show_default=True,
              help="The runtime whose view of the file to show (its tools differ).")
def check_cmd(file: str, as_json: bool, runtime: str) -> None:
    """Load FILE (or a bundled agent name) as a run would: name, model, tools granted and
    dropped, keys ignored, warnings. Exit 0 when it loads, 2 (file:line: problem) when not."""
    try:
        load = load_agent_file(file, runtime="claude-code" if runtime == "claude-code" else "builtin")
    except AgentFileError as exc:
        if as_json:
            click.echo(json.dumps({"loadable": False, "file": exc.file, "line": exc.line,
                                   "problem": exc.detail}))
        click.echo(str(exc), err=True)
        sys.exit(exc.exit_code)
    summary, lines = load.summary(), load.report_lines()
    if load.runtime == "claude-code":  # what the claude binary is started with, and the host checks
        summary["claude_args"] = claude_tool_args(load.tools)
        summary["policy_tools"] = policy_tool_names(load.tools)
        lines += [f"claude arguments: {' '.join(repr(a) if not a or ',' in a else a for a in summary['claude_args'])}",
                  f"decided by the policies as: {', '.join(summary['policy_tools']) or '(none)'}"]
    click.echo(json.dumps(summary, indent=2) if as_json else "\n".join(lines))


COMMANDS: list[click.Command] = [agent]
