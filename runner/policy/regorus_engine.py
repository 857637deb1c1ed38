"""The embedded engine: regorus (Rego v1 in Rust), compiled once per run.

* Compile errors become :class:`PolicyCompileError` ``file:line:col: message``.
  Parse errors surface when a file is added; unknown functions and unsafe
  variables only when evaluation reaches them, so loading also runs the
  regorus compiler over the entry point and one probe evaluation.
* Values that depend on the data alone (``data.sandbox.lib.derived``) are
  evaluated once and added as ``data.sandbox_derived``, which the default
  policies use instead of recomputing them per decision.
* A regorus ``Engine`` is not thread-safe: evaluations take a lock.
* ``run_tests`` runs the ``test_*`` rules of the bundle's test files, as
  ``opa test`` would: each passes when it evaluates to true.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from runner import __version__
from runner.errors import PolicyCompileError
from runner.policy import checked
from runner.policy.bundle import PolicyBundle, PolicyFile
from runner.policy.engine import (
    DERIVED_KEY,
    DERIVED_RULE,
    ENTRYPOINT,
    EngineInputError,
    decision_from_json,
    input_json,
)
from runner.policy.models import AnyInput, Decision, PolicyInput, ToolCall

os.environ.setdefault("RUST_BACKTRACE", "0")  # regorus errors carry a backtrace otherwise

import regorus  # after RUST_BACKTRACE is set

UNDEFINED_JSON = '"<undefined>"'  # what eval_rule_as_json returns for an undefined rule
_LOCATION = re.compile(r"-->\s*(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)")
_MESSAGE = re.compile(r"^error:\s*(?P<msg>.+)$", re.MULTILINE)


def _located(text: str) -> tuple[tuple[str, int, int] | None, str]:
    """The innermost location and message of a regorus error text."""
    text = text.split("Stack backtrace:")[0].split("\nCaused by:")[0]
    locations = list(_LOCATION.finditer(text))
    messages = [m.group("msg").strip() for m in _MESSAGE.finditer(text)]
    messages = [m for m in messages if m.rstrip(":") not in ("", "Compilation error")]
    if messages:
        message = messages[-1]
    else:  # no "error:" line: the first line that is not a location or the source gutter
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        lines = [ln for ln in lines if not ln.startswith(("-->", "|")) and not ln[:1].isdigit()]
        message = lines[0] if lines else "policy compile error"
    if not locations:
        return None, message
    loc = locations[-1]
    return (loc.group("file"), int(loc.group("line")), int(loc.group("col"))), message


def compile_error(exc: BaseException, files: dict[str, PolicyFile]) -> PolicyCompileError:
    """A regorus error as ``file:line:col: message`` (the file as found on disk)."""
    where, message = _located(str(exc))
    if where is None:
        return PolicyCompileError(message)
    name, line, col = where
    path = files[name].path if name in files else name
    return PolicyCompileError(message, path=path, line=line, column=col)


@functools.cache  # the same input for every engine (and the built marker's key)
def _probe_input() -> str:
    return PolicyInput(
        tool=ToolCall(name="Read", input={"file_path": "README.md"})
    ).model_dump_json()


def _has_rule(engine: regorus.Engine, rule: str) -> bool:
    try:
        engine.eval_rule(rule)
    except RuntimeError as exc:
        if "not a valid rule path" in str(exc):
            return False
        raise
    return True


def static_check(data: dict[str, Any], modules: list[tuple[str, str]],
                 entrypoints: tuple[str, ...]) -> None:
    """regorus's compiler over what the entry points reach: RuntimeError for an unknown
    function or an undefined reference (its other complaints surface at evaluation)."""
    try:
        regorus.Program.compile_from_modules(json.dumps(data), modules, list(entrypoints))
    except RuntimeError as exc:
        if "Unknown function" in str(exc) or "undefined" in str(exc):
            raise


def build_engine(
    files: list[PolicyFile], data: dict[str, Any], *, entrypoints: tuple[str, ...] = (ENTRYPOINT,)
) -> regorus.Engine:
    """A regorus engine with ``files`` and ``data`` loaded and checked."""
    by_name = {f.name: f for f in files}
    engine = regorus.Engine()
    try:
        for f in files:
            engine.add_policy(f.name, f.content)
        engine.add_data(data)
        if entrypoints:  # static check of what the entry points reach (unknown functions, ...)
            modules = [(f.name, f.content) for f in files]
            key = checked.bundle_key(modules, data, entrypoints)
            if not checked.passed(key):  # a pass is remembered by content hash
                static_check(data, modules, entrypoints)
                checked.remember(key)
    except RuntimeError as exc:
        raise compile_error(exc, by_name) from None
    return engine


class RegorusEngine:
    """The default :class:`~runner.policy.engine.PolicyEngine`."""

    def __init__(self, bundle: PolicyBundle) -> None:
        self.bundle_hash = bundle.hash
        self.bundle = bundle
        self._files = {f.name: f for f in bundle.files}
        # A regorus Engine is "unsendable" (pyo3): using it from any thread but the one that
        # made it panics. Each thread gets its own compiled engine, made on first use.
        self._local = threading.local()
        # Built here too, so that a bundle's errors surface now (exit 2) - unless this bundle
        # was built and probed before (runner/policy/checked.py: same files, data, regorus,
        # and the same probe of the same runner).
        key = checked.bundle_key(((f.name, f.content) for f in bundle.files), bundle.data,
                                 (ENTRYPOINT, DERIVED_RULE, DERIVED_KEY, _probe_input(),
                                  f"runner {__version__}"))
        if not checked.passed(key, checked.BUILT_DIR):
            self._thread_engine()
            checked.remember(key, checked.BUILT_DIR)

    def _thread_engine(self) -> Any:
        engine = getattr(self._local, "engine", None)
        if engine is not None:
            return engine
        engine = build_engine(self.bundle.files, self.bundle.data)
        try:
            if _has_rule(engine, DERIVED_RULE):
                derived = json.loads(engine.eval_rule_as_json(DERIVED_RULE))
                engine.add_data({DERIVED_KEY: derived})
            engine.set_input_json(_probe_input())
            engine.eval_rule_as_json(ENTRYPOINT)
        except RuntimeError as exc:
            raise compile_error(exc, self._files) from None
        self._local.engine = engine
        return engine

    def evaluate(self, input: AnyInput | dict[str, Any]) -> Decision:
        try:
            raw = input_json(input)
        except EngineInputError as exc:
            return Decision.failed(str(exc))
        try:
            engine = self._thread_engine()
            engine.set_input_json(raw)
            result = engine.eval_rule_as_json(ENTRYPOINT)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # any engine error (pyo3 panics too) is a deny
            return Decision.failed(_short(exc))
        if result is None or result.strip() == UNDEFINED_JSON:
            return Decision.failed("the decision is undefined")
        return decision_from_json(result)

    def close(self) -> None:
        pass


def _short(exc: BaseException) -> str:
    """One line for a deny reason: ``file:line:col: message`` when regorus gave one."""
    where, message = _located(str(exc))
    if where is None:
        return " ".join(message.split()) or type(exc).__name__
    return f"{where[0]}:{where[1]}:{where[2]}: {message}"


# --- Rego tests ---------------------------------------------------------------------------


class RegoTestResult(BaseModel):
    name: str  # data.<package>.<rule>
    file: str
    line: int
    passed: bool
    error: str | None = None
    duration_ms: float


class RegoTestReport(BaseModel):
    results: list[RegoTestResult]

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return self.failed == 0 and len(self.results) > 0


def _package_path(refr: dict[str, Any]) -> str:
    if "Var" in refr:
        return str(refr["Var"]["value"])
    if "RefDot" in refr:
        dot = refr["RefDot"]
        return f"{_package_path(dot['refr'])}.{dot['field'][1]}"
    if "RefBrack" in refr:  # package a["b"]
        brack = refr["RefBrack"]
        index = brack["index"]
        key = index.get("String", {}).get("value") if isinstance(index, dict) else None
        return f"{_package_path(brack['refr'])}.{key}"
    raise ValueError(f"unsupported package reference: {refr}")


def discover_tests(engine: regorus.Engine) -> Iterator[tuple[str, str, int]]:
    """(rule path, file, line) of every rule named ``test_*``, each name once."""
    seen: set[str] = set()
    for module in json.loads(engine.get_ast_as_json()):
        ast = module["ast"]
        package = "data." + _package_path(ast["package"]["refr"])
        for rule in ast.get("rules", []):
            spec = rule.get("Spec")
            if spec is None:
                continue
            head = spec["head"]
            kind = next(iter(head))
            refr = head[kind].get("refr", {})
            name = refr.get("Var", {}).get("value") if isinstance(refr, dict) else None
            if not isinstance(name, str) or not name.startswith("test_"):
                continue
            path = f"{package}.{name}"
            if path in seen:
                continue
            seen.add(path)
            yield path, module["source"]["file"], int(head[kind]["span"]["line"])


def run_tests(bundle: PolicyBundle) -> RegoTestReport:
    """Evaluate every ``test_*`` rule of the bundle's tests (policies and data loaded).

    The derived data is not added, so tests may override ``data.settings`` with ``with``.
    """
    files = bundle.files + bundle.tests
    by_name = {f.name: f for f in files}
    engine = build_engine(files, bundle.data, entrypoints=())
    test_names = {f.name for f in bundle.tests}
    results: list[RegoTestResult] = []
    engine.set_input({})
    for path, file, line in discover_tests(engine):
        if file not in test_names:
            continue
        start = time.perf_counter()
        error: str | None = None
        try:
            passed = engine.eval_rule(path) is True
        except RuntimeError as exc:
            passed, error = False, _short(exc)
        results.append(
            RegoTestResult(
                name=path,
                file=by_name[file].path,
                line=line,
                passed=passed,
                error=error,
                duration_ms=(time.perf_counter() - start) * 1000,
            )
        )
    return RegoTestReport(results=results)
