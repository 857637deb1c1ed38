"""SARIF 2.1.0 for code scanning (GitHub, GitLab, Azure DevOps): ``report --format sarif``.

One ``run``: ``tool.driver`` (sandbox-runner, its version, ``rules`` for every rule that
occurs), one result per denied decision and one per failed gate (:mod:`.findings`),
``invocations`` with the run's exit code. Locations:

- a denied call that touched a workspace path: ``uri`` = that path, project-relative,
  ``uriBaseId`` ``%SRCROOT%`` (the project directory = the workspace; in CI the checkout);
- otherwise the line of ``decisions.jsonl`` (``region.startLine``): relative to
  ``%SRCROOT%`` when the run directory is inside the project (CI puts it under
  ``.sandbox-runner/runs/``), else relative to ``RUNDIR`` (the run directory);
  plus a ``logicalLocation`` naming the tool.

``partialFingerprints["sandboxRunnerFinding/v1"]`` is a sha256 over the rule id, the tool
and the normalized path (or the normalized message when there is no path), never a
decision id or a time, so code scanning matches the same finding across runs.
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

from runner import __version__
from runner.reports.findings import (
    FINGERPRINT_KEY,
    GATE_HELP,
    Finding,
    Findings,
    collect_findings,
    default_redactor,
    run_dir_prefix,
    safe_id,
)
from runner.reports.summary import RunSummary
from runner.sanitize import one_line

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"
RUNDIR = "RUNDIR"
FALLBACK_URI = "https://pypi.org/project/sandbox-runner/"
POLICY_HELP = {
    "scope": "Writes are allowed only under backend/ and issues.md; reads and writes outside "
             "the workspace and of masked files are denied.",
    "secrets": "Reads of secret files (.env, keys, credential stores), environment dumps and "
               "hard-coded secrets in written code or commands are denied.",
    "network": "Connections go only to allowed hosts, through the runner's egress proxy.",
    "input": "A call the policies cannot decide (malformed, unknown tool, opaque) is denied.",
    "agent": "The agent file's tools (tools, disallowedTools) are enforced on the host.",
}


def information_uri() -> str:
    """The project's home page from the installed package's metadata, else its PyPI page."""
    try:
        meta = metadata.metadata("sandbox-runner")
    except metadata.PackageNotFoundError:
        return FALLBACK_URI
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("homepage", "source", "repository") and url.strip():
            return str(url.strip())
    home = str(meta["Home-page"] or "") if "Home-page" in meta else ""
    return home.strip() if home.strip().startswith("https://") else FALLBACK_URI


def _rule(rule_id: str, example: str, info: str) -> dict[str, Any]:
    group, _, name = rule_id.partition("/")
    words = name.replace("_", " ").replace("-", " ")
    if group == "gate":
        short = f"Quality gate failed: {name}"
        full = GATE_HELP.get(name, "A quality gate of the run failed.")
        tags = ["quality", "sandbox-runner"]
        level = "warning"
    else:
        short = f"Tool call denied by the {group} policy: {words}"
        full = POLICY_HELP.get(group, f"Denied by the {group} policy.")
        tags = ["security", "sandbox-runner", group]
        level = "error"
    tick_free = example.replace("`", "'")
    more = ("The run's reports are in the run directory (summary.md, reports/)." if group == "gate"
            else "The agent's call was refused before it ran; "
                 "`sandbox-runner audit show RUN_DIR --denied` lists every denied call.")
    help_text = f"{full}\n\nExample: {example}\n\n{more}"
    return {
        "id": rule_id,
        "name": "".join(w.capitalize() for w in f"{group} {words}".split()),
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": help_text,
                 "markdown": f"{full}\n\n**Example:** `{tick_free}`"},
        "helpUri": info,
        "defaultConfiguration": {"level": level},
        "properties": {"tags": tags},
    }


def _location(f: Finding, prefix: str | None) -> dict[str, Any]:
    if f.path is not None:
        physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(f.path),
                                                         "uriBaseId": SRCROOT}}
    else:
        run_file = f.run_file or "summary.json"
        base, uri = (SRCROOT, prefix + run_file) if prefix is not None else (RUNDIR, run_file)
        physical = {"artifactLocation": {"uri": _uri(uri), "uriBaseId": base}}
        if f.line is not None:
            physical["region"] = {"startLine": f.line}
    location: dict[str, Any] = {"physicalLocation": physical}
    if f.kind == "decision":
        location["logicalLocations"] = [{"name": f.tool, "kind": "function"}]
    return location


def _uri(path: str) -> str:
    return quote(path, safe="/-._~")


def _is_time(value: str | None) -> bool:
    """An RFC 3339 UTC time as SARIF wants it (``...Z``)."""
    if not value or not value.endswith("Z") or len(value) > 40:
        return False
    try:
        datetime.fromisoformat(value[:-1] + "+00:00")
    except ValueError:
        return False
    return True


def build_sarif(run_dir: Path, summary: RunSummary, findings: Findings) -> dict[str, Any]:
    info = information_uri()
    prefix = run_dir_prefix(run_dir, summary)
    rule_ids = sorted(findings.rules)
    index = {rid: i for i, rid in enumerate(rule_ids)}
    results = []
    for f in findings.items:
        results.append({
            "ruleId": f.rule_id,
            "ruleIndex": index[f.rule_id],
            "level": f.level,
            "kind": "fail",
            "message": {"text": f.message},
            "locations": [_location(f, prefix)],
            "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
            "properties": {"category": f.kind, **({"tool": f.tool} if f.tool else {})},
        })
    notifications = []
    if findings.omitted:
        notifications.append({"level": "warning", "message": {
            "text": f"{findings.omitted} more findings not listed (cap {len(results)})"}})
    if findings.malformed:
        notifications.append({"level": "warning", "message": {
            "text": f"{findings.malformed} lines of decisions.jsonl are not decision entries"}})
    if summary.failure:
        notifications.append({"level": "error", "message": {
            "text": "the run failed: " + one_line(summary.failure, 500)}})
    invocation: dict[str, Any] = {
        "executionSuccessful": summary.exit_code in (0, 1),
        "exitCode": summary.exit_code,
        "exitCodeDescription": summary.status,
    }
    for key, value in (("startTimeUtc", summary.started_at), ("endTimeUtc", summary.finished_at)):
        if _is_time(value):
            invocation[key] = value
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    bases: dict[str, Any] = {}
    if summary.project and summary.project.startswith("/"):
        bases[SRCROOT] = {"uri": Path(summary.project).as_uri().rstrip("/") + "/",
                          "description": {"text": "the project directory (the workspace)"}}
    if prefix is None and run_dir.is_absolute():
        bases[RUNDIR] = {"uri": run_dir.as_uri().rstrip("/") + "/",
                         "description": {"text": "the run directory"}}
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "sandbox-runner",
            "version": __version__,
            "semanticVersion": __version__,
            "informationUri": info,
            "rules": [_rule(rid, findings.rules[rid], info) for rid in rule_ids],
        }},
        "automationDetails": {"id": f"sandbox-runner/{safe_id(summary.run_id)}"},
        "invocations": [invocation],
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {"runId": safe_id(summary.run_id), "status": summary.status,
                       "omittedResults": findings.omitted},
    }
    if bases:
        run["originalUriBaseIds"] = bases
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def dump_sarif(run_dir: Path, summary: RunSummary, findings: Findings) -> str:
    """The SARIF log as JSON text."""
    return json.dumps(build_sarif(run_dir, summary, findings), indent=2, ensure_ascii=False) + "\n"


def render_sarif(run_dir: Path, summary: RunSummary) -> str:
    """The SARIF log of a run directory (findings collected and redacted here)."""
    return dump_sarif(run_dir, summary, collect_findings(run_dir, summary, redact=default_redactor()))
