"""`sandbox-runner engine setup --gvisor`: add the gVisor runtime to a local engine."""

from __future__ import annotations

from pathlib import Path

import click

from runner.cli.output import CONTEXT_SETTINGS, echo_json, format_option
from runner.errors import ConfigError
from runner.sandbox.isolation import DAEMON_JSON, setup_gvisor


@click.group("engine", context_settings=CONTEXT_SETTINGS)
def engine() -> None:
    """Configure the local Docker engine (docs/isolation.md)."""


@engine.command("setup")
@click.option("--gvisor", is_flag=True,
              help="Add the runsc runtime (--network=none --host-uds=open --directfs=false) to daemon.json and "
                   "reload dockerd with SIGHUP (no restart).")
@click.option("--daemon-json", type=click.Path(path_type=Path), default=str(DAEMON_JSON),
              show_default=True, help="The engine's configuration file (rootless engines: "
                                      "~/.config/docker/daemon.json).")
@click.option("--no-reload", is_flag=True, help="Write the file only; do not signal dockerd.")
@format_option(help="text: what changed; json: {path, changed, backup, runtime, reloaded, "
                    "dockerd_pid, actions}.")
def setup(gvisor: bool, daemon_json: Path, no_reload: bool, fmt: str) -> None:
    """Write the gVisor runtime into a local engine this user owns (merging daemon.json,
    keeping a backup) and reload it; exit 4, nothing changed, for any other engine."""
    if not gvisor:
        raise ConfigError("engine setup: nothing to set up (give --gvisor)")
    result = setup_gvisor(daemon_json=daemon_json, reload=not no_reload)
    if fmt == "json":
        echo_json({"path": result.path, "changed": result.changed, "backup": result.backup,
                   "runtime": result.runtime, "reloaded": result.reloaded,
                   "dockerd_pid": result.dockerd_pid, "actions": result.actions})
        return
    for action in result.actions:
        click.echo(action)
    if result.changed and not result.reloaded:
        click.echo("dockerd not reloaded (--no-reload): kill -HUP $(pidof dockerd) to use it")
