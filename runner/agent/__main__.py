"""``python -m runner.agent``: exit 0 done, 2 bad config, 3 model/API error, 4 crashed."""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

from runner.agent.runtime import (
    DIR_ENV,
    AgentConfigError,
    Runtime,
    load_runtime,
    make_non_dumpable,
    read_token,
)
from runner.protocol import GO_ENV, GO_NAME, SOCKET_DIR_IN_CONTAINER

EXIT_OK, EXIT_CONFIG, EXIT_API, EXIT_CRASH = 0, 2, 3, 4
GO_WAIT_SECONDS = 300.0


def _wait_for_go() -> bool:
    """Preloading: the host starts the agent while it runs the sandbox self-check, and
    creates the go file only when every check passed (otherwise it removes the container)."""
    go = Path(os.environ.get(DIR_ENV) or SOCKET_DIR_IN_CONTAINER) / GO_NAME
    deadline = time.monotonic() + GO_WAIT_SECONDS
    while not go.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
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
    try:
        rt = load_runtime()
    except AgentConfigError as exc:
        _say(f"bad config: {exc}")
        return EXIT_CONFIG
    return _run(rt, token)


def _run(rt: Runtime, token: str) -> int:
    from runner.agent.client import GatewayClient, ModelAPIError
    from runner.agent.loop import AgentLoop
    from runner.agent.paths import Workspace
    from runner.agent.tools import Toolbox

    # Everything up to the first request is built while the host runs the self-check: the
    # client (no connection before its first call), the toolbox, the loop and its tool
    # definitions. Nothing reaches the gateway or runs a tool before the go file exists.
    cfg = rt.config
    gw = GatewayClient(rt.socket_path, token)
    built: AgentLoop | Exception
    try:
        toolbox = Toolbox(Workspace(rt.workspace_dir, cfg.workspace), enabled=cfg.tools,
                          output_limit=cfg.output_limit, bash_timeout=cfg.bash_timeout)
        built = AgentLoop(cfg, gw, toolbox)
    except Exception as exc:  # reported once the host said go (a bug: exit 4 as before)
        built = exc
    if os.environ.get(GO_ENV) and not _wait_for_go():
        gw.close()
        _say("the host never confirmed the sandbox self-check")
        return EXIT_CONFIG

    try:
        if isinstance(built, Exception):
            raise built
        loop = built
        gw.event("agent_started", run_id=cfg.run_id, agent=cfg.agent_name, model=cfg.model,
                 tools=loop.tools.enabled, max_turns=cfg.max_turns)
        try:
            reason = loop.run()
        except ModelAPIError as exc:
            message = str(exc)
            gw.event("agent_error", kind="model_api", message=message, turns=loop.turns)
            _say(f"model API error: {message}")
            return EXIT_API
        gw.event("agent_finished", reason=reason, turns=loop.turns)
        return EXIT_OK
    except Exception as exc:
        gw.event("agent_error", kind="crash", message=f"{type(exc).__name__}: {exc}",
                 traceback=traceback.format_exc(limit=20))
        _say(f"crashed: {type(exc).__name__}: {exc}")
        return EXIT_CRASH
    finally:
        gw.close()


if __name__ == "__main__":
    sys.exit(main())
