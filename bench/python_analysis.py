"""Python analysis: worst-case time of `analyze_python` on adversarial sources.

    .venv/bin/python bench/python_analysis.py [--runs 5]

Each pattern is repeated as often as the bounds let it be analysed (the largest
source under the parse budget `MAX_COST` and `max_bytes`), so every row is a
worst case of its kind; a few real files of this repository are added. Prints the
best-of-runs wall and CPU time of each and what bound (if any) made it opaque.
Target (issue 9): every input within the size limit decided in well under 50 ms.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from runner.policy.python import MAX_COST, analyze_python
from runner.policy.python.values import _cost

LIMIT = 64 * 1024
ROOT = Path(__file__).resolve().parent.parent

PATTERNS: dict[str, Callable[[int], str]] = {
    "calls f(x)": lambda n: "f(x)\n" * n,
    "open('a/b')": lambda n: "open('a/b')\n" * n,
    "method chains": lambda n: "a.b.c.d(e).f\n" * n,
    "names a;": lambda n: "a;" * n,
    "list of constants": lambda n: "x = [" + "1," * n + "]",
    "dict of constants": lambda n: "x = {" + "1:1," * n + "}",
    "f-string fields": lambda n: 'f"' + "{x}" * n + '"',
    "deep binop": lambda n: "x = " + "1+" * n + "1",
    "deep attributes": lambda n: "a" + ".b" * n,
    "deep subscripts": lambda n: "a" + "[0]" * n,
    "if/else assigns": lambda n: "if a:\n  b = 1\nelse:\n  b = 2\n" * n,
    "try/except assigns": lambda n: "try:\n  a = 1\nexcept E:\n  a = 2\n" * n,
    "loops with assigns": lambda n: "for x in y:\n  a = b; c = d; e = f\n" * n,
    "40 nested loops": lambda n: "".join(" " * i + f"for x{i} in y:\n" for i in range(40))
    + (" " * 40 + "p = q(p)\n") * n,
    "comprehensions": lambda n: "[x for x in y if x]\n" * n,
    "lambdas": lambda n: "lambda a, b: a\n" * n,
    "function defs": lambda n: "def f(a):\n  return a\n" * n,
    "call chain of functions": lambda n: "".join(f"def f{i}(p):\n    f{i + 1}(p)\n"
                                                 for i in range(n)) + "f0('a')\nf0('b')\n",
    "one function, many call sites": lambda n: "def f(a, b):\n    open(a); open(b)\n"
    + "".join(f"f('a{i}', 'b{i}')\n" for i in range(n)),
    "1500 names then a branch": lambda n: "".join(f"v{i} = {i}\n" for i in range(n))
    + "if a:\n" + "".join(f"    v{i} = 0\n" for i in range(n)),
    "exec of constant strings": lambda n: "exec('x = 1')\n" * n,
    "path arithmetic": lambda n: "Path('a') / 'b' / 'c'\n" * n,
}


def largest(make: Callable[[int], str]) -> str:
    """The largest source of the pattern within the byte limit and the parse budget."""
    def fits(n: int) -> bool:
        src = make(n)
        return len(src) <= LIMIT and _cost(src) <= MAX_COST

    lo, hi = 1, 2
    while fits(hi) and hi < 1 << 20:
        lo, hi = hi, hi * 2
    while lo < hi - 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return make(lo)


def measure(src: str, runs: int) -> tuple[float, float, str]:
    wall = cpu = float("inf")
    bound = ""
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        r = analyze_python(src)
        cpu = min(cpu, time.process_time() - c0)
        wall = min(wall, time.perf_counter() - w0)
        bound = ", ".join(sorted({o.construct for o in r.opaque
                                  if o.construct.startswith("python-too")}))
    return wall * 1000, cpu * 1000, bound


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    cases = {name: largest(make) for name, make in PATTERNS.items()}
    for rel in ("runner/policy/paths.py", "runner/reports/html.py", "runner/agent/tools.py"):
        cases[rel] = (ROOT / rel).read_text(encoding="utf-8")
    worst = 0.0
    print(f"{'source':32s} {'bytes':>6s} {'wall ms':>8s} {'cpu ms':>7s}  bound")
    for name, src in cases.items():
        wall, cpu, bound = measure(src, args.runs)
        worst = max(worst, cpu)
        print(f"{name:32s} {len(src):6d} {wall:8.1f} {cpu:7.1f}  {bound}")
    print(f"worst CPU time: {worst:.1f} ms")


if __name__ == "__main__":
    main()
