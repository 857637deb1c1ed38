"""The tool loop: ask the model, decide each tool call, run it, answer with the results."""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import ValidationError

from runner.agent.client import GatewayClient
from runner.agent.first_call import ModelAPIError, first_request, messages_body
from runner.agent.tools import Toolbox, ToolOutput
from runner.protocol import (
    AgentConfig,
    ContentBlock,
    DecideReason,
    DecideRequest,
    DecideResponse,
    Message,
    TextBlock,
    ToolUseBlock,
)

EVENT_TEXT_CHARS = 2000
EVENT_VALUE_CHARS = 500


def denial_text(decision: DecideResponse) -> str:
    if not decision.reasons:
        return "Denied by policy (no reason given)."
    return "\n".join(f"Denied by policy: {r.policy}/{r.rule}: {r.msg}" for r in decision.reasons)


class AgentLoop:
    def __init__(self, config: AgentConfig, gateway: GatewayClient, toolbox: Toolbox) -> None:
        self.config = config
        self.gw = gateway
        self.tools = toolbox
        first = first_request(model=config.model, max_tokens=config.max_tokens,
                              system_prompt=config.system_prompt, task=config.task,
                              tool_definitions=config.tool_definitions)
        self.messages: list[dict[str, Any]] = first["messages"]
        self.turns = 0

    def request(self) -> dict[str, Any]:
        """The next turn's request: the history so far."""
        return messages_body(model=self.config.model, max_tokens=self.config.max_tokens,
                             system=self.config.system_prompt, messages=self.messages,
                             tools=self.config.tool_definitions or None)

    def run(self, first_answer: dict[str, Any] | None = None) -> str:
        """Run until the model stops; returns why (end_turn, max_turns, ...).
        ``first_answer``: the answer to the first turn's request (:func:`first_request`),
        when the agent's start sent it. Model API errors raise
        :class:`runner.agent.first_call.ModelAPIError`."""
        answer = first_answer
        while self.turns < self.config.max_turns:
            self.turns += 1
            msg = read_answer(answer if answer is not None
                              else self.gw.create_message(self.request()))
            answer = None
            self.gw.event("turn", n=self.turns, stop_reason=msg.stop_reason,
                          input_tokens=msg.usage.input_tokens, output_tokens=msg.usage.output_tokens)
            content = [_block(b) for b in msg.content]
            # The history goes back to the model with lone surrogates replaced (the API does
            # not take them); the calls themselves are decided on exactly what the model sent.
            self.messages.append({"role": "assistant", "content": scrub(content)})
            for block in content:
                if block.get("type") == "text" and block.get("text"):
                    self.gw.event("text", text=_clip(block["text"], EVENT_TEXT_CHARS))
            calls = [b for b in content if b.get("type") == "tool_use"]
            if not calls:
                return str(msg.stop_reason or "end_turn")
            self.messages.append({"role": "user", "content": [self._call(c) for c in calls]})
        return "max_turns"

    def _call(self, block: dict[str, Any]) -> dict[str, Any]:
        name, tool_id = str(block.get("name")), str(block.get("id"))
        tool_input = block.get("input")
        if not isinstance(tool_input, dict):
            tool_input = {}
        measured = self.tools.measure(name, tool_input)
        decision = self._decide(DecideRequest(
            tool=name, input=tool_input, cwd=self.tools.ws.virtual, measured=measured, tool_use_id=tool_id,
        ))
        self.gw.event("tool_call", id=tool_id, name=name, input=_clip_tree(tool_input),
                      allow=decision.allow, decision_id=decision.decision_id,
                      reasons=[r.model_dump() for r in decision.reasons])
        if decision.allow:
            out = self.tools.run(name, tool_input, measured)
        else:
            out = ToolOutput(denial_text(decision), is_error=True)
        self.gw.event("tool_result", id=tool_id, name=name, is_error=out.is_error, chars=len(out.text),
                      denied=not decision.allow, summary=_clip(out.text, EVENT_VALUE_CHARS))
        return {"type": "tool_result", "tool_use_id": tool_id, "content": scrub(out.text),
                "is_error": out.is_error}


    def _decide(self, request: DecideRequest) -> DecideResponse:
        """The policy's answer; any failure to get one is a deny (fail closed)."""
        try:
            return DecideResponse.model_validate_json(self.gw.decide(request.model_dump()))
        except (httpx.HTTPError, ValueError) as exc:  # pydantic's ValidationError included
            return DecideResponse(allow=False, decision_id="unavailable", reasons=[DecideReason(
                policy="gateway", rule="decision_unavailable",
                msg=f"no policy decision could be obtained ({type(exc).__name__}: {exc})")])


def read_answer(answer: dict[str, Any]) -> Message:
    """A Messages API answer, read leniently (:class:`runner.protocol.Message`)."""
    try:
        return Message.model_validate(answer)
    except ValidationError as exc:
        raise ModelAPIError(f"malformed answer: {exc.error_count()} validation error(s): "
                            f"{json.dumps(answer, default=str)[:200]}", status=200) from exc


def scrub(obj: Any) -> Any:
    """A copy of obj with lone surrogates in its strings replaced by U+FFFD."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
            return obj
        except UnicodeEncodeError:
            return obj.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(obj, dict):
        return {scrub(k): scrub(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [scrub(v) for v in obj]
    return obj


def _block(block: ContentBlock) -> dict[str, Any]:
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    if isinstance(block, ToolUseBlock):
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    return block.model_dump(mode="json", exclude_none=True)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


def _clip_tree(obj: Any) -> Any:
    if isinstance(obj, str):
        return _clip(obj, EVENT_VALUE_CHARS)
    if isinstance(obj, list):
        return [_clip_tree(v) for v in obj[:50]]
    if isinstance(obj, dict):
        return {str(k): _clip_tree(v) for k, v in list(obj.items())[:50]}
    return obj

