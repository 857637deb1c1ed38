"""`sandbox-runner audit` commands: show, verify and replay a run's decision log."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from runner.audit import load_rows, recorded_head, render_table, replay, resolve_log, verify_log
from runner.audit.show import TABLE_ROWS
from runner.config import PolicyConfig
from runner.sanitize import one_line

RUN_DIR = click.argument("run_dir", type=click.Path(path_type=Path))


@click.group("audit")
def audit() -> None:
    """Read, verify and replay a run's decision log (RUN_DIR or its decisions.jsonl)."""


@audit.command("show")
@RUN_DIR
@click.option("--denied", is_flag=True, help="Only denied calls.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per decision.")
@click.option("--limit", type=click.IntRange(min=0), default=TABLE_ROWS, show_default=True,
              help="Table rows at most (0: all); --json prints every decision.")
def show(run_dir: Path, denied: bool, as_json: bool, limit: int) -> None:
    """Print the logged decisions as a table."""
    rows = load_rows(run_dir, denied_only=denied)
    if as_json:
        for row in rows:
            click.echo(row.model_dump_json())
        return
    title = f"{len(rows)} decisions{' denied' if denied else ''}"
    Console(emoji=False, highlight=False).print(render_table(rows, title=title, limit=limit))


@audit.command("verify")
@RUN_DIR
@click.pass_context
def verify(ctx: click.Context, run_dir: Path) -> None:
    """Recompute the hash chain; exit 1 naming the first bad seq when it is broken."""
    log = resolve_log(run_dir)
    result = verify_log(log, expected_head=recorded_head(log.parent))
    if result.ok:
        click.echo(f"ok: {result.count} decisions, head {result.head_hash}")
        return
    where = f"first bad seq {result.first_bad_seq}: " if result.first_bad_seq is not None else ""
    click.echo(f"tampered: {where}{result.problem}")
    ctx.exit(1)


@audit.command("replay")
@RUN_DIR
@click.option(
    "--policy-dir",
    "policy_dirs",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="Policies to re-decide with (repeatable).",
)
@click.option("--data", type=click.Path(path_type=Path), help="Policy data JSON file.")
@click.option("--fail-on-change", is_flag=True, help="Exit 1 when any decision changes.")
@click.pass_context
def replay_cmd(
    ctx: click.Context,
    run_dir: Path,
    policy_dirs: tuple[Path, ...],
    data: Path | None,
    fail_on_change: bool,
) -> None:
    """Re-decide every logged input under other policies; print the decisions that change."""
    log = resolve_log(run_dir)
    from runner.policy.engine import load_engine

    engine = load_engine(PolicyConfig(dirs=list(policy_dirs), data=data))
    try:
        result = replay(log, engine)
    finally:
        engine.close()
    for c in result.changes:
        reasons = "; ".join(f"{r.policy}.{r.rule}: {r.msg}" for r in c.new.reasons) or "-"
        click.echo(f"seq {c.seq}  {one_line(c.tool)}  {c.transition}  {one_line(c.summary)}\n"
                   f"    now: {one_line(reasons, 1000)}")
    click.echo(f"{len(result.changes)} of {result.total} decisions change")
    if fail_on_change and result.changes:
        ctx.exit(1)


COMMANDS: list[click.Command] = [audit]
