"""GitHub Actions workflow commands: ``report --format github``.

One ``::error`` per denied call (``title=policy/rule``; ``file=`` the workspace path it
touched, else ``decisions.jsonl`` with ``line=`` when the run directory is inside the
checkout) and one ``::warning`` per failed gate. GitHub shows at most 10 annotations of
each type per step (50 per job), so at most ``cap`` of each type are printed, identical
ones once, then one ``::notice`` says how many more there are and where to see them.

Escaping follows the runner's toolkit (``@actions/core`` ``command.ts``): in the message
``%``, CR and LF become ``%25``, ``%0D``, ``%0A``; in property values ``:`` and ``,``
become ``%3A`` and ``%2C`` as well. The text itself is redacted and sanitized first
(:mod:`.findings`), so a reason cannot start a command of its own.
"""

from __future__ import annotations

from collections import Counter

from runner.reports.findings import Finding, Findings

GITHUB_CAP = 10  # annotations of one type GitHub shows per step


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, **props: str | int) -> str:
    """One workflow command line: ``::kind k=v,k=v::message``."""
    parts = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items())
    return f"::{kind} {parts}::{escape_data(message)}" if parts else f"::{kind}::{escape_data(message)}"


def _annotation(f: Finding, prefix: str | None) -> str:
    kind = "error" if f.level == "error" else "warning"
    props: dict[str, str | int] = {}
    if f.path is not None:
        props["file"] = f.path
    elif prefix is not None and f.run_file:
        props["file"] = prefix + f.run_file
        if f.line is not None:
            props["line"] = f.line
    props["title"] = f.rule_id
    return command(kind, f.message, **props)


def _counted(counts: Counter[str]) -> str:
    return " and ".join(f"{n} more {'denied calls' if level == 'error' else 'failed gates'}"
                        for level, n in sorted(counts.items()) if n)


def render_annotations(findings: Findings, prefix: str | None, *, cap: int = GITHUB_CAP) -> str:
    """The workflow commands, one per line (empty when there is nothing to report)."""
    lines: list[str] = []
    left: Counter[str] = Counter()  # over the cap
    repeated: Counter[str] = Counter()  # the same annotation again (shown once)
    shown: Counter[str] = Counter()
    seen: set[str] = set()
    for f in sorted(findings.items, key=lambda f: f.level != "error"):  # stable: errors first
        line = _annotation(f, prefix)
        if line in seen:
            repeated[f.level] += 1
            continue
        if shown[f.level] >= cap:
            left[f.level] += 1
            continue
        seen.add(line)
        shown[f.level] += 1
        lines.append(line)
    left["error"] += findings.omitted
    notes = []
    if left["error"] or left["warning"]:
        notes.append(f"{_counted(left)} not annotated (GitHub shows {cap} per type and step)")
    if repeated["error"] or repeated["warning"]:
        notes.append(f"{_counted(repeated)} repeated an annotation above (shown once)")
    if notes:
        lines.append(command(
            "notice", "; ".join(notes) + ": see the SARIF report (code scanning) or "
            "`sandbox-runner audit show RUN_DIR --denied`", title="sandbox-runner"))
    return "".join(line + "\n" for line in lines)
