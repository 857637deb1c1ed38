"""Policy engines: what decides a tool call, behind one protocol.

``PolicyEngine.evaluate`` never raises: any error, timeout, undefined or
malformed result is a deny with the reason "policy evaluation failed: ..."
(:meth:`Decision.failed`). ``load_engine`` builds the engine a
:class:`~runner.config.PolicyConfig` asks for: the embedded regorus engine
(default) or an OPA server; loading problems (bad policy, bad data) raise
:class:`~runner.errors.InputError` subclasses, exit 2.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError

from runner.config import OPAEngineConfig, PolicyConfig
from runner.errors import first_error
from runner.policy.bundle import PolicyBundle, load_bundle
from runner.policy.data import load_policy_data
from runner.policy.models import AnyInput, ConnectInput, Decision, PolicyInput

ENTRYPOINT = "data.sandbox.decision"
DERIVED_RULE = "data.sandbox.lib.derived"  # data-only values computed once at load
DERIVED_KEY = "sandbox_derived"


@runtime_checkable
class PolicyEngine(Protocol):
    bundle_hash: str

    def evaluate(self, input: AnyInput | dict[str, Any]) -> Decision:
        """Decide one policy input (a tool call or a connection); never raises (fail closed)."""
        ...

    def close(self) -> None: ...


class EngineInputError(ValueError):
    """The policy input is not a valid PolicyInput or ConnectInput (it is denied)."""


def _validated(input: AnyInput | dict[str, Any]) -> AnyInput:
    """The input as its model: ``kind: "connect"`` is a connection, anything else a tool call
    (inputs without ``kind`` are tool calls, as every log before connections were decided)."""
    if isinstance(input, PolicyInput | ConnectInput):
        return input
    model: type[AnyInput] = (ConnectInput if isinstance(input, dict)
                             and input.get("kind") == "connect" else PolicyInput)
    try:
        return model.model_validate(input)
    except ValidationError as exc:
        raise EngineInputError(f"invalid policy input: {first_error(exc, 'input')}") from None


def input_json(input: AnyInput | dict[str, Any]) -> str:
    """The policy input as JSON, validated against its model, as the policies are given it
    (a tool call's without the agent's measurements: ``PolicyInput.decided_json``)."""
    valid = _validated(input)
    return valid.decided_json() if isinstance(valid, PolicyInput) else valid.model_dump_json()


def input_payload(input: AnyInput | dict[str, Any]) -> dict[str, Any]:
    """The policy input as a JSON-ready dict, validated against its model, as the policies
    are given it (:func:`input_json`)."""
    payload: dict[str, Any] = json.loads(input_json(input))
    return payload


def _malformed(exc: ValidationError) -> Decision:
    return Decision.failed(f"malformed decision ({first_error(exc, 'result')})")


def decision_from_json(raw: str | bytes | None) -> Decision:
    """Validate an engine result as a Decision; anything else is a failed evaluation."""
    if raw is None:
        return Decision.failed("the decision is undefined")
    try:
        return Decision.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        return _malformed(exc)


def decision_from_value(value: Any) -> Decision:
    if value is None:
        return Decision.failed("the decision is undefined")
    try:
        return Decision.model_validate(value, strict=True)
    except ValidationError as exc:
        return _malformed(exc)


def load_engine(cfg: PolicyConfig, *, bundle: PolicyBundle | None = None) -> PolicyEngine:
    """The engine ``cfg`` asks for, with its policies compiled and data loaded."""
    if bundle is None:
        bundle = load_bundle(cfg.dirs, cfg.data)
    load_policy_data(bundle)  # invalid settings are bad input, whichever engine
    if isinstance(cfg.engine, OPAEngineConfig):
        from runner.policy.opa_engine import OPAEngine

        return OPAEngine(bundle, url=cfg.engine.url, timeout=cfg.engine.timeout)
    from runner.policy.regorus_engine import RegorusEngine

    return RegorusEngine(bundle)
