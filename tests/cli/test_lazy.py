"""The lazy root group: ``--version`` and ``--help`` import no subcommand (and none of the
library behind them); the table's short help is each command's own. (Speed is measured in
bench/cli_startup.py, not here.)"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from runner.cli import COMMANDS, main

HEAVY = ("runner.cli.run", "runner.run", "runner.policy", "runner.gateway", "docker",
         "anthropic", "pydantic", *(c.target.partition(":")[0] for c in COMMANDS.values()))

PROBE = """
import json, sys
from runner.cli import main
try:
    main(sys.argv[1:], prog_name="sandbox-runner")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["-h"]])
def test_version_and_help_import_no_subcommand(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          timeout=60, check=False)
    probe = json.loads(proc.stderr.splitlines()[-1])
    assert probe["code"] in (0, None), proc.stderr
    loaded = set(probe["modules"])
    heavy = {m for m in loaded for h in HEAVY if m == h or m.startswith(h + ".")}
    assert not heavy, sorted(heavy)
    assert proc.stdout.startswith("Usage: " if args != ["--version"] else "sandbox-runner,")


def test_the_table_is_the_commands_own_short_help() -> None:
    ctx = click.Context(main)
    for name, lazy in COMMANDS.items():
        cmd = main.get_command(ctx, name)
        assert cmd is not None and cmd.name == name
        assert cmd.help is not None
        assert lazy.help == cmd.get_short_help_str(10**6), name
        stub = click.Command(name, help=lazy.help)
        for limit in (30, 45, 80):
            assert stub.get_short_help_str(limit) == cmd.get_short_help_str(limit), (name, limit)


def test_unknown_names_are_none_and_listing_is_sorted() -> None:
    ctx = click.Context(main)
    assert main.get_command(ctx, "nosuch") is None
    assert main.list_commands(ctx) == sorted(COMMANDS)
