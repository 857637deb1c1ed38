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
import json
import os
import platform
import statistics
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
from runner.agent.paths import Workspace  # noqa: E402
from runner.agent.tools import Toolbox  # noqa: E402
from runner.config import PolicyConfig  # noqa: E402
from runner.policy.bundle import load_bundle  # noqa: E402
from runner.policy.decider import Decided, Decider, workspace_decider  # noqa: E402
from runner.policy.engine import load_engine  # noqa: E402
from runner.policy.models import PolicyInput, RunInfo, ToolCall  # noqa: E402
from runner.protocol import BUILTIN_TOOLS, MeasuredPath  # noqa: E402

REDACTION = (
    "Redaction is part of every logged decision. A decided input and its decision are first "
    "looked at whole (`Redactor.finds_any`: their strings not redacted before, joined; the "
    "common case, nothing to redact, is logged as it is, without a walk of the tree); only "
    "when that finds something is each string redacted. The detectors run only where their "
    "gate matches, on the lines its matches touch (`runner/secret_gates.py`: read off each "
    "detect-secrets regex, matching wherever the regex does in ASCII text; a line that is "
    "not ASCII gets every detector); the gates whose strings are known are answered "
    "by one Aho-Corasick pass over the text, shared with the policy's secret scan for a long "
    "text (a Write's content). Checked against the code before these changes (commit "
    "ad4f114): the redacted inputs and decisions of 3,000 generated calls are identical, so "
    "are the policy scan's findings on 60,176 texts (19,734 of them not ASCII), and the "
    "detector stage equals every detector on every line for 15,177 texts from this "
    "repository and 200,000 generated ones (more than 64,000 of them not ASCII). "
    "History: the gates brought the cold p99 from 5.17 to 2.74 ms (commit 5806021 against "
    "10795e1)."
)


SIDES = ("first", "cold", "cached", "ahead")
ORDERS = tuple(SIDES[i:] + SIDES[:i] for i in range(len(SIDES)))


