"""``python -P -m runner.agent.hook``: Claude Code's PreToolUse hook (``--runtime claude-code``).

Claude Code runs it before every tool call (managed settings, matcher ``*``; subagents'
calls too) with the call as JSON on stdin: ``{session_id, transcript_path, cwd,
permission_mode, hook_event_name, tool_name, tool_input, tool_use_id, ...}``. It asks the
host's policies through the API relay (runner/agent/api_relay.py, 127.0.0.1:API_PORT, which
adds the run's token) with ``POST /v1/decide`` and prints Claude Code's answer::

    {"hookSpecificOutput": {"hookEventName": "PreToolUse",
                            "permissionDecision": "allow" | "deny",
                            "permissionDecisionReason": "..."}}

Fail closed: anything but a well-formed allow from the gateway (no relay, a timeout, a
non-200 answer, bad JSON, missing fields, input over 16 MiB, a crash here) is a deny whose
reason says the policy could not be asked. Claude Code runs a tool when a hook exits with
any status but 0 or 2, so this program answers on stdout with status 0, or, when even
printing fails, exits 2 with the reason on stderr (Claude Code's "blocking error").

Startup is on the path of every tool call: standard library only, no pydantic (so none of
``runner.protocol``; the constants below are copies, a test checks they agree). The port is
a constant, never read from the environment (the agent can influence its environment);
``--port`` exists for tests, and the managed settings' command does not pass it.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
from typing import Any, NoReturn

API_PORT = 4141  # runner.protocol.API_PORT
DECIDE_PATH = "/v1/decide"
RUNTIME = "claude-code"
MAX_INPUT = 16 * 1024 * 1024
MAX_ANSWER = 1024 * 1024
TIMEOUT = 50.0  # seconds; under the hook's 60 s in the managed settings, so we answer first
EVENT = "PreToolUse"
CANNOT_ASK = "the sandbox policy could not be asked about this tool call, so it is denied"


class HookError(Exception):
    """Why the policy could not be asked (the deny's reason)."""


def read_call(stream: Any) -> dict[str, Any]:
    """The hook input as the DecideRequest the gateway expects."""
    data = stream.read(MAX_INPUT + 1)
    if len(data) > MAX_INPUT:
        raise HookError(f"the hook input is over {MAX_INPUT} bytes")
    try:
        hook = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HookError(f"the hook input is not JSON ({exc})") from None
    if not isinstance(hook, dict):
        raise HookError("the hook input is not a JSON object")
    name, tool_input = hook.get("tool_name"), hook.get("tool_input")
    if not isinstance(name, str) or not name:
        raise HookError("the hook input has no tool_name")
    if not isinstance(tool_input, dict):
        raise HookError("the hook input has no tool_input object")
    call: dict[str, Any] = {"tool": name, "input": tool_input, "runtime": RUNTIME}
    tool_use_id, cwd = hook.get("tool_use_id"), hook.get("cwd")
    if tool_use_id is not None:
        if not isinstance(tool_use_id, str):
            raise HookError("the hook input's tool_use_id is not a string")
        call["tool_use_id"] = tool_use_id
    if cwd is not None:
        if not isinstance(cwd, str):
            raise HookError("the hook input's cwd is not a string")
        call["cwd"] = cwd
    return call


def ask(call: dict[str, Any], port: int = API_PORT) -> dict[str, Any]:
    """The gateway's DecideResponse for ``call``."""
    body = json.dumps(call, ensure_ascii=False).encode("utf-8", "surrogatepass")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("POST", DECIDE_PATH, body=body,
                     headers={"Content-Type": "application/json", "Connection": "close"})
        resp = conn.getresponse()
        answer = resp.read(MAX_ANSWER + 1)
    except (OSError, http.client.HTTPException) as exc:
        raise HookError(f"the policy service is not reachable ({type(exc).__name__}: {exc})") \
            from None
    finally:
        conn.close()
    if resp.status != 200:
        raise HookError(f"the policy service answered HTTP {resp.status}: "
                        f"{answer[:200].decode('utf-8', 'replace').strip()}")
    if len(answer) > MAX_ANSWER:
        raise HookError("the policy service's answer is too large")
    try:
        decision = json.loads(answer)
    except (ValueError, UnicodeDecodeError):
        raise HookError("the policy service's answer is not JSON") from None
    if not isinstance(decision, dict) or not isinstance(decision.get("allow"), bool) \
            or not isinstance(decision.get("decision_id"), str) \
            or not isinstance(decision.get("reasons", []), list):
        raise HookError("the policy service's answer is not a decision")
    return decision


def explain(decision: dict[str, Any]) -> str:
    """``policy/rule: msg; ... (decision <id>)``."""
    parts = []
    for r in decision.get("reasons", []):
        if isinstance(r, dict):
            parts.append(f"{r.get('policy', '?')}/{r.get('rule', '?')}: {r.get('msg', '')}")
        else:
            parts.append(str(r))
    text = "; ".join(parts) or "denied by the sandbox policy"
    return f"{text} (decision {decision['decision_id']})"


def answer(allow: bool, reason: str) -> str:
    return json.dumps({"hookSpecificOutput": {
        "hookEventName": EVENT,
        "permissionDecision": "allow" if allow else "deny",
        "permissionDecisionReason": reason,
    }})


def decide(stdin: Any, port: int = API_PORT) -> tuple[bool, str]:
    """(allow, reason) for the hook input on ``stdin``; never raises."""
    try:
        decision = ask(read_call(stdin), port)
        if decision["allow"] is True:
            return True, f"allowed by the sandbox policy (decision {decision['decision_id']})"
        return False, explain(decision)
    except HookError as exc:
        return False, f"{CANNOT_ASK}: {exc}"
    except BaseException as exc:  # fail closed, whatever happened
        return False, f"{CANNOT_ASK}: the hook failed ({type(exc).__name__}: {exc})"


def _port(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--port" and argv[1].isdigit():
        return int(argv[1])
    if argv:
        raise HookError(f"unexpected arguments {argv!r} (only --port PORT, for tests)")
    return API_PORT


def main(argv: list[str] | None = None) -> NoReturn:
    try:
        port = _port(sys.argv[1:] if argv is None else argv)
        allow, reason = decide(sys.stdin.buffer, port)
    except BaseException as exc:
        allow, reason = False, f"{CANNOT_ASK}: {type(exc).__name__}: {exc}"
    try:
        sys.stdout.write(answer(allow, reason) + "\n")
        sys.stdout.flush()
    except BaseException:
        try:  # exit 2: Claude Code blocks the call and gives the model stderr
            sys.stderr.write(f"sandbox-runner hook: {reason if not allow else CANNOT_ASK}\n")
            sys.stderr.flush()
        finally:
            _exit(2)
    _exit(0)


def _exit(status: int) -> NoReturn:
    os._exit(status)  # no interpreter teardown that could fail after the answer


if __name__ == "__main__":
    main()
