"""`sandbox-runner agent check`: how this runtime reads an agent file."""

from __future__ import annotations

import sys

import click

from runner.agentdef import load_agent_file
from runner.cli.output import CONTEXT_SETTINGS, echo_json, error_payload, format_option
from runner.errors import AgentFileError
from runner.runtime_tools import RUNTIMES, claude_tool_args, policy_tool_names


@click.group("agent", context_settings=CONTEXT_SETTINGS)
def agent() -> None:
    """Agent files (Claude Code subagent markdown)."""


@agent.command("check")
@click.argument("file")
@format_option(json_alias=True)
@click.option("--runtime", type=click.Choice(RUNTIMES), default="builtin", show_default=True,
              help="The runtime whose view of the file to show (its tools differ).")
def check_cmd(file: str, fmt: str, runtime: str) -> None:
    """Load FILE (or a bundled agent name) as a run would: name, model, tools granted and
    dropped, keys ignored, warnings. Exit 0 when it loads, 2 (file:line: problem) when not."""
    try:
        load = load_agent_file(file, runtime="claude-code" if runtime == "claude-code" else "builtin")
    except AgentFileError as exc:
        if fmt != "json":
            raise
        echo_json({"loadable": False, "file": exc.file, "line": exc.line,
                   "problem": exc.detail, "error": error_payload(exc, exc.exit_code)})
        sys.exit(exc.exit_code)
    summary, lines = load.summary(), load.report_lines()
    if load.runtime == "claude-code":  # what the claude binary is started with, and the host checks
        summary["claude_args"] = claude_tool_args(load.tools)
        summary["policy_tools"] = policy_tool_names(load.tools)
        lines += [f"claude arguments: {' '.join(repr(a) if not a or ',' in a else a for a in summary['claude_args'])}",
                  f"decided by the policies as: {', '.join(summary['policy_tools']) or '(none)'}"]
    if fmt == "json":
        echo_json(summary)
    else:
        click.echo("\n".join(lines))
