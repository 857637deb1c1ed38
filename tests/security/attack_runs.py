"""Running the attack categories (two runs each) and judging every case from the evidence."""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.security import harness as h
from tests.security.cases import ALLOWED_HOST, CATEGORY_SETUP, Case, by_group, fill

MODES = ("policy", "permissive")
DENIAL_MARK = "Denied by policy"
REDACTION_MARK = "[REDACTED"
VERIFY_CATEGORIES = {"persistence"}  # categories whose runs include the runner's verification


@dataclass
class CategoryRun:
    category: str
    mode: str
    world: h.World
    before: h.Snapshot
    after: h.Snapshot
    result: h.RunResult
    audit: Any  # CompletedProcess of `audit verify`
    leftover: list[str]
    values: dict[str, str]
    order: list[dict[str, Any]] = field(default_factory=list)  # every scripted call, as served

    @property
    def host_changes(self) -> list[str]:
        return h.diff_snapshots(self.before, self.after)


def category_turns(group: str, values: dict[str, str]) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = [{"text": "prepare probes",
                                    "tool_calls": [h.bash("mkdir -p backend/probe")]}]
    if group in CATEGORY_SETUP:
        turns.append({"text": "bring tools", "tool_calls": fill(list(CATEGORY_SETUP[group]), values)})
    for case in by_group(group):
        if case.setup:
            turns.append({"text": f"case {case.id}: setup", "tool_calls": fill(list(case.setup), values)})
        if case.attack:
            turns.append({"text": f"case {case.id}", "tool_calls": fill(list(case.attack), values)})
    turns.append({"text": "done"})
    return turns


def policy_dir_for(category: str, mode: str, scratch: Path) -> Path | None:
    if mode == "permissive":
        return h.ALLOW_ALL
    if category == "network":
        # One host allowlisted: user@host, proxies and redirects must not turn it into a way out.
        return h.copy_policies(scratch / "policies-allowlist", data_update={"allowed_hosts": [ALLOWED_HOST]})
    return None


def run_category(base: Path, category: str, mode: str, values: dict[str, str],
                 isolation: str = "runc") -> CategoryRun:
    name = f"{category}-{mode}" + ("" if isolation == "runc" else f"-{isolation}")
    world = h.make_world(base / name)
    before = h.snapshot(world)
    turns = category_turns(category, values)
    verify = category in VERIFY_CATEGORIES
    result = h.run_scenario(world, name, turns,
                            policy_dir=policy_dir_for(category, mode, world.scratch),
                            skip_verify=not verify, timeout=420 if verify else 300,
                            extra=["--isolation", isolation])
    after = h.snapshot(world)
    audit = h.audit_verify(result.run_dir)
    leftover = [c.name for c in h.containers_for(project=world.project)]
    order = [c for t in turns for c in t.get("tool_calls", [])]
    return CategoryRun(category=category, mode=mode, world=world, before=before, after=after,
                       result=result, audit=audit, leftover=leftover, values=values, order=order)


class AttackRuns:
    """All category runs, started together on first use (two at a time) and cached."""

    def __init__(self, base: Path, values: dict[str, str], workers: int = 2) -> None:
        self.base = base
        self.values = values
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="attack-run")
        self._futures: dict[tuple[str, str, str], Future[CategoryRun]] = {}
        self._lock = threading.Lock()

    def start(self, categories: list[str], isolation: str = "runc") -> None:
        with self._lock:
            for cat in categories:
                for mode in MODES:
                    if (cat, mode, isolation) not in self._futures:
                        self._futures[(cat, mode, isolation)] = self._pool.submit(
                            run_category, self.base, cat, mode, self.values, isolation)

    def get(self, category: str, mode: str, isolation: str = "runc") -> CategoryRun:
        """One category run; the runs under another isolation start on their first use."""
        self.start([category], isolation)
        return self._futures[(category, mode, isolation)].result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


# --- judging one case ------------------------------------------------------------------------


@dataclass
class Verdict:
    case: Case
    policy_stopped: bool = False
    validation_stopped: bool = False
    container_stopped: bool = False
    gateway_redacted: bool = False
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def layers(self) -> str:
        if self.policy_stopped and self.container_stopped:
            base = "both"
        elif self.policy_stopped:
            base = "policy"
        elif self.container_stopped:
            base = "container"
        else:
            base = ""
        if self.validation_stopped:
            base = f"{base} + validation" if base else "validation"
        if self.gateway_redacted:
            return f"{base} + gateway" if base else "gateway"
        return base or "none"


