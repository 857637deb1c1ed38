"""`sandbox-runner policy` commands: decide tool calls and run the Rego tests."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner.agentdef import load_agent_file
from runner.config import OPAEngineConfig, PolicyConfig, RegorusEngineConfig
from runner.policy.batch import read_batch
from runner.policy.bundle import load_bundle
from runner.policy.decider import check_workspace, workspace_decider
from runner.policy.engine import load_engine
from runner.policy.models import RunInfo
from runner.policy.regorus_engine import run_tests

POLICY_DIRS = click.option(
    "--policy-dir",
    "policy_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Policy directory (repeatable; default: the bundled policies).",
)


@click.group("policy")
def policy() -> None:
    """Decide tool calls with the Rego policies, and test the policies."""


@policy.command("eval")
@click.option(
    "--input", "source", required=True, help="Tool call JSON (or JSON lines) file, - for stdin."
)
@click.option("--workspace", type=click.Path(path_type=Path), help="Directory seen as /workspace.")
@POLICY_DIRS
@click.option(
    "--data", type=click.Path(path_type=Path), help="Policy data JSON merged over data.json."
)
@click.option("--opa-url", help="Decide with this OPA server instead of the embedded engine.")
@click.option(
    "--fail-on-deny", is_flag=True,
    help="Exit 1 when any call is denied or any input line is bad (default: exit 0).",
)
@click.option("--agent", help="Decide as a run of this agent file (its tools are run.tools).")
@click.pass_context
def eval_cmd(
    ctx: click.Context,
    source: str,
    workspace: Path | None,
    policy_dirs: tuple[Path, ...],
    data: Path | None,
    opa_url: str | None,
    fail_on_deny: bool,
    agent: str | None,
) -> None:
    """Print one decision JSON line per tool call {"tool": ..., "input": {...}, "id": ...}.

    A call's "id" (any JSON value) is echoed first in its line. A line that is not a JSON
    object gets its own line {"allow": false, "error": ..., "line": N, "reasons": [...]}
    and the batch goes on. Exit 0; with --fail-on-deny, 1 when any call was denied or any
    line was bad; 2 when there is no call at all or the input cannot be read.
    """
    items = read_batch(source)
    root = check_workspace(workspace)
    tools = load_agent_file(agent).tools if agent else None
    engine_cfg = OPAEngineConfig(url=opa_url) if opa_url else RegorusEngineConfig()
    policy_cfg = PolicyConfig(dirs=list(policy_dirs), data=data, engine=engine_cfg)
    engine = load_engine(policy_cfg)
    denied = False
    try:
        decider = workspace_decider(
            engine, workspace=root, run=RunInfo(id="policy-eval", tools=tools), policy=policy_cfg)
        for item in items:
            decision = decider.decide(item.call)[1] if item.call is not None else None
            denied = denied or decision is None or not decision.allow
            click.echo(json.dumps(item.output(decision), separators=(",", ":"),
                                  ensure_ascii=True, default=str))
    finally:
        engine.close()
    if fail_on_deny and denied:
        ctx.exit(1)


@policy.command("test")
@POLICY_DIRS
@click.pass_context
def test_cmd(ctx: click.Context, policy_dirs: tuple[Path, ...]) -> None:
    """Run the test_* rules of the policies' tests (exit 1 when one fails)."""
    report = run_tests(load_bundle(list(policy_dirs), include_tests=True))
    for r in report.results:
        status = "PASS" if r.passed else "FAIL"
        error = f": {r.error}" if r.error else ""
        click.echo(f"{status} {r.name} ({r.file}:{r.line}, {r.duration_ms:.1f} ms){error}")
    if not report.results:
        click.echo("no test_ rules found")
    click.echo(f"{report.passed} passed, {report.failed} failed")
    if not report.ok:
        ctx.exit(1)


COMMANDS: list[click.Command] = [policy]
