"""`sandbox-runner policy` commands: decide tool calls and run the Rego tests."""

from __future__ import annotations

from pathlib import Path

import click

from runner.agentdef import load_agent_file
from runner.config import OPAEngineConfig, PolicyConfig, RegorusEngineConfig
from runner.policy.bundle import load_bundle
from runner.policy.decider import check_workspace, read_tool_calls, workspace_decider
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
@click.option("--agent", help="Decide as a run of this agent file (its tools are run.tools).")
def eval_cmd(
    source: str,
    workspace: Path | None,
    policy_dirs: tuple[Path, ...],
    data: Path | None,
    opa_url: str | None,
    agent: str | None,
) -> None:
    """Print one decision JSON line per tool call {"tool": ..., "input": {...}}."""
    calls = read_tool_calls(source)
    root = check_workspace(workspace)
    tools = load_agent_file(agent).tools if agent else None
    engine_cfg = OPAEngineConfig(url=opa_url) if opa_url else RegorusEngineConfig()
    policy_cfg = PolicyConfig(dirs=list(policy_dirs), data=data, engine=engine_cfg)
    engine = load_engine(policy_cfg)
    try:
        decider = workspace_decider(
            engine, workspace=root, run=RunInfo(id="policy-eval", tools=tools), policy=policy_cfg)
        for call in calls:
            _, decision, _ = decider.decide(call)
            click.echo(decision.model_dump_json())
    finally:
        engine.close()


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
