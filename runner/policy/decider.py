"""Decide a raw tool call (derive the policy input, then evaluate it) or a connection.

:class:`Decider` is what the gateway, the egress proxy and ``policy eval`` call: one
decision service for both input kinds (``tool``, ``connect``). It never raises for a
tool call or a connection: a failure while deriving or evaluating is a deny
(``Decision.failed``), and the input it returns records what was derived.

Everything in a decision comes from the agent or from the workspace it writes, and it
is logged, shown and returned to the agent, so the Decider holds two of the run's
facts: its ``masks`` (derivation sees masked paths as the container does and never
reads them) and its ``redactor`` (every string of the returned input and decision,
reasons included, passes through it: a secret the host knows never leaves in one).
:meth:`Decider.decide_logged` also says *where* redaction changed something: the JSON
pointers (``/input/tool/input/content``, ``/result/reasons/0/msg``) the decision log
records as OPA does, in ``masked`` (a value replaced) and ``erased`` (a field dropped).

Identical derived inputs are common (the same Read twice, Claude Code asking again for a
call it already asked about, a call decided ahead: :meth:`Decider.prepare`):
:class:`DecisionCache` keeps the engine's decisions by a hash of the bundle and the JSON of
the derived input the engine is given, so a repeat skips evaluation. The input itself comes from a kept derivation (:mod:`runner.policy.derived`)
only when the workspace still answers every look that derivation made as it did; otherwise
it is derived afresh, so the key is always what the workspace looks like now. The cache never keeps a
failed evaluation or an input with errors, and it is off for an engine whose policies it
cannot see (an OPA server) or whose policies call a builtin that is not a function of the
input and data (``time.now_ns``, ``rand.intn``, ``http.send``, ...). A decision from the
cache is logged as any other, with ``metrics.counter_decision_cache_hit: 1`` (and
``counter_decided_ahead: 1`` when :meth:`Decider.prepare` made it before the call was asked).

What the agent reports measuring of a call's paths (``measured``, the container's view) is
recorded on the logged input's path facts, and never given to the policies
(``PolicyInput.decided_json``): a decision is a function of what the host derived.

The ``policy eval`` input format (one JSON tool call, or JSON lines) is read by
:mod:`runner.policy.batch`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import ValidationError

from runner.errors import InputError
from runner.policy.bundle import PolicyBundle
from runner.policy.engine import PolicyEngine
from runner.policy.models import (
    ConnectInput,
    ConnectTarget,
    Decision,
    PolicyInput,
    RunInfo,
    ToolCall,
)
from runner.protocol import MeasuredPath

if TYPE_CHECKING:
    from runner.hostfs import WorkspaceFS
    from runner.policy.derived import DerivationCache, Kept

MAX_REDACT_DEPTH = 32  # deeper JSON in a logged input is replaced, not walked
DECISION_CACHE_SIZE = 4096  # decisions kept per Decider (least recently used goes first)
CACHE_HIT_METRIC = "counter_decision_cache_hit"  # decision log metrics (OPA's counter_ naming)
AHEAD_METRIC = "counter_decided_ahead"  # ... the cached decision was made by Decider.prepare
DECISION_TIMER = "timer_decision_ns"  # the whole decision: derive (or reuse) and evaluate
AHEAD_KEYS = 256  # decisions made ahead and not yet asked for, remembered for the metric
# Builtins whose result is not a function of input and data: a bundle calling one is not cached.
_NONDETERMINISTIC = re.compile(
    r"\b(?:time\.now_ns|rand\.intn|uuid\.rfc4122|http\.send|net\.lookup_ip_addr|opa\.runtime"
    r"|crypto\.x509\.parse_and_verify_certificates\w*|io\.jwt\.decode_verify)\s*\(")
_T = TypeVar("_T")
_SCALARS = (bool, int, float)  # JSON values redaction passes as they are
_I = TypeVar("_I", PolicyInput, ConnectInput)


class TextRedactor(Protocol):
    """What the Decider needs of ``runner.gateway.redact.Redactor``."""

    def redact_text(self, text: str) -> tuple[str, dict[str, int]]: ...

    def finds_any(self, texts: Sequence[str]) -> bool:
        """Whether redacting any of ``texts`` would replace something (False: none changes)."""
        ...


def json_strings(value: Any, out: list[str], depth: int = 0) -> bool:
    """Append every string of a JSON tree, object keys included, to ``out``; False when the
    tree nests deeper than :data:`MAX_REDACT_DEPTH` (redaction would cut it there)."""
    if isinstance(value, str):
        out.append(value)
        return True
    if isinstance(value, dict | list | tuple) and depth >= MAX_REDACT_DEPTH:
        return False
    if isinstance(value, dict):
        for k, v in value.items():
            out.append(str(k))
            if type(v) is str:
                out.append(v)
            elif not (v is None or type(v) in _SCALARS or json_strings(v, out, depth + 1)):
                return False
    elif isinstance(value, list | tuple):
        for v in value:
            if type(v) is str:
                out.append(v)
            elif not (v is None or type(v) in _SCALARS or json_strings(v, out, depth + 1)):
                return False
    return True


def json_pointer(parent: str, key: str | int) -> str:
    """RFC 6901: ``parent/key`` with ``~`` as ``~0`` and ``/`` as ``~1``."""
    return f"{parent}/{str(key).replace('~', '~0').replace('/', '~1')}"


def redact_json(value: Any, redact: Callable[[str], str], depth: int = 0, *,
                where: str = "", changed: list[str] | None = None) -> Any:
    """Every string of a JSON tree, object keys included, passed through ``redact``.

    ``changed``: gets the JSON pointer (under ``where``) of every value or key that
    ``redact`` changed (a renamed key by its new, redacted name). A pointer is spelled
    only for what changed (the walk keeps the keys on the way).
    """
    keys: list[str | int] = []  # from ``where`` to the value being walked

    def pointer() -> str:
        out = where
        for key in keys:
            out = json_pointer(out, key)
        return out

    def leaf(node: str, key: str | int) -> str:
        out = redact(node)
        if changed is not None and out != node:
            keys.append(key)
            changed.append(pointer())
            keys.pop()
        return out

    def walk(node: Any, level: int) -> Any:
        if isinstance(node, str):
            out = redact(node)
            if changed is not None and out != node:
                changed.append(pointer())
            return out
        if level >= MAX_REDACT_DEPTH and isinstance(node, dict | list):
            if changed is not None:
                changed.append(pointer())
            return "[nested too deeply: not recorded]"
        if isinstance(node, dict):
            result: dict[str, Any] = {}
            for k, v in node.items():
                name = str(k)
                key = redact(name)
                if changed is not None and key != name:
                    keys.append(key)
                    changed.append(pointer())
                    keys.pop()
                if type(v) is str:  # most values: no call of walk for them
                    result[key] = leaf(v, key)
                elif v is None or type(v) in _SCALARS:
                    result[key] = v
                else:
                    keys.append(key)
                    result[key] = walk(v, level + 1)
                    keys.pop()
            return result
        if isinstance(node, list | tuple):
            items: list[Any] = []
            for i, v in enumerate(node):
                if type(v) is str:
                    items.append(leaf(v, i))
                else:
                    keys.append(i)
                    items.append(walk(v, level + 1))
                    keys.pop()
            return items
        return node

    return walk(value, depth)


@dataclass(frozen=True)
class Decided(Generic[_I]):
    """One decision as it is logged: redacted input and decision, timings, redaction paths."""

    input: _I
    decision: Decision
    ms: float  # deriving and evaluating
    eval_ns: int  # evaluating only (OPA's timer_rego_query_eval_ns)
    masked: list[str] = field(default_factory=list)  # JSON pointers of values replaced
    erased: list[str] = field(default_factory=list)  # JSON pointers of fields dropped
    cached: bool = False  # the engine's decision came from the Decider's cache
    ahead: bool = False  # ... where Decider.prepare put it before the call was asked

    @property
    def metrics(self) -> dict[str, int]:
        """Decision-log metrics beyond the evaluation timer (``DecisionLog.append``): the whole
        decision's time (deriving or reusing, evaluating or the cache; redaction and the log
        excluded) and where the decision came from."""
        out = {DECISION_TIMER: max(0, int(self.ms * 1e6))}
        if self.cached:
            out[CACHE_HIT_METRIC] = 1
            if self.ahead:
                out[AHEAD_METRIC] = 1
        return out


class DecisionCache:
    """The engine's decisions by derived input: a bounded LRU, safe across threads.

    The key is the sha256 of the bundle hash and the policy input as derived, in the JSON
    the engine is given (``PolicyInput.decided_json``), so an input that differs in
    anything the policies see - a path's target, a secret found, the run's tools, the
    policies or their data - misses. (What the agent measured is not among it.)
    """

    def __init__(self, size: int = DECISION_CACHE_SIZE) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, str] = OrderedDict()  # key -> the decision as JSON
        self._lock = threading.Lock()

    @staticmethod
    def key(bundle_hash: str, policy_input: PolicyInput | ConnectInput,
            text: str | None = None) -> str:
        """``text``: the input as the policies are given it (``PolicyInput.decided_json``)
        when the caller has it already."""
        if text is None:
            text = policy_input.decided_json() if isinstance(policy_input, PolicyInput) \
                else policy_input.model_dump_json()
        return hashlib.sha256(f"{bundle_hash}\n{text}".encode()).hexdigest()

    def get(self, key: str) -> Decision | None:
        with self._lock:
            text = self._entries.get(key)
            if text is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        return Decision.model_validate_json(text)  # a new one: the caller may change it

    def put(self, key: str, decision: Decision) -> None:
        text = decision.model_dump_json()  # kept as JSON: each hit reads back a new Decision
        if Decision.model_validate_json(text) != decision:
            return  # a decision JSON does not give back is not kept
        with self._lock:
            self._entries[key] = text
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def cacheable(engine: PolicyEngine) -> bool:
    """Are ``engine``'s decisions a function of the input and the bundle? Only when it holds
    the bundle it compiled (the embedded engine; an OPA server's policies can change under
    us) and no policy calls a builtin that reads the clock, chance or the network."""
    bundle = getattr(engine, "bundle", None)
    if not isinstance(bundle, PolicyBundle) or bundle.hash != engine.bundle_hash:
        return False
    return not any(_NONDETERMINISTIC.search(f.content) for f in bundle.files)


def _failed(decision: Decision) -> bool:
    return any(r.policy == "engine" and r.rule == "evaluation_failed" for r in decision.reasons)


class Decider:
    def __init__(
        self, engine: PolicyEngine, *, workspace: Path | None, run: RunInfo,
        masks: Sequence[str] = (), redactor: TextRedactor | None = None,
        cache_size: int = DECISION_CACHE_SIZE,
    ) -> None:
        """``cache_size``: decisions kept by derived input (0: no cache; the cache is off
        anyway for an engine whose decisions :func:`cacheable` cannot vouch for)."""
        self.engine = engine
        self.workspace = workspace
        self.run = run
        self.masks = tuple(masks)
        self.redactor = redactor
        self.cache = DecisionCache(cache_size) if cache_size > 0 and cacheable(engine) else None
        self.derived: DerivationCache | None = None
        if cache_size > 0 and workspace is not None:
            from runner.policy.derived import DERIVED_CACHE_SIZE, DerivationCache

            # the workspace root is the host's choice: resolved once, here
            self.derived = DerivationCache(workspace.resolve(), self.masks,
                                           min(cache_size, DERIVED_CACHE_SIZE))
        self._derived_for = (workspace, self.masks)  # what the kept derivations were made over
        self._ahead: OrderedDict[str, None] = OrderedDict()  # keys prepare() decided, unasked
        self._ahead_lock = threading.Lock()
        self.ahead_made = 0  # decisions prepare() made
        self.ahead_used = 0  # decisions asked for that prepare() had made

    @property
    def bundle_hash(self) -> str:
        return self.engine.bundle_hash

    # --- redaction -------------------------------------------------------------------

    def redact_text(self, text: str) -> str:
        if self.redactor is None:
            return text
        try:
            return self.redactor.redact_text(text)[0]
        except Exception:  # never let an unredactable string through
            return "[not recorded: redaction failed]"

    def _finds_any(self, tree: Any) -> bool:
        """Could redacting ``tree`` change anything? One look at all its strings together
        (True when unsure: too deep to look at whole, or the look failed)."""
        assert self.redactor is not None
        texts: list[str] = []
        try:
            return not json_strings(tree, texts) or self.redactor.finds_any(texts)
        except Exception:
            return True

    def redact(self, value: _T) -> _T:
        """A JSON tree (or a Decision, PolicyInput or ConnectInput) with every string redacted."""
        return self.redact_logged(value, "")[0]

    def redact_logged(self, value: _T, where: str) -> tuple[_T, list[str], list[str]]:
        """(``value`` redacted, pointers of what was replaced, pointers of what was dropped);
        ``where`` prefixes the pointers (``/input``, ``/result``)."""
        if self.redactor is None:
            return value, [], []
        masked: list[str] = []
        dumped = value.model_dump(mode="json", exclude_none=True) \
            if isinstance(value, ConnectInput | Decision | PolicyInput) else value
        if not self._finds_any(dumped):
            return value, [], []  # nothing in it to redact: as it is
        if isinstance(value, ConnectInput):
            tree = redact_json(dumped, self.redact_text, where=where, changed=masked)
            try:
                return ConnectInput.model_validate(tree), masked, []  # type: ignore[return-value]
            except ValidationError:  # a redacted phase: keep the shape, not the text
                kept = value.model_copy(update={"connect": value.connect.model_copy(
                    update={"host": "[not recorded: redaction changed its shape]"})})
                return kept, [json_pointer(f"{where}/connect", "host")], []
        if isinstance(value, Decision | PolicyInput):
            tree = redact_json(dumped, self.redact_text, where=where, changed=masked)
            try:
                return type(value).model_validate(tree), masked, []  # type: ignore[return-value]
            except ValidationError:  # a redacted value broke a field's type (op, via ...)
                assert isinstance(value, PolicyInput)  # a Decision has only free text
                keep = {"tool", "run", "errors"}
                erased = [json_pointer(where, k) for k in tree if k not in keep]
                return PolicyInput(  # type: ignore[return-value]
                    tool=ToolCall.model_validate(tree["tool"]), run=value.run,
                    errors=[*tree.get("errors", []),
                            "derived facts not recorded: redaction changed their shape"],
                ), [p for p in masked if p.startswith((f"{where}/tool/", f"{where}/errors/"))], \
                    erased
        return redact_json(value, self.redact_text, where=where, changed=masked), masked, []

    # --- deciding --------------------------------------------------------------------

    def _evaluate(self, policy_input: PolicyInput | ConnectInput,
                  kept: Kept | None = None) -> tuple[Decision, bool, str | None]:
        """(the engine's decision, whether it came from the cache, its cache key). Never raises.

        ``kept``: the kept derivation ``policy_input`` is (as derived, but for the agent's
        measurements, which the policies never see: no errors added), which remembers the
        cache key of the input once computed."""
        key = None
        if self.cache is not None and not getattr(policy_input, "errors", None):
            bundle_hash = self.engine.bundle_hash
            if kept is not None and kept.decision_key is not None \
                    and kept.decision_key[0] == bundle_hash:
                key = kept.decision_key[1]
            else:
                try:
                    key = self.cache.key(bundle_hash, policy_input,
                                         kept.text if kept is not None else None)
                except Exception:  # an input the key cannot take is evaluated, not cached
                    key = None
                if key is not None and kept is not None:
                    kept.decision_key = (bundle_hash, key)
            hit = self.cache.get(key) if key is not None else None
            if hit is not None:
                return hit, True, key
        try:
            decision = self.engine.evaluate(policy_input)
        except Exception as exc:  # engines never raise; if one does, deny
            return Decision.failed(f"{type(exc).__name__}: {exc}"), False, None
        if key is not None and self.cache is not None and not _failed(decision):
            self.cache.put(key, decision)
        return decision, False, key

    def derive(
        self, call: ToolCall, *, cwd: str = "/workspace", measured: Sequence[MeasuredPath] = ()
    ) -> PolicyInput:
        """The policy input for ``call``; a derivation failure is recorded in ``errors``."""
        return self._derive(call, cwd, measured)[0]

    def _derive(self, call: ToolCall, cwd: str,
                measured: Sequence[MeasuredPath]) -> tuple[PolicyInput, Kept | None]:
        """(the policy input, its kept derivation when it is one: :mod:`.derived`)."""
        try:
            from runner.policy.derive import derive_input

            def derive_with(fs: WorkspaceFS | None,
                            seen: Sequence[MeasuredPath] = ()) -> PolicyInput:
                return derive_input(call, workspace=self.workspace, run=self.run, cwd=cwd,
                                    measured=seen, masks=self.masks, fs=fs)

            if self.derived is None or self._derived_for != (self.workspace, self.masks):
                # no cache, or workspace or masks changed since
                return derive_with(None, measured), None
            # a kept derivation is made without the measurements (derive_with(fs))
            policy_input, kept = self.derived.derive(call, cwd, derive_with,
                                                     context=self.run.model_dump_json())
            if measured:  # what derive_input does last, on a kept input's copy
                from runner.policy.paths import attach_measurements

                attach_measurements(policy_input.paths, measured)
            return policy_input, kept
        except Exception as exc:  # fail closed: derive_input should not raise, but
            return PolicyInput(
                tool=call,
                run=self.run,
                errors=[f"derivation failed: {type(exc).__name__}: {exc}"],
            ), None

    def prepare(self, call: ToolCall, *, cwd: str = "/workspace") -> bool:
        """Decide ``call`` ahead of its being asked (the model's answer named it; the agent
        has not asked yet), so that when it is asked, derivation and evaluation are a repeat.

        Nothing is logged, answered or returned: the kept derivation and the decision cache
        are filled, and what fills them is checked on use as any repeat is (the workspace must
        answer every look as it did). The agent's measurements, which it sends only when it
        asks, are not needed: the policies never see them. The redactor sees the input and
        decision as they will be logged (its caches are warm when the call is asked). True
        when a decision was made (or was in the cache already). Never raises.
        """
        if self.cache is None or self.derived is None:
            return False
        try:
            from runner.policy.derived import call_key

            if call_key(call, cwd) is None:
                return False  # a call that is never kept: deriving it now would buy nothing
            policy_input, kept = self._derive(call, cwd, ())
            if kept is None:
                return False
            decision, cached, key = self._evaluate(policy_input, kept)
            if key is None or _failed(decision):
                return False
            if cached:  # decided before (a repeat the model asks for): not made ahead
                return True
            self._logged(policy_input, decision, 0.0, 0, True)
            with self._ahead_lock:
                self.ahead_made += 1
                self._ahead[key] = None
                while len(self._ahead) > AHEAD_KEYS:
                    self._ahead.popitem(last=False)
            return True
        except Exception:  # deciding ahead is never more than a hint
            return False

    def decide(
        self, call: ToolCall, *, cwd: str = "/workspace", measured: Sequence[MeasuredPath] = (),
        errors: Sequence[str] = (),
    ) -> tuple[PolicyInput, Decision, float]:
        """(policy input, decision, milliseconds spent deriving and evaluating).

        ``errors``: what was already found wrong with the call (mapping a runtime's call
        onto the policy tools): recorded in the input, so the call is denied as malformed.
        The input and the decision are returned redacted: they are what is logged, shown
        and returned to the agent (the engine decided on the input as derived).
        """
        d = self.decide_logged(call, cwd=cwd, measured=measured, errors=errors)
        return d.input, d.decision, d.ms

    def decide_logged(
        self, call: ToolCall, *, cwd: str = "/workspace", measured: Sequence[MeasuredPath] = (),
        errors: Sequence[str] = (),
    ) -> Decided[PolicyInput]:
        """:meth:`decide` with the evaluation time and where redaction changed something."""
        start = time.perf_counter()
        policy_input, kept = self._derive(call, cwd, measured)
        policy_input.errors[:0] = list(errors)
        evaluating = time.perf_counter_ns()
        decision, cached, key = self._evaluate(policy_input, None if errors else kept)
        eval_ns = time.perf_counter_ns() - evaluating
        if policy_input.errors and decision.allow:  # belt and braces: malformed is a deny
            decision = Decision.failed("malformed input: " + "; ".join(policy_input.errors))
        ahead = False
        if cached and key is not None:
            with self._ahead_lock:
                if key in self._ahead:
                    del self._ahead[key]
                    self.ahead_used += 1
                    ahead = True
        ms = (time.perf_counter() - start) * 1000
        return self._logged(policy_input, decision, ms, eval_ns, cached, ahead)

    def decide_connect(self, target: ConnectTarget) -> tuple[ConnectInput, Decision, float]:
        """(policy input, decision, milliseconds) of one connection, returned redacted."""
        d = self.decide_connect_logged(target)
        return d.input, d.decision, d.ms

    def decide_connect_logged(self, target: ConnectTarget) -> Decided[ConnectInput]:
        """:meth:`decide_connect` with the evaluation time and the redaction paths."""
        start = time.perf_counter()
        policy_input = ConnectInput(connect=target, run=self.run)
        decision, cached, _ = self._evaluate(policy_input)
        eval_ns = int((time.perf_counter() - start) * 1e9)
        return self._logged(policy_input, decision, (time.perf_counter() - start) * 1000, eval_ns,
                            cached)

    def _logged(self, policy_input: _I, decision: Decision, ms: float,
                eval_ns: int, cached: bool, ahead: bool = False) -> Decided[_I]:
        logged, masked, erased = self.redact_logged(policy_input, "/input")
        result, masked_result, _ = self.redact_logged(decision, "/result")
        return Decided(logged, result, ms, eval_ns, masked + masked_result, erased, cached,
                       ahead)


def workspace_decider(
    engine: PolicyEngine, *, workspace: Path | None, run: RunInfo, bundle: PolicyBundle
) -> Decider:
    """A Decider over ``workspace`` with the masks and redactor a run there would have.

    ``bundle`` is the one ``engine`` was built from (read once: the masks' patterns and
    the compiled policies come from the same read). The masks come from the policy data's
    secret patterns (``find_secret_paths``, as the run computes them); the redactor knows
    the secret-looking host environment and the values of the masked files
    (``Redactor.from_env``, as the run builds it).
    """
    if workspace is None:
        return Decider(engine, workspace=None, run=run)
    from runner.gateway.redact import Redactor
    from runner.policy.data import load_policy_data
    from runner.sandbox.masks import find_secret_paths

    data = load_policy_data(bundle)
    masks = find_secret_paths(workspace, data.is_secret_path)
    redactor = Redactor.from_env(
        secret_files=[workspace / m for m in masks if (workspace / m).is_file()])
    return Decider(engine, workspace=workspace, run=run, masks=masks, redactor=redactor)


def tool_call_from_json(value: Any) -> ToolCall:
    """``{"tool": NAME, "input": {...}}`` (or the Messages API's ``name``) as a ToolCall.

    Anything that is an object is a tool call; a missing or odd name or input is left
    for the policies to deny (an unknown tool is a deny, not bad input).
    """
    name = value.get("tool", value.get("name", ""))
    raw_input = value.get("input", {})
    return ToolCall(
        name=name if isinstance(name, str) else json.dumps(name),
        input=raw_input if isinstance(raw_input, dict) else {},
    )


def check_workspace(workspace: Path | None) -> Path | None:
    """The workspace directory, resolved; a missing one is bad input."""
    if workspace is None:
        return None
    if not workspace.is_dir():
        raise InputError("workspace is not a directory", path=workspace)
    return workspace.resolve()
