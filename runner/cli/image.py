"""`sandbox-runner image` commands."""

from __future__ import annotations

import time

import click
from rich.console import Console

from runner.cli.output import CONTEXT_SETTINGS, echo_json, format_option
from runner.config import DockerSandboxConfig
from runner.sandbox.image import Runtime, ensure_image


@click.group("image", context_settings=CONTEXT_SETTINGS)
def image() -> None:
    """Build and inspect the sandbox image."""


@image.command("build")
@click.option("--base-image", default=None, help="Base image (default python:3.11-slim; "
              "bootstrapped with debootstrap when it cannot be pulled).")
@click.option("--force", is_flag=True, help="Rebuild without the layer cache; retry the base pull.")
@click.option("--runtime", type=click.Choice(["builtin", "claude-code"]), default="builtin",
              show_default=True, help="claude-code: add the Claude Code layer (its binary is "
              "downloaded from the npm registry once, verified and cached).")
@format_option(help="text: the image ref; json: {ref, seconds}.")
def build(base_image: str | None, force: bool, runtime: Runtime, fmt: str) -> None:
    """Build the sandbox image (tagged by the hash of its inputs) and print its ref."""
    cfg = DockerSandboxConfig() if base_image is None else DockerSandboxConfig(base_image=base_image)
    err = Console(stderr=True, highlight=False)
    started = time.monotonic()
    with err.status("checking the sandbox image") as status:

        def progress(line: str) -> None:
            if line.startswith("==>"):
                err.print(f"[bold]{line}[/bold]")
            status.update(f"[dim]{line[:110]}[/dim]")

        ref = ensure_image(cfg, progress=progress, force=force, fallback=base_image is None,
                           runtime=runtime)
    seconds = time.monotonic() - started
    err.print(f"image ready in {seconds:.1f}s")
    if fmt == "json":
        echo_json({"ref": ref, "seconds": round(seconds, 3)})
    else:
        click.echo(ref)
