"""issues.md parsing: the markdown-it parser against the regular-expression one it replaced.

    .venv/bin/python bench/issues_parse.py [--runs 3] [--old-commit REV]

The old parser (`runner/reports/issues.py` at ``--old-commit``, default the commit
before the rewrite) is loaded from git history; both parse the same inputs: a large
realistic file (issue headings with priority lines, sub-headings, lists, tables,
fences) cut at the 1 MiB cap, a 1 MiB flat list, and the crafted inputs of
tests/reports/test_issues.py. Prints best-of-runs seconds and the entry counts.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from runner.reports.issues import MAX_ISSUES_BYTES, parse_issues_md

ROOT = Path(__file__).resolve().parent.parent
OLD_COMMIT = "5b18f83~1"  # the last commit with the regular-expression parser

UNIT = """## Rate limit numbers {i}
Priority: low

The spec says requests are rate limited but gives no numbers. We picked 100/min.

### Impact
Clients may be throttled differently than expected.

- **Pagination {i}** — no page size given. (P2)
- [ ] Decide on `due_date` format [HIGH]

| # | Issue | Priority |
|---|-------|----------|
| 1 | Auth missing {i} | High |

```python
# not a heading
limit = 100
```
"""


def _old_parser(rev: str) -> Callable[[str], list[object]]:
    source = subprocess.run(["git", "show", f"{rev}:runner/reports/issues.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "old_issues.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_issues", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_issues"] = module
    spec.loader.exec_module(module)
    return module.parse_issues_md  # type: ignore[no-any-return]


def _best(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--old-commit", default=OLD_COMMIT)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.reports.test_issues import ADVERSARIAL

    old = _old_parser(args.old_commit)
    realistic = ("# Issues\n\n" + "".join(UNIT.format(i=i) for i in range(2000)))
    inputs = {
        "realistic, ~0.8 MiB": realistic[:MAX_ISSUES_BYTES],
        "flat list, 1 MiB": "- item\n" * (MAX_ISSUES_BYTES // 7),
        "crafted inputs (25, total)": "\0".join(ADVERSARIAL),
    }
    print(f"{'input':<28} {'old s':>8} {'new s':>8} {'old n':>6} {'new n':>6}")
    for name, text in inputs.items():
        parts = text.split("\0") if "\0" in text else [text]
        t_old = _best(lambda p=parts: [old(x) for x in p], args.runs)
        t_new = _best(lambda p=parts: [parse_issues_md(x) for x in p], args.runs)
        n_old = sum(len(old(x)) for x in parts)
        n_new = sum(len(parse_issues_md(x)) for x in parts)
        print(f"{name:<28} {t_old:>8.2f} {t_new:>8.2f} {n_old:>6} {n_new:>6}")


if __name__ == "__main__":
    main()
