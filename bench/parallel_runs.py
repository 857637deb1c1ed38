"""Parallel runs: N scripted runs at once on one machine, and proof they do not interfere.

    .venv/bin/python bench/parallel_runs.py [--n 1 2 4 8] [--runtime builtin|claude-code]
        [--rounds 1] [--no-warmup] [--write]

For each N, N copies of ``examples/todo-api`` are run together, each as its own
``sandbox-runner run COPY --model scripted:examples/todo-api/scenario.yaml --out RUN_DIR -f json``
subprocess (all started before any is waited for). Measured per N:

* wall time from the first start to the last exit, and runs per minute (N / wall);
* decision latency under contention, pooled over the N runs: ``metrics.timer_rego_query_eval_ns``
  of every ``decisions.jsonl`` line (policy evaluation; each run's first decision, which
  warms its engine, reported apart), and, for the builtin runtime, the decide round trip as
  the agent sees it: the interval between the agent's event before a call and its
  ``tool_call`` event (``events.jsonl``, arrival times on the host, ms resolution): measuring
  the call's paths, ``/v1/decide`` over the socket (derive, evaluate, the hash-chained append)
  and one ``/v1/events`` post.

Proof of no interference, per run: exit 0; its own run directory, decision log and run id;
its own socket directory (the host side of the container's ``/run/sandbox-runner`` bind,
read from the live container by a watcher) and its own container (distinct ``container_id``
in ``run.json``, matching the watcher's); its own runner process (``labels.id`` of the log);
``runner.audit.verify_log`` ok against the head in ``summary.json``; the same number of
decisions and tests as the reference run (the first N=1 run); and no container of its runner
process left afterwards. A run that fails is reported with its exit code and failure line.

``--write`` replaces the "Parallel runs" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Self

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._report import replace_section  # noqa: E402
from runner.audit.log import EVAL_METRIC, V1_EVAL_METRIC  # noqa: E402
from runner.audit.verify import verify_log  # noqa: E402
from runner.policy.decider import AHEAD_METRIC, DECISION_TIMER  # noqa: E402
from runner.protocol import SOCKET_DIR_IN_CONTAINER  # noqa: E402
from runner.sandbox.spec import LABEL_OWNER_PID, LABEL_RUN  # noqa: E402

CLI = [sys.executable, "-m", "runner.cli"]
EXAMPLE = REPO / "examples" / "todo-api"
SCENARIO = EXAMPLE / "scenario.yaml"
RUN_TIMEOUT_S = 900.0


@dataclass
class RunResult:
    index: int
    pid: int
    exit_code: int | None
    seconds: float
    run_dir: Path
    failure: str | None = None  # the failure line when it failed
    run_id: str | None = None
    container_id: str | None = None
    instance_id: str | None = None
    decisions: int | None = None
    tests: int | None = None
    chain_ok: bool = False
    chain_detail: str = ""
    eval_ns: list[int] = field(default_factory=list)  # in log order
    decision_ns: list[int] = field(default_factory=list)  # timer_decision_ns, in log order
    ahead: int = 0  # decisions made ahead (counter_decided_ahead)
    decide_ms: list[float] = field(default_factory=list)


@dataclass
class Round:
    n: int
    wall_s: float
    runs: list[RunResult]
    containers: dict[int, dict[str, str]]  # pid -> {"id", "socket_dir"} seen live
    leftovers: list[str]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


class Background:
    """``_loop`` in a thread for the length of a ``with`` block (it watches ``_stop``)."""

    join_timeout: float | None = None

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.join_timeout)

    def _loop(self) -> None:
        raise NotImplementedError


class ContainerWatcher(Background):
    """Polls Docker while runs are live: each runner process's sandbox container and the
    host directory bound at ``/run/sandbox-runner`` (its socket directory)."""

    join_timeout = 10

    def __init__(self, pids: set[int]) -> None:
        super().__init__()
        self.pids = pids
        self.seen: dict[int, dict[str, str]] = {}
        self.error: str | None = None

    def _loop(self) -> None:
        try:
            import docker

            client = docker.from_env(timeout=30)
        except Exception as exc:
            self.error = f"docker unavailable: {exc}"
            return
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                for c in client.containers.list(filters={"label": LABEL_RUN},
                                                ignore_removed=True):
                    pid = (c.labels or {}).get(LABEL_OWNER_PID, "")
                    if not pid.isdigit() or int(pid) not in self.pids:
                        continue
                    for mount in c.attrs.get("Mounts", []):
                        if mount.get("Destination") == SOCKET_DIR_IN_CONTAINER:
                            self.seen.setdefault(int(pid), {
                                "id": str(c.id), "socket_dir": str(mount.get("Source"))})
            self._stop.wait(0.3)


def _iso(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def _failure_line(stdout: str, stderr: str, run_dir: Path) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        doc = json.loads(stdout)
        if isinstance(doc.get("error"), dict):
            return str(doc["error"].get("message"))
        if doc.get("failure"):
            return str(doc["failure"])
    with contextlib.suppress(OSError, ValueError):
        failure = json.loads((run_dir / "run.json").read_text()).get("failure")
        if failure:
            return str(failure)
    lines = [ln for ln in (stderr or stdout).splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "(no output)"


def _decide_intervals(run_dir: Path) -> list[float]:
    """ms from the agent's previous event to each ``tool_call`` event (builtin runtime)."""
    out: list[float] = []
    prev: float | None = None
    with contextlib.suppress(OSError, ValueError):
        for line in (run_dir / "events.jsonl").read_text().splitlines():
            ev = json.loads(line)
            t = _iso(ev["time"])
            if ev.get("kind") == "tool_call" and prev is not None:
                out.append((t - prev) * 1000)
            prev = t
    return out


