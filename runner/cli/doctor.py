"""`sandbox-runner doctor`: check Python, Docker, the image, the Rego engine and the policies."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from runner.cli.output import CONTEXT_SETTINGS, echo_json, error_payload, format_option
from runner.config import PolicyConfig
from runner.doctor import run_doctor
from runner.sanitize import one_line

STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red", "info": "cyan"}


@click.command("doctor", context_settings=CONTEXT_SETTINGS)
@click.option("--cleanup", is_flag=True, help="Remove leftover sandbox containers.")
@click.option("--run-id", help="Only look at (and clean up) the containers of this run.")
@click.option(
    "--policy-dir",
    "policy_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Check these policies instead of the bundled ones (repeatable).",
)
@click.option("--data", type=click.Path(path_type=Path), help="Policy data JSON file.")
@click.option("--project", type=click.Path(path_type=Path),
              help="Also show this project's environment image (built or not).")
@format_option(help="text: a table; json: {ok, checks: [{name, status, detail}], error}.")
def doctor(
    cleanup: bool, run_id: str | None, policy_dirs: tuple[Path, ...], data: Path | None,
    project: Path | None, fmt: str,
) -> None:
    """Check that this machine can run agents; exit 4 without Docker, 2 for bad policies."""
    report = run_doctor(
        PolicyConfig(dirs=list(policy_dirs), data=data), cleanup=cleanup, run_id=run_id,
        project=project,
    )
    error = report.error
    if fmt == "json":
        code = report.exit_code
        echo_json({"ok": not code, "checks": [{"name": c.name, "status": c.status,
                                               "detail": one_line(c.detail, 2000)}
                                              for c in report.checks],
                   "error": error_payload(error, code) if error is not None else None})
        raise SystemExit(code)
    table = Table("check", "status", "detail", title="sandbox-runner doctor")
    for check in report.checks:
        table.add_row(
            check.name, Text(check.status, style=STYLES[check.status]), Text(check.detail)
        )
    Console().print(table)
    if error is not None:
        raise error
    if report.exit_code:
        raise SystemExit(report.exit_code)
