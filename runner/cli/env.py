"""`sandbox-runner env` commands: the project environment image."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from runner.cli.output import CONTEXT_SETTINGS, echo_json, format_option
from runner.config import build_run_config
from runner.env.setup import build_project_environment


@click.group("env", context_settings=CONTEXT_SETTINGS)
def env() -> None:
    """Build and inspect project environment images (docs/environments.md)."""


@env.command("build")
@click.argument("project_dir", type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Build the environment image anew even when "
              "one with the same inputs exists.")
@click.option("--setup-secret", "setup_secrets", multiple=True, metavar="NAME",
              help="Host environment variable given to the setup phase only (repeatable).")
@format_option(json_alias=True, help="text: the image ref; json: the build report.")
def build(project_dir: Path, rebuild: bool, setup_secrets: tuple[str, ...],
          fmt: str) -> None:
    """Build (or reuse) PROJECT_DIR's environment image and print its ref."""
    cfg = build_run_config(project_dir, {"environment": {"secrets": list(setup_secrets)}})
    err = Console(stderr=True, highlight=False)

    def progress(line: str) -> None:  # sandbox output: never markup
        err.print(line, markup=False, style="bold" if line.startswith("==>") else "dim")

    report = build_project_environment(cfg, progress=progress, rebuild=rebuild)
    state = "built" if report.built else "reused"
    err.print(f"environment {report.kind}: {state} in {report.seconds:.1f}s"
              + (f" (setup log {report.log_dir})" if report.log_dir else ""), markup=False)
    if fmt == "json":
        echo_json(report.model_dump(mode="json"))
    else:
        click.echo(report.ref)
