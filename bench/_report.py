"""Write one benchmark's section of docs/benchmarks.md, leaving the others as they are."""

from __future__ import annotations

import re
from pathlib import Path

HEADER = "# Benchmarks\n\nEach section is rewritten by its script under `bench/`; numbers are medians of\nmeasurements taken side by side in one run (the machines are noisy: compare ratios).\n"


def replace_section(doc: Path, title: str, body: str) -> None:
    text = doc.read_text(encoding="utf-8") if doc.exists() else HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
