"""`sandbox-runner report RUN_DIR [--format md|json|html] [--output FILE]`."""

from __future__ import annotations

from pathlib import Path

import click

from runner.errors import InputError
from runner.reports.html import render_html
from runner.reports.markdown import render_markdown
from runner.reports.summary import load_summary


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror or exc}", path=path) from None


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["md", "json", "html"]), default="md",
              show_default=True, help="md and json go to stdout, html to RUN_DIR/report.html.")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the report to this file instead.")
def report(run_dir: Path, fmt: str, output: Path | None) -> None:
    """Render a run directory's summary as markdown, JSON or a self-contained HTML report."""
    if not run_dir.is_dir():
        raise InputError("run directory does not exist", path=run_dir)
    if fmt == "html":
        target = output or run_dir / "report.html"
        _write(target, render_html(run_dir))
        click.echo(str(target))
        return
    summary = load_summary(run_dir)
    text = render_markdown(summary) if fmt == "md" else summary.model_dump_json(indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        _write(output, text)
        click.echo(str(output))


COMMANDS: list[click.Command] = [report]