def _inspect(res: RunResult, runtime: str) -> None:
    """Fill a finished run's facts from its run directory; problems become failure text."""
    rd = res.run_dir
    try:
        record = json.loads((rd / "run.json").read_text())
        summary = json.loads((rd / "summary.json").read_text())
    except (OSError, ValueError) as exc:
        res.failure = res.failure or f"run directory unreadable: {exc}"
        return
    res.run_id = record.get("id")
    res.container_id = record.get("container_id")
    res.decisions = (summary.get("decisions") or {}).get("total")
    res.tests = (summary.get("tests") or {}).get("total")
    head = (summary.get("audit") or {}).get("head_hash")
    try:
        check = verify_log(rd / "decisions.jsonl", expected_head=head)
        res.chain_ok = bool(check.ok)
        res.chain_detail = f"{check.count} lines" if check.ok else str(check.problem)
    except Exception as exc:
        res.chain_detail = f"verify failed: {exc}"
    with contextlib.suppress(OSError, ValueError):
        for line in (rd / "decisions.jsonl").read_text().splitlines():
            entry = json.loads(line)
            metrics = entry.get("metrics") or {}
            res.eval_ns.append(int(metrics.get(EVAL_METRIC, metrics.get(V1_EVAL_METRIC, 0))))
            if DECISION_TIMER in metrics:
                res.decision_ns.append(int(metrics[DECISION_TIMER]))
            res.ahead += int(metrics.get(AHEAD_METRIC, 0))
            res.instance_id = (entry.get("labels") or {}).get("id", res.instance_id)
    if runtime == "builtin":  # claude-code's events come from its stream-json, not its hook
        res.decide_ms = _decide_intervals(rd)


def _leftovers(pids: set[int]) -> list[str]:
    proc = subprocess.run(["docker", "ps", "-a", "--filter", f"label={LABEL_RUN}", "--format",
                           f'{{{{.ID}}}} {{{{.Label "{LABEL_OWNER_PID}"}}}}'],
                          capture_output=True, text=True, check=False)
    return [ln.split()[0] for ln in proc.stdout.splitlines()
            if len(ln.split()) == 2 and ln.split()[1].isdigit() and int(ln.split()[1]) in pids]