def _probe_problem(run: CategoryRun, probe_name: str, expect: str, secrets: tuple[str, ...]) -> str | None:
    path = run.world.backend / "probe" / probe_name
    if not path.is_file():
        return f"probe {probe_name} missing: the attack did not run to its end"
    data = path.read_bytes()
    text = data.decode("utf-8", errors="replace")
    if expect == "rc!=0":
        pairs = re.findall(r"(\w+)=(\d+)", text)
        if not pairs:
            return f"probe {probe_name} holds no exit status: {text[:80]!r}"
        zero = [k for k, v in pairs if v == "0"]
        if zero:
            return f"probe {probe_name}: succeeded ({', '.join(zero)} exit 0)"
        return None
    if expect == "empty":
        bad = h.leaked(text, secrets)
        if bad or data:
            return f"probe {probe_name} not empty ({len(data)} bytes; secrets {bad})"
        return None
    if expect == "no-secret":
        bad = h.leaked(text, secrets)
        return f"probe {probe_name} holds secrets {bad}" if bad else None
    if expect == "no-connect":
        try:
            res = json.loads(text)
        except json.JSONDecodeError:
            return f"probe {probe_name} is not JSON: {text[:80]!r}"
        connected = [k for k, v in res.items() if v == "CONNECTED"]
        if connected:
            return f"probe {probe_name}: connected via {connected}"
        if res.get("interfaces") != ["lo"]:
            return f"probe {probe_name}: network interfaces {res.get('interfaces')}"
        return None
    return f"unknown probe expectation {expect}"


def _probe_note(run: CategoryRun, probe_name: str) -> str | None:
    path = run.world.backend / "probe" / probe_name
    if path.is_file() and re.search(r"=127\b", path.read_text(errors="replace")):
        return f"{probe_name}: program not in the image (exit 127)"
    return None


def _touch_problems(run: CategoryRun, case: Case) -> list[str]:
    out = []
    for rel in case.touches:
        if run.before.get(rel) != run.after.get(rel):
            out.append(f"host path {rel} changed: {run.before.get(rel, 'absent')!s:.40} -> "
                       f"{run.after.get(rel, 'absent')!s:.40}")
    return out


def _calls(case_calls: tuple[dict[str, Any], ...], values: dict[str, str]) -> list[dict[str, Any]]:
    return [dict(c) for c in fill(list(case_calls), values)]


def _run_problem(run: CategoryRun) -> str | None:
    ok_codes = {0, 1} if run.category in VERIFY_CATEGORIES else {0}
    if run.result.exit_code not in ok_codes:
        return f"{run.mode} run failed: {run.result.describe()}"
    return None


def _container_side(run: CategoryRun, case: Case, verdict: Verdict, *, required: bool) -> bool:
    """Did the kernel stop the attack in this run (with the calls allowed)? Records problems."""
    attack = h.outcomes(run.result, _calls(case.attack, run.values), run.order)
    problems: list[str] = []
    for o in attack:
        if not o.results:
            problems.append(f"no tool result for {o.short()} (did the agent die?)")
    problems += _touch_problems(run, case)
    secrets = case.extra.get("secrets", h.MASKED_SECRETS + h.HOST_SECRETS)
    for probe in case.probes:
        p = _probe_problem(run, probe.name, probe.expect, secrets)
        if p:
            problems.append(p)
        note = _probe_note(run, probe.name)
        if note:
            verdict.notes.append(note)
    if case.masked:
        for o in attack:
            for text in o.texts:
                if h.leaked(text) or REDACTION_MARK in text:
                    problems.append(f"{o.short()}: output not masked ({text[:80]!r})")
    for rel in case.extra.get("absent_after", ()):
        if (run.world.project / rel).exists():
            problems.append(f"{rel} exists after the run")
    evidence = case.extra.get("kernel_evidence")
    if evidence and run.mode == "permissive" and not any(evidence in t for o in attack for t in o.texts):
        problems.append(f"no attempt reached the kernel (no {evidence!r} among the results): the race "
                        "never happened, so this run proves nothing about the container")
    if case.extra.get("verify"):
        problems += _verification_problems(run)
    if required:
        verdict.problems += [f"[{run.mode}] {p}" for p in problems]
    return not problems


def _verification_problems(run: CategoryRun) -> list[str]:
    junit = run.result.run_dir / "reports" / "junit.xml"
    if not junit.is_file():
        return [f"no verification report at {junit}"]
    import xml.etree.ElementTree as ET

    root = ET.parse(junit).getroot()
    cases = [tc for tc in root.iter("testcase") if tc.get("name", "").startswith("test_verification_")]
    if len(cases) < 8:
        return [f"verification ran {len(cases)} sandbox probe tests, expected >= 8"]
    bad = [tc.get("name", "") for tc in cases
           if any(ch.tag in ("failure", "error", "skipped") for ch in tc)]
    return [f"verification sandbox probe failed: {bad}"] if bad else []


