"""Sandbox overhead: run startup and per-tool-call cost, beside bare Docker, in one run.

    .venv/bin/python bench/sandbox_overhead.py [--runs 3] [--calls 50] [--no-write]
        [--isolation runc --isolation gvisor]

* startup: wall time from launching ``sandbox-runner run`` (image cached) to the gateway
  receiving the first model request (``transcript.jsonl`` records arrival times), beside
  ``docker run --rm IMAGE true``.
* per call: a scripted turn with N ``Bash true`` calls; the interval between consecutive
  ``tool_result`` events is one full call (measure paths, ``/v1/decide`` over the socket,
  derivation + Rego, the hash-chained log append, events, spawning bash in its own
  process group), beside ``docker exec CONTAINER true``.

Targets (issue 3): startup <= 2 x bare docker run + 1 s; per-call overhead < docker exec.
Each measure runs under every isolation asked for (issue 14; default: runc, and gVisor when the
engine has a runsc runtime), side by side: bare docker run/exec with the same runtime.
Results replace the "Sandbox overhead" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._report import replace_section  # noqa: E402
from runner.config import DockerSandboxConfig  # noqa: E402
from runner.sandbox.image import ensure_image  # noqa: E402
from runner.sandbox.isolation import GVISOR_RUNTIME  # noqa: E402

CLI = [sys.executable, "-m", "runner.cli"]


def _iso(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def _runtime_args(isolation: str) -> list[str]:
    return ["--runtime", GVISOR_RUNTIME] if isolation == "gvisor" else []


def bare_docker_run(image: str, n: int, isolation: str = "runc") -> list[float]:
    return [_timed(["docker", "run", "--rm", *_runtime_args(isolation), "--network", "none",
                    image, "true"]) for _ in range(n)]


def _project(tmp: Path, name: str) -> Path:
    project = tmp / name
    shutil.copytree(REPO / "examples" / "minimal", project,
                    ignore=shutil.ignore_patterns("scenario*.yaml"))
    return project


def _run(project: Path, scenario: Path, out: Path, isolation: str) -> tuple[float, float]:
    """(seconds to the first model request, total seconds) of one CLI run."""
    t0 = time.time()
    proc = subprocess.run([*CLI, "run", str(project), "--model", f"scripted:{scenario}",
                           "--out", str(out), "--skip-verify", "--json",
                           "--isolation", isolation],
                          capture_output=True, text=True, cwd=REPO, check=False)
    total = time.time() - t0
    if proc.returncode != 0:
        raise SystemExit(f"benchmark run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    first = json.loads((out / "transcript.jsonl").read_text().splitlines()[0])
    return _iso(first["time"]) - t0, total


def startup(tmp: Path, runs: int, isolation: str = "runc") -> list[float]:
    scenario = tmp / "one-turn.yaml"
    scenario.write_text('turns:\n  - text: "Done."\n')
    return [_run(_project(tmp, f"start{i}-{isolation}"), scenario,
                 tmp / f"start{i}-{isolation}-run", isolation)[0] for i in range(runs)]


def per_call(tmp: Path, calls: int, isolation: str = "runc") -> list[float]:
    scenario = tmp / "calls.yaml"
    lines = ["turns:", "  - tool_calls:"]
    lines += ['      - {name: Bash, input: {command: "true"}}'] * calls
    lines += ['  - text: "Done."']
    scenario.write_text("\n".join(lines) + "\n")
    out = tmp / f"calls-{isolation}-run"
    _run(_project(tmp, f"calls-{isolation}"), scenario, out, isolation)
    times = [_iso(ev["time"]) for ev in map(json.loads, (out / "events.jsonl").read_text()
                                             .splitlines()) if ev["kind"] == "tool_result"]
    return [b - a for a, b in itertools.pairwise(times)]


def docker_exec(image: str, n: int, isolation: str = "runc") -> list[float]:
    name = f"sr-bench-{os.getpid()}-{isolation}"
    subprocess.run(["docker", "run", "-d", "--rm", "--name", name, *_runtime_args(isolation),
                    "--network", "none",
                    "--label", "sandbox-runner.test=1", image, "sleep", "600"],
                   check=True, capture_output=True)
    try:
        _timed(["docker", "exec", name, "true"])  # warm
        return [_timed(["docker", "exec", name, "true"]) for _ in range(n)]
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms"


def measure(image: str, tmp: Path, args: argparse.Namespace, isolation: str) -> dict[str, list[float]]:
    return {"bare": bare_docker_run(image, max(args.runs, 3), isolation),
            "start": startup(tmp, args.runs, isolation),
            "calls": per_call(tmp, args.calls, isolation),
            "execs": docker_exec(image, 20, isolation)}


def rows_for(isolation: str, m: dict[str, list[float]]) -> list[str]:
    bare_m, start_m = statistics.median(m["bare"]), statistics.median(m["start"])
    call_m, exec_m = statistics.median(m["calls"]), statistics.median(m["execs"])
    start_target = 2 * bare_m + 1.0
    runtime = f" --runtime {GVISOR_RUNTIME}" if isolation == "gvisor" else ""
    return [
        f"| {isolation} | startup: `run` to first model request | {ms(m['start'])} | "
        f"`docker run --rm{runtime} IMAGE true` {ms(m['bare'])} | {start_m / bare_m:.1f}x | "
        f"<= 2 x bare + 1 s = {start_target * 1000:.0f} ms | "
        f"{'yes' if start_m <= start_target else 'NO'} |",
        f"| {isolation} | per tool call: Bash `true` through decide + log | {ms(m['calls'])} | "
        f"`docker exec C true` {ms(m['execs'])} | {call_m / exec_m:.2f}x | < docker exec | "
        f"{'yes' if call_m < exec_m else 'NO'} |",
    ]


def default_isolations() -> list[str]:
    import docker

    from runner.sandbox.isolation import engine_runtimes, gvisor_runtime

    client = docker.from_env()
    try:
        return ["runc", "gvisor"] if gvisor_runtime(engine_runtimes(client)) else ["runc"]
    finally:
        client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--isolation", action="append", choices=["runc", "gvisor"],
                    help="repeatable [runc, and gvisor when the engine has runsc]")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    isolations = args.isolation or default_isolations()
    image = ensure_image(DockerSandboxConfig())
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="sr-bench-") as tmpdir:
        for isolation in isolations:
            results[isolation] = measure(image, Path(tmpdir), args, isolation)
    rows = ["| isolation | measure | median | beside | ratio | target | met |",
            "|---|---|---|---|---|---|---|"]
    notes = []
    for isolation, m in results.items():
        rows += rows_for(isolation, m)
        calls = m["calls"]
        q = statistics.quantiles(calls, n=100) if len(calls) >= 2 else [calls[0]] * 99
        notes.append(
            f"{isolation}: per-call distribution over {len(calls)} calls: p50 "
            f"{q[49] * 1000:.1f} ms, p90 {q[89] * 1000:.1f} ms, max {max(calls) * 1000:.1f} ms; "
            "startup samples " + ", ".join(f"{s * 1000:.0f}" for s in m["start"]) + " ms.")
    if "runc" in results and "gvisor" in results:
        r, g = results["runc"], results["gvisor"]
        notes.append(
            "gVisor against runc: startup "
            f"{statistics.median(g['start']) / statistics.median(r['start']):.2f}x, bare docker "
            f"run {statistics.median(g['bare']) / statistics.median(r['bare']):.2f}x, per tool "
            f"call {statistics.median(g['calls']) / statistics.median(r['calls']):.2f}x, docker "
            f"exec {statistics.median(g['execs']) / statistics.median(r['execs']):.2f}x.")
    iso_flags = "".join(f" --isolation {i}" for i in isolations)
    body = "\n".join([
        f"Measured {datetime.now().date()} on {platform.machine()}, {os.cpu_count()} cores "
        f"(`bench/sandbox_overhead.py --runs {args.runs} --calls {args.calls}{iso_flags}`), "
        "image cached, all measures side by side in one run; gVisor is `--isolation gvisor` "
        "(runsc, docs/isolation.md).",
        "",
        *rows,
        "",
        *[f"- {n}" for n in notes],
        "",
        "The startup includes the CLI's own import, the input checks, the container's start "
        "with the host side coming up beside it, and the agent's start (the container's main "
        "process); the in-container self-check runs beside the agent's start and first "
        "request, and gates its first tool call (see Startup).",
    ])
    print(body)
    if not args.no_write:
        replace_section(REPO / "docs" / "benchmarks.md", "Sandbox overhead", body)


if __name__ == "__main__":
    main()
