"""`sandbox-runner policy` commands: decide tool calls and run the Rego tests."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from runner.cli.output import CONTEXT_SETTINGS, echo_json, format_option
from runner.config import OPAEngineConfig, PolicyConfig, RegorusEngineConfig
from runner.policy.batch import BatchItem, read_batch
from runner.policy.bundle import load_bundle
from runner.policy.decider import check_workspace, workspace_decider
from runner.policy.engine import load_engine
from runner.policy.models import RunInfo
from runner.policy.regorus_engine import RegoTestReport, run_tests
from runner.sanitize import one_line

POLICY_DIRS = click.option(
    "--policy-dir",
    "policy_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Policy directory (repeatable; default: the bundled policies).",
)


@click.group("policy", context_settings=CONTEXT_SETTINGS)
def policy() -> None:
    """Decide tool calls with the Rego policies, and test the policies."""


def _decision_line(item: BatchItem, out: dict[str, Any]) -> str:
    """``text`` format: ``line N: allow|deny TOOL: policy.rule: reason; ...``."""
    tool = one_line(item.call.name, 100) if item.call is not None else "-"
    reasons = "; ".join(f"{r['policy']}.{r['rule']}: {r['msg']}" for r in out["reasons"])
    verdict = "allow" if out["allow"] else "deny"
    return one_line(f"line {item.line}: {verdict} {tool}" + (f": {reasons}" if reasons else ""),
                    2000)


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
@format_option("json", "text", default="json",
               help="json: one decision object per line (JSON Lines); text: one line per call.")
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
    fmt: str,
) -> None:
    """Print one decision JSON line per tool call {"tool": ..., "input": {...}, "id": ...}.

    A call's "id" (any JSON value) is echoed first in its line. A line that is not a JSON
    object gets its own line {"allow": false, "error": ..., "line": N, "reasons": [...]}
    and the batch goes on. Exit 0; with --fail-on-deny, 1 when any call was denied or any
    line was bad; 2 when there is no call at all or the input cannot be read.
    """
    items = read_batch(source)
    root = check_workspace(workspace)
    if agent:
        from runner.agentdef import load_agent_file  # yaml and the agent files: only for --agent

        tools = load_agent_file(agent).tools
    else:
        tools = None
    engine_cfg = OPAEngineConfig(url=opa_url) if opa_url else RegorusEngineConfig()
    policy_cfg = PolicyConfig(dirs=list(policy_dirs), data=data, engine=engine_cfg)
    bundle = load_bundle(policy_cfg.dirs, policy_cfg.data)  # read once: engine and masks
    engine = load_engine(policy_cfg, bundle=bundle)
    denied = False
    try:
        decider = workspace_decider(
            engine, workspace=root, run=RunInfo(id="policy-eval", tools=tools), bundle=bundle)
        for item in items:
            decision = decider.decide(item.call)[1] if item.call is not None else None
            denied = denied or decision is None or not decision.allow
            out = item.output(decision)
            click.echo(json.dumps(out, separators=(",", ":"), ensure_ascii=True, default=str)
                       if fmt == "json" else _decision_line(item, out))
    finally:
        engine.close()
    if fail_on_deny and denied:
        ctx.exit(1)


def _test_filter(pattern: str | None) -> Callable[[str], bool]:
    """``--run``: a regular expression searched in ``package.rule`` (and ``data.package.rule``)."""
    if pattern is None:
        return lambda name: True
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise click.BadParameter(f"not a regular expression: {exc}",
                                 param_hint="'--run'") from None
    return lambda name: bool(regex.search(name.removeprefix("data.")) or regex.search(name))


@policy.command("test")
@POLICY_DIRS
@click.option("--run", "-r", "pattern", metavar="PATTERN",
              help="Only the tests whose package.rule matches this regular expression.")
@format_option("text", "json", "junit",
               help="text: one line per test; json: {passed, failed, tests: [...]}; junit: "
                    "JUnit XML.")
@click.pass_context
def test_cmd(ctx: click.Context, policy_dirs: tuple[Path, ...], pattern: str | None,
             fmt: str) -> None:
    """Run the test_* rules of the policies' tests (exit 1 when one fails or none ran)."""
    wanted = _test_filter(pattern)
    report = run_tests(load_bundle(list(policy_dirs), include_tests=True))
    report = RegoTestReport(results=[r for r in report.results if wanted(r.name)])
    if fmt == "json":
        echo_json({"ok": report.ok, "passed": report.passed, "failed": report.failed,
                   "tests": [r.model_dump(mode="json") for r in report.results]})
    elif fmt == "junit":
        from runner.cli.policy_junit import junit_xml

        click.echo(junit_xml(report), nl=False)
    else:
        for r in report.results:
            status = "PASS" if r.passed else "FAIL"
            error = f": {r.error}" if r.error else ""
            click.echo(f"{status} {r.name} ({r.file}:{r.line}, {r.duration_ms:.1f} ms){error}")
        if not report.results:
            click.echo("no test_ rules found" + (" matching --run" if pattern else ""))
        click.echo(f"{report.passed} passed, {report.failed} failed")
    if not report.ok:
        ctx.exit(1)