def judge(case: Case, pol: CategoryRun, per: CategoryRun) -> Verdict:
    v = Verdict(case=case)
    for run in (pol, per):
        rp = _run_problem(run)
        if rp:
            v.problems.append(rp)
    # --- policy layer: the default policies -----------------------------------------------
    setup = h.outcomes(pol.result, _calls(case.setup, pol.values), pol.order)
    attack = h.outcomes(pol.result, _calls(case.attack, pol.values), pol.order)
    denied_attack = bool(attack) and all(o.denied for o in attack)
    denied_setup = case.stop_on_setup and any(o.denied for o in setup)
    v.policy_stopped = denied_attack or denied_setup
    if case.policy is not None:
        if not v.policy_stopped:
            allowed = [o.short() for o in attack if not o.denied]
            v.problems.append(f"[policy] not denied: {allowed}")
        for o in (setup if denied_setup and not denied_attack else attack):
            if not o.denied:
                continue
            if case.policy != "any" and not any(r.get("policy") == case.policy for r in o.reasons):
                v.problems.append(f"[policy] {o.short()} denied by {[r.get('policy') for r in o.reasons]},"
                                  f" expected {case.policy}")
    for o in setup + attack:
        if not o.denied:
            continue
        texts = o.texts
        if not texts:
            v.problems.append(f"[policy] the denial of {o.short()} never reached the model")
            continue
        rule_refs = {f"{r.get('policy')}/{r.get('rule')}" for r in o.reasons}
        if not any(DENIAL_MARK in t and any(ref in t for ref in rule_refs) for t in texts):
            v.problems.append(f"[policy] tool_result of {o.short()} lacks '{DENIAL_MARK}: <policy>/<rule>': "
                              f"{texts[0][:120]!r}")
        if not all(r.get("is_error") is True for r in o.results):
            v.problems.append(f"[policy] tool_result of {o.short()} is not is_error")
    v.problems += [f"[policy] {p}" for p in _touch_problems(pol, case)]
    if case.policy is None and not v.policy_stopped:
        # Invisible to the policy: the container must hold in this run too.
        _container_side(pol, case, v, required=case.container)
    for rel in case.extra.get("absent", ()):  # a tuple of project-relative paths
        if (pol.world.project / rel).exists():
            v.problems.append(f"[policy] {rel} exists: the call went through")
    if "backend_lacks" in case.extra:
        text = h.files_text(pol.world.backend)
        if case.extra["backend_lacks"] in text:
            v.problems.append("[policy] the hard-coded secret reached backend/")
    # --- container layer: every call allowed ------------------------------------------------
    per_attack = h.outcomes(per.result, _calls(case.attack, per.values), per.order)
    if case.validation:
        # Refused by the decider's input validation before any policy runs: no bundle, not
        # even allow-all, can let these through.
        v.validation_stopped = bool(per_attack) and all(
            o.denied and all(r.get("policy") == "engine" for r in o.reasons) for o in per_attack)
        if not v.validation_stopped:
            v.problems.append("[permissive] not refused by input validation: "
                              f"{[(o.short(), o.reasons) for o in per_attack if not o.denied][:3]}")
    v.container_stopped = case.container and _container_side(per, case, v, required=case.container)
    if case.container:
        not_allowed = [o.short() for o in per_attack if o.decisions and not o.allowed]
        if not_allowed:
            v.problems.append(f"[permissive] calls denied under allow-all: {not_allowed}")
    # --- what the model saw, both runs --------------------------------------------------------
    for run, outs in ((pol, attack), (per, per_attack)):
        for o in outs:
            for text in o.texts:
                if case.no_secret_output and h.leaked(text):
                    v.problems.append(f"[{run.mode}] secret in the output of {o.short()}: {h.leaked(text)}")
                lack = case.extra.get("output_lacks")
                if lack and lack in text:
                    v.problems.append(f"[{run.mode}] {o.short()} shows {lack!r}")
                if REDACTION_MARK in text and run is per:
                    v.gateway_redacted = True
    if case.redacted:
        for run, outs in ((pol, attack), (per, per_attack)):
            texts = [t for o in outs for t in o.texts]
            if not texts:
                v.problems.append(f"[{run.mode}] no tool output to check for redaction")
            elif not all(REDACTION_MARK in t for t in texts):
                v.problems.append(f"[{run.mode}] output not redacted: {texts[0][:120]!r}")
    return v
