"""CLI startup: `sandbox-runner --version`, `--help` and `policy eval` on one call, beside
`python -c 'import click'`.

Each command is run as a fresh process (the installed `sandbox-runner` script next to this
interpreter, as a user runs it), round-robin so that every round measures all of them side by
side; medians and p90 of the wall times. Target (issue 13): `--version` and `--help` at most
2x `import click`.

    .venv/bin/python bench/cli_startup.py [--runs 15] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._report import replace_section  # noqa: E402

CALL = {"tool": "Read", "input": {"file_path": "backend/app.py"}}


def commands(call_file: Path) -> dict[str, list[str]]:
    script = Path(sys.executable).parent / "sandbox-runner"
    cli = [str(script)] if script.exists() else [sys.executable, "-m", "runner.cli"]
    return {
        "python -c 'import click'": [sys.executable, "-c", "import click"],
        "sandbox-runner --version": [*cli, "--version"],
        "sandbox-runner --help": [*cli, "--help"],
        "sandbox-runner policy eval (one Read)": [*cli, "policy", "eval", "--input",
                                                  str(call_file)],
    }


def once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def measure(runs: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        call_file = Path(tmp) / "call.json"
        call_file.write_text(json.dumps(CALL), encoding="utf-8")
        cmds = commands(call_file)
        for argv in cmds.values():  # warm the page cache and the bytecode once
            once(argv)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(runs):
            for name, argv in cmds.items():
                times[name].append(once(argv))
    return times


def render(times: dict[str, list[float]], runs: int) -> str:
    base_name = next(iter(times))
    base = statistics.median(times[base_name])
    rows = []
    for name, values in times.items():
        med = statistics.median(values)
        target = "≤ 2x" if "--version" in name or "--help" in name else ""
        met = ("yes" if med <= 2 * base else "NO") if target else ""
        rows.append(f"| `{name}` | {med:.0f} ms | {p90(values):.0f} ms | {med / base:.2f}x "
                    f"| {target} | {met} |")
    return "\n".join([
        f"Measured {date.today()} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()} (`bench/cli_startup.py --runs {runs} --write`): each "
        f"command run {runs} times as a fresh process, round-robin (all four side by side in "
        "every round), after one warm-up run each.",
        "",
        f"| command | median | p90 | vs `{base_name}` | target | met |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "The root group is lazy (runner/cli/__init__.py): `--version` and `--help` import click "
        "and `runner.cli` only, a subcommand's module is imported when it is used. `policy eval` "
        "imports pydantic, the config and policy models, regorus, derivation (the shell parser "
        "only for a Bash call) and compiles the bundle.",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--write", action="store_true",
                        help="replace the CLI startup section of docs/benchmarks.md")
    args = parser.parse_args()
    body = render(measure(args.runs), args.runs)
    print(body)
    if args.write:
        replace_section(REPO / "docs" / "benchmarks.md", "CLI startup", body)


if __name__ == "__main__":
    main()
