"""`sandbox-runner env` commands: the project environment image."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from runner.config import build_run_config
from runner.env.setup import build_project_environment


@click.group("env")
def env() -> None:
    """Build and inspect project environment images (docs/environments.md)."""


@env.command("build")
@click.argument("project_dir", type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Build the environment image anew even when "
              "one with the same inputs exists.")
@click.option("--setup-secret", "setup_secrets", multiple=True, metavar="NAME",
              help="Host environment variable given to the setup phase only (repeatable).")
@click.option("--json", "json_output", is_flag=True, help="Print the result as JSON.")
def build(project_dir: Path, rebuild: bool, setup_secrets: tuple[str, ...],
          json_output: bool) -> None:
    """Build (or reuse) PROJECT_DIR's environment image and print its ref."""
    cfg = build_run_config(project_dir, {"environment": {"secrets": list(setup_secrets)}})
    err = Console(stderr=True, highlight=False)

    def progress(line: str) -> None:  # sandbox output: never markup
        err.print(line, markup=False, style="bold" if line.startswith("==>") else "dim")

    report = build_project_environment(cfg, progress=progress, rebuild=rebuild)
    state = "built" if report.built else "reused"
    err.print(f"environment {report.kind}: {state} in {report.seconds:.1f}s"
              + (f" (setup log {report.log_dir})" if report.log_dir else ""), markup=False)
    click.echo(json.dumps(report.model_dump(mode="json"), indent=2) if json_output
               else report.ref)


COMMANDS: list[click.Command] = [env]
