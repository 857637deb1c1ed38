"""Decision cache: a first decision as a run makes it, the same decision without caches and
the same call repeated (its kept derivation checked against the workspace + the Decider's
cached decision), beside a `true` spawn, side by side in one run.

    .venv/bin/python bench/decision_cache.py [--calls 1200] [--spawns 300] [--write]

The calls are bench/policy_latency.py's generated mix (reads, writes with real contents,
edits, searches, plain and tricky shell) against the same kind of temporary workspace. The
Deciders share one engine and are built as a run builds its Decider (the masks of the
workspace's secret files, the redactor of the host's secret environment and those files:
``workspace_decider``; each side its own redactor, so a text cache holds only what that side
redacted itself):

- first: a Decider with its caches on that has not seen the call (a new one per call, its
  redactor kept from call to call as a run's is): derivation recorded and kept, the
  decision's key computed and the decision kept, as a run's first decision of a call;
- cold: one without caches (every decision derived and evaluated, nothing kept);
- repeat: one whose caches hold every call (decided once before the timed loop: the repeat
  a run sees when the agent reads the same file again or Claude Code asks twice).

Then the heap is settled as the run settles it once start-up is over
(``runner.heap.settle``). Each call is decided by all three, in rotating order, with a
`subprocess.run(["true"])` every few calls, so all are measured under the same conditions.
Results replace the "Decision cache" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._report import replace_section  # noqa: E402
from bench.policy_latency import generate_calls, make_workspace, pct  # noqa: E402
from runner import heap  # noqa: E402
from runner.config import PolicyConfig  # noqa: E402
from runner.policy.bundle import load_bundle  # noqa: E402
from runner.policy.decider import Decider, workspace_decider  # noqa: E402
from runner.policy.engine import load_engine  # noqa: E402
from runner.policy.models import RunInfo, ToolCall  # noqa: E402

REDACTION = (
    "Redaction is part of every logged decision. Its detectors run only where their gate "
    "matches (`runner/secret_gates.py`: read off each detect-secrets regex, matching wherever "
    "the regex does in ASCII text; text that is not ASCII gets every detector): measured 2026-12-01 with this script on this machine, the cold p99 was "
    "5.17 ms with the redactor before the gates (commit 5806021) against 2.74 ms with them "
    "(15,172 texts redacted identically by both)."
)


ORDERS = (("first", "cold", "cached"), ("cached", "first", "cold"), ("cold", "cached", "first"))


def timed(decider: Decider, call: ToolCall) -> tuple[float, float, bool]:
    """(wall ms, this thread's CPU ms, whether the decision came from the cache)."""
    start, cpu = time.perf_counter(), time.thread_time()
    decided = decider.decide_logged(call)
    return ((time.perf_counter() - start) * 1000, (time.thread_time() - cpu) * 1000,
            decided.cached)


def spawn_true() -> float:
    start = time.perf_counter()
    subprocess.run(["true"], check=True)
    return (time.perf_counter() - start) * 1000


def measure(calls: list[tuple[str, ToolCall]], spawns: int) -> dict[str, Any]:
    bundle = load_bundle([])
    engine = load_engine(PolicyConfig(), bundle=bundle)
    run = RunInfo(id="bench", agent="backend-implementer")
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        make_workspace(ws)
        cached = workspace_decider(engine, workspace=ws, run=run, bundle=bundle)
        # its own redactor: its text cache holds only what the cold side redacted before
        # (a first decision's texts are new to a run's redactor; the filled side's are not)
        own = workspace_decider(engine, workspace=ws, run=run, bundle=bundle)
        cold = Decider(engine, workspace=ws, run=run, masks=own.masks, redactor=own.redactor,
                       cache_size=0)
        # a first decision as a run makes it: caches on (the derivation recorded and kept, the
        # decision's key computed and the decision kept), none holding the call yet; its own
        # redactor, kept from call to call as a run's is
        fresh = workspace_decider(engine, workspace=ws, run=run, bundle=bundle)

        def first_decider() -> Decider:
            return Decider(engine, workspace=ws, run=run, masks=fresh.masks,
                           redactor=fresh.redactor)

        for _, call in calls[:50]:
            first_decider().decide_logged(call)
        assert cached.cache is not None and cached.derived is not None
        for _, call in calls[:50]:  # warm-up: imports, parser and regex caches
            cold.decide_logged(call)
        for _, call in calls:  # fill the caches: every timed call below is a repeat
            cached.decide_logged(call)
        times: dict[str, list[float]] = {"first": [], "cold": [], "cached": [], "spawn": []}
        cpu: dict[str, list[float]] = {"first": [], "cold": [], "cached": []}
        by_category: dict[str, dict[str, list[float]]] = {}
        not_cached: Counter[str] = Counter()
        every = max(1, len(calls) // spawns)
        filled, reused = cached.cache.hits, cached.derived.hits
        heap.settle()
        load = os.getloadavg()[0]
        collections = [g["collections"] for g in gc.get_stats()]
        for i, (category, call) in enumerate(calls):
            order = ORDERS[i % len(ORDERS)]
            first = first_decider()
            for which in order:
                decider = {"first": first, "cold": cold, "cached": cached}[which]
                ms, cpu_ms, hit = timed(decider, call)
                times[which].append(ms)
                cpu[which].append(cpu_ms)
                by_category.setdefault(category, {k: [] for k in cpu})[which].append(ms)
                if which == "cached" and not hit:
                    not_cached[category] += 1
                assert which == "cached" or not hit
            if i % every == 0:
                times["spawn"].append(spawn_true())
        gcs = [g["collections"] - c for g, c in zip(gc.get_stats(), collections, strict=True)]
        hits, size = cached.cache.hits - filled, len(cached.cache)
        kept, reuses = len(cached.derived), cached.derived.hits - reused
    engine.close()
    return {"times": times, "cpu": cpu, "by_category": by_category, "not_cached": not_cached,
            "hits": hits, "size": size, "kept": kept, "reuses": reuses, "gcs": gcs,
            "masks": len(cached.masks), "n": len(calls), "load": (load, os.getloadavg()[0])}


def render(res: dict[str, Any], args: argparse.Namespace) -> str:
    t = res["times"]
    s50 = pct(t["spawn"], 50)
    rows = []
    for name, key in (("first decision, as a run makes it (caches on, the call new to them)",
                       "first"),
                      ("cold: derive + evaluate, no caches", "cold"),
                      ("repeat: kept derivation checked + cached decision", "cached"),
                      ("`subprocess.run(['true'])`", "spawn")):
        p50, p99 = pct(t[key], 50), pct(t[key], 99)
        met = "" if key == "spawn" else ("yes" if p99 <= s50 else "NO")
        cpu = (f"{pct(res['cpu'][key], 50):.3f} / {pct(res['cpu'][key], 99):.3f} ms"
               if key in res["cpu"] else "")
        rows.append(f"| {name} | {p50:.3f} ms | {p99:.3f} ms | {p99 / s50:.2f}x | {met} "
                    f"| {cpu} |")
    cats = res["by_category"]
    by_cat = "; ".join(
        f"{k} ({len(v['first'])}) {pct(v['first'], 50):.3f}/{pct(v['first'], 99):.3f} → "
        f"{pct(v['cached'], 50):.3f}/{pct(v['cached'], 99):.3f}, "
        f"{sum(ms > s50 for ms in v['first'])} over" for k, v in sorted(cats.items()))
    misses = sum(res["not_cached"].values())
    tail = max(cats, key=lambda k: pct(cats[k]["first"], 99))
    over = sum(ms > s50 for ms in t["first"])
    gen0, gen1, gen2 = res["gcs"]
    return "\n".join([
        f"Measured {date.today()} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()} (`bench/decision_cache.py --calls {args.calls} --spawns "
        f"{args.spawns} --write`): bench/policy_latency.py's {res['n']} generated calls, each "
        "decided by `Decider.decide_logged` three times, in rotating order: as a run's first "
        "decision of it (caches on, new to them), without caches, and as a repeat, beside "
        f"{len(t['spawn'])} spawns of `true` interleaved. The Deciders are built as a run builds "
        f"its own ({res['masks']} masked file, the host's redactor, one per side: every decided "
        "input and decision is redacted, as it is logged), and the "
        "heap is settled after start-up as the run settles it (`runner.heap.settle`).",
        "",
        "| decision | p50 | p99 | p99 / spawn p50 | p99 ≤ spawn p50 | CPU p50 / p99 |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "p50 and p99 are wall time, the target's measure; CPU is the deciding thread's own "
        "time (`time.thread_time`), what the code costs without the waits of a shared machine "
        f"(load average {res['load'][0]:.2f} → {res['load'][1]:.2f} over the run).",
        "",
        f"A repeat reused its kept derivation {res['reuses']} times of {res['n']} "
        f"({res['kept']} kept) and its decision came from the cache {res['hits']} times "
        f"({res['size']} distinct inputs; {misses} evaluated). Reusing a derivation first asks "
        "the workspace every question the derivation asked (lstat, readlink, listings, the hash "
        "of what it read; `runner/policy/derived.py`): a changed workspace is derived afresh, "
        "so what is saved is the analysis (shell and Python parsing and walking, pattern "
        "expansion, secret scanning), not the looks; a hit skips the engine. Garbage "
        f"collections during the timed loop: {gen0} / {gen1} / {gen2} (generation 0 / 1 / 2). "
        f"By category (calls), p50/p99 ms first → repeat, and how many first decisions took "
        f"longer than the spawn's p50: {by_cat}. A first decision's p99 is "
        f"{'under' if pct(t['first'], 99) <= s50 else 'not under'} the spawn's p50 "
        f"({over} of {res['n']} first decisions took longer; a p99 under it allows "
        f"{res['n'] // 100}); its slowest category is {tail} "
        f"({pct(cats[tail]['first'], 99):.3f} ms p99).",
        "",
        REDACTION,
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1200)
    parser.add_argument("--spawns", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true",
                        help="replace the Decision cache section of docs/benchmarks.md")
    args = parser.parse_args()
    body = render(measure(generate_calls(args.calls, args.seed), args.spawns), args)
    print(body)
    if args.write:
        replace_section(REPO / "docs" / "benchmarks.md", "Decision cache", body)


if __name__ == "__main__":
    main()
