"""Startup: `sandbox-runner run` to the first model request, beside a bare hardened `docker run`.

    .venv/bin/python bench/startup.py [--runs 7] [--no-write] [--baseline DIR]

Measured side by side in one run, interleaved (bare, agent start, run; repeated N times, the
order rotated each round):

* bare: ``docker run --rm <hardening> IMAGE true`` with the hardening of a sandbox container
  (runner/sandbox/spec.py: no network, read-only root, no capabilities, no-new-privileges,
  docker-init, private IPC, the non-root uid, pids/memory/CPU/ulimits, tmpfs /tmp and home).
* agent start: the same container running the agent's interpreter on what it does before
  its first request (``python -P -c 'import runner.agent.__main__ ...; FirstCall(...)'``:
  no pydantic, no httpx: the standard library's client); the preload (pydantic, httpx, the
  models, the client, the loop) runs beside the wait for the open file and the first request.
* run: wall time from launching ``sandbox-runner run`` (builtin runtime, image cached, a
  one-turn scripted scenario) to the gateway receiving the first ``/v1/messages`` request
  (the arrival time of the first ``transcript.jsonl`` line).

* bytecode: the runs use the Python bytecode caches of the code they run, as an installed
  package has them (pip compiles on install): ``PYTHONDONTWRITEBYTECODE`` is removed from
  their environment and the unmeasured first run of each tree writes the caches.
  ``--no-bytecode`` keeps it set (every run compiles the runner's modules from source).

* baseline (``--baseline DIR``): the same run from another checkout of the code (for instance
  ``git worktree add /tmp/base COMMIT``), interleaved with the others: a change measured
  against what it changed, under the same load.

Target (issue 13): run <= 2 x bare + 0.3 s. Results replace the "Startup" section of
docs/benchmarks.md (with --write, the default; --no-write prints only).
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
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._report import replace_section  # noqa: E402
from bench.sandbox_overhead import _iso, _project, _run  # noqa: E402
from runner.config import DockerSandboxConfig, Limits  # noqa: E402
from runner.sandbox.image import ensure_image  # noqa: E402
from runner.sandbox.spec import RUNTIME_PYTHON  # noqa: E402

AGENT_START = ("import runner.agent.__main__, runner.agent.start; "
               "from runner.agent.first_call import FirstCall; FirstCall('/tmp/gw.sock', 't')")


BEFORE = (
    "Before (the agent on the anthropic SDK, commit ebd974c, `--runs 3` on the same machine):"
    " bare 235 ms, agent imports 1555 ms (6.6x), run 2163 ms (9.2x)."
    " On the machine of an earlier measurement the same day (`--runs 9`, commit 4d561a2 as the"
    " baseline): bare 230 ms, run 744 ms against the target's 761 ms (met), baseline 926 ms."
    " The target is relative to the engine's own start, which a slower machine's Python does"
    " not slow as much: the CLI's imports (click, pydantic and the config, the Docker SDK;"
    " 370-500 ms on the machine above, measured alone) grow with the interpreter's speed."
)

TIMELINE = """\
Where the time goes (one in-process run, wall-clock marks, 2026-12-01 at load 0-1; the CLI's
own interpreter start is not in them): the CLI's imports before the container's spec is known
(click, pydantic and the config models, the Docker SDK, rich) ~300 ms; `prepare` (agent file,
scenario, policy bundle and its compile, dependency detection) 40-80 ms; the image plan, run
directory and header ~25 ms; the container's create and start 170-200 ms, with the redactor,
decision log and gateway coming up beside it (105-125 ms); the self-check (one `docker exec`,
every check) 90-105 ms; the self-check's end (the go file) to the first `/v1/messages`
10-20 ms.

The agent is the container's main process: it starts with the container, so its interpreter,
its first imports and its gateway client (httpx, ~80 ms of CPU) overlap the end of the
container's start and the self-check, and no `docker exec` is waited for (an exec's round
trip was 55-60 ms alone, 90-130 ms beside the self-check's). It imports no pydantic before
its first request: agent.json's first-request fields are read as plain JSON (the host writes
the tool definitions into it, from the tool models), and a preload thread imports pydantic,
builds the models, validates the whole config and builds the loop beside the wait for the go
file and the first request (~100 ms of CPU that used to come first). Measured with the same
marks, runs interleaved: the first request ~110 ms after the container started (6 runs:
109-115 ms), against ~175 ms (164-222 ms) with the agent exec'd once the container had
started (the step before this one).

Tried earlier and not merged (branch i13-startup2): starting the sandbox container before
`prepare`, with a spec guessed from the config alone (815 ms against 904 ms at the time): a
container running before the input is checked, and what its spec created in the project to
remove when the input turned out bad. What is left is the CLI's own imports (~300 ms before
the container can be asked for) and the engine's container start."""


