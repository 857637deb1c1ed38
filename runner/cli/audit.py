"""`sandbox-runner audit` commands: show, verify, replay and export a run's decision log."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

import click
from rich.console import Console

from runner.audit import (
    TRANSCRIPT_NAME,
    check_signature,
    cross_check,
    load_key,
    load_rows,
    read_log,
    recorded_head,
    render_table,
    replay,
    resolve_log,
    verify_log,
)
from runner.audit.export import EXPORT_FORMATS, opa_events, upload_body, write_export
from runner.audit.show import TABLE_ROWS
from runner.config import PolicyConfig
from runner.sanitize import one_line

MAX_PROBLEMS = 50

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
@click.option("--key", "key_file", type=click.Path(path_type=Path),
              help="Host audit key: also check the chain head signed in audit.sig.")
@click.pass_context
def verify(ctx: click.Context, run_dir: Path, key_file: Path | None) -> None:
    """Recompute the hash chain; exit 1 naming the first bad seq when it is broken.

    With --key, the head must be the one signed with that key at the end of the run
    (a log rewritten and re-chained is caught). When the run's transcript.jsonl is
    there, every decision must answer a tool_use block of a model response.
    """
    log = resolve_log(run_dir)
    key = load_key(key_file) if key_file is not None else None
    result = verify_log(log, expected_head=recorded_head(log.parent))
    if not result.ok:
        where = f"first bad seq {result.first_bad_seq}: " if result.first_bad_seq is not None else ""
        click.echo(f"tampered: {where}{one_line(result.problem, 1000)}")
        ctx.exit(1)
    extra: list[str] = []
    if key is not None:
        sig = check_signature(log.parent, log, result, key)
        if not sig.ok:
            click.echo(f"tampered: {one_line(sig.problem, 1000)}")
            ctx.exit(1)
        extra.append(f"signed: head signed with key {key.key_id}")
    transcript = log.parent / TRANSCRIPT_NAME
    if transcript.is_file():
        check = cross_check(read_log(log), transcript)
        if not check.ok:
            click.echo(f"unmatched: {len(check.problems)} problem(s) matching the decisions "
                       f"against the tool_use blocks of {TRANSCRIPT_NAME}")
            for problem in check.problems[:MAX_PROBLEMS]:
                click.echo(f"  {one_line(problem.problem)}")
            if len(check.problems) > MAX_PROBLEMS:
                click.echo(f"  … {len(check.problems) - MAX_PROBLEMS} more")
            ctx.exit(1)
        extra.append(f"transcript: {check.matched} decisions match tool_use blocks of "
                     f"{TRANSCRIPT_NAME}")
        if check.connections:
            extra.append(f"egress: {check.connections} connection decisions (the proxy's)")
        extra += [f"note: {one_line(n)}" for n in check.notes[:MAX_PROBLEMS]]
    else:
        click.echo(f"note: no {TRANSCRIPT_NAME}: decisions not matched against the model's "
                   "calls", err=True)
    click.echo(f"ok: {result.count} decisions, head {result.head_hash}")
    for line in extra:
        click.echo(line)


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


@audit.command("export")
@RUN_DIR
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="opa",
              show_default=True,
              help="opa: OPA's decision-log upload body (a gzip-compressed JSON array of events).")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="Write here (whole or not at all) instead of stdout.")
@click.option("--extensions", is_flag=True,
              help="Keep seq, prev_hash, hash, format and tool_use_id in each event.")
def export(run_dir: Path, fmt: str, output: Path | None, extensions: bool) -> None:
    """Export the decision log for an OPA-compatible decision-log service.

    The log must verify first. The body is what OPA itself POSTs to a log service
    (Content-Encoding: gzip, Content-Type: application/json).
    """
    log = resolve_log(run_dir)
    stdout: BinaryIO = sys.stdout.buffer
    if output is None and stdout.isatty():
        raise click.UsageError("the export is gzip data: give --output FILE or redirect stdout")
    events = opa_events(log, extensions=extensions)
    write_export(upload_body(events), output, stdout)
    if output is not None:
        click.echo(f"exported {len(events)} decisions ({fmt}) to {one_line(str(output))}",
                   err=True)


COMMANDS: list[click.Command] = [audit]
