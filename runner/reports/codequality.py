"""GitLab Code Quality: ``report --format gitlab`` (``artifacts:reports:codequality``).

A JSON array of issues with the fields GitLab documents as required: ``description``,
``check_name``, ``fingerprint``, ``severity`` (info, minor, major, critical, blocker) and
``location`` (``path`` relative to the repository, ``lines.begin``). A denied call is
``major`` and points at the workspace path it touched (line 1) or at its line of
``decisions.jsonl``; a failed gate is ``minor`` and points at its report file. GitLab
compares fingerprints between the base and the head of a merge request, so they are the
same stable hashes as SARIF's ``partialFingerprints`` (never a decision id or a time).
"""

from __future__ import annotations

import json
from typing import Any

from runner.reports.findings import Findings

SEVERITY = {"error": "major", "warning": "minor"}


def build_codequality(findings: Findings, prefix: str | None) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []
    for f in findings.items:
        if f.path is not None:
            path, line = f.path, 1
        else:
            run_file = f.run_file or "summary.json"
            path = (prefix or "") + run_file
            line = f.line or 1
        issues.append({
            "type": "issue",
            "description": f"{f.rule_id}: {f.message}",
            "check_name": f.rule_id,
            "fingerprint": f.fingerprint,
            "severity": SEVERITY[f.level],
            "categories": ["Security"] if f.kind == "decision" else ["Bug Risk"],
            "location": {"path": path, "lines": {"begin": line}},
        })
    return issues


def render_codequality(findings: Findings, prefix: str | None) -> str:
    return json.dumps(build_codequality(findings, prefix), indent=2, ensure_ascii=False) + "\n"