def hardened_docker_run(image: str, *command: str) -> list[str]:
    """``docker run --rm`` with the fixed hardening and default limits of a sandbox container."""
    lim = Limits()
    fsize = lim.fsize_mb * 1024 * 1024
    return [
        "docker", "run", "--rm", "--network", "none", "--read-only", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges:true", "--init", "--ipc", "private",
        "--user", "10001:10001", "--pids-limit", str(lim.pids), "--memory", lim.memory,
        "--memory-swap", lim.memory, "--cpus", str(lim.cpus),
        "--ulimit", f"nofile={lim.nofile}:{lim.nofile}", "--ulimit", "core=0:0",
        "--ulimit", f"fsize={fsize}:{fsize}",
        "--tmpfs", f"/tmp:rw,nosuid,nodev,size={lim.tmp_size},mode=1777",
        "--tmpfs", f"/home/agent:rw,nosuid,nodev,size={lim.home_size},uid=10001,gid=10001,mode=0700",
        "--label", "sandbox-runner.test=1", image, *command,
    ]


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def _baseline_run(tree: Path, project: Path, scenario: Path, out: Path) -> float:
    """Seconds to the first model request of a run of the code checked out at ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "runner.cli", "run", str(project), "--model",
                           f"scripted:{scenario}", "--out", str(out), "--skip-verify", "--json"],
                          capture_output=True, text=True, cwd=tree, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"baseline run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    first = json.loads((out / "transcript.jsonl").read_text().splitlines()[0])
    return _iso(first["time"]) - t0


def _commit(tree: Path) -> str:
    proc = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() or tree.name


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--baseline", type=Path, metavar="DIR",
                    help="another checkout of the code, run interleaved with this one")
    ap.add_argument("--no-bytecode", action="store_true",
                    help="runs compile the runner's modules from source (PYTHONDONTWRITEBYTECODE=1)")
    args = ap.parse_args()
    if args.no_bytecode:
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    else:  # as installed: the first (unmeasured) run of each tree writes the caches
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    image = ensure_image(DockerSandboxConfig())
    bare_cmd = hardened_docker_run(image, "true")
    imports_cmd = hardened_docker_run(image, RUNTIME_PYTHON, "-P", "-c", AGENT_START)
    bare: list[float] = []
    imports: list[float] = []
    runs: list[float] = []
    base: list[float] = []
    with tempfile.TemporaryDirectory(prefix="sr-bench-") as tmpdir:
        tmp = Path(tmpdir)
        scenario = tmp / "one-turn.yaml"
        scenario.write_text('turns:\n  - text: "Done."\n')
        _timed(bare_cmd)  # warm the image's layers in the page cache
        # one unmeasured run of each tree first: a missing image is built, caches are filled
        _run(_project(tmp, "warm"), scenario, tmp / "warm-run", "runc")
        if args.baseline is not None:
            _baseline_run(args.baseline.resolve(), _project(tmp, "warm-base"), scenario,
                          tmp / "warm-base-run")
        measures: list[Callable[[int], None]] = [
            lambda i: bare.append(_timed(bare_cmd)),
            lambda i: imports.append(_timed(imports_cmd)),
            lambda i: runs.append(_run(_project(tmp, f"start{i}"), scenario,
                                       tmp / f"start{i}-run", "runc")[0]),
        ]
        if args.baseline is not None:
            tree = args.baseline.resolve()
            measures.append(lambda i: base.append(_baseline_run(
                tree, _project(tmp, f"base{i}"), scenario, tmp / f"base{i}-run")))
        for i in range(args.runs):
            # rotated each round: a measure right after another's `docker run --rm` meets the
            # engine still removing that container; each takes every place in turn
            k = i % len(measures)
            for measure in measures[k:] + measures[:k]:
                measure(i)
    bare_m, imports_m, run_m = (statistics.median(v) for v in (bare, imports, runs))
    target = 2 * bare_m + 0.3
    body = "\n".join([
        f"Measured {datetime.now().date()} on {platform.machine()}, {os.cpu_count()} cores "
        f"(`bench/startup.py --runs {args.runs}`), builtin runtime, image cached, medians of "
        f"{args.runs} interleaved samples side by side in one run; "
        + ("every run compiled the runner's modules from source (`--no-bytecode`)."
           if args.no_bytecode else "bytecode caches as an installed package has them."),
        "",
        "| measure | median | ratio to bare | target | met |",
        "|---|---|---|---|---|",
        f"| bare hardened `docker run --rm IMAGE true` | {ms(bare)} | 1.0x | | |",
        f"| same container running the agent's start (before its first request) | {ms(imports)} | "
        f"{imports_m / bare_m:.1f}x | | |",
        f"| `sandbox-runner run` to the first `/v1/messages` | {ms(runs)} | {run_m / bare_m:.1f}x "
        f"| <= 2 x bare + 0.3 s = {target * 1000:.0f} ms | {'yes' if run_m <= target else 'NO'} |",
        *([f"| the same, baseline (commit {_commit(args.baseline)}) | {ms(base)} | "
           f"{statistics.median(base) / bare_m:.1f}x | | |"] if base else []),
        "",
        "Samples (ms): bare " + ", ".join(f"{s * 1000:.0f}" for s in bare)
        + "; agent start " + ", ".join(f"{s * 1000:.0f}" for s in imports)
        + "; run " + ", ".join(f"{s * 1000:.0f}" for s in runs)
        + ("; baseline " + ", ".join(f"{s * 1000:.0f}" for s in base) if base else "") + ".",
        "",
        "The bare container carries the hardening of a sandbox container (runner/sandbox/spec.py) "
        "with the default limits. The run includes the CLI's imports, the policy compile (or its "
        "cache), the image check, the gateway start, the container start, the in-container "
        "self-check and the agent's start (the container's main process, beside the "
        "self-check): the agent speaks the Messages API with httpx and the models of "
        "`runner/protocol.py`, no SDK.",
        "",
        TIMELINE,
        "",
        BEFORE,
    ])
    print(body)
    if not args.no_write:
        replace_section(REPO / "docs" / "benchmarks.md", "Startup", body)


if __name__ == "__main__":
    main()
