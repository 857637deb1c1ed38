"""`sandbox-runner audit` commands: show, verify, replay and export a run's decision log."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, BinaryIO

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
from runner.cli.output import CONTEXT_SETTINGS, echo_json, format_option
from runner.config import PolicyConfig
from runner.sanitize import one_line

MAX_PROBLEMS = 50

RUN_DIR = click.argument("run_dir", type=click.Path(path_type=Path))


@click.group("audit", context_settings=CONTEXT_SETTINGS)
def audit() -> None:
    """Read, verify and replay a run's decision log (RUN_DIR or its decisions.jsonl)."""


@audit.command("show")
@RUN_DIR
@click.option("--denied", is_flag=True, help="Only denied calls.")
@format_option(json_alias=True, help="text: a table; json: one JSON object per decision "
               "(JSON Lines, every decision).")
@click.option("--limit", type=click.IntRange(min=0), default=TABLE_ROWS, show_default=True,
              help="Table rows at most (0: all); json prints every decision.")
def show(run_dir: Path, denied: bool, fmt: str, limit: int) -> None:
    """Print the logged decisions as a table."""
    rows = load_rows(run_dir, denied_only=denied)
    if fmt == "json":
        for row in rows:
            click.echo(row.model_dump_json())
        return
    title = f"{len(rows)} decisions{' denied' if denied else ''}"
    Console(emoji=False, highlight=False).print(render_table(rows, title=title, limit=limit))


def _verify(run_dir: Path, key_file: Path | None) -> dict[str, Any]:
    """The verdict as data: ``status`` ok|tampered|unmatched, and what was checked."""
    log = resolve_log(run_dir)
    key = load_key(key_file) if key_file is not None else None
    result = verify_log(log, expected_head=recorded_head(log.parent))
    out: dict[str, Any] = {"status": "ok", "decisions": result.count, "head": result.head_hash,
                           "first_bad_seq": result.first_bad_seq, "problem": None,
                           "signed_with": None, "transcript": None, "notes": []}
    if not result.ok:
        return {**out, "status": "tampered", "problem": one_line(result.problem, 1000)}
    if key is not None:
        sig = check_signature(log.parent, log, result, key)
        if not sig.ok:
            return {**out, "status": "tampered", "problem": one_line(sig.problem, 1000)}
        out["signed_with"] = key.key_id
    transcript = log.parent / TRANSCRIPT_NAME
    if not transcript.is_file():
        out["notes"] = [f"no {TRANSCRIPT_NAME}: decisions not matched against the model's calls"]
        return out
    check = cross_check(read_log(log), transcript)
    out["transcript"] = {"matched": check.matched, "reasked": check.reasked,
                         "connections": check.connections,
                         "problems": [one_line(p.problem) for p in check.problems[:MAX_PROBLEMS]],
                         "problems_total": len(check.problems)}
    out["notes"] = [one_line(n) for n in check.notes[:MAX_PROBLEMS]]
    return out if check.ok else {**out, "status": "unmatched"}


def _verify_lines(v: dict[str, Any]) -> list[str]:
    if v["status"] == "tampered":
        where = f"first bad seq {v['first_bad_seq']}: " if v["first_bad_seq"] is not None else ""
        return [f"tampered: {where}{v['problem']}"]
    t = v["transcript"]
    if v["status"] == "unmatched":
        more = t["problems_total"] - len(t["problems"])
        return [f"unmatched: {t['problems_total']} problem(s) matching the decisions against "
                f"the tool_use blocks of {TRANSCRIPT_NAME}", *(f"  {p}" for p in t["problems"]),
                *([f"  … {more} more"] if more else [])]
    lines = [f"ok: {v['decisions']} decisions, head {v['head']}"]
    if v["signed_with"]:
        lines.append(f"signed: head signed with key {v['signed_with']}")
    if t is not None:
        lines.append(f"transcript: {t['matched']} decisions match tool_use blocks of "
                     f"{TRANSCRIPT_NAME}")
        if t.get("reasked"):
            lines.append(f"claude-code: {t['reasked']} second asks of file tools (their input "
                         "normalised by Claude Code)")
        if t["connections"]:
            lines.append(f"egress: {t['connections']} connection decisions (the proxy's)")
        lines += [f"note: {n}" for n in v["notes"]]
    return lines


@audit.command("verify")
@RUN_DIR
@click.option("--key", "key_file", type=click.Path(path_type=Path),
              help="Host audit key: also check the chain head signed in audit.sig.")
@format_option(help="json: {status: ok|tampered|unmatched, decisions, head, first_bad_seq, "
               "problem, signed_with, transcript, notes}.")
@click.pass_context
def verify(ctx: click.Context, run_dir: Path, key_file: Path | None, fmt: str) -> None:
    """Recompute the hash chain; exit 1 naming the first bad seq when it is broken.

    With --key, the head must be the one signed with that key at the end of the run
    (a log rewritten and re-chained is caught). When the run's transcript.jsonl is
    there, every decision must answer a tool_use block of a model response.
    """
    verdict = _verify(run_dir, key_file)
    if fmt == "json":
        echo_json(verdict)
    else:
        if verdict["status"] == "ok" and verdict["transcript"] is None:
            click.echo(f"note: {verdict['notes'][0]}", err=True)
        click.echo("\n".join(_verify_lines(verdict)))
    ctx.exit(0 if verdict["status"] == "ok" else 1)


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
@format_option(help="json: {total, changed, changes: [{seq, tool, transition, summary, "
               "reasons}]}.")
@click.pass_context
def replay_cmd(
    ctx: click.Context,
    run_dir: Path,
    policy_dirs: tuple[Path, ...],
    data: Path | None,
    fail_on_change: bool,
    fmt: str,
) -> None:
    """Re-decide every logged input under other policies; print the decisions that change."""
    log = resolve_log(run_dir)
    from runner.policy.engine import load_engine

    engine = load_engine(PolicyConfig(dirs=list(policy_dirs), data=data))
    try:
        result = replay(log, engine)
    finally:
        engine.close()
    changes: list[dict[str, Any]] = [{"seq": c.seq, "tool": one_line(c.tool), "transition": c.transition,
                "summary": one_line(c.summary),
                "reasons": [f"{r.policy}.{r.rule}: {one_line(r.msg, 1000)}" for r in c.new.reasons]}
               for c in result.changes]
    if fmt == "json":
        echo_json({"total": result.total, "changed": len(changes), "changes": changes})
    else:
        for c in changes:
            click.echo(f"seq {c['seq']}  {c['tool']}  {c['transition']}  {c['summary']}\n"
                       f"    now: {one_line('; '.join(c['reasons']) or '-', 1000)}")
        click.echo(f"{len(changes)} of {result.total} decisions change")
    if fail_on_change and result.changes:
        ctx.exit(1)


@audit.command("export")
@RUN_DIR
@format_option(*EXPORT_FORMATS, "json", default="opa",
               help="opa: OPA's decision-log upload body (a gzip-compressed JSON array of "
                    "events); json: the same events as one JSON object on stdout.")
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
    events = opa_events(log, extensions=extensions)
    if fmt == "json" and output is None:
        echo_json({"format": "opa", "count": len(events), "events": events})
        return
    stdout: BinaryIO = sys.stdout.buffer
    if output is None and stdout.isatty():
        raise click.UsageError("the export is gzip data: give --output FILE or redirect stdout")
    write_export(upload_body(events), output, stdout)
    if output is not None:
        click.echo(f"exported {len(events)} decisions ({fmt}) to {one_line(str(output))}",
                   err=True)
