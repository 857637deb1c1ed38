"""``python -m runner.agent``: exit 0 done, 2 bad config, 3 model/API error, 4 crashed.

The start is in two parts (runner/agent/start.py): this thread sends ``agent_started`` and
the first model request from agent.json's plain JSON, with the standard library
(runner/agent/first_call.py); once the request is out, a preload thread imports httpx and
pydantic, builds the models, validates the whole config and builds the client and the loop
while the model answers; the loop reads the first answer once the preload is joined.

Told to wait (``SANDBOX_RUNNER_WAIT_FOR_GO``, the sandbox's main process, which starts before
the host has read the agent file): agent.json is read and the first request sent once the
open file exists (the host wrote agent.json, its gateway listens), and the first answer is
acted on only once the go file exists (the host's sandbox self-check passed). The host holds every decision
until then as well (runner/decisions.py): nothing the model asks for runs before the check.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any

from runner.agent.first_call import FirstCall, ModelAPIError, first_request
from runner.agent.harden import make_non_dumpable, read_token
from runner.agent.start import AgentConfigError, Preload, StartConfig, config_dir, load_start
from runner.wire import GO_ENV, GO_NAME, OPEN_NAME

if TYPE_CHECKING:
    from runner.agent.client import GatewayClient
    from runner.agent.loop import AgentLoop

EXIT_OK, EXIT_CONFIG, EXIT_API, EXIT_CRASH = 0, 2, 3, 4
WAIT_SECONDS = 300.0
POLL_SECONDS = 0.005


def _wait_for(name: str) -> bool:
    """Until the host creates ``name`` in the config directory (False after WAIT_SECONDS):
    the open file once its gateway listens, the go file once the sandbox self-check passed
    (a failed check removes the container instead)."""
    path = config_dir() / name
    deadline = time.monotonic() + WAIT_SECONDS
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def _say(message: str) -> None:
    print(f"sandbox-runner agent: {message}", file=sys.stderr, flush=True)


def main() -> int:
    try:
        make_non_dumpable()  # first: before anything secret-adjacent is loaded
    except OSError as exc:
        _say(f"cannot harden the agent process: {exc}")
        return EXIT_CRASH
    token = read_token()  # before any child process can exist
    if token is None:
        _say("bad config: no gateway token on stdin (the runner writes it there)")
        return EXIT_CONFIG
    waiting = bool(os.environ.get(GO_ENV))
    if waiting and not _wait_for(OPEN_NAME):
        _say("the host never opened its gateway")
        return EXIT_CONFIG
    try:
        start = load_start()
    except AgentConfigError as exc:
        _say(f"bad config: {exc}")
        return EXIT_CONFIG
    return _run(start, token, waiting=waiting)


def _build(start: StartConfig, token: str) -> AgentLoop:
    """The preload: the models, the whole config, the toolbox, the client and the loop."""
    from runner.agent.client import GatewayClient
    from runner.agent.loop import AgentLoop
    from runner.agent.paths import Workspace
    from runner.agent.runtime import load_runtime
    from runner.agent.tools import Toolbox

    rt = load_runtime(start)
    cfg = rt.config
    toolbox = Toolbox(Workspace(rt.workspace_dir, cfg.workspace), enabled=cfg.tools,
                      output_limit=cfg.output_limit, bash_timeout=cfg.bash_timeout)
    return AgentLoop(cfg, GatewayClient(start.socket_path, token), toolbox)


def _run(start: StartConfig, token: str, *, waiting: bool) -> int:
    # The first request as soon as the gateway listens, on this thread alone; the preload
    # starts once it is out (it imports and builds while the model answers). Nothing from the
    # model is acted on before the go file exists.
    preloads: list[Preload[AgentLoop]] = []

    def preload() -> None:
        if not preloads:
            preloads.append(Preload(lambda: _build(start, token)))

    call = FirstCall(start.socket_path, token)
    try:
        call.event("agent_started", run_id=start.run_id, agent=start.agent_name,
                   model=start.model, tools=[d.get("name") for d in start.tool_definitions],
                   max_turns=start.max_turns)
        first: dict[str, Any] | None = None
        try:
            if start.max_turns > 0:
                first = call.create_message(first_request(
                    model=start.model, max_tokens=start.max_tokens,
                    system_prompt=start.system_prompt, task=start.task,
                    tool_definitions=start.tool_definitions), sent=preload)
        except ModelAPIError as exc:
            return _api_error(call, exc, turns=1)
        preload()  # (when no request was sent)
        try:
            loop = preloads[0].result()
        except AgentConfigError as exc:
            _say(f"bad config: {exc}")
            return EXIT_CONFIG
    except Exception as exc:
        return _crash(call, exc)
    gw = loop.gw
    try:
        if waiting and not _wait_for(GO_NAME):
            _say("the host never confirmed the sandbox self-check")
            return EXIT_CONFIG
        try:
            reason = loop.run(first)
        except ModelAPIError as exc:
            return _api_error(gw, exc, turns=loop.turns)
        gw.event("agent_finished", reason=reason, turns=loop.turns)
        return EXIT_OK
    except Exception as exc:
        return _crash(gw, exc)
    finally:
        gw.close()


def _crash(gw: GatewayClient | FirstCall, exc: Exception) -> int:
    import traceback  # only here: not on the way to the first request

    gw.event("agent_error", kind="crash", message=f"{type(exc).__name__}: {exc}",
             traceback=traceback.format_exc(limit=20))
    _say(f"crashed: {type(exc).__name__}: {exc}")
    return EXIT_CRASH


def _api_error(gw: GatewayClient | FirstCall, exc: Exception, *, turns: int) -> int:
    message = str(exc)
    gw.event("agent_error", kind="model_api", message=message, turns=turns)
    _say(f"model API error: {message}")
    return EXIT_API


if __name__ == "__main__":
    sys.exit(main())
