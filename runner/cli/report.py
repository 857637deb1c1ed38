"""`sandbox-runner report RUN_DIR [-f md|json|html|sarif|github|gitlab] [-o FILE]`."""

from __future__ import annotations

from pathlib import Path

import click

from runner.reports.formats import FORMATS, render_report, write_report


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="md", show_default=True,
              help="html goes to RUN_DIR/report.html, the others to stdout; sarif: SARIF 2.1.0, "
                   "github: workflow annotations, gitlab: Code Quality JSON.")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the report to this file instead.")
def report(run_dir: Path, fmt: str, output: Path | None) -> None:
    """Render a run directory: summary (md, json, html) or findings for CI (sarif, github, gitlab)."""
    rendered = render_report(run_dir, fmt)
    target = output or rendered.default_target
    if target is None:
        click.echo(rendered.text, nl=False)
        return
    write_report(target, rendered.text)
    click.echo(str(target))
