"""`sandbox-runner run`: one sandboxed agent run."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runner.cli.output import format_option
from runner.config import build_run_config
from runner.egress.hosts import BadHost, parse_host_pattern
from runner.errors import ConfigError
from runner.run.display import RunDisplay
from runner.run.execute import execute_run
from runner.sandbox.isolation import ISOLATIONS
from runner.wire import RUNTIMES


@click.command("run")
@click.argument("project_dir", type=click.Path(path_type=Path))
@click.option("--agent", help="Bundled agent name or path to an agent file [backend-implementer].")
@click.option("--task", help="What the agent should do [implement architecture/backend.md].")
@click.option("--model", help="Model id, alias (opus/sonnet/haiku), or scripted:FILE.")
@click.option("--runtime", type=click.Choice(RUNTIMES),
              help="What runs the agent: the built-in tool loop or Claude Code [builtin] "
                   "(docs/runtimes.md).")
@click.option("--isolation", type=click.Choice(ISOLATIONS),
              help="Kernel wall of the sandbox containers: runc (host kernel), gvisor "
                   "(runsc user-space kernel; exit 4 if the engine lacks it), auto [runc] "
                   "(docs/isolation.md).")
@click.option("--policy-dir", "policy_dirs", multiple=True, type=click.Path(path_type=Path),
              help="Rego policy directory (repeatable) [bundled policies/].")
@click.option("--data", type=click.Path(path_type=Path), help="Policy data JSON overriding data.json.")
@click.option("--image", help="Sandbox image to use instead of the built one.")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory.")
@click.option("--max-turns", type=click.IntRange(min=1), help="Most model turns [50].")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              help="Run timeout in seconds [1800].")
@click.option("--test-command", help="Verification test command (default: pytest over backend/).")
@click.option("--coverage-threshold", type=click.FloatRange(0, 100),
              help="Line coverage gate in percent, 0 turns the gate off [80].")
@click.option("--skip-verify", is_flag=True, help="Do not run the verification tests.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="HOST[:PORT]",
              help="Let the agent phase reach HOST through the egress proxy (repeatable; "
                   "*.example.com for subdomains; no port: 80 and 443). Default: no network.")
@click.option("--allow-preset", "allow_presets", multiple=True, metavar="NAME",
              help="Allow a preset's hosts (repeatable; python: pypi.org, files.pythonhosted.org).")
@click.option("--rebuild-env", "rebuild_env", is_flag=True, default=None,
              help="Build the project's environment image anew (docs/environments.md).")
@click.option("--setup-secret", "setup_secrets", multiple=True, metavar="NAME",
              help="Host environment variable given to the setup phase only (repeatable).")
@format_option(json_alias=True, help="json: the summary (summary.json) on stdout.")
def run_cmd(project_dir: Path, policy_dirs: tuple[Path, ...], data: Path | None, image: str | None,
            test_command: str | None, coverage_threshold: float | None, skip_verify: bool,
            allow_hosts: tuple[str, ...], allow_presets: tuple[str, ...],
            setup_secrets: tuple[str, ...], fmt: str, **flags: object) -> None:
    """Run an agent on PROJECT_DIR inside the sandbox."""
    for host in allow_hosts:
        try:
            parse_host_pattern(host)
        except BadHost as exc:
            raise ConfigError(f"--allow-host: {exc}") from None
    flags["egress"] = {"allow_hosts": list(allow_hosts), "presets": list(allow_presets)}
    flags["policy"] = {"dirs": list(policy_dirs) or None, "data": data}
    flags["sandbox"] = {"image": image}
    flags["environment"] = {"secrets": list(setup_secrets)}
    flags["verify"] = {"test_command": test_command, "coverage_threshold": coverage_threshold,
                       "enabled": False if skip_verify else None}
    cfg = build_run_config(project_dir, flags)
    summary = execute_run(cfg, RunDisplay())
    if fmt == "json":
        from runner.run.phases import summary_json

        click.echo(summary_json(summary))
    sys.exit(summary.exit_code)
