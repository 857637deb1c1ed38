"""The channel between the sandbox and the host, as plain constants: where the socket, the
agent's config and the open and go files are in the container, the headers and the API version.

Standard library only (``typing``): the agent's start, its API relay and Claude Code's
hook import it before (or without) pydantic. :mod:`runner.protocol` re-exports every name.
"""

from __future__ import annotations

from typing import Literal, get_args

SOCKET_DIR_IN_CONTAINER = "/run/sandbox-runner"
SOCKET_NAME = "gw.sock"
AGENT_CONFIG_NAME = "agent.json"
OPEN_NAME = "open"  # the host creates it once its gateway listens on SOCKET_NAME
GO_NAME = "go"  # the host creates it once the sandbox self-check passed
# set: the agent's first request waits for OPEN_NAME, its first tool call for GO_NAME
GO_ENV = "SANDBOX_RUNNER_WAIT_FOR_GO"
DIR_ENV = "SANDBOX_RUNNER_DIR"  # overrides /run/sandbox-runner (tests run the agent on the host)
WORKSPACE_ENV = "SANDBOX_RUNNER_WORKSPACE"  # overrides the workspace's location on disk
GATEWAY_BASE_URL = "http://gateway"  # host part is ignored: the transport is the unix socket
# The per-run gateway token reaches the agent process only: the host writes it as the first
# line of the agent's stdin (not its environment: the `timeout` wrapper of the exec would keep
# that readable in /proc). It travels as `x-api-key` (what the Messages API and its SDKs use
# for the key) or `Authorization: Bearer`, on every gateway route.
TOKEN_HEADER = "x-api-key"
ANTHROPIC_VERSION_HEADER = "anthropic-version"
ANTHROPIC_VERSION = "2023-06-01"
# The claude-code runtime: the in-container API relay (runner/agent/api_relay.py) listens on
# 127.0.0.1:API_PORT; Claude Code's ANTHROPIC_BASE_URL and its PreToolUse hook
# (runner/agent/hook.py) point there.
API_PORT = 4141
# what runs the agent in the sandbox (docs/runtimes.md)
Runtime = Literal["builtin", "claude-code"]
RUNTIMES: tuple[Runtime, ...] = ("builtin", "claude-code")
# what the agent reports on /v1/events (runner.protocol.EventRequest.kind)
EventKind = Literal[
    "agent_started", "turn", "tool_call", "tool_result", "text", "agent_finished", "agent_error",
]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
