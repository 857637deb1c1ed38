"""Policy precision: replay the benign and attack corpora through the real decider.

    .venv/bin/python bench/policy_precision.py [--repeat 3] [--reasons] [--json out.json] [--write]

Loads ``tests/policy/benign_corpus.yaml`` (every call must be allowed) and
``tests/policy/attack_corpus.yaml`` (every call must be denied), decides each case
through ``Decider`` with the regorus engine on the default bundle, against a fresh
copy of the corpus's workspace fixture plus the case's ``setup`` (as the decision
corpus test does), and prints:

* benign calls denied: count, share, and each denied case with its first reason;
* attacks allowed: count and each allowed case with its category;
* decision time (derive + evaluate, as ``Decider.decide`` measures it): p50, p99 and
  worst of each case's median over ``--repeat`` decisions on its workspace, and the worst
  first (cold) decision, which includes first-touch file system costs and is noisier.

Targets (issue 9): at most 1% of benign calls denied, no attack allowed, worst case at
most 50 ms. ``--write`` replaces the "Policy precision" section of docs/benchmarks.md.
Exits 0 whatever the numbers are: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._report import replace_section  # noqa: E402
from runner.config import PolicyConfig  # noqa: E402
from runner.policy.decider import Decider  # noqa: E402
from runner.policy.derive import warm_up  # noqa: E402
from runner.policy.engine import PolicyEngine, load_engine  # noqa: E402
from runner.policy.models import RunInfo, ToolCall  # noqa: E402
from tests.policy.corpus_support import load_corpus, make_workspace  # noqa: E402

BENIGN = "benign_corpus.yaml"
ATTACK = "attack_corpus.yaml"
TARGET_BENIGN_DENIED = 0.01
TARGET_WORST_MS = 50.0


@dataclass
class Outcome:
    corpus: str
    name: str
    expect: str
    allow: bool
    ms: float  # median over the repeats
    cold_ms: float  # the first decision on a fresh workspace
    reasons: list[str]  # "policy.rule: message"
    category: str = ""
    source: str = ""

    @property
    def wrong(self) -> bool:
        return self.allow != (self.expect == "allow")

    @property
    def first_rule(self) -> str:
        return self.reasons[0].split(":", 1)[0] if self.reasons else "-"


def replay(engine: PolicyEngine, corpus_name: str, tmp: Path, repeat: int) -> list[Outcome]:
    corpus = load_corpus(corpus_name)
    fixture: dict[str, str] = corpus["workspace"]["files"]
    out: list[Outcome] = []
    for i, case in enumerate(corpus["cases"]):
        workspace = make_workspace(tmp / f"{corpus_name}-{i}", fixture, case.get("setup"))
        decider = Decider(engine, workspace=workspace, run=RunInfo(id="precision"))
        call = ToolCall(name=case["call"]["tool"], input=case["call"].get("input", {}))
        gc.collect()
        _, decision, cold = decider.decide(call)
        times = [cold] + [decider.decide(call)[2] for _ in range(repeat - 1)]
        out.append(
            Outcome(
                corpus=corpus_name,
                name=case["name"],
                expect=case["expect"],
                allow=decision.allow,
                ms=statistics.median(times),
                cold_ms=cold,
                reasons=[f"{r.policy}.{r.rule}: {r.msg}" for r in decision.reasons],
                category=case.get("category", ""),
                source=case.get("source", ""),
            )
        )
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(benign: list[Outcome], attack: list[Outcome], *, reasons: bool, repeat: int) -> str:
    denied = [o for o in benign if o.wrong]
    allowed = [o for o in attack if o.wrong]
    share = len(denied) / len(benign) if benign else 0.0
    times = [o.ms for o in benign + attack]
    worst = max(benign + attack, key=lambda o: o.ms)
    cold = max(benign + attack, key=lambda o: o.cold_ms)
    lines = [
        f"Measured {datetime.now():%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()} (`bench/policy_precision.py`): "
        f"{len(benign)} benign and {len(attack)} attack calls from tests/policy/, each decided "
        "through `Decider` (regorus, default bundle) against a fresh copy of the corpus workspace.",
        "",
        "| measure | value | target | met |",
        "|---|---|---|---|",
        f"| benign calls denied | {len(denied)} of {len(benign)} ({share:.1%}) "
        f"| ≤ {TARGET_BENIGN_DENIED:.0%} | {'yes' if share <= TARGET_BENIGN_DENIED else 'NO'} |",
        f"| attacks allowed | {len(allowed)} of {len(attack)} | 0 | {'yes' if not allowed else 'NO'} |",
        f"| decision time p50 / p99 (per-case median of {repeat}) "
        f"| {pct(times, 50):.2f} / {pct(times, 99):.2f} ms | | |",
        f"| worst decision (per-case median) | {worst.ms:.2f} ms ({worst.name}) "
        f"| ≤ {TARGET_WORST_MS:.0f} ms | {'yes' if worst.ms <= TARGET_WORST_MS else 'NO'} |",
        f"| worst first decision on a fresh workspace | {cold.cold_ms:.2f} ms ({cold.name}) "
        f"| ≤ {TARGET_WORST_MS:.0f} ms | {'yes' if cold.cold_ms <= TARGET_WORST_MS else 'NO'} |",
    ]
    if denied:
        by_rule = Counter(o.first_rule for o in denied)
        lines += [
            "",
            "Benign denied by first rule: "
            + ", ".join(f"{rule} {n}" for rule, n in by_rule.most_common())
            + ".",
            "",
            "Benign calls denied (name: first reason):",
            "",
        ]
        for o in denied:
            first = o.reasons[0] if o.reasons else "(no reason)"
            lines.append(f"- {o.name}: {one_line(first, 10_000 if reasons else 160)}")
    if allowed:
        by_category = Counter(o.category for o in allowed)
        lines += [
            "",
            "Attacks allowed by category: "
            + ", ".join(f"{cat} {n}" for cat, n in by_category.most_common())
            + ".",
            "",
            "Attacks allowed (category: name):",
            "",
        ]
        lines += [f"- {o.category}: {o.name}" for o in allowed]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeat", type=int, default=3, help="decisions per case for timing (default 3)"
    )
    parser.add_argument("--reasons", action="store_true", help="print reasons in full")
    parser.add_argument("--json", type=Path, help="also write every outcome as JSON here")
    parser.add_argument(
        "--write", action="store_true", help="replace the section in docs/benchmarks.md"
    )
    args = parser.parse_args()

    engine = load_engine(PolicyConfig())
    try:
        warm_up()
        with tempfile.TemporaryDirectory() as tmp:
            benign = replay(engine, BENIGN, Path(tmp), max(1, args.repeat))
            attack = replay(engine, ATTACK, Path(tmp), max(1, args.repeat))
    finally:
        engine.close()

    text = render(benign, attack, reasons=args.reasons, repeat=max(1, args.repeat))
    print(text)
    if args.json:
        data: list[dict[str, Any]] = [asdict(o) | {"wrong": o.wrong} for o in benign + attack]
        args.json.write_text(json.dumps(data, indent=1), encoding="utf-8")
    if args.write:
        replace_section(REPO / "docs" / "benchmarks.md", "Policy precision", text)


if __name__ == "__main__":
    main()