def timed(decider: Decider, call: ToolCall,
          measured: list[MeasuredPath]) -> tuple[float, float, Decided[PolicyInput]]:
    """(wall ms, this thread's CPU ms, the decision)."""
    start, cpu = time.perf_counter(), time.thread_time()
    decided = decider.decide_logged(call, measured=measured)
    return ((time.perf_counter() - start) * 1000, (time.thread_time() - cpu) * 1000, decided)


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

        # decided ahead as a run does it (Decider.prepare when the model's answer arrives,
        # runner/gateway/ahead.py), then asked; a new Decider per call, its redactor kept
        early = workspace_decider(engine, workspace=ws, run=run, bundle=bundle)

        def ahead_decider() -> Decider:
            return Decider(engine, workspace=ws, run=run, masks=early.masks,
                           redactor=early.redactor)

        # each call as the built-in agent asks for it: with its own measurements of the
        # call's path arguments (Toolbox.measure, the workspace seen as /workspace)
        box = Toolbox(Workspace(ws), enabled=list(BUILTIN_TOOLS), output_limit=1000,
                      bash_timeout=1)
        asked = [box.measure(call.name, call.input) for _, call in calls]
        for (_, call), seen in zip(calls[:50], asked, strict=False):
            first_decider().decide_logged(call, measured=seen)
            warm = ahead_decider()
            warm.prepare(call)
            warm.decide_logged(call, measured=seen)
        assert cached.cache is not None and cached.derived is not None
        for (_, call), seen in zip(calls[:50], asked, strict=False):  # warm-up: imports, caches
            cold.decide_logged(call, measured=seen)
        for (_, call), seen in zip(calls, asked, strict=True):  # every timed call: a repeat
            cached.decide_logged(call, measured=seen)
        times: dict[str, list[float]] = {k: [] for k in (*SIDES, "spawn", "prepare")}
        cpu: dict[str, list[float]] = {k: [] for k in SIDES}
        by_category: dict[str, dict[str, list[float]]] = {}
        not_cached: Counter[str] = Counter()
        not_ahead: Counter[str] = Counter()
        every = max(1, len(calls) // spawns)
        filled, reused = cached.cache.hits, cached.derived.hits
        heap.settle()
        load = os.getloadavg()[0]
        collections = [g["collections"] for g in gc.get_stats()]
        for i, ((category, call), seen) in enumerate(zip(calls, asked, strict=True)):
            order = ORDERS[i % len(ORDERS)]
            first, ahead = first_decider(), ahead_decider()
            for which in order:
                decider = {"first": first, "cold": cold, "cached": cached, "ahead": ahead}[which]
                if which == "ahead":  # off the agent's path: timed apart
                    start = time.perf_counter()
                    ahead.prepare(call)
                    times["prepare"].append((time.perf_counter() - start) * 1000)
                ms, cpu_ms, decided = timed(decider, call, seen)
                times[which].append(ms)
                cpu[which].append(cpu_ms)
                by_category.setdefault(category, {k: [] for k in cpu})[which].append(ms)
                if which == "cached" and not decided.cached:
                    not_cached[category] += 1
                if which == "ahead" and not decided.ahead:
                    not_ahead[category] += 1
                assert which in ("cached", "ahead") or not decided.cached
            if i % every == 0:
                times["spawn"].append(spawn_true())
        gcs = [g["collections"] - c for g, c in zip(gc.get_stats(), collections, strict=True)]
        hits, size = cached.cache.hits - filled, len(cached.cache)
        kept, reuses = len(cached.derived), cached.derived.hits - reused
    engine.close()
    return {"times": times, "cpu": cpu, "by_category": by_category, "not_cached": not_cached,
            "not_ahead": not_ahead, "hits": hits, "size": size, "kept": kept, "reuses": reuses,
            "gcs": gcs, "masks": len(cached.masks), "n": len(calls),
            "measured": sum(bool(m) for m in asked), "load": (load, os.getloadavg()[0])}


def render(res: dict[str, Any], args: argparse.Namespace) -> str:
    t = res["times"]
    s50 = pct(t["spawn"], 50)
    rows = []
    for name, key in (("first decision, as a run makes it (caches on, the call new to them)",
                       "first"),
                      ("cold: derive + evaluate, no caches", "cold"),
                      ("repeat: kept derivation checked + cached decision", "cached"),
                      ("first decision, decided ahead (`Decider.prepare` when the model's "
                       "answer arrived, then the agent's request, as a run makes it)", "ahead"),
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
    not_ahead = sum(res["not_ahead"].values())
    early = ", ".join(f"{k} {v}" for k, v in sorted(res["not_ahead"].items())) or "none"
    ahead_cats = "; ".join(
        f"{k} {pct(v['ahead'], 50):.3f}/{pct(v['ahead'], 99):.3f}"
        for k, v in sorted(cats.items()))
    tail = max(cats, key=lambda k: pct(cats[k]["first"], 99))
    over = sum(ms > s50 for ms in t["first"])
    gen0, gen1, gen2 = res["gcs"]
    return "\n".join([
        f"Measured {date.today()} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()} (`bench/decision_cache.py --calls {args.calls} --spawns "
        f"{args.spawns} --write`): bench/policy_latency.py's {res['n']} generated calls, each "
        "asked as the built-in agent asks (with its own measurements of the call's path "
        f"arguments, `Toolbox.measure`: {res['measured']} calls have some) and decided by "
        "`Decider.decide_logged` four times, in rotating order: as a run's first "
        "decision of it (caches on, new to them), without caches, as a repeat, and as a "
        "run's first decision of a call it decided ahead, beside "
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
        "Decided ahead: a run decides the tool calls of a model's answer before the agent "
        "asks (`runner/gateway/ahead.py`: on the decide thread, once the answer is sent, one "
        "call per gap the agent leaves: while it reads the answer, and while it runs each "
        "allowed tool), logging and answering nothing; the agent's request is then decided "
        "as a repeat (the kept derivation checked against the workspace, the decision looked "
        "up: the agent's measurements, which it sends only when it asks, are logged, never "
        "given to the policies). The work is moved, not saved: preparing took p50 "
        f"{pct(t['prepare'], 50):.3f} / p99 {pct(t['prepare'], 99):.3f} ms off the agent's "
        "path (deriving, evaluating, and redacting the input and decision as they will be "
        "logged, which warms the redactor). Here each call is prepared right before it is "
        f"asked; {res['n'] - not_ahead} of {res['n']} asked decisions came from what was "
        f"decided ahead (not: {early}). By category, p50/p99 ms of the asked decision: "
        f"{ahead_cats}. How often the preparation is done before the agent asks in real runs "
        "is in \"Parallel runs\" (`counter_decided_ahead` in the log).",
        "",
        REDACTION,
    ])


# A child process measuring first decisions with the code of one tree (this one or a
# baseline checkout): the calls of bench/policy_latency.py, each decided by a new Decider
# with its caches on (its redactor kept), as ``measure``'s first side, with a `true` spawn
# after every fourth call (as ``measure`` interleaves them: the threshold is measured under
# the same conditions as the decisions). Prints JSON.
CHILD = """
import json, subprocess, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bench.policy_latency import generate_calls, make_workspace
from runner import heap
from runner.config import PolicyConfig
from runner.policy.bundle import load_bundle
from runner.policy.decider import Decider, workspace_decider
from runner.policy.engine import load_engine
from runner.policy.models import RunInfo
calls = generate_calls(int(sys.argv[2]), int(sys.argv[3]))
if sys.argv[4] == "accented":  # each Write's content with one line that is not ASCII
    for _, call in calls:
        if call.name == "Write":
            call.input["content"] = "# café\\n" + call.input["content"]
bundle = load_bundle([])
engine = load_engine(PolicyConfig(), bundle=bundle)
run = RunInfo(id="bench", agent="backend-implementer")
out = []
with tempfile.TemporaryDirectory() as tmp:
    ws = Path(tmp) / "ws"
    make_workspace(ws)
    fresh = workspace_decider(engine, workspace=ws, run=run, bundle=bundle)
    def first():
        return Decider(engine, workspace=ws, run=run, masks=fresh.masks, redactor=fresh.redactor)
    for _, call in calls[:50]:
        first().decide_logged(call)
    heap.settle()
    spawns = []
    for i, (category, call) in enumerate(calls):
        decider = first()
        start = time.perf_counter()
        decider.decide_logged(call)
        out.append([category, (time.perf_counter() - start) * 1000])
        if i % 4 == 3:
            start = time.perf_counter()
            subprocess.run(["true"], check=True)
            spawns.append((time.perf_counter() - start) * 1000)
print(json.dumps({"decisions": out, "spawns": spawns}))
"""


def child_run(tree: Path, calls: int, seed: int, texts: str,
              spawns: list[float]) -> list[tuple[str, float]]:
    """The (category, ms) of each first decision; the spawns' ms are added to ``spawns``."""
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(calls), str(seed), texts],
                          capture_output=True, text=True, check=False, cwd=tree)
    if proc.returncode != 0:
        raise SystemExit(f"measuring {tree} failed: {proc.stderr[-2000:]}")
    got = json.loads(proc.stdout)
    spawns += got["spawns"]
    return [(c, ms) for c, ms in got["decisions"]]