def run_round(n: int, tmp: Path, runtime: str, tag: str, *, ahead: bool = True) -> Round:
    copies = []
    for i in range(n):
        project = tmp / f"{tag}-n{n}-{i}" / "project"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("scenario*.yaml"))
        copies.append((project, project.parent / "run"))
    load_before = os.getloadavg()
    procs: list[tuple[subprocess.Popen[str], float]] = []
    t0 = time.perf_counter()
    for project, out in copies:
        cmd = [*CLI, "run", str(project), "--model", f"scripted:{SCENARIO}", "--out", str(out),
               "-f", "json"]
        if runtime != "builtin":
            cmd += ["--runtime", runtime]
        env = {**os.environ, "SANDBOX_RUNNER_POLICY__DECIDE_AHEAD": str(ahead).lower()}
        procs.append((subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, env=env,
                                       stderr=subprocess.PIPE, text=True), time.perf_counter()))
    pids = {p.pid for p, _ in procs}
    results: list[RunResult] = []
    with ContainerWatcher(pids) as watcher:
        outputs: list[tuple[str, str, int | None, float]] = [("", "", None, 0.0)] * n
        threads = []

        def wait(i: int, proc: subprocess.Popen[str], started: float) -> None:
            try:
                so, se = proc.communicate(timeout=RUN_TIMEOUT_S)
                outputs[i] = (so, se, proc.returncode, time.perf_counter() - started)
            except subprocess.TimeoutExpired:
                proc.kill()
                so, se = proc.communicate()
                outputs[i] = (so, se + f"\ntimed out after {RUN_TIMEOUT_S:.0f} s", None,
                              time.perf_counter() - started)

        for i, (proc, started) in enumerate(procs):
            th = threading.Thread(target=wait, args=(i, proc, started))
            th.start()
            threads.append(th)
        for th in threads:
            th.join()
        wall = time.perf_counter() - t0
    load_after = os.getloadavg()
    for i, ((proc, _), (so, se, code, secs)) in enumerate(zip(procs, outputs, strict=True)):
        res = RunResult(index=i, pid=proc.pid, exit_code=code, seconds=secs,
                        run_dir=copies[i][1])
        if code != 0:
            res.failure = _failure_line(so, se, res.run_dir)
        _inspect(res, runtime)
        results.append(res)
    if watcher.error:
        print(f"  watcher: {watcher.error}", file=sys.stderr)
    return Round(n=n, wall_s=wall, runs=results, containers=dict(watcher.seen),
                 leftovers=_leftovers(pids), load_before=load_before, load_after=load_after)


def interference(rnd: Round, ref: RunResult | None) -> list[str]:
    """Every way the runs of one round failed to be independent (empty: none)."""
    problems: list[str] = []
    runs = rnd.runs
    for r in runs:
        who = f"run {r.index} (pid {r.pid})"
        if r.exit_code != 0:  # the rest follows from the failure
            problems.append(f"{who}: exit {r.exit_code}: {r.failure}")
            continue
        if not r.chain_ok:
            problems.append(f"{who}: audit chain not verified: {r.chain_detail}")
        seen = rnd.containers.get(r.pid)
        if seen is None:
            problems.append(f"{who}: its container was not seen by the watcher")
        elif r.container_id and seen["id"] != r.container_id:
            problems.append(f"{who}: run.json container {r.container_id[:12]} is not the one "
                            f"seen live ({seen['id'][:12]})")
        if ref is not None and r is not ref:
            if r.decisions != ref.decisions:
                problems.append(f"{who}: {r.decisions} decisions, reference {ref.decisions}")
            if r.tests != ref.tests:
                problems.append(f"{who}: {r.tests} tests, reference {ref.tests}")

    runs = [r for r in runs if r.exit_code == 0]

    def distinct(label: str, values: list[Any]) -> None:
        present = [v for v in values if v]
        if len(present) != len(runs) or len(set(present)) != len(present):
            problems.append(f"{label} not distinct per run: {present}")

    distinct("run ids", [r.run_id for r in runs])
    distinct("container ids", [r.container_id for r in runs])
    distinct("decision-log instance ids", [r.instance_id for r in runs])
    distinct("socket dirs", [rnd.containers.get(r.pid, {}).get("socket_dir") for r in runs])
    distinct("decision logs", [str((r.run_dir / "decisions.jsonl").resolve()) for r in runs])
    if rnd.leftovers:
        problems.append(f"containers left over: {rnd.leftovers}")
    return problems


def pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def summarise(rounds: list[Round], ref: RunResult | None) -> tuple[list[str], list[str]]:
    rows = ["| N | wall | runs/min | one run (median / max) | policy eval p50 / p99 "
            "(decisions) | decision p50 / p99 (decided ahead) | first decision: eval / round "
            "trip (medians) | decide round trip p50 / p99 | load avg before → after | "
            "independent |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    notes: list[str] = []
    for rnd in rounds:
        runs = rnd.runs
        warm = [ns / 1e6 for r in runs for ns in r.eval_ns[1:]]
        first = [r.eval_ns[0] / 1e6 for r in runs if r.eval_ns]
        e2e = [ms for r in runs for ms in r.decide_ms[1:]]
        first_rt = [r.decide_ms[0] for r in runs if r.decide_ms]
        secs = [r.seconds for r in runs]
        problems = interference(rnd, ref)
        ok = sum(1 for r in runs if r.exit_code == 0)
        rt = f"{pct(e2e, 50):.1f} / {pct(e2e, 99):.1f} ms" if e2e else "n/a"
        ev = f"{pct(warm, 50):.2f} / {pct(warm, 99):.2f} ms ({len(warm)})" if warm else "n/a"
        fd = (f"{statistics.median(first):.0f} ms" if first else "n/a") + " / " + (
            f"{statistics.median(first_rt):.0f} ms" if first_rt else "n/a")
        rows.append(
            f"| {rnd.n} | {rnd.wall_s:.1f} s | {rnd.n / rnd.wall_s * 60:.1f} | "
            f"{statistics.median(secs):.1f} / {max(secs):.1f} s | {ev} | {decision_cell(runs)} | "
            f"{fd} | {rt} | "
            f"{rnd.load_before[0]:.2f} → {rnd.load_after[0]:.2f} | "
            f"{'yes' if not problems else 'NO'} ({ok}/{rnd.n} exit 0) |")
        notes += [f"N={rnd.n}: {p}" for p in problems]
    return rows, notes


def decision_cell(runs: list[RunResult]) -> str:
    """Every decision's ``timer_decision_ns`` but each run's first, and how many of all its
    decisions were made ahead."""
    times = [ns / 1e6 for r in runs for ns in r.decision_ns[1:]]
    made = sum(r.ahead for r in runs)
    total = sum(len(r.eval_ns) for r in runs)
    if not times:
        return "n/a"
    return f"{pct(times, 50):.2f} / {pct(times, 99):.2f} ms ({made} of {total})"


class SpawnSampler(Background):
    """Spawns `true` every ``every`` seconds in a thread while a run goes on: the decision
    target's threshold, measured under the same load as the run's decisions."""

    def __init__(self, every: float = 0.02) -> None:
        super().__init__()
        self.every = every
        self.times: list[float] = []

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            start = time.perf_counter()
            subprocess.run(["true"], check=True)
            self.times.append((time.perf_counter() - start) * 1000)


def compare_ahead(tmp: Path, runtime: str, rounds: int) -> str:
    """N=1 runs with and without deciding ahead, alternating, ``rounds`` each, beside `true`
    spawns measured between them."""
    res: dict[bool, list[RunResult]] = {True: [], False: []}
    spawns: list[float] = []
    for k in range(rounds):
        for on in ((True, False) if k % 2 == 0 else (False, True)):
            with SpawnSampler() as sampler:
                rnd = run_round(1, tmp, runtime, f"ahead{k}-{on}", ahead=on)
            res[on] += rnd.runs
            spawns += sampler.times
            r = rnd.runs[0]
            print(f"  decide_ahead={on}: exit {r.exit_code}, {r.seconds:.1f} s, {r.ahead} of "
                  f"{len(r.eval_ns)} decided ahead", flush=True)
    s50 = statistics.median(spawns)
    rows = ["| decide ahead | runs (exit 0) | decided ahead | decision p50 / p99 | "
            "p99 ≤ spawn p50 | decide round trip p50 / p99 (agent's view) |",
            "|---|---|---|---|---|---|"]
    for on in (True, False):
        runs = res[on]
        times = [ns / 1e6 for r in runs for ns in r.decision_ns[1:]]
        e2e = [ms for r in runs for ms in r.decide_ms[1:]]
        made, total = sum(r.ahead for r in runs), sum(len(r.eval_ns) for r in runs)
        met = "yes" if times and pct(times, 99) <= s50 else "NO"
        rt = f"{pct(e2e, 50):.1f} / {pct(e2e, 99):.1f} ms" if e2e else "n/a"
        rows.append(f"| {'on (default)' if on else 'off'} | {len(runs)} "
                    f"({sum(r.exit_code == 0 for r in runs)}) | {made} of {total} | "
                    f"{pct(times, 50):.3f} / {pct(times, 99):.3f} ms | {met} | {rt} |")
    return "\n".join([
        f"Deciding ahead, on and off (`--compare-ahead {rounds}`): {rounds} N=1 runs each, "
        f"alternating, as above; a `true` spawn's p50 is {s50:.3f} ms ({len(spawns)} spawns "
        "from the benchmark's process, one every 20 ms while each run went on: under the "
        "same load as its decisions). The decision is "
        "`timer_decision_ns` of every decision but each run's first (deriving or reusing the "
        "kept derivation, evaluating or the cache, on the gateway's decide thread; with "
        "deciding ahead on, a decision made ahead is a checked repeat when the agent asks); "
        "the round trip is the agent's view, as in the table above.",
        "",
        *rows,
    ])


def headline(rounds: list[Round]) -> str:
    """Where the throughput peaks, and what contention costs one run."""
    ok = [r for r in rounds if r.runs]
    if not ok:
        return ""
    best = max(ok, key=lambda r: r.n / r.wall_s)
    alone = next((r for r in ok if r.n == 1), None)
    top = max(ok, key=lambda r: r.n)
    text = f"Throughput peaks at {best.n / best.wall_s * 60:.1f} runs/min (N={best.n})"
    if alone is not None and len(ok) > 1:
        one = statistics.median(r.seconds for r in alone.runs)
        text += (f", {best.n / best.wall_s / (1 / alone.wall_s):.2f}x one run at a time; at "
                 f"N={top.n} a run takes {statistics.median(r.seconds for r in top.runs) / one:.1f}x "
                 "as long as alone")
    return text + " (the runs are CPU-bound: agent, policy and pytest share the cores)."


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1, 2, 4, 8], metavar="N")
    ap.add_argument("--runtime", choices=["builtin", "claude-code"], default="builtin")
    ap.add_argument("--rounds", type=int, default=1, help="repeat each N (default 1)")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the untimed first run (image check, page cache)")
    ap.add_argument("--keep", action="store_true", help="keep the run directories")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    ap.add_argument("--compare-ahead", type=int, default=0, metavar="K",
                    help="also K N=1 runs each with and without deciding ahead, alternating")
    args = ap.parse_args()
    if any(n < 1 for n in args.n) or args.rounds < 1:
        ap.error("N and --rounds must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="sr-parallel-"))
    rounds: list[Round] = []
    ref: RunResult | None = None
    ahead_text = ""
    try:
        if not args.no_warmup:
            warm = run_round(1, tmp, args.runtime, "warmup")
            r = warm.runs[0]
            print(f"warm-up run: exit {r.exit_code}, {r.seconds:.1f} s"
                  + (f": {r.failure}" if r.failure else ""))
            if r.exit_code == 0:
                ref = r
        for k in range(args.rounds):
            for n in args.n:
                print(f"N={n} (round {k + 1}): starting; load average "
                      f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
                rnd = run_round(n, tmp, args.runtime, f"r{k}")
                rounds.append(rnd)
                if ref is None:
                    ref = next((r for r in rnd.runs if r.exit_code == 0), None)
                for r in rnd.runs:
                    state = "ok" if r.exit_code == 0 else f"exit {r.exit_code}: {r.failure}"
                    print(f"  run {r.index}: {r.seconds:.1f} s, {r.decisions} decisions, "
                          f"{r.tests} tests, chain {'ok' if r.chain_ok else 'NOT ok'}, {state}")
                print(f"  wall {rnd.wall_s:.1f} s", flush=True)
        if args.compare_ahead > 0:
            print("deciding ahead, on and off (N=1):", flush=True)
            ahead_text = compare_ahead(tmp, args.runtime, args.compare_ahead)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"run directories kept under {tmp}")

    ref = next((r for rnd in rounds if rnd.n == 1 for r in rnd.runs if r.exit_code == 0), ref)
    rows, notes = summarise(rounds, ref)
    calls = f"{ref.decisions} tool calls" if ref is not None else "its tool calls"
    tests = f"{ref.tests} tests" if ref is not None else "the tests"
    per_run = f"{ref.decisions} decisions" if ref is not None else "a few decisions"
    warmup = "" if args.no_warmup else ", after one untimed warm-up run"
    ref_text = (f"an N=1 run: {ref.decisions} decisions, {ref.tests} tests"
                if ref is not None else "none (no run succeeded)")
    body = "\n".join([
        f"Measured {date.today()} on {platform.machine()}, {os.cpu_count()} cores (a shared "
        f"machine: the load average is in the table), Python {platform.python_version()} "
        f"(`bench/parallel_runs.py --n {' '.join(map(str, args.n))} --runtime {args.runtime}"
        f"{f' --rounds {args.rounds}' if args.rounds > 1 else ''}`): N copies of "
        "`examples/todo-api` run at once, each `sandbox-runner run COPY --model "
        "scripted:examples/todo-api/scenario.yaml --out RUN_DIR -f json` in its own "
        f"process (agent, {calls}, then verification: {tests} with coverage in a "
        f"fresh container){warmup}.",
        "",
        *rows,
        "",
        headline(rounds),
        "",
        "Policy eval is `metrics.timer_rego_query_eval_ns` of every decision of the N runs "
        "but each run's first (that one warms the run's engine and decider: its medians are "
        "the next column; the round trips exclude it too). The decide round trip is the "
        "agent's view (builtin runtime): from its "
        "event before a call to its `tool_call` event, host arrival times at ms resolution: "
        "measuring the call's paths, `/v1/decide` over the socket (derive, evaluate, the "
        f"hash-chained append), one `/v1/events` post. With {per_run} a run, a p99 over "
        "few runs is close to the maximum. The decision is `metrics.timer_decision_ns` (the "
        "whole decision on the gateway's decide thread: deriving or reusing, evaluating or the "
        "cache), each run's first excluded; in brackets, how many of all the decisions were "
        "made ahead (`counter_decided_ahead`: deciding ahead is on, the default). A call the "
        "run had decided before (the scenario runs the same pytest command twice) is a plain "
        "repeat, not counted; under contention the agent sometimes asks before its call's "
        "turn came (it is then decided as it is asked).",
        *(["", ahead_text] if ahead_text else []),
        "",
        "Independent means, for every run: exit 0; its own run id, run directory and "
        "`decisions.jsonl`, its own runner process (`labels.id`), its own socket directory "
        "(the host side of `/run/sandbox-runner`, read from the live container) and "
        "container (`run.json` `container_id`, the one seen live); "
        "`runner.audit.verify_log` ok up to the head in `summary.json`; the same "
        f"decisions and tests as the reference ({ref_text}); no container of its "
        "process left afterwards.",
        *([""] + [f"- {n}" for n in notes] if notes else []),
    ])
    print()
    print(body)
    if args.write:
        replace_section(REPO / "docs" / "benchmarks.md", "Parallel runs", body)
    return 0 if not notes else 1


if __name__ == "__main__":
    sys.exit(main())