def compare(baseline: Path, rounds: int, calls: int, seed: int) -> str:
    """First decisions with this tree's code and ``baseline``'s, in alternating child
    processes, ``rounds`` each; medians over the rounds, beside `true` spawns."""
    res: dict[tuple[str, str], list[list[tuple[str, float]]]] = {}
    spawns: list[float] = []
    for i in range(rounds):
        for which in (("this", "base") if i % 2 == 0 else ("base", "this")):
            for texts in ("ascii", "accented"):
                res.setdefault((which, texts), []).append(
                    child_run(REPO if which == "this" else baseline, calls, seed, texts, spawns))
    s50 = pct(spawns, 50)
    commit = subprocess.run(["git", "-C", str(baseline), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()

    def row(name: str, runs: list[list[tuple[str, float]]]) -> str:
        p50 = statistics.median(pct([ms for _, ms in r], 50) for r in runs)
        p90 = statistics.median(pct([ms for _, ms in r], 90) for r in runs)
        p99 = statistics.median(pct([ms for _, ms in r], 99) for r in runs)
        over = statistics.median(sum(ms > s50 for _, ms in r) for r in runs)
        cats = sorted({c for c, _ in runs[0]})
        by = ", ".join(f"{c} {statistics.median(sum(ms > s50 for k, ms in r if k == c) for r in runs):.0f}"
                       for c in cats)
        return (f"| {name} | {p50:.3f} ms | {p90:.3f} ms | {p99:.3f} ms | {over:.0f} of {calls} "
                f"({by}) |")

    return "\n".join([
        f"First decisions, this code against the baseline (commit {commit or baseline.name}), "
        f"measured {date.today()} with `bench/decision_cache.py --baseline DIR --rounds "
        f"{rounds}`: each round decides the {calls} generated calls in a child process per "
        "tree, alternating, each call by a new Decider with its caches on (as the first "
        "side above); medians of the rounds' p50, p90 and p99, and how many calls took longer "
        f"than a `true` spawn's p50 ({s50:.3f} ms; {len(spawns)} spawns, one after every "
        "fourth call in the same child processes, as the first table interleaves them).",
        "",
        "| code | p50 | p90 | p99 | first decisions over the spawn's p50 (by category) |",
        "|---|---|---|---|---|",
        row("this tree", res[("this", "ascii")]),
        row(f"baseline {commit}", res[("base", "ascii")]),
        row("this tree, each Write with a line that is not ASCII", res[("this", "accented")]),
        row(f"baseline {commit}, the same", res[("base", "accented")]),
        "",
        "The last two rows give each Write's content one line that is not ASCII (`# café`): "
        "the secret detectors' gates hold for ASCII text, and such a line gets every "
        "detector; the baseline ran every detector on every line of such a text.",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1200)
    parser.add_argument("--spawns", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true",
                        help="replace the Decision cache section of docs/benchmarks.md")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="also compare first decisions with another checkout of the code "
                             "(git worktree add DIR COMMIT), in alternating child processes")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the comparison")
    args = parser.parse_args()
    body = render(measure(generate_calls(args.calls, args.seed), args.spawns), args)
    if args.baseline is not None:
        body += "\n\n" + compare(args.baseline.resolve(), args.rounds, args.calls, args.seed)
    print(body)
    if args.write:
        replace_section(REPO / "docs" / "benchmarks.md", "Decision cache", body)


if __name__ == "__main__":
    main()
